"""eval_ner.py never mixes two evaluations in one folder and never writes into a model folder
(issue 11, point 4)."""

from __future__ import annotations

import json

import eval_ner
from tests.conftest import DEMO


def run(*argv) -> int:
    return eval_ner.main([str(a) for a in argv])


def test_earlier_outputs_removed_user_files_kept(tmp_path, tiny_phi_run, capsys):
    out = tmp_path / "eval"
    common = ("--model", tiny_phi_run, "--data_dir", DEMO, "--split", "dev", "--bootstrap", 0,
              "--output_dir", out)
    assert run(*common, "--write_predictions") == 0
    first = {p.name for p in out.iterdir()}
    assert {"metrics.json", "report.md", "errors.local.jsonl", "errors.local.md",
            "confusion.json", "confusion.png", "load_report.json", "predictions"} <= first
    (out / "my_notes.txt").write_text("mine")
    (out / "old").mkdir()
    (out / "old" / "metrics.json").write_text("{}")  # not an output of this folder: kept
    assert run(*common, "--write_errors", "false") == 0
    now = {p.name for p in out.iterdir()}
    # the earlier run's error files and predictions are gone: no mix of two runs
    assert not {"errors.local.jsonl", "errors.local.md", "predictions"} & now
    assert {"metrics.json", "report.md", "my_notes.txt", "old"} <= now
    assert ".earlier_eval" not in now  # set aside during the rerun, deleted once it is written
    assert (out / "my_notes.txt").read_text() == "mine"
    assert (out / "old" / "metrics.json").read_text() == "{}"
    assert json.loads((out / "metrics.json").read_text())["split"] == "dev"


def test_failed_rerun_puts_the_earlier_outputs_back(tmp_path, tiny_phi_run, capsys,
                                                   monkeypatch):
    import clinical_ner.evaluation as evaluation
    from clinical_ner.documents import FormatError

    out = tmp_path / "eval"
    common = ("--model", tiny_phi_run, "--data_dir", DEMO, "--split", "dev", "--bootstrap", 0,
              "--output_dir", out)
    assert run(*common, "--write_predictions") == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def fail(*a, **k):
        (out / "metrics.json").write_text("half written")  # a partial output of the rerun
        raise FormatError("note 7: bad offset 12")

    monkeypatch.setattr(evaluation, "_evaluate_and_write", fail)
    assert run(*common) == 2
    assert "note 7: bad offset 12" in capsys.readouterr().err
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # nothing of the earlier evaluation is lost, nothing half-new kept
    # a folder left by a killed rerun is named, not overwritten
    (out / ".earlier_eval").mkdir()
    monkeypatch.undo()
    assert run(*common) == 2
    assert ".earlier_eval holds the outputs of an earlier evaluation" in capsys.readouterr().err


def test_model_folder_and_foreign_predictions_refused(tmp_path, tiny_phi_run, capsys):
    before = sorted(p.name for p in tiny_phi_run.iterdir())
    assert run("--model", tiny_phi_run, "--data_dir", DEMO, "--output_dir", tiny_phi_run) == 2
    assert capsys.readouterr().err.strip() == (
        f"eval_ner.py: error: --output_dir {tiny_phi_run} holds a model or training run "
        "(config.json, model.safetensors, run_args.json, train_results.json): eval_ner.py never "
        f"writes into it; use a folder of its own, e.g. {tiny_phi_run / 'eval_test'}")
    assert sorted(p.name for p in tiny_phi_run.iterdir()) == before
    out = tmp_path / "eval"
    (out / "predictions").mkdir(parents=True)
    (out / "predictions" / "keep.csv").write_text("user data")
    (out / "metrics.json").write_text("{}")
    assert run("--gold", DEMO / "test", "--pred", DEMO / "test", "--output_dir", out) == 2
    assert capsys.readouterr().err.strip() == (
        f"eval_ner.py: error: --output_dir {out}: {out / 'predictions'} holds files eval_ner.py "
        "did not write (e.g. keep.csv); move them or use another folder")
    assert (out / "predictions" / "keep.csv").exists() and (out / "metrics.json").exists()


def test_unwritable_output_dir_refused_before_scoring(tmp_path, capsys, monkeypatch):
    import clinical_ner.evaluation as evaluation

    monkeypatch.setattr(evaluation, "evaluate_folders", lambda *a: (_ for _ in ()).throw(
        AssertionError("scored before the output folder was checked")))
    (tmp_path / "afile").write_text("x")
    bad = tmp_path / "afile" / "out"
    assert run("--gold", DEMO / "test", "--pred", DEMO / "test", "--output_dir", bad) == 2
    assert capsys.readouterr().err.strip() == (
        f"eval_ner.py: error: output folder {bad} is not writable (Not a directory); choose "
        "another folder")
