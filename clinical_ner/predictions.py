"""Write predicted documents in the corpus's own format, so external scorers read them.

* i2b2 2014 XML (:func:`write_i2b2_2014`): one ``PPP-RR.xml`` per note through
  :func:`data_scripts.i2b2_2014.write_file`; every file is read back and its ``<TEXT>`` must
  parse to exactly the note text (the official scorer asserts system ``<TEXT>`` == gold
  ``<TEXT>``; ETUDE aligns on it) and its tags to exactly the predicted spans.
* brat standoff (:func:`data_scripts.brat.write_folder`, next to the brat reader): ``NAME.txt``
  and ``NAME.ann`` pairs.
* JSONL (:func:`clinical_ner.documents.write_jsonl`): ``predictions.jsonl``, for ``jsonl``
  corpora and every format without a writer here.

Every output contains note text: keep it where the corpus may be kept, never publish it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from clinical_ner.documents import Document, LoadReport, write_jsonl
from data_scripts import brat, i2b2_2014

# The brat writer lives with its reader (data_scripts.brat); these names stay importable here.
brat_lines = brat.ann_lines
_relative_path = brat.relative_path
write_brat = brat.write_folder

logger = logging.getLogger("clinical_ner")

#: Corpus formats with a native writer here; every other format is written as JSONL.
NATIVE_FORMATS = ("i2b2_2014", "brat", "jsonl")

def prediction_format(corpus_format: str) -> str:
    """The format predictions of a ``corpus_format`` corpus are written in: the corpus format
    when it is one of :data:`NATIVE_FORMATS`, else ``"jsonl"``."""
    return corpus_format if corpus_format in NATIVE_FORMATS else "jsonl"


def check_writable(fmt: str, labels: Iterable[str]) -> None:
    """Raise ValueError, before any inference, when spans with ``labels`` cannot be written in
    ``fmt``: i2b2 2014 XML needs ``CATEGORY/TYPE`` labels (a category-granularity model has
    none: use JSONL); brat labels must be non-empty and hold no whitespace."""
    labels = list(labels)
    if fmt == "i2b2_2014":
        bad = [lab for lab in labels if "/" not in lab]
        if bad:
            raise ValueError(
                f"i2b2 2014 XML needs CATEGORY/TYPE span labels, but the task's labels include "
                f"{bad[:3]} (a category-granularity model): the official scorer keys tags by "
                "TYPE; score with eval_ner.py instead or write JSONL")
    elif fmt == "brat":
        brat.check_labels(labels)


def _file_name(doc: Document, suffix: str) -> str:
    name = (doc.meta or {}).get("file")
    if name and Path(name).suffix == suffix:
        return Path(name).name
    return f"{doc.id}{suffix}"


def write_i2b2_2014(docs: Sequence[Document], out_dir: str | Path) -> list[Path]:
    """Write each document as i2b2 2014 XML into ``out_dir`` and verify it reads back exactly.

    File names: the gold file name (``doc.meta["file"]``, e.g. ``003-01.xml``) when known, else
    ``<id>.xml`` (the official scorer pairs files by ``^(\\d+)-(\\d+)``). Spans need
    ``"CATEGORY/TYPE"`` labels. Each file is parsed again with the project's i2b2 2014 reader:
    the ``<TEXT>`` must equal ``doc.text`` character for character (so its UTF-8 bytes equal the
    gold ``<TEXT>``'s) and the tags must give exactly ``doc.spans``. Returns the paths written.
    Raises ValueError naming the document, file and first differing offset or span otherwise
    (e.g. a text with a control character XML 1.0 cannot carry), and
    ValueError for two documents with the same file name.
    """
    check_writable("i2b2_2014", {s.label for d in docs for s in d.spans})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, names = [], {}
    for doc in docs:
        name = _file_name(doc, ".xml")
        if name in names:
            raise ValueError(f"documents {names[name]!r} and {doc.id!r} would both be written to "
                             f"{out_dir / name}")
        names[name] = doc.id
        path = out_dir / name
        i2b2_2014.write_file(doc, path)
        report = LoadReport(format="i2b2_2014")
        try:
            back = i2b2_2014.read_file(path, report, as_written=True)  # as a scorer reads it
        except ValueError as exc:  # FormatError is a ValueError
            raise ValueError(f"document {doc.id!r}: {path} does not read back: {exc}") from exc
        if back.text != doc.text:
            from clinical_ner.scoring import first_difference

            i = first_difference(doc.text, back.text)
            raise ValueError(
                f"document {doc.id!r}: the <TEXT> of {path} parses back different from the note "
                f"text at character offset {i} ({doc.text[i:i + 1]!r} written, "
                f"{back.text[i:i + 1]!r} read; XML turns a carriage return into a line feed "
                "and cannot hold most control characters)")
        if set(back.spans) != set(doc.spans):
            lost = sorted(set(doc.spans) - set(back.spans))
            first = lost[0] if lost else sorted(set(back.spans) - set(doc.spans))[0]
            raise ValueError(
                f"document {doc.id!r}: the tags of {path} read back differently: span "
                f"[{first.start}, {first.end}) {first.label} "
                f"({'; '.join(p.problem for p in report.problems[:2]) or 'changed'})")
        paths.append(path)
    return paths


def write_predictions(docs: Sequence[Document], fmt: str, out_dir: str | Path) -> dict:
    """Write predictions in ``fmt`` (one of :data:`NATIVE_FORMATS`; use
    :func:`prediction_format` to choose) into ``out_dir``.

    Returns ``{"format", "path", "documents", "spans", "paths"}``: ``path`` is the folder (or the
    JSONL file ``out_dir/predictions.jsonl``). Raises ValueError for an unknown format or for
    documents the format cannot hold (see the writers).
    """
    out_dir = Path(out_dir)
    if fmt == "i2b2_2014":
        paths, where = write_i2b2_2014(docs, out_dir), out_dir
    elif fmt == "brat":
        paths, where = write_brat(docs, out_dir), out_dir
    elif fmt == "jsonl":
        where = out_dir / "predictions.jsonl"
        write_jsonl(docs, where)
        paths = [where]
    else:
        raise ValueError(f"no prediction writer for format {fmt!r}; known: "
                         f"{', '.join(NATIVE_FORMATS)}")
    logger.info("wrote %d predicted documents (%s) to %s; they contain note text", len(docs),
                fmt, where)
    return {"format": fmt, "path": str(where), "documents": len(docs),
            "spans": sum(len(d.spans) for d in docs), "paths": [str(p) for p in paths]}
