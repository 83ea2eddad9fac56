"""Arguments of ``benchmark.py``, their mode defaults, and the specs the parent sends to its
measuring workers (:class:`WorkerSpec` holding one :class:`ModelSpec` per model), as JSON.

Units: MB = 10**6 bytes everywhere; window lengths and strides in sub-tokens (special tokens
included in ``max_seq_length``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

MB = 1e6
ROOT = Path(__file__).resolve().parents[2]
PHYSIONET_DIR = "../shared/data/physionet-deid-i2b2"
DEMO_DIR = str(ROOT / "data_scripts" / "demo_i2b2_2014")


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
        "help": "Training batch of the timed steps; None: the run's per_device_train_batch_size "
                "or 16 (real), 8 (arch). A value given here wins over the run's."})
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
    disable_tqdm: bool = field(default=False, metadata={
        "help": "No progress bars (passes, latency notes, training steps, workers)."})
    output_dir: str = field(default=None, metadata={
        "help": "Output folder; None: benchmarks/results/architecture_only or .../real."})


#: Mode defaults for the arguments left at None (real mode's train_batch_size: the run's
#: per_device_train_batch_size first, this value when the run records none).
MODE_DEFAULTS = {
    "real": dict(max_documents=None, passes=3, train_steps=40, train_batch_size=16,
                 side_by_side=True),
    "arch": dict(max_documents=30, passes=2, train_steps=5, train_batch_size=8,
                 side_by_side=False),
}


def resolve_args(args: BenchmarkArguments) -> BenchmarkArguments:
    """A copy of ``args`` with the arguments left at None set to the mode defaults
    (:data:`MODE_DEFAULTS`) and ``output_dir`` to ``benchmarks/results/<mode>``. ``args`` itself
    is not changed (its ``train_batch_size`` tells whether the batch was given)."""
    mode = "arch" if args.architecture_only else "real"
    values = {k: v for k, v in MODE_DEFAULTS[mode].items() if getattr(args, k) is None}
    if args.output_dir is None:
        values["output_dir"] = str(Path("benchmarks/results") / (
            "architecture_only" if args.architecture_only else "real"))
    return replace(args, **values)


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


@dataclass
class ModelSpec:
    """One model to measure, as the worker receives it.

    ``kind`` ``"arch"``: a random model of ``alias``'s real architecture (``overrides``: config
    fields), its windows cut by ``tokenizer``; ``"run"``: the finished run folder ``run_dir``.
    ``data``: the :class:`clinical_ner.training.DataArguments` fields the notes are loaded with
    (for a run: its ``run_args.json``/``clinical_ner.json`` with the benchmark's corpus), so the
    gold and the training windows are the run's. ``max_seq_length``/``doc_stride`` in
    sub-tokens; ``train_batch_size`` in windows; ``negative_window_keep`` and ``train_seed``:
    the run's first-epoch draw of windows without entities.
    """

    name: str
    kind: str
    task: str
    max_seq_length: int
    doc_stride: int
    train_batch_size: int
    data: dict = field(default_factory=dict)
    alias: str = ""
    granularity: str = "type"
    overrides: dict = field(default_factory=dict)
    tokenizer: str | None = None
    run_dir: str | None = None
    negative_window_keep: float = 1.0
    train_seed: int = 42
    side_by_side: bool = False

    @property
    def is_run(self) -> bool:
        """Whether the spec is a finished run (else a random architecture)."""
        return self.kind == "run"


@dataclass
class WorkerSpec:
    """One worker job (``job``: ``"memory"`` for one model, ``"timing"`` for all of a task's
    models interleaved) and the measurement sizes; :meth:`to_json`/:meth:`from_json` carry it to
    the worker subprocess. ``side_by_side_lengths``: ``[[max_seq_length, doc_stride], ...]``."""

    job: str
    models: list[ModelSpec]
    data_dir: str
    format: str = "i2b2_2014"
    split: str = "test"
    max_documents: int | None = None
    train_documents: int | None = None
    passes: int = 1
    warmup_documents: int = 4
    latency_documents: int | None = None
    eval_batch_size: int = 32
    train_steps: int = 0
    device: str = "cpu"
    bf16: bool = False
    side_by_side_lengths: list = field(default_factory=list)
    threads: int | None = None
    seed: int = 42
    bootstrap: int = 0
    isolated: bool = False
    progress: bool = True

    def to_json(self) -> str:
        """The spec as a JSON object (models as objects)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        """Inverse of :meth:`to_json`. Raises TypeError for an unknown field."""
        d = json.loads(text)
        d["models"] = [ModelSpec(**m) for m in d.get("models", [])]
        return cls(**d)

    @classmethod
    def from_args(cls, args: BenchmarkArguments, data_dir: str, job: str = "timing",
                  models: list[ModelSpec] | None = None) -> WorkerSpec:
        """The sizes of resolved ``args`` (:func:`resolve_args`) with ``data_dir``."""
        own = {f.name for f in fields(cls)} - {"job", "models", "data_dir", "isolated",
                                                "progress", "side_by_side_lengths"}
        values = {n: getattr(args, n) for n in own}
        return cls(job=job, models=list(models or []), data_dir=data_dir,
                   progress=not args.disable_tqdm,
                   side_by_side_lengths=parse_lengths(args.side_by_side_lengths), **values)
