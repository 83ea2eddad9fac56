"""Spans + note text -> de-identified text with the spans' new offsets, and the leak report.

Layer 4 (pure: no model, no files). :func:`redact` replaces each span of a note by

* ``tag``: ``[TYPE]`` (``[PATIENT]``; a category-only label gives ``[NAME]``);
* ``mask``: as many ``*`` as the span has characters (offsets do not move);
* ``surrogate``: a realistic value of the same TYPE from a
  :class:`~clinical_ner.surrogates.SurrogateGenerator` (consistent per patient, keyed);
* ``none``: nothing (the text is returned as is).

Every character outside the spans is kept byte for byte (:func:`text_outside` of the input
and output texts are equal). Offsets are 0-based, end-exclusive code points, into the input text
(``start``/``end``) and into the de-identified text (``out_start``/``out_end``).

:class:`LeakCounter` measures what a redaction leaves (against gold PHI spans): the residual PHI
rate (gold PHI whose original string, case-insensitive, is still in the de-identified text at
its place) and the over-redaction rate (characters replaced that are no gold PHI).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from clinical_ner.documents import Span

#: The redaction modes of ``predict_ner.py --redact``.
REDACTION_MODES = ("none", "tag", "mask", "surrogate")


@dataclass(frozen=True)
class RedactedSpan:
    """One replaced span: offsets in the input (``start``, ``end``) and in the de-identified
    text (``out_start``, ``out_end``), its ``label``."""

    start: int
    end: int
    label: str
    out_start: int
    out_end: int


@dataclass
class Redaction:
    """The de-identified ``text`` and its :class:`RedactedSpan` list (sorted by offset)."""

    text: str
    spans: list[RedactedSpan] = field(default_factory=list)


def tag_for(label: str) -> str:
    """The ``tag`` replacement of a label: ``[TYPE]`` (``NAME/PATIENT`` -> ``[PATIENT]``,
    ``NAME`` -> ``[NAME]``)."""
    return f"[{label.rsplit('/', 1)[-1]}]"


def check_spans(text: str, spans: Sequence[Span], where: str = "") -> list[Span]:
    """The spans sorted by offset, after checking they lie in the text and do not overlap.
    Raises ValueError naming ``where`` and both spans' offsets (a redaction never drops or
    merges a span silently)."""
    out = sorted(spans)
    for s in out:
        if s.end > len(text):
            raise ValueError(f"{where}: span [{s.start}, {s.end}) {s.label} ends past the text "
                             f"({len(text)} characters)")
    for a, b in zip(out, out[1:]):
        if b.start < a.end:
            raise ValueError(f"{where}: spans [{a.start}, {a.end}) {a.label} and [{b.start}, "
                             f"{b.end}) {b.label} overlap; a redaction needs disjoint spans")
    return out


def redact(text: str, spans: Sequence[Span], mode: str, *,
           surrogate: Callable[[Span, str], str] | None = None, where: str = "") -> Redaction:
    """De-identify ``text``: replace each span by its ``mode`` replacement (module docstring).

    ``surrogate(span, original)`` gives the replacement in ``surrogate`` mode (e.g. ``lambda s,
    o: gen.surrogate(s.label, o, patient)``). Returns the :class:`Redaction` (for ``none``: the
    text unchanged, each span with ``out_*`` equal to its offsets). Raises ValueError for an
    unknown mode, a missing ``surrogate`` callable, an empty replacement, spans past the text or
    overlapping (:func:`check_spans`, naming ``where``).
    """
    if mode not in REDACTION_MODES:
        raise ValueError(f"redaction mode must be one of {REDACTION_MODES}, not {mode!r}")
    if mode == "surrogate" and surrogate is None:
        raise ValueError("mode 'surrogate' needs a surrogate(span, original) callable")
    spans = check_spans(text, spans, where)
    parts: list[str] = []
    out: list[RedactedSpan] = []
    pos = length = 0
    for s in spans:
        parts.append(text[pos:s.start])
        length += s.start - pos
        original = text[s.start:s.end]
        if mode == "none":
            rep = original
        elif mode == "tag":
            rep = tag_for(s.label)
        elif mode == "mask":
            rep = "*" * len(original)
        else:
            rep = surrogate(s, original)
            if not rep:
                raise ValueError(f"{where}: empty surrogate for span [{s.start}, {s.end}) "
                                 f"{s.label}")
        parts.append(rep)
        out.append(RedactedSpan(s.start, s.end, s.label, length, length + len(rep)))
        length += len(rep)
        pos = s.end
    parts.append(text[pos:])
    return Redaction("".join(parts), out)


def text_outside(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    """The pieces of ``text`` between the ``(start, end)`` ranges (sorted, disjoint): the
    characters a redaction must keep. For a :class:`Redaction` ``r`` of ``text`` with
    ``spans``, ``text_outside(text, [(s.start, s.end) ...]) == text_outside(r.text,
    [(s.out_start, s.out_end) ...])``."""
    pieces, pos = [], 0
    for start, end in sorted(spans):
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    return pieces


def output_range(redaction: Redaction, start: int, end: int) -> tuple[int, int]:
    """Where the input range ``[start, end)`` lies in the de-identified text: offsets outside
    every replaced span move by the length changes before them; an offset inside a replaced span
    widens to that span's replacement (start to its ``out_start``, end to its ``out_end``)."""

    def place(p: int, is_end: bool) -> int:
        shift = 0
        for s in redaction.spans:
            if s.start < p < s.end:
                return s.out_end if is_end else s.out_start
            if s.end <= p:
                shift = s.out_end - s.end
            else:
                break
        return p + shift

    return place(start, False), place(end, True)


class LeakCounter:
    """Residual PHI and over-redaction over many notes (counts only, no note text).

    :meth:`add` one note (input text, its gold PHI spans, the :class:`Redaction` of the
    predicted spans); :meth:`to_json` gives, overall and per gold label, ``gold`` (gold spans),
    ``residual`` (gold spans whose original string, compared case-insensitively, still occurs in
    the de-identified text in the range where the gold span lies, :func:`output_range`),
    ``residual_rate`` (residual / gold), ``found_anywhere`` (gold spans whose original string
    occurs anywhere in the de-identified note: an upper bound, as a short original such as
    ``18`` also matches inside other text) and ``uncovered_characters`` (gold characters outside
    every predicted span), plus ``replaced_characters`` (characters of the input inside predicted
    spans), ``over_redacted_characters`` (of those, the ones inside no gold span),
    ``over_redaction_rate`` (over-redacted / non-PHI characters of the input) and
    ``over_redacted_share`` (over-redacted / replaced).
    """

    def __init__(self) -> None:
        self.gold: Counter = Counter()
        self.residual: Counter = Counter()
        self.uncovered: Counter = Counter()
        self.anywhere: Counter = Counter()
        self.replaced = self.over = self.characters = self.phi_characters = 0
        self.notes = 0

    def add(self, text: str, gold: Sequence[Span], redaction: Redaction) -> list[bool]:
        """Count one note; returns, per gold span (sorted), whether it leaked (residual)."""
        self.notes += 1
        self.characters += len(text)
        gold_chars = bytearray(len(text))
        for g in gold:
            gold_chars[g.start:g.end] = b"\x01" * (g.end - g.start)
        self.phi_characters += sum(gold_chars)
        pred_chars = bytearray(len(text))
        for s in redaction.spans:
            pred_chars[s.start:s.end] = b"\x01" * (s.end - s.start)
            self.replaced += s.end - s.start
            self.over += (s.end - s.start) - sum(gold_chars[s.start:s.end])
        leaked = []
        out_text = redaction.text.casefold()
        for g in sorted(gold):
            self.gold[g.label] += 1
            self.uncovered[g.label] += (g.end - g.start) - sum(pred_chars[g.start:g.end])
            a, b = output_range(redaction, g.start, g.end)
            original = text[g.start:g.end].casefold()
            hit = original in redaction.text[a:b].casefold()
            self.anywhere[g.label] += original in out_text
            self.residual[g.label] += hit
            leaked.append(hit)
        return leaked

    def to_json(self) -> dict:
        """The report (class docstring); rates are None when their denominator is 0."""
        def rate(a, b):
            return round(a / b, 6) if b else None

        per = {lab: {"gold": n, "residual": self.residual[lab],
                     "residual_rate": rate(self.residual[lab], n),
                     "found_anywhere": self.anywhere[lab],
                     "uncovered_characters": self.uncovered[lab]}
               for lab, n in sorted(self.gold.items())}
        gold, res = sum(self.gold.values()), sum(self.residual.values())
        non_phi = self.characters - self.phi_characters
        return {"notes": self.notes, "gold_phi": gold, "residual": res,
                "residual_rate": rate(res, gold), "found_anywhere": sum(self.anywhere.values()),
                "uncovered_characters": sum(self.uncovered.values()),
                "characters": self.characters, "phi_characters": self.phi_characters,
                "replaced_characters": self.replaced, "over_redacted_characters": self.over,
                "over_redaction_rate": rate(self.over, non_phi),
                "over_redacted_share": rate(self.over, self.replaced), "per_type": per}
