"""eval_ner.py --thresholds: strict and binary-token P/R per P(O) threshold."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import DEMO, ROOT

from clinical_ner.thresholds import parse_thresholds


def _eval_cli():
    spec = importlib.util.spec_from_file_location("eval_ner", ROOT / "eval_ner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_parse_thresholds():
    assert parse_thresholds("0.9, 0.5,0.9,0.99") == [0.5, 0.9, 0.99]
    for bad, what in (("0.5,x", "'x' is not a number"), ("1.5", r"not in \(0, 1\]"),
                      (",", "give probabilities")):
        with pytest.raises(ValueError, match=what):
            parse_thresholds(bad)


def test_eval_thresholds_sweep(tiny_phi_run, tmp_path, capsys):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from clinical_ner.evaluation import score_documents
    from clinical_ner.inference import predict_corpus
    from clinical_ner.tasks import get_task
    from clinical_ner.training import DataArguments, load_scoring_documents

    main = _eval_cli()
    out = tmp_path / "eval"
    assert main([str(a) for a in ("--model", tiny_phi_run, "--data_dir", DEMO, "--split", "test",
                                  "--output_dir", out, "--bootstrap", 0,
                                  "--thresholds", "0.5,0.9,0.99")]) == 0
    sweep = json.loads((out / "thresholds.json").read_text())
    assert [r["threshold"] for r in sweep["rows"]] == [None, 0.5, 0.9, 0.99]
    assert sweep["measures"] == ["strict", "binary_token"] and sweep["gold_spans"] == 225
    recalls = [r["binary_token"]["recall"] for r in sweep["rows"][1:]]
    assert recalls == sorted(recalls)  # more tokens are PHI as the threshold rises
    metrics = json.loads((out / "metrics.json").read_text())
    assert sweep["rows"][0]["strict"]["f1"] == metrics["strict"]["micro"]["f1"]
    assert (out / "thresholds.png").read_bytes()[:4] == b"\x89PNG"
    # the 0.99 row is the score of predict_corpus(threshold=0.99) on the same notes
    task = get_task("phi", "i2b2_2014")
    gold = load_scoring_documents(DataArguments(data_dir=str(DEMO)), task)[0]["test"]
    model = AutoModelForTokenClassification.from_pretrained(tiny_phi_run).eval()
    preds = predict_corpus(model, AutoTokenizer.from_pretrained(tiny_phi_run), gold, task,
                           max_seq_length=64, doc_stride=16, threshold=0.99)
    assert sweep["rows"][-1]["strict"] == {
        k: score_documents(gold, preds)["strict"]["micro"][k] for k in ("precision", "recall",
                                                                        "f1")}
    assert main(["--gold", str(DEMO / "test"), "--pred", str(DEMO / "test"),
                 "--thresholds", "0.5"]) == 2
    assert "--thresholds is for --model" in capsys.readouterr().err
