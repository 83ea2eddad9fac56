"""Label sets, words split at span boundaries, and the span <-> BIO (IOB2) conversions.

Words are maximal runs of letters/digits and single other non-space characters
(``[^\\W_]+|\\S``), further split at every span boundary, so that every gold span starts and ends
on a word boundary (a DATE ``01/01`` directly followed by ``/1995`` is its own word). BIO tags use
the IOB2 scheme (every entity starts with ``B-``), as seqeval's ``scheme=IOB2``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clinical_ner.documents import Span
from data_scripts.i2b2_2014 import I2B2_2014_TYPES  # the format's TYPEs, with its reader

#: Every i2b2 2014 span label, ``"CATEGORY/TYPE"``.
I2B2_2014_LABELS: tuple[str, ...] = tuple(
    f"{cat}/{typ}" for cat, types in I2B2_2014_TYPES.items() for typ in types
)

_WORD_RE = re.compile(r"[^\W_]+|\S")
_ALNUM_RE = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class LabelScheme:
    """Maps a task's span labels to BIO entity types and back.

    ``span_labels`` are the labels spans carry when scored (e.g. ``"NAME/DOCTOR"``);
    ``entity_types`` are the names the model predicts (e.g. ``"DOCTOR"``), one per span label, in
    the same order. ``bio_labels`` is ``["O", "B-T1", "I-T1", ...]``: its index is the class id
    written into ``config.id2label``.
    """

    span_labels: tuple[str, ...]
    entity_types: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.span_labels) != len(self.entity_types):
            raise ValueError("span_labels and entity_types must have the same length")
        if len(set(self.entity_types)) != len(self.entity_types):
            raise ValueError(f"entity types are not unique: {self.entity_types}")
        for t in self.entity_types:
            if not t or t != t.strip() or t.startswith(("B-", "I-")) or t == "O":
                raise ValueError(f"bad entity type name {t!r}")

    @property
    def bio_labels(self) -> list[str]:
        out = ["O"]
        for t in self.entity_types:
            out += [f"B-{t}", f"I-{t}"]
        return out

    def entity_of(self, span_label: str) -> str:
        """The entity type for a span label. Raises KeyError for a label outside the task."""
        return self.entity_types[self.span_labels.index(span_label)]

    def span_label_of(self, entity_type: str) -> str:
        """The span label for a predicted entity type. Raises ValueError when unknown."""
        return self.span_labels[self.entity_types.index(entity_type)]

    @classmethod
    def from_bio_labels(cls, bio: Sequence[str], span_labels: Sequence[str] | None = None):
        """Rebuild a scheme from ``config.id2label`` values (``O``, ``B-X``, ``I-X`` ...).

        ``span_labels`` (same order as the entity types) defaults to the entity types themselves.
        """
        types = [b[2:] for b in bio if b.startswith("B-")]
        return cls(tuple(span_labels or types), tuple(types))


def i2b2_2014_scheme(granularity: str = "type") -> LabelScheme:
    """The PHI scheme over every i2b2 2014 TYPE (``granularity="type"``, 31 types, span labels
    ``"CATEGORY/TYPE"``) or category (``"category"``, 8 categories, span labels ``"CATEGORY"``).

    The label set comes from the task definition, not from the data, so a TYPE that occurs only
    in test is scored as missed rather than crashing the run.
    """
    if granularity == "type":
        return LabelScheme(I2B2_2014_LABELS, tuple(lab.split("/")[1] for lab in I2B2_2014_LABELS))
    if granularity == "category":
        cats = tuple(I2B2_2014_TYPES)
        return LabelScheme(cats, cats)
    raise ValueError(f"label granularity must be 'type' or 'category', not {granularity!r}")


def split_words(text: str, spans: Iterable[Span] = ()) -> list[tuple[int, int]]:
    """Split ``text`` into words: ``(start, end)`` character offsets, end exclusive, in order.

    A word is a run of letters/digits or one other non-space character, cut at every span start
    and end so that each span is a whole number of words.
    """
    cuts = sorted({b for s in spans for b in (s.start, s.end)})
    words: list[tuple[int, int]] = []
    ci = 0
    for m in _WORD_RE.finditer(text):
        start, end = m.start(), m.end()
        while ci < len(cuts) and cuts[ci] <= start:
            ci += 1
        j = ci
        while j < len(cuts) and cuts[j] < end:
            words.append((start, cuts[j]))
            start = cuts[j]
            j += 1
        words.append((start, end))
    return words


def spans_to_bio(
    words: Sequence[tuple[int, int]], spans: Iterable[Span], entity_of=lambda label: label
) -> list[str]:
    """IOB2 tags, one per word: ``B-<entity>`` on a span's first word, ``I-<entity>`` on the rest.

    ``entity_of`` maps a span label to its entity type. Spans must not overlap (resolve them
    first with :func:`clinical_ner.documents.resolve_spans`); raises ValueError when they do.
    Words are assumed split at span boundaries (:func:`split_words`).
    """
    tags = ["O"] * len(words)
    starts = [w[0] for w in words]
    for s in sorted(spans):
        ent = entity_of(s.label)
        i = bisect.bisect_left(starts, s.start)
        first = True
        while i < len(words) and words[i][1] <= s.end:
            if words[i][0] >= s.start:
                if tags[i] != "O":
                    raise ValueError(f"span [{s.start}, {s.end}) {s.label} overlaps another span")
                tags[i] = ("B-" if first else "I-") + ent
                first = False
            i += 1
    return tags


def bio_to_spans(
    words: Sequence[tuple[int, int]], tags: Sequence[str], span_label_of=lambda ent: ent
) -> list[Span]:
    """Decode IOB2 tags over words into character spans (first word start to last word end).

    An ``I-X`` that does not continue an ``X`` entity starts a new one (the usual repair of
    model output; gold tags from :func:`spans_to_bio` never need it). ``span_label_of`` maps an
    entity type back to a span label. Raises ValueError on a tag that is not O, B-* or I-*.
    """
    if len(words) != len(tags):
        raise ValueError(f"{len(words)} words but {len(tags)} tags")
    spans: list[Span] = []
    cur_type, cur_start, cur_end = None, 0, 0
    for (ws, we), tag in zip(words, tags):
        if tag == "O":
            prefix, ent = "O", None
        elif tag[:2] in ("B-", "I-"):
            prefix, ent = tag[0], tag[2:]
        else:
            raise ValueError(f"not an IOB2 tag: {tag!r}")
        if prefix == "I" and ent == cur_type:
            cur_end = we
            continue
        if cur_type is not None:
            spans.append(Span(cur_start, cur_end, span_label_of(cur_type)))
            cur_type = None
        if ent is not None:
            cur_type, cur_start, cur_end = ent, ws, we
    if cur_type is not None:
        spans.append(Span(cur_start, cur_end, span_label_of(cur_type)))
    return spans


def drop_spans_without_alnum(text: str, spans: Iterable[Span]) -> tuple[list[Span], int]:
    """Decoded (predicted) spans that hold a letter or digit, in order, and how many were left out.

    A span of punctuation or symbols only (a lone ``,``, ``-`` or ``--`` that a model tagged
    ``B-X``) is neither PHI (i2b2 2014 guidelines: names, dates, places, numbers ...) nor an
    i2b2 2010 / n2c2 2018 concept; the word splitting (:func:`split_words`) makes such marks
    words of their own, so a model can tag one alone. ``text``: the note the spans index
    (character offsets, end exclusive). A rule of the *decoding* of model output: gold spans are
    never passed through it (the scorer scores them as written).
    """
    spans = list(spans)
    kept = [s for s in spans if _ALNUM_RE.search(text, s.start, s.end)]
    return kept, len(spans) - len(kept)


def check_label_names(id2label: dict) -> None:
    """Refuse placeholder label names: raises ValueError when any is ``LABEL_<n>``."""
    bad = [v for v in id2label.values() if str(v).startswith("LABEL_")]
    if bad:
        raise ValueError(f"refusing to save a model with placeholder labels {bad[:3]}; "
                         "id2label must hold the task's IOB2 names")
