"""Timing: interleaved inference passes and optimizer steps, and their statistics. Seconds are
wall time (``time.perf_counter``) and process CPU time (``time.process_time``: all threads of
this process), which moves less than wall time when other jobs share the cores."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import DataCollatorForTokenClassification
from transformers.trainer_pt_utils import get_length_grouped_indices

TRAIN_KEYS = ("input_ids", "attention_mask", "labels")


def percentile(values, q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation) or None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def median(values) -> float | None:
    """Median or None for no values."""
    return percentile(values, 50)


def evenly_spaced(items: list, n: int | None) -> list:
    """``n`` items spread evenly over ``items`` (indices ``floor(i * len / n)``), in order; all
    of them when ``n`` is None or not smaller."""
    if n is None or n >= len(items):
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


def ratio(a, b, nd: int = 3) -> float | None:
    """``a / b`` rounded to ``nd`` decimals, None when ``b`` is 0 or either is missing."""
    return round(a / b, nd) if a is not None and b else None


def sync(device) -> None:
    """Wait for the GPU's queued work (a no-op on CPU), so a timer stops after it."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def autocast(device, bf16: bool):
    """bfloat16 autocast on ``device`` when ``bf16``, else a null context."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda" if str(device).startswith("cuda") else "cpu",
                          dtype=torch.bfloat16)


def progress(iterable=None, *, enabled: bool = True, file=None, **kwargs):
    """A tqdm progress bar over ``iterable`` (``enabled`` false: none is drawn)."""
    return tqdm(iterable, disable=not enabled, file=file, dynamic_ncols=True, **kwargs)


def training_batches(windows: list[dict], batch_size: int, mode: str, seed: int) -> list[list]:
    """One epoch's batches of window indices.

    ``mode="dynamic"``: the Trainer's ``group_by_length`` order
    (:func:`transformers.trainer_pt_utils.get_length_grouped_indices`, seeded), each batch later
    padded to its longest window; ``mode="pad_to_max"``: a seeded random order (every batch is
    padded to max_seq_length anyway). Raises ValueError for another mode.
    """
    gen = torch.Generator().manual_seed(seed)
    if mode == "dynamic":
        order = get_length_grouped_indices([len(w["input_ids"]) for w in windows], batch_size,
                                           generator=gen)
    elif mode == "pad_to_max":
        order = torch.randperm(len(windows), generator=gen).tolist()
    else:
        raise ValueError(f"unknown batching mode {mode!r}")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@dataclass
class TrainEntry:
    """One model and batching to time: ``windows`` are dicts with input_ids, attention_mask and
    labels (:func:`clinical_ner.windows.build_windows`); ``mode`` ``"dynamic"`` or
    ``"pad_to_max"`` (:func:`training_batches`); ``batch_size`` in windows."""

    model: object
    tokenizer: object
    windows: list[dict]
    mode: str
    batch_size: int
    max_seq_length: int


@dataclass
class TrainingTiming:
    """Figures of one entry's timed optimizer steps (``results.json`` ``training.dynamic`` /
    ``training.pad_to_max``): seconds (wall and process CPU), real (non-pad) and padded tokens,
    and their extrapolation to one epoch (``epoch_batches`` x the mean step; ``*_raw`` unrounded
    for ratios)."""

    steps: int
    batch_size: int
    mode: str
    seconds: float
    mean_step_seconds: float
    step_seconds: list[float]
    cpu_seconds: float
    real_tokens: int
    padded_tokens: int
    real_tokens_per_s: float
    real_tokens_per_cpu_s: float | None
    padded_tokens_per_s: float
    padding_fraction: float
    epoch_batches: int
    epoch_seconds_est: float
    epoch_cpu_seconds_est: float
    epoch_seconds_raw: float
    epoch_cpu_seconds_raw: float
    epoch_real_tokens: int
    epoch_real_tokens_per_s: float

    def to_dict(self) -> dict:
        """The ``results.json`` block (field names as keys, in order)."""
        return asdict(self)


@dataclass
class _Plan:
    """One entry's collated batches, optimizer and running figures (:func:`time_training`)."""

    entry: TrainEntry
    batches: list
    opt: object
    epoch_batches: int
    epoch_real: int
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    real: int = 0
    padded: int = 0

    def timing(self) -> TrainingTiming:
        secs, cpu, n = sum(self.times), sum(self.cpu), len(self.times)
        mean, epoch = secs / n, self.epoch_batches
        return TrainingTiming(
            steps=n, batch_size=self.entry.batch_size, mode=self.entry.mode,
            seconds=round(secs, 4), mean_step_seconds=round(mean, 4),
            step_seconds=[round(t, 4) for t in self.times], cpu_seconds=round(cpu, 4),
            real_tokens=self.real, padded_tokens=self.padded,
            real_tokens_per_s=round(self.real / secs, 1),
            real_tokens_per_cpu_s=round(self.real / cpu, 1) if cpu else None,
            padded_tokens_per_s=round(self.padded / secs, 1),
            padding_fraction=round(1 - self.real / self.padded, 4), epoch_batches=epoch,
            epoch_seconds_est=round(epoch * mean, 1),
            epoch_cpu_seconds_est=round(epoch * cpu / n, 1), epoch_seconds_raw=epoch * mean,
            epoch_cpu_seconds_raw=epoch * cpu / n, epoch_real_tokens=self.epoch_real,
            epoch_real_tokens_per_s=round(self.epoch_real / (epoch * mean), 1))


def _adamw(model, lr: float):
    try:
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=True)
    except (RuntimeError, TypeError):  # no fused kernel for these parameters
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)


def _plan(name: str, e: TrainEntry, steps: int, seed: int, lr: float) -> _Plan:
    if not e.windows:
        raise ValueError(f"{name}: no training windows")
    feats = [{k: w[k] for k in TRAIN_KEYS} for w in e.windows]
    batches = training_batches(e.windows, e.batch_size, e.mode, seed)
    sel = sorted(set(np.linspace(0, len(batches) - 1, steps).round().astype(int).tolist()))
    collator = (DataCollatorForTokenClassification(e.tokenizer, padding=True)
                if e.mode == "dynamic" else DataCollatorForTokenClassification(
                    e.tokenizer, padding="max_length", max_length=e.max_seq_length))
    return _Plan(e, [collator([feats[i] for i in batches[j]]) for j in sel],
                 _adamw(e.model, lr), len(batches),
                 sum(sum(w["attention_mask"]) for w in e.windows))


def _step(p: _Plan, batch, device, bf16: bool) -> None:
    model = p.entry.model
    model.train()
    batch = {k: v.to(device) for k, v in batch.items()}
    with autocast(device, bf16):
        loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    p.opt.step()
    p.opt.zero_grad(set_to_none=True)


def time_training(entries: dict[str, TrainEntry], *, steps: int, seed: int, device="cpu",
                  bf16: bool = False, lr: float = 1e-4, show_progress: bool = False,
                  progress_file=None) -> dict[str, TrainingTiming]:
    """Time ``steps`` optimizer steps for each entry, the entries' steps interleaved.

    Several entries may share a model (side by side of two batchings) or hold different models
    (model against model); the timed steps alternate between entries (in reversed order every
    other round), so load from other processes on shared cores falls on all of them alike.
    Per entry, batches are drawn evenly across one epoch's order (the first, with length
    grouping the longest, always included) and collated beforehand with
    ``DataCollatorForTokenClassification`` (``padding=True``, or ``"max_length"`` to
    ``max_seq_length``); one untimed warm-up step; its own AdamW (fused when available, weight
    decay 0.01); gradients clipped to 1.0, as the Trainer. The models' weights change.

    Returns ``{name: TrainingTiming}``: the timed steps and their extrapolation to one epoch
    (every mode's epoch holds the same real tokens, so epoch figures compare batchings without
    the sampling noise of which windows the few timed steps drew). Raises ValueError for
    ``steps < 1`` or an entry without windows.
    """
    if steps < 1:
        raise ValueError("time_training needs steps >= 1")
    plan = {name: _plan(name, e, steps, seed, lr) for name, e in entries.items()}
    for p in plan.values():  # warm-up (lazy optimizer state, allocator, kernels)
        _step(p, p.batches[0], device, bf16)
    sync(device)
    names = list(plan)
    rounds = max(len(p.batches) for p in plan.values())
    for i in progress(range(rounds), enabled=show_progress, file=progress_file,
                      desc="training steps", unit="round", leave=False):
        for name in names if i % 2 == 0 else reversed(names):
            p = plan[name]
            if i >= len(p.batches):
                continue
            batch = p.batches[i]
            t0, c0 = time.perf_counter(), time.process_time()
            _step(p, batch, device, bf16)
            sync(device)
            p.times.append(time.perf_counter() - t0)
            p.cpu.append(time.process_time() - c0)
            p.real += int(batch["attention_mask"].sum())
            p.padded += int(batch["attention_mask"].numel())
    for p in plan.values():
        p.entry.model.eval()
    return {name: p.timing() for name, p in plan.items()}


def time_passes(fns: dict[str, Callable[[], object]], passes: int, device="cpu", *,
                show_progress: bool = False, progress_file=None
                ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Run each callable in ``fns`` ``passes`` times, alternating their order every pass.
    Returns ``({name: [wall seconds per pass]}, {name: [process CPU seconds per pass]})``."""
    names = list(fns)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for p in progress(range(passes), enabled=show_progress, file=progress_file,
                      desc="inference passes", unit="pass", leave=False):
        for name in names if p % 2 == 0 else reversed(names):
            t0, c0 = time.perf_counter(), time.process_time()
            fns[name]()
            sync(device)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return wall, cpu
