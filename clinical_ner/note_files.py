"""Notes in for ``predict_ner.py``: one :class:`Note` at a time from ``.txt`` files, JSONL
records, i2b2 2014 XML or brat folders, and the patient a note belongs to.

Layer 5 (files in, no model): :func:`iter_notes` streams the notes of an input path, so memory
does not grow with their number; a note that cannot be read comes with its ``error`` instead of
stopping the stream (the caller stops or skips and counts it). Formats as
``docs/formats.md`` §1.2 (i2b2 2014) and §1.4 (brat); JSONL records ``{"id", "text",
"patient"?, "locale"?}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport, Span

#: ``--format`` values: the input formats read and written.
INPUT_FORMATS = ("text", "i2b2_2014", "brat", "jsonl")


@dataclass
class Note:
    """One input note: ``id``, exact ``text``, its ``file``, the JSONL ``patient`` field when
    given, ``gold`` spans (only with ``--gold``), ``deid_file`` (the output file it belongs to,
    JSONL), the JSONL ``locale`` field when given (Faker locale of its surrogates), ``error``
    (why it cannot be read; then ``text`` is empty) and ``position`` (its index in the input,
    set by :func:`run_prediction`: the order outputs are merged in)."""

    id: str
    text: str
    file: str
    patient: str | None = None
    gold: tuple[Span, ...] = ()
    deid_file: str | None = None
    error: str | None = None
    locale: str | None = None
    position: int = -1


def _files(path: Path, suffix: str, recursive: bool = False) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FormatError(f"{path}: no such file or folder")
    found = path.rglob("*") if recursive else path.iterdir()
    files = sorted(p for p in found if p.is_file() and p.suffix.lower() == suffix)
    if not files:
        raise FormatError(f"{path}: no {suffix} files")
    return files


def count_notes(fmt: str, path: str | Path) -> int | None:
    """The number of notes (files) for the progress bar; None for JSONL (not counted)."""
    if fmt == "jsonl":
        return None
    return len(_files(Path(path), ".xml" if fmt == "i2b2_2014" else ".txt", fmt == "brat"))


def iter_notes(fmt: str, path: str | Path, *, gold: bool = False) -> Iterator[Note]:
    """Yield the notes of ``path`` one at a time, in file (and line) order.

    ``text``: a ``.txt`` file or every ``*.txt`` of a folder (any case; not recursive), id =
    file stem, text as stored (UTF-8, no newline translation). ``jsonl``: a file or every
    ``*.jsonl`` of a folder, records ``{"id", "text", ...}`` (``patient`` and ``locale``
    optional; ``spans`` read with ``gold``). ``i2b2_2014``: ``*.xml`` with
    :func:`data_scripts.i2b2_2014.read_file` (tags as written). ``brat``: ``*.txt`` under the
    folder (ids relative paths), the ``.ann`` read only with ``gold``. A note that cannot be
    read (not UTF-8, empty or only whitespace, not JSON, a bad record or tag) is yielded with
    ``error`` naming file, line or offset; a missing path or a folder without such files raises
    :class:`FormatError`. Ids are not checked for repeats here (:func:`run_prediction` does).
    """
    from data_scripts import brat, i2b2_2014
    from data_scripts.loader_common import decode_utf8

    path = Path(path)
    if fmt not in INPUT_FORMATS:
        raise FormatError(f"unknown input format {fmt!r}; known: {', '.join(INPUT_FORMATS)}")
    if fmt == "jsonl":
        for f in _files(path, ".jsonl"):
            yield from _jsonl_notes(f, gold)
        return
    root = path if path.is_dir() else path.parent
    for f in _files(path, ".xml" if fmt == "i2b2_2014" else ".txt", fmt == "brat"):
        note_id = f.relative_to(root).with_suffix("").as_posix() if fmt == "brat" else f.stem
        try:
            if fmt == "text":
                text, spans = decode_utf8(f.read_bytes(), f), ()
            elif fmt == "i2b2_2014":
                doc = i2b2_2014.read_file(f, LoadReport("i2b2_2014", as_written=True),
                                          as_written=True)
                text, spans = doc.text, doc.spans
            else:
                ann = next((p for p in (f.with_suffix(".ann"), f.with_suffix(".ANN"))
                            if p.exists()), None) if gold else None
                doc = brat.read_document(f, ann, LoadReport("brat", as_written=True),
                                         doc_id=note_id, as_written=True)
                text, spans = doc.text, doc.spans
        except (FormatError, OSError) as exc:
            yield Note(note_id, "", str(f), error=str(exc))
            continue
        if not text.strip():
            yield Note(note_id, "", str(f), error=f"{f}: empty note (no text)")
            continue
        yield Note(note_id, text, str(f), gold=tuple(spans) if gold else ())


def _jsonl_notes(f: Path, gold: bool) -> Iterator[Note]:
    with f.open("rb") as fh:
        for lineno, data in enumerate(fh, 1):
            where = f"{f}:{lineno}"
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Note(f"{f.name}:{lineno}", "", where, deid_file=f.name,
                           error=f"{where}: encoding error: not UTF-8 at byte {exc.start} of "
                                 "the line")
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                read = {k: record[k] for k in ("id", "text") if k in record} \
                    if isinstance(record, dict) and not gold else record
                doc = Document.from_json(read, where=where)
            except FormatError as exc:
                rid = record.get("id") if isinstance(record, dict) else None
                yield Note(str(rid) if rid is not None else f"{f.name}:{lineno}", "", where,
                           deid_file=f.name, error=str(exc))
                continue
            except (ValueError, RecursionError) as exc:  # ValueError: also a >4300-digit int
                yield Note(f"{f.name}:{lineno}", "", where, deid_file=f.name,
                           error=f"{where}: not JSON: {exc}")
                continue
            patient, locale = record.get("patient"), record.get("locale")
            if not doc.text.strip():
                yield Note(doc.id, "", where, deid_file=f.name,
                           error=f"{where}: record {doc.id!r}: empty note (no text)")
                continue
            yield Note(doc.id, doc.text, where, None if patient is None else str(patient),
                       doc.spans, deid_file=f.name,
                       locale=None if locale is None else str(locale))


def patient_of(note: Note, group_by: re.Pattern) -> str:
    """The patient a note belongs to: its JSONL ``patient`` field, else ``group_by``'s group 1
    (or whole match) on the note id, else the note id itself."""
    if note.patient is not None:
        return note.patient
    m = group_by.search(note.id)
    if m:
        return m.group(1) if m.groups() and m.group(1) is not None else m.group(0)
    return note.id
