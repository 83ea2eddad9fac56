"""One model made ready for measuring (:class:`ModelContext`): its notes, read with the run's
own corpus settings through :func:`clinical_ner.task_data.load_task_documents` (the gold is the
scoring reading, the training windows the training reading, as ``train_ner.py`` and
``eval_ner.py`` read them), its tokenizer and its model."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from clinical_ner.benchmark.settings import ModelSpec, WorkerSpec
from clinical_ner.benchmark.sizes import (
    ARCHITECTURES,
    REAL_VOCAB_SIZES,
    VocabMap,
    build_arch_model,
    count_parameters,
    current_rss_mb,
    embedding_parameters,
)
from clinical_ner.benchmark.spans import count_windows, note_token_count, spans_as_keys
from clinical_ner.benchmark.timing import TrainEntry, autocast, evenly_spaced
from clinical_ner.documents import Document, Span
from clinical_ner.inference import predict_documents
from clinical_ner.models import resolve_model
from clinical_ner.run_folder import CorpusSettings
from clinical_ner.scoring import score_documents
from clinical_ner.task_data import TaskDocuments, load_task_documents
from clinical_ner.windows import NegativeSubsampler, build_windows, windows_with_entity

#: Keys of :class:`ModelInfo` written only when they were measured.
_OPTIONAL_INFO = ("vocab_source", "config", "train_windows", "train_documents",
                  "train_windows_all", "negative_window_keep")


@dataclass
class ModelInfo:
    """What a model and its notes are (no timing): notes, sub-tokens and windows of the
    benchmarked split, the tokenizer and the model's shape; the training windows once built."""

    documents: int
    note_tokens: int
    windows: int
    multi_window_documents: int
    max_seq_length: int
    doc_stride: int
    tokenizer_vocab: int
    tokenizer_class: str
    architecture: str | None = None
    load_seconds: float | None = None
    vocab_size: int | None = None
    params: int | None = None
    embedding_params: int | None = None
    layers: int | None = None
    hidden_size: int | None = None
    vocab_source: str | None = None
    config: dict | None = None
    train_windows: int | None = None
    train_documents: int | None = None
    train_windows_all: int | None = None
    negative_window_keep: float | None = None

    def to_dict(self) -> dict:
        """The measurement keys (``results.json`` row keys); optional ones only when set."""
        return {k: v for k, v in asdict(self).items() if v is not None or k not in _OPTIONAL_INFO}


_DOCS_CACHE: dict[tuple, TaskDocuments] = {}


def task_documents(settings: CorpusSettings, as_written: bool) -> TaskDocuments:
    """:func:`load_task_documents` of ``settings`` (cached per process: several models of one
    task read the corpus once)."""
    key = (json.dumps(asdict(settings), sort_keys=True), as_written)
    if key not in _DOCS_CACHE:
        _DOCS_CACHE[key] = load_task_documents(settings, as_written=as_written)
    return _DOCS_CACHE[key]


def corpus_settings(ms: ModelSpec, spec: WorkerSpec) -> CorpusSettings:
    """The corpus settings of a model spec (its ``data``), the worker's corpus by default."""
    values = dict(data_dir=spec.data_dir, format=spec.format, task=ms.task,
                  label_granularity=ms.granularity)
    values.update(ms.data)
    return CorpusSettings(**values)


@dataclass
class ModelContext:
    """A model ready to measure: ``test_docs`` (gold, the benchmarked notes), their ``texts``
    and :class:`~clinical_ner.windows.TokenizedDoc` ``toks`` (``n_tokens`` sub-tokens),
    ``inner`` (the token classification model) and ``model`` (what is called: ``inner``, or a
    :class:`VocabMap` around it), ``info``, ``baseline_rss_mb`` (process RSS before the model
    was built, MB)."""

    spec: ModelSpec
    settings: CorpusSettings
    task: object
    test_docs: list[Document]
    tokenizer: object
    toks: list
    n_tokens: int
    info: ModelInfo
    baseline_rss_mb: float
    inner: object = None
    model: object = None
    id2label: dict[int, str] = field(default_factory=dict)
    predict_kwargs: dict = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        """The benchmarked notes' texts."""
        return [d.text for d in self.test_docs]

    @property
    def name(self) -> str:
        """The model's name in the results."""
        return self.spec.name


def _notes(ms: ModelSpec, spec: WorkerSpec):
    settings = corpus_settings(ms, spec)
    read = task_documents(settings, as_written=ms.is_run)  # the gold of a run: as scored
    docs = read.splits.get(spec.split)
    if not docs:
        raise ValueError(f"{settings.data_dir}: the {spec.split} split is empty or missing")
    return settings, read.task, evenly_spaced(docs, spec.max_documents)


def _load_model(ctx: ModelContext, ms: ModelSpec, seed: int):
    """``(inner, model)`` of the spec; fills the architecture fields of ``ctx.info``."""
    if not ms.is_run:
        bio = ctx.task.scheme.bio_labels
        inner = build_arch_model(ms.alias, len(bio), ms.overrides or None, seed)
        inner.config.id2label = dict(enumerate(bio))
        inner.config.label2id = {v: k for k, v in enumerate(bio)}
        vocab = inner.config.vocab_size
        ctx.info.architecture = ARCHITECTURES[ms.alias]
        ctx.info.vocab_source = REAL_VOCAB_SIZES[ms.alias][1]
        ctx.info.config = {k: v for k, v in inner.config.to_dict().items()
                           if isinstance(v, (int, float, str)) and k != "transformers_version"}
        return inner, (VocabMap(inner, vocab) if len(ctx.tokenizer) > vocab else inner)
    inner = AutoModelForTokenClassification.from_pretrained(ms.run_dir)
    ctx.info.architecture = inner.config.model_type
    return inner, inner


def prepare(spec: WorkerSpec, ms: ModelSpec, device: str) -> ModelContext:
    """Notes, tokenizer, windows and model of one model spec, the model in eval mode on
    ``device``. Raises ValueError for an empty split, OSError for a missing model."""
    settings, task, test_docs = _notes(ms, spec)
    tokenizer = AutoTokenizer.from_pretrained(ms.run_dir if ms.is_run
                                              else resolve_model(ms.tokenizer))
    n_tokens, toks = note_token_count(tokenizer, [d.text for d in test_docs])
    n_windows = count_windows(tokenizer, toks, ms.max_seq_length, ms.doc_stride)
    info = ModelInfo(len(test_docs), n_tokens, sum(n_windows), sum(n > 1 for n in n_windows),
                     ms.max_seq_length, ms.doc_stride, len(tokenizer), type(tokenizer).__name__)
    ctx = ModelContext(ms, settings, task, test_docs, tokenizer, toks, n_tokens, info,
                       current_rss_mb())
    t0 = time.perf_counter()
    ctx.inner, ctx.model = _load_model(ctx, ms, spec.seed)
    cfg = ctx.inner.config
    info.load_seconds = round(time.perf_counter() - t0, 2)
    info.vocab_size, info.params = cfg.vocab_size, count_parameters(ctx.inner)
    info.embedding_params = embedding_parameters(ctx.inner)
    info.layers = getattr(cfg, "num_hidden_layers", None) or getattr(cfg, "n_layers", None)
    info.hidden_size = getattr(cfg, "hidden_size", None) or getattr(cfg, "dim", None)
    ctx.model.to(device).eval()
    ctx.id2label = {int(k): v for k, v in cfg.id2label.items()}
    ctx.predict_kwargs = dict(max_seq_length=ms.max_seq_length, doc_stride=ms.doc_stride,
                              batch_size=spec.eval_batch_size, device=device)
    return ctx


def predict(ctx: ModelContext, texts, device, bf16: bool, window_merge: str = "central",
            **window) -> list[list[Span]]:
    """:func:`predict_documents` of ``ctx``'s model on ``texts`` (per note, spans with entity
    types); ``window`` (``max_seq_length``, ``doc_stride``) overrides the run's."""
    with autocast(device, bf16):
        return predict_documents(ctx.model, ctx.tokenizer, texts, ctx.id2label,
                                 window_merge=window_merge, **{**ctx.predict_kwargs, **window})


def score(ctx: ModelContext, spans_per_note, bootstrap: int = 0, seed: int = 0) -> dict:
    """:func:`clinical_ner.scoring.score_documents` of one system's spans on the benchmarked
    notes; ``spans_per_note``: per note, Span objects or pipeline entity dicts with entity types
    (mapped to the task's span labels)."""
    lab = ctx.task.scheme.span_label_of
    preds = [Document(d.id, d.text, tuple(sorted(Span(s, e, lab(t))
                                                 for s, e, t in spans_as_keys(sp))))
             for d, sp in zip(ctx.test_docs, spans_per_note, strict=True)]
    return score_documents(ctx.test_docs, preds, ctx.task.metric_scheme,
                           bootstrap=bootstrap, seed=seed)


def strict_f1(ctx: ModelContext, spans_per_note) -> dict:
    """Strict micro precision/recall/F1 and TP/FP/FN of one system's spans (no bootstrap)."""
    micro = score(ctx, spans_per_note)["strict"]["micro"]
    return {k: micro[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn") if k in micro}


def train_windows(ctx: ModelContext, spec: WorkerSpec, max_seq_length: int | None = None,
                  doc_stride: int | None = None) -> list[dict]:
    """One epoch's training windows of the model spec's run (window settings overridable):
    with ``negative_window_keep`` < 1, the run's first-epoch draw (:class:`NegativeSubsampler`,
    the run's seed). The notes: the first ``spec.train_documents`` of the train split in the
    training reading of the run's corpus settings. Without overrides the counts go to
    ``ctx.info`` (``train_windows``, ``train_documents``; ``train_windows_all`` and
    ``negative_window_keep`` with a draw)."""
    ms = ctx.spec
    docs = task_documents(ctx.settings, as_written=False).splits.get("train", [])
    docs = docs[: spec.train_documents]
    length = ms.max_seq_length if max_seq_length is None else max_seq_length
    stride = ms.doc_stride if doc_stride is None else doc_stride
    wins = build_windows(ctx.tokenizer, docs, ctx.task, length, stride)
    n_all, keep = len(wins), ms.negative_window_keep
    if keep < 1:  # the run's first epoch: its windows with entities + its draw of the others
        drawn = NegativeSubsampler(windows_with_entity(wins), keep, ms.train_seed)
        wins = [wins[i] for i in sorted(drawn.epoch_indices(0))]
    vocab = ctx.inner.config.vocab_size
    if len(ctx.tokenizer) > vocab:  # architecture-only: ids into the target vocabulary
        for w in wins:
            w["input_ids"] = [i % vocab for i in w["input_ids"]]
    if max_seq_length is None:
        ctx.info.train_windows, ctx.info.train_documents = len(wins), len(docs)
        if keep < 1:
            ctx.info.train_windows_all, ctx.info.negative_window_keep = n_all, keep
    return wins


def train_entry(ctx: ModelContext, wins: list[dict], mode: str,
                max_seq_length: int | None = None) -> TrainEntry:
    """A :class:`TrainEntry` of ``ctx``'s model with the run's batch size."""
    return TrainEntry(ctx.inner, ctx.tokenizer, wins, mode, ctx.spec.train_batch_size,
                      ctx.spec.max_seq_length if max_seq_length is None else max_seq_length)


def worker_device(spec: WorkerSpec) -> str:
    """The torch device of ``spec`` (``auto``: cuda when available), after setting its torch
    threads."""
    if spec.threads:
        torch.set_num_threads(spec.threads)
    device = spec.device or "cpu"
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return device
