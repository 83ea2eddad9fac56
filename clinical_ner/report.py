"""Evaluation outputs: ``metrics.json``, the Markdown report, the type confusion matrix and the
error files.

Only the error files (``errors.local.jsonl`` / ``errors.local.md``) quote note text. They begin
with :data:`ERRORS_WARNING`, carry ``.local`` in their names and are meant for the machine that
holds the corpus only. ``metrics.json``, ``report.md``, ``confusion.png``/``confusion.json``,
``comparison.json`` and the load reports hold scores, counts, labels, document ids and paths,
never note text.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from clinical_ner.confusion import confusion_counts, confusion_matrix, plot_confusion
from clinical_ner.documents import Document, Span
from clinical_ner.files import write_json_atomic, write_text_atomic
from clinical_ner.metrics import MEASURES
from clinical_ner.tables import markdown_table as _table

logger = logging.getLogger("clinical_ner")

#: First line of every file that quotes note text.
ERRORS_WARNING = ("WARNING: this file quotes note text (real PHI in a real corpus). Keep it on "
                  "the machine that holds the corpus; never share, publish or commit it.")
#: Names of the error files (inside the output folder).
ERRORS_JSONL = "errors.local.jsonl"
ERRORS_MD = "errors.local.md"

#: Error kinds of :func:`error_records` (strict matching).
ERROR_KINDS = ("missed", "spurious", "wrong_type", "wrong_boundary", "wrong_type_and_boundary")

#: Measures of the report's score table, in order (the registry in :mod:`clinical_ner.metrics`).
_HEADLINE = MEASURES


# -------------------------------------------------------------------------------- error files


def _classify(span: Span, others: Sequence[Span], alone: str) -> tuple[str, list[Span]]:
    """Kind of a strict error given the other side's spans that overlap it."""
    near = [o for o in others if o.overlaps(span)]
    if not near:
        return alone, []
    if any((o.start, o.end) == (span.start, span.end) for o in near):
        return "wrong_type", near
    if any(o.label == span.label for o in near):
        return "wrong_boundary", near
    return "wrong_type_and_boundary", near


def error_records(gold_docs: Sequence[Document], pred_docs: Sequence[Document], *,
                  context: int = 40) -> list[dict]:
    """False negatives and false positives of the Strict measure, with note text around them.

    Inputs: gold documents and predictions (matched by id; a missing prediction is empty).
    Each document is matched as a set (:func:`clinical_ner.metrics.match_exact`), so there is
    one record per strict FN and per strict FP: ``{"document", "file", "side"
    ("false_negative" | "false_positive"), "error", "label", "start", "end", "text", "left",
    "right", "overlapping": [{"label", "start", "end", "text"}]}``. ``error`` is ``missed``
    (FN overlapping no prediction), ``spurious`` (FP overlapping no gold span), ``wrong_type``
    (a span of the other side has the same offsets), ``wrong_boundary`` (an overlapping span
    with the same label) or ``wrong_type_and_boundary``. ``left``/``right`` are up to
    ``context`` characters of note text. Records are sorted by document, start, end, side.
    THE RECORDS QUOTE NOTE TEXT. Raises ValueError for ``context < 0``.
    """
    from clinical_ner.metrics import match_exact

    if context < 0:
        raise ValueError(f"error context must be >= 0 characters, got {context}")
    pred_by_id = {d.id: d for d in pred_docs}
    out = []
    for g_doc in sorted(gold_docs, key=lambda d: d.id):
        p_doc = pred_by_id.get(g_doc.id, Document(g_doc.id, g_doc.text))
        m = match_exact(g_doc.spans, p_doc.spans)
        text = g_doc.text
        pred_spans, gold_spans = sorted(set(p_doc.spans)), sorted(set(g_doc.spans))
        for side, spans, others, alone in (("false_negative", m.fn, pred_spans, "missed"),
                                           ("false_positive", m.fp, gold_spans, "spurious")):
            for s in spans:
                kind, near = _classify(s, others, alone)
                out.append({
                    "document": g_doc.id, "file": (g_doc.meta or {}).get("file"),
                    "side": side, "error": kind, "label": s.label, "start": s.start,
                    "end": s.end, "text": text[s.start:s.end],
                    "left": text[max(0, s.start - context):s.start],
                    "right": text[s.end:s.end + context],
                    "overlapping": [{"label": o.label, "start": o.start, "end": o.end,
                                     "text": text[o.start:o.end]} for o in near],
                })
    out.sort(key=lambda r: (r["document"], r["start"], r["end"], r["side"]))
    return out


def error_counts(records: Sequence[Mapping]) -> dict:
    """Counts of :func:`error_records` output, without any text: ``{"false_negative": n,
    "false_positive": n, "by_error": {error: n}, "by_label": {label: {"false_negative": n,
    "false_positive": n}}}`` (keys sorted)."""
    sides = Counter(r["side"] for r in records)
    by_error = Counter(r["error"] for r in records)
    by_label: dict[str, Counter] = {}
    for r in records:
        by_label.setdefault(r["label"], Counter())[r["side"]] += 1
    return {
        "false_negative": sides["false_negative"],
        "false_positive": sides["false_positive"],
        "by_error": {k: by_error[k] for k in ERROR_KINDS if by_error[k]},
        "by_label": {lab: {"false_negative": c["false_negative"],
                           "false_positive": c["false_positive"]}
                     for lab, c in sorted(by_label.items())},
    }


def _inline(s: str) -> str:
    """Note text for one Markdown line: line breaks shown as ⏎, tabs as spaces, backticks as '."""
    return (s.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")
            .replace("`", "'"))


def write_error_files(records: Sequence[Mapping], out_dir: str | Path) -> dict[str, Path]:
    """Write ``errors.local.jsonl`` and ``errors.local.md`` into ``out_dir``.

    JSONL: the first line is ``{"warning": ERRORS_WARNING}``, then one record per line (exact
    note text, offsets into the note). Markdown: the first line is the warning, then the errors
    grouped by document, the span in ⟦ ⟧ with its context (line breaks shown as ⏎, backticks as
    '). Returns ``{"jsonl": path, "md": path}``. BOTH FILES QUOTE NOTE TEXT: local use only.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl, md = out_dir / ERRORS_JSONL, out_dir / ERRORS_MD
    write_text_atomic(jsonl, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in
                                     [{"warning": ERRORS_WARNING}, *records]))
    counts = error_counts(records)
    lines = [ERRORS_WARNING, "", "# Strict errors with context", "",
             f"{counts['false_negative']} false negatives, {counts['false_positive']} false "
             "positives (Strict measure; one line per FN and per FP). Kinds: "
             + (", ".join(f"{k} {v}" for k, v in counts["by_error"].items()) or "none") + ".", ""]
    current = None
    for r in records:
        if r["document"] != current:
            current = r["document"]
            lines += ["", f"## {current}" + (f" ({r['file']})" if r.get("file") else ""), ""]
        tag = "FN" if r["side"] == "false_negative" else "FP"
        other = "; ".join(f"{o['label']} [{o['start']}, {o['end']})" for o in r["overlapping"])
        lines.append(
            f"- **{tag}** {r['error']} `{r['label']}` [{r['start']}, {r['end']})"
            + (f" (overlaps {other})" if other else "")
            + f": `…{_inline(r['left'])}⟦{_inline(r['text'])}⟧{_inline(r['right'])}…`")
    write_text_atomic(md, "\n".join(lines) + "\n")
    return {"jsonl": jsonl, "md": md}


# ---------------------------------------------------------------------------------- Markdown


def _f(x) -> str:
    return f"{x:.4f}" if isinstance(x, (int, float)) else "–"


def _ci(m: Mapping) -> str:
    ci = m.get("f1_ci")
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "–"


def _measures(metrics: Mapping) -> list[str]:
    names = [m for m in _HEADLINE if isinstance(metrics.get(m), Mapping)]
    if "exact" in names:  # concepts: "strict" is a copy of "exact"
        names.remove("strict")
    return names


def metrics_markdown(metrics: Mapping) -> str:
    """The score tables of a ``metrics.json`` dict as Markdown (no note text): micro with the
    95% CI, macro (official, and over non-empty documents), per TYPE, per category, seqeval."""
    names = _measures(metrics)
    lines = ["## Micro (primary): TP, FP, FN pooled over documents", ""]
    lines += _table(
        ["measure", "precision", "recall", "F1", "95% CI of F1", "TP", "FP", "FN"],
        [[f"`{n}`", _f(metrics[n]["micro"]["precision"]), _f(metrics[n]["micro"]["recall"]),
          f"**{_f(metrics[n]['micro']['f1'])}**", _ci(metrics[n]["micro"]),
          metrics[n]["micro"]["tp"], metrics[n]["micro"]["fp"], metrics[n]["micro"]["fn"]]
         for n in names])
    lines += ["", "## Macro: mean (SD) of per-document precision and recall; F1 from those means",
              "", "Official definition: every document counts and 0/0 gives 0, so a note without "
              "any gold or predicted span scores P = R = 0. *Non-empty* leaves those notes out "
              "(not an official measure).", ""]
    rows = []
    for n in names:
        ma, ne = metrics[n]["macro"], metrics[n].get("macro_nonempty", {})
        rows.append([f"`{n}`", f"{_f(ma['precision'])} ({_f(ma['precision_sd'])})",
                     f"{_f(ma['recall'])} ({_f(ma['recall_sd'])})", _f(ma["f1"]),
                     ma["documents"], _f(ne.get("precision")), _f(ne.get("recall")),
                     _f(ne.get("f1")), ne.get("documents", "–")])
    lines += _table(["measure", "P (SD)", "R (SD)", "F1", "documents", "non-empty P",
                     "non-empty R", "non-empty F1", "non-empty documents"], rows)
    per_type_measures = [n for n in ("strict", "relaxed", "token", "exact", "inexact")
                         if n in names and metrics[n].get("per_type")]
    if per_type_measures:
        first = per_type_measures[0]
        types = sorted(set().union(*(metrics[n]["per_type"] for n in per_type_measures)),
                       key=lambda t: (-metrics[first]["per_type"].get(t, {}).get("support", 0), t))
        header = ["type", f"support ({first})"]
        for n in per_type_measures:
            header += [f"{n} P", f"{n} R", f"{n} F1"]
        rows = []
        for t in types:
            row = [f"`{t}`", metrics[first]["per_type"].get(t, {}).get("support", 0)]
            for n in per_type_measures:
                v = metrics[n]["per_type"].get(t, {})
                row += [_f(v.get("precision")), _f(v.get("recall")), _f(v.get("f1"))]
            rows.append(row)
        lines += ["", "## Per TYPE (micro within the type; token measures count tokens)", ""]
        lines += _table(header, rows)
    for n in ("strict", "hipaa_strict"):
        cats = metrics.get(n, {}).get("per_category") if n in names else None
        if cats:
            lines += ["", f"## Per category (`{n}`)", ""]
            lines += _table(["category", "support", "P", "R", "F1", "TP", "FP", "FN"],
                            [[f"`{c}`", v["support"], _f(v["precision"]), _f(v["recall"]),
                              _f(v["f1"]), v["tp"], v["fp"], v["fn"]]
                             for c, v in cats.items()])
    seq = [(k, metrics[k]) for k in ("seqeval", "seqeval_lenient") if k in metrics]
    if seq:
        lines += ["", "## seqeval (entity level over words, IOB2)", ""]
        lines += _table(["mode", "micro P", "micro R", "micro F1", "macro F1", "support"],
                        [[v["mode"], _f(v["micro"]["precision"]), _f(v["micro"]["recall"]),
                          _f(v["micro"]["f1"]), _f(v["macro"]["f1"]), v["micro"]["support"]]
                         for _, v in seq])
        if "seqeval_lenient" in metrics:
            lines += ["", "The lenient row is seqeval's default mode (conlleval-like: an `I-` "
                      "without `B-` starts an entity); it is not comparable to strict scores."]
    return "\n".join(lines) + "\n"


def confusion_markdown(counts: Mapping[tuple[str, str], int]) -> str:
    """The :func:`clinical_ner.confusion.confusion_matrix` of ``counts`` as a Markdown table
    (labels and counts only; empty cells left blank)."""
    rows, cols, matrix = confusion_matrix(counts)
    body = [[f"`{r}`"] + [str(v) if v else "" for v in matrix[i]] for i, r in enumerate(rows)]
    return "\n".join(_table(["gold \\ predicted"] + [f"`{c}`" for c in cols], body)) + "\n"


def reading_markdown(reading: Mapping | None) -> list[str]:
    """The "Files as read" section of ``report.md``: per side (gold, pred, ...), how the files
    were read, the tags in the files, the spans scored and each problem kind with its action
    (:func:`clinical_ner.evaluation.reading_summary` dicts). Counts only. Empty without
    ``reading``."""
    if not reading:
        return []
    lines = ["## Files as read", "",
             "Scored as the official i2b2 2014 scorer reads files: offsets and TYPEs as written, "
             "no trimming, dropping or overlap resolution; a document is a set of tags, so a "
             "duplicate counts once. *Differ* = tags in the files - spans scored; the problems "
             "column gives each warning or difference with what was done (the load reports list "
             "them with file, record and offsets).", ""]
    rows = [[side, r["reading"], r["tags_read"], r["spans_scored"], r["differ"],
             "; ".join(f"{k}: {v}" for k, v in r["problems"].items()) or "none"]
            for side, r in reading.items()]
    return lines + _table(["side", "reading", "tags in files", "spans scored", "differ",
                           "problems"], rows) + [""]


def _settings_table(settings: Mapping) -> list[str]:
    rows = []
    for k, v in settings.items():
        if isinstance(v, Mapping):
            v = ", ".join(f"{a}: {b}" for a, b in v.items())
        rows.append([k, f"`{v}`"])
    return _table(["setting", "value"], rows)


def _privacy_lines(errors: Mapping | None, predictions: Mapping | None) -> list[str]:
    lines = ["## Note text", "",
             "`metrics.json`, this report, `confusion.png`/`confusion.json` and the load reports "
             "hold no note text (scores, counts, labels, document ids and paths only)."]
    if errors:
        lines += ["", f"The false positives and false negatives with their note text are in "
                  f"`{ERRORS_JSONL}` and `{ERRORS_MD}`. **They quote note text: they are "
                  "written only to this local folder and must not be shared, published or "
                  "committed.**"]
    else:
        lines += ["", "No error file was written (`--write_errors false`)."]
    if predictions:
        lines += ["", f"Predictions ({predictions['format']}, {predictions['documents']} "
                  f"documents, {predictions['spans']} spans) are in `{predictions['path']}`. "
                  "**They contain the note text: keep them where the corpus may be kept.**"]
    return lines


def write_report(path: str | Path, metrics: Mapping, *, confusion: Mapping | None = None,
                 errors: Mapping | None = None, predictions: Mapping | None = None,
                 confusion_png: str | None = None) -> Path:
    """Write the Markdown report of one evaluation to ``path`` and return it.

    Inputs: ``metrics`` (a ``metrics.json`` dict, with ``evaluation`` settings), the confusion
    ``counts`` (:func:`clinical_ner.confusion.confusion_counts`), ``errors`` (:func:`error_counts`
    output, or None when no error file was written), ``predictions`` (what
    :func:`clinical_ner.predictions.write_predictions` returned) and the PNG's file name. The
    report holds no note text and says which files do.
    """
    settings = metrics.get("evaluation", {})
    lines = ["# Evaluation report", ""]
    lines += [f"{metrics.get('documents', '?')} documents, {metrics.get('gold_spans', '?')} gold "
              f"spans, {metrics.get('pred_spans', '?')} predicted spans. Measures follow the "
              "official i2b2 2014 scorer (kotfic/i2b2_evaluation_scripts) on character spans, "
              "each document scored as a set; see docs/metrics.md for every key of "
              "`metrics.json` and the exact definitions.", ""]
    if settings.get("metric_scheme") == "i2b2_2014":
        idnum = ("included (`--hipaa_include_idnum`)" if settings.get("hipaa_include_idnum")
                 else "left out, exactly as the official script (its pattern `\"IDNUM \"` has "
                      "a trailing space)")
        lines += [f"HIPAA measures: ID/IDNUM is {idnum}. Relaxed: same label and start, end "
                  "within ±2 characters, matched one to one.", ""]
    if settings.get("bootstrap"):
        lines += [f"95% CIs: percentile bootstrap over documents, {settings['bootstrap']} "
                  f"resamples, seed {settings.get('seed')}.", ""]
    lines += ["## Settings", ""] + _settings_table({k: v for k, v in settings.items()
                                                     if k != "reading"}) + [""]
    lines += reading_markdown(settings.get("reading"))
    lines.append(metrics_markdown(metrics))
    if metrics.get("seqeval_skipped"):
        lines += [f"seqeval: {metrics['seqeval_skipped']}", ""]
    if confusion is not None:
        lines += ["## Type confusion (overlap matching, labels and counts only)", "",
                  "Rows are gold labels, columns predicted labels; a gold span no prediction "
                  "overlaps is in the `O (missed)` column, a prediction that overlaps no gold span "
                  "in the `O (spurious)` row.", ""]
        if confusion_png:
            lines += [f"![type confusion]({confusion_png})", ""]
        lines.append(confusion_markdown(confusion))
    if errors is not None:
        lines += ["## Strict errors (counts)", "",
                  f"{errors['false_negative']} false negatives, {errors['false_positive']} false "
                  "positives.", ""]
        if errors["by_error"]:
            lines += _table(["error", "count"],
                            [[k, v] for k, v in errors["by_error"].items()]) + [""]
    lines += _privacy_lines(errors, predictions)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def write_evaluation_outputs(out_dir: str | Path, metrics: dict, gold: Sequence[Document],
                             pred: Sequence[Document], *, reports: Mapping | None = None,
                             write_errors: bool = True, error_context: int = 40,
                             predictions: Mapping | None = None) -> dict[str, Path]:
    """Write every output of one evaluation into ``out_dir`` and return their paths by name.

    ``metrics.json`` (``metrics`` as given), ``confusion.png`` and ``confusion.json`` (rows,
    columns, matrix), ``load_report.json``/``pred_load_report.json`` (from ``reports``:
    ``{"gold_report", "pred_report"}``), ``report.md`` and, with ``write_errors``,
    ``errors.local.jsonl``/``errors.local.md`` (note text, local only). Raises OSError when a
    file cannot be written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["metrics"] = out / "metrics.json"
    write_json_atomic(paths["metrics"], metrics)
    gold_map = {d.id: d.spans for d in gold}
    pred_map = {d.id: d.spans for d in pred}
    counts = confusion_counts(gold_map, pred_map)
    rows, cols, matrix = confusion_matrix(counts)
    paths["confusion_json"] = out / "confusion.json"
    write_json_atomic(paths["confusion_json"],
                      {"rows": rows, "columns": cols, "matrix": matrix.tolist()}, indent=1)
    paths["confusion_png"] = plot_confusion(counts, out / "confusion.png")
    for key, name in (("gold_report", "load_report.json"), ("pred_report",
                                                             "pred_load_report.json")):
        if reports and reports.get(key) is not None:
            reports[key].write(out / name)
            paths[key] = out / name
    errors = None
    if write_errors:
        records = error_records(gold, pred, context=error_context)
        errors = error_counts(records)
        files = write_error_files(records, out)
        paths["errors_jsonl"], paths["errors_md"] = files["jsonl"], files["md"]
        logger.warning("%s and %s quote note text: keep them local, never share them",
                       files["jsonl"], files["md"])
    paths["report"] = write_report(out / "report.md", metrics, confusion=counts, errors=errors,
                                   predictions=predictions, confusion_png="confusion.png")
    logger.info("wrote %s", ", ".join(sorted(p.name for p in paths.values())))
    return paths


def comparison_markdown(comparison: Mapping) -> str:
    """The ``--compare`` result as Markdown: one row per measure with micro F1 of A and B, the
    difference B - A, its 95% paired-bootstrap CI and the p-value (no note text)."""
    s = comparison["evaluation"]
    lines = ["# Paired comparison", "",
             f"A = `{s.get('a')}`, B = `{s.get('b')}`, gold = `{s.get('gold')}`. Method: "
             f"{s.get('method')} ({s.get('bootstrap')} resamples/trials, seed {s.get('seed')}). "
             "The difference is micro F1 of B minus A; its 95% CI is always the paired "
             "bootstrap percentile interval over documents. See docs/metrics.md.", ""]
    rows = [[f"`{m}`", _f(r["f1_a"]), _f(r["f1_b"]), f"{r['difference']:+.4f}",
             f"[{r['difference_ci'][0]:+.4f}, {r['difference_ci'][1]:+.4f}]",
             f"{r['p_value']:.4g}", r["documents"]]
            for m, r in comparison["measures"].items()]
    lines += _table(["measure", "F1 A", "F1 B", "B − A", "95% CI", "p-value", "documents"],
                    rows)
    lines += ["", "## Settings", ""] + _settings_table({k: v for k, v in s.items()
                                                         if k != "reading"})
    lines += [""] + reading_markdown(s.get("reading"))
    return "\n".join(lines) + "\n"


def write_comparison_outputs(out_dir: str | Path, comparison: Mapping) -> dict[str, Path]:
    """Write ``comparison.json`` and ``report.md`` (:func:`comparison_markdown`) of a
    ``--compare`` run into ``out_dir``; returns their paths. No note text."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "comparison.json", out / "report.md"
    write_json_atomic(js, comparison)
    write_text_atomic(md, comparison_markdown(comparison))
    return {"comparison": js, "report": md}
