#!/usr/bin/env python
"""Score clinical NER: official i2b2 2014 measures, concept measures, seqeval, bootstrap CIs,
paired tests, error analysis and predictions in the corpus format.

    # a model saved by train_ner.py on one split (task/window settings from its clinical_ner.json)
    python eval_ner.py --model runs/x --data_dir DIR --format i2b2_2014 --split test \\
        --output_dir runs/x/eval_test [--write_predictions]
    # two folders of files, no model
    python eval_ner.py --gold GOLD_DIR --pred PRED_DIR --format i2b2_2014 --output_dir OUT
    # paired test of two prediction folders on the same gold documents
    python eval_ner.py --gold GOLD_DIR --compare A_DIR B_DIR --compare_method bootstrap \\
        --output_dir OUT
    python eval_ner.py configs/eval.yaml              # arguments from a YAML/JSON file

Writes OUT/metrics.json (keys in docs/metrics.md), report.md, confusion.png/.json and
errors.local.jsonl/.md (these two quote note text: local use only). Exit status 2 on bad input.
An output folder holding a model is refused; in one holding an earlier evaluation, exactly the
files eval_ner.py writes are set aside in OUT/.earlier_eval/ (other files stay), deleted once the
new outputs are written and put back if the new evaluation fails.

    # the notes predicted by 2 processes (sharded, gathered): the metrics of one process
    accelerate launch --multi_gpu --num_processes 2 eval_ner.py --model runs/x ...
    # (2 CPU processes: ACCELERATE_USE_CPU=true before it; see README "On a cluster")
"""

import logging
import sys

from clinical_ner.cli import error_line, parse_args, print_scores
from clinical_ner.documents import FormatError
from clinical_ner.evaluation import EvalArguments, run_evaluation


def main(argv=None) -> int:
    (args,) = parse_args((EvalArguments,), argv)
    try:
        result = run_evaluation(args)
    except (FormatError, ValueError, OSError) as exc:
        print(error_line("eval_ner.py", exc), file=sys.stderr)
        return 2
    from clinical_ner.inference import process_state

    if not process_state().is_main_process:  # accelerate launch: process 0 prints and writes
        return 0
    if "measures" in result:
        print(f"\n== paired comparison (B - A, {result['evaluation']['method']}) ==")
        print(f"{'measure':<16}{'F1 A':>8}{'F1 B':>8}{'B-A':>9}  95% CI{'':>14}p")
        for name, r in result["measures"].items():
            lo, hi = r["difference_ci"]
            print(f"{name:<16}{r['f1_a']:8.4f}{r['f1_b']:8.4f}{r['difference']:+9.4f}  "
                  f"[{lo:+.4f}, {hi:+.4f}]  {r['p_value']:.4g}")
    else:
        print_scores(result, title="scores")
    if result.get("robustness"):
        rob = result["robustness"]
        print(f"\n== re-rendered surrogates (seed {rob['seed']}, {rob['locale']}) against the "
              "original folder ==")
        print(f"{'measure':<22}{'original':>10}{'re-rendered':>13}{'drop':>9}")
        for name, r in rob["measures"].items():
            print(f"{name:<22}{r['original']:10.4f}{r['resurrogated']:13.4f}{r['drop']:+9.4f}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sys.exit(main())
