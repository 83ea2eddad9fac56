"""Fine-tuning: argument dataclasses (parsed with ``HfArgumentParser``) and :func:`train`.

The flow: corpus -> documents -> ``DatasetDict`` (labels from the task) -> overlapping token windows
-> ``Trainer`` (dynamic padding, length grouping, best checkpoint chosen on the dev split by
document-level strict span F1) -> model folder with the real ``id2label`` -> scores on dev and
test written to ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from datasets import Dataset
from transformers import (
    AutoConfig,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    enable_full_determinism,
    set_seed,
)

from clinical_ner.augmentation import DEFAULT_LOCALES, augment_documents
from clinical_ner.cli import UsageError
from clinical_ner.documents import Document, LoadReport
from clinical_ner.files import check_writable_dir
from clinical_ner.inference import predict_corpus_sharded
from clinical_ner.labels import check_label_names
from clinical_ner.models import MODEL_ALIASES, ModelNotAvailable, load_pretrained, resolve_model
from clinical_ner.run_folder import FINISHED_FILES as RUN_FILES
from clinical_ner.run_folder import RUN_JSON, RunFolder
from clinical_ner.scoring import score_documents
from clinical_ner.task_data import load_task_documents
from clinical_ner.tasks import get_task, shipped_label_maps
from clinical_ner.windows import (
    NegativeSubsampler,
    build_windows,
    special_affixes,
    windows_with_entity,
)
from data_scripts import READERS, find_data_dir, presidio

logger = logging.getLogger("clinical_ner")


@dataclass
class ModelArguments:
    """Which pretrained model to fine-tune."""

    model_name_or_path: str = field(default="minilm", metadata={
        "help": "Alias (distilbert, bert, biobert, clinicalbert, minilm), local folder or Hub id."})
    head_learning_rate: float = field(default=3e-3, metadata={
        "help": "Learning rate of the newly initialised classification head (the encoder uses "
                "--learning_rate). A randomly initialised head trained at the encoder's rate "
                "learns slowly and first collapses to 'O' everywhere; 0 = same as the encoder."})
    cpu_bf16: str = field(default="no", metadata={
        "help": "On a CPU (no GPU): train in bfloat16 autocast. 'auto' = when the CPU has "
                "bfloat16 instructions (AVX512-BF16 or AMX; about 2x the fp32 speed there, "
                "emulated and slower without them), 'yes', 'no'. On a GPU use --bf16.",
        "choices": ["no", "auto", "yes"]})


@dataclass
class DataArguments:
    """Which corpus, task and windowing."""

    data_dir: str = field(default=None, metadata={
        "help": "Corpus folder (train/dev/test sub-folders, or one folder split by patient)."})
    format: str = field(default="i2b2_2014", metadata={"help": "Corpus format (see data_scripts)."})
    task: str = field(default="phi", metadata={"help": "phi, concepts, medications or a label "
                                                "map YAML (see clinical_ner.tasks)."})
    label_granularity: str = field(default="type", metadata={
        "help": "PHI labels: 'type' (i2b2 2014 TYPE) or 'category'."})
    max_seq_length: int = field(default=256, metadata={
        "help": "Window length in sub-tokens, special tokens included."})
    doc_stride: int = field(default=64, metadata={
        "help": "Overlap between consecutive windows of a note, in sub-tokens."})
    negative_window_keep: float = field(default=1.0, metadata={
        "help": "Fraction of the training windows without any entity used per epoch, drawn "
                "afresh each epoch (seeded); 1.0 uses all. Evaluation always uses every window."})
    max_train_documents: int = field(default=None, metadata={
        "help": "Use only the first N training notes (quick runs)."})
    split_seed: int = field(default=1701, metadata={
        "help": "Seed of the by-patient split for corpora without split folders."})
    bootstrap: int = field(default=1000, metadata={
        "help": "Bootstrap resamples for the final confidence intervals (0 = none)."})
    discontinuous: str = field(default="join", metadata={
        "help": "brat discontinuous spans: join (first start to last end, as the n2c2 2018 "
                "scorer), split (one span per fragment) or drop; all counted in the report.",
        "choices": ["join", "split", "drop"]})
    strip_report_end: bool = field(default=False, metadata={
        "help": "i2b2 2006: cut each note before its final '[ report_end ]' marker."})
    augment_copies: int = field(default=0, metadata={
        "help": "Surrogate augmentation: K extra copies of each training note with PHI, its "
                "spans re-rendered with fresh surrogates of the same TYPE in other forms and "
                "Faker locales (clinical_ner.augmentation; seeded by --seed). Only the copies' "
                "windows that hold an entity are added (their other windows repeat the "
                "original's). 0 = off."})
    augment_locales: str = field(default="", metadata={
        "help": "Comma-separated Faker locales of the augmentation surrogates (default: "
                "clinical_ner.augmentation.DEFAULT_LOCALES)."})
    extra_train_dir: str = field(default=None, metadata={
        "help": "Extra PHI training data: a presidio-research synth_dataset_v2.json file or "
                "folder (e.g. ../shared/data/presidio-synth/data), its types mapped to i2b2 "
                "2014 TYPEs (data_scripts.presidio.TO_I2B2_2014; non-PHI types dropped and "
                "counted). Added to the train split only; PHI task only."})
    score_test: bool = field(default=True, metadata={
        "help": "Score the test split at the end. Set false while choosing settings on dev, "
                "so that test is read once, for the final run; metrics.json then holds dev."})
    overwrite_output_dir: bool = field(default=False, metadata={
        "help": "Train into an --output_dir that holds a finished run or checkpoints: its "
                "checkpoint-* folders and run JSON files are removed first. Without it such a "
                "folder is refused (unless --resume_from_checkpoint continues it). "
                "(TrainingArguments has no such flag since transformers 5.)"})


#: TrainingArguments defaults that differ from the Trainer's: choose the best checkpoint on dev.
TRAINING_DEFAULTS = dict(
    output_dir="runs/default", eval_strategy="epoch", save_strategy="epoch",
    load_best_model_at_end=True, metric_for_best_model="strict_f1", greater_is_better=True,
    save_total_limit=2, learning_rate=1e-4, num_train_epochs=3, warmup_steps=0.1,
    per_device_train_batch_size=16, per_device_eval_batch_size=32, weight_decay=0.01,
    logging_steps=50, report_to="none", train_sampling_strategy="group_by_length",
    seed=42, save_only_model=False,  # checkpoints hold optimizer, scheduler and RNG: resumable
)

#: Values of ``--metric_for_best_model`` (what :class:`SpanEvalTrainer`'s ``evaluate`` reports).
SELECTION_METRICS = ("strict_f1", "strict_precision", "strict_recall")



def _span_eval_trainer():
    class SpanEvalTrainer(Trainer):
        """A Trainer whose ``evaluate`` predicts whole dev notes (windows merged per word) and
        reports document-level span measures (``eval_strict_f1`` chooses the best checkpoint)."""

        def __init__(self, *args, eval_documents=None, task=None, window_args=None,
                     head_learning_rate=0.0, train_sampler=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.eval_documents, self.task, self.window_args = eval_documents, task, window_args
            self.head_learning_rate, self.train_sampler = head_learning_rate, train_sampler

        def _get_train_sampler(self, train_dataset=None):
            if self.train_sampler is not None:
                return self.train_sampler
            return super()._get_train_sampler(train_dataset)

        def create_optimizer(self, model=None):
            """The Trainer's AdamW with one more group: the classification head at
            ``head_learning_rate`` (weight decay as the Trainer sets it)."""
            opt_model = self.model if model is None else model
            if self.optimizer is None and self.head_learning_rate:
                decay = set(self.get_decay_parameter_names(opt_model))
                head = classifier_parameter_names(opt_model)
                groups = {}
                for n, p in opt_model.named_parameters():
                    if not p.requires_grad:
                        continue
                    key = (n in head, n in decay)
                    groups.setdefault(key, []).append(p)
                params = [{"params": ps, "weight_decay": self.args.weight_decay if dec else 0.0,
                           **({"lr": self.head_learning_rate} if is_head else {})}
                          for (is_head, dec), ps in groups.items()]
                cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
                self.optimizer = cls(params, **kwargs)
            return super().create_optimizer(model)

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
            start = time.time()
            model = self.accelerator.unwrap_model(self.model)
            # every process predicts its shard of the dev notes and gets all predictions back,
            # so every process scores the same and the checkpoint selection agrees
            preds = predict_corpus_sharded(model, self.processing_class, self.eval_documents,
                                           self.task,
                                           batch_size=self.args.per_device_eval_batch_size,
                                           **self.window_args)
            res = score_documents(self.eval_documents, preds, self.task.metric_scheme)
            metrics = {f"{metric_key_prefix}_strict_f1": res["strict"]["micro"]["f1"],
                       f"{metric_key_prefix}_strict_precision": res["strict"]["micro"]["precision"],
                       f"{metric_key_prefix}_strict_recall": res["strict"]["micro"]["recall"],
                       f"{metric_key_prefix}_runtime": round(time.time() - start, 2)}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control,
                                                             metrics)
            return metrics

    return SpanEvalTrainer


def classifier_parameter_names(model) -> set[str]:
    """Names of the token-classification head's parameters (``classifier.*``)."""
    return {n for n, _ in model.named_parameters() if n.split(".")[0] == "classifier"}


def _closest(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.5)
    return f"; closest: {close[0]}" if close else ""


def position_limit(config) -> int | None:
    """The longest input (sub-tokens, special tokens included) a model config's position
    embeddings take: ``max_position_embeddings`` (or ``n_positions``), less the ``pad_token_id
    + 1`` offset of RoBERTa-style models; None when the config says nothing."""
    n = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if not n:
        return None
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "longformer"):
        n -= (getattr(config, "pad_token_id", 1) or 0) + 1
    return int(n)


def _offline_model_files(name: str):
    """``(config, tokenizer)`` of a model alias, folder or Hub id when they load without network
    (a local folder, the minilm package, the Hub cache), else ``(None, None)``. No weights."""
    path = resolve_model(name)
    local = {} if Path(path).exists() else {"local_files_only": True}
    try:
        config = AutoConfig.from_pretrained(path, **local)
    except (OSError, ValueError):
        return None, None
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **local)
    except (OSError, ValueError):
        tokenizer = None
    return config, tokenizer


#: Most augmented copies per note ``--augment_copies`` accepts (each copy adds the windows with
#: PHI once more; 2 is the PHI config's).
MAX_AUGMENT_COPIES = 50


def check_augment_arguments(data_args: DataArguments) -> None:
    """Refuse ``--augment_copies`` outside ``[0, MAX_AUGMENT_COPIES]``, and ``--augment_locales``
    that lists no locale (e.g. ``,``) or one Faker does not know. Raises UsageError."""
    k = data_args.augment_copies
    if not 0 <= k <= MAX_AUGMENT_COPIES:
        raise UsageError(f"--augment_copies must be between 0 and {MAX_AUGMENT_COPIES}, not {k}")
    raw = data_args.augment_locales
    if raw and k:
        from clinical_ner.surrogates import unknown_locales

        locales = [x.strip() for x in raw.split(",") if x.strip()]
        if not locales:
            raise UsageError(f"--augment_locales {raw!r} lists no locale")
        bad = unknown_locales(locales)
        if bad:
            raise UsageError(f"--augment_locales: unknown Faker locale(s) {', '.join(bad)} "
                             "(e.g. en_US, en_GB, de_DE, es_ES)")


def check_arguments(model_args: ModelArguments, data_args: DataArguments, training_args) -> None:
    """Refuse bad arguments before any corpus or model is loaded; each refusal is one line.

    Checks: ``--format`` (a registered reader), ``--task`` (:func:`clinical_ner.tasks.get_task`),
    ``--metric_for_best_model`` (:data:`SELECTION_METRICS`, optionally ``eval_``-prefixed),
    ``--model_name_or_path`` (an existing folder, an alias of
    :data:`clinical_ner.models.MODEL_ALIASES` or a Hub id ``ORG/NAME``; a name that is none of
    them is refused with the aliases and the closest match), and, when the model's config loads
    offline (reads config.json only, no weights): ``--max_seq_length`` within its position
    embeddings and ``--doc_stride`` in ``[0, window content)`` (``max_seq_length`` minus the
    tokenizer's special tokens), ``--augment_copies`` in ``[0, MAX_AUGMENT_COPIES]`` and
    ``--augment_locales`` Faker locales. Raises :class:`clinical_ner.cli.UsageError`.
    """
    check_augment_arguments(data_args)
    if data_args.format not in READERS:
        raise UsageError(f"unknown --format {data_args.format!r} (known: "
                         f"{', '.join(sorted(READERS))}{_closest(data_args.format, READERS)})")
    try:
        get_task(data_args.task, data_args.format, data_args.label_granularity)
    except (ValueError, OSError) as exc:
        known = ("phi", "concepts", "medications", *shipped_label_maps())
        hint = _closest(data_args.task, known) if "unknown task" in str(exc) else ""
        raise UsageError(f"--task: {exc}{hint}") from exc
    metric = training_args.metric_for_best_model
    if metric is not None and metric.removeprefix("eval_") not in SELECTION_METRICS:
        raise UsageError(f"unknown --metric_for_best_model {metric!r} (known: "
                         f"{', '.join(SELECTION_METRICS)}{_closest(metric, SELECTION_METRICS)})")
    name = str(model_args.model_name_or_path)
    if not Path(name).exists():
        if name.startswith(("/", "./", "../", "~")) or name.endswith("/"):
            raise UsageError(f"--model_name_or_path {name}: no such model folder")
        if name not in MODEL_ALIASES and name not in MODEL_ALIASES.values() and "/" not in name:
            raise UsageError(
                f"unknown model alias {name!r} (aliases: {', '.join(MODEL_ALIASES)}"
                f"{_closest(name, MODEL_ALIASES)}); a local model folder or a Hub id ORG/NAME "
                "also works")
    try:
        config, tokenizer = _offline_model_files(name)
    except ModelNotAvailable as exc:
        raise UsageError(str(exc)) from exc
    m, stride = data_args.max_seq_length, data_args.doc_stride
    limit = position_limit(config) if config is not None else None
    if limit is not None and m > limit:
        raise UsageError(f"--max_seq_length {m} is above the {limit} position embeddings of "
                         f"model {name} (max_position_embeddings in its config.json); use "
                         f"--max_seq_length {limit} or less")
    n_special = 2
    if tokenizer is not None:
        prefix, suffix = special_affixes(tokenizer)
        n_special = len(prefix) + len(suffix)
    content = m - n_special
    if content < 1:
        raise UsageError(f"--max_seq_length {m} leaves no room for text after the {n_special} "
                         "special tokens")
    if not 0 <= stride < content:
        raise UsageError(f"--doc_stride {stride} must be >= 0 and below the window content of "
                         f"{content} sub-tokens (--max_seq_length {m} minus {n_special} special "
                         "tokens)")


def check_label_map(task, report, data_dir) -> None:
    """Refuse a label-map task none of whose keys is a label of the corpus read (the loader kept
    no span): lists the map's keys and the corpus labels (spans the loader left out as
    ``not_in_task:<label>``). Raises :class:`clinical_ner.cli.UsageError`."""
    if task.label_map is None or not task.meta.get("label_map_file"):
        return
    if set(task.label_map) & set(report.per_label):
        return
    corpus = sorted({k.split(":", 1)[1] for k in report.counts if k.startswith("not_in_task:")})
    raise UsageError(f"label map {task.meta['label_map_file']}: none of its keys "
                     f"({', '.join(task.label_map)}) is a label of the corpus {data_dir} "
                     f"(its labels: {', '.join(corpus) or 'none'})")


def checkpoint_folders(out_dir: str | Path) -> list[Path]:
    """The ``checkpoint-<step>`` folders in ``out_dir``, by step."""
    out = Path(out_dir)
    if not out.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out.iterdir()
             if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return [p for _, p in sorted(found)]


def prepare_output_dir(training_args, overwrite: bool) -> str | None:
    """Check ``--output_dir`` before any work starts and return the checkpoint to resume from.

    * ``--resume_from_checkpoint last``: the last complete ``checkpoint-<step>`` (one that holds
      ``trainer_state.json``, written last) in the output folder; ``PATH``: that checkpoint.
    * Otherwise a folder holding a finished run (:data:`RUN_FILES`) or checkpoints is refused
      unless ``overwrite``; with it (on the main process) its checkpoints and run JSON files
      (:data:`RUN_JSON`) are removed, so the new run never mixes with the old one.
    * The folder must be writable (a probe file is created and deleted).

    Raises :class:`clinical_ner.cli.UsageError`, one line naming the folder.
    """
    out = Path(training_args.output_dir)
    resume = getattr(training_args, "resume_from_checkpoint", None)
    checkpoints = checkpoint_folders(out)
    if resume:
        if overwrite:
            raise UsageError("--resume_from_checkpoint continues the run in --output_dir; "
                             "--overwrite_output_dir would remove it: give one of them")
        if str(resume) == "last":
            complete = [c for c in checkpoints if (c / "trainer_state.json").is_file()]
            if not complete:
                raise UsageError(f"--resume_from_checkpoint last: {out} holds no complete "
                                 "checkpoint (checkpoint-<step>/trainer_state.json)")
            path = complete[-1]
        else:
            path = Path(resume)
            if not (path / "trainer_state.json").is_file():
                raise UsageError(f"--resume_from_checkpoint {path}: not a checkpoint folder "
                                 "(no trainer_state.json)")
        try:
            check_writable_dir(out)
        except OSError as exc:
            raise UsageError(str(exc)) from exc
        return str(path)
    finished = [n for n in RUN_FILES if (out / n).exists()]
    if (finished or checkpoints) and not overwrite:
        what = [f"a finished run ({', '.join(finished)})"] if finished else []
        if checkpoints:
            names = ", ".join(c.name for c in checkpoints[-3:])
            what.append(f"{len(checkpoints)} checkpoints ({'..., ' if len(checkpoints) > 3 else ''}"
                        f"{names})")
        raise UsageError(f"--output_dir {out} holds {' and '.join(what)}: give "
                         "--overwrite_output_dir true to replace it, --resume_from_checkpoint "
                         "last to continue it, or another --output_dir")
    try:
        check_writable_dir(out)
    except OSError as exc:
        raise UsageError(str(exc)) from exc
    if overwrite and (finished or checkpoints) and training_args.process_index == 0:
        logger.warning("--overwrite_output_dir: removing %d checkpoints and the run files of "
                       "%s", len(checkpoints), out)
        for c in checkpoints:
            shutil.rmtree(c)
        for n in RUN_JSON:
            (out / n).unlink(missing_ok=True)
    return None


def load_task_data(data_args: DataArguments):
    """Corpus -> ``(task, splits of documents mapped to the task's labels, DatasetDict,
    report)``: the training reading of :func:`clinical_ner.task_data.load_task_documents`."""
    data = load_task_documents(data_args)
    return data.task, data.splits, data.datasets, data.report


def load_scoring_documents(data_args: DataArguments, task):
    """The gold documents to *score* against, per split, and their load report: the scoring
    reading of :func:`clinical_ner.task_data.load_task_documents` (as written, like the
    official scorer; same splits and documents as :func:`load_task_data`)."""
    data = load_task_documents(data_args, as_written=True, task=task)
    return data.splits, data.report


def add_augmented_windows(windows: list[dict], has_entity: list[bool], tokenizer,
                          train_docs: list[Document], task, data_args: DataArguments,
                          seed: int, window_args: dict, report) -> dict:
    """With ``--augment_copies K``: append to ``windows``/``has_entity`` (in place) the windows
    with an entity of K augmented copies of the training notes
    (:func:`clinical_ner.augmentation.augment_documents`, every copy checked: outside text,
    span offsets, BIO round trip). Returns the counts for ``train_results.json`` (also added
    to ``report.counts``); ``{}`` when off."""
    if not data_args.augment_copies:
        return {}
    locales = [x.strip() for x in data_args.augment_locales.split(",") if x.strip()] \
        or DEFAULT_LOCALES
    aug_docs, stats = augment_documents(train_docs, data_args.augment_copies, seed,
                                        locales=locales, task=task)
    aug_windows = build_windows(tokenizer, aug_docs, task, **window_args)
    kept = [w for w, h in zip(aug_windows, windows_with_entity(aug_windows)) if h]
    windows.extend(kept)
    has_entity.extend([True] * len(kept))
    stats["augment_windows"] = len(kept)
    stats["augment_windows_without_entity_left_out"] = len(aug_windows) - len(kept)
    counts = {k.replace(":", "_"): v for k, v in sorted(stats.items())}
    report.counts.update(counts)
    logger.info("augmentation: %d copies of %d notes, %d windows with PHI added, %d notes "
                "failed a check (left out)", data_args.augment_copies, stats["augmented_notes"],
                len(kept), stats["augment_failed_notes"])
    return {"augment_copies": data_args.augment_copies, **counts}


def add_extra_windows(windows: list[dict], has_entity: list[bool], tokenizer, task,
                      data_args: DataArguments, window_args: dict, report) -> dict:
    """With ``--extra_train_dir``: append (in place) the windows of the presidio sentences,
    mapped to the task's labels (:func:`data_scripts.presidio.to_i2b2_2014`, then
    ``task.map_document``). Returns the counts for ``train_results.json`` (``{}`` when off).
    Raises UsageError for a task other than PHI, FormatError for a bad file."""
    if not data_args.extra_train_dir:
        return {}
    if data_args.format != "i2b2_2014" or data_args.task != "phi":
        raise UsageError("--extra_train_dir (presidio sentences mapped to i2b2 2014 TYPEs) "
                         "is for --task phi on i2b2_2014 corpora")
    extra_report = LoadReport(format="presidio")
    docs = [task.map_document(presidio.to_i2b2_2014(d, extra_report), extra_report)
            for d in presidio.read_path(data_args.extra_train_dir, extra_report)]
    extra = build_windows(tokenizer, docs, task, **window_args)
    flags = windows_with_entity(extra)
    windows.extend(extra)
    has_entity.extend(flags)
    counts = {"extra_train_documents": len(docs), "extra_train_windows": len(extra),
              "extra_train_spans": sum(len(d.spans) for d in docs),
              "extra_train_span_policy_changes": len(extra_report.problems),
              "extra_train_dropped": sum(v for k, v in extra_report.counts.items()
                                         if k.startswith("presidio_"))}
    report.counts.update(counts)
    return counts


def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX tiles), per torch."""
    cpu = getattr(torch, "cpu", None)
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, p, lambda: False)() for p in probes)


def cpu_bf16_arguments(training_args, mode: str):
    """``training_args`` with ``bf16=True`` when training on a CPU and ``mode`` is ``yes``, or
    ``auto`` and :func:`cpu_has_bf16`; unchanged otherwise (a GPU run takes ``--bf16``)."""
    on_cpu = training_args.use_cpu or not torch.cuda.is_available()
    if mode == "no" or not on_cpu or training_args.bf16:
        return training_args
    if mode == "auto" and not cpu_has_bf16():
        logger.info("--cpu_bf16 auto: this CPU has no bfloat16 instructions: training in fp32")
        return training_args
    logger.info("--cpu_bf16 %s: training in bfloat16 autocast on the CPU", mode)
    return dataclasses.replace(training_args, bf16=True, use_cpu=True)


def train(model_args: ModelArguments, data_args: DataArguments, training_args,
          callbacks=None) -> dict:
    """Fine-tune, select on dev, save the best model into ``training_args.output_dir`` and score
    dev and test. Returns the test metrics (also written to ``metrics.json``; ``{}`` on the
    other processes of a multi-process launch).

    Before anything loads: :func:`check_arguments`, then :func:`prepare_output_dir` (refuses a
    folder holding a run unless ``--overwrite_output_dir``, resolves
    ``--resume_from_checkpoint PATH|last``, probes that the folder is writable); after the corpus
    loads, :func:`check_label_map`. The seed (``--seed``; ``--full_determinism`` for
    deterministic algorithms) is set before the classification head is created. A resumed run
    restores model, optimizer, scheduler, RNG, the dev selection state (``trainer_state.json``)
    and the epoch of the window sampler, and ends as the uninterrupted run would. Dev selection
    and the final dev/test scores predict the notes sharded across processes
    (:func:`clinical_ner.inference.predict_corpus_sharded`); only the main process writes.
    ``callbacks``: extra ``TrainerCallback`` objects.

    Files written to the output folder: model weights (safetensors), tokenizer, ``config.json``
    (real ``id2label``), ``run_args.json``, ``load_report.json``, ``metrics.json`` (test),
    ``dev_metrics.json``, ``train_results.json``. None contains note text. Raises
    :class:`clinical_ner.cli.UsageError` for a refused argument or folder.
    """
    out_dir = Path(training_args.output_dir)
    data_args.data_dir = find_data_dir(data_args.data_dir)  # a shipped config from any folder
    check_arguments(model_args, data_args, training_args)
    resume = prepare_output_dir(training_args, data_args.overwrite_output_dir)
    data = load_task_documents(data_args)
    task, docs, report = data.task, data.splits, data.report
    check_label_map(task, report, data_args.data_dir)
    # dev selection and scores: the corpus as written, as the official scorer reads it
    gold = load_task_documents(data_args, as_written=True, task=task).splits
    for need in ("train", "dev"):
        if not docs.get(need):
            raise ValueError(f"{data_args.data_dir}: the {need} split is empty")
    train_docs: list[Document] = docs["train"][: data_args.max_train_documents]
    bio = task.scheme.bio_labels
    id2label = dict(enumerate(bio))
    check_label_names(id2label)
    # the head is initialised from the seeded RNG: two runs with one seed start identical
    (enable_full_determinism if training_args.full_determinism else set_seed)(training_args.seed)
    tokenizer, model = load_pretrained(model_args.model_name_or_path, num_labels=len(bio),
                                       id2label=id2label, label2id={v: k for k, v in
                                                                    id2label.items()})
    window_args = dict(max_seq_length=data_args.max_seq_length, doc_stride=data_args.doc_stride)
    windows = build_windows(tokenizer, train_docs, task, **window_args)
    has_entity = windows_with_entity(windows)
    augment_stats = add_augmented_windows(windows, has_entity, tokenizer, train_docs, task,
                                          data_args, training_args.seed, window_args, report)
    augment_stats.update(add_extra_windows(windows, has_entity, tokenizer, task, data_args,
                                           window_args, report))
    training_args = cpu_bf16_arguments(training_args, model_args.cpu_bf16)
    keep = data_args.negative_window_keep
    grouped = getattr(training_args, "train_sampling_strategy", "") == "group_by_length"
    sampler = NegativeSubsampler(
        has_entity, keep, training_args.seed,
        lengths=[w["length"] for w in windows] if grouped else None,
        batch_size=training_args.train_batch_size * training_args.gradient_accumulation_steps,
    ) if keep < 1 else None
    epoch_tokens = sum(w["length"] * (1 if h else min(keep, 1.0))
                       for w, h in zip(windows, has_entity))
    train_ds = Dataset.from_list(windows)
    dev_probe = Dataset.from_list(build_windows(tokenizer, docs["dev"][:1], task, **window_args))
    trainer = _span_eval_trainer()(
        model=model, args=training_args, train_dataset=train_ds, eval_dataset=dev_probe,
        processing_class=tokenizer, data_collator=DataCollatorForTokenClassification(tokenizer),
        eval_documents=gold["dev"], task=task, window_args=window_args,
        head_learning_rate=model_args.head_learning_rate, train_sampler=sampler,
        callbacks=callbacks)
    main = trainer.is_world_process_zero()
    if main:
        report.write(out_dir / "load_report.json")
    if resume:
        logger.info("resuming from %s", resume)
    start = time.time()
    result = trainer.train(resume_from_checkpoint=resume)
    # the Trainer's own timing of its training loop (TrainOutput.metrics), else the wall clock
    train_seconds = result.metrics.get("train_runtime") or (time.time() - start)
    epochs_done = trainer.state.epoch or training_args.num_train_epochs
    train_tokens = epoch_tokens * epochs_done
    if resume and trainer.state.global_step:  # only the steps of this call took train_seconds
        first = getattr(trainer, "_initial_global_step", 0)
        train_tokens *= (trainer.state.global_step - first) / trainer.state.global_step
    check_label_names(trainer.model.config.id2label)
    trainer.save_model(str(out_dir))
    # the saved model as users load it: without the mixed-precision forward wrapper (a --bf16 /
    # --cpu_bf16 run would otherwise score dev and test in bf16 autocast)
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    scores = {}
    for split in ("dev", "test") if data_args.score_test else ("dev",):
        if not docs.get(split):
            continue
        t0 = time.time()
        decode_stats: dict = {}
        preds = predict_corpus_sharded(model, tokenizer, docs[split], task,
                                       batch_size=training_args.per_device_eval_batch_size,
                                       stats=decode_stats, **window_args)
        if not main:
            continue
        scores[split] = score_documents(gold[split], preds, task.metric_scheme,
                                        bootstrap=data_args.bootstrap, seed=training_args.seed)
        scores[split]["split"] = split
        scores[split]["inference_seconds"] = round(time.time() - t0, 2)
        scores[split]["pred_spans_without_alnum_dropped"] = \
            decode_stats.get("pred_spans_without_alnum_dropped", 0)
    if not main:
        return {}
    train_results = {
        "train_seconds": round(train_seconds, 1),
        "train_windows": len(windows), "train_windows_with_entities": sum(has_entity),
        "train_windows_per_epoch": len(sampler) if sampler else len(windows),
        "train_documents": len(train_docs),
        "train_tokens_per_second": round(train_tokens / train_seconds, 1),
        "epochs": training_args.num_train_epochs, "global_steps": result.global_step,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_dev_strict_f1": trainer.state.best_metric,
        "resumed_from": Path(resume).name if resume else None,
        "device": str(model.device), "torch_threads": torch.get_num_threads(),
        "bf16": bool(training_args.bf16), **augment_stats,
    }
    run_args = {"model": asdict(model_args), "data": asdict(data_args),
                "training": {k: v for k, v in training_args.to_dict().items()
                             if "token" not in k}}
    settings = {
        "task": data_args.task, "format": data_args.format,
        "label_granularity": data_args.label_granularity, "metric_scheme": task.metric_scheme,
        "span_labels": list(task.scheme.span_labels), "max_seq_length": data_args.max_seq_length,
        "doc_stride": data_args.doc_stride}
    final = scores.get("test") or scores.get("dev")
    RunFolder(out_dir).write_run(run_args=run_args, settings=settings,
                                 train_results=train_results, metrics=final,
                                 dev_metrics=scores.get("dev"))
    return final
