"""This project against the usual way, on one run: inference against
``transformers.pipeline("token-classification", aggregation_strategy="first", stride=...)``
note by note, and training with dynamic padding + length grouping against every window padded
to ``max_seq_length``; both also at other window settings (``--side_by_side_lengths``)."""

from __future__ import annotations

from collections.abc import Callable

from transformers import AutoTokenizer, pipeline

from clinical_ner.benchmark.context import (
    ModelContext,
    predict,
    strict_f1,
    train_entry,
    train_windows,
)
from clinical_ner.benchmark.settings import WorkerSpec
from clinical_ner.benchmark.spans import (
    compare_span_sets,
    count_windows,
    overlap_char_ranges,
    padded_positions,
    spans_as_keys,
    window_lengths,
)
from clinical_ner.benchmark.timing import (
    TrainingTiming,
    autocast,
    median,
    ratio,
    time_passes,
    time_training,
)
from clinical_ner.labels import split_words


def token_pipeline(ctx: ModelContext, device: str, max_seq_length: int, doc_stride: int):
    """The token classification pipeline on ``ctx``'s model, windows as this project's."""
    ptok = AutoTokenizer.from_pretrained(ctx.spec.run_dir)
    ptok.model_max_length = max_seq_length
    return pipeline("token-classification", model=ctx.inner, tokenizer=ptok,
                    aggregation_strategy="first", stride=doc_stride, device=device)


def pipeline_fn(ner, results: dict, key: str, texts: list[str], device, bf16: bool
                ) -> Callable:
    """A callable ``(sub=texts) -> None`` running ``ner`` note by note into ``results[key]``."""
    def run(sub=texts):
        with autocast(device, bf16):
            results[key] = [ner(t) for t in sub]
    return run


def compare_with_pipeline(ctx: ModelContext, ours, theirs) -> dict:
    """:func:`compare_span_sets` of our spans per note against the pipeline's."""
    words = [split_words(t) for t in ctx.texts]
    return compare_span_sets(
        [spans_as_keys(s) for s in ours], [spans_as_keys(s) for s in theirs],
        doc_ids=[d.id for d in ctx.test_docs],
        overlaps=overlap_char_ranges(ctx.tokenizer, ctx.toks, words, ctx.spec.max_seq_length,
                                     ctx.spec.doc_stride),
        word_bounds=[({a for a, _ in w}, {b for _, b in w}) for w in words])


def pipeline_figures(ctx: ModelContext, spec: WorkerSpec, results: dict, wall: dict,
                     cpu: dict) -> dict:
    """The ``pipeline`` block of a side-by-side model (``results.json`` ``side_by_side.pipeline``):
    pass seconds of the pipeline (``NAME:pipeline``), of this project with the pipeline's merge
    (``NAME:longest``) and with the default merge (``NAME``), speedups (wall and CPU time),
    token positions and forward calls, the span comparisons and the strict F1 of each."""
    name, ms = ctx.name, ctx.spec
    key, longest = f"{name}:pipeline", f"{name}:longest"
    pmed, med = median(wall[key]), median(wall[longest])
    windows, batch = ctx.info.windows, spec.eval_batch_size
    return {
        "call": f'pipeline("token-classification", aggregation_strategy="first", '
                f"stride={ms.doc_stride}), tokenizer.model_max_length={ms.max_seq_length}, "
                "one note per call",
        "pass_seconds": [round(t, 3) for t in wall[key]],
        "pass_cpu_seconds": [round(t, 3) for t in cpu[key]],
        "seconds_median": round(pmed, 3), "tokens_per_s": round(ctx.n_tokens / pmed, 1),
        "notes_per_s": round(len(ctx.test_docs) / pmed, 3), "speedup": round(pmed / med, 3),
        "ours_window_merge": "longest", "ours_seconds_median": round(med, 3),
        "ours_tokens_per_s": round(ctx.n_tokens / med, 1),
        "ours_pass_seconds": [round(t, 3) for t in wall[longest]],
        "speedup_central_merge": round(pmed / median(wall[name]), 3),
        "model_positions": padded_positions(window_lengths(
            ctx.tokenizer, ctx.toks, ms.max_seq_length, ms.doc_stride), batch),
        "forward_calls": {"batched": -(-windows // batch), "per_note": windows},
        "speedup_cpu_time": round(median(cpu[key]) / median(cpu[longest]), 3),
        "spans": compare_with_pipeline(ctx, results[longest], results[key]),
        "spans_central_merge": compare_with_pipeline(ctx, results[name], results[key]),
        "strict_f1": {"ours_central_merge": strict_f1(ctx, results[name]),
                      "ours_longest_merge": strict_f1(ctx, results[longest]),
                      "pipeline": strict_f1(ctx, results[key])}}


def training_figures(dynamic: TrainingTiming, pad: TrainingTiming, windows: int,
                     max_seq_length: int) -> dict:
    """Dynamic padding against pad-to-max over the same epoch of ``windows`` windows: epoch time
    ratios (wall, CPU), the ratio of the timed steps' real tokens/s, and the padding bound
    (positions padded to ``max_seq_length`` / real positions)."""
    return {
        "training_speedup_vs_pad_to_max": ratio(pad.epoch_seconds_raw, dynamic.epoch_seconds_raw),
        "training_speedup_vs_pad_to_max_cpu_time": ratio(pad.epoch_cpu_seconds_raw,
                                                         dynamic.epoch_cpu_seconds_raw),
        "training_speedup_vs_pad_to_max_sampled_steps": ratio(dynamic.real_tokens_per_s,
                                                              pad.real_tokens_per_s),
        "training_speedup_padding_bound": round(windows * max_seq_length
                                                / dynamic.epoch_real_tokens, 3)}


def each_setting(measure_one, ctx: ModelContext, spec: WorkerSpec, device: str,
                 bf16: bool) -> list[dict]:
    """``measure_one(ctx, spec, device, bf16, max_seq_length, doc_stride)`` for every setting of
    ``spec.side_by_side_lengths``; a setting that raises gets ``{"max_seq_length",
    "doc_stride", "error"}`` and the others still run."""
    rows = []
    for length, stride in spec.side_by_side_lengths or []:
        try:
            rows.append(measure_one(ctx, spec, device, bf16, length, stride))
        except Exception as exc:  # noqa: BLE001 - one setting's failure is reported in its row
            rows.append({"max_seq_length": length, "doc_stride": stride,
                         "error": f"{type(exc).__name__}: {exc}"})
    return rows


def inference_setting(ctx: ModelContext, spec: WorkerSpec, device: str, bf16: bool,
                      length: int, stride: int) -> dict:
    """This project's batched inference (``window_merge="longest"``) against the pipeline at
    one window setting, the same model and notes, ``spec.passes`` timed passes interleaved after
    a warm-up: tokens/s of both, speedup (median wall and CPU time), windows, and the notes whose
    spans are identical."""
    texts = ctx.texts
    ner = token_pipeline(ctx, device, length, stride)
    res: dict = {}

    def ours(sub=texts):
        res["ours"] = predict(ctx, sub, device, bf16, "longest", max_seq_length=length,
                              doc_stride=stride)

    fns = {"ours": ours, "pipeline": pipeline_fn(ner, res, "pipeline", texts, device, bf16)}
    for fn in fns.values():
        fn(texts[: spec.warmup_documents])
    wall, cpu = time_passes(fns, spec.passes, device)
    same = sum(spans_as_keys(a) == spans_as_keys(b)
               for a, b in zip(res["ours"], res["pipeline"], strict=True))
    o, pm = median(wall["ours"]), median(wall["pipeline"])
    return {"max_seq_length": length, "doc_stride": stride,
            "windows": sum(count_windows(ctx.tokenizer, ctx.toks, length, stride)),
            "ours_tokens_per_s": round(ctx.n_tokens / o, 1),
            "pipeline_tokens_per_s": round(ctx.n_tokens / pm, 1),
            "speedup": ratio(pm, o),
            "speedup_cpu_time": ratio(median(cpu["pipeline"]), median(cpu["ours"])),
            "notes_identical": same, "notes": len(texts), "spans_identical": same == len(texts)}


def training_setting(ctx: ModelContext, spec: WorkerSpec, device: str, bf16: bool,
                     length: int, stride: int) -> dict:
    """Dynamic padding + length grouping against pad-to-max at one window setting, the same
    model, the run's epoch draw rule and batch size, ``spec.train_steps`` timed steps per
    mode."""
    wins = train_windows(ctx, spec, length, stride)
    tr = time_training({"dynamic": train_entry(ctx, wins, "dynamic", length),
                        "pad_to_max": train_entry(ctx, wins, "pad_to_max", length)},
                       steps=spec.train_steps, seed=spec.seed, device=device, bf16=bf16)
    d, pm = tr["dynamic"], tr["pad_to_max"]
    return {
        "max_seq_length": length, "doc_stride": stride, "windows": len(wins),
        "steps": d.steps, "batch_size": d.batch_size,
        "dynamic_tokens_per_s": d.epoch_real_tokens_per_s,
        "pad_to_max_tokens_per_s": pm.epoch_real_tokens_per_s,
        "speedup": ratio(pm.epoch_seconds_raw, d.epoch_seconds_raw),
        "speedup_cpu_time": ratio(pm.epoch_cpu_seconds_raw, d.epoch_cpu_seconds_raw),
        "padding_bound": round(len(wins) * length / d.epoch_real_tokens, 3),
        "dynamic_padding_fraction": d.padding_fraction,
        "pad_to_max_padding_fraction": pm.padding_fraction}


def inference_sweep(ctx: ModelContext, spec: WorkerSpec, device: str, bf16: bool) -> list[dict]:
    """:func:`inference_setting` at every ``--side_by_side_lengths`` setting."""
    return each_setting(inference_setting, ctx, spec, device, bf16)


def training_sweep(ctx: ModelContext, spec: WorkerSpec, device: str, bf16: bool) -> list[dict]:
    """:func:`training_setting` at every ``--side_by_side_lengths`` setting."""
    return each_setting(training_setting, ctx, spec, device, bf16)
