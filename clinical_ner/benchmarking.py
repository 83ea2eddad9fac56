"""Speed, size, memory and F1 of NER models side by side (``benchmark.py``).

Two modes:

* **real** (default): for each model x task, a finished run folder (``--runs minilm=runs/x`` or
  ``runs/<task>_<model>``; trained with ``train_ner.py`` when missing) is measured on the whole
  notes of one split (default test) of the corpus;
* **architecture-only** (``--architecture_only``): randomly initialised models built from the real
  configurations (DistilBERT-base, BERT-base; BioBERT and Bio_ClinicalBERT share BERT-base) with
  the real tokenizers' vocabulary size, fed the real corpus' windows, so runtime, disk and memory
  ratios can be measured with no Hub access. Scores are null there.

Size and peak memory are measured in a fresh subprocess per model (``python -m
clinical_ner.benchmarking SPEC OUT``) so that the peak is the model's own (CPU: peak resident set
size, which never goes down within a process; GPU: ``torch.cuda.max_memory_allocated``). Times
are measured in one more subprocess holding all models, their passes and steps interleaved, so
that load from other jobs on shared cores falls on every model alike.

Units and definitions (also written into ``results.json`` under ``definitions``):

* MB = 10**6 bytes everywhere (disk and memory);
* disk = bytes of the ``*.safetensors`` files written by ``save_pretrained`` (fp32, and an fp16
  copy of the same state dict), the 8-byte length and JSON header included;
* inference tokens = the notes' sub-tokens (no special tokens, overlapping window parts counted
  once), so throughputs of models sharing a tokenizer, and of the pipeline, are comparable;
* inference pass = all selected notes through :func:`clinical_ner.inference.predict_documents`
  (batched windows, sorted by length, dynamic padding); figures are the median of the timed
  passes after a warm-up on a few notes; latency = one note per call, p50/p95 over the notes;
* training steps = full optimizer steps (forward, backward, clip to 1.0, AdamW) on pre-collated
  batches drawn evenly across one epoch's batch order; tokens/s counts real (non-pad) tokens;
* side by side (real mode): inference against ``transformers.pipeline("token-classification",
  aggregation_strategy="first", stride=...)`` note by note, this project with
  ``window_merge="longest"`` (the pipeline's merge, so the spans are expected to be identical
  for right-padding tokenizers, see :mod:`clinical_ner.inference`; the default
  ``"central"`` merge is reported beside it), and training with this project's batching against
  every window padded to ``max_seq_length``, over the run's own first epoch of windows;
  ``--side_by_side_lengths`` repeats both at other window settings.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

MB = 1e6
ROOT = Path(__file__).resolve().parents[1]
PHYSIONET_DIR = "../shared/data/physionet-deid-i2b2"
DEMO_DIR = str(ROOT / "data_scripts" / "demo_i2b2_2014")

#: Vocabulary sizes of the real tokenizers (no Hub access here), with their source.
REAL_VOCAB_SIZES: dict[str, tuple[int, str]] = {
    "distilbert": (28996, "distilbert-base-cased config.json vocab_size (bert-base-cased vocab)"),
    "bert": (28996, "bert-base-cased config.json vocab_size"),
    "biobert": (28996, "dmis-lab/biobert-base-cased-v1.2 config.json vocab_size "
                       "(BioBERT keeps the bert-base-cased WordPiece vocabulary)"),
    "clinicalbert": (28996, "emilyalsentzer/Bio_ClinicalBERT config.json vocab_size "
                            "(initialised from BioBERT v1.0, bert-base-cased vocabulary)"),
}

#: Model alias -> architecture measured in architecture-only mode.
ARCHITECTURES: dict[str, str] = {
    "distilbert": "distilbert-base", "bert": "bert-base", "biobert": "bert-base",
    "clinicalbert": "bert-base",
}

ROW_KEYS = ("model", "task", "params", "disk_mb_fp32", "disk_mb_fp16", "peak_mem_mb",
            "train_seconds", "train_tokens_per_s", "infer_tokens_per_s", "infer_notes_per_s",
            "latency_p50_ms", "latency_p95_ms", "f1", "f1_ci")

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


@dataclass
class BenchmarkArguments:
    """Arguments of ``benchmark.py``. Sizes left at None take the mode's default (see
    :data:`MODE_DEFAULTS`)."""

    models: str = field(default="distilbert,bert", metadata={
        "help": "Comma-separated model aliases (distilbert, bert, biobert, clinicalbert, minilm) "
                "or local model folders."})
    tasks: str = field(default="phi", metadata={"help": "Comma-separated tasks (e.g. phi)."})
    reference: str = field(default="bert", metadata={
        "help": "Model the ratios are computed against."})
    architecture_only: bool = field(default=False, metadata={
        "help": "Random models from the real configurations (no Hub access needed): speed, size "
                "and memory only."})
    runs: str = field(default="", metadata={
        "help": "Finished run folders to reuse: 'minilm=runs/phi_minilm,bert/phi=runs/x'."})
    runs_dir: str = field(default="runs", metadata={
        "help": "Where run folders <task>_<model> are looked for (and trained when missing)."})
    train_missing: bool = field(default=True, metadata={
        "help": "Fine-tune with train_ner.py when a model has no run folder (real mode)."})
    train_args: str = field(default="", metadata={
        "help": "Extra train_ner.py arguments for --train_missing, one string."})
    data_dir: str = field(default=PHYSIONET_DIR, metadata={
        "help": "Corpus folder; the default falls back to the shipped demo corpus when absent."})
    format: str = field(default="i2b2_2014", metadata={"help": "Corpus format."})
    split: str = field(default="test", metadata={"help": "Split whose whole notes are run."})
    max_documents: int = field(default=None, metadata={
        "help": "Notes of the split to run (evenly spaced sample); None: all (real), 30 (arch)."})
    train_documents: int = field(default=None, metadata={
        "help": "Training notes whose windows feed the timed training steps (None: all)."})
    max_seq_length: int = field(default=256, metadata={
        "help": "Window length (architecture-only; real runs use their clinical_ner.json)."})
    doc_stride: int = field(default=64, metadata={"help": "Window overlap (architecture-only)."})
    passes: int = field(default=None, metadata={
        "help": "Timed inference passes (median reported); None: 3 (real), 2 (arch)."})
    warmup_documents: int = field(default=4, metadata={"help": "Notes of the warm-up pass."})
    latency_documents: int = field(default=None, metadata={
        "help": "Notes timed one by one for latency (None: all selected notes)."})
    eval_batch_size: int = field(default=32, metadata={"help": "Inference batch (windows)."})
    train_batch_size: int = field(default=None, metadata={
        "help": "Training batch; None: the run's per_device_train_batch_size or 16 (real), 8 "
                "(arch)."})
    train_steps: int = field(default=None, metadata={
        "help": "Timed optimizer steps per batching mode; None: 40 (real), 5 (arch); 0 skips."})
    side_by_side: bool = field(default=None, metadata={
        "help": "Compare with transformers.pipeline and with pad-to-max training; None: on in "
                "real mode, off in architecture-only mode (no pipeline there)."})
    side_by_side_model: str = field(default="", metadata={
        "help": "Model of the side-by-side comparison (default: the first model)."})
    side_by_side_lengths: str = field(default="", metadata={
        "help": "Also time the training side by side at these window settings, "
                "'MAX_SEQ_LENGTH:DOC_STRIDE,...' (e.g. '256:64,512:128'), with the same model."})
    tokenizer: str = field(default="minilm", metadata={
        "help": "Architecture-only: tokenizer that cuts the real notes into windows (its ids are "
                "mapped into the target vocabulary, id mod vocab_size)."})
    config_overrides: str = field(default="", metadata={
        "help": "Architecture-only: JSON {alias: {config field: value}} (e.g. tiny test configs)."})
    device: str = field(default="cpu", metadata={"help": "cpu, cuda or auto."})
    bf16: bool = field(default=False, metadata={
        "help": "bfloat16 autocast for inference and training (GPU)."})
    threads: int = field(default=None, metadata={"help": "torch threads (None: torch default)."})
    seed: int = field(default=42, metadata={"help": "Seed of model init and batch order."})
    bootstrap: int = field(default=1000, metadata={"help": "Bootstrap resamples for the F1 CI."})
    isolate: bool = field(default=True, metadata={
        "help": "One subprocess per model (needed for peak CPU memory; off: memory is null)."})
    output_dir: str = field(default=None, metadata={
        "help": "Output folder; None: benchmarks/results/architecture_only or .../real."})


#: Mode defaults for the arguments left at None.
MODE_DEFAULTS = {
    "real": dict(max_documents=None, passes=3, train_steps=40, train_batch_size=16,
                 side_by_side=True),
    "arch": dict(max_documents=30, passes=2, train_steps=5, train_batch_size=8,
                 side_by_side=False),
}


# ------------------------------------------------------------------------------- models and size


def real_config(alias: str, num_labels: int, overrides: dict | None = None):
    """The real configuration of ``alias``'s architecture (DistilBERT-base or BERT-base, with
    the real vocabulary size from :data:`REAL_VOCAB_SIZES`) for token classification with
    ``num_labels`` classes; ``overrides`` replace config fields. Raises KeyError for an alias with
    no known architecture."""
    from transformers import BertConfig, DistilBertConfig

    arch = ARCHITECTURES[alias]
    kwargs = dict(vocab_size=REAL_VOCAB_SIZES[alias][0], num_labels=num_labels)
    kwargs.update(overrides or {})
    # Library defaults are the base models: DistilBERT dim 768, 6 layers, 12 heads, FFN 3072;
    # BERT hidden 768, 12 layers, 12 heads, FFN 3072, 2 token types; both 512 positions.
    return DistilBertConfig(**kwargs) if arch == "distilbert-base" else BertConfig(**kwargs)


def build_arch_model(alias: str, num_labels: int, overrides: dict | None = None, seed: int = 0):
    """A randomly initialised ``AutoModelForTokenClassification`` from :func:`real_config`
    (``torch.manual_seed(seed)`` first), in eval mode on CPU, fp32."""
    import torch
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(seed)
    config = real_config(alias, num_labels, overrides)
    return AutoModelForTokenClassification.from_config(config).eval()


def count_parameters(model) -> int:
    """Number of parameters (each shared tensor once)."""
    return sum(p.numel() for p in model.parameters())


def embedding_parameters(model) -> int:
    """Parameters of the embedding layers (word, position, token type, their LayerNorm): the
    part of the model whose cost is a lookup, not a matrix product per token."""
    return sum(p.numel() for n, p in model.named_parameters() if ".embeddings." in f".{n}")


def safetensors_header_length(path: str | Path) -> int:
    """Length in bytes of a safetensors file's JSON header (the little-endian u64 that starts
    the file). The file is ``8 + header_length + tensor bytes`` long."""
    with open(path, "rb") as f:
        return int.from_bytes(f.read(8), "little")


def safetensors_bytes(folder: str | Path) -> int:
    """Total bytes of the ``*.safetensors`` files in ``folder``. Raises FileNotFoundError when
    there is none."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder}: no *.safetensors file")
    return sum(f.stat().st_size for f in files)


def save_sizes(model, folder: str | Path | None = None) -> dict:
    """Save ``model`` with ``save_pretrained`` (safetensors) in fp32 and as an fp16 copy of the
    same state dict; return ``{"disk_bytes_fp32", "disk_bytes_fp16", "disk_mb_fp32",
    "disk_mb_fp16"}`` (MB = 10**6 bytes). Files go to ``folder``/fp32 and /fp16 (a temporary
    folder, removed, when None). The model itself is not changed."""
    import torch

    def _save(root: Path) -> dict:
        sd = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
        # save_pretrained pops the tensors out of the dict it is given: pass copies
        model.save_pretrained(root / "fp32", state_dict=dict(sd))
        b32 = safetensors_bytes(root / "fp32")
        model.save_pretrained(root / "fp16", state_dict={k: v.half() for k, v in sd.items()})
        b16 = safetensors_bytes(root / "fp16")
        return {"disk_bytes_fp32": b32, "disk_bytes_fp16": b16,
                "disk_mb_fp32": round(b32 / MB, 3), "disk_mb_fp16": round(b16 / MB, 3)}

    if folder is not None:
        return _save(Path(folder))
    with tempfile.TemporaryDirectory(prefix="bench_size_") as tmp:
        return _save(Path(tmp))


def _vocab_map_module(inner, vocab_size: int):
    """Wrap ``inner`` so that ``input_ids`` are taken modulo ``vocab_size`` (architecture-only:
    a real tokenizer's ids fed to a model with another real vocabulary size)."""
    import torch

    class VocabMap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner
            self.config = inner.config

        def forward(self, input_ids=None, **kwargs):
            return self.inner(input_ids=torch.remainder(input_ids, vocab_size), **kwargs)

    return VocabMap()


# ----------------------------------------------------------------------------------- measurement


def current_rss_mb() -> float:
    """Resident set size of this process now, MB (10**6 bytes)."""
    import psutil

    return psutil.Process().memory_info().rss / MB


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux ``ru_maxrss`` is in KiB)."""
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (kib if sys.platform == "darwin" else kib * 1024) / MB  # macOS reports bytes


def percentile(values, q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation) or None for no values."""
    import numpy as np

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


def note_token_count(tokenizer, texts) -> tuple[int, list]:
    """``(sub-tokens, tokenized notes)``: the notes' sub-tokens as :func:`predict_documents` cuts
    them (words of :func:`split_words`, no special tokens, each sub-token once) and the
    :class:`~clinical_ner.windows.TokenizedDoc` list."""
    from clinical_ner.labels import split_words
    from clinical_ner.windows import tokenize_documents

    toks = tokenize_documents(tokenizer, texts, [split_words(t) for t in texts])
    return sum(len(t.ids) for t in toks), toks


def count_windows(tokenizer, toks, max_seq_length: int, doc_stride: int) -> list[int]:
    """Windows per note (:func:`clinical_ner.windows.window_starts`) for tokenized notes."""
    from clinical_ner.windows import special_affixes, window_starts

    pre, suf = special_affixes(tokenizer)
    content = max_seq_length - len(pre) - len(suf)
    return [len(window_starts(len(t.ids), content, doc_stride)) for t in toks]


def window_lengths(tokenizer, toks, max_seq_length: int, doc_stride: int) -> list[list[int]]:
    """Per note, the length (special tokens included) of each of its windows."""
    from clinical_ner.windows import special_affixes, window_starts

    pre, suf = special_affixes(tokenizer)
    content = max_seq_length - len(pre) - len(suf)
    return [[min(content, len(td.ids) - s) + len(pre) + len(suf)
             for s in window_starts(len(td.ids), content, doc_stride)] for td in toks]


def padded_positions(lengths: list[list[int]], batch_size: int) -> dict:
    """Token positions (padding included) the model runs over, two ways: ``batched`` = all
    windows of all notes sorted by length, in batches of ``batch_size`` padded to their longest
    (:func:`clinical_ner.inference.predict_documents`); ``per_note`` = every note's windows
    padded to the note's longest window, one window per forward call (what the token
    classification pipeline with ``stride`` does). ``real`` = the windows' own lengths."""
    flat = sorted(n for ls in lengths for n in ls)
    batched = sum(max(flat[i : i + batch_size]) * len(flat[i : i + batch_size])
                  for i in range(0, len(flat), batch_size))
    per_note = sum(max(ls) * len(ls) for ls in lengths if ls)
    return {"real": sum(flat), "batched": batched, "per_note": per_note}


def spans_as_keys(spans) -> set[tuple[int, int, str]]:
    """``{(start, end, label)}`` of Span objects or pipeline entity dicts (``start``, ``end``,
    ``entity_group``)."""
    out = set()
    for s in spans:
        if isinstance(s, dict):
            out.add((int(s["start"]), int(s["end"]), str(s["entity_group"])))
        else:
            out.add((s.start, s.end, s.label))
    return out


def overlap_char_ranges(tokenizer, toks, words, max_seq_length: int, doc_stride: int
                        ) -> list[list[tuple[int, int]]]:
    """Per note, the character ranges ``(start, end)`` covered by two consecutive windows (the
    ``doc_stride`` overlaps of :func:`clinical_ner.windows.make_windows`); empty for one-window
    notes. ``toks``: :class:`~clinical_ner.windows.TokenizedDoc` per note, ``words``: the
    notes' :func:`split_words` offsets."""
    from clinical_ner.windows import special_affixes, window_starts

    pre, suf = special_affixes(tokenizer)
    content = max_seq_length - len(pre) - len(suf)
    out = []
    for td, ws in zip(toks, words, strict=True):
        starts = window_starts(len(td.ids), content, doc_stride)
        ranges = []
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            last = min(a + content, len(td.ids)) - 1  # last sub-token of window a
            ranges.append((ws[td.word_of[b]][0], ws[td.word_of[last]][1]))
        out.append(ranges)
    return out


def compare_span_sets(ours: list[set], theirs: list[set], *, doc_ids: list[str],
                      overlaps: list[list[tuple[int, int]]],
                      word_bounds: list[tuple[set, set]], max_examples: int = 20) -> dict:
    """Compare two systems' spans note by note (exact ``(start, end, type)`` sets).

    ``overlaps[i]``: character ranges of note i covered by two windows
    (:func:`overlap_char_ranges`); ``word_bounds[i]``: (word starts, word ends) of note i under
    :func:`clinical_ner.labels.split_words`. Each differing span gets a reason, first match
    wins: ``word_boundary`` (it starts or ends inside one of our words: the pipeline's words
    differ), ``window_overlap`` (it touches a region covered by two windows: the pipeline
    predicts each window on its own and keeps the longest of overlapping entities, we keep per
    word the window where it is most central) or ``other``. Returns counts (also
    ``single_window_notes`` and ``single_window_notes_identical``) and up to ``max_examples``
    examples (ids and offsets only, never note text).
    """
    both = only_ours = only_theirs = 0
    notes_diff = single = single_same = 0
    reasons: dict[str, int] = {}
    examples = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        both += len(a & b)
        if not overlaps[i]:
            single += 1
            single_same += a == b
        if a == b:
            continue
        notes_diff += 1
        starts, ends = word_bounds[i]
        for side, diff in (("ours_only", a - b), ("pipeline_only", b - a)):
            for s, e, lab in sorted(diff):
                if s not in starts or e not in ends:
                    reason = "word_boundary"
                elif any(s < hi and lo < e for lo, hi in overlaps[i]):
                    reason = "window_overlap"
                else:
                    reason = "other"
                reasons[reason] = reasons.get(reason, 0) + 1
                if side == "ours_only":
                    only_ours += 1
                else:
                    only_theirs += 1
                if len(examples) < max_examples:
                    examples.append({"doc_id": doc_ids[i], "start": s, "end": e, "type": lab,
                                     "side": side, "reason": reason,
                                     "windows": len(overlaps[i]) + 1})
    return {"notes": len(ours), "notes_differing": notes_diff,
            "spans_ours": sum(len(a) for a in ours), "spans_pipeline": sum(len(b) for b in theirs),
            "spans_in_both": both, "spans_only_ours": only_ours,
            "spans_only_pipeline": only_theirs, "differences_by_reason": reasons,
            "single_window_notes": single, "single_window_notes_identical": single_same,
            "identical": notes_diff == 0, "examples": examples}


def _sync(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _autocast(device, bf16: bool):
    import contextlib

    import torch

    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda" if str(device).startswith("cuda") else "cpu",
                          dtype=torch.bfloat16)


def training_batches(windows: list[dict], batch_size: int, mode: str, seed: int) -> list[list]:
    """One epoch's batches of window indices.

    ``mode="dynamic"``: the Trainer's ``group_by_length`` order
    (:func:`transformers.trainer_pt_utils.get_length_grouped_indices`, seeded), each batch later
    padded to its longest window; ``mode="pad_to_max"``: a seeded random order (every batch is
    padded to max_seq_length anyway). Raises ValueError for another mode.
    """
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    gen = torch.Generator().manual_seed(seed)
    if mode == "dynamic":
        order = get_length_grouped_indices([len(w["input_ids"]) for w in windows], batch_size,
                                           generator=gen)
    elif mode == "pad_to_max":
        order = torch.randperm(len(windows), generator=gen).tolist()
    else:
        raise ValueError(f"unknown batching mode {mode!r}")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def time_training(entries: dict, *, steps: int, seed: int, device="cpu", bf16: bool = False,
                  lr: float = 1e-4) -> dict:
    """Time ``steps`` optimizer steps for each entry, the entries' steps interleaved.

    ``entries``: ``{name: {"model", "tokenizer", "windows", "mode", "batch_size",
    "max_seq_length"}}``; ``windows`` are dicts with input_ids, attention_mask and labels;
    ``mode`` is ``"dynamic"`` or ``"pad_to_max"`` (:func:`training_batches`). Several entries
    may share a model (side by side of two batchings) or hold different models (model against
    model); the timed steps alternate between entries (in reversed order every other round), so
    load from other processes on shared cores falls on all of them alike.

    Per entry, batches are drawn evenly across one epoch's order (the first, with length
    grouping the longest, always included) and collated beforehand with
    ``DataCollatorForTokenClassification`` (``padding=True``, or ``"max_length"`` to
    ``max_seq_length``); one untimed warm-up step; its own AdamW (fused when available, weight
    decay 0.01); gradients clipped to 1.0, as the Trainer. The models' weights change.

    Returns ``{name: {steps, batch_size, mode, seconds, mean_step_seconds, step_seconds,
    cpu_seconds, real_tokens, padded_tokens, real_tokens_per_s, real_tokens_per_cpu_s,
    padded_tokens_per_s, padding_fraction, epoch_batches, epoch_seconds_est,
    epoch_cpu_seconds_est, epoch_real_tokens, epoch_real_tokens_per_s}}``: figures of the timed
    steps (CPU seconds of this process, all threads) and their extrapolation to one epoch
    (batches per epoch x mean step; every mode's epoch holds the same real tokens, so epoch
    figures compare batchings without the sampling noise of which windows the few timed steps
    drew). Raises ValueError for ``steps < 1`` or an entry without windows.
    """
    import numpy as np
    import torch
    from transformers import DataCollatorForTokenClassification

    if steps < 1:
        raise ValueError("time_training needs steps >= 1")
    keys = ("input_ids", "attention_mask", "labels")
    plan = {}
    for name, e in entries.items():
        if not e["windows"]:
            raise ValueError(f"{name}: no training windows")
        feats = [{k: w[k] for k in keys} for w in e["windows"]]
        batches = training_batches(e["windows"], e["batch_size"], e["mode"], seed)
        sel = sorted(set(np.linspace(0, len(batches) - 1, steps).round().astype(int).tolist()))
        collator = (DataCollatorForTokenClassification(e["tokenizer"], padding=True)
                    if e["mode"] == "dynamic" else DataCollatorForTokenClassification(
                        e["tokenizer"], padding="max_length", max_length=e["max_seq_length"]))
        collated = [collator([feats[i] for i in batches[j]]) for j in sel]
        model = e["model"]
        try:
            opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=True)
        except (RuntimeError, TypeError):
            opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        plan[name] = {"model": model, "batches": collated, "opt": opt,
                      "epoch_batches": len(batches), "times": [], "cpu": [], "real": 0,
                      "padded": 0,
                      "epoch_real": sum(sum(w["attention_mask"]) for w in e["windows"])}

    def step(p, batch) -> None:
        model = p["model"]
        model.train()
        batch = {k: v.to(device) for k, v in batch.items()}
        with _autocast(device, bf16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        p["opt"].step()
        p["opt"].zero_grad(set_to_none=True)

    for p in plan.values():  # warm-up (lazy optimizer state, allocator, kernels)
        step(p, p["batches"][0])
    _sync(device)
    names = list(plan)
    for i in range(max(len(p["batches"]) for p in plan.values())):
        for name in names if i % 2 == 0 else reversed(names):
            p = plan[name]
            if i >= len(p["batches"]):
                continue
            batch = p["batches"][i]
            t0, c0 = time.perf_counter(), time.process_time()
            step(p, batch)
            _sync(device)
            p["times"].append(time.perf_counter() - t0)
            p["cpu"].append(time.process_time() - c0)
            p["real"] += int(batch["attention_mask"].sum())
            p["padded"] += int(batch["attention_mask"].numel())
    out = {}
    for name, p in plan.items():
        p["model"].eval()
        secs, cpu = sum(p["times"]), sum(p["cpu"])
        mean = secs / len(p["times"])
        out[name] = {"steps": len(p["times"]), "batch_size": entries[name]["batch_size"],
                     "mode": entries[name]["mode"], "seconds": round(secs, 4),
                     "mean_step_seconds": round(mean, 4),
                     "step_seconds": [round(t, 4) for t in p["times"]],
                     "cpu_seconds": round(cpu, 4), "real_tokens": p["real"],
                     "padded_tokens": p["padded"],
                     "real_tokens_per_s": round(p["real"] / secs, 1),
                     "real_tokens_per_cpu_s": round(p["real"] / cpu, 1) if cpu else None,
                     "padded_tokens_per_s": round(p["padded"] / secs, 1),
                     "padding_fraction": round(1 - p["real"] / p["padded"], 4),
                     "epoch_batches": p["epoch_batches"],
                     "epoch_seconds_est": round(p["epoch_batches"] * mean, 1),
                     "epoch_cpu_seconds_est": round(p["epoch_batches"] * cpu / len(p["cpu"]), 1),
                     "epoch_seconds_raw": p["epoch_batches"] * mean,
                     "epoch_cpu_seconds_raw": p["epoch_batches"] * cpu / len(p["cpu"]),
                     "epoch_real_tokens": p["epoch_real"],
                     "epoch_real_tokens_per_s": round(p["epoch_real"]
                                                      / (p["epoch_batches"] * mean), 1)}
    return out


def time_passes(fns: dict, passes: int, device="cpu") -> tuple[dict, dict]:
    """Run each callable in ``fns`` ``passes`` times, alternating their order every pass.
    Returns ``({name: [wall seconds per pass]}, {name: [process CPU seconds per pass]})``; CPU
    seconds (all threads of this process) move less than wall time when other processes share
    the cores."""
    names = list(fns)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for p in range(passes):
        for name in names if p % 2 == 0 else reversed(names):
            t0, c0 = time.perf_counter(), time.process_time()
            fns[name]()
            _sync(device)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return wall, cpu


# ------------------------------------------------------------------------------------ the worker

_DOCS_CACHE: dict = {}


def _load_docs(fmt: str, data_dir: str, task, split: str):
    """Documents per split, mapped to the task's labels (cached per process)."""
    from data_scripts import load_corpus

    key = (fmt, str(data_dir))
    if key not in _DOCS_CACHE:
        _DOCS_CACHE[key] = load_corpus(fmt, data_dir)[0]
    splits = _DOCS_CACHE[key]
    if not splits.get(split):
        raise ValueError(f"{data_dir}: the {split} split is empty or missing")
    return {k: [task.map_document(d) for d in v] for k, v in splits.items()}


def _prepare(spec: dict, ms: dict, device: str) -> dict:
    """Tokenizer, notes, windows and model of one model spec ``ms`` (see :func:`measure`)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from clinical_ner.models import resolve_model
    from clinical_ner.tasks import get_task

    task = get_task(ms["task"], spec["format"], ms.get("granularity", "type"))
    docs = _load_docs(spec["format"], spec["data_dir"], task, spec["split"])
    test_docs = evenly_spaced(docs[spec["split"]], spec.get("max_documents"))
    texts = [d.text for d in test_docs]
    max_len, stride = ms["max_seq_length"], ms["doc_stride"]
    tok_path = resolve_model(ms["tokenizer"]) if ms["kind"] == "arch" else ms["run_dir"]
    tokenizer = AutoTokenizer.from_pretrained(tok_path)
    n_tokens, toks = note_token_count(tokenizer, texts)
    n_windows = count_windows(tokenizer, toks, max_len, stride)
    info = {"documents": len(texts), "note_tokens": n_tokens, "windows": sum(n_windows),
            "multi_window_documents": sum(n > 1 for n in n_windows), "max_seq_length": max_len,
            "doc_stride": stride, "tokenizer_vocab": len(tokenizer),
            "tokenizer_class": type(tokenizer).__name__}
    ctx = {"ms": ms, "task": task, "docs": docs, "test_docs": test_docs, "texts": texts,
           "tokenizer": tokenizer, "toks": toks, "n_tokens": n_tokens, "info": info}
    ctx["baseline_rss_mb"] = current_rss_mb()
    t0 = time.perf_counter()
    bio = task.scheme.bio_labels
    if ms["kind"] == "arch":
        inner = build_arch_model(ms["alias"], len(bio), ms.get("overrides"), spec["seed"])
        inner.config.id2label = dict(enumerate(bio))
        inner.config.label2id = {v: k for k, v in enumerate(bio)}
        vocab = inner.config.vocab_size
        model = _vocab_map_module(inner, vocab) if len(tokenizer) > vocab else inner
        info.update(architecture=ARCHITECTURES[ms["alias"]],
                    vocab_source=REAL_VOCAB_SIZES[ms["alias"]][1],
                    config={k: v for k, v in inner.config.to_dict().items()
                            if isinstance(v, (int, float, str)) and k != "transformers_version"})
    else:
        inner = AutoModelForTokenClassification.from_pretrained(ms["run_dir"])
        model = inner
        info["architecture"] = inner.config.model_type
    info["load_seconds"] = round(time.perf_counter() - t0, 2)
    cfg = inner.config
    info.update(vocab_size=cfg.vocab_size, params=count_parameters(inner),
                embedding_params=embedding_parameters(inner),
                layers=getattr(cfg, "num_hidden_layers", None) or getattr(cfg, "n_layers", None),
                hidden_size=getattr(cfg, "hidden_size", None) or getattr(cfg, "dim", None))
    model.to(device).eval()
    ctx.update(inner=inner, model=model,
               id2label={int(k): v for k, v in inner.config.id2label.items()},
               kw=dict(max_seq_length=max_len, doc_stride=stride,
                       batch_size=spec["eval_batch_size"], device=device))
    return ctx


def _predict(ctx: dict, texts, device, bf16: bool, window_merge: str = "central"):
    from clinical_ner.inference import predict_documents

    with _autocast(device, bf16):
        return predict_documents(ctx["model"], ctx["tokenizer"], texts, ctx["id2label"],
                                 window_merge=window_merge, **ctx["kw"])


def _score(ctx: dict, spans_per_note, bootstrap: int = 0, seed: int = 0) -> dict:
    """:func:`clinical_ner.evaluation.score_documents` of one system's spans on the benchmarked
    notes; ``spans_per_note``: per note, Span objects or pipeline entity dicts with entity types
    (mapped to the task's span labels)."""
    from clinical_ner.documents import Document, Span
    from clinical_ner.evaluation import score_documents

    lab = ctx["task"].scheme.span_label_of
    preds = [Document(d.id, d.text, tuple(sorted(Span(s, e, lab(t))
                                                 for s, e, t in spans_as_keys(sp))))
             for d, sp in zip(ctx["test_docs"], spans_per_note, strict=True)]
    return score_documents(ctx["test_docs"], preds, ctx["task"].metric_scheme,
                           bootstrap=bootstrap, seed=seed)


def _strict_f1(ctx: dict, spans_per_note) -> dict:
    """Strict micro P/R/F1 and counts of one system's spans (:func:`_score`, no bootstrap)."""
    micro = _score(ctx, spans_per_note)["strict"]["micro"]
    return {k: micro[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn") if k in micro}


def _ratio(a, b, nd: int = 3) -> float | None:
    """``a / b`` rounded, None when ``b`` is 0 or either is missing."""
    return round(a / b, nd) if a is not None and b else None


def _train_windows(ctx: dict, spec: dict, max_seq_length: int | None = None,
                   doc_stride: int | None = None) -> list[dict]:
    """One epoch's training windows of the model spec's run (window settings overridable):
    with ``negative_window_keep`` < 1, the run's first-epoch draw
    (:class:`~clinical_ner.training.NegativeSubsampler`, the run's seed). The notes are the
    benchmark's (``--data_dir`` train split, ``--train_documents``): the run's own when it was
    trained on that corpus with the default split and all training notes."""
    from clinical_ner.training import build_windows

    ms = ctx["ms"]
    sweep = max_seq_length is not None
    train_docs = ctx["docs"].get("train", [])[: spec.get("train_documents")]
    wins = build_windows(ctx["tokenizer"], train_docs, ctx["task"],
                         ms["max_seq_length"] if max_seq_length is None else max_seq_length,
                         ms["doc_stride"] if doc_stride is None else doc_stride)
    keep = ms.get("negative_window_keep", 1.0)
    n_all = len(wins)
    if keep < 1:  # the run's first epoch: its windows with entities + its draw of the others
        from clinical_ner.training import NegativeSubsampler, windows_with_entity

        has_entity = windows_with_entity(wins)
        drawn = NegativeSubsampler(has_entity, keep, ms.get("train_seed", 42)).epoch_indices(0)
        wins = [wins[i] for i in sorted(drawn)]
    vocab = ctx["inner"].config.vocab_size
    if len(ctx["tokenizer"]) > vocab:  # architecture-only: ids into the target vocabulary
        for w in wins:
            w["input_ids"] = [i % vocab for i in w["input_ids"]]
    if not sweep:
        ctx["info"].update(train_windows=len(wins), train_documents=len(train_docs))
        if keep < 1:
            ctx["info"].update(train_windows_all=n_all, negative_window_keep=keep)
    return wins


def _train_entry(ctx: dict, wins: list[dict], mode: str, max_seq_length: int | None = None
                 ) -> dict:
    ms = ctx["ms"]
    return {"model": ctx["inner"], "tokenizer": ctx["tokenizer"], "windows": wins, "mode": mode,
            "batch_size": ms["train_batch_size"],
            "max_seq_length": ms["max_seq_length"] if max_seq_length is None else max_seq_length}


def _each_setting(measure_one, ctx: dict, spec: dict, device: str, bf16: bool) -> list[dict]:
    """``measure_one(ctx, spec, device, bf16, max_seq_length, doc_stride)`` for every setting of
    ``spec["side_by_side_lengths"]``; a setting that raises gets ``{"max_seq_length",
    "doc_stride", "error"}`` and the others still run."""
    rows = []
    for length, stride in spec.get("side_by_side_lengths") or []:
        try:
            rows.append(measure_one(ctx, spec, device, bf16, length, stride))
        except Exception as exc:  # noqa: BLE001 - one setting's failure is reported in its row
            rows.append({"max_seq_length": length, "doc_stride": stride,
                         "error": f"{type(exc).__name__}: {exc}"})
    return rows


def _inference_sweep(ctx: dict, spec: dict, device: str, bf16: bool) -> list[dict]:
    """This project's batched inference (``window_merge="longest"``) against the token
    classification pipeline note by note at other window settings
    (``spec["side_by_side_lengths"]``), the same model and notes, ``spec["passes"]`` timed
    passes interleaved after a warm-up. Per setting: speedup (median wall and CPU time), both
    systems' tokens/s, windows, and whether every note's spans are identical; a setting that
    fails gets ``{"max_seq_length", "doc_stride", "error"}`` and the others still run."""
    return _each_setting(_inference_setting, ctx, spec, device, bf16)


def _inference_setting(ctx: dict, spec: dict, device: str, bf16: bool, length: int,
                       stride: int) -> dict:
    """One setting of :func:`_inference_sweep`."""
    from transformers import AutoTokenizer, pipeline

    texts = ctx["texts"]
    c = dict(ctx, kw=dict(ctx["kw"], max_seq_length=length, doc_stride=stride))
    ptok = AutoTokenizer.from_pretrained(ctx["ms"]["run_dir"])
    ptok.model_max_length = length
    ner = pipeline("token-classification", model=ctx["inner"], tokenizer=ptok,
                   aggregation_strategy="first", stride=stride, device=device)
    res: dict = {}

    def ours(sub=texts, c=c, res=res):
        res["ours"] = _predict(c, sub, device, bf16, "longest")

    def pipe(sub=texts, ner=ner, res=res):
        with _autocast(device, bf16):
            res["pipeline"] = [ner(t) for t in sub]

    fns = {"ours": ours, "pipeline": pipe}
    for fn in fns.values():
        fn(texts[: spec.get("warmup_documents", 4)])
    wall, cpu = time_passes(fns, spec["passes"], device)
    same = sum(spans_as_keys(a) == spans_as_keys(b)
               for a, b in zip(res["ours"], res["pipeline"], strict=True))
    windows = sum(count_windows(ctx["tokenizer"], ctx["toks"], length, stride))
    o, pm = median(wall["ours"]), median(wall["pipeline"])
    return {"max_seq_length": length, "doc_stride": stride, "windows": windows,
            "ours_tokens_per_s": round(ctx["n_tokens"] / o, 1),
            "pipeline_tokens_per_s": round(ctx["n_tokens"] / pm, 1),
            "speedup": _ratio(pm, o),
            "speedup_cpu_time": _ratio(median(cpu["pipeline"]), median(cpu["ours"])),
            "notes_identical": same, "notes": len(texts),
            "spans_identical": same == len(texts)}


def _training_sweep(ctx: dict, spec: dict, device: str, bf16: bool) -> list[dict]:
    """Dynamic padding + length grouping against pad-to-max at other window settings
    (``spec["side_by_side_lengths"]``: ``[[max_seq_length, doc_stride], ...]``), the same model,
    the run's epoch draw rule and batch size, ``spec["train_steps"]`` timed steps per mode; a
    setting that fails gets ``{"max_seq_length", "doc_stride", "error"}``."""
    return _each_setting(_training_setting, ctx, spec, device, bf16)


def _training_setting(ctx: dict, spec: dict, device: str, bf16: bool, length: int,
                      stride: int) -> dict:
    """One setting of :func:`_training_sweep`."""
    wins = _train_windows(ctx, spec, length, stride)
    tr = time_training({"dynamic": _train_entry(ctx, wins, "dynamic", length),
                        "pad_to_max": _train_entry(ctx, wins, "pad_to_max", length)},
                       steps=spec["train_steps"], seed=spec["seed"], device=device,
                       bf16=bf16)
    d, pm = tr["dynamic"], tr["pad_to_max"]
    return {
        "max_seq_length": length, "doc_stride": stride, "windows": len(wins),
        "steps": d["steps"], "batch_size": d["batch_size"],
        "dynamic_tokens_per_s": d["epoch_real_tokens_per_s"],
        "pad_to_max_tokens_per_s": pm["epoch_real_tokens_per_s"],
        "speedup": _ratio(pm["epoch_seconds_raw"], d["epoch_seconds_raw"]),
        "speedup_cpu_time": _ratio(pm["epoch_cpu_seconds_raw"], d["epoch_cpu_seconds_raw"]),
        "padding_bound": round(len(wins) * length / d["epoch_real_tokens"], 3),
        "dynamic_padding_fraction": d["padding_fraction"],
        "pad_to_max_padding_fraction": pm["padding_fraction"]}


def _device(spec: dict) -> str:
    import torch

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    device = spec.get("device") or "cpu"
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return device


def measure_memory(spec: dict) -> dict:
    """Size and peak memory of the one model in ``spec["models"]`` (run alone in its own
    subprocess by :func:`run_worker`, so the peak is its own).

    After loading the model: one inference pass over the notes (peak -> ``peak_mem_mb``), the
    fp32/fp16 saves (:func:`save_sizes`), then the first ``min(2, train_steps)`` of the timed
    training batches, the longest among them, with this project's batching (peak ->
    ``train_peak_mem_mb``). CPU: ``getrusage`` peak RSS, also as ``*_delta_mb`` above the RSS
    measured after the corpus and tokenizer were loaded (``peak_mem_baseline_mb``); GPU:
    ``torch.cuda.max_memory_allocated``. Without isolation (``spec["isolated"]`` false) the
    memory figures are None.
    """
    import torch

    device = _device(spec)
    cuda = device.startswith("cuda")
    ctx = _prepare(spec, spec["models"][0], device)
    out = dict(ctx["info"], device=device, bf16=bool(spec.get("bf16")),
               torch_threads=torch.get_num_threads())
    isolated = bool(spec.get("isolated"))

    def peak() -> float | None:
        if cuda:
            return round(torch.cuda.max_memory_allocated() / MB, 1)
        return round(peak_rss_mb(), 1) if isolated else None

    base = round(ctx["baseline_rss_mb"], 1) if isolated and not cuda else None
    out["peak_mem_baseline_mb"] = base
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    _predict(ctx, ctx["texts"], device, bool(spec.get("bf16")))
    out["peak_mem_mb"] = peak()
    out.update(save_sizes(ctx["inner"]))
    steps = min(2, spec.get("train_steps") or 0)
    if steps:
        wins = _train_windows(ctx, spec)
        out.update(ctx["info"])
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        time_training({"m": _train_entry(ctx, wins, "dynamic")}, steps=steps,
                      seed=spec["seed"], device=device, bf16=bool(spec.get("bf16")))
        out["train_peak_mem_mb"] = peak()
    if base is not None:
        for k in ("peak_mem", "train_peak_mem"):
            if out.get(f"{k}_mb") is not None:
                out[f"{k}_delta_mb"] = round(out[f"{k}_mb"] - base, 1)
    return out


def measure_timing(spec: dict) -> dict:
    """Time every model of ``spec["models"]`` in this one process, interleaved so that load
    from other processes on shared cores falls on all of them alike.

    ``spec``: data (``data_dir``, ``format``, ``split``, ``max_documents``,
    ``train_documents``), sizes (``passes``, ``warmup_documents``, ``latency_documents``,
    ``eval_batch_size``, ``train_steps``), ``device``, ``bf16``, ``threads``, ``seed``,
    ``bootstrap``, and ``models``: dicts with ``name``, ``kind`` (``"arch"``: ``alias``,
    ``overrides``, ``tokenizer``; ``"run"``: ``run_dir``), ``task``, ``granularity``,
    ``max_seq_length``, ``doc_stride``, ``train_batch_size``, ``side_by_side``.

    Steps: a warm-up on a few notes per system; ``passes`` timed passes over all notes, each
    pass running every system once (order reversed every other pass; the median is reported);
    latency note by note, systems alternating per note; strict F1 with a bootstrap CI of run
    models' predictions; interleaved training steps (:func:`time_training`). For a model with
    ``side_by_side``, ``transformers.pipeline`` (note by note, as documented) joins the passes
    and pad-to-max joins the training steps. Returns ``{name: measurements}``; a model that
    fails to load gets ``{"error": ...}``.
    """
    import torch

    from clinical_ner.labels import split_words

    device = _device(spec)
    bf16 = bool(spec.get("bf16"))
    ctxs, out = {}, {}
    for ms in spec["models"]:
        try:
            ctxs[ms["name"]] = _prepare(spec, ms, device)
        except Exception as exc:  # noqa: BLE001 - reported in the model's row
            out[ms["name"]] = {"error": f"{type(exc).__name__}: {exc}"}
    results: dict = {}
    fns: dict = {}
    for name, ctx in ctxs.items():
        out[name] = dict(ctx["info"], device=device, bf16=bf16,
                         torch_threads=torch.get_num_threads())
        fns[name] = (lambda c=ctx, n=name: lambda sub=c["texts"]: results.__setitem__(
            n, _predict(c, sub, device, bf16)))()
        ms = ctx["ms"]
        if ms.get("side_by_side") and ms["kind"] == "run":
            from transformers import AutoTokenizer, pipeline

            ptok = AutoTokenizer.from_pretrained(ms["run_dir"])
            ptok.model_max_length = ms["max_seq_length"]
            ner = pipeline("token-classification", model=ctx["inner"], tokenizer=ptok,
                           aggregation_strategy="first", stride=ms["doc_stride"], device=device)

            def pipe(sub=ctx["texts"], ner=ner, key=f"{name}:pipeline"):
                with _autocast(device, bf16):
                    results[key] = [ner(t) for t in sub]

            fns[f"{name}:pipeline"] = pipe
            # this project's batching with the pipeline's window merge: the same spans
            fns[f"{name}:longest"] = (lambda c=ctx, k=f"{name}:longest": lambda sub=c["texts"]:
                                      results.__setitem__(k, _predict(c, sub, device, bf16,
                                                                      "longest")))()
    if not ctxs:
        return out
    for name, fn in fns.items():
        fn(ctxs[name.split(":")[0]]["texts"][: spec.get("warmup_documents", 4)])
    load_before = [round(x, 2) for x in os.getloadavg()]
    wall, cpu = time_passes(fns, spec["passes"], device)
    load_after = [round(x, 2) for x in os.getloadavg()]
    for name, ctx in ctxs.items():
        med = median(wall[name])
        out[name].update(
            infer_pass_seconds=[round(t, 3) for t in wall[name]],
            infer_pass_cpu_seconds=[round(t, 3) for t in cpu[name]],
            infer_seconds_median=round(med, 3),
            infer_cpu_seconds_median=round(median(cpu[name]), 3),
            infer_tokens_per_s=round(ctx["n_tokens"] / med, 1),
            infer_notes_per_s=round(len(ctx["texts"]) / med, 3),
            load_average_before_passes=load_before, load_average_after_passes=load_after,
            interleaved_with=[n for n in fns if n != name])

    # latency: one note per call, the systems alternating note by note
    n_lat = spec.get("latency_documents")
    lat: dict[str, list[float]] = {n: [] for n in ctxs}
    names = list(ctxs)
    n_max = max(len(c["texts"]) for c in ctxs.values())
    for i in range(min(n_max, n_lat) if n_lat is not None else n_max):
        for name in names if i % 2 == 0 else reversed(names):
            texts = ctxs[name]["texts"]
            if i >= len(texts):
                continue
            t0 = time.perf_counter()
            _predict(ctxs[name], [texts[i]], device, bf16)
            _sync(device)
            lat[name].append(time.perf_counter() - t0)
    for name, ls in lat.items():
        out[name].update(latency_notes=len(ls),
                         latency_p50_ms=round(percentile(ls, 50) * 1e3, 2) if ls else None,
                         latency_p95_ms=round(percentile(ls, 95) * 1e3, 2) if ls else None)

    for name, ctx in ctxs.items():
        ms = ctx["ms"]
        if ms["kind"] == "run":
            res = _score(ctx, results[name], spec.get("bootstrap", 0), spec["seed"])
            micro = res["strict"]["micro"]
            out[name].update(f1_benchmark=micro["f1"], f1_ci_benchmark=micro.get("f1_ci"),
                             gold_spans=res["gold_spans"], pred_spans=res["pred_spans"])
        key = f"{name}:pipeline"
        if key in results:
            texts = ctx["texts"]
            words = [split_words(t) for t in texts]
            theirs = [spans_as_keys(s) for s in results[key]]

            def cmp_with(system, words=words, theirs=theirs, ms=ms, ctx=ctx):
                return compare_span_sets(
                    [spans_as_keys(s) for s in results[system]], theirs,
                    doc_ids=[d.id for d in ctx["test_docs"]],
                    overlaps=overlap_char_ranges(ctx["tokenizer"], ctx["toks"], words,
                                                 ms["max_seq_length"], ms["doc_stride"]),
                    word_bounds=[({a for a, _ in w}, {b for _, b in w}) for w in words])

            longest = f"{name}:longest"
            pmed, med = median(wall[key]), median(wall[longest])
            out[name]["pipeline"] = {
                "call": f'pipeline("token-classification", aggregation_strategy="first", '
                        f"stride={ms['doc_stride']}), tokenizer.model_max_length="
                        f"{ms['max_seq_length']}, one note per call",
                "pass_seconds": [round(t, 3) for t in wall[key]],
                "pass_cpu_seconds": [round(t, 3) for t in cpu[key]],
                "seconds_median": round(pmed, 3),
                "tokens_per_s": round(ctx["n_tokens"] / pmed, 1),
                "notes_per_s": round(len(texts) / pmed, 3), "speedup": round(pmed / med, 3),
                "ours_window_merge": "longest",
                "ours_seconds_median": round(med, 3),
                "ours_tokens_per_s": round(ctx["n_tokens"] / med, 1),
                "ours_pass_seconds": [round(t, 3) for t in wall[longest]],
                "speedup_central_merge": round(pmed / median(wall[name]), 3),
                "model_positions": padded_positions(
                    window_lengths(ctx["tokenizer"], ctx["toks"], ms["max_seq_length"],
                                   ms["doc_stride"]), spec["eval_batch_size"]),
                "forward_calls": {"batched": -(-ctx["info"]["windows"]
                                               // spec["eval_batch_size"]),
                                  "per_note": ctx["info"]["windows"]},
                "speedup_cpu_time": round(median(cpu[key]) / median(cpu[longest]), 3),
                "spans": cmp_with(longest),
                "spans_central_merge": cmp_with(name),
                "strict_f1": {"ours_central_merge": _strict_f1(ctx, results[name]),
                              "ours_longest_merge": _strict_f1(ctx, results[longest]),
                              "pipeline": _strict_f1(ctx, results[key])}}

    # before the training steps, which change the weights
    for name, ctx in ctxs.items():
        if ctx["ms"].get("side_by_side") and ctx["ms"]["kind"] == "run":
            sweep = _inference_sweep(ctx, spec, device, bf16)
            if sweep:
                out[name]["inference_sweep"] = sweep

    steps = spec.get("train_steps") or 0
    if steps > 0:
        entries = {}
        for name, ctx in ctxs.items():
            wins = _train_windows(ctx, spec)
            out[name].update({k: ctx["info"][k] for k in (
                "train_windows", "train_documents", "train_windows_all", "negative_window_keep")
                if k in ctx["info"]})
            entries[name] = _train_entry(ctx, wins, "dynamic")
            if ctx["ms"].get("side_by_side"):
                entries[f"{name}:pad_to_max"] = _train_entry(ctx, wins, "pad_to_max")
        tr = time_training(entries, steps=steps, seed=spec["seed"], device=device, bf16=bf16)
        for name in ctxs:
            d = tr[name]
            out[name].update(training={"dynamic": d}, train_step_seconds=d["mean_step_seconds"],
                             train_step_cpu_seconds=round(d["cpu_seconds"] / d["steps"], 4),
                             train_step_tokens_per_s=d["epoch_real_tokens_per_s"],
                             train_steps_interleaved_with=[n for n in entries if n != name])
            pm = tr.get(f"{name}:pad_to_max")
            if pm:
                # one epoch of real tokens each way: the speedup is the epoch time ratio
                out[name]["training"]["pad_to_max"] = pm
                out[name]["training_speedup_vs_pad_to_max"] = _ratio(
                    pm["epoch_seconds_raw"], d["epoch_seconds_raw"])
                out[name]["training_speedup_vs_pad_to_max_cpu_time"] = _ratio(
                    pm["epoch_cpu_seconds_raw"], d["epoch_cpu_seconds_raw"])
                out[name]["training_speedup_vs_pad_to_max_sampled_steps"] = _ratio(
                    d["real_tokens_per_s"], pm["real_tokens_per_s"])
                wins = entries[name]["windows"]
                out[name]["training_speedup_padding_bound"] = round(
                    len(wins) * ctxs[name]["ms"]["max_seq_length"] / d["epoch_real_tokens"], 3)
                sweep = _training_sweep(ctxs[name], spec, device, bf16)
                if sweep:
                    out[name]["training_sweep"] = sweep
    if device.startswith("cuda"):
        for name in ctxs:
            out[name]["gpu"] = torch.cuda.get_device_name(0)
    return out


def measure(spec: dict) -> dict:
    """Run one worker job: ``spec["job"]`` is ``"memory"`` (:func:`measure_memory`) or
    ``"timing"`` (:func:`measure_timing`). Raises ValueError for another job."""
    if spec.get("job") == "memory":
        return measure_memory(spec)
    if spec.get("job") == "timing":
        return measure_timing(spec)
    raise ValueError(f"unknown worker job {spec.get('job')!r}")


def run_worker(spec: dict, log_path: Path | None = None, isolate: bool = True) -> dict:
    """Run :func:`measure` in a fresh subprocess (``isolate``) or in this process. A failure
    gives ``{"error": ...}`` (with the tail of the subprocess' log), never an exception."""
    spec = dict(spec, isolated=isolate)
    if not isolate:
        try:
            return measure(spec)
        except Exception as exc:  # noqa: BLE001 - reported in the row
            return {"error": f"{type(exc).__name__}: {exc}"}
    with tempfile.TemporaryDirectory(prefix="bench_worker_") as tmp:
        sp, op = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        sp.write_text(json.dumps(spec))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        proc = subprocess.run([sys.executable, "-m", "clinical_ner.benchmarking", str(sp),
                               str(op)], capture_output=True, text=True, env=env, cwd=os.getcwd())
        log = proc.stdout + proc.stderr
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(log)
        if proc.returncode != 0 or not op.exists():
            tail = " | ".join(log.strip().splitlines()[-4:])
            return {"error": f"worker exited with {proc.returncode}: {tail}"}
        return json.loads(op.read_text())


# --------------------------------------------------------------------------------- orchestration


def environment_info(device: str = "cpu") -> dict:
    """Hardware and library versions of this machine (no user or host names)."""
    import importlib.metadata as md

    import psutil

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in ("torch", "transformers", "tokenizers", "safetensors", "accelerate", "datasets",
                "numpy", "psutil", "matplotlib"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    env = {"python": platform.python_version(), "platform": platform.platform(),
           "cpu": cpu, "cpu_count": os.cpu_count(),
           "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
           else None,
           "memory_total_mb": round(psutil.virtual_memory().total / MB),
           "load_average_start": [round(x, 2) for x in os.getloadavg()],
           "versions": versions, "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=ROOT, timeout=10).stdout.strip()
        env["git_commit"] = commit or None
    except (OSError, subprocess.SubprocessError):
        env["git_commit"] = None
    if device.startswith("cuda") or device == "auto":
        try:
            import torch

            if torch.cuda.is_available():
                env["gpu"] = torch.cuda.get_device_name(0)
                env["cuda"] = torch.version.cuda
                env["gpu_memory_mb"] = round(torch.cuda.get_device_properties(0).total_memory
                                             / MB)
        except Exception:  # noqa: BLE001 - environment is best effort
            pass
    return env


def parse_lengths(text: str) -> list[list[int]]:
    """``"256:64,512:128"`` -> ``[[256, 64], [512, 128]]`` (max_seq_length, doc_stride). Raises
    ValueError on another shape, or unless ``0 <= doc_stride < max_seq_length - 2`` (a window
    holds at least the two special tokens of a BERT-style tokenizer)."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            length, stride = (int(x) for x in part.split(":"))
        except ValueError:
            raise ValueError(f"--side_by_side_lengths: {part!r} is not MAX_SEQ_LENGTH:DOC_STRIDE"
                             ) from None
        if not 0 <= stride < length - 2:
            raise ValueError(f"--side_by_side_lengths: {part!r}: DOC_STRIDE must be >= 0 and "
                             f"less than the window's content (MAX_SEQ_LENGTH - 2 = {length - 2})")
        out.append([length, stride])
    return out


def parse_runs(text: str) -> dict[str, str]:
    """``"minilm=runs/a,bert/phi=runs/b"`` -> ``{"minilm": "runs/a", "bert/phi": "runs/b"}``.
    Raises ValueError for an item without ``=``."""
    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        if "=" not in item:
            raise ValueError(f"--runs item {item!r} is not MODEL=FOLDER or MODEL/TASK=FOLDER")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def find_run(model: str, task: str, runs: dict[str, str], runs_dir: str) -> Path:
    """The run folder of ``model`` on ``task``: ``runs["model/task"]``, ``runs["model"]``, a
    model folder given directly, or ``runs_dir/<task>_<model>``."""
    for key in (f"{model}/{task}", model):
        if key in runs:
            return Path(runs[key])
    if (Path(model) / "config.json").is_file() and (Path(model) / "clinical_ner.json").is_file():
        return Path(model)
    return Path(runs_dir) / f"{task}_{Path(model).name}"


def resolve_args(args: BenchmarkArguments) -> BenchmarkArguments:
    """Fill arguments left at None with the mode defaults (:data:`MODE_DEFAULTS`)."""
    mode = "arch" if args.architecture_only else "real"
    d = MODE_DEFAULTS[mode]
    for k, v in d.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.output_dir is None:
        args.output_dir = str(Path("benchmarks/results") / ("architecture_only"
                                                             if args.architecture_only else "real"))
    return args


def _data_dir(args: BenchmarkArguments, notes: list[str]) -> str:
    if Path(args.data_dir).exists():
        return args.data_dir
    if args.data_dir == PHYSIONET_DIR:
        notes.append(f"{PHYSIONET_DIR} is absent: the shipped made-up demo corpus "
                     f"({DEMO_DIR}) was used instead; figures are not comparable.")
        return DEMO_DIR
    raise FileNotFoundError(f"--data_dir {args.data_dir}: no such folder")


def _train_run(model: str, task: str, run_dir: Path, args: BenchmarkArguments, data_dir: str,
               log: Path) -> str | None:
    import shlex

    cmd = [sys.executable, str(ROOT / "train_ner.py")]
    cfg = ROOT / "configs" / f"{task}.yaml"
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


def _run_scores(run_dir: Path, split: str) -> tuple[float | None, list | None, str | None]:
    """F1 and CI written by eval_ner.py (``eval_<split>/metrics.json``) or by train_ner.py
    (``metrics.json`` of the test split), when they carry a CI."""
    for path in (run_dir / f"eval_{split}" / "metrics.json", run_dir / "metrics.json"):
        if not path.is_file():
            continue
        m = json.loads(path.read_text())
        if m.get("split", split) != split:
            continue
        micro = m.get("strict", {}).get("micro", {})
        if "f1" in micro and micro.get("f1_ci"):
            return micro["f1"], micro["f1_ci"], str(path)
    return None, None, None


def make_row(model: str, task: str, m: dict, run_dir: Path | None, split: str, *,
             arch: bool = False) -> dict:
    """One results row (keys :data:`ROW_KEYS` first, then the extra figures) from the workers'
    measurements ``m`` and, in real mode (``arch`` false), the run folder's own files."""
    row = {k: None for k in ROW_KEYS}
    row.update(model=model, task=task)
    if "error" in m:
        row["error"] = m["error"]
        if run_dir is not None:
            row["run_dir"] = str(run_dir)
        return row
    for k in ("params", "disk_mb_fp32", "disk_mb_fp16", "peak_mem_mb", "infer_tokens_per_s",
              "infer_notes_per_s", "latency_p50_ms", "latency_p95_ms"):
        row[k] = m.get(k)
    extra_keys = ("architecture", "vocab_size", "embedding_params", "disk_bytes_fp32",
                  "disk_bytes_fp16", "peak_mem_baseline_mb", "peak_mem_delta_mb",
                  "train_peak_mem_mb", "train_peak_mem_delta_mb", "train_step_seconds",
                  "train_step_tokens_per_s", "infer_seconds_median", "infer_pass_seconds",
                  "documents", "note_tokens", "windows", "latency_notes", "train_windows",
                  "train_windows_all", "negative_window_keep",
                  "train_documents", "device", "bf16", "torch_threads", "load_seconds",
                  "max_seq_length", "doc_stride", "tokenizer_class", "tokenizer_vocab",
                  "vocab_source", "gold_spans", "pred_spans", "gpu", "layers", "hidden_size",
                  "multi_window_documents", "infer_pass_cpu_seconds",
                  "infer_cpu_seconds_median", "train_step_cpu_seconds", "config", "training",
                  "interleaved_with", "train_steps_interleaved_with", "load_average_before_passes",
                  "load_average_after_passes")
    for k in extra_keys:
        if k in m:
            row[k] = m[k]
    row["epoch_seconds"] = None
    if arch:
        tr = m.get("training", {}).get("dynamic")
        if tr:
            row["train_tokens_per_s"] = tr.get("epoch_real_tokens_per_s",
                                               tr.get("real_tokens_per_s"))
            row["epoch_seconds"] = tr["epoch_seconds_est"]
            row["train_source"] = "timed optimizer steps (architecture-only)"
        return row
    row["run_dir"] = str(run_dir)
    tr_path = run_dir / "train_results.json"
    if tr_path.is_file():
        tr = json.loads(tr_path.read_text())
        row["train_seconds"] = tr.get("train_seconds")
        row["train_tokens_per_s"] = tr.get("train_tokens_per_second")
        if tr.get("train_seconds") and tr.get("epochs"):
            row["epoch_seconds"] = round(tr["train_seconds"] / tr["epochs"], 1)
        row["train_source"] = f"{tr_path} (whole fine-tuning, dev evaluation included)"
        row["run_train_documents"] = tr.get("train_documents")
        row["run_epochs"] = tr.get("epochs")
    f1, ci, src = _run_scores(run_dir, split)
    if f1 is None:
        f1, ci, src = m.get("f1_benchmark"), m.get("f1_ci_benchmark"), "benchmark predictions"
    row.update(f1=f1, f1_ci=ci, f1_source=src, f1_benchmark=m.get("f1_benchmark"),
               f1_ci_benchmark=m.get("f1_ci_benchmark"))
    return row


def compute_ratios(rows: list[dict], reference: str) -> dict:
    """``{model: {metric: model / reference}}`` per task (metric names get ``/<task>`` when
    there are several tasks). Metrics: inference_time, inference_cpu_time (process CPU seconds),
    latency_p50, train_step_time, train_step_cpu_time, train_time,
    params, disk_fp32, disk_fp16, peak_mem, peak_mem_delta, train_peak_mem,
    train_peak_mem_delta; ``f1_diff`` = model F1 - reference F1. A metric missing on either side
    is None."""
    pairs = {"inference_time": "infer_seconds_median",
             "inference_cpu_time": "infer_cpu_seconds_median", "latency_p50": "latency_p50_ms",
             "train_step_time": "train_step_seconds",
             "train_step_cpu_time": "train_step_cpu_seconds", "train_time": "train_seconds",
             "params": "params", "disk_fp32": "disk_mb_fp32", "disk_fp16": "disk_mb_fp16",
             "peak_mem": "peak_mem_mb", "peak_mem_delta": "peak_mem_delta_mb",
             "train_peak_mem": "train_peak_mem_mb", "train_peak_mem_delta":
             "train_peak_mem_delta_mb"}
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    out: dict = {}
    for task in tasks:
        ref = next((r for r in rows if r["model"] == reference and r["task"] == task), None)
        if ref is None:
            continue
        for r in rows:
            if r["task"] != task or r["model"] == reference:
                continue
            d = out.setdefault(r["model"], {})
            sfx = f"/{task}" if len(tasks) > 1 else ""
            for name, key in pairs.items():
                a, b = r.get(key), ref.get(key)
                d[name + sfx] = round(a / b, 4) if _num(a) and _num(b) and b else None
            a, b = r.get("f1"), ref.get("f1")
            d["f1_diff" + sfx] = round(a - b, 4) if _num(a) and _num(b) else None
    return out


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _fmt(x, nd=1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def markdown_report(results: dict) -> str:
    """The Markdown report: rows table, ratios, side by side, environment and notes."""
    rows = results["rows"]
    lines = [f"# Benchmark ({results['mode']})", ""]
    cfg = results["settings"]
    lines.append(f"Corpus `{cfg['data_dir']}`, split `{cfg['split']}`; device `{cfg['device']}`"
                 f"{' bf16' if cfg['bf16'] else ''}; seed {cfg['seed']}. MB = 10^6 bytes.")
    r0 = next((r for r in rows if not r.get("error")), None)
    if r0:
        lines.append("")
        lines.append(f"Inference: {r0.get('documents')} notes ({_fmt(r0.get('note_tokens'))} "
                     f"sub-tokens, {r0.get('windows')} windows of up to {r0.get('max_seq_length')}"
                     f", stride {r0.get('doc_stride')}), {len(r0.get('infer_pass_seconds') or [])}"
                     f" timed passes after a warm-up, batch {cfg.get('eval_batch_size')}; "
                     f"latency over {r0.get('latency_notes')} notes. Training: "
                     f"{cfg.get('train_steps')} timed steps per model of batch "
                     f"{cfg.get('train_batch_size')} (real runs: the run's batch size) "
                     f"from {r0.get('train_windows')} training windows. Models timed "
                     "interleaved in one process; sizes and peak memory in one process per model.")
    lines += ["", "| model | task | params (M) | disk fp32 MB | disk fp16 MB | peak mem MB "
              "(infer / train) | train s | train tok/s | epoch s | infer tok/s | notes/s | "
              "latency p50 / p95 ms | strict F1 [95% CI] |",
              "|" + "---|" * 13]
    for r in rows:
        if r.get("error"):
            err = " ".join(r["error"].split()).replace("|", "/")[:160]
            lines.append(f"| {r['model']} | {r['task']} | error: {err} |" + " |" * 10)
            continue
        ci = r.get("f1_ci")
        f1 = (f"{r['f1']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
              if _num(r.get("f1")) else "–")
        params = _fmt(r["params"] / 1e6, 2) if _num(r.get("params")) else "–"
        lines.append(
            f"| {r['model']} | {r['task']} | {params} | {_fmt(r['disk_mb_fp32'])} | "
            f"{_fmt(r['disk_mb_fp16'])} | {_fmt(r['peak_mem_mb'], 0)} / "
            f"{_fmt(r.get('train_peak_mem_mb'), 0)} | {_fmt(r['train_seconds'])} | "
            f"{_fmt(r['train_tokens_per_s'])} | {_fmt(r.get('epoch_seconds'))} | "
            f"{_fmt(r['infer_tokens_per_s'])} | {_fmt(r['infer_notes_per_s'], 2)} | "
            f"{_fmt(r['latency_p50_ms'], 0)} / {_fmt(r['latency_p95_ms'], 0)} | {f1} |")
    if results.get("ratios"):
        metrics = list(dict.fromkeys(k for d in results["ratios"].values() for k, v in d.items()
                                     if v is not None))
        lines += ["", f"## Ratios against `{results['reference']}`", "",
                  "| model | " + " | ".join(metrics) + " |", "|" + "---|" * (len(metrics) + 1)]
        for m, d in results["ratios"].items():
            lines.append(f"| {m} | " + " | ".join(_fmt(d.get(k), 3) for k in metrics) + " |")
    sbs = results.get("side_by_side") or {}
    if sbs.get("model"):
        lines += ["", f"## Side by side (model `{sbs['model']}`)", ""]
        p = sbs.get("pipeline") or {}
        if p:
            sp = p["spans"]
            merge = p.get("ours_window_merge", "central")
            lines.append(f"* Inference: this project (batched windows, `window_merge="
                         f"\"{merge}\"`) {_fmt(sbs.get('ours_tokens_per_s'))} tok/s "
                         f"vs `{p['call']}` {_fmt(p['tokens_per_s'])} tok/s: speedup "
                         f"**{_fmt(sbs['inference_speedup_vs_pipeline'], 2)}x** wall time "
                         f"(median of {len(p['pass_seconds'])} interleaved passes over "
                         f"{sp['notes']} notes; {_fmt(p['speedup_cpu_time'], 2)}x in process CPU "
                         f"time); spans identical: **{sbs['spans_identical']}** "
                         f"({sp['spans_in_both']} shared, {sp['spans_only_ours']} only ours, "
                         f"{sp['spans_only_pipeline']} only pipeline, in "
                         f"{sp['notes_differing']}/{sp['notes']} notes; one-window notes "
                         f"identical: {sp['single_window_notes_identical']}/"
                         f"{sp['single_window_notes']}).")
            sc = p.get("spans_central_merge")
            if sc:
                lines.append(
                    f"  With the default `window_merge=\"central\"` (each word from the window "
                    f"where it is most central): {_fmt(p.get('speedup_central_merge'), 2)}x; "
                    f"{sc['spans_in_both']} spans shared with the pipeline, "
                    f"{sc['spans_only_ours']} only ours, {sc['spans_only_pipeline']} only the "
                    f"pipeline's, in {sc['notes_differing']}/{sc['notes']} notes (by reason "
                    f"{sc['differences_by_reason']}).")
            f1s = p.get("strict_f1")
            if f1s:
                lines.append("  Strict micro F1 against gold on these notes: " + "; ".join(
                    f"{k.replace('_', ' ')} {v['f1']:.4f} (TP {v.get('tp')}, FP {v.get('fp')}, "
                    f"FN {v.get('fn')})" for k, v in f1s.items()) + ".")
            pos, calls = p.get("model_positions"), p.get("forward_calls")
            if pos and calls:
                lines.append(
                    f"  Token positions through the model (padding included): this project "
                    f"{_fmt(pos['batched'])} in {_fmt(calls['batched'])} forward calls, the "
                    f"pipeline {_fmt(pos['per_note'])} in {_fmt(calls['per_note'])} calls (one "
                    f"window per call, a note's windows padded to its longest); real tokens with "
                    f"special tokens {_fmt(pos['real'])}.")
        t = sbs.get("training") or {}
        if t:
            d, pm = t["dynamic"], t["pad_to_max"]
            ep = "epoch_real_tokens_per_s"
            lines.append(
                f"* Training ({d['steps']} timed steps each, interleaved, batch "
                f"{d['batch_size']}, extrapolated to one epoch of {_fmt(d['epoch_batches'])} "
                f"batches): dynamic padding + length grouping {_fmt(d.get(ep))} real tok/s "
                f"(timed steps {d['padding_fraction']:.1%} padding) vs every window padded to "
                f"max_seq_length {_fmt(pm.get(ep))} real tok/s (timed steps "
                f"{pm['padding_fraction']:.1%} padding): speedup "
                f"**{_fmt(sbs['training_speedup_vs_pad_to_max'], 2)}x** wall time "
                f"({_fmt(sbs.get('training_speedup_vs_pad_to_max_cpu_time'), 2)}x in process CPU "
                f"time; the timed steps alone: "
                f"{_fmt(sbs.get('training_speedup_vs_pad_to_max_sampled_steps'), 2)}x; padded / "
                f"real positions, max_seq_length x windows / real tokens: "
                f"{_fmt(sbs.get('training_speedup_padding_bound'), 2)}x, the speedup if step time "
                f"grew linearly with positions; attention grows faster, so padding costs more).")
    rows = sweep_rows(sbs)
    if rows:
        lines += ["", "Side by side at other window settings (same model and notes; training: "
                  "the same batch size and epoch draw rule; `window_merge=\"longest\"`):", "",
                  "| max_seq_length / stride | inference: ours / pipeline tok/s | inference "
                  "speedup (CPU time) | spans identical | training: dynamic / pad-to-max tok/s | "
                  "training speedup (CPU time) | padded / real positions |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            i, t = r.get("inference") or {}, r.get("training") or {}
            ident = (f"{i['notes_identical']}/{i['notes']} notes" if "notes" in i else "")
            errors = [f"{k}: {x['error']}" for k, x in (("inference", i), ("training", t))
                      if x.get("error")]
            if errors:
                ident = (ident + " " if ident else "") + "failed (" + "; ".join(errors) + ")"
            lines.append(
                f"| {r['max_seq_length']} / {r['doc_stride']} | "
                f"{_fmt(i.get('ours_tokens_per_s'))} / {_fmt(i.get('pipeline_tokens_per_s'))} | "
                f"**{_fmt(i.get('speedup'), 2)}x** ({_fmt(i.get('speedup_cpu_time'), 2)}x) | "
                f"{ident} | {_fmt(t.get('dynamic_tokens_per_s'))} / "
                f"{_fmt(t.get('pad_to_max_tokens_per_s'))} | **{_fmt(t.get('speedup'), 2)}x** "
                f"({_fmt(t.get('speedup_cpu_time'), 2)}x) | {_fmt(t.get('padding_bound'), 2)}x |")
    failed = [r for r in results["rows"] if r.get("error") or r.get("partial_errors")]
    if failed:
        lines += ["", "## Failures (figures shown as – were not measured)", ""]
        lines += [f"* {r['model']} / {r['task']}: "
                  + (r.get("error") or "; ".join(r["partial_errors"])) for r in failed]
    env = results["environment"]
    lines += ["", "## Environment", "",
              f"* CPU: {env.get('cpu')} ({env.get('cpu_affinity')} usable cores, torch threads "
              f"{cfg.get('torch_threads')}); memory {env.get('memory_total_mb')} MB; load average "
              f"at start {env.get('load_average_start')}, at end {env.get('load_average_end')}",
              f"* GPU: {env.get('gpu', 'none')}",
              f"* Python {env.get('python')}; " + ", ".join(
                  f"{k} {v}" for k, v in env.get("versions", {}).items() if v),
              f"* git {env.get('git_commit')}; {env.get('date_utc')}"]
    notes = list(results.get("notes") or []) + list(results.get("explanations") or [])
    if notes:
        lines += ["", "## Notes", ""] + [f"* {n}" for n in notes]
    return "\n".join(lines) + "\n"


def sweep_rows(sbs: dict) -> list[dict]:
    """The side-by-side sweep (``inference_sweep`` and ``training_sweep`` of
    ``results["side_by_side"]``) joined by window setting: ``[{"max_seq_length", "doc_stride",
    "inference": row or None, "training": row or None}]`` sorted by window length."""
    by: dict = {}
    for kind in ("inference", "training"):
        for r in sbs.get(f"{kind}_sweep") or []:
            key = (r["max_seq_length"], r["doc_stride"])
            by.setdefault(key, {"max_seq_length": key[0], "doc_stride": key[1],
                                "inference": None, "training": None})[kind] = r
    return [by[k] for k in sorted(by)]


def plot_results(results: dict, out_dir: Path) -> list[str]:
    """PNG plots: ``f1_vs_inference_time.png`` (strict F1 against seconds per pass; in
    architecture-only mode, with no F1, ``inference_time.png``: seconds per pass per model) and
    ``disk_size.png`` (fp32 and fp16 MB per model). Returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results["rows"] if not r.get("error")]
    written = []
    labels = [f"{r['model']}" + (f"/{r['task']}" if len({x['task'] for x in rows}) > 1 else "")
              for r in rows]
    with_f1 = [(lab, r) for lab, r in zip(labels, rows, strict=True)
               if _num(r.get("f1")) and _num(r.get("infer_seconds_median"))]
    fig, ax = plt.subplots(figsize=(6, 4))
    if with_f1:
        for lab, r in with_f1:
            x, y = r["infer_seconds_median"], r["f1"]
            ci = r.get("f1_ci")
            yerr = [[y - ci[0]], [ci[1] - y]] if ci else None
            ax.errorbar([x], [y], yerr=yerr, fmt="o", capsize=4)
            ax.annotate(lab, (x, y), textcoords="offset points", xytext=(5, 5))
        ax.set_xlabel(f"inference seconds per pass ({rows[0].get('documents')} notes)")
        ax.set_ylabel("strict micro F1 (95% bootstrap CI)")
        ax.set_ylim(0, 1)
        ax.set_xlim(left=0, right=max(r["infer_seconds_median"] for _, r in with_f1) * 1.25)
        ax.set_title("F1 against inference time")
        name = "f1_vs_inference_time.png"
    else:
        xs = [r.get("infer_seconds_median") or 0 for r in rows]
        ax.bar(labels, xs, color="tab:blue")
        for i, x in enumerate(xs):
            ax.annotate(f"{x:.2f}s", (i, x), ha="center", va="bottom")
        docs = rows[0].get("documents") if rows else "?"
        ax.set_ylabel(f"seconds per pass ({docs} notes, median)")
        ax.set_title("Inference time (architecture-only: no F1)")
        name = "inference_time.png"
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    written.append(name)

    fig, ax = plt.subplots(figsize=(6, 4))
    import numpy as np

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
    fig.tight_layout()
    fig.savefig(out_dir / "disk_size.png", dpi=110)
    plt.close(fig)
    written.append("disk_size.png")
    return written


def explain(results: dict) -> list[str]:
    """Plain-language notes on the measured ratios: why DistilBERT/BERT disk and memory are not
    the study's ~0.5 (embeddings, process baseline), from the rows' own figures."""
    notes = []
    rows = {r["model"]: r for r in results["rows"] if not r.get("error")}
    ref_name = results["reference"]
    ref = rows.get(ref_name)
    for m, d in results.get("ratios", {}).items():
        r = rows.get(m)
        if r is None or ref is None or r.get("same_as") or not _num(r.get("params")):
            continue
        emb, remb = r.get("embedding_params"), ref.get("embedding_params")
        if _num(emb) and _num(remb):
            notes.append(
                f"{m}/{ref_name}: {r.get('layers')} vs {ref.get('layers')} layers; parameters "
                f"{r['params'] / 1e6:.1f} M vs {ref['params'] / 1e6:.1f} M (ratio "
                f"{_fmt(d.get('params'), 3)}). The embeddings ({emb / 1e6:.1f} M vs "
                f"{remb / 1e6:.1f} M: vocabulary and positions x hidden size) are "
                f"{emb / r['params']:.0%} of {m} and are not reduced by dropping layers, so disk "
                f"(parameters x 4 or 2 bytes) is {_fmt(d.get('disk_fp32'), 3)} of {ref_name}, not "
                f"the layer ratio. Compute per token is in the layers (an embedding is a "
                f"lookup): inference time ratio {_fmt(d.get('inference_time'), 3)} (CPU time "
                f"{_fmt(d.get('inference_cpu_time'), 3)}), training step "
                f"{_fmt(d.get('train_step_time'), 3)} (CPU time "
                f"{_fmt(d.get('train_step_cpu_time'), 3)}), against a layer ratio of "
                f"{_fmt((r.get('layers') or 0) / (ref.get('layers') or 1), 3)}.")
        if _num(d.get("peak_mem")) and r.get("device", "cpu") == "cpu":
            w, rw = r.get("disk_mb_fp32"), ref.get("disk_mb_fp32")
            pd, rpd = r.get("peak_mem_delta_mb"), ref.get("peak_mem_delta_mb")
            rest = (f"; the rest ({_fmt(pd - w, 0)} vs {_fmt(rpd - rw, 0)} MB) is one batch's "
                    f"activations ({results['settings'].get('eval_batch_size')} windows of up to "
                    f"{r.get('max_seq_length')} tokens; freed layer by layer, so they do not "
                    f"grow with depth) and allocator slack"
                    if all(_num(x) for x in (w, rw, pd, rpd)) else "")
            notes.append(
                f"{m}/{ref_name}: peak memory ratio {_fmt(d.get('peak_mem'), 3)} is of the whole "
                f"process (Python, torch, tokenizer, corpus: "
                f"~{_fmt(r.get('peak_mem_baseline_mb'), 0)} MB before the model is "
                f"built, the same for both). Above that baseline inference is "
                f"{_fmt(d.get('peak_mem_delta'), 3)}: fp32 weights {_fmt(w, 0)} vs {_fmt(rw, 0)} "
                f"MB{rest}. Training is {_fmt(d.get('train_peak_mem_delta'), 3)} above the "
                f"baseline: weights, gradients and two AdamW moments (4 x the weights) dominate, "
                f"so it follows the parameter ratio {_fmt(d.get('params'), 3)}.")
    return notes


def _model_specs(task: str, models: list[str], args: BenchmarkArguments, data_dir: str,
                 out_dir: Path, notes: list[str]) -> list[dict]:
    """Per model: ``{"model", "ms"}`` (the worker's model spec), ``{"model", "same_as"}`` (an
    architecture already measured) or ``{"model", "error"}``; ``run_dir`` in real mode."""
    overrides = json.loads(args.config_overrides) if args.config_overrides else {}
    runs = parse_runs(args.runs)
    sbs_model = args.side_by_side_model or models[0]
    entries, unique = [], {}
    for model in models:
        sbs = bool(args.side_by_side) and model == sbs_model
        if args.architecture_only:
            if model not in ARCHITECTURES:
                raise ValueError(f"--architecture_only knows {', '.join(ARCHITECTURES)}; "
                                 f"not {model!r}")
            ov = overrides.get(model, overrides.get(ARCHITECTURES[model], {}))
            key = (ARCHITECTURES[model], json.dumps(ov, sort_keys=True))
            if key in unique:
                entries.append({"model": model, "same_as": unique[key]})
                notes.append(f"{model} has the architecture of {unique[key]} "
                             f"({ARCHITECTURES[model]}, vocabulary {REAL_VOCAB_SIZES[model][0]}): "
                             "its row repeats that measurement.")
                continue
            unique[key] = model
            entries.append({"model": model, "run_dir": None, "ms": dict(
                name=model, kind="arch", alias=model, task=task, overrides=ov,
                tokenizer=args.tokenizer, max_seq_length=args.max_seq_length,
                doc_stride=args.doc_stride, train_batch_size=args.train_batch_size,
                side_by_side=sbs)})
            continue
        run_dir = find_run(model, task, runs, args.runs_dir)
        if not (run_dir / "config.json").is_file():
            if not args.train_missing:
                entries.append({"model": model, "run_dir": run_dir, "error":
                                f"no run folder {run_dir} (and --train_missing false)"})
                continue
            print(f"[benchmark] no run folder {run_dir}: train_ner.py ...", flush=True)
            err = _train_run(model, task, run_dir, args, data_dir,
                             out_dir / "logs" / f"train_{Path(model).name}_{task}.log")
            if err:
                entries.append({"model": model, "run_dir": run_dir, "error": err})
                continue
        info = json.loads((run_dir / "clinical_ner.json").read_text())
        if info.get("task", task) != task:
            notes.append(f"{run_dir} is a {info.get('task')} run, listed for {task}")
        bs = args.train_batch_size
        ra = run_dir / "run_args.json"
        run_args = json.loads(ra.read_text()) if ra.is_file() else {}
        if bs == MODE_DEFAULTS["real"]["train_batch_size"]:
            bs = run_args.get("training", {}).get("per_device_train_batch_size", bs)
        keep = run_args.get("data", {}).get("negative_window_keep", 1.0)
        seed = run_args.get("training", {}).get("seed", args.seed)
        entries.append({"model": model, "run_dir": run_dir, "ms": dict(
            name=model, kind="run", alias=model, run_dir=str(run_dir),
            task=info.get("task", task), granularity=info.get("label_granularity", "type"),
            max_seq_length=info.get("max_seq_length", args.max_seq_length),
            doc_stride=info.get("doc_stride", args.doc_stride), train_batch_size=bs,
            negative_window_keep=keep, train_seed=seed, side_by_side=sbs)})
    return entries


def run_benchmark(args: BenchmarkArguments) -> dict:
    """Measure every model x task, write ``results.json``, ``results.md`` and the plots into
    ``args.output_dir`` and return the results dict.

    Per task: one memory/size worker per model (its own subprocess, see
    :func:`measure_memory`), then one timing worker running all models interleaved
    (:func:`measure_timing`). Errors of one model are written into its row (``error``) and do
    not stop the others; raises ValueError for an unknown architecture-only alias."""
    args = resolve_args(args)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    data_dir = _data_dir(args, notes)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    environment = environment_info(args.device)
    base = dict(data_dir=data_dir, format=args.format, split=args.split,
                max_documents=args.max_documents, train_documents=args.train_documents,
                passes=args.passes, warmup_documents=args.warmup_documents,
                latency_documents=args.latency_documents, eval_batch_size=args.eval_batch_size,
                train_steps=args.train_steps, device=args.device, bf16=args.bf16,
                side_by_side_lengths=parse_lengths(args.side_by_side_lengths),
                threads=args.threads, seed=args.seed, bootstrap=args.bootstrap)
    rows = []
    side_by_side = {"model": None, "inference_speedup_vs_pipeline": None,
                    "spans_identical": None, "training_speedup_vs_pad_to_max": None}
    t_start = time.time()
    for task in tasks:
        entries = _model_specs(task, models, args, data_dir, out_dir, notes)
        valid = [e for e in entries if "ms" in e]
        mem = {}
        for e in valid:
            print(f"[benchmark] {e['model']} / {task}: size and peak memory ...", flush=True)
            mem[e["model"]] = run_worker(
                dict(base, job="memory", models=[e["ms"]]),
                out_dir / "logs" / f"memory_{Path(e['model']).name}_{task}.log", args.isolate)
        timing: dict = {}
        if valid:
            print(f"[benchmark] {task}: timing {', '.join(e['model'] for e in valid)} "
                  "(interleaved) ...", flush=True)
            timing = run_worker(dict(base, job="timing", models=[e["ms"] for e in valid]),
                                out_dir / "logs" / f"timing_{task}.log", args.isolate)
            if set(timing) == {"error"}:
                timing = {e["model"]: dict(timing) for e in valid}
        by_model = {}
        for e in entries:
            model = e["model"]
            if "same_as" in e:
                row = dict(by_model[e["same_as"]], model=model, same_as=e["same_as"])
            else:
                parts = [mem.get(model, {}), timing.get(model, {})] if "ms" in e else [e]
                errors = [p["error"] for p in parts if "error" in p]
                m = {k: v for p in parts if "error" not in p for k, v in p.items()}
                if errors and not m:
                    m = {"error": "; ".join(errors)}
                row = make_row(model, task, m, e.get("run_dir"), args.split,
                               arch=args.architecture_only)
                if errors and "error" not in row:
                    row["partial_errors"] = errors
            by_model[model] = row
            rows.append(row)
            if row.get("error"):
                print(f"[benchmark] {model} / {task}: {row['error']}", flush=True)
            t = timing.get(model, {})
            if e.get("ms", {}).get("side_by_side") and "error" not in t:
                side_by_side["model"] = model
                if "pipeline" in t:
                    p = t["pipeline"]
                    side_by_side.update(
                        inference_speedup_vs_pipeline=p["speedup"],
                        inference_speedup_vs_pipeline_cpu_time=p["speedup_cpu_time"],
                        spans_identical=p["spans"]["identical"],
                        ours_tokens_per_s=p["ours_tokens_per_s"],
                        inference_speedup_vs_pipeline_central_merge=p["speedup_central_merge"],
                        spans_identical_central_merge=p["spans_central_merge"]["identical"],
                        pipeline=p)
                    if not p["spans"]["identical"]:
                        notes.append(_span_note(p["spans"]))
                    if not p["spans_central_merge"]["identical"]:
                        notes.append("default (central) window merge: "
                                     + _span_note(p["spans_central_merge"]))
                if "training_speedup_vs_pad_to_max" in t:
                    side_by_side.update(
                        training_speedup_vs_pad_to_max=t["training_speedup_vs_pad_to_max"],
                        training_speedup_vs_pad_to_max_cpu_time=t.get(
                            "training_speedup_vs_pad_to_max_cpu_time"),
                        training_speedup_vs_pad_to_max_sampled_steps=t.get(
                            "training_speedup_vs_pad_to_max_sampled_steps"),
                        training_speedup_padding_bound=t.get("training_speedup_padding_bound"),
                        training_sweep=t.get("training_sweep"),
                        training=t["training"])
                if t.get("inference_sweep"):
                    side_by_side["inference_sweep"] = t["inference_sweep"]
    environment["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    environment["benchmark_seconds"] = round(time.time() - t_start, 1)
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
    if args.side_by_side_lengths and (args.architecture_only or not args.side_by_side):
        notes.append("--side_by_side_lengths is used only by the real-mode side by side: "
                     "ignored here")
    if args.reference not in models:
        notes.append(f"reference {args.reference!r} is not among the models: no ratios")
    results = {"mode": "architecture_only" if args.architecture_only else "real",
               "reference": args.reference, "rows": rows, "side_by_side": side_by_side,
               "environment": environment, "settings": settings,
               "seeds": {"model_init_and_batch_order": args.seed, "bootstrap": args.seed},
               "definitions": DEFINITIONS, "notes": notes}
    return write_results(results, out_dir)


def write_results(results: dict, out_dir: str | Path) -> dict:
    """Derive ``ratios`` (:func:`compute_ratios`), ``explanations`` (:func:`explain`) and the
    plots from ``results["rows"]``, then write ``results.json`` and ``results.md`` into
    ``out_dir``. Also re-renders a loaded ``results.json`` without measuring again. Returns
    ``results`` (updated in place)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results["ratios"] = compute_ratios(results["rows"], results["reference"])
    results["explanations"] = explain(results)
    results["plots"] = plot_results(results, out_dir)
    from clinical_ner.files import write_json_atomic, write_text_atomic

    write_json_atomic(out_dir / "results.json", results, default=str)
    write_text_atomic(out_dir / "results.md", markdown_report(results))
    return results


def _span_note(sp: dict) -> str:
    return (f"pipeline spans differ from ours in {sp['notes_differing']} of {sp['notes']} notes "
            f"({sp['spans_only_ours']} spans only ours, {sp['spans_only_pipeline']} only the "
            f"pipeline's; by reason {sp['differences_by_reason']}). word_boundary: the pipeline "
            "groups sub-tokens into the tokenizer's pre-tokenized words, this project into "
            "[^\\W_]+|\\S words (e.g. a symbol such as a degree sign is its own word here); "
            "window_overlap: the pipeline predicts every window on its own and keeps the longest "
            "of overlapping entities, this project keeps for each word the window where the word "
            "is most central.")


def main_worker(argv: list[str]) -> int:
    """``python -m clinical_ner.benchmarking SPEC.json OUT.json``: :func:`measure` in this
    process, result written to OUT.json."""
    spec = json.loads(Path(argv[0]).read_text())
    out = measure(spec)
    Path(argv[1]).write_text(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main_worker(sys.argv[1:]))
