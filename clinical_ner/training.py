"""Fine-tuning: argument dataclasses (parsed with ``HfArgumentParser``) and :func:`train`.

The flow: corpus -> documents -> ``DatasetDict`` (labels from the task) -> overlapping token windows
-> ``Trainer`` (dynamic padding, length grouping, best checkpoint chosen on the dev split by
document-level strict span F1) -> model folder with the real ``id2label`` -> scores on dev and
test written to ``metrics.json``.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clinical_ner.documents import Document
from clinical_ner.files import write_json_atomic

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


#: TrainingArguments defaults that differ from the Trainer's: choose the best checkpoint on dev.
TRAINING_DEFAULTS = dict(
    output_dir="runs/default", eval_strategy="epoch", save_strategy="epoch",
    load_best_model_at_end=True, metric_for_best_model="strict_f1", greater_is_better=True,
    save_total_limit=2, learning_rate=1e-4, num_train_epochs=3, warmup_steps=0.1,
    per_device_train_batch_size=16, per_device_eval_batch_size=32, weight_decay=0.01,
    logging_steps=50, report_to="none", train_sampling_strategy="group_by_length",
    seed=42, save_only_model=True,
)


def build_windows(tokenizer, docs, task, max_seq_length, doc_stride, with_labels=True):
    """Documents -> training windows (dicts with input_ids, attention_mask, labels, length).

    Words are split at the gold span boundaries; the first sub-token of each word carries its
    IOB2 class id (index in ``task.scheme.bio_labels``), or -100 (left out of the loss) for a
    word under a gold tag the loader rejected (``doc.meta["ignore_words"]`` from
    :func:`data_scripts.to_dataset_dict`). ``with_labels=False`` leaves ``labels`` out.
    """
    from clinical_ner.windows import IGNORE, make_windows, special_affixes, tokenize_documents

    label_id = {lab: i for i, lab in enumerate(task.scheme.bio_labels)}
    words_tags = [task.words_and_tags(d) for d in docs]
    toks = tokenize_documents(tokenizer, [d.text for d in docs], [w for w, _ in words_tags])
    affixes = special_affixes(tokenizer)
    out = []
    for i, (td, (_, tags)) in enumerate(zip(toks, words_tags)):
        labels = None
        if with_labels:
            ignore = docs[i].meta.get("ignore_words") or [False] * len(tags)
            labels = [IGNORE if skip else label_id[t] for t, skip in zip(tags, ignore,
                                                                         strict=True)]
        for w in make_windows(tokenizer, td, max_seq_length, doc_stride, labels, i, affixes):
            row = {"input_ids": w["input_ids"], "attention_mask": w["attention_mask"],
                   "length": len(w["input_ids"])}
            if with_labels:
                row["labels"] = w["labels"]
            out.append(row)
    return out


def windows_with_entity(windows: list[dict]) -> list[bool]:
    """Per training window (from :func:`build_windows`), whether a labelled word in it is part of
    an entity (class id > 0; id 0 is ``O`` in every label scheme)."""
    return [any(lab > 0 for lab in w["labels"]) for w in windows]


class NegativeSubsampler:
    """A training sampler: every window with an entity, plus a fresh seeded fraction ``keep`` of
    the windows without one, each epoch (epoch k draws with seed ``seed + k``).

    ``has_entity[i]`` says whether window i holds a labelled entity. With ``lengths`` (window
    lengths in sub-tokens) and ``batch_size``, the epoch's windows are put in the Trainer's
    ``group_by_length`` order (:func:`transformers.trainer_pt_utils.get_length_grouped_indices`:
    random mega-batches, each sorted by length, so a batch pads little); without them they are
    shuffled. Its length is constant, as the Trainer needs; under ``accelerate`` every process
    draws the same indices and takes its shard of them.
    """

    def __init__(self, has_entity: list[bool], keep: float, seed: int,
                 lengths: list[int] | None = None, batch_size: int | None = None):
        self.pos = [i for i, h in enumerate(has_entity) if h]
        self.neg = [i for i, h in enumerate(has_entity) if not h]
        self.n_neg = min(len(self.neg), round(keep * len(self.neg)))
        self.seed, self.epoch = seed, 0
        self.lengths, self.batch_size = lengths, batch_size

    def __len__(self) -> int:
        return len(self.pos) + self.n_neg

    def epoch_indices(self, epoch: int) -> list[int]:
        """The window indices of epoch ``epoch`` in batch order (see the class docstring)."""
        rng = random.Random(self.seed + epoch)
        idx = self.pos + rng.sample(self.neg, self.n_neg)
        if self.lengths is None or not self.batch_size:
            rng.shuffle(idx)
            return idx
        import torch
        from transformers.trainer_pt_utils import get_length_grouped_indices

        gen = torch.Generator().manual_seed(self.seed + epoch)
        order = get_length_grouped_indices([self.lengths[i] for i in idx], self.batch_size,
                                           generator=gen)
        return [idx[j] for j in order]

    def __iter__(self):
        idx = self.epoch_indices(self.epoch)
        self.epoch += 1
        return iter(idx)


def _span_eval_trainer():
    from transformers import Trainer

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
            from clinical_ner.evaluation import score_documents
            from clinical_ner.inference import predict_corpus

            start = time.time()
            model = self.accelerator.unwrap_model(self.model)
            preds = predict_corpus(model, self.processing_class, self.eval_documents, self.task,
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


def check_label_names(id2label: dict) -> None:
    """Refuse placeholder label names: raises ValueError when any is ``LABEL_<n>``."""
    bad = [v for v in id2label.values() if str(v).startswith("LABEL_")]
    if bad:
        raise ValueError(f"refusing to save a model with placeholder labels {bad[:3]}; "
                         "id2label must hold the task's IOB2 names")


def load_task_data(data_args: DataArguments):
    """Corpus -> ``(task, splits of documents mapped to the task's labels, DatasetDict,
    report)``. Raises FormatError/ValueError with the file and record on bad input."""
    from clinical_ner.tasks import get_task
    from data_scripts import dataset_documents, load_corpus, to_dataset_dict

    if not data_args.data_dir:
        raise ValueError("--data_dir is required (a corpus folder)")
    task = get_task(data_args.task, data_args.format, data_args.label_granularity)
    # labels: spans of labels outside the task are counted and left out *before* the overlap
    # policy, so they cannot make a task span lose an overlap.
    splits, report = load_corpus(data_args.format, data_args.data_dir,
                                 split_seed=data_args.split_seed, labels=task.corpus_labels,
                                 discontinuous=data_args.discontinuous,
                                 strip_report_end=data_args.strip_report_end)
    dsd = to_dataset_dict(splits, task, report)
    docs = {name: dataset_documents(ds) for name, ds in dsd.items()}
    return task, docs, dsd, report


def load_scoring_documents(data_args: DataArguments, task):
    """The gold documents to *score* against, per split: the corpus read as written (offsets and
    labels as the files give them, like the official i2b2 2014 scorer; no trimming, dropping or
    overlap resolution, duplicates once) and relabelled into the task's span labels, a label the
    task does not know kept as it is (a false negative). Same splits and documents as
    :func:`load_task_data`. Returns ``(splits, report)``; the report counts how the reading
    differs from the files (:meth:`~clinical_ner.documents.LoadReport.differences`). Raises
    FormatError naming file, record and offsets for a tag that cannot be scored."""
    from data_scripts import load_corpus

    splits, report = load_corpus(
        data_args.format, data_args.data_dir, split_seed=data_args.split_seed,
        labels=task.corpus_labels if task.meta.get("label_map_file") else None,
        discontinuous=data_args.discontinuous, strip_report_end=data_args.strip_report_end,
        as_written=True)
    return {name: [task.map_document(d, report, keep_unknown=True) for d in docs]
            for name, docs in splits.items()}, report


def train(model_args: ModelArguments, data_args: DataArguments, training_args) -> dict:
    """Fine-tune, select on dev, save the best model into ``training_args.output_dir`` and score
    dev and test. Returns the test metrics (also written to ``metrics.json``).

    Files written to the output folder: model weights (safetensors), tokenizer, ``config.json``
    (real ``id2label``), ``run_args.json``, ``load_report.json``, ``metrics.json`` (test),
    ``dev_metrics.json``, ``train_results.json``. None contains note text.
    """
    import torch
    from datasets import Dataset
    from transformers import DataCollatorForTokenClassification

    from clinical_ner.evaluation import score_documents
    from clinical_ner.inference import predict_corpus
    from clinical_ner.models import load_pretrained

    out_dir = Path(training_args.output_dir)
    task, docs, dsd, report = load_task_data(data_args)
    gold, _ = load_scoring_documents(data_args, task)  # dev selection and scores: as written
    for need in ("train", "dev"):
        if not docs.get(need):
            raise ValueError(f"{data_args.data_dir}: the {need} split is empty")
    train_docs: list[Document] = docs["train"][: data_args.max_train_documents]
    bio = task.scheme.bio_labels
    id2label = dict(enumerate(bio))
    check_label_names(id2label)
    tokenizer, model = load_pretrained(model_args.model_name_or_path, num_labels=len(bio),
                                       id2label=id2label, label2id={v: k for k, v in
                                                                    id2label.items()})
    window_args = dict(max_seq_length=data_args.max_seq_length, doc_stride=data_args.doc_stride)
    windows = build_windows(tokenizer, train_docs, task, **window_args)
    has_entity = windows_with_entity(windows)
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
        head_learning_rate=model_args.head_learning_rate, train_sampler=sampler)
    out_dir.mkdir(parents=True, exist_ok=True)
    report.write(out_dir / "load_report.json")
    start = time.time()
    result = trainer.train()
    train_seconds = time.time() - start
    epochs_done = trainer.state.epoch or training_args.num_train_epochs
    train_tokens = epoch_tokens * epochs_done
    check_label_names(trainer.model.config.id2label)
    trainer.save_model(str(out_dir))
    if not trainer.is_world_process_zero():
        return {}
    model = trainer.accelerator.unwrap_model(trainer.model)
    scores = {}
    for split in ("dev", "test"):
        if not docs.get(split):
            continue
        t0 = time.time()
        preds = predict_corpus(model, tokenizer, docs[split], task,
                               batch_size=training_args.per_device_eval_batch_size, **window_args)
        scores[split] = score_documents(gold[split], preds, task.metric_scheme,
                                        bootstrap=data_args.bootstrap, seed=training_args.seed)
        scores[split]["split"] = split
        scores[split]["inference_seconds"] = round(time.time() - t0, 2)
    train_results = {
        "train_seconds": round(train_seconds, 1),
        "train_windows": len(windows), "train_windows_with_entities": sum(has_entity),
        "train_windows_per_epoch": len(sampler) if sampler else len(windows),
        "train_documents": len(train_docs),
        "train_tokens_per_second": round(train_tokens / train_seconds, 1),
        "epochs": training_args.num_train_epochs, "global_steps": result.global_step,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_dev_strict_f1": trainer.state.best_metric,
        "device": str(model.device), "torch_threads": torch.get_num_threads(),
    }
    write_json_atomic(out_dir / "train_results.json", train_results)
    run_args = {"model": asdict(model_args), "data": asdict(data_args),
                "training": {k: v for k, v in training_args.to_dict().items()
                             if "token" not in k}}
    write_json_atomic(out_dir / "run_args.json", run_args, default=str)
    write_json_atomic(out_dir / "clinical_ner.json", {
        "task": data_args.task, "format": data_args.format,
        "label_granularity": data_args.label_granularity, "metric_scheme": task.metric_scheme,
        "span_labels": list(task.scheme.span_labels), "max_seq_length": data_args.max_seq_length,
        "doc_stride": data_args.doc_stride})
    if "dev" in scores:
        write_json_atomic(out_dir / "dev_metrics.json", scores["dev"])
    final = scores.get("test") or scores.get("dev")
    write_json_atomic(out_dir / "metrics.json", final)
    return final
