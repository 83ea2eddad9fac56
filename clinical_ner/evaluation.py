"""Score predicted documents against gold documents: official span measures, seqeval strict,
and per-type support counts. Writes nothing that contains note text.
"""

from __future__ import annotations

from typing import Sequence

from clinical_ner.documents import Document
from clinical_ner.labels import spans_to_bio, split_words


def word_level_tags(gold: Document, pred: Document) -> tuple[list[str], list[str]]:
    """IOB2 tags of gold and predicted spans over the same words (split at every gold and
    predicted span boundary), for seqeval. Labels are the span labels."""
    words = split_words(gold.text, gold.spans + pred.spans)
    return spans_to_bio(words, gold.spans), spans_to_bio(words, pred.spans)


def score_documents(gold_docs: Sequence[Document], pred_docs: Sequence[Document],
                    metric_scheme: str = "i2b2_2014", *, bootstrap: int = 0, seed: int = 12345,
                    hipaa_include_idnum: bool = False, seqeval_lenient: bool = False) -> dict:
    """All measures for one split: :func:`clinical_ner.metrics.evaluate_spans` (measures as top
    level keys, e.g. ``result["strict"]["micro"]["f1"]``), ``seqeval`` (strict IOB2, plus
    ``seqeval_lenient`` when asked) and ``documents``/``gold_spans``/``pred_spans`` counts.

    Raises ValueError when a predicted document id has no gold document or texts differ.
    """
    from clinical_ner.metrics import evaluate_spans, seqeval_scores

    gold_by_id = {d.id: d for d in gold_docs}
    for p in pred_docs:
        g = gold_by_id.get(p.id)
        if g is None:
            raise ValueError(f"prediction for document {p.id!r} has no gold document")
        if g.text != p.text:
            raise ValueError(f"document {p.id!r}: predicted text differs from the gold text")
    pred_by_id = {d.id: d for d in pred_docs}
    preds = [pred_by_id.get(g.id, Document(g.id, g.text)) for g in gold_docs]
    result = evaluate_spans(
        {g.id: g.spans for g in gold_docs}, {p.id: p.spans for p in preds},
        {g.id: g.text for g in gold_docs}, scheme=metric_scheme, bootstrap=bootstrap, seed=seed,
        hipaa_include_idnum=hipaa_include_idnum)
    pairs = [word_level_tags(g, p) for g, p in zip(gold_docs, preds)]
    true_tags, pred_tags = [t for t, _ in pairs], [p for _, p in pairs]
    result["seqeval"] = seqeval_scores(true_tags, pred_tags)
    if seqeval_lenient:
        result["seqeval_lenient"] = seqeval_scores(true_tags, pred_tags, lenient=True)
    result["documents"] = len(gold_docs)
    result["gold_spans"] = sum(len(g.spans) for g in gold_docs)
    result["pred_spans"] = sum(len(p.spans) for p in preds)
    return result
