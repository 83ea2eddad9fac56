"""Score predicted documents against gold documents: the official span measures
(:func:`clinical_ner.metrics.evaluate_spans`), seqeval strict IOB2, and counts.

Spans are scored as given (the official i2b2 2014 scorer's reading): training's dev selection,
``eval_ner.py``, the threshold sweep and the benchmark all score through :func:`score_documents`.
Nothing here reads files or writes note text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from clinical_ner.documents import Document, LoadReport
from clinical_ner.labels import spans_to_bio, split_words
from clinical_ner.metrics import evaluate_spans, seqeval_scores

#: Confidence level of every interval ``eval_ner.py`` reports.
CONFIDENCE = 0.95


def word_level_tags(gold: Document, pred: Document) -> tuple[list[str], list[str]]:
    """IOB2 tags of gold and predicted spans over the same words (split at every gold and
    predicted span boundary), for seqeval. Labels are the span labels.

    Raises ValueError naming the document when spans of one side overlap.
    """
    words = split_words(gold.text, gold.spans + pred.spans)
    tags = []
    for side, doc in (("gold", gold), ("predicted", pred)):
        try:
            tags.append(spans_to_bio(words, doc.spans))
        except ValueError as exc:
            raise ValueError(f"document {gold.id!r}: {side} spans overlap, seqeval needs "
                             f"non-overlapping spans: {exc}") from exc
    return tags[0], tags[1]


def seqeval_tags(gold_docs: Sequence[Document], pred_docs: Sequence[Document]
                 ) -> tuple[list[list[str]], list[list[str]]] | str:
    """The IOB2 tag sequences seqeval scores, for documents paired by position.

    When every document on both sides carries the tags of a CoNLL file as written
    (``meta["iob2_sentences"]``, the scoring reading of :mod:`data_scripts.conll`), those raw
    tags, one sequence per sentence: an orphan ``I-`` stays an error under strict IOB2. Otherwise
    tags over words built from the spans (:func:`word_level_tags`), one sequence per document.
    Returns a string saying why there is no seqeval score when some document's spans overlap
    (IOB2 holds one tag per word).
    """
    raw = [(g.meta.get("iob2_sentences"), p.meta.get("iob2_sentences"))
           for g, p in zip(gold_docs, pred_docs, strict=True)]
    if raw and all(g is not None and p is not None and [len(x) for x in g] ==
                   [len(x) for x in p] for g, p in raw):
        return [t for g, _ in raw for t in g], [t for _, p in raw for t in p]
    true_tags, pred_tags = [], []
    for g, p in zip(gold_docs, pred_docs, strict=True):
        try:
            t, q = word_level_tags(g, p)
        except ValueError as exc:
            return f"no seqeval score: {exc}"
        true_tags.append(t)
        pred_tags.append(q)
    return true_tags, pred_tags


def reading_summary(report: LoadReport) -> dict:
    """What a scoring run read from one side's files, for ``metrics.json`` and ``report.md``
    (counts only, no note text): ``reading`` (``as written`` or ``training data (repaired)``),
    ``tags_read`` (every tag in the files), ``spans_scored``, ``differ`` (``tags_read -
    spans_scored``: duplicates counted once, as the official scorer does, and, in the repaired
    reading, every repair) and ``problems`` (problem kind and action -> count: the warnings,
    e.g. ``text_mismatch (scored)``, and each difference)."""
    d = report.differences()
    return {"reading": "as written" if report.as_written else "training data (repaired)",
            "tags_read": d["tags_read"], "spans_scored": d["spans"],
            "differ": d["tags_read"] - d["spans"], "problems": d["by_problem"]}


def first_difference(a: str, b: str) -> int:
    """Index of the first character where ``a`` and ``b`` differ (``min(len)`` when one is a
    prefix of the other; ``len(a)`` when equal)."""
    return len(os.path.commonprefix([a, b]))


def where(doc: Document) -> str:
    """``document 'ID'`` with its file when known, for messages."""
    file = doc.meta.get("file") if doc.meta else None
    return f"document {doc.id!r}" + (f" (file {file})" if file else "")


def check_predictions(gold_docs: Sequence[Document], pred_docs: Sequence[Document]) -> list[str]:
    """Check that predictions belong to the gold documents and copy their text exactly.

    Returns the ids of gold documents without a prediction (they are scored as predicting
    nothing). Raises ValueError naming the document (and file) when a predicted document has no
    gold document, an id occurs twice on one side, or a predicted text differs from the gold text
    (with the first differing character offset): the official scorer asserts the same.
    """
    gold_by_id: dict[str, Document] = {}
    for g in gold_docs:
        if g.id in gold_by_id:
            raise ValueError(f"gold {where(g)} occurs twice (also {where(gold_by_id[g.id])})")
        gold_by_id[g.id] = g
    seen: dict[str, Document] = {}
    for p in pred_docs:
        if p.id in seen:
            raise ValueError(f"predicted {where(p)} occurs twice (also {where(seen[p.id])})")
        seen[p.id] = p
        g = gold_by_id.get(p.id)
        if g is None:
            raise ValueError(f"prediction for {where(p)} has no gold document")
        if g.text != p.text:
            i = first_difference(g.text, p.text)
            raise ValueError(
                f"predicted {where(p)}: text differs from the gold text at character offset {i} "
                f"(gold {len(g.text)} characters, predicted {len(p.text)}); predictions must copy "
                "the gold text exactly (the official i2b2 scorer asserts the same)")
    return [g.id for g in gold_docs if g.id not in seen]


def score_documents(gold_docs: Sequence[Document], pred_docs: Sequence[Document],
                    metric_scheme: str = "i2b2_2014", *, bootstrap: int = 0, seed: int = 12345,
                    hipaa_include_idnum: bool = False, seqeval_lenient: bool = False) -> dict:
    """All measures for one split: :func:`clinical_ner.metrics.evaluate_spans` (measures as top
    level keys, e.g. ``result["strict"]["micro"]["f1"]``), ``seqeval`` (strict IOB2, plus
    ``seqeval_lenient`` when asked) and ``documents``/``gold_spans``/``pred_spans`` counts.

    Spans are scored as given: overlapping spans on either side are all scored by the span
    measures (as the official scorer does); seqeval, which needs one tag per word, is then left
    out and ``seqeval_skipped`` says why (:func:`seqeval_tags`). A gold document without a
    prediction is scored as predicting nothing. Raises ValueError (see
    :func:`check_predictions`) when a predicted document id has no gold document or texts differ.
    """
    check_predictions(gold_docs, pred_docs)
    pred_by_id = {d.id: d for d in pred_docs}
    preds = [pred_by_id.get(g.id, Document(g.id, g.text)) for g in gold_docs]
    result = evaluate_spans(
        {g.id: g.spans for g in gold_docs}, {p.id: p.spans for p in preds},
        {g.id: g.text for g in gold_docs}, scheme=metric_scheme, bootstrap=bootstrap, seed=seed,
        hipaa_include_idnum=hipaa_include_idnum, confidence=CONFIDENCE)
    tags = seqeval_tags(gold_docs, preds)
    if isinstance(tags, str):
        result["seqeval_skipped"] = tags
    else:
        true_tags, pred_tags = tags
        result["seqeval"] = seqeval_scores(true_tags, pred_tags)
        if seqeval_lenient:
            result["seqeval_lenient"] = seqeval_scores(true_tags, pred_tags, lenient=True)
    result["documents"] = len(gold_docs)
    result["gold_spans"] = sum(len(g.spans) for g in gold_docs)
    result["pred_spans"] = sum(len(p.spans) for p in preds)
    return result
