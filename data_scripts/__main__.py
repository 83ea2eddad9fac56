"""``python -m data_scripts FORMAT DIR --report REPORT.json [--dump DOCS.jsonl]``.

Loads a corpus, prints its load report (counts, round-tripped spans, problems; no note text) and
optionally dumps the documents as JSONL interchange records (these contain note text: keep local).
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
    args = p.parse_args(argv)
    try:
        splits, report = load_corpus(args.format, args.path, split_seed=args.split_seed)
    except FormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    task_name = args.task or ("phi" if args.format == "i2b2_2014" else None)
    if task_name:
        task = get_task(task_name, args.format, args.label_granularity)
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
