"""Inference backends (clinical_ner.backends): ONNX export and int8 quantization of a tiny run,
spans against torch fp32, refusals, the export cache."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DEMO

from clinical_ner.backends import check_backend, export_onnx, load_inference_model
from clinical_ner.evaluation import EvalArguments, load_documents, run_evaluation
from clinical_ner.inference import predict_corpus
from clinical_ner.tasks import get_task

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def run(tiny_phi_run, tmp_path_factory):
    dst = tmp_path_factory.mktemp("backends") / "run"
    shutil.copytree(tiny_phi_run, dst, ignore=shutil.ignore_patterns("checkpoint-*", "eval_*"))
    return dst


@pytest.fixture(scope="module")
def notes():
    docs, _ = load_documents("i2b2_2014", DEMO / "test")
    return docs


def predict(run, notes, backend, precision, merge="central"):
    from transformers import AutoTokenizer

    model, info = load_inference_model(run, backend=backend, precision=precision, device="cpu")
    preds = predict_corpus(model, AutoTokenizer.from_pretrained(run), notes,
                           get_task("phi", "i2b2_2014"), max_seq_length=64, doc_stride=16,
                           window_merge=merge)
    return [set(d.spans) for d in preds], info


def span_f1(a, b):
    inter = sum(len(x & y) for x, y in zip(a, b, strict=True))
    return 2 * inter / max(1, sum(len(x) + len(y) for x, y in zip(a, b, strict=True)))


@pytest.mark.parametrize("merge", ["central", "longest"])
def test_onnx_fp32_spans_equal_torch(run, notes, merge):
    ref, _ = predict(run, notes, "torch", "fp32", merge)
    got, info = predict(run, notes, "onnx", "fp32", merge)
    assert sum(map(len, ref)) > 100
    assert got == ref  # note by note, every span
    assert info.max_abs_logit_diff < 1e-4
    assert (run / "onnx" / "model.onnx").is_file()


def test_int8_spans_close_to_fp32(run, notes):
    ref, _ = predict(run, notes, "torch", "fp32")
    onnx8, info = predict(run, notes, "onnx", "int8")
    torch8, _ = predict(run, notes, "torch", "int8")
    # stated tolerance on the tiny model: span F1 against fp32 at least 0.95 (measured 0.98)
    assert span_f1(onnx8, ref) >= 0.95 and span_f1(torch8, ref) >= 0.95
    report = json.loads((run / "onnx" / "export.json").read_text())
    q = report["files"]["model_quantized.onnx"]
    assert q["bytes"] < report["files"]["model.onnx"]["bytes"]
    assert q["max_abs_logit_diff"] == info.max_abs_logit_diff < 0.1
    assert q["argmax_agreement"] >= 0.95
    # the tiny model exports and quantizes in seconds (measured about 1 s on 2 shared cores)
    assert report["files"]["model.onnx"]["export_seconds"] + q["export_seconds"] < 30


def test_export_cache_reused_then_rebuilt_when_weights_change(run, tmp_path):
    r = tmp_path / "r"
    shutil.copytree(run, r, ignore=shutil.ignore_patterns("onnx"))
    first = export_onnx(r)
    mtime = (r / "onnx" / "model.onnx").stat().st_mtime_ns
    assert export_onnx(r) == first and (r / "onnx" / "model.onnx").stat().st_mtime_ns == mtime
    from transformers import AutoModelForTokenClassification

    m = AutoModelForTokenClassification.from_pretrained(r)
    m.classifier.bias.data += 1.0
    m.save_pretrained(r)
    second = export_onnx(r)
    assert second["source_sha256"] != first["source_sha256"]
    assert not list((r / "onnx").glob(".*tmp*"))  # written atomically


@pytest.mark.parametrize("backend,precision,device,message", [
    ("torch", "fp16", "cpu", "--precision fp16 needs a GPU"),
    ("torch", "bf16", "cpu", "--precision bf16 needs a GPU"),
    ("onnx", "fp16", "cuda", "--backend onnx supports fp32 and int8"),
    ("torch", "int8", "cuda", "--precision int8 runs on CPU kernels"),
    ("tensorrt", "fp32", "cpu", "--backend must be one of torch, onnx"),
    ("torch", "fp8", "cpu", "--precision must be one of fp32, int8, fp16, bf16"),
])
def test_refusals(backend, precision, device, message):
    with pytest.raises(ValueError, match=message):
        check_backend(backend, precision, device)


def test_eval_ner_fp16_on_cpu_refused_before_loading(run, capsys):
    import eval_ner

    rc = eval_ner.main(["--model", str(run), "--precision", "fp16", "--device", "cpu",
                        "--bootstrap", "0"])
    assert rc == 2
    assert "--precision fp16 needs a GPU" in capsys.readouterr().err


def test_eval_ner_onnx_int8_metrics(run, tmp_path):
    m = run_evaluation(EvalArguments(model=str(run), backend="onnx", precision="int8",
                                     output_dir=str(tmp_path / "out"), bootstrap=0))
    b = m["evaluation"]["backend"]
    assert (b["backend"], b["precision"]) == ("onnx", "int8")
    assert set(b["model_files"]) == {"model_quantized.onnx"}
    assert 0 <= m["strict"]["micro"]["f1"] <= 1


def test_backend_benchmark_side_by_side(run, tmp_path, capsys):
    import benchmark

    out = tmp_path / "bench"
    rc = benchmark.main(["--backends", "torch:fp32,onnx:fp32,torch:fp32:2x1",
                         "--backend_run", str(run), "--passes", "1", "--latency_documents", "3",
                         "--output_dir", str(out)])
    assert rc == 0, capsys.readouterr().err
    result = json.loads((out / "backends.json").read_text())
    rows = {r["setting"]: r for r in result["rows"]}
    assert set(rows) == {"torch:fp32:1x2", "onnx:fp32:1x2", "torch:fp32:2x1"}
    assert result["notes"] == 20 and all(r["error"] is None for r in rows.values())
    # ONNX fp32 and the 2-process split give torch fp32's spans on every note (each note once)
    for name in ("onnx:fp32:1x2", "torch:fp32:2x1"):
        assert rows[name]["notes_identical_to_torch_fp32"] == 20
        assert rows[name]["f1_diff_vs_torch_fp32"] == 0.0
    assert rows["torch:fp32:1x2"]["latency_p50_ms"] > 0
    assert rows["torch:fp32:2x1"]["latency_p50_ms"] is None  # latency: 1-process settings only
    assert (out / "backends.md").is_file() and (out / "backends.png").is_file()


def test_parse_backends_errors():
    from clinical_ner.benchmark.backends import parse_backends

    assert [s.name for s in parse_backends("onnx:int8:2x1,torch:fp32")] == [
        "onnx:int8:2x1", "torch:fp32:1x2"]
    for bad, msg in (("onnx", "BACKEND:PRECISION"), ("onnx:int8:2", "NxT must be"),
                     ("pipeline:int8", "pipeline baseline")):
        with pytest.raises(ValueError, match=msg):
            parse_backends(bad)


def test_publish_includes_current_onnx_exports_and_the_card_says_how(run, tmp_path):
    from clinical_ner.hub import PublishArguments, publish

    r = tmp_path / "r"
    shutil.copytree(run, r, ignore=shutil.ignore_patterns("onnx"))
    export_onnx(r, int8=True)
    out = tmp_path / "pub"
    publish(r, "example/tiny-phi", PublishArguments(dry_run=True, publish_dir=str(out),
                                                    license="apache-2.0"))
    names = {p.name for p in out.iterdir()}
    assert {"model.onnx", "model_quantized.onnx", "model.safetensors"} <= names
    assert (out / "model_quantized.onnx").read_bytes() == (
        r / "onnx" / "model_quantized.onnx").read_bytes()
    card = (out / "README.md").read_text()
    assert ('ORTModelForTokenClassification.from_pretrained(repo, '
            'file_name="model_quantized.onnx")') in card
    import onnxruntime as ort

    assert ort.InferenceSession(str(out / "model_quantized.onnx")).get_outputs()[0].name == "logits"
    # an export of other weights is stale: not published
    (r / "onnx" / "export.json").write_text(json.dumps({"source_sha256": "0" * 64, "files": {}}))
    out2 = tmp_path / "pub2"
    publish(r, "example/tiny-phi", PublishArguments(dry_run=True, publish_dir=str(out2),
                                                    license="apache-2.0"))
    assert not {"model.onnx", "model_quantized.onnx"} & {p.name for p in out2.iterdir()}
