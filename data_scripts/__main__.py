"""``python -m data_scripts FORMAT DIR --report REPORT.json [--dump DOCS.jsonl]``.

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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m data_scripts", description=__doc__.split("\n")[0])
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
