"""Inference backends side by side on one finished run (``benchmark.py --backends ...``).

For each setting (``torch:fp32``, ``torch:int8``, ``onnx:fp32``, ``onnx:int8``, ``pipeline:fp32``
= ``transformers.pipeline("token-classification", aggregation_strategy="first", stride=)`` note
by note, and any of them as ``N x T`` processes x threads, e.g. ``onnx:int8:2x1``) the whole
notes of one split are predicted in fresh worker subprocesses (``python -m
clinical_ner.benchmark.backends SPEC OUT``), so each peak memory is the worker's own. A
multi-process setting splits the notes (note i to process i mod N); its workers load their
models, wait for each other (a file barrier) and are timed from the common start: throughput is
all tokens over the slowest worker's time.

Measured per setting: tokens/s and notes/s (median of ``passes`` timed passes after a warm-up),
latency p50/p95 (one note at a time, 1-process settings), disk of the weights the backend reads,
peak resident memory (``ru_maxrss``), strict micro F1 on the split's gold (read as written) and
its difference to ``torch:fp32``, the notes whose spans equal ``torch:fp32``'s, the ONNX
export's max absolute logit difference. Speed-ups are throughput ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

from clinical_ner.backends import BACKENDS, PRECISIONS, load_inference_model
from clinical_ner.benchmark.plots import plot_backends
from clinical_ner.benchmark.timing import percentile, progress
from clinical_ner.documents import Document, Span
from clinical_ner.files import write_json_atomic, write_text_atomic
from clinical_ner.inference import peak_rss_mb, predict_documents
from clinical_ner.run_folder import RunFolder
from clinical_ner.scoring import score_documents
from clinical_ner.tables import MISSING, markdown_table
from clinical_ner.task_data import load_task_documents

#: The settings ``--backends all`` stands for.
DEFAULT_BACKENDS = ("torch:fp32,torch:int8,onnx:fp32,onnx:int8,pipeline:fp32,torch:fp32:2x1,"
                    "onnx:int8:2x1")
REFERENCE = "torch:fp32"


@dataclass
class BackendArguments:
    """Arguments of ``benchmark.py --backends`` (the backend side by side)."""

    backends: str = field(default="", metadata={
        "help": "Run the inference backends side by side on --backend_run: comma-separated "
                "BACKEND:PRECISION[:NxT] (torch|onnx|pipeline : fp32|int8|fp16|bf16, N "
                f"processes x T threads), or 'all' ({DEFAULT_BACKENDS}). Writes backends.json/"
                ".md/.png into --output_dir; the other measurements are not run."})
    backend_run: str = field(default="", metadata={
        "help": "Run folder for --backends (default: the first of --runs)."})
    backend_threads: int = field(default=2, metadata={
        "help": "Threads of a 1-process setting without NxT (2 = the cores of this machine)."})
    backend_device: str = field(default="cpu", metadata={
        "help": "Device of the fp32 settings (cpu or cuda); fp16/bf16 always run on cuda, int8 "
                "on cpu."})


@dataclass(frozen=True)
class BackendSetting:
    """One backend setting: ``backend`` (torch, onnx or pipeline), ``precision``,
    ``processes`` x ``threads`` per process."""

    backend: str
    precision: str
    processes: int = 1
    threads: int = 2

    @property
    def name(self) -> str:
        """``backend:precision:NxT``, the setting's name in backends.json."""
        return f"{self.backend}:{self.precision}:{self.processes}x{self.threads}"


@dataclass
class BackendRow:
    """One setting's measurements (see the module docstring); ``error`` when it failed."""

    setting: str
    backend: str
    precision: str
    processes: int
    threads: int
    notes: int = 0
    note_tokens: int = 0
    seconds: float | None = None
    tokens_per_s: float | None = None
    notes_per_s: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    disk_mb: float | None = None
    peak_mem_mb: float | None = None
    strict_f1: float | None = None
    f1_diff_vs_torch_fp32: float | None = None
    notes_identical_to_torch_fp32: int | None = None
    speedup_vs_torch_fp32: float | None = None
    speedup_vs_pipeline: float | None = None
    max_abs_logit_diff: float | None = None
    error: str | None = None


def parse_backends(text: str, threads: int = 2) -> list[BackendSetting]:
    """``"torch:fp32,onnx:int8:2x1"`` -> settings (``all`` = :data:`DEFAULT_BACKENDS`).
    Raises ValueError naming the bad item."""
    out = []
    for item in (DEFAULT_BACKENDS if text.strip() == "all" else text).split(","):
        parts = item.strip().split(":")
        if len(parts) not in (2, 3) or parts[0] not in (*BACKENDS, "pipeline") \
                or parts[1] not in PRECISIONS:
            raise ValueError(f"--backends item {item!r}: expected BACKEND:PRECISION[:NxT] with "
                             f"BACKEND in torch, onnx, pipeline and PRECISION in "
                             f"{', '.join(PRECISIONS)}")
        n, t = 1, threads
        if len(parts) == 3:
            try:
                n, t = (int(x) for x in parts[2].lower().split("x"))
            except ValueError:
                raise ValueError(f"--backends item {item!r}: NxT must be two integers, e.g. "
                                 "2x1") from None
            if n < 1 or t < 1:
                raise ValueError(f"--backends item {item!r}: N and T must be at least 1")
        if parts[0] == "pipeline" and (parts[1] != "fp32" or n != 1):
            raise ValueError(f"--backends item {item!r}: the pipeline baseline is pipeline:fp32 "
                             "in one process")
        out.append(BackendSetting(parts[0], parts[1], n, t))
    return out


# ------------------------------------------------------------------------------------ the worker


@dataclass
class BackendSpec:
    """What one worker process measures: shard ``shard`` of ``shards`` (note i goes to shard
    i mod shards) of the run's ``split`` with one backend setting; ``barrier_dir`` makes the
    shards of a multi-process setting start their timed passes together. Batch in windows."""

    run_dir: str
    backend: str
    precision: str
    threads: int
    data_dir: str | None = None
    split: str = "test"
    passes: int = 2
    warmup: int = 4
    latency_notes: int = 50
    batch_size: int = 32
    window_merge: str = "central"
    device: str = "cpu"
    shard: int = 0
    shards: int = 1
    barrier_dir: str | None = None

    def to_json(self) -> str:
        """The spec as a JSON object (the worker's SPEC file)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BackendSpec:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


def run_gold(run_dir: str, data_dir: str | None, split: str):
    """``(corpus settings, task, gold documents of split)`` of a run, read as eval_ner.py
    scores it (:func:`load_task_documents` scoring reading with the run's saved settings;
    ``data_dir`` None: the run's corpus). Raises ValueError for an empty split or no known
    corpus, FormatError for a settings file that is not JSON."""
    settings = RunFolder(run_dir).corpus_settings(data_dir=data_dir or None)
    read = load_task_documents(settings, as_written=True)
    if not read.splits.get(split):
        raise ValueError(f"{settings.data_dir}: the {split} split is empty or missing")
    return settings, read.task, read.splits[split]


def _pipeline_predictor(spec: BackendSpec, tokenizer, settings, task):
    torch.set_num_threads(spec.threads)
    model = AutoModelForTokenClassification.from_pretrained(spec.run_dir).eval()
    tokenizer.model_max_length = settings.max_seq_length
    ner = pipeline("token-classification", model=model, tokenizer=tokenizer,
                   aggregation_strategy="first", stride=settings.doc_stride, device="cpu")
    lab = task.scheme.span_label_of

    def run_texts(texts):
        return [[Span(int(e["start"]), int(e["end"]), lab(e["entity_group"]))
                 for e in ner(t) if int(e["end"]) > int(e["start"])] for t in texts]

    size = (Path(spec.run_dir) / "model.safetensors").stat().st_size
    return run_texts, {"model_files": {"model.safetensors": size}}


def predictor(spec: BackendSpec, settings, task):
    """``(texts -> spans per note, backend info dict)`` of the spec's setting."""
    tokenizer = AutoTokenizer.from_pretrained(spec.run_dir)
    if spec.backend == "pipeline":
        return _pipeline_predictor(spec, tokenizer, settings, task)
    device = {"fp16": "cuda", "bf16": "cuda", "int8": "cpu"}.get(spec.precision, spec.device)
    model, info = load_inference_model(spec.run_dir, backend=spec.backend,
                                       precision=spec.precision, device=device,
                                       threads=spec.threads)
    id2label = {int(k): v for k, v in model.config.id2label.items()}

    def run_texts(texts):
        return predict_documents(model, tokenizer, texts, id2label,
                                 max_seq_length=settings.max_seq_length,
                                 doc_stride=settings.doc_stride, batch_size=spec.batch_size,
                                 span_label_of=task.scheme.span_label_of,
                                 window_merge=spec.window_merge)

    return run_texts, info.to_json()


def _barrier(spec: BackendSpec) -> None:
    if not spec.barrier_dir:
        return
    Path(spec.barrier_dir, f"ready-{spec.shard}").touch()
    deadline = time.time() + 600
    while len(list(Path(spec.barrier_dir).glob("ready-*"))) < spec.shards:
        if time.time() > deadline:
            raise TimeoutError("the other benchmark workers never became ready")
        time.sleep(0.01)


def _latency_ms(run_texts, texts: list[str], n: int) -> list[float]:
    out = []
    step = max(1, len(texts) // n)
    for t in texts[::step][:n]:
        t0 = time.perf_counter()
        run_texts([t])
        out.append((time.perf_counter() - t0) * 1000)
    return out


def worker(spec: BackendSpec) -> dict:
    """Measure one shard of one setting in this process (see the module docstring). Returns
    ``{"seconds": [wall seconds per pass], "latency_ms": [...], "peak_mem_mb" (Linux
    ``ru_maxrss``, MB as the rest of the benchmark: :func:`inference.peak_rss_mb`), "spans": per
    note [[start, end, label]], "ids",
    "info"}``."""
    settings, task, gold = run_gold(spec.run_dir, spec.data_dir, spec.split)
    notes = gold[spec.shard::spec.shards]
    texts = [d.text for d in notes]
    run_texts, info = predictor(spec, settings, task)
    run_texts(texts[: spec.warmup])
    _barrier(spec)
    seconds, spans = [], None
    for _ in range(spec.passes):
        t0 = time.perf_counter()
        spans = run_texts(texts)
        seconds.append(time.perf_counter() - t0)
    latency = (_latency_ms(run_texts, texts, spec.latency_notes)
               if spec.latency_notes and spec.shards == 1 else [])
    return {"seconds": seconds, "latency_ms": latency, "ids": [d.id for d in notes],
            "spans": [[[s.start, s.end, s.label] for s in sp] for sp in spans],
            "peak_mem_mb": peak_rss_mb(),
            "info": info}


# ------------------------------------------------------------------------------------ the parent


def _run_setting(setting: BackendSetting, base: dict, tmp: Path) -> list[dict]:
    """Run the workers of one setting concurrently; returns their results (raises
    RuntimeError on failure, with the tail of the worker's log)."""
    barrier = tmp / f"barrier-{setting.name.replace(':', '_')}"
    barrier.mkdir()
    procs = []
    for k in range(setting.processes):
        spec = BackendSpec(**base, backend=setting.backend, precision=setting.precision,
                           threads=setting.threads, shard=k, shards=setting.processes,
                           barrier_dir=str(barrier) if setting.processes > 1 else None)
        sp, out, log = (tmp / f"{barrier.name}-{k}.{x}" for x in ("spec.json", "out.json", "log"))
        sp.write_text(spec.to_json())
        env = dict(os.environ, OMP_NUM_THREADS=str(setting.threads))
        with log.open("w") as fh:
            procs.append((subprocess.Popen(
                [sys.executable, "-m", "clinical_ner.benchmark.backends", str(sp), str(out)],
                stdout=fh, stderr=subprocess.STDOUT, env=env), out, log))
    results = []
    for proc, out, log in procs:
        if proc.wait() != 0 or not out.is_file():
            raise RuntimeError(f"{setting.name}: worker failed: "
                               + " | ".join(log.read_text().strip().splitlines()[-3:]))
        results.append(json.loads(out.read_text()))
    return results


def _fill_row(row: BackendRow, res: list[dict], gold, task, n_tokens: int) -> dict:
    """The speed, memory and F1 figures of one setting's worker results into ``row``; returns
    the spans per note id."""
    per_pass = np.max([r["seconds"] for r in res], axis=0)  # slowest worker per pass
    row.seconds = round(float(np.median(per_pass)), 3)
    row.tokens_per_s = round(n_tokens / row.seconds, 1)
    row.notes_per_s = round(len(gold) / row.seconds, 2)
    lat = [x for r in res for x in r["latency_ms"]]
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    row.latency_p50_ms = None if p50 is None else round(p50, 1)
    row.latency_p95_ms = None if p95 is None else round(p95, 1)
    info = res[0]["info"]
    row.disk_mb = round(sum(info["model_files"].values()) / 1e6, 1)
    row.peak_mem_mb = round(max(r["peak_mem_mb"] for r in res), 1)
    row.max_abs_logit_diff = info.get("max_abs_logit_diff")
    by_id = {i: sp for r in res for i, sp in zip(r["ids"], r["spans"], strict=True)}
    preds = [Document(d.id, d.text, tuple(sorted(Span(a, b, c) for a, b, c in by_id[d.id])))
             for d in gold]
    row.strict_f1 = round(score_documents(gold, preds, task.metric_scheme)
                          ["strict"]["micro"]["f1"], 4)
    return by_id


def _compare_rows(rows: list[BackendRow], spans_of: dict, gold) -> None:
    """F1 difference, speedups and identical notes against torch:fp32 (1 process) and the
    pipeline, when they were measured."""
    ref = next((r for r in rows if r.setting.startswith(REFERENCE + ":1x") and not r.error),
               None)
    pipe = next((r for r in rows if r.backend == "pipeline" and not r.error), None)
    for r in rows:
        if r.error:
            continue
        if ref:
            r.f1_diff_vs_torch_fp32 = round(r.strict_f1 - ref.strict_f1, 4)
            r.speedup_vs_torch_fp32 = round(ref.seconds / r.seconds, 2)
            mine, theirs = spans_of[r.setting], spans_of[ref.setting]
            r.notes_identical_to_torch_fp32 = sum(
                sorted(map(tuple, mine[d.id])) == sorted(map(tuple, theirs[d.id])) for d in gold)
        if pipe:
            r.speedup_vs_pipeline = round(pipe.seconds / r.seconds, 2)


def measure_backends(run_dir: str | Path, settings: list[BackendSetting], *,
                     data_dir: str | None = None, split: str = "test", passes: int = 2,
                     warmup: int = 4, latency_notes: int = 50, batch_size: int = 32,
                     window_merge: str = "central", device: str = "cpu",
                     show_progress: bool = True) -> dict:
    """Measure every setting on the run's ``split`` (see the module docstring). Returns the
    ``backends.json`` dict ``{"run", "split", "notes", "note_tokens", "max_seq_length",
    "doc_stride", "window_merge", "batch_size", "passes", "cpu_count", "rows": [BackendRow as
    dict]}``; a setting that fails has its ``error`` and null figures (the others still run)."""
    st, task, gold = run_gold(str(run_dir), data_dir, split)
    tok = AutoTokenizer.from_pretrained(run_dir)
    n_tokens = sum(len(ids) for ids in tok([d.text for d in gold], add_special_tokens=False,
                                            verbose=False)["input_ids"])
    base = {"run_dir": str(run_dir), "data_dir": data_dir, "split": split, "passes": passes,
            "warmup": warmup, "latency_notes": latency_notes, "batch_size": batch_size,
            "window_merge": window_merge, "device": device}
    rows: list[BackendRow] = []
    spans_of: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="backends-") as tmp:
        for s in progress(settings, enabled=show_progress, desc="backend settings",
                          unit="setting"):
            row = BackendRow(s.name, s.backend, s.precision, s.processes, s.threads,
                             notes=len(gold), note_tokens=n_tokens)
            rows.append(row)
            try:
                spans_of[s.name] = _fill_row(row, _run_setting(s, base, Path(tmp)), gold, task,
                                             n_tokens)
            except (RuntimeError, OSError) as exc:
                row.error = str(exc)[-500:]
    _compare_rows(rows, spans_of, gold)
    return {"run": str(run_dir), "split": split, "notes": len(gold), "note_tokens": n_tokens,
            "max_seq_length": st.max_seq_length, "doc_stride": st.doc_stride,
            "window_merge": window_merge, "batch_size": batch_size, "passes": passes,
            "cpu_count": os.cpu_count(), "rows": [asdict(r) for r in rows]}


#: Columns of backends.md: header -> BackendRow field.
COLUMNS = (("setting", "setting"), ("tokens/s", "tokens_per_s"), ("notes/s", "notes_per_s"),
           ("p50 ms", "latency_p50_ms"), ("p95 ms", "latency_p95_ms"), ("disk MB", "disk_mb"),
           ("peak MB", "peak_mem_mb"), ("strict F1", "strict_f1"),
           ("ΔF1 vs torch fp32", "f1_diff_vs_torch_fp32"),
           ("notes = torch fp32", "notes_identical_to_torch_fp32"),
           ("× torch fp32", "speedup_vs_torch_fp32"), ("× pipeline", "speedup_vs_pipeline"),
           ("max |Δlogit|", "max_abs_logit_diff"))


def _cell(key: str, v) -> str:
    if v is None:
        return MISSING
    if key == "max_abs_logit_diff":
        return f"{v:.2e}"
    return f"{v:+.4f}" if key == "f1_diff_vs_torch_fp32" else str(v)


def backends_markdown(result: dict) -> str:
    """The backend side by side (a ``backends.json`` dict) as Markdown: one line of settings,
    then a table (figures only, no note text)."""
    rows = [[r["setting"], f"failed: {r['error'][:120]}"] if r["error"]
            else [_cell(k, r[k]) for _, k in COLUMNS] for r in result["rows"]]
    lines = [f"# Inference backends on `{Path(result['run']).name}`", "",
             f"{result['notes']} whole {result['split']} notes ({result['note_tokens']} note "
             f"tokens), windows {result['max_seq_length']}/{result['doc_stride']}, batch "
             f"{result['batch_size']} windows, merge `{result['window_merge']}`, median of "
             f"{result['passes']} passes, {result['cpu_count']} CPU cores. Setting = "
             "backend:precision:processes x threads.", ""]
    return "\n".join(lines + markdown_table([c for c, _ in COLUMNS], rows)) + "\n"


def write_backends(result: dict, out_dir: str | Path) -> list[Path]:
    """Write ``backends.json``, ``backends.md`` and ``backends.png`` into ``out_dir``
    (atomically: temporary file, then rename). Returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_json_atomic(out_dir / "backends.json", result),
            write_text_atomic(out_dir / "backends.md", backends_markdown(result)),
            plot_backends(result, out_dir / "backends.png")]


def main(argv: list[str]) -> int:
    """``python -m clinical_ner.benchmark.backends SPEC.json OUT.json``: one worker."""
    out = worker(BackendSpec.from_json(Path(argv[0]).read_text()))
    Path(argv[1]).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
