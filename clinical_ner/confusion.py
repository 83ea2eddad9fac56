"""Type confusion of predicted against gold spans, for error analysis: counts, a matrix and a
PNG heat map (``eval_ner.py``'s error report, :mod:`clinical_ner.report`).

Predictions are matched to gold spans by overlap regardless of label
(:func:`clinical_ner.metrics.match_overlap` with ``use_label=False``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from clinical_ner.metrics import SpanMap, match_overlap, span_set

#: Column of :func:`confusion_counts` for gold spans no prediction overlaps.
MISSED = "O (missed)"
#: Row of :func:`confusion_counts` for predictions that overlap no gold span.
SPURIOUS = "O (spurious)"


def confusion_counts(gold: SpanMap, pred: SpanMap) -> Counter:
    """Type confusion counts: ``Counter{(gold_label | "O (spurious)", pred_label | "O (missed)")}``.

    Per document (union of ids; sets, duplicates collapse), predictions are matched to gold spans
    by overlap regardless of label, one-to-one, largest overlap first (:func:`match_overlap` with
    ``use_label=False``). A matched pair counts under (gold label, predicted label); an unmatched
    gold span under (gold label, :data:`MISSED`); an unmatched prediction under
    (:data:`SPURIOUS`, predicted label). Raises ``TypeError`` for non-Span items. Source: this
    project (error analysis), matching as in :func:`match_overlap`.
    """
    counts: Counter = Counter()
    for doc_id in sorted(set(gold) | set(pred)):
        m = match_overlap(
            span_set(gold.get(doc_id, ()), doc_id),
            span_set(pred.get(doc_id, ()), doc_id),
            use_label=False,
        )
        counts.update((g.label, p.label) for g, p in m.tp)
        counts.update((g.label, MISSED) for g in m.fn)
        counts.update((SPURIOUS, p.label) for p in m.fp)
    return counts


def confusion_matrix(
    counts: Mapping[tuple[str, str], int],
) -> tuple[list[str], list[str], np.ndarray]:
    """``(rows, columns, matrix)`` of :func:`confusion_counts` output.

    Rows are gold labels, columns predicted labels; both list every label seen on either side
    (sorted), then rows end with :data:`SPURIOUS` and columns with :data:`MISSED`. ``matrix`` is
    ``int64`` of shape ``(len(rows), len(columns))``.
    """
    labels = sorted(
        {g for g, _ in counts if g != SPURIOUS} | {p for _, p in counts if p != MISSED}
    )
    rows, cols = labels + [SPURIOUS], labels + [MISSED]
    r_index = {x: i for i, x in enumerate(rows)}
    c_index = {x: i for i, x in enumerate(cols)}
    matrix = np.zeros((len(rows), len(cols)), dtype=np.int64)
    for (g, p), c in counts.items():
        matrix[r_index[g], c_index[p]] += c
    return rows, cols, matrix


def plot_confusion(
    counts: Mapping[tuple[str, str], int], path: str | Path, *, title: str = "Type confusion"
) -> Path:
    """Write a PNG heat map of :func:`confusion_counts` output to ``path`` and return it.

    Rows are gold labels (plus the ``O (spurious)`` row), columns predicted labels (plus the
    ``O (missed)`` column), laid out by :func:`confusion_matrix`; every non-zero cell is
    annotated with its count. Uses matplotlib's Agg canvas directly (no global backend change,
    no display needed). Creates the parent folder. Raises ``OSError`` if the file cannot be
    written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows, cols, matrix = confusion_matrix(counts)
    size = max(4.0, 0.55 * len(cols) + 2.5)
    fig = Figure(figsize=(size, max(3.5, 0.5 * len(rows) + 2.0)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    peak = matrix.max() if matrix.size else 0
    for i in range(len(rows)):
        for j in range(len(cols)):
            if matrix[i, j]:
                color = "white" if matrix[i, j] > peak / 2 else "black"
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120)
    return path
