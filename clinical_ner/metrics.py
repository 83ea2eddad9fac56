"""Span-level evaluation: i2b2 2014 PHI measures, concept measures, bootstrap CIs and paired tests.

Everything here is a pure function over :class:`~clinical_ner.documents.Span` objects grouped by
document (``Mapping[str, Iterable[Span]]``: document id -> spans), in the style of seqeval/spaCy.
The building blocks, each small and separately tested:

* *matchers* (:func:`match_exact`, :func:`match_relaxed`, :func:`match_overlap`) turn the gold and
  predicted spans of ONE document into a :class:`DocMatch` (true-positive pairs, false positives,
  false negatives);
* :func:`document_matches` applies one named measure to every document;
* *summaries* (:func:`prf`, :func:`micro_scores`, :func:`macro_scores`, :func:`grouped_scores`,
  :func:`summarize`) turn per-document matches into numbers;
* *resampling* (:func:`count_matrix`, :func:`paired_test`) builds the per-document (tp, fp, fn)
  count matrix for :mod:`clinical_ner.significance` (bootstrap CIs, paired tests, numpy);
* the registry of measures: :data:`MEASURES`, :data:`I2B2_2014_MEASURES`,
  :data:`CONCEPT_MEASURES`, :data:`HEADLINE_MEASURES`, :data:`MEASURE_DESCRIPTIONS`.

Type confusion for error analysis is in :mod:`clinical_ner.confusion`.

:func:`evaluate_spans` puts them together. Measures follow the official i2b2 2014 PHI scorer
(kotfic/i2b2_evaluation_scripts v1.2.1 and master, as described in docs/formats.md §1.5) and the
i2b2 2010 / n2c2 2018 concept conventions (docs/formats.md §1.3 and §1.4); each docstring says
where this module deliberately differs from those scripts.

Labels are compared exactly as given (the official scorer upper-cases its keys; the loaders already
give the native upper-case names). ``category_of("NAME/DOCTOR") == "NAME"`` and
``type_of("NAME/DOCTOR") == "DOCTOR"``; a label without ``/`` is its own category and type.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from clinical_ner.documents import Span
from clinical_ner.significance import (
    bootstrap_f1_ci,
    check_confidence,
    check_paired_args,
    paired_difference,
)

SpanMap = Mapping[str, Iterable[Span]]

#: Tokens of the i2b2 2014 Token measure (punctuation and whitespace never count).
TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
#: Relaxed measure: largest allowed ``|end_gold - end_pred|`` (official scorer: 2, for ``'s``).
RELAXED_MAX_END_DIFF = 2

#: HIPAA subset of the official scorer: category -> allowed TYPEs (``None``: every TYPE).
HIPAA_TYPES: dict[str, frozenset[str] | None] = {
    "NAME": frozenset({"PATIENT"}),
    "LOCATION": frozenset({"CITY", "STREET", "ZIP", "ORGANIZATION"}),
    "DATE": None,
    "CONTACT": frozenset({"PHONE", "FAX", "EMAIL"}),
    "ID": frozenset(
        {"SSN", "MEDICALRECORD", "HEALTHPLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "BIOID"}
    ),
    "AGE": None,
}

#: Measures of scheme ``"i2b2_2014"`` (token measures need the document texts).
I2B2_2014_MEASURES = (
    "strict",
    "relaxed",
    "token",
    "hipaa_strict",
    "hipaa_relaxed",
    "hipaa_token",
    "binary_strict",
    "binary_token",
)
#: Measures of scheme ``"concepts"`` (``strict`` is an alias of ``exact``).
CONCEPT_MEASURES = ("exact", "inexact", "strict")
SCHEMES = ("i2b2_2014", "concepts")

_MATCHERS = ("exact", "relaxed", "overlap")
# measure -> (HIPAA filter?, token spans?, matcher, use labels?)
_MEASURES: dict[str, tuple[bool, bool, str, bool]] = {
    "strict": (False, False, "exact", True),
    "relaxed": (False, False, "relaxed", True),
    "token": (False, True, "exact", True),
    "hipaa_strict": (True, False, "exact", True),
    "hipaa_relaxed": (True, False, "relaxed", True),
    "hipaa_token": (True, True, "exact", True),
    "binary_strict": (False, False, "exact", False),
    "binary_token": (False, True, "exact", False),
    "exact": (False, False, "exact", True),
    "inexact": (False, False, "overlap", True),
}
#: Every measure name :func:`document_matches` and :func:`paired_test` accept, in report order.
MEASURES = tuple(_MEASURES)
#: One line per measure (model cards, reports).
MEASURE_DESCRIPTIONS: dict[str, str] = {
    "strict": "exact span boundaries and the same TYPE",
    "relaxed": "same TYPE and start, end within 2 characters",
    "token": "per alphanumeric token inside PHI spans, same TYPE",
    "hipaa_strict": "strict, HIPAA PHI types only",
    "hipaa_relaxed": "relaxed, HIPAA PHI types only",
    "hipaa_token": "token, HIPAA PHI types only",
    "binary_strict": "exact span boundaries, any PHI TYPE (PHI vs not PHI)",
    "binary_token": "per token, any PHI TYPE (PHI vs not PHI)",
    "exact": "exact span boundaries and the same label",
    "inexact": "overlapping span (one-to-one) and the same label",
}
#: Headline measures per scheme, in card order (``strict`` of ``concepts`` is a copy of exact).
HEADLINE_MEASURES: dict[str, tuple[str, ...]] = {
    "i2b2_2014": I2B2_2014_MEASURES,
    "concepts": CONCEPT_MEASURES[:2],
}


class DocMatch(NamedTuple):
    """One document's matching: ``tp`` (gold, pred) pairs, unmatched ``fp`` and ``fn``."""

    tp: list[tuple[Span, Span]]
    fp: list[Span]
    fn: list[Span]


# --------------------------------------------------------------------------------------- labels


def category_of(label: str) -> str:
    """The category of a label: ``"NAME/DOCTOR"`` -> ``"NAME"``; ``"problem"`` -> ``"problem"``."""
    return label.split("/")[0]


def type_of(label: str) -> str:
    """The TYPE of a label: ``"NAME/DOCTOR"`` -> ``"DOCTOR"``; ``"problem"`` -> ``"problem"``."""
    return label.split("/")[-1]


def is_hipaa(label: str, *, include_idnum: bool = False) -> bool:
    """Whether a ``"CATEGORY/TYPE"`` label is in the official scorer's HIPAA subset.

    The subset (:data:`HIPAA_TYPES`) is NAME/PATIENT; LOCATION/{CITY, STREET, ZIP, ORGANIZATION};
    DATE/*; CONTACT/{PHONE, FAX, EMAIL}; ID/{SSN, MEDICALRECORD, HEALTHPLAN, ACCOUNT, LICENSE,
    VEHICLE, DEVICE, BIOID}; AGE/* (every age, not only ages over 89). Comparison is
    case-insensitive, as the scorer upper-cases its keys.

    ID/IDNUM: the official script's pattern is ``"IDNUM "`` with a trailing space, so ID/IDNUM never
    enters its HIPAA subset. This function reproduces that by default; ``include_idnum=True``
    includes ID/IDNUM as the script evidently intended. Source: kotfic/i2b2_evaluation_scripts
    v1.2.1/master, as described in docs/formats.md §1.5. Never raises.
    """
    category, kind = category_of(label).upper(), type_of(label).upper()
    if category not in HIPAA_TYPES:
        return False
    allowed = HIPAA_TYPES[category]
    if allowed is None or kind in allowed:
        return True
    return include_idnum and category == "ID" and kind == "IDNUM"


# ------------------------------------------------------------------------------------- matchers


def span_set(spans: Iterable[Span], doc_id: str = "?") -> frozenset[Span]:
    """The spans of one document as a set; raises TypeError (naming ``doc_id``) for a non-Span."""
    out = frozenset(spans)
    for s in out:
        if not isinstance(s, Span):
            raise TypeError(f"document {doc_id!r}: expected Span objects, got {type(s).__name__}")
    return out


def token_spans(spans: Iterable[Span], text: str) -> set[Span]:
    """Split each span's text into ``[A-Za-z0-9]+`` tokens, each a Span with the span's label.

    Input: spans of one document and that document's ``text`` (offsets index into it). Output: a
    SET, so a token covered by two spans with the same label counts once; punctuation and
    whitespace never count. ``"Dr. John Smith-Jones"`` gives the tokens Dr, John, Smith, Jones.
    Raises ``ValueError`` when a span ends past the text. Source: the Token measure of
    kotfic/i2b2_evaluation_scripts v1.2.1/master (docs/formats.md §1.5).
    """
    out: set[Span] = set()
    for s in spans:
        if s.end > len(text):
            raise ValueError(
                f"span [{s.start}, {s.end}) {s.label!r} ends past the text ({len(text)} characters)"
            )
        for m in TOKEN_RE.finditer(text, s.start, s.end):
            out.add(Span(m.start(), m.end(), s.label))
    return out


def match_exact(
    gold: Iterable[Span], pred: Iterable[Span], *, use_label: bool = True
) -> DocMatch:
    """Exact matching of one document as SETS (duplicates collapse, as the official scorer does).

    Key ``(label, start, end)``; with ``use_label=False`` the key is ``(start, end)`` (the master
    branch's "binary" measures): spans with equal offsets and different labels collapse into one,
    represented by the one whose label sorts first. Output lists are sorted. Raises ``TypeError``
    for non-Span items. Source: Strict measure of kotfic/i2b2_evaluation_scripts v1.2.1/master
    (docs/formats.md §1.5); also the i2b2 2010 / n2c2 2018 exact match (docs/formats.md §1.3, §1.4).
    """
    g_set, p_set = span_set(gold), span_set(pred)
    if use_label:
        tp = sorted(g_set & p_set)
        return DocMatch([(s, s) for s in tp], sorted(p_set - g_set), sorted(g_set - p_set))
    g_by: dict[tuple[int, int], Span] = {}
    for s in sorted(g_set):
        g_by.setdefault((s.start, s.end), s)
    p_by: dict[tuple[int, int], Span] = {}
    for s in sorted(p_set):
        p_by.setdefault((s.start, s.end), s)
    return DocMatch(
        [(g_by[k], p_by[k]) for k in sorted(g_by.keys() & p_by.keys())],
        sorted(p_by[k] for k in p_by.keys() - g_by.keys()),
        sorted(g_by[k] for k in g_by.keys() - p_by.keys()),
    )


def _greedy(
    gold: Sequence[Span], pred: Sequence[Span], candidates: list[tuple[tuple, int, int]]
) -> DocMatch:
    """Take (sort key, gold index, pred index) candidates best first, each side at most once."""
    used_g: set[int] = set()
    used_p: set[int] = set()
    tp: list[tuple[Span, Span]] = []
    for _, gi, pi in sorted(candidates):
        if gi in used_g or pi in used_p:
            continue
        used_g.add(gi)
        used_p.add(pi)
        tp.append((gold[gi], pred[pi]))
    fp = [p for i, p in enumerate(pred) if i not in used_p]
    fn = [g for i, g in enumerate(gold) if i not in used_g]
    return DocMatch(sorted(tp), fp, fn)


def match_relaxed(
    gold: Iterable[Span], pred: Iterable[Span], *, max_end_diff: int = RELAXED_MAX_END_DIFF
) -> DocMatch:
    """Relaxed matching of one document: same label and start, ``|end_g - end_p| <= max_end_diff``.

    Inputs are collapsed to sets first. Matching is one-to-one and greedy: candidate pairs are
    taken in order of end difference (exact end first), then gold end, then predicted end; each
    gold and each prediction is used at most once. Greedy is not always maximum-cardinality (gold
    ends {10, 12}, predicted {12, 14}: the exact pair 12-12 wins and 1 pair is found, not 2).

    Difference from the official script (kotfic/i2b2_evaluation_scripts v1.2.1/master,
    docs/formats.md §1.5): it switches the tag class's ``__eq__``/``__hash__`` to a fuzzy mode
    and intersects sets, which is not one-to-one (one gold may absorb two predictions); here each
    is used once. Raises ``TypeError`` for non-Span items.
    """
    g_list, p_list = sorted(span_set(gold)), sorted(span_set(pred))
    by_key: dict[tuple[str, int], list[int]] = {}
    for pi, p in enumerate(p_list):
        by_key.setdefault((p.label, p.start), []).append(pi)
    candidates = []
    for gi, g in enumerate(g_list):
        for pi in by_key.get((g.label, g.start), ()):
            diff = abs(g.end - p_list[pi].end)
            if diff <= max_end_diff:
                candidates.append(((diff, g.end, p_list[pi].end), gi, pi))
    return _greedy(g_list, p_list, candidates)


def match_overlap(
    gold: Iterable[Span], pred: Iterable[Span], *, use_label: bool = True
) -> DocMatch:
    """One-to-one overlap matching of one document (the i2b2 2010 / n2c2 2018 inexact match).

    Inputs are collapsed to sets. A candidate pair shares at least one character (and the label,
    unless ``use_label=False``). Pairs are taken greedily: largest overlap in characters first,
    then smallest ``|start_g - start_p| + |end_g - end_p|``, then span order; each gold and each
    prediction is used at most once, so extra predictions overlapping an already matched gold span
    are false positives. NOTE: the n2c2 2018 script (``Track2-evaluate-ver4.py``,
    docs/formats.md §1.4) silently drops such extra system spans instead of counting them as FP;
    that quirk is NOT reproduced. Raises ``TypeError`` for non-Span items.
    """
    g_list, p_list = sorted(span_set(gold)), sorted(span_set(pred))
    candidates = []
    for gi, g in enumerate(g_list):
        for pi, p in enumerate(p_list):
            if p.start >= g.end:
                break
            if not g.overlaps(p) or (use_label and g.label != p.label):
                continue
            overlap = min(g.end, p.end) - max(g.start, p.start)
            distance = abs(g.start - p.start) + abs(g.end - p.end)
            candidates.append(((-overlap, distance, gi, pi), gi, pi))
    return _greedy(g_list, p_list, candidates)


def document_matches(
    gold: SpanMap,
    pred: SpanMap,
    texts: Mapping[str, str] | None = None,
    *,
    measure: str = "strict",
    hipaa_include_idnum: bool = False,
) -> dict[str, DocMatch]:
    """Apply one measure to every document: ``{doc_id: DocMatch}`` over the union of the ids.

    Inputs: ``gold`` and ``pred`` map document id -> spans; a document missing on one side is an
    empty set there (the official scorer instead scores only files present on both sides).
    ``measure`` is one of :data:`MEASURES`: ``strict``/``exact`` (:func:`match_exact`),
    ``relaxed`` (:func:`match_relaxed`), ``token`` (:func:`token_spans` then exact), ``hipaa_*``
    (both sides restricted by :func:`is_hipaa` with ``include_idnum=hipaa_include_idnum`` first),
    ``binary_strict``/``binary_token`` (exact without labels), ``inexact``
    (:func:`match_overlap`). Token measures need ``texts`` (doc id -> text) for every document.

    Raises ``ValueError`` for an unknown measure, missing ``texts`` or a span past its text;
    ``TypeError`` for non-Span items. Source: kotfic/i2b2_evaluation_scripts v1.2.1/master
    (docs/formats.md §1.5) and docs/formats.md §1.3-§1.4 for ``exact``/``inexact``.
    """
    if measure not in _MEASURES:
        raise ValueError(f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}")
    hipaa, tokens, matcher, use_label = _MEASURES[measure]
    if tokens and texts is None:
        raise ValueError(f"measure {measure!r} needs the document texts (texts=...)")
    out: dict[str, DocMatch] = {}
    for doc_id in sorted(set(gold) | set(pred)):
        g = span_set(gold.get(doc_id, ()), doc_id)
        p = span_set(pred.get(doc_id, ()), doc_id)
        if hipaa:
            g = frozenset(s for s in g if is_hipaa(s.label, include_idnum=hipaa_include_idnum))
            p = frozenset(s for s in p if is_hipaa(s.label, include_idnum=hipaa_include_idnum))
        if tokens:
            assert texts is not None
            if doc_id not in texts:
                raise ValueError(f"measure {measure!r}: no text for document {doc_id!r}")
            try:
                g = frozenset(token_spans(g, texts[doc_id]))
                p = frozenset(token_spans(p, texts[doc_id]))
            except ValueError as exc:
                raise ValueError(f"document {doc_id!r}: {exc}") from exc
        if matcher == "exact":
            out[doc_id] = match_exact(g, p, use_label=use_label)
        elif matcher == "relaxed":
            out[doc_id] = match_relaxed(g, p)
        else:
            out[doc_id] = match_overlap(g, p, use_label=use_label)
    return out


# ------------------------------------------------------------------------------------ summaries


def _div(num: float, den: float) -> float:
    return float(num) / den if den else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def prf(tp: int, fp: int, fn: int) -> dict:
    """``{precision, recall, f1, tp, fp, fn}`` from counts; every division by zero gives 0.

    F1 is the harmonic mean of P and R (``F_beta`` of the official scorer). Never raises for
    non-negative counts. Source: kotfic/i2b2_evaluation_scripts ``Evaluate`` (docs/formats.md §1.5).
    """
    p, r = _div(tp, tp + fp), _div(tp, tp + fn)
    return {"precision": p, "recall": r, "f1": _f1(p, r), "tp": tp, "fp": fp, "fn": fn}


def micro_scores(matches: Iterable[DocMatch]) -> dict:
    """Micro ("Micro (Primary)") scores: TP, FP, FN pooled over documents, then :func:`prf`.

    Input: per-document :class:`DocMatch` objects (any number, possibly none: all zeros).
    Source: kotfic/i2b2_evaluation_scripts v1.2.1/master (docs/formats.md §1.5).
    """
    tp = fp = fn = 0
    for m in matches:
        tp, fp, fn = tp + len(m.tp), fp + len(m.fp), fn + len(m.fn)
    return prf(tp, fp, fn)


def macro_scores(matches: Iterable[DocMatch], *, skip_empty: bool = False) -> dict:
    """Macro scores: mean and population SD (ddof=0) of per-document precision and recall.

    Per document, 0/0 gives 0 (so an empty document, or one without predictions, scores P=0 and
    R=0 and still counts). Macro F1 is the harmonic mean of macro P and macro R, NOT the mean of
    per-document F1 (that mean is given separately as ``f1_doc_mean``). Returns ``{precision,
    recall, f1, precision_sd, recall_sd, f1_doc_mean, documents}``; all zeros with no documents.
    Source: ``macro_precision``/``macro_recall`` of kotfic/i2b2_evaluation_scripts v1.2.1/master
    (docs/formats.md §1.5).

    ``skip_empty=True`` (NOT the official definition; reported as ``macro_nonempty`` by
    :func:`summarize`) leaves out documents with no gold and no predicted key (tp = fp = fn = 0),
    so a perfect system scores 1.0 on a corpus where many notes hold no PHI; ``documents`` then
    counts only the documents kept.
    """
    ps, rs, fs = [], [], []
    for m in matches:
        tp, fp, fn = len(m.tp), len(m.fp), len(m.fn)
        if skip_empty and tp + fp + fn == 0:
            continue
        ps.append(_div(tp, tp + fp))
        rs.append(_div(tp, tp + fn))
        fs.append(_f1(ps[-1], rs[-1]))
    if not ps:
        return {
            "precision": 0.0, "recall": 0.0, "f1": 0.0, "precision_sd": 0.0, "recall_sd": 0.0,
            "f1_doc_mean": 0.0, "documents": 0,
        }
    p, r = float(np.mean(ps)), float(np.mean(rs))
    return {
        "precision": p,
        "recall": r,
        "f1": _f1(p, r),
        "precision_sd": float(np.std(ps)),
        "recall_sd": float(np.std(rs)),
        "f1_doc_mean": float(np.mean(fs)),
        "documents": len(ps),
    }


def grouped_scores(matches: Iterable[DocMatch], key: Callable[[str], str] = type_of) -> dict:
    """Micro scores per group of labels: ``{group: {precision, recall, f1, tp, fp, fn, support}}``.

    ``key`` maps a label to its group (:func:`type_of` for per-TYPE, :func:`category_of` for
    per-category). A TP and an FN count under the gold label's group, an FP under the predicted
    label's; ``support`` is the gold count (tp + fn). Groups are sorted. Source: the per-category
    tables of kotfic/i2b2_evaluation_scripts master (docs/formats.md §1.5), seqeval-style per type.
    """
    counts: dict[str, list[int]] = {}
    for m in matches:
        for g, _ in m.tp:
            counts.setdefault(key(g.label), [0, 0, 0])[0] += 1
        for p in m.fp:
            counts.setdefault(key(p.label), [0, 0, 0])[1] += 1
        for g in m.fn:
            counts.setdefault(key(g.label), [0, 0, 0])[2] += 1
    out = {}
    for group in sorted(counts):
        tp, fp, fn = counts[group]
        out[group] = {**prf(tp, fp, fn), "support": tp + fn}
    return out


def summarize(matches: Mapping[str, DocMatch], *, labelled: bool = True) -> dict:
    """``{"micro", "macro", "macro_nonempty", "per_type", "per_category"}`` for one measure's
    per-document matches.

    ``macro`` is the official definition (every document counts; 0/0 gives 0);
    ``macro_nonempty`` is the same over documents with at least one gold or predicted key
    (:func:`macro_scores` with ``skip_empty=True``; not an official measure).
    ``labelled=False`` (binary measures, whose keys carry no label) leaves ``per_type`` and
    ``per_category`` empty. Sources as in :func:`micro_scores`, :func:`macro_scores`,
    :func:`grouped_scores`.
    """
    docs = list(matches.values())
    return {
        "micro": micro_scores(docs),
        "macro": macro_scores(docs),
        "macro_nonempty": macro_scores(docs, skip_empty=True),
        "per_type": grouped_scores(docs, type_of) if labelled else {},
        "per_category": grouped_scores(docs, category_of) if labelled else {},
    }


# ----------------------------------------------------------------------------------- resampling


def count_matrix(matches: Mapping[str, DocMatch]) -> np.ndarray:
    """Per-document counts as an ``int64`` array of shape ``(documents, 3)``: tp, fp, fn.

    Rows follow the mapping's order (sorted ids from :func:`document_matches`).
    """
    rows = [(len(m.tp), len(m.fp), len(m.fn)) for m in matches.values()]
    return np.array(rows, dtype=np.int64).reshape(len(rows), 3)


def paired_test(
    gold: SpanMap,
    pred_a: SpanMap,
    pred_b: SpanMap,
    texts: Mapping[str, str] | None = None,
    *,
    measure: str = "strict",
    n: int = 1000,
    seed: int = 12345,
    method: str = "bootstrap",
    confidence: float = 0.95,
    hipaa_include_idnum: bool = False,
) -> dict:
    """Paired significance test of the micro-F1 difference (system B minus system A).

    Inputs as :func:`evaluate_spans`; documents are the union of the ids of ``gold``, ``pred_a`` and
    ``pred_b`` (a missing side is empty); ``measure`` is any of :data:`MEASURES`.

    * ``method="bootstrap"`` (paired bootstrap over documents, Koehn 2004 / Berg-Kirkpatrick 2012
      style): both systems are rescored on the same ``n`` resamples. Two-sided
      ``p = min(1, 2 * min(P(d* <= 0), P(d* >= 0)))`` over the resampled differences ``d*``: twice
      the fraction of resamples where the difference does not keep its sign. Identical systems
      give ``d* = 0`` everywhere and ``p = 1.0``.
    * ``method="randomization"`` (approximate randomization, Noreen 1989 / Yeh 2000): in each of
      ``n`` trials every document's (tp, fp, fn) counts are swapped between the systems with
      probability 0.5; ``p = (#{|d_perm| >= |d_obs|} + 1) / (n + 1)`` (a 1e-12 tolerance absorbs
      floating-point ties). Identical systems give ``p = 1.0``.

    ``difference_ci`` is always the paired-bootstrap percentile interval. Both use
    ``numpy.random.default_rng(seed)`` and are reproducible. Returns ``{measure, method, n,
    documents, f1_a, f1_b, difference, difference_ci, p_value, confidence}``. Raises
    ``ValueError`` for an unknown method or measure, ``n < 1``, a bad ``confidence`` or no
    documents.
    """
    check_paired_args(method, n, confidence)
    ids = sorted(set(gold) | set(pred_a) | set(pred_b))
    if not ids:
        raise ValueError("paired_test needs at least one document")
    full_gold = {d: gold.get(d, ()) for d in ids}
    kw = {"measure": measure, "hipaa_include_idnum": hipaa_include_idnum}
    a = count_matrix(document_matches(full_gold, {d: pred_a.get(d, ()) for d in ids}, texts, **kw))
    b = count_matrix(document_matches(full_gold, {d: pred_b.get(d, ()) for d in ids}, texts, **kw))
    test = paired_difference(a, b, n=n, seed=seed, method=method, confidence=confidence)
    return {
        "measure": measure,
        "method": method,
        "n": n,
        "documents": len(ids),
        "f1_a": test["f1_a"],
        "f1_b": test["f1_b"],
        "difference": test["difference"],
        "difference_ci": test["difference_ci"],
        "p_value": test["p_value"],
        "confidence": confidence,
    }


# ---------------------------------------------------------------------------------- entry point


def evaluate_spans(
    gold: SpanMap,
    pred: SpanMap,
    texts: Mapping[str, str] | None = None,
    *,
    scheme: str = "i2b2_2014",
    hipaa_include_idnum: bool = False,
    bootstrap: int = 0,
    seed: int = 12345,
    confidence: float = 0.95,
) -> dict:
    """Score predicted spans against gold:
    ``{measure: {micro, macro, macro_nonempty, per_type, per_category}}``.

    Inputs: ``gold``/``pred`` map document id -> spans; ``texts`` maps document id -> text (only
    needed for token measures). Documents are the union of gold and pred ids; a missing side is
    an empty set, and every document counts for macro averages.

    * ``scheme="i2b2_2014"``: strict, relaxed, hipaa_strict, hipaa_relaxed, binary_strict and,
      when ``texts`` is given, token, hipaa_token, binary_token. ID/IDNUM is outside the HIPAA
      subset by default, exactly as the official script (its ``"IDNUM "`` pattern has a trailing
      space); ``hipaa_include_idnum=True`` includes it. Binary measures have empty per_type and
      per_category. Source: kotfic/i2b2_evaluation_scripts v1.2.1/master, as described in
      docs/formats.md §1.5, apart from the one-to-one relaxed matching (:func:`match_relaxed`)
      and the union of document ids.
    * ``scheme="concepts"`` (i2b2 2010 / n2c2 2018, docs/formats.md §1.3-§1.4): exact, inexact
      (one-to-one greedy overlap, :func:`match_overlap`; the n2c2 2018 quirk of ignoring extra
      overlapping system spans is NOT reproduced, they count as FP), and strict (a copy of exact,
      so ``result["strict"]["micro"]["f1"]`` works for every scheme). Macro uses the i2b2 2014
      definition; ``macro.f1_doc_mean`` is the n2c2-style mean of per-document F1.

    Every measure also has ``macro_nonempty`` (macro over documents with at least one gold or
    predicted key; not official, see :func:`summarize`).

    ``micro`` has precision, recall, f1, tp, fp, fn; with ``bootstrap > 0`` also ``f1_ci = [low,
    high]`` (:func:`bootstrap_f1_ci` with ``bootstrap`` resamples, ``seed``, ``confidence``).
    Raises ``ValueError`` for an unknown scheme, ``bootstrap < 0``, a bad ``confidence``, a span
    past its text or a document without text for token measures; ``TypeError`` for non-Span items.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0, got {bootstrap}")
    check_confidence(confidence)
    if scheme == "i2b2_2014":
        names = [m for m in I2B2_2014_MEASURES if texts is not None or "token" not in m]
    else:
        names = ["exact", "inexact"]
    result: dict[str, dict] = {}
    for name in names:
        matches = document_matches(
            gold, pred, texts, measure=name, hipaa_include_idnum=hipaa_include_idnum
        )
        summary = summarize(matches, labelled=_MEASURES[name][3])
        if bootstrap:
            summary["micro"]["f1_ci"] = bootstrap_f1_ci(
                count_matrix(matches), n=bootstrap, seed=seed, confidence=confidence
            )
        result[name] = summary
    if scheme == "concepts":
        result["strict"] = copy.deepcopy(result["exact"])
    return result


def flatten_metrics(result: Mapping, prefix: str = "") -> dict[str, float | list]:
    """Flatten nested results into dotted keys, e.g. ``"strict.micro.f1"``,
    ``"strict.per_type.DOCTOR.f1"``, ``"strict.micro.f1_ci"`` (for loggers).

    Numbers (including numpy scalars and ints) become ``float``; lists/tuples become lists of
    floats where every item is a number, else plain lists; strings, ``None`` and booleans are
    dropped. Keys are joined with ``"."`` unescaped. Never raises for JSON-like input.
    """
    out: dict[str, float | list] = {}
    for key, value in result.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten_metrics(value, name))
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, (int, float, np.integer, np.floating)):
            out[name] = float(value)
        elif isinstance(value, (list, tuple, np.ndarray)):
            items = list(value)
            numeric = all(
                isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                for v in items
            )
            out[name] = [float(v) for v in items] if numeric else items
    return out


# ------------------------------------------------------------------------------------ sequences


def seqeval_scores(
    true_tags: list[list[str]], pred_tags: list[list[str]], *, lenient: bool = False
) -> dict:
    """Entity scores of BIO tag sequences with seqeval, summarised.

    Inputs: two lists of sentences, each a list of tags (``"B-X"``, ``"I-X"``, ``"O"``), of equal
    shape. Default: seqeval ``classification_report(..., mode="strict", scheme=IOB2,
    output_dict=True, zero_division=0)``, where an ``I-`` without a preceding ``B-`` starts no
    entity. ``lenient=True`` uses seqeval's default mode (conlleval-like: such an ``I-`` starts an
    entity). Returns ``{"micro": {precision, recall, f1, support}, "macro": {...}, "per_type":
    {type: {precision, recall, f1, support}}, "mode": "strict IOB2" | "lenient (conlleval,
    default seqeval)"}``. Raises ``ValueError`` on differing lengths (seqeval raises for invalid
    tags in strict mode). Source: seqeval 1.2 (chakki-works/seqeval).
    """
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} gold sentences but {len(pred_tags)} predicted")
    for i, (t, p) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: {len(t)} gold tags but {len(p)} predicted")
    import warnings

    with warnings.catch_warnings():
        # no entity type on either side: numpy warns on the mean of no types (macro is NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        if lenient:
            report = classification_report(true_tags, pred_tags, output_dict=True,
                                           zero_division=0)
            mode = "lenient (conlleval, default seqeval)"
        else:
            report = classification_report(
                true_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True,
                zero_division=0
            )
            mode = "strict IOB2"

    def score(x) -> float:
        x = float(x)
        return 0.0 if x != x else x  # NaN (no entity types at all) -> 0, as division by zero

    def row(r: Mapping) -> dict:
        return {
            "precision": score(r["precision"]),
            "recall": score(r["recall"]),
            "f1": score(r["f1-score"]),
            "support": int(r["support"]),
        }

    averages = ("micro avg", "macro avg", "weighted avg")
    empty = {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0}
    return {
        "micro": row(report.get("micro avg", empty)),
        "macro": row(report.get("macro avg", empty)),
        "per_type": {k: row(v) for k, v in sorted(report.items()) if k not in averages},
        "mode": mode,
    }
