"""Publishing: the dry-run folder, every refusal on crafted folders, and the upload calls (HfApi
methods replaced in the test: no Hub is reachable)."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from pathlib import Path

import pytest
from conftest import DEMO, ROOT

from clinical_ner.hub import (
    PublishArguments,
    PublishError,
    check_publish_folder,
    claim_push,
    corpus_texts,
    main,
    publish,
    sanitize_training_args,
)

EXPECTED_FILES = ["README.md", "clinical_ner.json", "config.json", "metrics.json",
                  "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                  "training_args.json"]
FAKE_TOKEN = "hf_FAKEtestTOKEN0123456789abcdefABCDEF"


class HubCalls:
    """Replaces HfApi.create_repo / repo_info / upload_folder and records their arguments."""

    def __init__(self, monkeypatch, *, existing_private: bool | None = None):
        from huggingface_hub import HfApi

        self.calls: list[tuple[str, dict]] = []
        self.uploaded: dict[str, list[str]] = {}
        self.private: bool | None = existing_private

        def create_repo(api, repo_id, **kw):
            self.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
            if self.private is None:
                self.private = kw.get("private")
            return f"https://huggingface.co/{repo_id}"

        def repo_info(api, repo_id, **kw):
            self.calls.append(("repo_info", {"repo_id": repo_id, **kw}))
            return type("Info", (), {"private": self.private})()

        def upload_folder(api, *, repo_id, folder_path, **kw):
            self.calls.append(("upload_folder", {"repo_id": repo_id,
                                                 "folder_path": folder_path, **kw}))
            self.uploaded[repo_id] = sorted(p.name for p in Path(folder_path).iterdir())
            return type("Commit", (), {"commit_url": f"https://huggingface.co/{repo_id}/c/1"})()

        for name, fn in (("create_repo", create_repo), ("repo_info", repo_info),
                         ("upload_folder", upload_folder)):
            monkeypatch.setattr(HfApi, name, fn)

    def named(self, name):
        return [kw for n, kw in self.calls if n == name]


@pytest.fixture
def no_token(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "no-token"))


@pytest.fixture
def fake_token(monkeypatch, no_token):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    return FAKE_TOKEN


@pytest.fixture(scope="module")
def good_folder(tiny_phi_run, tmp_path_factory) -> Path:
    """A dry-run publish folder of the tiny run (license given: its base is a local folder)."""
    out = tmp_path_factory.mktemp("publish") / "tiny"
    res = publish(tiny_phi_run, "example/tiny-phi",
                  PublishArguments(dry_run=True, publish_dir=str(out), license="apache-2.0"))
    assert res.folder == out and res.url is None
    return out


def _all_text(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_dry_run_folder_loads_and_round_trips(good_folder, tiny_phi_run):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    assert sorted(p.name for p in good_folder.iterdir()) == EXPECTED_FILES
    model = AutoModelForTokenClassification.from_pretrained(good_folder)
    original = json.loads((tiny_phi_run / "config.json").read_text())["id2label"]
    assert {str(k): v for k, v in model.config.id2label.items()} == original
    tok = AutoTokenizer.from_pretrained(good_folder, model_max_length=64)
    ner = pipeline("token-classification", model=model, tokenizer=tok,
                   aggregation_strategy="first", stride=16)
    assert isinstance(ner("Seen on 03/14/2001 at Lakeside General . " * 20), list)
    card = ModelCard.load(good_folder / "README.md")
    metrics = json.loads((good_folder / "metrics.json").read_text())
    assert metrics == json.loads((tiny_phi_run / "metrics.json").read_text())
    assert len(card.data.eval_results) == 24
    _, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    assert {(r.dataset_config, r.metric_type): r.metric_value for r in results} == {
        (m, k): metrics[m]["micro"][k]
        for m in ("strict", "relaxed", "token", "hipaa_strict", "hipaa_relaxed", "hipaa_token",
                  "binary_strict", "binary_token") for k in ("f1", "precision", "recall")}
    args = json.loads((good_folder / "training_args.json").read_text())
    assert args["data"]["data_dir"] == "demo_i2b2_2014"
    assert args["training"]["output_dir"] == tiny_phi_run.name
    assert args["model"]["model_name_or_path"].startswith("tiny_base")
    run_args = {k: v for k, v in args.items() if k != "train_results"}
    assert not [k for k in json.dumps(run_args).split('"') if "token" in k.lower()]
    assert args["train_results"]["best_checkpoint"].startswith("checkpoint-")
    blob = _all_text(good_folder)
    assert str(tiny_phi_run).encode() not in blob and str(DEMO).encode() not in blob


def test_cli_dry_run_prints_only_the_path(tiny_phi_run, tmp_path, monkeypatch, capsys,
                                          no_token):
    calls = HubCalls(monkeypatch)
    run = tmp_path / "run"
    shutil.copytree(tiny_phi_run, run, ignore=shutil.ignore_patterns("publish"))
    rc = main(["--run", str(run), "--hub_model_id", "example/tiny-phi", "--dry_run",
               "--license", "apache-2.0"])
    out = capsys.readouterr().out
    assert rc == 0 and out.strip() == str((run / "publish").resolve())
    assert sorted(p.name for p in (run / "publish").iterdir()) == EXPECTED_FILES
    assert calls.calls == []  # a dry run calls nothing on the Hub
    # publishing again replaces the previous folder
    assert main(["--run", str(run), "--hub_model_id", "example/tiny-phi", "--dry_run",
                 "--license", "apache-2.0"]) == 0


def test_upload_is_private_with_exactly_the_expected_files(tiny_phi_run, tmp_path, monkeypatch,
                                                           capsys, caplog, fake_token):
    calls = HubCalls(monkeypatch)
    caplog.set_level(logging.DEBUG)
    res = publish(tiny_phi_run, "example/tiny-phi",
                  PublishArguments(publish_dir=str(tmp_path / "pub"), license="apache-2.0"))
    (create,) = calls.named("create_repo")
    assert create["repo_id"] == "example/tiny-phi" and create["private"] is True
    assert create["exist_ok"] is True and create["repo_type"] == "model"
    (upload,) = calls.named("upload_folder")
    assert Path(upload["folder_path"]) == tmp_path / "pub"
    assert sorted(upload["allow_patterns"]) == EXPECTED_FILES == res.files
    assert calls.uploaded["example/tiny-phi"] == EXPECTED_FILES
    assert res.private is True and res.url.endswith("/c/1")
    assert [n for n, _ in calls.calls] == ["create_repo", "repo_info", "upload_folder"]
    captured = capsys.readouterr()
    assert FAKE_TOKEN not in captured.out + captured.err + caplog.text
    assert FAKE_TOKEN.encode() not in _all_text(tmp_path)


def test_public_only_when_asked_explicitly(tiny_phi_run, tmp_path, monkeypatch, capsys,
                                           fake_token):
    calls = HubCalls(monkeypatch)
    base = ["--run", str(tiny_phi_run), "--hub_model_id", "example/tiny-phi", "--license",
            "apache-2.0", "--publish_dir", str(tmp_path / "pub")]
    assert main(base) == 0
    assert main(base + ["--hub_private", "false"]) == 0
    assert [c["private"] for c in calls.named("create_repo")] == [True, False]
    assert capsys.readouterr().out.count("https://huggingface.co/example/tiny-phi/c/1") == 2


def test_existing_public_repo_is_refused(tiny_phi_run, tmp_path, monkeypatch, fake_token):
    calls = HubCalls(monkeypatch, existing_private=False)
    with pytest.raises(PublishError, match="already exists and is not private"):
        publish(tiny_phi_run, "example/tiny-phi",
                PublishArguments(publish_dir=str(tmp_path / "pub"), license="apache-2.0"))
    assert calls.named("upload_folder") == []


def test_upload_needs_a_token_and_never_shows_it(tiny_phi_run, tmp_path, monkeypatch,
                                                 no_token):
    from huggingface_hub import HfApi

    HubCalls(monkeypatch)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    args = PublishArguments(publish_dir=str(tmp_path / "pub"), license="apache-2.0")
    with pytest.raises(PublishError, match="no Hugging Face token"):
        publish(tiny_phi_run, "example/tiny-phi", args)

    def failing(api, **kw):
        raise RuntimeError(f"401 Unauthorized for token {api.token}")

    monkeypatch.setattr(HfApi, "upload_folder", failing)
    with pytest.raises(PublishError) as err:
        publish(tiny_phi_run, "example/tiny-phi", args, token=FAKE_TOKEN)
    assert "401 Unauthorized" in str(err.value) and FAKE_TOKEN not in str(err.value)


def test_bad_hub_id_is_refused(tiny_phi_run, tmp_path):
    with pytest.raises(PublishError, match="ORG/NAME"):
        publish(tiny_phi_run, "just-a-name", PublishArguments(dry_run=True,
                                                              publish_dir=str(tmp_path)))


# ----------------------------------------------------------------- refusals on crafted folders

def _write(name, content):
    def mutate(folder: Path):
        (folder / name).write_text(content)
    return mutate


def _edit_json(name, fn):
    def mutate(folder: Path):
        obj = json.loads((folder / name).read_text())
        fn(obj)
        (folder / name).write_text(json.dumps(obj))
    return mutate


def _edit_text(name, old, new):
    def mutate(folder: Path):
        text = (folder / name).read_text()
        assert old in text
        (folder / name).write_text(text.replace(old, new, 1))
    return mutate


def _mkdir_predictions(folder: Path):
    (folder / "predictions").mkdir()
    (folder / "predictions" / "105-01.xml").write_text("<deIdi2b2/>")


def _labels_placeholder(cfg):
    cfg["id2label"] = {k: f"LABEL_{k}" for k in cfg["id2label"]}
    cfg["label2id"] = {v: int(k) for k, v in cfg["id2label"].items()}


def _note_sentence() -> str:
    """A sentence of a (made-up) demo note, as a leaked note would appear."""
    text = next(corpus_texts(DEMO / "test"))
    body = text.split("CDATA[", 1)[1]
    words = body.split()
    return " ".join(words[5:30])


CRAFTED = [
    (_write("errors.local.tsv", "105-01\t12\t20\tDATE\n"), "error listings quote note text"),
    (_write("test_docs.jsonl", '{"id": "1"}\n'), "JSONL dumps hold documents"),
    (_mkdir_predictions, "predictions: a folder is not published (predictions hold note text)"),
    (_write("105-01.xml", "<deIdi2b2/>"), "corpus files hold note text"),
    (_write("105-01.ann", "T1\tDATE 0 4\t2093\n"), "brat annotation files"),
    (_write("notes.txt", "x"), "text files may hold notes"),
    (_write("data-00000-of-00001.arrow", "x"), "datasets files hold note text"),
    (_write("training_args.bin", "x"), "pickles are not published"),
    (_write("extra.json", "{}"), "extra.json: not an expected model file"),
    (lambda f: (f / "metrics.json").unlink(), "metrics.json missing"),
    (_edit_json("config.json", _labels_placeholder), "placeholder labels"),
    (_edit_json("config.json", lambda c: c["id2label"].update({"1": "PATIENT"})),
     "are not IOB2"),
    (_edit_text("README.md", "split: test", "split: null"), "dataset.split is None"),
    (_edit_text("README.md", "type: clinical-ner-demo-i2b2-2014", "type: 2014"),
     "dataset.type is 2014"),
    (_edit_text("README.md", "type: token-classification", "type: ner"),
     "task.type must be 'token-classification'"),
    (_edit_text("README.md", "license: apache-2.0", "license: [apache-2.0"),
     "not valid YAML"),
    (_edit_json("metrics.json", lambda m: m["strict"]["micro"].update(f1=0.987654)),
     "but metrics.json has 0.987654"),
    (_edit_json("metrics.json", lambda m: m.update(example="Patient seen today in clinic for "
                                                   "follow up of chest pain with his wife "
                                                   "and son present")),
     "looks like note text"),
    (lambda f: _edit_text("README.md", "## Privacy note\n",
                          "## Privacy note\n\n" + _note_sentence() + "\n")(f),
     "README.md: shares"),
    (_edit_json("training_args.json", lambda a: a["data"].update(data_dir=str(DEMO))),
     "contains local path(s)"),
    (_edit_text("README.md", "## Labels\n", "## Labels\n\nsee /home/someone/runs/x\n"),
     "contains local path(s) /home/someone/runs/x"),
    (_edit_json("training_args.json", lambda a: a.update(note=FAKE_TOKEN)),
     "training_args.json: contains the Hugging Face token"),
]


@pytest.mark.parametrize("mutate, message", CRAFTED,
                         ids=[m for _, m in CRAFTED])
def test_crafted_folder_is_refused(good_folder, tmp_path, mutate, message):
    folder = tmp_path / "crafted"
    shutil.copytree(good_folder, folder)
    assert check_publish_folder(folder, token=FAKE_TOKEN, metric_scheme="i2b2_2014",
                                corpus=corpus_texts(DEMO),
                                local_paths=[str(DEMO)]) == EXPECTED_FILES
    mutate(folder)
    with pytest.raises(PublishError) as err:
        check_publish_folder(folder, token=FAKE_TOKEN, metric_scheme="i2b2_2014",
                             corpus=corpus_texts(DEMO), local_paths=[str(DEMO)])
    assert message in str(err.value)
    assert FAKE_TOKEN not in str(err.value)


def test_publish_never_uploads_a_refused_run(tiny_phi_run, tmp_path, monkeypatch, fake_token):
    calls = HubCalls(monkeypatch)
    run = tmp_path / "run"
    shutil.copytree(tiny_phi_run, run, ignore=shutil.ignore_patterns("publish"))
    cfg = json.loads((run / "config.json").read_text())
    _labels_placeholder(cfg)
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(PublishError, match="placeholder labels"):
        publish(run, "example/tiny-phi", PublishArguments(license="apache-2.0"))
    assert calls.calls == []


def test_publish_dir_with_foreign_files_is_not_emptied(tiny_phi_run, tmp_path):
    out = tmp_path / "pub"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(PublishError, match="choose an empty --publish_dir"):
        publish(tiny_phi_run, "example/tiny-phi",
                PublishArguments(dry_run=True, publish_dir=str(out), license="apache-2.0"))
    assert (out / "notes.txt").read_text() == "keep me"


def test_sanitize_training_args():
    run_args = {
        "model": {"model_name_or_path": "/home/me/models/base_x"},
        "data": {"data_dir": "../shared/data/physionet-deid-i2b2", "task": "phi"},
        "training": {"output_dir": "/home/me/runs/phi", "hub_token": "secret",
                     "push_to_hub_token": None, "include_tokens_per_second": False,
                     "nested": {"auth_token": "x", "path": "/tmp/y/z"},
                     "run_name": "/home/me/runs/phi", "learning_rate": 1e-4,
                     "hub_model_id": "example/x"}}
    out = sanitize_training_args(run_args, {"best_checkpoint": "/home/me/runs/phi/checkpoint-9",
                                            "train_tokens_per_second": 10.0})
    assert out["model"]["model_name_or_path"] == "base_x"
    assert out["data"]["data_dir"] == "physionet-deid-i2b2"
    assert out["training"] == {"output_dir": "phi", "nested": {"path": "z"}, "run_name": "phi",
                               "learning_rate": 1e-4, "hub_model_id": "example/x"}
    assert out["train_results"] == {"best_checkpoint": "checkpoint-9",
                                    "train_tokens_per_second": 10.0}
    assert sanitize_training_args({"model": {"model_name_or_path": "minilm"}})["model"] == {
        "model_name_or_path": "minilm"}


# ------------------------------------------------------------------------ train_ner.py --push

def _load_train_ner():
    spec = importlib.util.spec_from_file_location("train_ner_script", ROOT / "train_ner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_ner_push_to_hub_publishes_after_training(tiny_phi_run, tiny_base_model, tmp_path,
                                                        monkeypatch, capsys, fake_token):
    """The Trainer never sees push_to_hub or the token; the run is published once, private."""
    train_ner = _load_train_ner()
    calls = HubCalls(monkeypatch)
    seen = {}

    def fake_train(model_args, data_args, training_args):
        seen.update(push=training_args.push_to_hub, token=training_args.hub_token,
                    hub_calls=list(calls.calls))
        out = Path(training_args.output_dir)
        shutil.copytree(tiny_phi_run, out, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("publish"))
        return json.loads((out / "metrics.json").read_text())

    monkeypatch.setattr(train_ner, "train", fake_train)
    out = tmp_path / "run"
    secret = "hf_FAKEcliTOKEN9876543210zyxwvuZYXWVU"
    rc = train_ner.main(["--model_name_or_path", str(tiny_base_model), "--data_dir", str(DEMO),
                         "--output_dir", str(out), "--push_to_hub", "--hub_model_id",
                         "example/tiny-phi", "--hub_token", secret, "--license", "apache-2.0"])
    assert rc == 0
    assert seen == {"push": False, "token": None, "hub_calls": []}
    (create,) = calls.named("create_repo")
    assert create["private"] is True
    (upload,) = calls.named("upload_folder")
    assert Path(upload["folder_path"]) == out / "publish"
    assert sorted(upload["allow_patterns"]) == EXPECTED_FILES
    captured = capsys.readouterr()
    assert "https://huggingface.co/example/tiny-phi/c/1" in captured.out
    for tok in (secret, FAKE_TOKEN):
        assert tok not in captured.out + captured.err
        assert tok.encode() not in _all_text(out)


def test_claim_push_checks_before_training():
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir="unused", push_to_hub=True, hub_model_id="no-org",
                             report_to="none")
    with pytest.raises(PublishError, match="ORG/NAME"):
        claim_push(args, PublishArguments(), "minilm")
    args.hub_model_id = "example/x"
    from clinical_ner.cards import CardError

    with pytest.raises(CardError, match="--license"):
        claim_push(args, PublishArguments(), "/local/base")
    push = claim_push(args, PublishArguments(), "minilm")
    assert push.hub_model_id == "example/x" and args.push_to_hub is False
    assert claim_push(TrainingArguments(output_dir="unused", report_to="none"),
                      PublishArguments()) is None
