"""brat standoff: a folder of ``NAME.txt`` + ``NAME.ann`` pairs (n2c2 2018 Track 2, MACCROBAT,
NCBI disease standoff, any brat project).

Follows ``docs/formats.md`` §1.4 (the n2c2 2018 ``.ann``) and the brat standoff format:

* ``T`` lines ``T<n>\\t<Type> <start> <end>[;<start> <end>...]\\t<text>`` are split on their
  first two tabs only (MACCROBAT 25661749.ann T145 carries a stray ``\\t\\u2005`` tail in its
  text field);
  offsets are 0-based, end-exclusive **character** (code point) offsets into the ``.txt`` *as
  stored*: the text is decoded as UTF-8 without newline translation, so a CRLF file keeps its
  ``\\r\\n`` (2 characters) and no offset shifts. The Document text keeps the ``\\r``.
* The text field is checked against the covered text with runs of whitespace compared as one
  space (brat writes a newline inside a span as a space, and joins the fragments of a
  discontinuous span with a space); a mismatch is reported (``text_mismatch``) and the span left
  out, never guessed at.
* Discontinuous spans ``s1 e1;s2 e2`` follow ``discontinuous``: ``join`` (default) keeps
  ``[min start, max end)``, as the n2c2 2018 scorer and bigbio do; ``split`` keeps each fragment as
  its own span; ``drop`` leaves the entity out. Each one is a problem entry with its fragments and
  the action taken, and is counted in ``counts["discontinuous"]`` and
  ``counts["discontinuous_<policy>"]``.
* ``R``, ``E``, ``A``/``M``, ``N``, ``#`` and ``*`` lines are not entities: they are counted in
  ``counts["brat_lines:<kind>"]`` and otherwise ignored (``T`` lines are counted there too).

Span labels are the brat entity types, verbatim (``Multi-tissue_structure`` keeps its hyphen).

Writer (:func:`write_folder`, used for predictions): ``NAME.txt`` (the note text, UTF-8, no
newline translation) and ``NAME.ann`` with one ``T<n>\\t<Label> <start> <end>\\t<text>`` line per
span, where line breaks inside the covered text are written as spaces (as brat does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from clinical_ner.documents import Document, FormatError, LoadReport, Span, resolve_spans
from clinical_ner.files import write_text_atomic
from data_scripts.loader_common import check_label, decode_utf8, select_labels

#: Policies for discontinuous spans (see the module docstring).
DISCONTINUOUS_POLICIES = ("join", "split", "drop")
#: Line kinds that are counted but carry no entity for NER.
NON_ENTITY_KINDS = ("R", "E", "A", "M", "N", "#", "*")

# Characters str.splitlines() breaks on (brat writes a span's line breaks as spaces), and tab.
_LINE_BREAKS = re.compile(r"[\n\r\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_OFFSETS_RE = re.compile(r"^[0-9]+ [0-9]+(;[0-9]+ [0-9]+)*$")  # ASCII digits only


@dataclass(frozen=True)
class BratEntity:
    """One ``T`` line: ``id``, ``label``, ``fragments`` ((start, end) pairs, as written), the
    ``.ann`` text field (None when the line has none) and its 1-based ``line`` number."""

    id: str
    label: str
    fragments: tuple[tuple[int, int], ...]
    ann_text: str | None
    line: int


def _norm(s: str) -> str:
    return " ".join(s.split())


def parse_ann(content: str, file: str, record: str, report: LoadReport) -> list[BratEntity]:
    """Parse the text of a ``.ann`` file into its ``T`` entities; count every line kind in
    ``report.counts["brat_lines:<kind>"]``.

    ``content`` lines may end in ``\\n`` or ``\\r\\n``. Raises :class:`FormatError` naming ``file``,
    ``record`` and the line for a ``T`` line whose type/offsets field is malformed (offsets are
    ASCII digits). A line of an unknown kind is reported (``unknown_line``) and ignored; a ``T``
    id defined twice is kept and reported (``duplicate_id``).
    """
    entities = []
    first_line: dict[str, int] = {}
    for lineno, raw in enumerate(content.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        kind = line[0]
        if kind == "T":
            report.counts["brat_lines:T"] += 1
            ent = _parse_t_line(line, file, record, lineno, report)
            if ent.id in first_line:
                report.problem(file=file, record=record, tag_id=ent.id, start=ent.fragments[0][0],
                               end=ent.fragments[-1][1], action="kept",
                               problem=f"duplicate_id: {ent.id} on line {lineno} was already "
                                       f"defined on line {first_line[ent.id]}")
            first_line.setdefault(ent.id, lineno)
            entities.append(ent)
        elif kind in NON_ENTITY_KINDS:
            report.counts[f"brat_lines:{kind}"] += 1
        else:
            report.counts["brat_lines:unknown"] += 1
            report.problem(file=file, record=record, start=None, end=None, action="ignored",
                           problem=f"unknown_line: line {lineno} starts with {kind!r}, not a "
                                   "brat annotation kind (T R E A M N # *)")
    return entities


def _parse_t_line(line: str, file: str, record: str, lineno: int,
                  report: LoadReport) -> BratEntity:
    parts = line.split("\t", 2)
    where = f"line {lineno}"
    if len(parts) < 2:
        raise FormatError(f"{file}: record {record!r} {where}: T line without a tab after its id")
    tid, middle = parts[0], parts[1]
    ann_text = parts[2] if len(parts) == 3 else None
    label, _, offsets = middle.partition(" ")
    label = check_label(label, file=file, record=record, where=f"{where} ({tid})", report=report)
    if not _OFFSETS_RE.match(offsets):
        raise FormatError(f"{file}: record {record!r} {where} ({tid}): offsets {offsets!r} are "
                          "not 'start end[;start end...]'")
    frags = tuple(tuple(int(x) for x in f.split(" ")) for f in offsets.split(";"))
    return BratEntity(tid, label, frags, ann_text, lineno)  # type: ignore[arg-type]


def entity_spans(ent: BratEntity, text: str, report: LoadReport, *, file: str, record: str,
                 discontinuous: str = "join", as_written: bool = False,
                 rejected: list[tuple[int, int]] | None = None) -> list[Span]:
    """The spans of one entity under the discontinuous policy, after checking its offsets and
    text field against ``text``.

    Training reading: returns [] (and reports why) for offsets outside the text, an empty or
    reversed fragment, a text-field mismatch, or a discontinuous entity under ``drop``; the
    range of a mismatching or dropped entity goes to ``rejected`` (kept out of the loss).
    Scoring reading (``as_written``, as the n2c2 2018 scorer reads ``.ann`` files,
    docs/formats.md §1.4): a text-field mismatch is a counted warning and the span is scored as
    written; offsets that cannot be placed raise :class:`FormatError` naming file, record, entity
    and line. Raises ValueError for an unknown policy.
    """
    if discontinuous not in DISCONTINUOUS_POLICIES:
        raise ValueError(f"discontinuous must be one of {DISCONTINUOUS_POLICIES}, "
                         f"not {discontinuous!r}")
    first, last = ent.fragments[0][0], ent.fragments[-1][1]

    def bad(what: str, start=first, end=last, action: str = "dropped") -> None:
        if as_written and action == "dropped" and not what.startswith("discontinuous"):
            raise FormatError(f"{file}: record {record!r}: {what}: it cannot be scored")
        report.problem(file=file, record=record, tag_id=ent.id, start=start, end=end,
                       problem=what, action=action)
        if action == "dropped" and rejected is not None and start < end <= len(text):
            rejected.append((start, end))

    for s, e in ent.fragments:
        if not s < e:
            bad(f"bad_offsets: {ent.id} {ent.label} fragment [{s}, {e}) is empty or reversed "
                f"(line {ent.line})", s, e)
            return []
        if e > len(text):
            bad(f"out_of_bounds: {ent.id} {ent.label} fragment [{s}, {e}) ends past the text "
                f"({len(text)} characters, line {ent.line})", s, e)
            return []
    covered = " ".join(text[s:e] for s, e in ent.fragments)
    if ent.ann_text is not None and _norm(covered) != _norm(ent.ann_text):
        what = (f"text_mismatch: {ent.id} {ent.label} text field differs from the covered text "
                f"(line {ent.line})")
        if not as_written:
            bad(what)
            return []
        bad(what, action="scored")
    if len(ent.fragments) == 1:
        return [Span(first, last, ent.label)]
    report.counts["discontinuous"] += 1
    report.counts[f"discontinuous_{discontinuous}"] += 1
    frags = "; ".join(f"[{s}, {e})" for s, e in ent.fragments)
    if discontinuous == "drop":
        bad(f"discontinuous: {ent.id} {ent.label} has fragments {frags}; policy drop", first, last)
        return []
    if discontinuous == "split":
        bad(f"discontinuous: {ent.id} {ent.label} has fragments {frags}; policy split keeps each",
            first, last, action="split")
        return [Span(s, e, ent.label) for s, e in ent.fragments]
    lo, hi = min(s for s, _ in ent.fragments), max(e for _, e in ent.fragments)
    bad(f"discontinuous: {ent.id} {ent.label} has fragments {frags}; policy join keeps "
        f"[{lo}, {hi})", lo, hi, action="joined")
    return [Span(lo, hi, ent.label)]


def _suffixed(path: Path, suffix: str) -> Path | None:
    """The sibling of ``path`` with ``suffix`` in any case (``.ann`` or ``.ANN``), or None."""
    for cand in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if cand.exists():
            return cand
    return next((p for p in path.parent.glob(f"{path.stem}.*")
                 if p.suffix.lower() == suffix), None)


def read_text(path: str | Path) -> str:
    """The ``.txt`` of a brat document exactly as stored (UTF-8, no newline translation, so a
    CRLF file keeps ``\\r\\n``). Raises :class:`FormatError` naming the file and byte offset on
    bad UTF-8."""
    path = Path(path)
    return decode_utf8(path.read_bytes(), path)


def read_document(txt_path: str | Path, ann_path: str | Path | None, report: LoadReport, *,
                  doc_id: str | None = None, discontinuous: str = "join",
                  labels=None, as_written: bool = False) -> Document:
    """Read one ``.txt`` (+ optional ``.ann``) pair into a :class:`Document`.

    ``doc_id`` defaults to the ``.txt`` stem; ``labels`` (native types) keeps only those before
    the span policy (:func:`data_scripts.loader_common.select_labels`). The document is *not*
    added to ``report`` (the folder reader does that). Spans then go through
    :func:`clinical_ner.documents.resolve_spans` (trim, duplicates, overlaps), all reported;
    with ``as_written`` (scoring) nothing is repaired (see :func:`entity_spans`). Every ``T``
    line counts in ``report.tags_read``; rejected ranges go to ``doc.meta["rejected"]``.
    Raises :class:`FormatError` for bad UTF-8 (encoding) or a malformed ``T`` line.
    """
    txt_path = Path(txt_path)
    doc_id = doc_id or txt_path.stem
    text = read_text(txt_path)
    spans: list[Span] = []
    rejected: list[tuple[int, int]] = []
    file = str(ann_path) if ann_path is not None else str(txt_path)
    if ann_path is not None:
        ann_path = Path(ann_path)
        content = decode_utf8(ann_path.read_bytes(), ann_path)
        for ent in parse_ann(content, str(ann_path), doc_id, report):
            report.tags_read += 1
            spans += entity_spans(ent, text, report, file=str(ann_path), record=doc_id,
                                  discontinuous=discontinuous, as_written=as_written,
                                  rejected=rejected)
    spans = select_labels(spans, labels, report)
    kept = resolve_spans(text, spans, report, file=file, record=doc_id, as_written=as_written,
                         rejected=rejected)
    meta = {"file": txt_path.name, "patient": None}
    if rejected:
        meta["rejected"] = rejected
    return Document(doc_id, text, kept, meta=meta)


def read_folder(folder: str | Path, report: LoadReport, *, discontinuous: str = "join",
                labels=None, as_written: bool = False) -> list[Document]:
    """Read every ``*.txt`` under ``folder`` (recursively, sorted; ``.TXT``/``.ANN`` too) with
    its ``.ann``.

    Ids are the path relative to ``folder`` without ``.txt`` (the stem for a flat folder). A
    ``.txt`` without ``.ann`` is a document without spans (counted in
    ``counts["txt_without_ann"]``). Raises :class:`FormatError` when ``folder`` holds no ``.txt``
    or an ``.ann`` has no ``.txt`` (its spans could not be placed), or for an unknown
    ``discontinuous`` policy.
    """
    if discontinuous not in DISCONTINUOUS_POLICIES:
        raise FormatError(f"discontinuous must be one of {', '.join(DISCONTINUOUS_POLICIES)}, "
                          f"not {discontinuous!r}")
    folder = Path(folder)
    if folder.is_file():
        raise FormatError(f"{folder}: the brat loader reads a folder of .txt/.ann pairs")
    files = [p for p in folder.rglob("*") if p.is_file()]
    txts = sorted(p for p in files if p.suffix.lower() == ".txt")
    if not txts:
        raise FormatError(f"{folder}: no .txt files (expected brat .txt/.ann pairs)")
    orphans = sorted(a for a in files if a.suffix.lower() == ".ann"
                     and _suffixed(a, ".txt") is None)
    if orphans:
        raise FormatError(f"{orphans[0]}: .ann without its .txt ({len(orphans)} such files); "
                          "its spans cannot be placed")
    docs = []
    for txt in txts:
        ann = _suffixed(txt, ".ann")
        if ann is None:
            report.counts["txt_without_ann"] += 1
        doc_id = txt.relative_to(folder).with_suffix("").as_posix()
        doc = read_document(txt, ann, report, doc_id=doc_id, discontinuous=discontinuous,
                            labels=labels, as_written=as_written)
        report.add_document(doc)
        docs.append(doc)
    return docs


# ------------------------------------------------------------------------------------- writer

def check_labels(labels: Iterable[str]) -> None:
    """Raise ValueError when a label cannot be a brat entity type (empty or holds whitespace)."""
    bad = [lab for lab in labels if not lab or any(c.isspace() for c in lab)]
    if bad:
        raise ValueError(f"brat entity types cannot be empty or hold whitespace: {bad[:3]}")


def ann_lines(doc: Document) -> list[str]:
    """The ``.ann`` lines of a document: ``T<n>\\t<Label> <start> <end>\\t<covered text>`` for
    each span in order (``T1`` first), line breaks and tabs in the covered text written as
    spaces. Offsets are code points into ``doc.text``. Raises ValueError for a label that is
    empty or holds whitespace."""
    check_labels({s.label for s in doc.spans})
    return [f"T{i}\t{s.label} {s.start} {s.end}\t{_LINE_BREAKS.sub(' ', doc.span_text(s))}"
            for i, s in enumerate(doc.spans, 1)]


def relative_path(doc_id: str) -> PurePosixPath:
    """A document id as a relative file path (``/`` makes sub-folders); raises ValueError for an
    empty or absolute id or one holding ``..``."""
    rel = PurePosixPath(doc_id.replace("\\", "/"))
    if not doc_id or rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"document id {doc_id!r} cannot be used as a brat file name")
    return rel


def write_folder(docs: Sequence[Document], out_dir: str | Path) -> list[Path]:
    """Write ``<id>.txt`` (note text exactly as held: UTF-8, no newline translation, so a CRLF
    note stays CRLF and offsets stay valid) and ``<id>.ann`` (:func:`ann_lines`, LF line ends)
    for each document into ``out_dir``; an id with ``/`` makes sub-folders. Returns the
    ``.ann`` paths. Raises ValueError for an id that is absolute or holds ``..``, or a bad
    label."""
    out_dir = Path(out_dir)
    paths = []
    for doc in docs:
        stem = out_dir / relative_path(doc.id)
        stem.parent.mkdir(parents=True, exist_ok=True)
        lines = ann_lines(doc)
        write_text_atomic(stem.with_name(stem.name + ".txt"), doc.text)  # no newline change
        ann = stem.with_name(stem.name + ".ann")
        write_text_atomic(ann, "".join(line + "\n" for line in lines))
        paths.append(ann)
    return paths
