"""The project's JSONL interchange format: one note a line,
``{"id", "text", "spans": [{"start", "end", "label", "text"}]}`` (see
:mod:`clinical_ner.documents`; also what ``--write_predictions`` and ``--dump`` write).

Offsets are 0-based, end-exclusive code points into ``text``; a span's ``text`` field, when
present, must equal ``text[start:end]`` (else :class:`FormatError` naming the file, line and
record). Extra keys are ignored. Spans then go through the project span policy
(:func:`clinical_ner.documents.resolve_spans`), every change reported. A file whose name says
``train``/``dev``/``test`` gives its documents that split; ids ``PPP-RR`` give the patient.
"""

from __future__ import annotations

from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport, read_jsonl, resolve_spans
from data_scripts.i2b2_2014 import patient_of
from data_scripts.loader_common import check_label, files_with_splits, select_labels, split_of_name


def read_file(path: str | Path, report: LoadReport, *, labels=None,
              seen: set[str] | None = None, as_written: bool = False) -> list[Document]:
    """Read one JSONL file into documents (added to ``report``).

    ``labels`` keeps only those labels before the span policy; ``seen`` collects ids across
    files. Raises :class:`FormatError` naming the file and line for a line that is not JSON, a
    span past the text or whose ``text`` differs, a bad label, or an id seen before.
    """
    path = Path(path)
    seen = set() if seen is None else seen
    split = split_of_name(path.name)
    docs = []
    records = 0
    for doc in read_jsonl(path):
        records += 1
        if doc.id in seen:
            raise FormatError(f"{path}: record {doc.id!r} appears more than once")
        seen.add(doc.id)
        for s in doc.spans:
            check_label(s.label, file=str(path), record=doc.id, where=f"span [{s.start}, "
                        f"{s.end})", report=report, start=s.start, end=s.end)
        report.tags_read += len(doc.spans)
        spans = select_labels(doc.spans, labels, report)
        rejected: list[tuple[int, int]] = []
        kept = resolve_spans(doc.text, spans, report, file=str(path), record=doc.id,
                             as_written=as_written, rejected=rejected)
        meta = {"file": path.name, "patient": patient_of(doc.id), "split": split}
        if rejected:
            meta["rejected"] = rejected
        out = Document(doc.id, doc.text, kept, meta=meta)
        report.add_document(out)
        docs.append(out)
    if not records:
        report.problem(file=str(path), record="", start=None, end=None, action="no documents",
                       problem="empty_file: no records")
    return docs


def read_path(path: str | Path, report: LoadReport, *, labels=None,
              as_written: bool = False) -> list[Document]:
    """Read a ``.jsonl`` file or every ``*.jsonl`` of a folder (sorted by name).

    Raises :class:`FormatError` when a folder holds none or an id repeats across files.
    """
    seen: set[str] = set()
    docs = []
    for f in files_with_splits(Path(path), (".jsonl",), "JSONL interchange files"):
        docs += read_file(f, report, labels=labels, seen=seen, as_written=as_written)
    return docs
