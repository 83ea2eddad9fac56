"""The benchmark run (``benchmark.py`` without ``--backends``): model specs from the arguments
(run folders, trained when missing), one memory worker per model and one timing worker per
task, rows, ratios, ``results.json``, ``results.md`` and the plots."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import torch

from clinical_ner.benchmark.plots import plot_results
from clinical_ner.benchmark.report import explain, markdown_report, span_note
from clinical_ner.benchmark.rows import (
    Row,
    compute_ratios,
    empty_side_by_side,
    make_row,
    same_as_row,
    side_by_side_summary,
)
from clinical_ner.benchmark.settings import (
    DEMO_DIR,
    MB,
    MODE_DEFAULTS,
    PHYSIONET_DIR,
    ROOT,
    BenchmarkArguments,
    ModelSpec,
    WorkerSpec,
    parse_runs,
    resolve_args,
)
from clinical_ner.benchmark.sizes import ARCHITECTURES, REAL_VOCAB_SIZES
from clinical_ner.benchmark.timing import progress
from clinical_ner.benchmark.worker import run_worker
from clinical_ner.files import write_json_atomic, write_text_atomic
from clinical_ner.run_folder import RunFolder

DEFINITIONS = {
    "MB": "10**6 bytes (disk and memory)",
    "disk_mb_fp32/fp16": "bytes of the *.safetensors files save_pretrained writes (fp32 weights, "
                         "and the same state dict cast to fp16), header included",
    "params": "sum of numel over model.parameters() (token classification model, head included)",
    "peak_mem_mb": "CPU: peak resident set size of the model's own subprocess after loading and "
                   "one batched inference pass over the notes (getrusage ru_maxrss); includes "
                   "the Python/torch runtime, see peak_mem_baseline_mb / peak_mem_delta_mb. "
                   "GPU: torch.cuda.max_memory_allocated over the same phase",
    "train_peak_mem_mb": "the same after training steps on the longest of the timed batches "
                         "(this project's batching; gradients and AdamW states included)",
    "infer_tokens_per_s": "note sub-tokens (no special tokens, window overlaps counted once) / "
                          "median seconds of one pass over the notes",
    "latency_ms": "one note per predict_documents call, p50/p95 over the notes",
    "train_seconds/train_tokens_per_s": "real mode: the run's train_results.json (whole "
                                        "fine-tuning, per-epoch dev evaluation included); "
                                        "architecture-only: train_seconds null, "
                                        "train_step_tokens_per_s",
    "train_step_tokens_per_s": "real (non-pad) tokens of one epoch / (batches per epoch x mean "
                               "seconds of the timed optimizer steps)",
    "training_speedup_vs_pad_to_max": "epoch seconds padding every window to max_seq_length / "
                                      "epoch seconds with this project's batching (length-"
                                      "grouped order, each batch padded to its longest window), "
                                      "over the same windows: the run's first epoch (with "
                                      "negative_window_keep < 1 its windows with entities plus "
                                      "its draw of the others); *_sampled_steps: real tokens/s "
                                      "of the timed steps themselves; "
                                      "padding_bound: epoch positions padded to max / real "
                                      "positions (the speedup if step time were linear in "
                                      "positions; attention is quadratic, so it can be beaten)",
    "epoch_seconds": "real mode: train_seconds / epochs of the run; architecture-only: "
                     "batches per epoch x mean timed step seconds (estimate)",
    "cpu_seconds": "process CPU time (all threads of the measuring process, time.process_time) "
                   "next to wall time: on cores shared with other jobs it moves less than wall "
                   "time, so its ratios are the steadier estimate of relative cost",
    "inference_speedup_vs_pipeline": "median pipeline pass seconds / median seconds of this "
                                     "project's pass with window_merge='longest' (same spans); "
                                     "*_central_merge: against the default merge",
    "ratios": "model / reference (time, disk, memory, params); f1_diff = model F1 - reference F1",
}

_VERSIONED = ("torch", "transformers", "tokenizers", "safetensors", "accelerate", "datasets",
              "numpy", "psutil", "matplotlib")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=ROOT, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment_info(device: str = "cpu") -> dict:
    """Hardware and library versions of this machine (no user or host names); memory in MB."""
    env = {"python": platform.python_version(), "platform": platform.platform(),
           "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
           "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
           else None,
           "memory_total_mb": round(psutil.virtual_memory().total / MB),
           "load_average_start": [round(x, 2) for x in os.getloadavg()],
           "versions": {p: _version(p) for p in _VERSIONED},
           "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "git_commit": _git_commit()}
    if (device.startswith("cuda") or device == "auto") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
        env["gpu_memory_mb"] = round(torch.cuda.get_device_properties(0).total_memory / MB)
    return env


def find_run(model: str, task: str, runs: dict[str, str], runs_dir: str) -> Path:
    """The run folder of ``model`` on ``task``: ``runs["model/task"]``, ``runs["model"]``, a
    model folder given directly, or ``runs_dir/<task>_<model>``."""
    for key in (f"{model}/{task}", model):
        if key in runs:
            return Path(runs[key])
    if RunFolder(model).is_model():
        return Path(model)
    return Path(runs_dir) / f"{task}_{Path(model).name}"


def corpus_dir(args: BenchmarkArguments, notes: list[str]) -> str:
    """``--data_dir``, or the shipped demo corpus when the default corpus is absent (a note
    says so). Raises FileNotFoundError for another missing folder."""
    if Path(args.data_dir).exists():
        return args.data_dir
    if args.data_dir == PHYSIONET_DIR:
        notes.append(f"{PHYSIONET_DIR} is absent: the shipped made-up demo corpus "
                     f"({DEMO_DIR}) was used instead; figures are not comparable.")
        return DEMO_DIR
    raise FileNotFoundError(f"--data_dir {args.data_dir}: no such folder")


def train_run(model: str, task: str, run_dir: Path, args: BenchmarkArguments, data_dir: str,
              log: Path) -> str | None:
    """Fine-tune ``model`` on ``task`` into ``run_dir`` with ``train_ner.py`` beside the package
    (a source checkout; its output into ``log``); returns None, or the error (with the tail of
    the output, or saying that an installed package has no ``train_ner.py``)."""
    script = ROOT / "train_ner.py"
    if not script.is_file():  # a non-editable install holds the package, not the scripts
        return (f"cannot train {model}/{task}: {script} not found (pip install . installs the "
                "package only); train the run from a clinical-ner source checkout with "
                "train_ner.py and pass it with --runs MODEL=RUN_DIR")
    cmd = [sys.executable, str(script)]
    cfg = ROOT / "configs" / f"{task}.yaml"  # the shipped task config, when beside the package
    if cfg.is_file():
        cmd.append(str(cfg))
    cmd += ["--model_name_or_path", model, "--task", task, "--format", args.format,
            "--data_dir", data_dir, "--output_dir", str(run_dir), "--seed", str(args.seed),
            *shlex.split(args.train_args)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(" ".join(cmd) + "\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        return f"train_ner.py failed ({proc.returncode}): {tail}"
    return None


def run_model_spec(model: str, task: str, run_dir: Path, args: BenchmarkArguments,
                   data_dir: str, given_batch_size: int | None, side_by_side: bool,
                   notes: list[str]) -> ModelSpec:
    """The worker spec of a finished run: its task, windows and corpus settings
    (:meth:`RunFolder.corpus_settings`, on the benchmark's corpus ``data_dir`` and
    ``--format``), its negative-window draw and seed. Training batch: ``given_batch_size``
    (``--train_batch_size``) when given, else the run's ``per_device_train_batch_size``, else
    the real-mode default."""
    run = RunFolder(run_dir)
    saved = run.settings
    if saved.get("task", task) != task:
        notes.append(f"{run_dir} is a {saved.get('task')} run, listed for {task}")
    corpus = run.corpus_settings(data_dir=data_dir, format=args.format)
    training = run.args_block("training")
    bs = given_batch_size or training.get("per_device_train_batch_size") \
        or MODE_DEFAULTS["real"]["train_batch_size"]
    window = run.window
    return ModelSpec(
        name=model, kind="run", alias=model, run_dir=str(run_dir), task=corpus.task,
        granularity=corpus.label_granularity, data=asdict(corpus),
        max_seq_length=window.max_seq_length, doc_stride=window.doc_stride,
        train_batch_size=bs,
        negative_window_keep=run.args_block("data").get("negative_window_keep", 1.0),
        train_seed=training.get("seed", args.seed), side_by_side=side_by_side)


def arch_model_spec(model: str, task: str, args: BenchmarkArguments, overrides: dict,
                    side_by_side: bool) -> ModelSpec:
    """The worker spec of a random model of ``model``'s real architecture. Raises ValueError
    for an alias with no known architecture."""
    if model not in ARCHITECTURES:
        raise ValueError(f"--architecture_only knows {', '.join(ARCHITECTURES)}; not {model!r}")
    return ModelSpec(
        name=model, kind="arch", alias=model, task=task,
        overrides=overrides.get(model, overrides.get(ARCHITECTURES[model], {})),
        tokenizer=args.tokenizer, max_seq_length=args.max_seq_length,
        doc_stride=args.doc_stride, train_batch_size=args.train_batch_size,
        side_by_side=side_by_side)


@dataclass
class Entry:
    """One model of a task: its worker ``spec``, or ``same_as`` (an architecture measured for
    another model), or the ``error`` that kept it from being measured."""

    model: str
    run_dir: Path | None = None
    spec: ModelSpec | None = None
    same_as: str | None = None
    error: str | None = None


def _run_entry(model: str, task: str, args: BenchmarkArguments, data_dir: str,
               out_dir: Path, given_bs: int | None, sbs: bool, notes: list[str]) -> Entry:
    run_dir = find_run(model, task, parse_runs(args.runs), args.runs_dir)
    if not RunFolder(run_dir).has("config.json"):
        if not args.train_missing:
            return Entry(model, run_dir,
                         error=f"no run folder {run_dir} (and --train_missing false)")
        print(f"[benchmark] no run folder {run_dir}: train_ner.py ...", flush=True)
        err = train_run(model, task, run_dir, args, data_dir,
                        out_dir / "logs" / f"train_{Path(model).name}_{task}.log")
        if err:
            return Entry(model, run_dir, error=err)
    return Entry(model, run_dir, run_model_spec(model, task, run_dir, args, data_dir, given_bs,
                                                sbs, notes))


def model_entries(task: str, models: list[str], args: BenchmarkArguments, data_dir: str,
                  out_dir: Path, notes: list[str], given_batch_size: int | None = None
                  ) -> list[Entry]:
    """One :class:`Entry` per model of ``task`` (``args`` resolved by :func:`resolve_args`;
    ``given_batch_size``: ``--train_batch_size`` as given, None for the default). Raises
    ValueError for an unknown architecture-only alias."""
    overrides = json.loads(args.config_overrides) if args.config_overrides else {}
    sbs_model = args.side_by_side_model or models[0]
    entries, unique = [], {}
    for model in models:
        sbs = bool(args.side_by_side) and model == sbs_model
        if not args.architecture_only:
            entries.append(_run_entry(model, task, args, data_dir, out_dir, given_batch_size,
                                      sbs, notes))
            continue
        spec = arch_model_spec(model, task, args, overrides, sbs)
        key = (ARCHITECTURES[model], json.dumps(spec.overrides, sort_keys=True))
        if key in unique:
            entries.append(Entry(model, same_as=unique[key]))
            notes.append(f"{model} has the architecture of {unique[key]} "
                         f"({ARCHITECTURES[model]}, vocabulary {REAL_VOCAB_SIZES[model][0]}): "
                         "its row repeats that measurement.")
            continue
        unique[key] = model
        entries.append(Entry(model, spec=spec))
    return entries


def _measure_task(task: str, entries: list[Entry], base: WorkerSpec, args: BenchmarkArguments,
                  out_dir: Path) -> tuple[dict, dict]:
    """``(memory, timing)`` measurements per model name of one task's entries."""
    valid = [e for e in entries if e.spec is not None]
    mem = {}
    for e in progress(valid, enabled=base.progress, desc=f"{task}: size and peak memory",
                      unit="model"):
        print(f"[benchmark] {e.model} / {task}: size and peak memory ...", flush=True)
        mem[e.model] = run_worker(
            WorkerSpec(**{**base.__dict__, "job": "memory", "models": [e.spec]}),
            out_dir / "logs" / f"memory_{Path(e.model).name}_{task}.log", args.isolate)
    timing: dict = {}
    if valid:
        print(f"[benchmark] {task}: timing {', '.join(e.model for e in valid)} "
              "(interleaved) ...", flush=True)
        timing = run_worker(
            WorkerSpec(**{**base.__dict__, "job": "timing", "models": [e.spec for e in valid]}),
            out_dir / "logs" / f"timing_{task}.log", args.isolate)
        if set(timing) == {"error"}:
            timing = {e.model: dict(timing) for e in valid}
    return mem, timing


def _entry_row(e: Entry, task: str, mem: dict, timing: dict, by_model: dict,
               args: BenchmarkArguments) -> Row:
    if e.same_as is not None:
        return same_as_row(by_model[e.same_as], e.model, e.same_as)
    parts = [mem.get(e.model, {}), timing.get(e.model, {})] if e.spec else [{"error": e.error}]
    errors = [p["error"] for p in parts if "error" in p]
    m = {k: v for p in parts if "error" not in p for k, v in p.items()}
    if errors and not m:
        m = {"error": "; ".join(errors)}
    row = make_row(e.model, task, m, e.run_dir, args.split, arch=args.architecture_only)
    if errors and row.error is None:
        row.partial_errors = errors
    return row


def _side_by_side_update(side_by_side: dict, e: Entry, t: dict, notes: list[str]) -> None:
    if not (e.spec and e.spec.side_by_side) or "error" in t:
        return
    side_by_side.update(side_by_side_summary(e.model, t))
    p = t.get("pipeline")
    if p and not p["spans"]["identical"]:
        notes.append(span_note(p["spans"]))
    if p and not p["spans_central_merge"]["identical"]:
        notes.append("default (central) window merge: " + span_note(p["spans_central_merge"]))


def _settings(args: BenchmarkArguments, data_dir: str, rows: list[dict]) -> dict:
    settings = asdict(args)
    settings["data_dir"] = data_dir
    settings["torch_threads"] = next((r.get("torch_threads") for r in rows
                                      if r.get("torch_threads")), None)
    if args.architecture_only:
        settings["tokenizer_note"] = (
            f"windows: the real notes tokenized with {args.tokenizer!r} "
            "(MiniLM: uncased WordPiece, 30522 ids) and each id mapped to id mod vocab_size of "
            "the target model (28996); BERT-base/DistilBERT runtime does not depend on the id "
            "values, only on the window lengths, which come from a real WordPiece vocabulary")
        settings["vocab_sizes"] = {k: {"vocab_size": v, "source": s}
                                   for k, (v, s) in REAL_VOCAB_SIZES.items()}
    return settings


def _mode_notes(args: BenchmarkArguments, models: list[str], notes: list[str]) -> None:
    if args.side_by_side_lengths and (args.architecture_only or not args.side_by_side):
        notes.append("--side_by_side_lengths is used only by the real-mode side by side: "
                     "ignored here")
    if args.reference not in models:
        notes.append(f"reference {args.reference!r} is not among the models: no ratios")


def run_benchmark(args: BenchmarkArguments) -> dict:
    """Measure every model x task, write ``results.json``, ``results.md`` and the plots into
    the output folder and return the results dict.

    Per task: one memory/size worker per model (its own subprocess, see
    :func:`~clinical_ner.benchmark.worker.measure_memory`), then one timing worker running all
    models interleaved (:func:`~clinical_ner.benchmark.worker.measure_timing`). Errors of one
    model are written into its row (``error``) and do not stop the others; raises ValueError
    for an unknown architecture-only alias or a bad ``--side_by_side_lengths``."""
    given_bs = args.train_batch_size  # an explicit --train_batch_size wins over the run's
    args = resolve_args(args)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    data_dir = corpus_dir(args, notes)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    environment = environment_info(args.device)
    base = WorkerSpec.from_args(args, data_dir)
    rows: list[Row] = []
    side_by_side = empty_side_by_side()
    t_start = time.time()
    for task in filter(None, (t.strip() for t in args.tasks.split(","))):
        entries = model_entries(task, models, args, data_dir, out_dir, notes, given_bs)
        mem, timing = _measure_task(task, entries, base, args, out_dir)
        by_model: dict[str, Row] = {}
        for e in entries:
            row = by_model[e.model] = _entry_row(e, task, mem, timing, by_model, args)
            rows.append(row)
            if row.error:
                print(f"[benchmark] {e.model} / {task}: {row.error}", flush=True)
            _side_by_side_update(side_by_side, e, timing.get(e.model, {}), notes)
    environment["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    environment["benchmark_seconds"] = round(time.time() - t_start, 1)
    _mode_notes(args, models, notes)
    row_dicts = [r.to_dict() for r in rows]
    results = {"mode": "architecture_only" if args.architecture_only else "real",
               "reference": args.reference, "rows": row_dicts, "side_by_side": side_by_side,
               "environment": environment, "settings": _settings(args, data_dir, row_dicts),
               "seeds": {"model_init_and_batch_order": args.seed, "bootstrap": args.seed},
               "definitions": DEFINITIONS, "notes": notes}
    return write_results(results, out_dir)


def write_results(results: dict, out_dir: str | Path) -> dict:
    """Derive ``ratios`` (:func:`compute_ratios`), ``explanations`` (:func:`explain`) and the
    plots from ``results["rows"]``, then write ``results.json`` and ``results.md`` into
    ``out_dir`` (atomically). Also re-renders a loaded ``results.json`` without measuring
    again. Returns ``results`` (updated in place)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results["ratios"] = compute_ratios(results["rows"], results["reference"])
    results["explanations"] = explain(results)
    results["plots"] = plot_results(results, out_dir)
    write_json_atomic(out_dir / "results.json", results, default=str)
    write_text_atomic(out_dir / "results.md", markdown_report(results))
    return results
