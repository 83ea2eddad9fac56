"""A run folder: the files ``train_ner.py`` writes and everything downstream reads.

One type, :class:`RunFolder`, names the files of a finished run and reads them, so that
evaluation, prediction, the benchmark, the model card and the publish step agree on what a run
is:

* ``config.json`` (the model config with the real ``id2label``) -> :attr:`RunFolder.label_names`;
* ``run_args.json`` (``model``, ``data`` and ``training`` blocks) -> :attr:`RunFolder.run_args`;
* ``clinical_ner.json`` (task, format, label granularity, metric scheme, span labels, window
  length and stride) -> :attr:`RunFolder.settings`, :attr:`RunFolder.window`;
* ``metrics.json`` (test, else dev), ``dev_metrics.json``, ``train_results.json``,
  ``load_report.json``.

Readers get ``{}`` for a missing optional file and a :class:`~clinical_ner.documents.FormatError`
naming the file for one that is not JSON. Writers go through :mod:`clinical_ner.files` (atomic).
None of these files holds note text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from pathlib import Path

from clinical_ner.documents import FormatError
from clinical_ner.files import sha256_of, write_json_atomic

logger = logging.getLogger("clinical_ner")

CONFIG = "config.json"
RUN_ARGS = "run_args.json"
SETTINGS = "clinical_ner.json"
METRICS = "metrics.json"
DEV_METRICS = "dev_metrics.json"
TRAIN_RESULTS = "train_results.json"
LOAD_REPORT = "load_report.json"

#: Files whose presence means the folder holds a finished run.
FINISHED_FILES = (METRICS, DEV_METRICS, TRAIN_RESULTS, "model.safetensors", "pytorch_model.bin",
                  CONFIG)
#: JSON files a run writes (removed with ``--overwrite_output_dir``; weights are overwritten).
RUN_JSON = (METRICS, DEV_METRICS, TRAIN_RESULTS, RUN_ARGS, SETTINGS, LOAD_REPORT)
#: ONNX exports of a run (``RUN/onnx/``, :mod:`clinical_ner.backends`) that may be published.
ONNX_FILES = ("model.onnx", "model_quantized.onnx")
#: Settings of ``clinical_ner.json`` that say how the run reads a corpus and windows a note.
SAVED_SETTINGS = ("task", "format", "label_granularity", "max_seq_length", "doc_stride")


def onnx_files(run_dir: str | Path) -> list[str]:
    """The ONNX exports of a run (``RUN/onnx/model.onnx``, ``model_quantized.onnx``) that
    exist and were made from the run's current weights (``RUN/onnx/export.json`` records the
    SHA-256 of ``model.safetensors``); a stale export is left out."""
    folder = Path(run_dir) / "onnx"
    report = folder / "export.json"
    if not report.is_file():
        return []
    try:
        info = json.loads(report.read_text(encoding="utf-8"))
    except ValueError:
        return []
    if info.get("source_sha256") != sha256_of(Path(run_dir) / "model.safetensors"):
        logger.warning("%s was exported from other weights: not published", folder)
        return []
    return [n for n in ONNX_FILES if (folder / n).is_file() and n in info.get("files", {})]


@dataclass
class CorpusSettings:
    """How a run reads its corpus and windows its notes: the part of ``train_ner.py``'s
    ``DataArguments`` that evaluation, prediction and the benchmark need, with the same
    defaults (a test keeps them equal)."""

    data_dir: str | None = None
    format: str = "i2b2_2014"
    task: str = "phi"
    label_granularity: str = "type"
    max_seq_length: int = 256
    doc_stride: int = 64
    split_seed: int = 1701
    discontinuous: str = "join"
    strip_report_end: bool = False


@dataclass(frozen=True)
class WindowSettings:
    """Window length and overlap of a run, in sub-tokens (special tokens included)."""

    max_seq_length: int
    doc_stride: int


@dataclass(frozen=True)
class RunFolder:
    """The files of one training run (see the module docstring)."""

    path: Path

    def __init__(self, path: str | Path):
        object.__setattr__(self, "path", Path(path))

    # ------------------------------------------------------------------------------ files

    def file(self, name: str) -> Path:
        """The path of ``name`` in the run folder."""
        return self.path / name

    def exists(self) -> bool:
        """Whether the run folder exists."""
        return self.path.is_dir()

    def has(self, name: str) -> bool:
        """Whether the run folder holds the file ``name``."""
        return (self.path / name).is_file()

    def is_model(self) -> bool:
        """Whether the folder holds a model with its run settings (config + clinical_ner.json)."""
        return self.has(CONFIG) and self.has(SETTINGS)

    def finished_files(self) -> list[str]:
        """The names of :data:`FINISHED_FILES` present (a finished run when non-empty)."""
        return [n for n in FINISHED_FILES if (self.path / n).exists()]

    def read_json(self, name: str) -> dict:
        """The JSON file ``name`` of the run, ``{}`` when it is missing. Raises FormatError
        naming the file when it is not JSON."""
        f = self.path / name
        if not f.is_file():
            return {}
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FormatError(f"{f}: not JSON: {exc}") from exc

    def write_json(self, name: str, data, **kwargs) -> Path:
        """Write ``data`` as the JSON file ``name`` of the run (atomically); returns its path."""
        return write_json_atomic(self.path / name, data, **kwargs)

    # ----------------------------------------------------------------------------- contents

    @property
    def config(self) -> dict:
        """``config.json``."""
        return self.read_json(CONFIG)

    @property
    def run_args(self) -> dict:
        """``run_args.json``: ``{"model": ..., "data": ..., "training": ...}``."""
        return self.read_json(RUN_ARGS)

    @property
    def settings(self) -> dict:
        """``clinical_ner.json``: task, format, label granularity, metric scheme, span labels,
        window length and stride."""
        return self.read_json(SETTINGS)

    @property
    def metrics(self) -> dict:
        """``metrics.json`` (test scores, else dev)."""
        return self.read_json(METRICS)

    @property
    def dev_metrics(self) -> dict:
        """``dev_metrics.json``."""
        return self.read_json(DEV_METRICS)

    @property
    def train_results(self) -> dict:
        """``train_results.json``."""
        return self.read_json(TRAIN_RESULTS)

    @property
    def load_report(self) -> dict:
        """``load_report.json`` (the training corpus as read: counts and problems)."""
        return self.read_json(LOAD_REPORT)

    def args_block(self, block: str) -> dict:
        """One block of ``run_args.json`` (``model``, ``data`` or ``training``), ``{}`` when
        absent."""
        return self.run_args.get(block) or {}

    @property
    def label_names(self) -> list[str]:
        """The model's IOB2 labels in class-id order (``config.json`` ``id2label``); ``[]``
        without a config."""
        id2label = self.config.get("id2label") or {}
        return [id2label[k] for k in sorted(id2label, key=int)]

    @property
    def window(self) -> WindowSettings:
        """The run's window length and stride (``clinical_ner.json``; the defaults of
        :class:`CorpusSettings` where it says nothing)."""
        s, d = self.settings, CorpusSettings()
        return WindowSettings(s.get("max_seq_length") or d.max_seq_length,
                              s.get("doc_stride") or d.doc_stride)

    def corpus_settings(self, **overrides) -> CorpusSettings:
        """The settings to read a corpus and window its notes as the run did.

        Precedence: ``overrides`` that are not None, then ``clinical_ner.json``
        (:data:`SAVED_SETTINGS`), then the ``data`` block of ``run_args.json`` (data_dir,
        split_seed, discontinuous, ...), then the :class:`CorpusSettings` defaults. Raises
        FormatError for a settings file that is not JSON.
        """
        known = {f.name for f in fields(CorpusSettings)}
        values = {k: v for k, v in self.args_block("data").items() if k in known}
        saved = self.settings
        values.update({k: saved[k] for k in SAVED_SETTINGS if saved.get(k) is not None})
        values.update({k: v for k, v in overrides.items() if k in known and v is not None})
        return CorpusSettings(**values)

    # ------------------------------------------------------------------------------ writing

    def write_run(self, *, run_args: dict, settings: dict, train_results: dict,
                  metrics: dict, dev_metrics: dict | None = None) -> None:
        """Write the JSON files of a finished run (the load report is written when the corpus
        is read, :meth:`clinical_ner.documents.LoadReport.write`)."""
        self.write_json(TRAIN_RESULTS, train_results)
        self.write_json(RUN_ARGS, run_args, default=str)
        self.write_json(SETTINGS, settings)
        if dev_metrics is not None:
            self.write_json(DEV_METRICS, dev_metrics)
        self.write_json(METRICS, metrics)
