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

from clinical_ner.benchmarking import (
    BenchmarkArguments,
    markdown_report,
    parse_lengths,
    run_benchmark,
)
from clinical_ner.cli import parse_args


def main(argv=None) -> int:
    """Run the benchmark; exit 0 when every figure was measured, 1 when a model or one of its
    measurements failed (results are still written, the failures printed), 2 for bad
    arguments."""
    (args,) = parse_args((BenchmarkArguments,), argv)
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
