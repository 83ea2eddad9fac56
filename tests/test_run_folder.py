"""RunFolder: the files of a run, read one way by every consumer."""

import dataclasses
import json

import pytest

from clinical_ner.documents import FormatError
from clinical_ner.run_folder import CorpusSettings, RunFolder, WindowSettings
from clinical_ner.training import DataArguments


def test_corpus_settings_defaults_are_the_training_defaults():
    train = DataArguments()
    for f in dataclasses.fields(CorpusSettings):
        assert getattr(CorpusSettings(), f.name) == getattr(train, f.name), f.name


def _run(tmp_path, **files):
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    return RunFolder(tmp_path)


def test_reads_settings_labels_and_window(tmp_path):
    run = _run(tmp_path, **{
        "config.json": {"id2label": {"1": "B-X", "0": "O", "2": "I-X"}},
        "clinical_ner.json": {"task": "concepts", "format": "brat", "max_seq_length": 128},
        "run_args.json": {"data": {"data_dir": "corpus", "split_seed": 7, "bootstrap": 5}},
    })
    assert run.is_model()
    assert run.label_names == ["O", "B-X", "I-X"]
    assert run.window == WindowSettings(128, 64)
    s = run.corpus_settings(discontinuous="split", split_seed=None)
    assert (s.task, s.format, s.data_dir, s.split_seed, s.discontinuous) == (
        "concepts", "brat", "corpus", 7, "split")
    assert run.metrics == {} and run.args_block("training") == {}


def test_a_file_that_is_not_json_is_named(tmp_path):
    (tmp_path / "clinical_ner.json").write_text("{", encoding="utf-8")
    with pytest.raises(FormatError, match="clinical_ner.json"):
        _ = RunFolder(tmp_path).settings


def test_write_run_round_trips(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.write_run(run_args={"data": {}}, settings={"task": "phi"}, train_results={"x": 1},
                  metrics={"split": "test"}, dev_metrics={"split": "dev"})
    assert run.settings == {"task": "phi"} and run.dev_metrics == {"split": "dev"}
    assert set(run.finished_files()) == {"metrics.json", "dev_metrics.json",
                                         "train_results.json"}
