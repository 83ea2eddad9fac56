"""``results.md``: the Markdown report of a ``results.json`` dict (rows, ratios, side by side,
failures, environment, notes) and the plain-language explanations of the ratios. Works on a
loaded ``results.json`` as well, so a report can be rendered again without measuring."""

from __future__ import annotations

from clinical_ner.tables import fmt_number as _fmt
from clinical_ner.tables import is_number, markdown_table

#: Columns of the rows table.
ROW_HEADER = ("model", "task", "params (M)", "disk fp32 MB", "disk fp16 MB",
              "peak mem MB (infer / train)", "train s", "train tok/s", "epoch s", "infer tok/s",
              "notes/s", "latency p50 / p95 ms", "strict F1 [95% CI]")
SWEEP_HEADER = ("max_seq_length / stride", "inference: ours / pipeline tok/s",
                "inference speedup (CPU time)", "spans identical",
                "training: dynamic / pad-to-max tok/s", "training speedup (CPU time)",
                "padded / real positions")


def _intro(results: dict) -> list[str]:
    cfg, rows = results["settings"], results["rows"]
    lines = [f"# Benchmark ({results['mode']})", "",
             f"Corpus `{cfg['data_dir']}`, split `{cfg['split']}`; device `{cfg['device']}`"
             f"{' bf16' if cfg['bf16'] else ''}; seed {cfg['seed']}. MB = 10^6 bytes."]
    r0 = next((r for r in rows if not r.get("error")), None)
    if r0:
        lines += ["", f"Inference: {r0.get('documents')} notes ({_fmt(r0.get('note_tokens'))} "
                  f"sub-tokens, {r0.get('windows')} windows of up to {r0.get('max_seq_length')}"
                  f", stride {r0.get('doc_stride')}), {len(r0.get('infer_pass_seconds') or [])}"
                  f" timed passes after a warm-up, batch {cfg.get('eval_batch_size')}; "
                  f"latency over {r0.get('latency_notes')} notes. Training: "
                  f"{cfg.get('train_steps')} timed steps per model of batch "
                  f"{cfg.get('train_batch_size')} (real runs: the run's batch size unless "
                  f"--train_batch_size was given) from {r0.get('train_windows')} training "
                  "windows. Models timed interleaved in one process; sizes and peak memory in one "
                  "process per model."]
    return lines


def _row_cells(r: dict) -> list:
    if r.get("error"):
        err = " ".join(r["error"].split()).replace("|", "/")[:160]
        return [r["model"], r["task"], f"error: {err}"] + [""] * 10
    ci = r.get("f1_ci")
    f1 = (f"{r['f1']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
          if is_number(r.get("f1")) else "–")
    params = _fmt(r["params"] / 1e6, 2) if is_number(r.get("params")) else "–"
    return [r["model"], r["task"], params, _fmt(r["disk_mb_fp32"]), _fmt(r["disk_mb_fp16"]),
            f"{_fmt(r['peak_mem_mb'], 0)} / {_fmt(r.get('train_peak_mem_mb'), 0)}",
            _fmt(r["train_seconds"]), _fmt(r["train_tokens_per_s"]),
            _fmt(r.get("epoch_seconds")), _fmt(r["infer_tokens_per_s"]),
            _fmt(r["infer_notes_per_s"], 2),
            f"{_fmt(r['latency_p50_ms'], 0)} / {_fmt(r['latency_p95_ms'], 0)}", f1]


def _ratios_table(results: dict) -> list[str]:
    ratios = results.get("ratios")
    if not ratios:
        return []
    metrics = list(dict.fromkeys(k for d in ratios.values() for k, v in d.items()
                                 if v is not None))
    return ["", f"## Ratios against `{results['reference']}`", ""] + markdown_table(
        ["model", *metrics], [[m, *(_fmt(d.get(k), 3) for k in metrics)]
                              for m, d in ratios.items()])


def _pipeline_lines(sbs: dict, p: dict) -> list[str]:
    sp = p["spans"]
    merge = p.get("ours_window_merge", "central")
    lines = [f"* Inference: this project (batched windows, `window_merge=\"{merge}\"`) "
             f"{_fmt(sbs.get('ours_tokens_per_s'))} tok/s vs `{p['call']}` "
             f"{_fmt(p['tokens_per_s'])} tok/s: speedup "
             f"**{_fmt(sbs['inference_speedup_vs_pipeline'], 2)}x** wall time (median of "
             f"{len(p['pass_seconds'])} interleaved passes over {sp['notes']} notes; "
             f"{_fmt(p['speedup_cpu_time'], 2)}x in process CPU time); spans identical: "
             f"**{sbs['spans_identical']}** ({sp['spans_in_both']} shared, "
             f"{sp['spans_only_ours']} only ours, {sp['spans_only_pipeline']} only pipeline, in "
             f"{sp['notes_differing']}/{sp['notes']} notes; one-window notes identical: "
             f"{sp['single_window_notes_identical']}/{sp['single_window_notes']})."]
    sc = p.get("spans_central_merge")
    if sc:
        lines.append(
            f"  With the default `window_merge=\"central\"` (each word from the window where it "
            f"is most central): {_fmt(p.get('speedup_central_merge'), 2)}x; "
            f"{sc['spans_in_both']} spans shared with the pipeline, {sc['spans_only_ours']} only "
            f"ours, {sc['spans_only_pipeline']} only the pipeline's, in "
            f"{sc['notes_differing']}/{sc['notes']} notes (by reason "
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
            f"{_fmt(pos['batched'])} in {_fmt(calls['batched'])} forward calls, the pipeline "
            f"{_fmt(pos['per_note'])} in {_fmt(calls['per_note'])} calls (one window per call, "
            f"a note's windows padded to its longest); real tokens with special tokens "
            f"{_fmt(pos['real'])}.")
    return lines


def _training_line(sbs: dict, t: dict) -> str:
    d, pm = t["dynamic"], t["pad_to_max"]
    ep = "epoch_real_tokens_per_s"
    return (
        f"* Training ({d['steps']} timed steps each, interleaved, batch {d['batch_size']}, "
        f"extrapolated to one epoch of {_fmt(d['epoch_batches'])} batches): dynamic padding + "
        f"length grouping {_fmt(d.get(ep))} real tok/s (timed steps "
        f"{d['padding_fraction']:.1%} padding) vs every window padded to max_seq_length "
        f"{_fmt(pm.get(ep))} real tok/s (timed steps {pm['padding_fraction']:.1%} padding): "
        f"speedup **{_fmt(sbs['training_speedup_vs_pad_to_max'], 2)}x** wall time "
        f"({_fmt(sbs.get('training_speedup_vs_pad_to_max_cpu_time'), 2)}x in process CPU time; "
        f"the timed steps alone: "
        f"{_fmt(sbs.get('training_speedup_vs_pad_to_max_sampled_steps'), 2)}x; padded / real "
        f"positions, max_seq_length x windows / real tokens: "
        f"{_fmt(sbs.get('training_speedup_padding_bound'), 2)}x, the speedup if step time grew "
        f"linearly with positions; attention grows faster, so padding costs more).")


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


def _sweep_cells(r: dict) -> list:
    i, t = r.get("inference") or {}, r.get("training") or {}
    ident = f"{i['notes_identical']}/{i['notes']} notes" if "notes" in i else ""
    errors = [f"{k}: {x['error']}" for k, x in (("inference", i), ("training", t))
              if x.get("error")]
    if errors:
        ident = (ident + " " if ident else "") + "failed (" + "; ".join(errors) + ")"
    return [f"{r['max_seq_length']} / {r['doc_stride']}",
            f"{_fmt(i.get('ours_tokens_per_s'))} / {_fmt(i.get('pipeline_tokens_per_s'))}",
            f"**{_fmt(i.get('speedup'), 2)}x** ({_fmt(i.get('speedup_cpu_time'), 2)}x)", ident,
            f"{_fmt(t.get('dynamic_tokens_per_s'))} / {_fmt(t.get('pad_to_max_tokens_per_s'))}",
            f"**{_fmt(t.get('speedup'), 2)}x** ({_fmt(t.get('speedup_cpu_time'), 2)}x)",
            f"{_fmt(t.get('padding_bound'), 2)}x"]


def _side_by_side(results: dict) -> list[str]:
    sbs = results.get("side_by_side") or {}
    lines = []
    if sbs.get("model"):
        lines += ["", f"## Side by side (model `{sbs['model']}`)", ""]
        if sbs.get("pipeline"):
            lines += _pipeline_lines(sbs, sbs["pipeline"])
        if sbs.get("training"):
            lines.append(_training_line(sbs, sbs["training"]))
    rows = sweep_rows(sbs)
    if rows:
        lines += ["", "Side by side at other window settings (same model and notes; training: "
                  "the same batch size and epoch draw rule; `window_merge=\"longest\"`):", ""]
        lines += markdown_table(SWEEP_HEADER, [_sweep_cells(r) for r in rows])
    return lines


def _failures_and_environment(results: dict) -> list[str]:
    lines = []
    failed = [r for r in results["rows"] if r.get("error") or r.get("partial_errors")]
    if failed:
        lines += ["", "## Failures (figures shown as – were not measured)", ""]
        lines += [f"* {r['model']} / {r['task']}: "
                  + (r.get("error") or "; ".join(r["partial_errors"])) for r in failed]
    env, cfg = results["environment"], results["settings"]
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
    return lines


def markdown_report(results: dict) -> str:
    """The Markdown report of a ``results.json`` dict: rows table, ratios, side by side,
    failures, environment and notes (figures only, never note text)."""
    lines = _intro(results) + [""]
    lines += markdown_table(ROW_HEADER, [_row_cells(r) for r in results["rows"]])
    lines += _ratios_table(results) + _side_by_side(results)
    lines += _failures_and_environment(results)
    return "\n".join(lines) + "\n"


def _layer_note(m: str, ref_name: str, r: dict, ref: dict, d: dict) -> str:
    emb, remb = r.get("embedding_params"), ref.get("embedding_params")
    return (
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


def _memory_note(m: str, ref_name: str, r: dict, ref: dict, d: dict, batch) -> str:
    w, rw = r.get("disk_mb_fp32"), ref.get("disk_mb_fp32")
    pd, rpd = r.get("peak_mem_delta_mb"), ref.get("peak_mem_delta_mb")
    rest = (f"; the rest ({_fmt(pd - w, 0)} vs {_fmt(rpd - rw, 0)} MB) is one batch's "
            f"activations ({batch} windows of up to {r.get('max_seq_length')} tokens; freed "
            f"layer by layer, so they do not grow with depth) and allocator slack"
            if all(is_number(x) for x in (w, rw, pd, rpd)) else "")
    return (
        f"{m}/{ref_name}: peak memory ratio {_fmt(d.get('peak_mem'), 3)} is of the whole "
        f"process (Python, torch, tokenizer, corpus: "
        f"~{_fmt(r.get('peak_mem_baseline_mb'), 0)} MB before the model is "
        f"built, the same for both). Above that baseline inference is "
        f"{_fmt(d.get('peak_mem_delta'), 3)}: fp32 weights {_fmt(w, 0)} vs {_fmt(rw, 0)} "
        f"MB{rest}. Training is {_fmt(d.get('train_peak_mem_delta'), 3)} above the "
        f"baseline: weights, gradients and two AdamW moments (4 x the weights) dominate, "
        f"so it follows the parameter ratio {_fmt(d.get('params'), 3)}.")


def explain(results: dict) -> list[str]:
    """Plain-language notes on the measured ratios: why DistilBERT/BERT disk and memory are not
    the study's ~0.5 (embeddings, process baseline), from the rows' own figures."""
    notes = []
    rows = {r["model"]: r for r in results["rows"] if not r.get("error")}
    ref_name = results["reference"]
    ref = rows.get(ref_name)
    batch = results["settings"].get("eval_batch_size")
    for m, d in results.get("ratios", {}).items():
        r = rows.get(m)
        if r is None or ref is None or r.get("same_as") or not is_number(r.get("params")):
            continue
        if is_number(r.get("embedding_params")) and is_number(ref.get("embedding_params")):
            notes.append(_layer_note(m, ref_name, r, ref, d))
        if is_number(d.get("peak_mem")) and r.get("device", "cpu") == "cpu":
            notes.append(_memory_note(m, ref_name, r, ref, d, batch))
    return notes


def span_note(sp: dict) -> str:
    """Why the pipeline's spans differ from ours (a ``compare_span_sets`` result)."""
    return (f"pipeline spans differ from ours in {sp['notes_differing']} of {sp['notes']} notes "
            f"({sp['spans_only_ours']} spans only ours, {sp['spans_only_pipeline']} only the "
            f"pipeline's; by reason {sp['differences_by_reason']}). word_boundary: the pipeline "
            "groups sub-tokens into the tokenizer's pre-tokenized words, this project into "
            "[^\\W_]+|\\S words (e.g. a symbol such as a degree sign is its own word here); "
            "window_overlap: the pipeline predicts every window on its own and keeps the longest "
            "of overlapping entities, this project keeps for each word the window where the word "
            "is most central.")
