"""``python -m data_scripts FORMAT DIR --report REPORT.json [--dump DOCS.jsonl]``, and
``python -m data_scripts resurrogate IN_DIR OUT_DIR --seed S --locale L``.

Loads a corpus, prints its load report (counts, round-tripped spans, problems; no note text) and
optionally dumps the documents as JSONL interchange records (these contain note text: keep local).
Labels stay in the format's native names (2006 TYPE, 2010 problem/test/treatment, brat entity
type, CoNLL type). With ``--task`` (phi, concepts, medications, a label map YAML or a shipped
map name such as ``maccrobat_concepts``) only the task's corpus labels are kept (the others are
counted as ``not_in_task:<label>``) and span -> BIO -> span is checked for the task.
"""

from __future__ import annotations

import argparse
import json
import sys

from clinical_ner.documents import FormatError, write_jsonl
from clinical_ner.tasks import get_task
from data_scripts import READERS, load_corpus, to_dataset_dict


def resurrogate_main(argv) -> int:
    """``python -m data_scripts resurrogate IN_DIR OUT_DIR [--seed S] [--locale L]``."""
    from clinical_ner.augmentation import resurrogate_folder

    p = argparse.ArgumentParser(
        prog="python -m data_scripts resurrogate",
        description="Re-render an i2b2 2014 folder's PHI with other surrogates (other forms "
                    "and a Faker locale), offsets recomputed, for a robustness check: "
                    "eval_ner.py --model RUN --data_dir OUT_DIR then reports the F1 drop. The "
                    "output holds note text: keep it where the corpus is allowed to be.")
    p.add_argument("in_dir", help="i2b2 2014 folder (*.xml, or train/dev/test sub-folders)")
    p.add_argument("out_dir", help="new folder (refused when it exists and is not empty)")
    p.add_argument("--seed", type=int, default=0, help="surrogate key seed")
    p.add_argument("--locale", default="en_US", help="Faker locale (en_GB, de_DE, es_ES, ...)")
    args = p.parse_args(argv)
    try:
        manifest = resurrogate_folder(args.in_dir, args.out_dir, seed=args.seed,
                                      locale=args.locale)
    except (FormatError, ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(manifest, indent=2))
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["resurrogate"]:
        return resurrogate_main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m data_scripts", description=__doc__.split("\n")[0],
                                epilog="Also: python -m data_scripts resurrogate IN_DIR OUT_DIR "
                                       "[--seed S] [--locale L] (see its --help).")
    p.add_argument("format", choices=sorted(READERS))
    p.add_argument("path", help="corpus folder (with train/dev/test sub-folders or not) or file")
    p.add_argument("--report", help="write the load report JSON here")
    p.add_argument("--dump", help="write all documents (every split) as JSONL here")
    p.add_argument("--task", default=None, help="also check span -> BIO -> span for this task")
    p.add_argument("--label_granularity", default="type", choices=["type", "category"])
    p.add_argument("--split_seed", type=int, default=1701)
    p.add_argument("--label_map", default=None,
                   help="label map YAML (corpus label -> task label); wins over --task")
    p.add_argument("--discontinuous", default="join", choices=["join", "split", "drop"],
                   help="brat discontinuous spans: join (first start to last end), split (one "
                        "span per fragment) or drop; counted either way")
    p.add_argument("--strip_report_end", action="store_true",
                   help="i2b2 2006: cut each note before its final '[ report_end ]' marker")
    args = p.parse_args(argv)
    task_name = args.task or ("phi" if args.format == "i2b2_2014" else None)
    task = None
    try:
        if task_name or args.label_map:
            task = get_task(task_name or "", args.format, args.label_granularity,
                            label_map_file=args.label_map)
        splits, report = load_corpus(
            args.format, args.path, split_seed=args.split_seed,
            labels=task.corpus_labels if task is not None else None,
            discontinuous=args.discontinuous, strip_report_end=args.strip_report_end)
    except (FormatError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if task is not None:
        to_dataset_dict(splits, task, report)
    if args.report:
        report.write(args.report)
    if args.dump:
        n = write_jsonl((d for docs in splits.values() for d in docs), args.dump)
        print(f"wrote {n} documents to {args.dump} (contains note text: keep it local)",
              file=sys.stderr)
    print(json.dumps(report.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
