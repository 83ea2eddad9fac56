"""Two processes, same answer (issue 11, point 7): ``ACCELERATE_USE_CPU=true accelerate launch
--config_file accelerate_configs/cpu_2proc.yaml`` (two CPU processes, gloo) shards the notes
across processes, gathers every note exactly once and gives the metrics of one process;
training runs to the end and saves one model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import eval_ner
from clinical_ner.inference import shard_indices
from clinical_ner.prediction import chunk_owner
from tests.conftest import ROOT
from tests.test_runs import read_json, train_argv

ACCELERATE = Path(sys.executable).parent / "accelerate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch2(*argv, timeout=300) -> subprocess.CompletedProcess:
    """Two CPU processes (gloo) of a script with arguments, through ``accelerate launch``."""
    # accelerate 1.16: `launch --cpu --num_processes 2` starts ONE process unless mpirun is set
    # up (its simple launcher); accelerate_configs/cpu_2proc.yaml goes through
    # torch.distributed.run, and ACCELERATE_USE_CPU makes the processes one gloo group on CPU
    cmd = [str(ACCELERATE), "launch", "--config_file", str(ROOT / "accelerate_configs" /
                                                          "cpu_2proc.yaml"),
           "--main_process_port", str(free_port()), *map(str, argv)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "ACCELERATE_USE_CPU": "true"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def comparable(metrics: dict) -> dict:
    """metrics.json without its timings (inference_seconds, model load_seconds)."""
    metrics = dict(metrics)
    metrics.pop("inference_seconds", None)
    ev = dict(metrics.get("evaluation", {}))
    if "backend" in ev:
        ev["backend"] = {k: v for k, v in ev["backend"].items() if k != "load_seconds"}
    metrics["evaluation"] = ev
    return metrics


def test_shards_cover_each_note_once():
    for n_items in (0, 1, 3, 7):
        shards = [shard_indices(n_items, 2, r) for r in range(2)]
        assert sorted(shards[0] + shards[1]) == list(range(n_items))
    assert shard_indices(3, 2, 0) == [0, 2] and shard_indices(3, 2, 1) == [1]
    # predict_ner.py: whole chunks, round robin; every note has exactly one owner
    owners = [chunk_owner(i, 3, 2) for i in range(10)]
    assert owners == [0, 0, 0, 1, 1, 1, 0, 0, 0, 1]
    assert [chunk_owner(i, 4, 3) for i in range(12)] == [0] * 4 + [1] * 4 + [2] * 4


def test_eval_two_processes_equals_one(tmp_path, tiny_phi_run, small_corpus):
    """3 test notes on 2 processes (an uneven 2 + 1 split): the same metrics.json."""
    common = ["--model", tiny_phi_run, "--data_dir", small_corpus, "--split", "test",
              "--bootstrap", "50"]
    assert eval_ner.main([str(a) for a in common + ["--output_dir", tmp_path / "one"]]) == 0
    proc = launch2("eval_ner.py", *common, "--output_dir", tmp_path / "two")
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert comparable(two) == comparable(one)
    assert two["documents"] == 3 and two["gold_spans"] == one["gold_spans"] > 0
    assert two["pred_spans"] == one["pred_spans"]
    assert "sharded prediction: 2 of 3 notes on process 0 of 2" in proc.stderr
    assert "sharded prediction: 1 of 3 notes on process 1 of 2" in proc.stderr
    assert proc.stdout.count("== scores ==") == 1  # printed (and written) by process 0 only


RECORDER = """
import json, os, sys
from transformers import TrainerCallback
import clinical_ner.training as training
import train_ner

class Record(TrainerCallback):
    def _write(self, args, record):
        path = os.path.join(args.output_dir, f"rank{args.process_index}.jsonl")
        with open(path, "a") as fh:
            fh.write(json.dumps(record) + "\\n")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._write(args, {"step": state.global_step, **{k: v for k, v in metrics.items()
                                                         if not k.endswith("runtime")}})

    def on_train_end(self, args, state, control, **kwargs):
        self._write(args, {"best": state.best_model_checkpoint, "best_metric": state.best_metric,
                           "world_size": args.world_size})

real_train = training.train
train_ner.train = lambda *a, **k: real_train(*a, callbacks=[Record()], **k)
sys.exit(train_ner.main(sys.argv[1:]))
"""


def test_train_two_processes(tmp_path, tiny_base_model, small_corpus):
    """Both processes see the same dev scores at every evaluation (so they choose the same
    checkpoint), the run ends at max_steps with one model, and its dev scores are those
    eval_ner.py computes for the saved model in one process."""
    out = tmp_path / "run"
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    launch2(script, *train_argv(tiny_base_model, small_corpus, out))
    ranks = [[json.loads(line) for line in (out / f"rank{r}.jsonl").read_text().splitlines()]
             for r in range(2)]
    assert ranks[0] == ranks[1]
    assert [r["step"] for r in ranks[0][:-1]] == [4, 8, 12, 16]
    assert ranks[0][-1]["world_size"] == 2 and ranks[0][-1]["best"]
    assert len(list(out.glob("*.safetensors"))) == 1
    res = json.loads((out / "train_results.json").read_text())
    assert res["global_steps"] == 16
    assert res["best_dev_strict_f1"] == ranks[0][-1]["best_metric"]
    dev = read_json(out / "dev_metrics.json")
    assert read_json(out / "metrics.json")["documents"] == 3 == dev["documents"]
    ev = tmp_path / "eval_dev"
    assert eval_ner.main([str(a) for a in ("--model", out, "--split", "dev", "--bootstrap", 20,
                                           "--seed", 42, "--output_dir", ev)]) == 0
    one = read_json(ev / "metrics.json")
    measures = [k for k in dev if isinstance(dev[k], dict) and "micro" in dev[k]]
    assert measures and all(dev[m] == one[m] for m in measures)
    assert dev["pred_spans"] == one["pred_spans"]


# ------------------------------------------------------------------ predict_ner.py sharded

TIMINGS = ("seconds", "notes_per_second", "inference_seconds", "inference_seconds_per_process",
           "peak_rss_mb", "peak_rss_mb_per_process", "processes")


def comparable_summary(summary: dict) -> dict:
    """summary.json without timings, memory, the process count and the thread setting."""
    out = {k: v for k, v in summary.items() if k not in TIMINGS}
    out["backend"] = {k: v for k, v in out["backend"].items()
                      if k not in ("load_seconds", "threads")}
    return out


def outputs(out: Path) -> dict:
    """Every output file of a predict_ner.py run, as bytes (summary.json: comparable part)."""
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file() and p.name != "summary.json"}
    return {"files": files,
            "summary": comparable_summary(json.loads((out / "summary.json").read_text()))}


def demo_jsonl(path: Path, bad_line: bool = True) -> Path:
    """The 20 demo test notes as JSONL with their gold spans (patients 042, 051, ... have
    several notes each, so one patient's notes land on both processes), plus a bad line."""
    from clinical_ner.documents import LoadReport
    from data_scripts import i2b2_2014
    from tests.conftest import DEMO

    docs = i2b2_2014.read_folder(DEMO / "test", LoadReport("i2b2_2014"))
    lines = [json.dumps(d.to_json()) for d in docs]
    if bad_line:
        lines.insert(5, "{not json")
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return path


def predict_argv(run, src, out, *extra):
    return ["--model", run, "--input", src, "--format", "jsonl", "--output_dir", out,
            "--redact", "surrogate", "--surrogate_key", "K", "--threshold", 0.99, "--gold",
            "--on_error", "skip", "--chunk_size", 3, "--disable_tqdm", "true", *extra]


def test_predict_two_processes_equals_one(tmp_path, tiny_phi_run):
    """predict_ner.py on 2 processes: predictions.jsonl, deid/, surrogates.local.jsonl and the
    counts of summary.json (leak report, surrogate counts, the skipped bad line) equal the
    1-process run byte for byte; each note is predicted by one process."""
    import shutil

    import predict_ner

    run = tmp_path / "run"  # its own copy: the ONNX export is written into it
    shutil.copytree(tiny_phi_run, run, ignore=shutil.ignore_patterns("checkpoint-*"))
    src = demo_jsonl(tmp_path / "notes.jsonl")
    # int8: activations are quantized per batch, so equal spans need the same batches (chunks)
    onnx = ("--backend", "onnx", "--precision", "int8", "--threads_per_process", 1)
    # 2 processes first: both want the ONNX export, the first makes it (a lock), both use it
    proc = launch2("predict_ner.py", *predict_argv(run, src, tmp_path / "two", *onnx))
    assert predict_ner.main([str(a) for a in predict_argv(run, src, tmp_path / "one",
                                                          *onnx)]) == 0
    one, two = outputs(tmp_path / "one"), outputs(tmp_path / "two")
    assert two["files"].keys() == one["files"].keys() == {
        "predictions.jsonl", "deid/notes.jsonl", "surrogates.local.jsonl"}  # parts merged
    for name in one["files"]:
        assert two["files"][name] == one["files"][name], name
    assert two["summary"] == one["summary"]
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["notes"] == 20 and summary["skipped_notes"] == 1 and summary["processes"] == 2
    assert len(summary["inference_seconds_per_process"]) == 2
    assert summary["backend"]["threads"] == max(1, (os.cpu_count() or 1) // 2)
    assert "process 0 of 2: every 2-th chunk of 3 notes" in proc.stderr
    assert proc.stdout.count("summary in") == 1  # printed by the main process only


DYING = """
import sys
import clinical_ner.prediction as prediction
import predict_ner

real, calls = prediction._append, []

def dying_append(path, lines):
    if path.name.endswith("r001.predictions.jsonl"):
        calls.append(1)
        if len(calls) == 2:  # process 1 is killed while writing its second chunk
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(lines[0][:10])
            raise SystemExit(9)
    real(path, lines)

prediction._append = dying_append
sys.exit(predict_ner.main(sys.argv[1:]))
"""


def test_killed_two_process_run_resumes_every_note_once(tmp_path, tiny_phi_run):
    """A 2-process run killed midway leaves its part files; a 1-process rerun counts their
    notes as done, predicts the rest and merges: the outputs equal an uninterrupted run."""
    import predict_ner

    src = demo_jsonl(tmp_path / "notes.jsonl", bad_line=False)
    script = tmp_path / "dying.py"
    script.write_text(DYING)
    out = tmp_path / "out"
    cmd = [str(ACCELERATE), "launch", "--config_file", str(ROOT / "accelerate_configs" /
                                                          "cpu_2proc.yaml"),
           "--main_process_port", str(free_port()), str(script),
           *map(str, predict_argv(tiny_phi_run, src, out))]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "ACCELERATE_USE_CPU": "true"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    parts = sorted(p.name for p in (out / "parts").iterdir())
    assert "g001.r001.predictions.jsonl" in parts and "g001.r001.deid.notes.jsonl" in parts
    assert predict_ner.main([str(a) for a in predict_argv(tiny_phi_run, src, out)]) == 0
    assert not list((out / "parts").iterdir())
    fresh = tmp_path / "fresh"
    assert predict_ner.main([str(a) for a in predict_argv(tiny_phi_run, src, fresh)]) == 0
    got, want = outputs(out), outputs(fresh)
    assert got["files"] == want["files"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["notes"] + summary["notes_already_done"] == 20
    assert summary["notes_already_done"] >= 3  # process 1's first chunk (and process 0's)


def test_surrogates_on_two_processes_need_a_given_key(tmp_path, tiny_phi_run, monkeypatch,
                                                      capsys):
    """--redact surrogate without a key on several processes is refused before any output."""
    import types

    import clinical_ner.inference as inference
    import predict_ner

    monkeypatch.delenv("CLINICAL_NER_SURROGATE_KEY", raising=False)
    monkeypatch.setattr(inference, "process_state", lambda: types.SimpleNamespace(
        num_processes=2, process_index=0, is_main_process=True))
    src = demo_jsonl(tmp_path / "notes.jsonl", bad_line=False)
    argv = [a for a in predict_argv(tiny_phi_run, src, tmp_path / "out")]
    i = argv.index("--surrogate_key")
    del argv[i:i + 2]
    assert predict_ner.main([str(a) for a in argv]) == 2
    assert "--redact surrogate on 2 processes needs --surrogate_key" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
