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
