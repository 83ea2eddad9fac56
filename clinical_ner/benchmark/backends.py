"""Inference backends side by side on one finished run (``benchmark.py --backends ...``).

For each setting (``torch:fp32``, ``torch:int8``, ``onnx:fp32``, ``onnx:int8``, ``pipeline:fp32``
= ``transformers.pipeline("token-classification", aggregation_strategy="first", stride=)`` note
by note, and any of them as ``N x T`` processes x threads, e.g. ``onnx:int8:2x1``) the whole
notes of one split are predicted in fresh worker subprocesses (``python -m
clinical_ner.backend_benchmark SPEC OUT``), so each peak memory is the worker's own. A
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
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clinical_ner.files import write_json_atomic, write_text_atomic

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
    from clinical_ner.backends import BACKENDS, PRECISIONS

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


def _gold(run_dir: str, data_dir: str | None, split: str):
    from clinical_ner.evaluation import EvalArguments, model_settings
    from clinical_ner.tasks import get_task
    from clinical_ner.training import load_scoring_documents

    st = model_settings(EvalArguments(model=run_dir, data_dir=data_dir or None))
    task = get_task(st.task, st.format, st.label_granularity)
    docs, _ = load_scoring_documents(st, task)
    if not docs.get(split):
        raise ValueError(f"{st.data_dir}: the {split} split is empty or missing")
    return st, task, docs[split]


def _predictor(spec: dict, st, task):
    """A function texts -> spans per note, and the backend info (dict)."""
    from transformers import AutoTokenizer

    from clinical_ner.inference import predict_documents

    run = spec["run_dir"]
    tokenizer = AutoTokenizer.from_pretrained(run)
    if spec["backend"] == "pipeline":
        import torch
        from transformers import AutoModelForTokenClassification, pipeline

        from clinical_ner.documents import Span

        torch.set_num_threads(spec["threads"])
        model = AutoModelForTokenClassification.from_pretrained(run).eval()
        tokenizer.model_max_length = st.max_seq_length
        ner = pipeline("token-classification", model=model, tokenizer=tokenizer,
                       aggregation_strategy="first", stride=st.doc_stride, device="cpu")
        lab = task.scheme.span_label_of

        def run_texts(texts):
            return [[Span(int(e["start"]), int(e["end"]), lab(e["entity_group"]))
                     for e in ner(t) if int(e["end"]) > int(e["start"])] for t in texts]

        size = (Path(run) / "model.safetensors").stat().st_size
        return run_texts, {"model_files": {"model.safetensors": size}}
    from clinical_ner.backends import load_inference_model

    device = {"fp16": "cuda", "bf16": "cuda", "int8": "cpu"}.get(spec["precision"],
                                                                spec.get("device", "cpu"))
    model, info = load_inference_model(run, backend=spec["backend"],
                                       precision=spec["precision"], device=device,
                                       threads=spec["threads"])
    id2label = {int(k): v for k, v in model.config.id2label.items()}

    def run_texts(texts):
        return predict_documents(model, tokenizer, texts, id2label,
                                 max_seq_length=st.max_seq_length, doc_stride=st.doc_stride,
                                 batch_size=spec["batch_size"],
                                 span_label_of=task.scheme.span_label_of,
                                 window_merge=spec["window_merge"])

    return run_texts, info.to_json()


def _barrier(spec: dict) -> None:
    d = spec.get("barrier_dir")
    if not d:
        return
    Path(d, f"ready-{spec['shard']}").touch()
    deadline = time.time() + 600
    while len(list(Path(d).glob("ready-*"))) < spec["shards"]:
        if time.time() > deadline:
            raise TimeoutError("the other benchmark workers never became ready")
        time.sleep(0.01)


def worker(spec: dict) -> dict:
    """Measure one shard of one setting in this process (see the module docstring). Returns
    ``{"seconds": [wall per pass], "latency_ms": [...], "peak_mem_mb", "spans": per note
    [[start, end, label]], "ids", "info"}``."""
    st, task, gold = _gold(spec["run_dir"], spec.get("data_dir"), spec["split"])
    notes = gold[spec["shard"]::spec["shards"]]
    texts = [d.text for d in notes]
    run_texts, info = _predictor(spec, st, task)
    run_texts(texts[: spec["warmup"]])
    _barrier(spec)
    seconds, spans = [], None
    for _ in range(spec["passes"]):
        t0 = time.perf_counter()
        spans = run_texts(texts)
        seconds.append(time.perf_counter() - t0)
    latency = []
    if spec["latency_notes"] and spec["shards"] == 1:
        step = max(1, len(texts) // spec["latency_notes"])
        for t in texts[::step][: spec["latency_notes"]]:
            t0 = time.perf_counter()
            run_texts([t])
            latency.append((time.perf_counter() - t0) * 1000)
    return {"seconds": seconds, "latency_ms": latency, "ids": [d.id for d in notes],
            "spans": [[[s.start, s.end, s.label] for s in sp] for sp in spans],
            "peak_mem_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "info": info}


# ------------------------------------------------------------------------------------ the parent


def _run_setting(setting: BackendSetting, base: dict, tmp: Path) -> list[dict]:
    """Run the workers of one setting concurrently; returns their results (raises on failure,
    with the tail of the worker's log)."""
    barrier = tmp / f"barrier-{setting.name.replace(':', '_')}"
    barrier.mkdir()
    procs = []
    for k in range(setting.processes):
        spec = dict(base, backend=setting.backend, precision=setting.precision,
                    threads=setting.threads, shard=k, shards=setting.processes,
                    barrier_dir=str(barrier) if setting.processes > 1 else None)
        sp, out, log = (tmp / f"{barrier.name}-{k}.{x}" for x in ("spec.json", "out.json", "log"))
        sp.write_text(json.dumps(spec))
        env = dict(os.environ, OMP_NUM_THREADS=str(setting.threads))
        with log.open("w") as fh:
            procs.append((subprocess.Popen([sys.executable, "-m", "clinical_ner.backend_benchmark",
                                            str(sp), str(out)], stdout=fh, stderr=subprocess.STDOUT,
                                           env=env), out, log))
    results = []
    for proc, out, log in procs:
        if proc.wait() != 0 or not out.is_file():
            raise RuntimeError(f"{setting.name}: worker failed: "
                               + " | ".join(log.read_text().strip().splitlines()[-3:]))
        results.append(json.loads(out.read_text()))
    return results


def measure_backends(run_dir: str | Path, settings: list[BackendSetting], *,
                     data_dir: str | None = None, split: str = "test", passes: int = 2,
                     warmup: int = 4, latency_notes: int = 50, batch_size: int = 32,
                     window_merge: str = "central", device: str = "cpu") -> dict:
    """Measure every setting on the run's ``split`` (see the module docstring). Returns
    ``{"run", "split", "notes", "note_tokens", "rows": [BackendRow as dict], ...}``; a setting
    that fails has its ``error`` and null figures (the others still run)."""
    from transformers import AutoTokenizer

    from clinical_ner.benchmarking import percentile
    from clinical_ner.documents import Document, Span
    from clinical_ner.evaluation import score_documents

    st, task, gold = _gold(str(run_dir), data_dir, split)
    tok = AutoTokenizer.from_pretrained(run_dir)
    lengths = [len(ids) for ids in tok([d.text for d in gold], add_special_tokens=False,
                                       verbose=False)["input_ids"]]
    n_tokens = sum(lengths)
    base = {"run_dir": str(run_dir), "data_dir": data_dir, "split": split, "passes": passes,
            "warmup": warmup, "latency_notes": latency_notes, "batch_size": batch_size,
            "window_merge": window_merge, "device": device}
    rows: list[BackendRow] = []
    spans_of: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="backends-") as tmp:
        for s in settings:
            row = BackendRow(s.name, s.backend, s.precision, s.processes, s.threads,
                             notes=len(gold), note_tokens=n_tokens)
            rows.append(row)
            try:
                res = _run_setting(s, base, Path(tmp))
            except (RuntimeError, OSError) as exc:
                row.error = str(exc)[-500:]
                continue
            import numpy as np

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
            spans_of[s.name] = by_id
            preds = [Document(d.id, d.text, tuple(sorted(Span(a, b, c) for a, b, c in
                                                         by_id[d.id]))) for d in gold]
            m = score_documents(gold, preds, task.metric_scheme)
            row.strict_f1 = round(m["strict"]["micro"]["f1"], 4)
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
    return {"run": str(run_dir), "split": split, "notes": len(gold), "note_tokens": n_tokens,
            "max_seq_length": st.max_seq_length, "doc_stride": st.doc_stride,
            "window_merge": window_merge, "batch_size": batch_size, "passes": passes,
            "cpu_count": os.cpu_count(), "rows": [asdict(r) for r in rows]}


def backends_markdown(result: dict) -> str:
    """The backend side by side as a Markdown table (figures only, no note text)."""
    cols = [("setting", "setting"), ("tokens/s", "tokens_per_s"), ("notes/s", "notes_per_s"),
            ("p50 ms", "latency_p50_ms"), ("p95 ms", "latency_p95_ms"), ("disk MB", "disk_mb"),
            ("peak MB", "peak_mem_mb"), ("strict F1", "strict_f1"),
            ("ΔF1 vs torch fp32", "f1_diff_vs_torch_fp32"),
            ("notes = torch fp32", "notes_identical_to_torch_fp32"),
            ("× torch fp32", "speedup_vs_torch_fp32"), ("× pipeline", "speedup_vs_pipeline"),
            ("max |Δlogit|", "max_abs_logit_diff")]
    lines = [f"# Inference backends on `{Path(result['run']).name}`", "",
             f"{result['notes']} whole {result['split']} notes ({result['note_tokens']} note "
             f"tokens), windows {result['max_seq_length']}/{result['doc_stride']}, batch "
             f"{result['batch_size']} windows, merge `{result['window_merge']}`, median of "
             f"{result['passes']} passes, {result['cpu_count']} CPU cores. Setting = "
             "backend:precision:processes x threads.", "",
             "| " + " | ".join(c for c, _ in cols) + " |",
             "|" + "---|" * len(cols)]
    for r in result["rows"]:
        if r["error"]:
            lines.append(f"| {r['setting']} | failed: {r['error'][:120]} |")
            continue
        vals = []
        for _, k in cols:
            v = r[k]
            vals.append("–" if v is None else f"{v:.2e}" if k == "max_abs_logit_diff"
                        else f"{v:+.4f}" if k == "f1_diff_vs_torch_fp32" else str(v))
        lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def plot_backends(result: dict, path: str | Path) -> Path:
    """Bar chart of tokens/s per setting (``path``, PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if not r["error"]]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.barh([r["setting"] for r in rows], [r["tokens_per_s"] for r in rows], color="#4c72b0")
    for i, r in enumerate(rows):
        ax.text(r["tokens_per_s"], i, f" {r['tokens_per_s']:.0f} (F1 {r['strict_f1']:.3f})",
                va="center", fontsize=8)
    ax.set_xlabel("note tokens per second (whole notes)")
    ax.invert_yaxis()
    ax.set_title(f"Inference backends, {result['notes']} {result['split']} notes, "
                 f"{result['cpu_count']} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write_backends(result: dict, out_dir: str | Path) -> list[Path]:
    """Write ``backends.json``, ``backends.md`` and ``backends.png`` into ``out_dir``
    (atomically: temporary file, then rename). Returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    paths.append(write_json_atomic(out_dir / "backends.json", result))
    paths.append(write_text_atomic(out_dir / "backends.md", backends_markdown(result)))
    paths.append(plot_backends(result, out_dir / "backends.png"))
    return paths


if __name__ == "__main__":  # the worker: python -m clinical_ner.backend_benchmark SPEC OUT
    _spec = json.loads(Path(sys.argv[1]).read_text())
    _out = worker(_spec)
    Path(sys.argv[2]).write_text(json.dumps(_out))
