"""Results rows: one :class:`Row` per model x task from the workers' measurements and the run
folder's own files; the ratios against the reference model; the side-by-side summary.
``Row.to_dict`` gives the ``results.json`` row (keys :data:`ROW_KEYS` first)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from clinical_ner.run_folder import RunFolder
from clinical_ner.tables import is_number

ROW_KEYS = ("model", "task", "params", "disk_mb_fp32", "disk_mb_fp16", "peak_mem_mb",
            "train_seconds", "train_tokens_per_s", "infer_tokens_per_s", "infer_notes_per_s",
            "latency_p50_ms", "latency_p95_ms", "f1", "f1_ci")

#: Measured figures copied from the workers into a row (when measured), in this order.
FIGURE_KEYS = (
    "architecture", "vocab_size", "embedding_params", "disk_bytes_fp32", "disk_bytes_fp16",
    "peak_mem_baseline_mb", "peak_mem_delta_mb", "train_peak_mem_mb", "train_peak_mem_delta_mb",
    "train_step_seconds", "train_step_tokens_per_s", "infer_seconds_median",
    "infer_pass_seconds", "documents", "note_tokens", "windows", "latency_notes",
    "train_windows", "train_windows_all", "negative_window_keep", "train_documents", "device",
    "bf16", "torch_threads", "load_seconds", "max_seq_length", "doc_stride", "tokenizer_class",
    "tokenizer_vocab", "vocab_source", "gold_spans", "pred_spans", "gpu", "layers",
    "hidden_size", "multi_window_documents", "infer_pass_cpu_seconds",
    "infer_cpu_seconds_median", "train_step_cpu_seconds", "config", "training",
    "interleaved_with", "train_steps_interleaved_with", "load_average_before_passes",
    "load_average_after_passes")
#: Row figures taken from the measurements as they are (None when not measured).
_MEASURED = ("params", "disk_mb_fp32", "disk_mb_fp16", "peak_mem_mb", "infer_tokens_per_s",
             "infer_notes_per_s", "latency_p50_ms", "latency_p95_ms")
#: Keys a real-mode row takes from the run's train_results.json.
_TRAIN_RESULT_KEYS = ("train_source", "run_train_documents", "run_epochs")
_REAL_TAIL = ("f1_source", "f1_benchmark", "f1_ci_benchmark")


@dataclass
class Row:
    """One model x task of ``results.json`` (MB = 10**6 bytes, seconds, tokens/s, ms).

    The :data:`ROW_KEYS` columns; ``figures``: the other measured figures (:data:`FIGURE_KEYS`
    present in the measurements); real mode (``run_dir`` set): training time from the run's
    ``train_results.json`` (``train_source`` names it) and F1 with its source; ``error`` when
    nothing was measured, ``partial_errors`` when a worker failed but the other measured.
    """

    model: str
    task: str
    params: int | None = None
    disk_mb_fp32: float | None = None
    disk_mb_fp16: float | None = None
    peak_mem_mb: float | None = None
    train_seconds: float | None = None
    train_tokens_per_s: float | None = None
    infer_tokens_per_s: float | None = None
    infer_notes_per_s: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    f1: float | None = None
    f1_ci: list | None = None
    figures: dict = field(default_factory=dict)
    epoch_seconds: float | None = None
    run_dir: str | None = None
    train_source: str | None = None
    run_train_documents: int | None = None
    run_epochs: float | None = None
    f1_source: str | None = None
    f1_benchmark: float | None = None
    f1_ci_benchmark: list | None = None
    error: str | None = None
    same_as: str | None = None
    partial_errors: list[str] | None = None

    def to_dict(self) -> dict:
        """The ``results.json`` row: the columns, then (unless ``error``) the figures,
        ``epoch_seconds`` and the real-mode keys; ``same_as``/``partial_errors`` when set."""
        d = {k: getattr(self, k) for k in ROW_KEYS}
        if self.error is not None:
            d["error"] = self.error
            if self.run_dir is not None:
                d["run_dir"] = self.run_dir
        else:
            d.update(self.figures)
            d["epoch_seconds"] = self.epoch_seconds
            if self.run_dir is not None:
                d["run_dir"] = self.run_dir
                if self.train_source is not None:
                    d.update({k: getattr(self, k) for k in _TRAIN_RESULT_KEYS})
                d.update({k: getattr(self, k) for k in _REAL_TAIL})
            elif self.train_source is not None:
                d["train_source"] = self.train_source
        for k in ("same_as", "partial_errors"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Row:
        """Inverse of :meth:`to_dict` (a row of a ``results.json``); unknown keys go to
        ``figures``."""
        own = {f.name for f in fields(cls)} - {"figures"}
        return cls(**{k: v for k, v in d.items() if k in own},
                   figures={k: v for k, v in d.items() if k not in own})

    def get(self, key: str, default=None):
        """A column, figure or real-mode key by its ``results.json`` name."""
        return self.to_dict().get(key, default)


def run_scores(run_dir: Path, split: str) -> tuple[float | None, list | None, str | None]:
    """``(F1, CI, path)`` written by eval_ner.py (``eval_<split>/metrics.json``) or by
    train_ner.py (``metrics.json`` of the test split), when they carry a CI; Nones otherwise."""
    run = RunFolder(run_dir)
    for name in (f"eval_{split}/metrics.json", "metrics.json"):
        if not run.has(name):
            continue
        m = run.read_json(name)
        if m.get("split", split) != split:
            continue
        micro = m.get("strict", {}).get("micro", {})
        if "f1" in micro and micro.get("f1_ci"):
            return micro["f1"], micro["f1_ci"], str(run.file(name))
    return None, None, None


def _arch_training(row: Row, m: dict) -> None:
    tr = m.get("training", {}).get("dynamic")
    if tr:
        row.train_tokens_per_s = tr.get("epoch_real_tokens_per_s", tr.get("real_tokens_per_s"))
        row.epoch_seconds = tr["epoch_seconds_est"]
        row.train_source = "timed optimizer steps (architecture-only)"


def _run_training(row: Row, run_dir: Path) -> None:
    run = RunFolder(run_dir)
    if not run.has("train_results.json"):
        return
    tr = run.train_results
    row.train_seconds = tr.get("train_seconds")
    row.train_tokens_per_s = tr.get("train_tokens_per_second")
    if tr.get("train_seconds") and tr.get("epochs"):
        row.epoch_seconds = round(tr["train_seconds"] / tr["epochs"], 1)
    row.train_source = f"{run.file('train_results.json')} (whole fine-tuning, dev evaluation " \
                       "included)"
    row.run_train_documents, row.run_epochs = tr.get("train_documents"), tr.get("epochs")


def make_row(model: str, task: str, m: dict, run_dir: Path | None, split: str, *,
             arch: bool = False) -> Row:
    """One results row from the workers' measurements ``m`` (``{"error": ...}`` for a model
    that was not measured) and, in real mode (``arch`` false), the run folder's own files:
    training time from ``train_results.json``, F1 and CI from the run's scores of ``split``
    (else the benchmark's own predictions)."""
    row = Row(model, task)
    if "error" in m:
        row.error = m["error"]
        row.run_dir = None if run_dir is None else str(run_dir)
        return row
    for k in _MEASURED:
        setattr(row, k, m.get(k))
    row.figures = {k: m[k] for k in FIGURE_KEYS if k in m}
    if arch:
        _arch_training(row, m)
        return row
    row.run_dir = str(run_dir)
    _run_training(row, Path(run_dir))
    f1, ci, src = run_scores(Path(run_dir), split)
    if f1 is None:
        f1, ci, src = m.get("f1_benchmark"), m.get("f1_ci_benchmark"), "benchmark predictions"
    row.f1, row.f1_ci, row.f1_source = f1, ci, src
    row.f1_benchmark, row.f1_ci_benchmark = m.get("f1_benchmark"), m.get("f1_ci_benchmark")
    return row


def same_as_row(row: Row, model: str, measured: str) -> Row:
    """``row`` (of the model ``measured``) repeated for ``model`` of the same architecture."""
    return replace(row, model=model, same_as=measured)


#: Ratio name -> row key (:func:`compute_ratios`).
RATIO_KEYS = {"inference_time": "infer_seconds_median",
              "inference_cpu_time": "infer_cpu_seconds_median", "latency_p50": "latency_p50_ms",
              "train_step_time": "train_step_seconds",
              "train_step_cpu_time": "train_step_cpu_seconds", "train_time": "train_seconds",
              "params": "params", "disk_fp32": "disk_mb_fp32", "disk_fp16": "disk_mb_fp16",
              "peak_mem": "peak_mem_mb", "peak_mem_delta": "peak_mem_delta_mb",
              "train_peak_mem": "train_peak_mem_mb",
              "train_peak_mem_delta": "train_peak_mem_delta_mb"}


def _ratios(r: dict, ref: dict, sfx: str) -> dict:
    d = {}
    for name, key in RATIO_KEYS.items():
        a, b = r.get(key), ref.get(key)
        d[name + sfx] = round(a / b, 4) if is_number(a) and is_number(b) and b else None
    a, b = r.get("f1"), ref.get("f1")
    d["f1_diff" + sfx] = round(a - b, 4) if is_number(a) and is_number(b) else None
    return d


def compute_ratios(rows: list[dict], reference: str) -> dict:
    """``{model: {metric: model / reference}}`` per task (metric names get ``/<task>`` when
    there are several tasks), for the metrics of :data:`RATIO_KEYS`; ``f1_diff`` = model F1 -
    reference F1. A metric missing on either side is None. ``rows``: ``results.json`` rows."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    out: dict = {}
    for task in tasks:
        ref = next((r for r in rows if r["model"] == reference and r["task"] == task), None)
        if ref is None:
            continue
        sfx = f"/{task}" if len(tasks) > 1 else ""
        for r in rows:
            if r["task"] == task and r["model"] != reference:
                out.setdefault(r["model"], {}).update(_ratios(r, ref, sfx))
    return out


def side_by_side_summary(model: str, t: dict) -> dict:
    """The ``results.json`` ``side_by_side`` figures of ``model`` from its timing measurements
    ``t`` (headline speedups and span identity, then the pipeline, training and sweep
    blocks)."""
    out: dict = {"model": model}
    if "pipeline" in t:
        p = t["pipeline"]
        out.update(inference_speedup_vs_pipeline=p["speedup"],
                   inference_speedup_vs_pipeline_cpu_time=p["speedup_cpu_time"],
                   spans_identical=p["spans"]["identical"],
                   ours_tokens_per_s=p["ours_tokens_per_s"],
                   inference_speedup_vs_pipeline_central_merge=p["speedup_central_merge"],
                   spans_identical_central_merge=p["spans_central_merge"]["identical"],
                   pipeline=p)
    if "training_speedup_vs_pad_to_max" in t:
        out.update({k: t.get(k) for k in (
            "training_speedup_vs_pad_to_max", "training_speedup_vs_pad_to_max_cpu_time",
            "training_speedup_vs_pad_to_max_sampled_steps", "training_speedup_padding_bound",
            "training_sweep")}, training=t["training"])
    if t.get("inference_sweep"):
        out["inference_sweep"] = t["inference_sweep"]
    return out


def empty_side_by_side() -> dict:
    """The ``side_by_side`` block before (or without) a side-by-side model."""
    return {"model": None, "inference_speedup_vs_pipeline": None, "spans_identical": None,
            "training_speedup_vs_pad_to_max": None}
