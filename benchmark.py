#!/usr/bin/env python
"""Speed, size, memory and F1 of NER models side by side (the DistilBERT-vs-BERT comparison).

    # architecture-only: random DistilBERT-base / BERT-base from the real configs, real notes
    python benchmark.py --architecture_only --models distilbert,bert --reference bert
    # real: finished run folders (trained with train_ner.py when missing), whole test notes,
    # plus this project's inference vs transformers.pipeline and dynamic vs pad-to-max training
    python benchmark.py --models minilm --reference minilm --runs minilm=runs/phi_minilm
    python benchmark.py benchmarks/my_benchmark.yaml      # arguments from a YAML/JSON file
    # inference backends side by side on one run: torch/ONNX x fp32/int8, pipeline, 2 processes
    python benchmark.py --backends all --backend_run runs/phi_minilm \
        --data_dir ../shared/data/physionet-deid-i2b2 --output_dir benchmarks/results/backends

Writes results.json, results.md and PNG plots into --output_dir (default
benchmarks/results/architecture_only or benchmarks/results/real). Arguments:
clinical_ner.benchmark.settings.BenchmarkArguments and, for --backends,
clinical_ner.benchmark.backends.BackendArguments (python benchmark.py --help).
"""

import sys

from clinical_ner.benchmark.backends import (
    BackendArguments,
    backends_markdown,
    measure_backends,
    parse_backends,
    write_backends,
)
from clinical_ner.benchmark.report import markdown_report
from clinical_ner.benchmark.run import run_benchmark
from clinical_ner.benchmark.settings import (
    PHYSIONET_DIR,
    BenchmarkArguments,
    parse_lengths,
    parse_runs,
)
from clinical_ner.cli import parse_args


def backends_main(args: BenchmarkArguments, bargs: BackendArguments) -> int:
    """``--backends``: the inference backends side by side on one run (see
    clinical_ner.benchmark.backends); exit 1 when a setting failed, 2 for bad arguments."""
    try:
        settings = parse_backends(bargs.backends, bargs.backend_threads)
        run = bargs.backend_run or next(iter(parse_runs(args.runs).values()), "")
        if not run:
            raise ValueError("--backends needs --backend_run RUN (or --runs MODEL=RUN)")
    except ValueError as exc:
        print(f"benchmark.py: error: {exc}", file=sys.stderr)
        return 2
    data_dir = None if args.data_dir == PHYSIONET_DIR else args.data_dir  # default: the run's
    result = measure_backends(run, settings, data_dir=data_dir, split=args.split,
                              passes=args.passes or 2, warmup=args.warmup_documents,
                              latency_notes=args.latency_documents or 50,
                              batch_size=args.eval_batch_size, device=bargs.backend_device,
                              show_progress=not args.disable_tqdm)
    out = args.output_dir or "benchmarks/results/backends"
    paths = write_backends(result, out)
    print(backends_markdown(result))
    print("written: " + ", ".join(str(p) for p in paths))
    failed = [r for r in result["rows"] if r["error"]]
    for r in failed:
        print(f"benchmark.py: {r['setting']} failed: {r['error']}", file=sys.stderr)
    return 1 if failed else 0


def main(argv=None) -> int:
    """Run the benchmark; exit 0 when every figure was measured, 1 when a model or one of its
    measurements failed (results are still written, the failures printed), 2 for bad
    arguments."""
    args, bargs = parse_args((BenchmarkArguments, BackendArguments), argv)
    if bargs.backends:
        return backends_main(args, bargs)
    try:
        parse_lengths(args.side_by_side_lengths)
    except ValueError as exc:
        print(f"benchmark.py: error: {exc}", file=sys.stderr)
        return 2
    results = run_benchmark(args)
    print(markdown_report(results))
    print(f"written to {args.output_dir}: results.json, results.md, "
          + ", ".join(results["plots"]))
    failed = [(r["model"], r["task"], r.get("error") or "; ".join(r["partial_errors"]))
              for r in results["rows"] if r.get("error") or r.get("partial_errors")]
    for model, task, err in failed:
        print(f"benchmark.py: {model} / {task} failed: {err}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
