"""The measuring workers: ``python -m clinical_ner.benchmark.worker SPEC.json OUT.json``.

A *memory* worker holds one model (so that the peak memory of its process is the model's own);
the *timing* worker holds all models of a task and interleaves their passes, notes and steps,
so that load from other jobs on shared cores falls on every model alike. Progress bars go to
the parent's terminal (a file descriptor passed in ``CLINICAL_NER_PROGRESS_FD``); the rest of
the worker's output goes to its log file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from clinical_ner.benchmark.context import (
    ModelContext,
    predict,
    prepare,
    score,
    train_entry,
    train_windows,
    worker_device,
)
from clinical_ner.benchmark.settings import MB, ROOT, WorkerSpec
from clinical_ner.benchmark.side_by_side import (
    inference_sweep,
    pipeline_figures,
    pipeline_fn,
    token_pipeline,
    training_figures,
    training_sweep,
)
from clinical_ner.benchmark.sizes import save_sizes
from clinical_ner.benchmark.timing import (
    median,
    percentile,
    progress,
    sync,
    time_passes,
    time_training,
)
from clinical_ner.inference import peak_rss_mb

PROGRESS_FD = "CLINICAL_NER_PROGRESS_FD"
_PROGRESS_FILE = None


def progress_file():
    """Where progress bars are drawn: the parent's stderr when it passed one, else ours."""
    global _PROGRESS_FILE
    if _PROGRESS_FILE is None:
        fd = os.environ.get(PROGRESS_FD)
        _PROGRESS_FILE = os.fdopen(int(fd), "w", buffering=1) if fd else sys.stderr
    return _PROGRESS_FILE


def _common(ctx: ModelContext, device: str, bf16: bool) -> dict:
    return dict(ctx.info.to_dict(), device=device, bf16=bf16,
                torch_threads=torch.get_num_threads())


def measure_memory(spec: WorkerSpec) -> dict:
    """Size and peak memory of the one model of ``spec.models`` (run alone in its own
    subprocess by :func:`run_worker`, so the peak is its own).

    After loading the model: one inference pass over the notes (peak -> ``peak_mem_mb``), the
    fp32/fp16 saves (:func:`~clinical_ner.benchmark.sizes.save_sizes`), then the first
    ``min(2, train_steps)`` of the timed training batches, the longest among them, with this
    project's batching (peak -> ``train_peak_mem_mb``). CPU: ``getrusage`` peak RSS, also as
    ``*_delta_mb`` above the RSS measured after the corpus and tokenizer were loaded
    (``peak_mem_baseline_mb``); GPU: ``torch.cuda.max_memory_allocated``. MB = 10**6 bytes.
    Without isolation (``spec.isolated`` false) the memory figures are None.
    """
    device = worker_device(spec)
    cuda, isolated = device.startswith("cuda"), spec.isolated
    ctx = prepare(spec, spec.models[0], device)
    out = _common(ctx, device, spec.bf16)

    def peak() -> float | None:
        if cuda:
            return round(torch.cuda.max_memory_allocated() / MB, 1)
        return round(peak_rss_mb(), 1) if isolated else None

    base = round(ctx.baseline_rss_mb, 1) if isolated and not cuda else None
    out["peak_mem_baseline_mb"] = base
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    predict(ctx, ctx.texts, device, spec.bf16)
    out["peak_mem_mb"] = peak()
    out.update(save_sizes(ctx.inner))
    steps = min(2, spec.train_steps or 0)
    if steps:
        wins = train_windows(ctx, spec)
        out.update(ctx.info.to_dict())
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        time_training({"m": train_entry(ctx, wins, "dynamic")}, steps=steps, seed=spec.seed,
                      device=device, bf16=spec.bf16)
        out["train_peak_mem_mb"] = peak()
    if base is not None:
        for k in ("peak_mem", "train_peak_mem"):
            if out.get(f"{k}_mb") is not None:
                out[f"{k}_delta_mb"] = round(out[f"{k}_mb"] - base, 1)
    return out


def _prepare_all(spec: WorkerSpec, device: str) -> tuple[dict[str, ModelContext], dict]:
    ctxs, out = {}, {}
    for ms in spec.models:
        try:
            ctxs[ms.name] = prepare(spec, ms, device)
        except Exception as exc:  # noqa: BLE001 - reported in the model's row
            out[ms.name] = {"error": f"{type(exc).__name__}: {exc}"}
    for name, ctx in ctxs.items():
        out[name] = _common(ctx, device, spec.bf16)
    return ctxs, out


def _systems(ctxs: dict[str, ModelContext], results: dict, device: str, bf16: bool) -> dict:
    """The callables of the timed passes: per model ``NAME``; for a side-by-side run also
    ``NAME:pipeline`` and ``NAME:longest`` (this project with the pipeline's window merge)."""
    fns = {}
    for name, ctx in ctxs.items():
        def ours(sub=ctx.texts, ctx=ctx, key=name, merge="central"):
            results[key] = predict(ctx, sub, device, bf16, merge)

        fns[name] = ours
        ms = ctx.spec
        if ms.side_by_side and ms.is_run:
            ner = token_pipeline(ctx, device, ms.max_seq_length, ms.doc_stride)
            fns[f"{name}:pipeline"] = pipeline_fn(ner, results, f"{name}:pipeline", ctx.texts,
                                                  device, bf16)

            def longest(sub=ctx.texts, ctx=ctx, key=f"{name}:longest"):
                results[key] = predict(ctx, sub, device, bf16, "longest")

            fns[f"{name}:longest"] = longest
    return fns


def _passes(ctxs, fns, spec: WorkerSpec, out: dict, device: str) -> tuple[dict, dict]:
    """Warm-up, then the interleaved timed passes; per model pass figures into ``out``."""
    for name, fn in fns.items():
        fn(ctxs[name.split(":")[0]].texts[: spec.warmup_documents])
    load_before = [round(x, 2) for x in os.getloadavg()]
    wall, cpu = time_passes(fns, spec.passes, device, show_progress=spec.progress,
                            progress_file=progress_file())
    load_after = [round(x, 2) for x in os.getloadavg()]
    for name, ctx in ctxs.items():
        med = median(wall[name])
        out[name].update(
            infer_pass_seconds=[round(t, 3) for t in wall[name]],
            infer_pass_cpu_seconds=[round(t, 3) for t in cpu[name]],
            infer_seconds_median=round(med, 3),
            infer_cpu_seconds_median=round(median(cpu[name]), 3),
            infer_tokens_per_s=round(ctx.n_tokens / med, 1),
            infer_notes_per_s=round(len(ctx.test_docs) / med, 3),
            load_average_before_passes=load_before, load_average_after_passes=load_after,
            interleaved_with=[n for n in fns if n != name])
    return wall, cpu


def _latency(ctxs: dict[str, ModelContext], spec: WorkerSpec, out: dict, device: str) -> None:
    """One note per call, the models alternating note by note: p50/p95 ms into ``out``."""
    lat: dict[str, list[float]] = {n: [] for n in ctxs}
    names = list(ctxs)
    n_max = max(len(c.test_docs) for c in ctxs.values())
    n = min(n_max, spec.latency_documents) if spec.latency_documents is not None else n_max
    texts = {name: ctx.texts for name, ctx in ctxs.items()}
    for i in progress(range(n), enabled=spec.progress, file=progress_file(),
                      desc="latency", unit="note", leave=False):
        for name in names if i % 2 == 0 else reversed(names):
            if i >= len(texts[name]):
                continue
            t0 = time.perf_counter()
            predict(ctxs[name], [texts[name][i]], device, spec.bf16)
            sync(device)
            lat[name].append(time.perf_counter() - t0)
    for name, ls in lat.items():
        out[name].update(latency_notes=len(ls),
                         latency_p50_ms=round(percentile(ls, 50) * 1e3, 2) if ls else None,
                         latency_p95_ms=round(percentile(ls, 95) * 1e3, 2) if ls else None)


def _scores(ctxs, spec: WorkerSpec, results, wall, cpu, out: dict) -> None:
    """Strict F1 (bootstrap CI) of each run's predictions, and the pipeline block of the
    side-by-side model."""
    for name, ctx in ctxs.items():
        if ctx.spec.is_run:
            res = score(ctx, results[name], spec.bootstrap, spec.seed)
            micro = res["strict"]["micro"]
            out[name].update(f1_benchmark=micro["f1"], f1_ci_benchmark=micro.get("f1_ci"),
                             gold_spans=res["gold_spans"], pred_spans=res["pred_spans"])
        if f"{name}:pipeline" in results:
            out[name]["pipeline"] = pipeline_figures(ctx, spec, results, wall, cpu)


def _training(ctxs: dict[str, ModelContext], spec: WorkerSpec, out: dict, device: str) -> None:
    """Interleaved timed optimizer steps of every model (and pad-to-max for the side-by-side
    model), their figures and the training sweep into ``out``. Changes the weights."""
    entries = {}
    for name, ctx in ctxs.items():
        wins = train_windows(ctx, spec)
        info = ctx.info.to_dict()
        out[name].update({k: info[k] for k in ("train_windows", "train_documents",
                                                "train_windows_all", "negative_window_keep")
                          if k in info})
        entries[name] = train_entry(ctx, wins, "dynamic")
        if ctx.spec.side_by_side:
            entries[f"{name}:pad_to_max"] = train_entry(ctx, wins, "pad_to_max")
    tr = time_training(entries, steps=spec.train_steps, seed=spec.seed, device=device,
                       bf16=spec.bf16, show_progress=spec.progress,
                       progress_file=progress_file())
    for name, ctx in ctxs.items():
        d = tr[name]
        out[name].update(training={"dynamic": d.to_dict()},
                         train_step_seconds=d.mean_step_seconds,
                         train_step_cpu_seconds=round(d.cpu_seconds / d.steps, 4),
                         train_step_tokens_per_s=d.epoch_real_tokens_per_s,
                         train_steps_interleaved_with=[n for n in entries if n != name])
        pm = tr.get(f"{name}:pad_to_max")
        if pm:  # one epoch of real tokens each way: the speedup is the epoch time ratio
            out[name]["training"]["pad_to_max"] = pm.to_dict()
            out[name].update(training_figures(d, pm, len(entries[name].windows),
                                              ctx.spec.max_seq_length))
            sweep = training_sweep(ctx, spec, device, spec.bf16)
            if sweep:
                out[name]["training_sweep"] = sweep


def measure_timing(spec: WorkerSpec) -> dict:
    """Time every model of ``spec.models`` in this one process, interleaved.

    Steps: a warm-up on a few notes per system; ``spec.passes`` timed passes over all notes,
    each pass running every system once (order reversed every other pass; the median is
    reported); latency note by note, models alternating per note; strict F1 with a bootstrap CI
    of run models' predictions; for a side-by-side run the pipeline joins the passes and the
    inference sweep runs; then interleaved training steps (:func:`time_training`), pad-to-max
    joining them for the side-by-side model. Returns ``{name: measurements}`` (seconds, tokens/s,
    ms; ``results.json`` row keys); a model that fails to load gets ``{"error": ...}``.
    """
    device = worker_device(spec)
    ctxs, out = _prepare_all(spec, device)
    if not ctxs:
        return out
    results: dict = {}
    fns = _systems(ctxs, results, device, spec.bf16)
    wall, cpu = _passes(ctxs, fns, spec, out, device)
    _latency(ctxs, spec, out, device)
    _scores(ctxs, spec, results, wall, cpu, out)
    for name, ctx in ctxs.items():  # before the training steps, which change the weights
        if ctx.spec.side_by_side and ctx.spec.is_run:
            sweep = inference_sweep(ctx, spec, device, spec.bf16)
            if sweep:
                out[name]["inference_sweep"] = sweep
    if (spec.train_steps or 0) > 0:
        _training(ctxs, spec, out, device)
    if device.startswith("cuda"):
        for name in ctxs:
            out[name]["gpu"] = torch.cuda.get_device_name(0)
    return out


def measure(spec: WorkerSpec) -> dict:
    """Run one worker job: ``spec.job`` is ``"memory"`` (:func:`measure_memory`) or
    ``"timing"`` (:func:`measure_timing`). Raises ValueError for another job."""
    if spec.job == "memory":
        return measure_memory(spec)
    if spec.job == "timing":
        return measure_timing(spec)
    raise ValueError(f"unknown worker job {spec.job!r}")


def _subprocess(spec: WorkerSpec, tmp: Path) -> tuple[subprocess.CompletedProcess, Path]:
    sp, op = tmp / "spec.json", tmp / "out.json"
    sp.write_text(spec.to_json())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    fds: tuple[int, ...] = ()
    if spec.progress:
        try:
            fds = (os.dup(sys.stderr.fileno()),)
            env[PROGRESS_FD] = str(fds[0])
        except (OSError, ValueError, AttributeError):  # no real stderr (e.g. captured)
            fds = ()
    try:
        proc = subprocess.run([sys.executable, "-m", "clinical_ner.benchmark.worker", str(sp),
                               str(op)], capture_output=True, text=True, env=env,
                              cwd=os.getcwd(), pass_fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    return proc, op


def run_worker(spec: WorkerSpec, log_path: Path | None = None, isolate: bool = True) -> dict:
    """Run :func:`measure` in a fresh subprocess (``isolate``) or in this process. A failure
    gives ``{"error": ...}`` (with the tail of the subprocess' log), never an exception."""
    spec = replace(spec, isolated=isolate)
    if not isolate:
        try:
            return measure(spec)
        except Exception as exc:  # noqa: BLE001 - reported in the row
            return {"error": f"{type(exc).__name__}: {exc}"}
    with tempfile.TemporaryDirectory(prefix="bench_worker_") as tmp:
        proc, op = _subprocess(spec, Path(tmp))
        log = proc.stdout + proc.stderr
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(log)
        if proc.returncode != 0 or not op.exists():
            tail = " | ".join(log.strip().splitlines()[-4:])
            return {"error": f"worker exited with {proc.returncode}: {tail}"}
        return json.loads(op.read_text())


def main(argv: list[str]) -> int:
    """``python -m clinical_ner.benchmark.worker SPEC.json OUT.json``: :func:`measure` in this
    process, the result written to OUT.json."""
    spec = WorkerSpec.from_json(Path(argv[0]).read_text())
    out = measure(spec)
    Path(argv[1]).write_text(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
