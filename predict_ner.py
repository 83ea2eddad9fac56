#!/usr/bin/env python
"""Apply a trained model to new notes: PHI spans and de-identified notes, streaming.

    # a folder of .txt notes -> predictions.jsonl, deid/<id>.txt, summary.json
    python predict_ner.py --model runs/phi_minilm --input notes/ --format text \\
        --output_dir out/ --redact surrogate --surrogate_key "$KEY"
    # i2b2 2014 XML, brat or JSONL in, the same format out; recall first; leak report on gold
    python predict_ner.py --model RUN --input DIR --format i2b2_2014 --output_dir OUT \\
        --redact surrogate --threshold 0.9 --gold
    python predict_ner.py configs/predict.yaml       # arguments from a YAML/JSON file
    # N processes (CPU or GPU, one machine or several): the notes are split, outputs as one
    ACCELERATE_USE_CPU=true accelerate launch --config_file accelerate_configs/cpu_2proc.yaml \
        predict_ner.py --model RUN --input notes/ --output_dir out/ --threads_per_process 1

Rerunning on the same OUT resumes (notes already in predictions.jsonl are skipped). deid/ and
surrogates.local.jsonl hold note text and PHI: local use only. Exit status 2 on bad input.
This is a detector, not a certified de-identification: review its output before any release.
"""

import logging
import sys

from clinical_ner.cli import parse_args
from clinical_ner.documents import FormatError
from clinical_ner.inference import process_state
from clinical_ner.prediction import PredictArguments, run_prediction


def main(argv=None) -> int:
    (args,) = parse_args((PredictArguments,), argv)
    state = process_state()
    who = f" (process {state.process_index} of {state.num_processes})" \
        if state.num_processes > 1 else ""
    try:
        summary = run_prediction(args)
    except (FormatError, ValueError, OSError) as exc:
        print(f"predict_ner.py{who}: error: {exc}", file=sys.stderr)
        return 2
    if not state.is_main_process:
        return 0
    print(f"\n{summary['notes']} notes ({summary['notes_already_done']} already done, "
          f"{summary['skipped_notes']} skipped), {summary['spans']} spans, "
          f"{summary['notes_per_second']} notes/s; summary in {args.output_dir}/summary.json")
    leak = summary.get("leak")
    if leak:
        print(f"residual PHI {leak['residual']}/{leak['gold_phi']} "
              f"(rate {leak['residual_rate']}), over-redaction rate "
              f"{leak['over_redaction_rate']}")
        for lab, v in leak["per_type"].items():
            print(f"  {lab:<28}{v['residual']:>5}/{v['gold']:<5} {v['residual_rate']}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sys.exit(main())
