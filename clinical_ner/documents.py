"""Documents with character spans: the single currency between the steps of the flow.

A :class:`Document` is one clinical note: an id, its exact text (as the corpus reader returns it)
and
a tuple of :class:`Span` objects with 0-based, end-exclusive *code point* offsets into that
text.
Loaders report what they could not represent in a :class:`LoadReport` instead of dropping it.

The JSONL interchange format (one note per line) is::

    {"id": "...", "text": "...",
     "spans": [{"start": 0, "end": 4, "label": "DATE/DATE", "text": "..."}]}
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


class FormatError(ValueError):
    """A corpus file cannot be read. The message names the file, the record and the offset."""


@dataclass(frozen=True, order=True)
class Span:
    """A labelled character span ``text[start:end]`` (0-based, end exclusive, code points).

    ``label`` is the format's native name: ``"CATEGORY/TYPE"`` for i2b2 2014 PHI (e.g.
    ``"NAME/DOCTOR"``), the TYPE for i2b2 2006, ``problem``/``test``/``treatment`` for i2b2 2010,
    the entity type for brat and CoNLL.
    """

    start: int
    end: int
    label: str

    def __post_init__(self) -> None:
        if not (isinstance(self.start, int) and isinstance(self.end, int)):
            raise TypeError(f"span offsets must be int, got {self.start!r}, {self.end!r}")
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"empty or negative span [{self.start}, {self.end}) {self.label!r}")

    def overlaps(self, other: Span) -> bool:
        """True when the two spans share at least one character (labels are ignored)."""
        return self.start < other.end and other.start < self.end


@dataclass
class Document:
    """One note: ``id``, exact ``text`` and its ``spans`` (sorted by start, end, label)."""

    id: str
    text: str
    spans: tuple[Span, ...] = ()
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spans = tuple(sorted(self.spans))
        for s in self.spans:
            if s.end > len(self.text):
                raise ValueError(
                    f"document {self.id!r}: span [{s.start}, {s.end}) {s.label!r} ends past the "
                    f"text ({len(self.text)} characters)"
                )

    def span_text(self, span: Span) -> str:
        """The covered text ``text[span.start:span.end]``."""
        return self.text[span.start : span.end]

    def to_json(self) -> dict:
        """The JSONL interchange record (see the module docstring)."""
        return {
            "id": self.id,
            "text": self.text,
            "spans": [
                {"start": s.start, "end": s.end, "label": s.label, "text": self.span_text(s)}
                for s in self.spans
            ],
        }

    @classmethod
    def from_json(cls, record: dict, where: str = "<record>") -> Document:
        """Build a document from a JSONL record; checks ``text[start:end] == span["text"]``.

        ``id`` must be a string or an integer, ``text`` a string, ``spans`` (optional) a list of
        objects with integer ``start``/``end`` and a string ``label``: nothing is coerced (a
        float offset is not rounded). Raises :class:`FormatError` naming ``where``, the id and
        the offsets on any of these, or on a span past the text or whose ``text`` differs.
        """
        if not isinstance(record, dict):
            raise FormatError(f"{where}: a record must be a JSON object, got "
                              f"{type(record).__name__}")
        rid = record.get("id", "?")

        def bad(what: str) -> FormatError:
            return FormatError(f"{where}: bad record {str(rid)!r}: {what}")

        for key in ("id", "text"):
            if key not in record:
                raise bad(f"no {key!r} field")
        if isinstance(rid, bool) or not isinstance(rid, (str, int)):
            raise bad(f"'id' must be a string or an integer, got {type(rid).__name__}")
        doc_id, text = str(rid), record["text"]
        if not isinstance(text, str):
            raise bad(f"'text' must be a string, got {type(text).__name__}")
        lone = next((i for i, ch in enumerate(text) if "\ud800" <= ch <= "\udfff"), None)
        if lone is not None:
            raise bad(f"'text' holds a lone surrogate (not valid Unicode) at character offset "
                      f"{lone}")
        raw = record.get("spans", [])
        if not isinstance(raw, list):
            raise bad(f"'spans' must be a list, got {type(raw).__name__}")
        spans = []
        for i, r in enumerate(raw):
            if not isinstance(r, dict):
                raise bad(f"span #{i} must be a JSON object, got {type(r).__name__}")
            for key in ("start", "end", "label"):
                if key not in r:
                    raise bad(f"span #{i} has no {key!r} field")
            start, end, label = r["start"], r["end"], r["label"]
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
                raise bad(f"span #{i}: 'start'/'end' must be integers, got {start!r}, {end!r}")
            if not isinstance(label, str):
                raise bad(f"span #{i} [{start}, {end}): 'label' must be a string, got "
                          f"{type(label).__name__}")
            try:
                spans.append(Span(start, end, label))
            except ValueError as exc:
                raise bad(str(exc)) from exc
        for s, r in zip(spans, raw):
            if s.end > len(text):
                raise FormatError(
                    f"{where}: record {doc_id!r}: span [{s.start}, {s.end}) ends past the text "
                    f"({len(text)} characters)"
                )
            if "text" in r and text[s.start : s.end] != r["text"]:
                raise FormatError(
                    f"{where}: record {doc_id!r}: span [{s.start}, {s.end}) covers "
                    f"{len(text[s.start:s.end])} characters that differ from its 'text' field"
                )
        return cls(doc_id, text, tuple(spans))


def write_jsonl(docs: Iterable[Document], path: str | Path) -> int:
    """Write documents as JSONL (UTF-8, one note a line), atomically (temporary file, then
    rename: an interrupted write leaves the old file). Returns the number written."""
    from clinical_ner.files import write_text_atomic

    lines = [json.dumps(doc.to_json(), ensure_ascii=False) + "\n" for doc in docs]
    write_text_atomic(path, "".join(lines))
    return len(lines)


def read_jsonl(path: str | Path) -> Iterator[Document]:
    """Read JSONL interchange documents. Raises :class:`FormatError` naming file and line."""
    path = Path(path)
    with path.open("rb") as fh:
        offset = 0
        for lineno, data in enumerate(fh, 1):
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FormatError(f"{path}:{lineno}: encoding error: not UTF-8 at byte offset "
                                  f"{offset + exc.start}: {exc.reason}") from exc
            offset += len(data)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:  # ValueError: also a >4300-digit int
                raise FormatError(f"{path}:{lineno}: not JSON: {exc}") from exc
            yield Document.from_json(record, where=f"{path}:{lineno}")


@dataclass
class Problem:
    """One thing a loader could not represent as given: file, record, offsets, what happened."""

    file: str
    record: str
    start: int | None
    end: int | None
    problem: str
    action: str = "reported"
    tag_id: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class LoadReport:
    """What a loader read: counts per label, round-tripped spans and every problem met.

    Contains no note text (only ids, offsets and counts), so it may be logged and published.
    """

    format: str
    documents: int = 0
    characters: int = 0
    spans: int = 0
    per_label: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    round_trip_spans: int | None = None
    splits: dict = field(default_factory=dict)
    #: True for the scoring reading (tags as written, no repair), False for training data.
    as_written: bool = False
    #: Every tag, entity line or concept line met in the files, before any check.
    tags_read: int = 0

    def add_document(self, doc: Document) -> None:
        """Count one accepted document and its spans."""
        self.documents += 1
        self.characters += len(doc.text)
        self.spans += len(doc.spans)
        self.per_label.update(s.label for s in doc.spans)

    def differences(self) -> dict:
        """How the documents read differ from a plain reading of the files: ``tags_read`` (every
        tag, entity line or concept line met), ``spans`` (what the documents hold) and
        ``by_problem`` (problem kind -> count, each with the action taken). In the scoring
        reading only duplicates collapse (``duplicate``); text-attribute mismatches and unknown
        labels are scored as written and counted here as warnings."""
        by_kind: Counter = Counter()
        for p in self.problems:
            by_kind[f"{p.problem.split(':')[0]} ({p.action})"] += 1
        return {"tags_read": self.tags_read, "spans": self.spans,
                "by_problem": dict(sorted(by_kind.items()))}

    def problem(self, **kwargs) -> Problem:
        """Record a :class:`Problem` (keyword arguments as its fields) and count its kind."""
        p = Problem(**kwargs)
        self.problems.append(p)
        self.counts[f"problem:{p.problem.split(':')[0]}"] += 1
        return p

    def to_json(self) -> dict:
        out = {
            "format": self.format,
            "reading": "as written (scoring)" if self.as_written else "training data (repaired)",
            "documents": self.documents,
            "characters": self.characters,
            "tags_read": self.tags_read,
            "spans": self.spans,
            "per_label": dict(sorted(self.per_label.items())),
            "round_trip_spans": self.round_trip_spans,
            "counts": dict(sorted(self.counts.items())),
            "problems": [p.to_json() for p in self.problems],
        }
        if self.splits:
            out["splits"] = self.splits
        return out

    def write(self, path: str | Path) -> None:
        """Write the report as indented JSON."""
        from clinical_ner.files import write_json_atomic

        write_json_atomic(path, self.to_json())


def resolve_spans(
    text: str,
    spans: Iterable[Span],
    report: LoadReport | None = None,
    *,
    file: str = "",
    record: str = "",
    as_written: bool = False,
    rejected: list[tuple[int, int]] | None = None,
) -> tuple[Span, ...]:
    """Apply the project's span policy and count every change in ``report``.

    ``as_written=True`` is the reading for *scoring* (gold and predicted files alike): nothing is
    trimmed, dropped or resolved, only exact duplicates (same start, end and label) collapse into
    one, as the official i2b2 2014 scorer keys each document as a set (``docs/formats.md`` §1.5 in
    ``docs/``); each collapse is counted (``duplicate``, action ``scored once``). A span past the
    text cannot be scored against it and raises :class:`FormatError` naming file, record and
    offsets.

    Policy for building training data (``as_written=False``), in order (each change is a
    :class:`Problem` with the offsets, never silent):

    1. a span outside ``[0, len(text)]`` is dropped (``out_of_bounds``);
    2. leading/trailing whitespace is trimmed (``trimmed_whitespace``); a span of only whitespace is
       dropped (``whitespace_only``);
    3. exact duplicates (same start, end and label) collapse into one (``duplicate``);
    4. overlapping spans: the longest is kept, then the earliest, then the label sorting first;
       the others are dropped (``overlap``), naming the span they lost to.

    Returns the kept spans sorted by (start, end, label). ``rejected``, when given, receives the
    ``(start, end)`` of every span dropped for an overlap (training keeps those characters out
    of the loss rather than learning them as ``O``).
    """
    kept: list[Span] = []
    seen: set[Span] = set()

    def note(s: Span | tuple, what: str, action: str) -> None:
        if report is not None:
            start, end = (s.start, s.end) if isinstance(s, Span) else s
            report.problem(file=file, record=record, start=start, end=end, problem=what,
                           action=action)

    if as_written:
        return _as_written(text, spans, note, file, record)
    candidates = []
    for s in spans:
        if s.end > len(text):
            note(s, f"out_of_bounds: span [{s.start}, {s.end}) {s.label} ends past the text "
                    f"({len(text)} characters)", "dropped")
            continue
        start, end = s.start, s.end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            note(s, f"whitespace_only: span {s.label} covers only whitespace", "dropped")
            continue
        if (start, end) != (s.start, s.end):
            note(s, f"trimmed_whitespace: span {s.label} trimmed to [{start}, {end})", "trimmed")
            s = Span(start, end, s.label)
        if s in seen:
            note(s, f"duplicate: span {s.label} given more than once", "collapsed")
            continue
        seen.add(s)
        candidates.append(s)
    for s in sorted(candidates, key=lambda x: (-(x.end - x.start), x.start, x.label)):
        winner = next((k for k in kept if k.overlaps(s)), None)
        if winner is not None:
            note(s, f"overlap: span {s.label} overlaps kept span [{winner.start}, {winner.end}) "
                    f"{winner.label}", "dropped")
            if rejected is not None:
                rejected.append((s.start, s.end))
            continue
        kept.append(s)
    return tuple(sorted(kept))


def _as_written(text: str, spans: Iterable[Span], note, file: str, record: str
                ) -> tuple[Span, ...]:
    out: set[Span] = set()
    for s in spans:
        if s.end > len(text):
            raise FormatError(f"{file}: record {record!r}: span [{s.start}, {s.end}) {s.label} "
                              f"ends past the text ({len(text)} characters): it cannot be scored")
        if s in out:
            note(s, f"duplicate: span {s.label} given more than once (a document is a set of "
                    "tags, as in the official scorer)", "scored once")
            continue
        out.add(s)
    return tuple(sorted(out))
