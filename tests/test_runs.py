"""Runs are never lost, arguments are checked before the model loads, and training is
reproducible and resumable (issue 11, points 4-6).

Tiny random DistilBERT (dim 32, 2 layers) on 8/3/3 notes of the made-up demo corpus; each
training run takes a few seconds on 2 CPU cores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import train_ner
from tests.conftest import ROOT

#: Run-dependent timings left out when two runs' outputs are compared.
TIMINGS = ("inference_seconds",)


def train_argv(base, data, out, *extra) -> list[str]:
    """train_ner.py arguments of a 16-step run with dev selection and a checkpoint every 4
    steps, half the entity-free windows drawn afresh each epoch (an epoch is 9 steps: 60
    windows with an entity + 12 of the 25 without, batch 8)."""
    return ["--model_name_or_path", str(base), "--data_dir", str(data), "--output_dir", str(out),
            "--max_steps", "16", "--per_device_train_batch_size", "8", "--max_seq_length", "64",
            "--doc_stride", "16", "--bootstrap", "20", "--disable_tqdm", "true",
            "--logging_steps", "2", "--eval_strategy", "steps", "--eval_steps", "4",
            "--save_strategy", "steps", "--save_steps", "4", "--negative_window_keep", "0.5",
            "--learning_rate", "1e-3", "--report_to", "none", *map(str, extra)]


def read_json(path: Path) -> dict:
    out = json.loads(path.read_text())
    for k in TIMINGS:
        out.pop(k, None)
    return out


def losses(checkpoint: Path) -> list:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return [(h["step"], h.get("loss"), h.get("eval_strict_f1")) for h in state["log_history"]]


def weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(path / "model.safetensors")


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, tiny_base_model, small_corpus) -> Path:
    """The uninterrupted run (seed 42) the reproducibility and resume tests compare with."""
    out = tmp_path_factory.mktemp("reference_run") / "run"
    assert train_ner.main(train_argv(tiny_base_model, small_corpus, out)) == 0
    return out


# ------------------------------------------------------------------------ refusals (points 4, 5)


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if a model (weights) is loaded."""
    from transformers import AutoModelForTokenClassification

    import clinical_ner.models

    def boom(*a, **k):
        raise AssertionError("a model was loaded before the arguments were checked")

    monkeypatch.setattr(clinical_ner.models, "load_pretrained", boom)
    monkeypatch.setattr(AutoModelForTokenClassification, "from_pretrained", boom)


def refuse(capsys, argv) -> str:
    """Run train_ner.py in-process; assert exit 2 and one stderr line; return that line."""
    assert train_ner.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("train_ner.py: error: "), err
    return err[0].removeprefix("train_ner.py: error: ")


def test_argument_refusals_before_model_load(tmp_path, capsys, no_model_load, tiny_base_model,
                                             small_corpus):
    out = tmp_path / "run"
    args = lambda *extra: train_argv(tiny_base_model, small_corpus, out, *extra)  # noqa: E731
    msg = refuse(capsys, args("--model_name_or_path", "minlm"))
    assert msg == ("unknown model alias 'minlm' (aliases: distilbert, bert, biobert, "
                   "clinicalbert, minilm; closest: minilm); a local model folder or a Hub id "
                   "ORG/NAME also works")
    assert refuse(capsys, args("--model_name_or_path", "./no/such/dir")) == \
        "--model_name_or_path ./no/such/dir: no such model folder"
    assert refuse(capsys, args("--max_seq_length", "1024")) == (
        f"--max_seq_length 1024 is above the 512 position embeddings of model "
        f"{tiny_base_model} (max_position_embeddings in its config.json); use "
        "--max_seq_length 512 or less")
    assert refuse(capsys, args("--doc_stride", "62")) == (
        "--doc_stride 62 must be >= 0 and below the window content of 62 sub-tokens "
        "(--max_seq_length 64 minus 2 special tokens)")
    msg = refuse(capsys, args("--task", "phy"))
    assert msg.startswith("--task: unknown task 'phy' (known: phi, concepts, medications")
    assert msg.endswith("; closest: phi")
    msg = refuse(capsys, args("--format", "i2b2_2015"))
    assert msg.startswith("unknown --format 'i2b2_2015' (known: brat, conll, i2b2_2006")
    assert msg.endswith("; closest: i2b2_2014)")
    assert refuse(capsys, args("--metric_for_best_model", "strict_f2")) == (
        "unknown --metric_for_best_model 'strict_f2' (known: strict_f1, strict_precision, "
        "strict_recall; closest: strict_f1)")
    label_map = tmp_path / "map.yaml"
    label_map.write_text("map:\n  Disease_disorder: problem\n  Medication: treatment\n")
    msg = refuse(capsys, args("--task", label_map))
    assert msg.startswith(f"label map {label_map}: none of its keys (Disease_disorder, "
                          f"Medication) is a label of the corpus {small_corpus} (its labels: ")
    assert "NAME/DOCTOR" in msg and "DATE/DATE" in msg
    assert not out.exists() or not any(out.iterdir())  # nothing written


def test_output_dir_refusals(tmp_path, capsys, no_model_load, tiny_base_model, small_corpus):
    args = lambda out, *extra: train_argv(tiny_base_model, small_corpus, out, *extra)  # noqa
    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "metrics.json").write_text("{}")
    (finished / "model.safetensors").write_text("weights")
    assert refuse(capsys, args(finished)) == (
        f"--output_dir {finished} holds a finished run (metrics.json, model.safetensors): give "
        "--overwrite_output_dir true to replace it, --resume_from_checkpoint last to continue "
        "it, or another --output_dir")
    killed = tmp_path / "killed"
    (killed / "checkpoint-4").mkdir(parents=True)
    (killed / "checkpoint-8").mkdir()
    assert refuse(capsys, args(killed)) == (
        f"--output_dir {killed} holds 2 checkpoints (checkpoint-4, checkpoint-8): give "
        "--overwrite_output_dir true to replace it, --resume_from_checkpoint last to continue "
        "it, or another --output_dir")
    # checkpoint-8 is incomplete (killed while writing): nothing to resume
    assert refuse(capsys, args(killed, "--resume_from_checkpoint", "last")) == (
        f"--resume_from_checkpoint last: {killed} holds no complete checkpoint "
        "(checkpoint-<step>/trainer_state.json)")
    assert refuse(capsys, args(killed, "--resume_from_checkpoint", killed / "checkpoint-8")) == (
        f"--resume_from_checkpoint {killed / 'checkpoint-8'}: not a checkpoint folder (no "
        "trainer_state.json)")
    (tmp_path / "afile").write_text("a regular file")
    bad = tmp_path / "afile" / "out"
    assert refuse(capsys, args(bad)) == (
        f"output folder {bad} is not writable (Not a directory); choose another folder")
    assert sorted(p.name for p in finished.iterdir()) == ["metrics.json", "model.safetensors"]
    assert sorted(p.name for p in killed.iterdir()) == ["checkpoint-4", "checkpoint-8"]


def test_refusal_is_one_line_without_traceback(tmp_path, tiny_base_model, small_corpus):
    proc = subprocess.run(
        [sys.executable, "train_ner.py",
         *train_argv(tiny_base_model, small_corpus, tmp_path / "run", "--doc_stride", "99")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "train_ner.py: error: --doc_stride 99 must be >= 0 and below the window content of 62 "
        "sub-tokens (--max_seq_length 64 minus 2 special tokens)")


# ------------------------------------------------------------ reproducible, resumable (point 6)


def test_same_seed_same_metrics_and_overwrite(reference_run, tmp_path, tiny_base_model,
                                              small_corpus):
    """A second run with the same seed, into a copy of the finished run's folder with
    --overwrite_output_dir: identical metrics (all but timings), dev metrics, losses and
    weights; the old checkpoints are removed first (rewritten, not mixed)."""
    out = tmp_path / "run"
    shutil.copytree(reference_run, out)
    (out / "checkpoint-999").mkdir()  # a stale checkpoint of the old run
    assert train_ner.main(train_argv(tiny_base_model, small_corpus, out,
                                     "--overwrite_output_dir", "true")) == 0
    assert not (out / "checkpoint-999").exists()
    for name in ("metrics.json", "dev_metrics.json"):
        assert read_json(out / name) == read_json(reference_run / name), name
    assert losses(out / "checkpoint-16") == losses(reference_run / "checkpoint-16")
    assert same_weights(out, reference_run)
    assert read_json(out / "metrics.json")["documents"] == 3


KILLER = """
import os, signal, sys
from transformers import TrainerCallback
import clinical_ner.training as training
import train_ner

class KillAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= {step}:  # the checkpoint is complete: on_save comes after it
            os.kill(os.getpid(), signal.SIGKILL)

real_train = training.train
train_ner.train = lambda *a, **k: real_train(*a, callbacks=[KillAfterSave()], **k)
sys.exit(train_ner.main(sys.argv[1:]))
"""


def test_killed_run_resumes_to_the_same_end(reference_run, tmp_path, tiny_base_model,
                                            small_corpus):
    """SIGKILL right after the step-12 checkpoint (mid second epoch of the window sampler),
    then --resume_from_checkpoint last: same metrics, dev metrics, best checkpoint, losses and
    final weights as the uninterrupted run; the checkpoints written before the kill are kept."""
    out = tmp_path / "run"
    argv = train_argv(tiny_base_model, small_corpus, out)
    script = tmp_path / "killer.py"
    script.write_text(KILLER.format(step=12))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script), *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    kept = {p.name: (p / "model.safetensors").stat().st_mtime_ns for p in out.glob("checkpoint-*")}
    assert "checkpoint-12" in kept and len(kept) == 2  # save_total_limit 2: best and last
    assert not (out / "metrics.json").exists()
    assert train_ner.main(argv + ["--resume_from_checkpoint", "last"]) == 0
    for name in ("metrics.json", "dev_metrics.json"):
        assert read_json(out / name) == read_json(reference_run / name), name
    res, ref = (read_json(d / "train_results.json") for d in (out, reference_run))
    assert Path(res["best_checkpoint"]).name == Path(ref["best_checkpoint"]).name
    assert res["best_dev_strict_f1"] == ref["best_dev_strict_f1"]
    assert res["global_steps"] == ref["global_steps"] == 16
    assert res["resumed_from"] == "checkpoint-12" and ref["resumed_from"] is None
    assert losses(out / "checkpoint-16") == losses(reference_run / "checkpoint-16")
    assert same_weights(out / "checkpoint-16", reference_run / "checkpoint-16")
    assert same_weights(out, reference_run)
    # not restarted at step 1: the pre-kill checkpoints still there were not rewritten
    for name, mtime in kept.items():
        if (out / name).exists():
            assert (out / name / "model.safetensors").stat().st_mtime_ns == mtime, name


def test_sampler_set_epoch_draws_the_epoch():
    from clinical_ner.training import NegativeSubsampler

    has = [i % 3 == 0 for i in range(30)]
    a, b = NegativeSubsampler(has, 0.5, seed=7), NegativeSubsampler(has, 0.5, seed=7)
    epochs = [list(a) for _ in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]
    b.set_epoch(2)  # a resumed run: the Trainer sets the epoch before iterating
    assert list(b) == epochs[2]
    b.set_epoch(1)
    assert list(b) == epochs[1]
