#!/usr/bin/env python
"""Speed, size, memory and F1 of NER models side by side (the DistilBERT-vs-BERT comparison).

    # architecture-only: random DistilBERT-base / BERT-base from the real configs, real notes
    python benchmark.py --architecture_only --models distilbert,bert --reference bert
    # real: finished run folders (trained with train_ner.py when missing), whole test notes,
    # plus this project's inference vs transformers.pipeline and dynamic vs pad-to-max training
    python benchmark.py --models minilm --reference minilm --runs minilm=runs/phi_minilm
    python benchmark.py benchmarks/my_benchmark.yaml      # arguments from a YAML/JSON file

Writes results.json, results.md and PNG plots into --output_dir (default
benchmarks/results/architecture_only or benchmarks/results/real). Arguments:
clinical_ner.benchmarking.BenchmarkArguments (python benchmark.py --help).
"""

import sys

from clinical_ner.benchmarking import BenchmarkArguments, markdown_report, run_benchmark
from clinical_ner.cli import parse_args


def main(argv=None) -> int:
    (args,) = parse_args((BenchmarkArguments,), argv)
    results = run_benchmark(args)
    print(markdown_report(results))
    print(f"written to {args.output_dir}: results.json, results.md, "
          + ", ".join(results["plots"]))
    return 1 if all(r.get("error") for r in results["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
