"""Recall-first operating points: score one split at several ``P(O)`` thresholds
(``eval_ner.py --model RUN --thresholds 0.5,0.7,0.9,0.97,0.99``).

At threshold ``t`` a token is PHI unless the model's probability of ``O`` is at least ``t``
(:func:`clinical_ner.inference.class_thresholds`); a higher ``t`` labels more tokens, trading
precision for recall. :func:`threshold_sweep` predicts the split once per threshold with the
run's windows and scores each with :func:`clinical_ner.scoring.score_documents`;
:func:`write_threshold_outputs` writes ``thresholds.json`` and ``thresholds.png`` (counts and
scores only). Choose the setting on dev, then use it with ``predict_ner.py --threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from clinical_ner.files import write_json_atomic
from clinical_ner.inference import predict_corpus
from clinical_ner.scoring import score_documents

#: The measures reported per threshold, by metric scheme.
SWEEP_MEASURES = {"i2b2_2014": ("strict", "binary_token"), "concepts": ("exact", "inexact")}


def parse_thresholds(text: str) -> list[float]:
    """``"0.5,0.7,0.9"`` -> ``[0.5, 0.7, 0.9]`` (sorted, unique). Raises ValueError naming the
    item for a value that is not a number in (0, 1]."""
    out = set()
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"--thresholds: {item!r} is not a number") from None
        if not 0 < value <= 1:
            raise ValueError(f"--thresholds: {value} is not in (0, 1]")
        out.add(value)
    if not out:
        raise ValueError("--thresholds: give probabilities such as 0.5,0.7,0.9")
    return sorted(out)


def _row(threshold, metrics: dict, measures: Sequence[str]) -> dict:
    row = {"threshold": threshold, "pred_spans": metrics["pred_spans"]}
    for m in measures:
        mi = metrics[m]["micro"]
        row[m] = {k: mi[k] for k in ("precision", "recall", "f1")}
    return row


def threshold_sweep(model, tokenizer, gold, task, thresholds: Sequence[float], *,
                    scheme: str, baseline: dict | None = None, **predict_kwargs) -> dict:
    """Score ``gold`` (documents) at each threshold.

    ``predict_kwargs`` go to :func:`clinical_ner.inference.predict_corpus` (the run's
    ``max_seq_length``, ``doc_stride``, ``batch_size``, central ``window_merge``); ``baseline``:
    the arg-max metrics already computed (its row has ``threshold`` None). Returns
    ``{"measures", "gold_spans", "rows": [{"threshold", "pred_spans", <measure>: {"precision",
    "recall", "f1"}}]}``. Raises ValueError for ``window_merge="longest"`` (arg-max only).
    """
    if predict_kwargs.get("window_merge", "central") != "central":
        raise ValueError("--thresholds needs --window_merge central")
    measures = SWEEP_MEASURES.get(scheme, SWEEP_MEASURES["concepts"])
    rows = [_row(None, baseline, measures)] if baseline else []
    for t in thresholds:
        preds = predict_corpus(model, tokenizer, gold, task, threshold=t, **predict_kwargs)
        rows.append(_row(t, score_documents(gold, preds, scheme), measures))
    return {"measures": list(measures), "gold_spans": sum(len(d.spans) for d in gold),
            "rows": rows}


def write_threshold_outputs(out_dir: str | Path, sweep: dict) -> list[Path]:
    """Write ``thresholds.json`` (the sweep) and ``thresholds.png`` (precision and recall of
    each measure against the threshold; the arg-max row as dotted lines) into ``out_dir``.
    Returns the paths."""
    import matplotlib  # here, not at the top: it is slow to import and only the plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    paths = [write_json_atomic(out / "thresholds.json", sweep)]
    rows = [r for r in sweep["rows"] if r["threshold"] is not None]
    base = next((r for r in sweep["rows"] if r["threshold"] is None), None)
    fig, axes = plt.subplots(1, len(sweep["measures"]), figsize=(5 * len(sweep["measures"]), 4),
                             squeeze=False)
    for ax, m in zip(axes[0], sweep["measures"]):
        xs = [r["threshold"] for r in rows]
        for key, color in (("precision", "tab:blue"), ("recall", "tab:red")):
            ax.plot(xs, [r[m][key] for r in rows], marker="o", color=color, label=key)
            if base:
                ax.axhline(base[m][key], color=color, linestyle=":",
                           label=f"{key} (arg-max)")
        ax.set_title(f"{m} (micro)")
        ax.set_xlabel("threshold: a token is PHI unless P(O) >= t")
        values = [r[m][k] for r in rows + ([base] if base else []) for k in ("precision",
                                                                             "recall")]
        ax.set_ylim(max(0.0, min(values, default=0.0) - 0.05), 1.005)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    png = out / "thresholds.png"
    tmp = png.with_name(".thresholds.png.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(png)
    paths.append(png)
    return paths
