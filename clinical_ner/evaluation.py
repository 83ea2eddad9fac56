"""Score predicted documents against gold documents: official span measures, seqeval strict,
and per-type support counts. Writes nothing that contains note text.

Besides :func:`score_documents` (used by training and by ``eval_ner.py``), this module holds the
three ways ``eval_ner.py`` gets its predictions (:class:`EvalArguments` says which):

* ``--model DIR --data_dir DIR --split test``: a saved ``train_ner.py`` model predicts one split
  with the task and window settings of its run (:func:`evaluate_model`);
* ``--gold DIR --pred DIR``: two folders of files in the same format (:func:`evaluate_folders`);
* ``--gold DIR --compare A B``: a paired significance test of two prediction folders on the same
  documents (:func:`compare_folders`).

Output files are written by :mod:`clinical_ner.report` and :mod:`clinical_ner.predictions`.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoConfig, AutoTokenizer

from clinical_ner import report as rep
from clinical_ner.backends import check_backend, load_inference_model
from clinical_ner.documents import Document, FormatError, LoadReport
from clinical_ner.files import check_writable_dir
from clinical_ner.inference import predict_corpus_sharded, process_state
from clinical_ner.metrics import CONCEPT_MEASURES, I2B2_2014_MEASURES, paired_test
from clinical_ner.predictions import check_writable, prediction_format, write_predictions
from clinical_ner.run_folder import SAVED_SETTINGS, CorpusSettings, RunFolder
from clinical_ner.scoring import (
    CONFIDENCE,
    check_predictions,
    reading_summary,
    score_documents,
    where,
)
from clinical_ner.task_data import load_task_documents
from clinical_ner.tasks import get_task
from clinical_ner.thresholds import parse_thresholds, threshold_sweep, write_threshold_outputs
from data_scripts import load_corpus

logger = logging.getLogger("clinical_ner")

# --------------------------------------------------------------------------------- arguments


@dataclass
class EvalArguments:
    """Arguments of ``eval_ner.py``. Exactly one mode: ``--model`` (with ``--data_dir``),
    ``--gold`` with ``--pred``, or ``--gold`` with ``--compare A B``."""

    model: str = field(default=None, metadata={
        "help": "Model folder written by train_ner.py (task and window settings are read from "
                "its clinical_ner.json; flags given here override them)."})
    data_dir: str = field(default=None, metadata={
        "help": "Corpus folder for --model (default: the data_dir of the run)."})
    split: str = field(default="test", metadata={"help": "Split to score with --model."})
    gold: str = field(default=None, metadata={
        "help": "Gold folder/file (every document in it is scored; split sub-folders are "
                "merged)."})
    pred: str = field(default=None, metadata={
        "help": "Prediction folder/file in the same format as --gold."})
    compare: list[str] = field(default=None, metadata={
        "help": "Two prediction folders A B to compare on the --gold documents (paired test)."})
    compare_method: str = field(default="bootstrap", metadata={
        "help": "Paired test of --compare: 'bootstrap' (paired bootstrap) or 'randomization' "
                "(approximate randomization).", "choices": ["bootstrap", "randomization"]})
    format: str = field(default=None, metadata={
        "help": "Corpus format (i2b2_2014, brat, jsonl, ...; default: the run's, else "
                "i2b2_2014)."})
    output_dir: str = field(default=None, metadata={
        "help": "Where metrics.json, report.md, confusion.png and errors.local.* go (default "
                "with --model: MODEL/eval_SPLIT; without: nothing is written)."})
    metric_scheme: str = field(default=None, metadata={
        "help": "i2b2_2014 or concepts (default: the task's with --model; for --gold/--pred "
                "i2b2_2014 for i2b2_2014/i2b2_2006 files or CATEGORY/TYPE labels, else "
                "concepts).", "choices": ["i2b2_2014", "concepts"]})
    task: str = field(default=None, metadata={"help": "Task (default: the run's)."})
    label_granularity: str = field(default=None, metadata={
        "help": "PHI labels 'type' or 'category' (default: the run's)."})
    max_seq_length: int = field(default=None, metadata={
        "help": "Window length in sub-tokens (default: the run's)."})
    doc_stride: int = field(default=None, metadata={
        "help": "Window overlap in sub-tokens (default: the run's)."})
    split_seed: int = field(default=None, metadata={
        "help": "Seed of the by-patient split of a corpus without split folders (default: the "
                "run's, else 1701)."})
    discontinuous: str = field(default=None, metadata={
        "help": "brat discontinuous spans: join, split or drop (default: the run's with --model, "
                "the reader's default otherwise).", "choices": ["join", "split", "drop"]})
    batch_size: int = field(default=32, metadata={"help": "Inference batch size (windows)."})
    window_merge: str = field(default="central", metadata={
        "help": "How the overlapping windows of a note are merged: 'central' (each word from the "
                "window where it is most central) or 'longest' (the token classification "
                "pipeline's rule: each window decoded on its own, the longest of overlapping "
                "entities kept; the spans of pipeline(aggregation_strategy='first', stride=) "
                "for tokenizers that pad on the right, zero-width entities left out).",
        "choices": ["central", "longest"]})
    device: str = field(default=None, metadata={
        "help": "Inference device (default: cuda when available, else cpu)."})
    backend: str = field(default="torch", metadata={
        "help": "With --model: the forward pass in 'torch' or 'onnx' (ONNX Runtime; the export "
                "is cached in MODEL/onnx/). Windows, batching and merge are the same.",
        "choices": ["torch", "onnx"]})
    precision: str = field(default="fp32", metadata={
        "help": "fp32, int8 (dynamic quantization, CPU), fp16 or bf16 (GPU, torch backend).",
        "choices": ["fp32", "int8", "fp16", "bf16"]})
    threads_per_process: int = field(default=None, metadata={
        "help": "Intra-op threads of torch / ONNX Runtime per process (default: the library's; "
                "with N processes on C cores use C / N)."})
    bootstrap: int = field(default=1000, metadata={
        "help": "Bootstrap resamples for the 95%% CIs and the paired test (0 = no CIs)."})
    seed: int = field(default=12345, metadata={"help": "Seed of the bootstrap/randomization."})
    hipaa_include_idnum: bool = field(default=False, metadata={
        "help": "Count ID/IDNUM as HIPAA (the official script leaves it out: its pattern "
                "'IDNUM ' has a trailing space)."})
    seqeval_lenient: bool = field(default=False, metadata={
        "help": "Also report seqeval's lenient default mode (conlleval-like), labelled so."})
    write_predictions: bool = field(default=False, metadata={
        "help": "With --model: write predictions in the corpus format (i2b2 2014 XML, brat, "
                "else JSONL). They contain note text."})
    predictions_dir: str = field(default=None, metadata={
        "help": "Where --write_predictions writes (default OUTPUT_DIR/predictions)."})
    write_errors: bool = field(default=True, metadata={
        "help": "Write errors.local.jsonl/.md (false positives/negatives WITH note text, for "
                "local use only)."})
    error_context: int = field(default=40, metadata={
        "help": "Characters of note text each side of an error in errors.local.*."})
    thresholds: str = field(default=None, metadata={
        "help": "With --model: also score the split at each P(O) threshold, e.g. "
                "0.5,0.7,0.9,0.97,0.99 (a token is PHI unless P(O) >= t; one prediction per "
                "threshold): strict and binary-token P/R in thresholds.json and thresholds.png, "
                "to choose a recall-first predict_ner.py --threshold on dev."})


def _mode(args: EvalArguments) -> str:
    given = [name for name, v in (("--model", args.model), ("--pred", args.pred),
                                  ("--compare", args.compare)) if v]
    if len(given) != 1:
        raise ValueError("give exactly one of --model DIR, --gold DIR --pred DIR, or --gold DIR "
                         f"--compare A B (got {', '.join(given) or 'none'})")
    if args.thresholds:
        if not args.model:
            raise ValueError("--thresholds is for --model (the split is predicted at each "
                             "threshold)")
        if args.window_merge != "central":
            raise ValueError("--thresholds needs --window_merge central")
        parse_thresholds(args.thresholds)
    if args.model:
        if args.gold:
            raise ValueError("--gold is for --pred/--compare; with --model use --data_dir")
        return "model"
    if not args.gold:
        raise ValueError(f"{given[0]} needs --gold DIR (the gold files)")
    if args.write_predictions:
        raise ValueError("--write_predictions is for --model (with --pred the predictions are "
                         "already files)")
    if args.compare and len(args.compare) != 2:
        raise ValueError(f"--compare takes two prediction folders A B, got {len(args.compare)}")
    if args.compare_method not in ("bootstrap", "randomization"):
        raise ValueError(f"--compare_method must be bootstrap or randomization, not "
                         f"{args.compare_method!r}")
    return "compare" if args.compare else "folders"


# ------------------------------------------------------------------------------------ loading


def load_documents(fmt: str, path: str | Path, *, as_written: bool = True,
                   **options) -> tuple[list[Document], LoadReport]:
    """Every document of a corpus folder or file, sorted by id, and its load report.

    ``as_written`` (default): the scoring reading, tags as the files write them, the official
    scorer's reading (see :func:`clinical_ner.documents.resolve_spans`); False reads them as
    training data (repaired, every change reported).

    Uses :func:`data_scripts.load_corpus` (so any registered format works) and merges the splits
    it returns: a folder without split sub-folders gives all its documents (not the by-patient
    split), a folder with ``train``/``dev``/``test`` sub-folders gives all of them.
    ``report.splits`` says so. Raises FormatError for an unknown format, a missing path, a bad
    file, or an id that occurs twice.
    """
    splits, report = load_corpus(fmt, path, as_written=as_written, **options)
    docs: dict[str, Document] = {}
    for split_docs in splits.values():
        for d in split_docs:
            if d.id in docs:
                raise FormatError(f"{path}: document id {d.id!r} occurs twice "
                                  f"({where(docs[d.id])} and {where(d)})")
            docs[d.id] = d
    method = report.splits.get("method", "")
    report.splits = {"method": "all documents" + (" of the corpus folders" if method ==
                                                  "corpus folders" else ""),
                     "documents": {"all": len(docs)}}
    return [docs[k] for k in sorted(docs)], report


def auto_metric_scheme(fmt: str, docs: Sequence[Document]) -> str:
    """The measures for ``--gold``/``--pred`` without ``--metric_scheme``: ``"i2b2_2014"`` for
    i2b2 2014/2006 PHI files or when every gold label is ``CATEGORY/TYPE``, else
    ``"concepts"``."""
    if fmt in ("i2b2_2014", "i2b2_2006"):
        return "i2b2_2014"
    labels = {s.label for d in docs for s in d.spans}
    return "i2b2_2014" if labels and all("/" in lab for lab in labels) else "concepts"


#: Flags of :class:`EvalArguments` that override the run's corpus settings when given.
OVERRIDES = SAVED_SETTINGS + ("data_dir", "split_seed", "discontinuous")


def model_settings(args: EvalArguments) -> CorpusSettings:
    """The corpus settings to score ``--model`` with, as training read its corpus.

    Precedence (:meth:`clinical_ner.run_folder.RunFolder.corpus_settings`): flags given on the
    command line (:data:`OVERRIDES`), then ``MODEL/clinical_ner.json``, then the ``data`` block
    of ``MODEL/run_args.json`` (data_dir, split_seed, discontinuous, ...), then the defaults.
    Raises FormatError when the model folder is missing or a settings file is not JSON,
    ValueError when no corpus folder is known.
    """
    run = RunFolder(args.model)
    if not run.exists():
        raise FormatError(f"--model {run.path}: no such model folder")
    settings = run.corpus_settings(**{k: getattr(args, k, None) for k in OVERRIDES})
    if not settings.data_dir:
        raise ValueError("--model needs --data_dir (the run records none)")
    return settings


# ---------------------------------------------------------------------------------- the modes


def _settings(args: EvalArguments, mode: str, **extra) -> dict:
    out = {"mode": mode, **extra,
           "hipaa_include_idnum": args.hipaa_include_idnum,
           "bootstrap": args.bootstrap, "seed": args.seed, "confidence": CONFIDENCE,
           "seqeval_mode": "strict IOB2" + (" (+ lenient)" if args.seqeval_lenient else "")}
    return out


def _reader_options(args: EvalArguments) -> dict:
    return {"discontinuous": args.discontinuous} if args.discontinuous else {}


def _problems(report: LoadReport) -> int:
    return len(report.problems)


def evaluate_model(args: EvalArguments) -> tuple[dict, list[Document], list[Document], dict]:
    """Predict one split with a saved model and score it as training does.

    The corpus is read as written (the official scorer's reading) and mapped to the task's
    labels by :func:`clinical_ner.task_data.load_task_documents` (its scoring reading) with the
    run's settings (:func:`model_settings`), then the model predicts whole notes with the run's
    windows and :func:`score_documents` scores them; ``evaluation.reading`` says what was read.
    Returns ``(metrics, gold_docs, pred_docs, info)``; ``metrics`` adds ``split``,
    ``inference_seconds`` and ``evaluation`` (the settings used); ``info`` holds the load
    report. Raises FormatError/ValueError naming the file, split or label problem.
    """
    st = model_settings(args)
    task = get_task(st.task, st.format, st.label_granularity)
    # gold as written, as the official scorer reads it
    read = load_task_documents(st, as_written=True, task=task)
    docs, report = read.splits, read.report
    gold = docs.get(args.split)
    if not gold:
        have = ", ".join(f"{k} ({len(v)})" for k, v in docs.items())
        raise ValueError(f"{st.data_dir}: split {args.split!r} is missing or empty "
                         f"(splits: {have})")
    scheme = args.metric_scheme or task.metric_scheme
    if args.write_predictions:
        check_writable(prediction_format(st.format), task.scheme.span_labels)
    state = process_state()  # under accelerate launch: this process's device and shard
    device = args.device or (
        ("cpu" if state.device.type == "cpu" else str(state.device)) if state.num_processes > 1
        else "cuda" if torch.cuda.is_available() else "cpu")
    check_backend(args.backend, args.precision, device)  # before anything loads
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    config = AutoConfig.from_pretrained(args.model)
    id2label = [config.id2label[i] for i in range(config.num_labels)]
    if id2label != task.scheme.bio_labels:
        raise ValueError(
            f"model {args.model} predicts {len(id2label)} labels ({', '.join(id2label[:4])}, ...) "
            f"but task {st.task!r} with label_granularity {st.label_granularity!r} expects "
            f"{len(task.scheme.bio_labels)} ({', '.join(task.scheme.bio_labels[:4])}, ...): "
            "pass the --task/--label_granularity the model was trained with")
    with state.main_process_first():  # one process exports/caches RUN/onnx, the others reuse
        model, backend = load_inference_model(args.model, backend=args.backend,
                                              precision=args.precision, device=device,
                                              threads=args.threads_per_process)
    t0 = time.time()
    decode_stats: dict = {}
    preds = predict_corpus_sharded(model, tokenizer, gold, task, max_seq_length=st.max_seq_length,
                                   doc_stride=st.doc_stride, batch_size=args.batch_size,
                                   window_merge=args.window_merge, stats=decode_stats)
    seconds = round(time.time() - t0, 2)
    metrics = score_documents(gold, preds, scheme, bootstrap=args.bootstrap, seed=args.seed,
                              hipaa_include_idnum=args.hipaa_include_idnum,
                              seqeval_lenient=args.seqeval_lenient)
    if args.thresholds:
        metrics["thresholds"] = threshold_sweep(
            model, tokenizer, gold, task, parse_thresholds(args.thresholds), scheme=scheme,
            baseline=metrics, max_seq_length=st.max_seq_length, doc_stride=st.doc_stride,
            batch_size=args.batch_size, window_merge=args.window_merge)
    metrics["split"] = args.split
    metrics["inference_seconds"] = seconds
    metrics["pred_spans_without_alnum_dropped"] = \
        decode_stats.get("pred_spans_without_alnum_dropped", 0)
    extra = {k: getattr(st, k) for k in ("discontinuous",) if hasattr(st, k)}
    metrics["evaluation"] = _settings(
        args, "model", model=str(args.model), data_dir=str(st.data_dir), split=args.split,
        format=st.format, task=st.task, label_granularity=st.label_granularity,
        max_seq_length=st.max_seq_length, doc_stride=st.doc_stride, split_seed=st.split_seed,
        **extra, metric_scheme=scheme, device=device, window_merge=args.window_merge,
        backend=backend.to_json(),
        gold_load_problems=_problems(report), reading={"gold": reading_summary(report)})
    return metrics, gold, preds, {"gold_report": report}


def evaluate_folders(args: EvalArguments) -> tuple[dict, list[Document], list[Document], dict]:
    """Score saved prediction files (``--pred``) against gold files (``--gold``), both read
    with the ``--format`` loader (all documents, no split) as written: the official i2b2 2014
    scorer's reading (``docs/formats.md`` §1.5), offsets and TYPEs as the files give them, no
    trimming, dropping or overlap resolution, duplicates once per document, an unknown TYPE a
    false positive (or negative) of its own type, a ``text`` attribute that disagrees a counted
    warning. ``evaluation.reading`` gives, per side, the tags in the files, the spans scored
    and every problem met (:func:`reading_summary`); the load reports list them with file,
    record and offsets. A gold document without a prediction file is scored as predicting
    nothing and counted in ``evaluation.documents_without_prediction``. Returns ``(metrics,
    gold_docs, pred_docs, info)``. Raises FormatError/ValueError naming the file, record and
    offset (a tag whose offsets cannot be placed in the text cannot be scored).
    """
    fmt = args.format or "i2b2_2014"
    gold, gold_report = load_documents(fmt, args.gold, **_reader_options(args))
    pred, pred_report = load_documents(fmt, args.pred, **_reader_options(args))
    missing = check_predictions(gold, pred)
    if missing:
        logger.warning("%d of %d gold documents have no prediction file (scored as predicting "
                       "nothing), e.g. %s", len(missing), len(gold), ", ".join(missing[:3]))
    for side, rep_ in (("gold", gold_report), ("predicted", pred_report)):
        if rep_.problems:
            logger.warning("%s files: %d tags read, %d spans scored, %d warnings or differences "
                           "(see %s)", side, rep_.tags_read, rep_.spans, len(rep_.problems),
                           "load_report.json" if side == "gold" else "pred_load_report.json")
    scheme = args.metric_scheme or auto_metric_scheme(fmt, gold)
    metrics = score_documents(gold, pred, scheme, bootstrap=args.bootstrap, seed=args.seed,
                              hipaa_include_idnum=args.hipaa_include_idnum,
                              seqeval_lenient=args.seqeval_lenient)
    metrics["evaluation"] = _settings(
        args, "folders", gold=str(args.gold), pred=str(args.pred), format=fmt,
        metric_scheme=scheme, documents_without_prediction=len(missing),
        gold_load_problems=_problems(gold_report), pred_load_problems=_problems(pred_report),
        reading={"gold": reading_summary(gold_report), "pred": reading_summary(pred_report)})
    return metrics, gold, pred, {"gold_report": gold_report, "pred_report": pred_report}


def compare_folders(args: EvalArguments) -> dict:
    """Paired test of two prediction folders (``--compare A B``) on the ``--gold`` documents.

    For every headline measure of the scheme (i2b2_2014: strict, relaxed, token, the HIPAA and
    binary measures; concepts: exact, inexact) runs :func:`clinical_ner.metrics.paired_test`
    with ``--compare_method``, ``--bootstrap`` resamples/trials and ``--seed``: micro F1 of A and
    B, the difference B - A with its 95% paired-bootstrap CI, and the p-value. Returns
    ``{"evaluation": settings, "measures": {measure: result}}``. Raises ValueError when
    ``--bootstrap`` is 0 or a prediction does not match the gold documents.
    """
    if args.bootstrap < 1:
        raise ValueError("--compare needs --bootstrap N > 0 (resamples or randomization trials)")
    fmt = args.format or "i2b2_2014"
    gold, gold_report = load_documents(fmt, args.gold, **_reader_options(args))
    systems, missing, readings = [], [], []
    for path in args.compare:
        docs, sys_report = load_documents(fmt, path, **_reader_options(args))
        missing.append(len(check_predictions(gold, docs)))
        systems.append({d.id: d.spans for d in docs})
        readings.append(reading_summary(sys_report))
    scheme = args.metric_scheme or auto_metric_scheme(fmt, gold)
    measures = I2B2_2014_MEASURES if scheme == "i2b2_2014" else CONCEPT_MEASURES[:2]
    gold_spans = {d.id: d.spans for d in gold}
    texts = {d.id: d.text for d in gold}
    out = {}
    for m in measures:
        out[m] = paired_test(gold_spans, systems[0], systems[1], texts, measure=m,
                             n=args.bootstrap, seed=args.seed, method=args.compare_method,
                             confidence=CONFIDENCE, hipaa_include_idnum=args.hipaa_include_idnum)
    settings = _settings(args, "compare", gold=str(args.gold), a=str(args.compare[0]),
                         b=str(args.compare[1]), format=fmt, metric_scheme=scheme,
                         method=args.compare_method,
                         documents_without_prediction={"a": missing[0], "b": missing[1]},
                         gold_load_problems=_problems(gold_report),
                         reading={"gold": reading_summary(gold_report), "a": readings[0],
                                  "b": readings[1]})
    return {"evaluation": settings, "measures": out}


#: The files ``eval_ner.py`` writes into its output folder (and removes there before writing).
EVAL_OUTPUTS = ("metrics.json", "report.md", "confusion.png", "confusion.json",
                "load_report.json", "pred_load_report.json", "errors.local.jsonl",
                "errors.local.md", "comparison.json", "thresholds.json", "thresholds.png")
#: Files that mark a model (training run) folder, which eval_ner.py never writes into.
MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "run_args.json",
               "train_results.json")
#: Suffixes of the prediction files ``--write_predictions`` writes (i2b2 XML, brat, JSONL).
PREDICTION_SUFFIXES = (".xml", ".txt", ".ann", ".jsonl")
#: Sub-folder of an eval output folder holding an earlier evaluation's outputs during a rerun.
EARLIER_EVAL = ".earlier_eval"


def check_eval_output_dir(out_dir: str | Path, predictions_dir: str | Path | None = None, *,
                          clean: bool = True) -> list[str]:
    """Make ``out_dir`` ready for one evaluation's outputs, before any work starts, so it never
    holds a mix of two evaluations.

    Refuses (ValueError) a folder that holds a model or training run (:data:`MODEL_FILES`):
    nothing is deleted there. Otherwise, with ``clean``, moves the outputs of an earlier
    evaluation aside into ``out_dir/.earlier_eval/`` (:data:`EARLIER_EVAL`): exactly the files
    named in :data:`EVAL_OUTPUTS` and the default ``predictions/`` sub-folder
    (``--write_predictions`` without ``--predictions_dir``) when every file in it is a
    prediction file (:data:`PREDICTION_SUFFIXES`; ValueError otherwise, nothing moved); other
    files are left alone. :func:`settle_earlier_outputs` deletes them once the new evaluation
    is written, or puts them back when it fails, so a failed rerun loses nothing. ValueError
    when ``.earlier_eval/`` is already there (a run killed before it could settle: its files
    are the earlier outputs, to move back or delete). Then checks that the folder (and
    ``predictions_dir``) can be written (OSError, naming it). Returns the names moved aside.
    """
    out = Path(out_dir)
    model = [n for n in MODEL_FILES if (out / n).exists()]
    if model:
        raise ValueError(f"--output_dir {out} holds a model or training run "
                         f"({', '.join(model)}): eval_ner.py never writes into it; use a "
                         f"folder of its own, e.g. {out / 'eval_test'}")
    removed = []
    preds = out / "predictions"
    if preds.is_dir():
        others = [p for p in preds.rglob("*") if p.is_file()
                  and p.suffix.lower() not in PREDICTION_SUFFIXES]
        if others:
            raise ValueError(f"--output_dir {out}: {preds} holds files eval_ner.py did not "
                             f"write (e.g. {others[0].name}); move them or use another folder")
    if clean:
        aside = out / EARLIER_EVAL
        if aside.exists():
            raise ValueError(f"--output_dir {out}: {aside} holds the outputs of an earlier "
                             "evaluation set aside by a run that did not finish; move them "
                             "back or delete that folder")
        names = [n for n in EVAL_OUTPUTS if (out / n).is_file()]
        names += ["predictions"] if preds.is_dir() else []
        if names:
            aside.mkdir()
            for n in names:
                (out / n).rename(aside / n)
            removed = [n + "/" if n == "predictions" else n for n in names]
            logger.info("%s: the outputs of an earlier evaluation (%s) are set aside in %s "
                        "until this one is written", out, ", ".join(removed), aside)
    check_writable_dir(out)
    if predictions_dir:
        check_writable_dir(predictions_dir, "--predictions_dir")
    return removed


def settle_earlier_outputs(out_dir: str | Path, *, succeeded: bool) -> None:
    """After an evaluation into ``out_dir``: delete the earlier outputs that
    :func:`check_eval_output_dir` set aside (``succeeded``), or remove what the failed
    evaluation wrote of :data:`EVAL_OUTPUTS` and ``predictions/`` and move the earlier outputs
    back (not ``succeeded``). Does nothing when none were set aside."""
    out = Path(out_dir)
    aside = out / EARLIER_EVAL
    if not aside.is_dir():
        return
    if succeeded:
        shutil.rmtree(aside)
        return
    for p in sorted(aside.iterdir()):
        target = out / p.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        p.rename(target)
    aside.rmdir()
    logger.info("%s: this evaluation failed; the earlier outputs are back", out)


def robustness_check(args: EvalArguments, metrics: dict) -> dict | None:
    """When the ``--model`` evaluation's corpus is a folder re-rendered by ``python -m
    data_scripts resurrogate`` (it holds ``resurrogate.json``): score the same split of the
    source folder too, with the same model and settings, and return the drop: ``{"source",
    "seed", "locale", "measures": {measure: {"original", "resurrogated", "drop"}}}`` (F1 of
    strict, relaxed, token and binary token; HIPAA strict and binary token recall, the
    de-identification ones; drop = original - re-rendered). None for any other folder. Raises as
    :func:`evaluate_model` when the source folder is gone or cannot be read."""
    import dataclasses
    import json

    from clinical_ner.augmentation import RESURROGATE_MANIFEST

    manifest_path = Path(metrics["evaluation"]["data_dir"]) / RESURROGATE_MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{manifest_path}: not a resurrogate manifest: {exc}") from exc
    source = manifest.get("source") if isinstance(manifest, dict) else None
    if not isinstance(source, str) or not Path(source).is_dir():
        raise FormatError(f"{manifest_path}: 'source' must name the folder it was re-rendered "
                          f"from, got {source!r}")
    if Path(source).resolve() == manifest_path.parent.resolve():
        raise FormatError(f"{manifest_path}: 'source' is this folder itself")
    logger.info("%s was re-rendered from %s: scoring the original %s split too",
                manifest_path.parent, manifest["source"], args.split)
    original, _, _, _ = evaluate_model(dataclasses.replace(args, data_dir=manifest["source"],
                                                           thresholds=None))
    measures = {}
    for name, key in (("strict_f1", ("strict", "f1")), ("relaxed_f1", ("relaxed", "f1")),
                      ("token_f1", ("token", "f1")),
                      ("hipaa_strict_recall", ("hipaa_strict", "recall")),
                      ("binary_token_f1", ("binary_token", "f1")),
                      ("binary_token_recall", ("binary_token", "recall"))):
        a = original.get(key[0], {}).get("micro", {}).get(key[1])
        b = metrics.get(key[0], {}).get("micro", {}).get(key[1])
        if a is not None and b is not None:
            measures[name] = {"original": a, "resurrogated": b, "drop": round(a - b, 4)}
    return {"source": manifest["source"], "seed": manifest.get("seed"),
            "locale": manifest.get("locale"), "measures": measures}


def run_evaluation(args: EvalArguments) -> dict:
    """Run the mode ``args`` asks for and write its outputs; returns the metrics (or, for
    ``--compare``, the comparison).

    With an output folder: ``metrics.json``, ``report.md``, ``confusion.png``,
    ``confusion.json``, ``load_report.json`` (+ ``pred_load_report.json``) and, unless
    ``--write_errors false``, ``errors.local.jsonl``/``errors.local.md`` (note text, local use
    only); ``--compare`` writes ``comparison.json`` and ``report.md``; ``--write_predictions``
    writes the predictions (note text). Raises ValueError/FormatError for bad arguments or input.
    """
    mode = _mode(args)
    out_dir = args.output_dir
    if mode == "model" and not out_dir:
        out_dir = str(Path(args.model) / f"eval_{args.split}")
    main = process_state().is_main_process  # under accelerate launch only process 0 writes
    if mode == "model" and not Path(args.model).is_dir():  # before its eval_SPLIT is created
        raise FormatError(f"--model {args.model}: no such model folder")
    if out_dir:
        check_eval_output_dir(out_dir, args.predictions_dir if args.write_predictions else None,
                              clean=main)
    try:
        result = _evaluate_and_write(args, mode, out_dir, main)
    except BaseException:
        if out_dir and main:
            settle_earlier_outputs(out_dir, succeeded=False)
        raise
    if out_dir and main:
        settle_earlier_outputs(out_dir, succeeded=True)
    return result


def _evaluate_and_write(args: EvalArguments, mode: str, out_dir: str | None, main: bool):
    if mode == "compare":
        comparison = compare_folders(args)
        if out_dir and main:
            rep.write_comparison_outputs(out_dir, comparison)
        return comparison
    if mode == "model":
        metrics, gold, pred, info = evaluate_model(args)
        robustness = robustness_check(args, metrics)
        if robustness:
            metrics["robustness"] = robustness
    else:
        metrics, gold, pred, info = evaluate_folders(args)
    if not out_dir:
        logger.info("no --output_dir: scores are printed, nothing is written")
        return metrics
    if not main:
        return metrics
    predictions = None
    if mode == "model" and args.write_predictions:
        fmt = metrics["evaluation"]["format"]
        pred_dir = args.predictions_dir or str(Path(out_dir) / "predictions")
        predictions = write_predictions(pred, prediction_format(fmt), pred_dir)
        metrics["evaluation"]["predictions"] = {k: v for k, v in predictions.items()
                                                if k != "paths"}
    rep.write_evaluation_outputs(
        out_dir, metrics, gold, pred, reports=info, write_errors=args.write_errors,
        error_context=args.error_context, predictions=predictions)
    if metrics.get("thresholds"):
        write_threshold_outputs(out_dir, metrics["thresholds"])
    return metrics
