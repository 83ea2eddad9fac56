"""PNG plots of the benchmark results (matplotlib's object-oriented API: no pyplot, no
backend to choose)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from clinical_ner.tables import is_number


def _labels(rows: list[dict]) -> list[str]:
    several = len({r["task"] for r in rows}) > 1
    return [r["model"] + (f"/{r['task']}" if several else "") for r in rows]


def _f1_vs_time(ax, pairs: list[tuple[str, dict]], documents) -> None:
    for lab, r in pairs:
        x, y = r["infer_seconds_median"], r["f1"]
        ci = r.get("f1_ci")
        yerr = [[y - ci[0]], [ci[1] - y]] if ci else None
        ax.errorbar([x], [y], yerr=yerr, fmt="o", capsize=4)
        ax.annotate(lab, (x, y), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel(f"inference seconds per pass ({documents} notes)")
    ax.set_ylabel("strict micro F1 (95% bootstrap CI)")
    ax.set_ylim(0, 1)
    ax.set_xlim(left=0, right=max(r["infer_seconds_median"] for _, r in pairs) * 1.25)
    ax.set_title("F1 against inference time")


def _inference_bars(ax, labels: list[str], rows: list[dict]) -> None:
    xs = [r.get("infer_seconds_median") or 0 for r in rows]
    ax.bar(labels, xs, color="tab:blue")
    for i, x in enumerate(xs):
        ax.annotate(f"{x:.2f}s", (i, x), ha="center", va="bottom")
    docs = rows[0].get("documents") if rows else "?"
    ax.set_ylabel(f"seconds per pass ({docs} notes, median)")
    ax.set_title("Inference time (architecture-only: no F1)")


def _disk_bars(ax, labels: list[str], rows: list[dict]) -> None:
    x = np.arange(len(rows))
    w32 = [r.get("disk_mb_fp32") or 0 for r in rows]
    w16 = [r.get("disk_mb_fp16") or 0 for r in rows]
    for off, ws, lab in ((-0.2, w32, "fp32"), (0.2, w16, "fp16")):
        bars = ax.bar(x + off, ws, 0.4, label=lab)
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(x, labels)
    ax.set_ylabel("safetensors MB (10^6 bytes)")
    ax.set_title("Disk size per model")
    ax.legend()


def _save(fig: Figure, path: Path, dpi: int) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)


def plot_results(results: dict, out_dir: Path) -> list[str]:
    """PNG plots into ``out_dir``: ``f1_vs_inference_time.png`` (strict F1 against seconds per
    pass; in architecture-only mode, with no F1, ``inference_time.png``: seconds per pass per
    model) and ``disk_size.png`` (fp32 and fp16 MB per model). Returns the file names."""
    rows = [r for r in results["rows"] if not r.get("error")]
    labels = _labels(rows)
    with_f1 = [(lab, r) for lab, r in zip(labels, rows, strict=True)
               if is_number(r.get("f1")) and is_number(r.get("infer_seconds_median"))]
    fig = Figure(figsize=(6, 4))
    if with_f1:
        _f1_vs_time(fig.subplots(), with_f1, rows[0].get("documents"))
        name = "f1_vs_inference_time.png"
    else:
        _inference_bars(fig.subplots(), labels, rows)
        name = "inference_time.png"
    _save(fig, Path(out_dir) / name, 110)
    fig = Figure(figsize=(6, 4))
    _disk_bars(fig.subplots(), labels, rows)
    _save(fig, Path(out_dir) / "disk_size.png", 110)
    return [name, "disk_size.png"]


def plot_backends(result: dict, path: str | Path) -> Path:
    """Bar chart of note tokens/s per backend setting (``backends.json`` dict) into ``path``
    (PNG); returns the path."""
    rows = [r for r in result["rows"] if not r["error"]]
    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    ax.barh([r["setting"] for r in rows], [r["tokens_per_s"] for r in rows], color="#4c72b0")
    for i, r in enumerate(rows):
        ax.text(r["tokens_per_s"], i, f" {r['tokens_per_s']:.0f} (F1 {r['strict_f1']:.3f})",
                va="center", fontsize=8)
    ax.set_xlabel("note tokens per second (whole notes)")
    ax.invert_yaxis()
    ax.set_title(f"Inference backends, {result['notes']} {result['split']} notes, "
                 f"{result['cpu_count']} cores")
    _save(fig, Path(path), 120)
    return Path(path)
