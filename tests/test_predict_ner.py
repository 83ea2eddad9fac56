"""predict_ner.py / clinical_ner.prediction on a tiny model and hand-made notes: same spans as the
eval path, outputs per format, resume after a kill, unreadable notes, folder refusals,
thresholds."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections import Counter

import numpy as np
import pytest
from conftest import CORPUS_TEXT, DEMO, ROOT

from clinical_ner.documents import LoadReport, Span
from clinical_ner.inference import class_thresholds, decide_classes


def _load_cli(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


predict_ner = _load_cli("predict_ner")
eval_ner = _load_cli("eval_ner")


def run_cli(*argv) -> int:
    return predict_ner.main([str(a) for a in argv] + ["--disable_tqdm", "true"])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def demo_docs(names=None):
    from data_scripts import i2b2_2014

    docs = i2b2_2014.read_folder(DEMO / "test", LoadReport("i2b2_2014"))
    return [d for d in docs if names is None or d.id in names]


def write_txt(folder, docs):
    folder.mkdir(parents=True, exist_ok=True)
    for d in docs:
        (folder / f"{d.id}.txt").write_bytes(d.text.encode("utf-8"))
    return folder


def spans_of(pred_path):
    return {r["id"]: [(s["start"], s["end"], s["label"]) for s in r["spans"]]
            for r in read_jsonl(pred_path)}


@pytest.fixture(scope="module")
def tiny(tiny_phi_run):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from clinical_ner.tasks import get_task

    return (AutoModelForTokenClassification.from_pretrained(tiny_phi_run).eval(),
            AutoTokenizer.from_pretrained(tiny_phi_run), get_task("phi", "i2b2_2014"))


# ------------------------------------------------------------------ same spans as eval_ner.py


def test_spans_equal_the_eval_path(tiny_phi_run, tiny, tmp_path):
    """predict_ner.py on .txt copies of the demo test notes gives exactly the spans that
    eval_ner.py --model --write_predictions writes, and predict_corpus's with a threshold
    (many spans from the tiny model), in chunks of any size."""
    from clinical_ner.inference import predict_corpus
    from data_scripts import i2b2_2014

    docs = demo_docs()
    txt = write_txt(tmp_path / "txt", docs)
    assert run_cli("--model", tiny_phi_run, "--input", txt, "--output_dir", tmp_path / "p",
                   "--redact", "none", "--chunk_size", 7) == 0
    ev = tmp_path / "eval"
    assert eval_ner.main([str(a) for a in (
        "--model", tiny_phi_run, "--data_dir", DEMO, "--split", "test", "--output_dir", ev,
        "--bootstrap", 0, "--write_predictions")]) == 0
    written = i2b2_2014.read_folder(ev / "predictions", LoadReport("i2b2_2014"),
                                    as_written=True)
    expected = {d.id: [(s.start, s.end, s.label) for s in d.spans] for d in written}
    assert spans_of(tmp_path / "p" / "predictions.jsonl") == expected
    model, tok, task = tiny
    for chunk in (1, 100):
        out = tmp_path / f"t{chunk}"
        assert run_cli("--model", tiny_phi_run, "--input", txt, "--output_dir", out,
                       "--redact", "none", "--threshold", 0.9, "--chunk_size", chunk) == 0
        preds = predict_corpus(model, tok, docs, task, max_seq_length=64, doc_stride=16,
                               threshold=0.9)
        got = spans_of(out / "predictions.jsonl")
        assert got == {d.id: [(s.start, s.end, s.label) for s in d.spans] for d in preds}
        assert sum(map(len, got.values())) > 50  # the threshold gives many spans
    rec = read_jsonl(out / "predictions.jsonl")[0]["spans"][0]
    assert set(rec) == {"start", "end", "label", "score"} and 0 < rec["score"] <= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["notes"] == 20 and summary["skipped_notes"] == 0
    assert summary["characters"] == sum(len(d.text) for d in docs)
    assert summary["spans"] == sum(summary["spans_per_label"].values())
    assert summary["settings"]["max_seq_length"] == 64 and "text" not in json.dumps(
        summary["spans_per_label"])


# ------------------------------------------------------------------ outputs


def test_i2b2_surrogate_output_loads_back(tiny_phi_run, tmp_path):
    from clinical_ner.surrogates import SurrogateGenerator
    from data_scripts import i2b2_2014

    src = tmp_path / "in"
    src.mkdir()
    for name in ("042-01.xml", "042-02.xml", "051-01.xml"):
        shutil.copy(DEMO / "test" / name, src / name)
    out = tmp_path / "out"
    assert run_cli("--model", tiny_phi_run, "--input", src, "--format", "i2b2_2014",
                   "--output_dir", out, "--redact", "surrogate", "--surrogate_key", "K1",
                   "--threshold", 0.99, "--gold", "true") == 0
    report = LoadReport("i2b2_2014")
    back = {d.id: d for d in i2b2_2014.read_folder(out / "deid", report)}
    assert sorted(back) == ["042-01", "042-02", "051-01"] and not report.problems
    inputs = {d.id: d for d in i2b2_2014.read_folder(src, LoadReport("i2b2_2014"))}
    gen = SurrogateGenerator("K1")
    n = 0
    for rec in read_jsonl(out / "predictions.jsonl"):
        doc, orig = back[rec["id"]], inputs[rec["id"]].text
        assert [(s["out_start"], s["out_end"], s["label"]) for s in rec["spans"]] == \
            [(s.start, s.end, s.label) for s in doc.spans]
        for s in rec["spans"]:
            original = orig[s["start"]:s["end"]]
            assert doc.text[s["out_start"]:s["out_end"]] == gen.surrogate(
                s["label"], original, rec["id"][:3])
            n += 1
    assert n > 20
    mapping = read_jsonl(out / "surrogates.local.jsonl")
    keys = Counter((m["patient"], m["label"], m["original"].casefold()) for m in mapping)
    assert max(keys.values()) == 1 and {m["patient"] for m in mapping} == {"042", "051"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["leak"]["gold_phi"] == sum(len(d.spans) for d in inputs.values())
    assert summary["settings"]["surrogate_key"] == "--surrogate_key"
    assert "K1" not in (out / "summary.json").read_text()


def test_text_brat_jsonl_outputs(tiny_phi_run, tmp_path):
    docs = demo_docs({"042-01", "051-01"})
    txt = write_txt(tmp_path / "txt", docs)
    for fmt, src in (("text", txt), ("brat", txt)):
        out = tmp_path / fmt
        assert run_cli("--model", tiny_phi_run, "--input", src, "--format", fmt,
                       "--output_dir", out, "--redact", "tag", "--threshold", 0.9) == 0
        recs = {r["id"]: r for r in read_jsonl(out / "predictions.jsonl")}
        for d in docs:
            deid = (out / "deid" / f"{d.id}.txt").read_bytes().decode("utf-8")
            for s in recs[d.id]["spans"]:
                assert deid[s["out_start"]:s["out_end"]] == "[" + s["label"].split("/")[1] + "]"
            if fmt == "brat":
                ann = (out / "deid" / f"{d.id}.ann").read_text().splitlines()
                assert len(ann) == len(recs[d.id]["spans"])
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"id": f"n{i}", "text": t, "patient": "P", "mrn": "x"})
                           + "\n" for i, t in enumerate(CORPUS_TEXT)), encoding="utf-8")
    out = tmp_path / "jsonl"
    assert run_cli("--model", tiny_phi_run, "--input", src, "--format", "jsonl",
                   "--output_dir", out, "--redact", "mask", "--threshold", 0.9) == 0
    deid = read_jsonl(out / "deid" / "notes.jsonl")
    assert [r["id"] for r in deid] == ["n0", "n1", "n2", "n3"]
    assert all(set(r) == {"id", "text", "spans"} for r in deid)  # other fields not copied
    for r, t in zip(deid, CORPUS_TEXT):
        assert len(r["text"]) == len(t) and all(set(s["text"]) == {"*"} for s in r["spans"])


def test_surrogates_consistent_per_patient_through_predict_ner(tiny_phi_run, tmp_path):
    """Three identical notes: two of patient 001 get the same de-identified text, the note of
    patient 002 another one; with another key the text changes again; characters outside the
    spans are kept."""
    from clinical_ner.redaction import text_outside

    text = CORPUS_TEXT[1]
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": text}) + "\n"
                           for i in ("001-01", "001-02", "002-01")), encoding="utf-8")
    deid = {}
    for key in ("K1", "K2"):
        out = tmp_path / key
        assert run_cli("--model", tiny_phi_run, "--input", src, "--format", "jsonl",
                       "--output_dir", out, "--redact", "surrogate", "--surrogate_key", key,
                       "--threshold", 0.99) == 0
        deid[key] = {r["id"]: r["text"] for r in read_jsonl(out / "deid" / "notes.jsonl")}
        recs = {r["id"]: r["spans"] for r in read_jsonl(out / "predictions.jsonl")}
        assert recs["001-01"]  # the threshold gives spans to replace
        for i, spans in recs.items():
            assert text_outside(text, [(s["start"], s["end"]) for s in spans]) == \
                text_outside(deid[key][i], [(s["out_start"], s["out_end"]) for s in spans])
    assert deid["K1"]["001-01"] == deid["K1"]["001-02"] != deid["K1"]["002-01"]
    assert deid["K1"]["001-01"] != deid["K2"]["001-01"]


def test_jsonl_patient_and_locale_fields(tiny_phi_run, tmp_path):
    text = CORPUS_TEXT[1]
    records = [{"id": "a", "text": text, "patient": "P1"}, {"id": "b", "text": text,
               "patient": "P1"}, {"id": "c", "text": text, "patient": "P2"},
               {"id": "d", "text": text, "patient": "P1", "locale": "de_DE"},
               {"id": "e", "text": text, "locale": "xx_YY"}]
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "out"
    assert run_cli("--model", tiny_phi_run, "--input", src, "--format", "jsonl",
                   "--output_dir", out, "--redact", "surrogate", "--surrogate_key", "K",
                   "--threshold", 0.99, "--on_error", "skip") == 0
    deid = {r["id"]: r["text"] for r in read_jsonl(out / "deid" / "notes.jsonl")}
    assert deid["a"] == deid["b"] != deid["c"]  # the patient field groups notes
    summary = json.loads((out / "summary.json").read_text())
    assert summary["surrogate_locales"] == ["de_DE", "en_US"]
    assert summary["skipped"][0]["id"] == "e" and "no locale 'xx_YY'" in \
        summary["skipped"][0]["reason"]


# ------------------------------------------------------------------ streaming and resume


def test_killed_run_resumed_writes_every_note_once(tiny_phi_run, tmp_path, monkeypatch):
    from clinical_ner import prediction

    src = tmp_path / "notes.jsonl"
    texts = CORPUS_TEXT + CORPUS_TEXT[:3]
    src.write_text("".join(json.dumps({"id": f"n{i}", "text": t}) + "\n"
                           for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "out"
    args = prediction.PredictArguments(model=str(tiny_phi_run), input=str(src), format="jsonl",
                                       output_dir=str(out), redact="surrogate",
                                       surrogate_key="K", chunk_size=2, threshold=0.9,
                                       disable_tqdm=True)
    real_append, calls = prediction._append, []

    def dying_append(path, lines):
        if path.name == "predictions.jsonl":
            calls.append(1)
            if len(calls) == 3:  # killed while writing the third chunk: half a line written
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(lines[0][:10])
                raise KeyboardInterrupt
        real_append(path, lines)

    monkeypatch.setattr(prediction, "_append", dying_append)
    with pytest.raises(KeyboardInterrupt):
        prediction.run_prediction(args)
    monkeypatch.setattr(prediction, "_append", real_append)
    assert len(read_jsonl(out / "deid" / "notes.jsonl")) == 6  # chunk 3 in deid, not committed
    summary = prediction.run_prediction(args)
    ids = [r["id"] for r in read_jsonl(out / "predictions.jsonl")]
    assert sorted(ids) == sorted(f"n{i}" for i in range(7)) and len(ids) == 7
    deid_ids = [r["id"] for r in read_jsonl(out / "deid" / "notes.jsonl")]
    assert sorted(deid_ids) == sorted(ids)
    assert (summary["notes"], summary["notes_already_done"]) == (3, 4)
    # a fresh uninterrupted run gives the same de-identified notes (same key)
    fresh = tmp_path / "fresh"
    args.output_dir = str(fresh)
    prediction.run_prediction(args)
    assert sorted(read_jsonl(fresh / "deid" / "notes.jsonl"), key=lambda r: r["id"]) == \
        sorted(read_jsonl(out / "deid" / "notes.jsonl"), key=lambda r: r["id"])


def test_unreadable_notes_skipped_and_counted(tiny_phi_run, tmp_path, capsys):
    src = tmp_path / "txt"
    src.mkdir()
    (src / "a.txt").write_text(CORPUS_TEXT[0], encoding="utf-8")
    (src / "b.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (src / "c.txt").write_bytes(b" \n")
    out = tmp_path / "skip"
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", out,
                   "--on_error", "skip") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["notes"] == 1 and summary["skipped_notes"] == 2
    assert [s["id"] for s in summary["skipped"]] == ["b", "c"]
    assert "b.txt: encoding error: not UTF-8 at byte offset 3" in summary["skipped"][0]["reason"]
    assert "empty note" in summary["skipped"][1]["reason"]
    assert list(spans_of(out / "predictions.jsonl")) == ["a"]
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", tmp_path / "stop"
                   ) == 2
    err = capsys.readouterr().err
    assert "b.txt" in err and "encoding error" in err
    assert list(spans_of(tmp_path / "stop" / "predictions.jsonl")) == ["a"]  # written first
    stopped = json.loads((tmp_path / "stop" / "summary.json").read_text())
    assert (stopped["status"], stopped["stopped_by"], stopped["notes"]) == (
        "stopped", "FormatError", 1)


def test_resume_with_another_surrogate_key_is_refused(tiny_phi_run, tmp_path, capsys,
                                                      monkeypatch):
    from clinical_ner.prediction import key_fingerprint

    monkeypatch.delenv("CLINICAL_NER_SURROGATE_KEY", raising=False)
    src = write_txt(tmp_path / "txt", demo_docs({"042-01"}))
    out = tmp_path / "out"
    args = ("--model", tiny_phi_run, "--input", src, "--output_dir", out, "--redact",
            "surrogate")
    assert run_cli(*args, "--surrogate_key", "key-A") == 0
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert settings["surrogate_key_fingerprint"] == key_fingerprint("key-A") != \
        key_fingerprint("key-B")
    assert "key-A" not in (out / "summary.json").read_text()
    assert run_cli(*args, "--surrogate_key", "key-A") == 0  # same key: resumes (all done)
    assert run_cli(*args, "--surrogate_key", "key-B") == 2
    assert "surrogate_key_fingerprint" in capsys.readouterr().err


def test_output_folder_refusals(tiny_phi_run, tmp_path, capsys):
    src = write_txt(tmp_path / "txt", demo_docs({"042-01"}))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.docx").write_text("a user's file")
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", mine) == 2
    assert "did not write (notes.docx)" in capsys.readouterr().err
    assert (mine / "notes.docx").read_text() == "a user's file"
    out = tmp_path / "out"
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", out,
                   "--redact", "surrogate") == 0  # random key
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", out,
                   "--redact", "surrogate", "--resume", "false") == 2
    assert "previous run" in capsys.readouterr().err
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", out,
                   "--redact", "surrogate") == 2
    assert "needs its --surrogate_key" in capsys.readouterr().err
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", out,
                   "--redact", "tag") == 2
    assert "redact: 'surrogate' then, 'tag' now" in capsys.readouterr().err
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", src / "x") == 2
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", tmp_path / "loc",
                   "--redact", "surrogate", "--locale", "xx_YY") == 2
    assert "Faker has no such locale" in capsys.readouterr().err
    assert not (tmp_path / "loc").exists()  # refused before the folder is made


def test_resume_refuses_another_input_format(tiny_phi_run, tmp_path, capsys):
    """summary.json keeps the input --format (not the run's training format), so a rerun on the
    same OUT with another --format is refused instead of mixing two formats' outputs."""
    src = tmp_path / "mix"
    src.mkdir()
    (src / "a.txt").write_text("Patient John Smith seen 04/13/2059.\n", encoding="utf-8")
    (src / "b.jsonl").write_text('{"id": "b", "text": "Dr. Kay saw Ann Lee."}\n',
                                 encoding="utf-8")
    out = tmp_path / "out"
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", out,
                   "--format", "text") == 0
    settings = json.loads((out / "summary.json").read_text(encoding="utf-8"))["settings"]
    assert settings["format"] == "text" and settings["run_format"] == "i2b2_2014"
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", out,
                   "--format", "jsonl") == 2
    assert "format: 'text' then, 'jsonl' now" in capsys.readouterr().err
    assert not (out / "deid" / "b.jsonl").exists()


def test_jsonl_line_with_a_huge_integer_is_a_bad_record(tmp_path):
    """json.loads raises a plain ValueError (not JSONDecodeError) for an integer of more than
    4300 digits: an unreadable note of its file and line (skippable), not a crash."""
    from clinical_ner.documents import FormatError, read_jsonl
    from clinical_ner.prediction import iter_notes

    f = tmp_path / "n.jsonl"
    f.write_text('{"id": "a", "text": "x", "n": 1' + "0" * 5000 + '}\n'
                 '{"id": "b", "text": "Ann Lee"}\n', encoding="utf-8")
    notes = list(iter_notes("jsonl", f))
    assert [n.id for n in notes] == ["n.jsonl:1", "b"]
    assert notes[0].error.startswith(f"{f}:1: not JSON") and notes[1].error is None
    with pytest.raises(FormatError, match=r"n\.jsonl:1: not JSON"):
        list(read_jsonl(f))


def test_output_folder_without_summary_is_not_a_previous_run(tiny_phi_run, tmp_path, capsys):
    """deid/ or predictions.jsonl without summary.json (which a run writes first) are a user's
    files: refused, not overwritten or appended to."""
    src = write_txt(tmp_path / "txt", demo_docs({"042-01"}))
    for name in ("deid/042-01.txt", "predictions.jsonl"):
        out = tmp_path / name.replace("/", "_")
        (out / name).parent.mkdir(parents=True)
        (out / name).write_text("a user's file")
        assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", out) == 2
        assert "no summary.json" in capsys.readouterr().err
        assert (out / name).read_text() == "a user's file"


# ------------------------------------------------------------------ thresholds


def test_threshold_decision_by_hand():
    id2label = {0: "O", 1: "B-A", 2: "I-A", 3: "B-B", 4: "I-B"}
    probs = np.array([[0.60, 0.30, 0.05, 0.03, 0.02],   # arg-max O; best non-O: B-A
                      [0.80, 0.05, 0.05, 0.10, 0.00],   # arg-max O; best non-O: B-B
                      [0.10, 0.00, 0.70, 0.20, 0.00]])  # arg-max I-A
    assert decide_classes(probs, None).tolist() == [0, 0, 2]
    assert decide_classes(probs, class_thresholds(0.7, id2label)).tolist() == [1, 0, 2]
    assert decide_classes(probs, class_thresholds(0.9, id2label)).tolist() == [1, 3, 2]
    assert decide_classes(probs, class_thresholds(0.5, id2label)).tolist() == [0, 0, 2]
    per_type = class_thresholds({"B": 0.9}, id2label)  # A keeps the arg-max
    assert decide_classes(probs, per_type).tolist() == [0, 3, 2]
    per_type = class_thresholds({"A": 0.5, "default": 0.99}, id2label)
    assert decide_classes(probs, per_type).tolist() == [0, 3, 2]
    with pytest.raises(ValueError, match="no such entity type"):
        class_thresholds({"C": 0.5}, id2label)
    with pytest.raises(ValueError, match=r"not in \(0, 1\]"):
        class_thresholds(1.5, id2label)


def test_threshold_needs_central_merge_and_file(tiny_phi_run, tiny, tmp_path, capsys):
    from clinical_ner.inference import predict_documents

    model, tok, task = tiny
    with pytest.raises(ValueError, match="central"):
        predict_documents(model, tok, ["a"], dict(model.config.id2label), threshold=0.5,
                          window_merge="longest")
    src = write_txt(tmp_path / "txt", demo_docs({"042-01"}))
    yml = tmp_path / "thr.yaml"
    yml.write_text("NAME/PATIENT: 0.5\nDATE: 0.9\ndefault: 0.99\n")
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", tmp_path / "o",
                   "--thresholds_file", yml) == 0
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", tmp_path / "o3",
                   "--threshold", 0.5, "--window_merge", "longest") == 2
    assert "need --window_merge central" in capsys.readouterr().err
    yml.write_text("NOPE: 0.5\n")
    assert run_cli("--model", tiny_phi_run, "--input", src, "--output_dir", tmp_path / "o2",
                   "--thresholds_file", yml) == 2
    assert "'NOPE' is not a type" in capsys.readouterr().err


def test_publish_refuses_local_files():
    import fnmatch

    from clinical_ner.hub import REFUSED_PATTERNS

    reason = next(r for p, r in REFUSED_PATTERNS if fnmatch.fnmatch("surrogates.local.jsonl", p))
    assert "local" in reason


def test_span_offsets_are_characters_of_the_input():
    import re

    from clinical_ner.prediction import Note, patient_of

    rx = re.compile(r"^(\d+)-\d+")
    assert patient_of(Note("123-04", "t", "f"), rx) == "123"
    assert patient_of(Note("x", "t", "f"), rx) == "x"
    assert patient_of(Note("123-04", "t", "f", patient="P9"), rx) == "P9"
    assert Span(0, 1, "DATE/DATE").end == 1


def test_merge_parts_input_order_once_each(tmp_path):
    """The parts of a multi-process run merge into the outputs in input order: each note once
    (a line already merged by a merge cut short is not repeated), a de-identified JSONL line
    only for a note with a predictions line, a surrogate mapping once at its first note."""
    from clinical_ner.prediction import merge_parts, part_files, part_line

    out = tmp_path / "out"
    (out / "parts").mkdir(parents=True)
    (out / "deid").mkdir()
    position_of = {f"n{i}": i for i in range(6)}

    def pred(i):
        return json.dumps({"id": f"n{i}", "spans": []})

    def mapping(orig, pos):
        return json.dumps({"patient": "P", "label": "NAME/PATIENT", "original": orig,
                           "surrogate": f"S{pos}"})

    (out / "predictions.jsonl").write_text(pred(0) + "\n" + pred(2) + "\n")  # merged earlier
    parts = {"g001.r000.predictions.jsonl": [(2, pred(2)), (4, pred(4))],  # n2: merged twice
             "g001.r001.predictions.jsonl": [(1, pred(1)), (3, pred(3))],
             "g002.r000.predictions.jsonl": [(5, pred(5))],
             "g001.r000.deid.notes.jsonl": [(4, json.dumps({"id": "n4"}))],
             "g001.r001.deid.notes.jsonl": [(1, json.dumps({"id": "n1"})),
                                            (3, json.dumps({"id": "n3"}))],
             "g002.r001.deid.notes.jsonl": [(6, json.dumps({"id": "n6"}))],  # never finished
             "g001.r000.surrogates.jsonl": [(4, mapping("Ann", 4))],
             "g001.r001.surrogates.jsonl": [(1, mapping("ann", 1)), (3, mapping("Bo", 3))]}
    for name, lines in parts.items():
        (out / "parts" / name).write_text("".join(part_line(p, x) + "\n" for p, x in lines)
                                          + "7\t{\"id\": \"par")  # a partial last line
    (out / "deid" / "notes.jsonl").write_text(json.dumps({"id": "n0"}) + "\n")
    assert merge_parts(out, position_of) == len(parts)
    assert [r["id"] for r in read_jsonl(out / "predictions.jsonl")] == [f"n{i}" for i in range(6)]
    assert [r["id"] for r in read_jsonl(out / "deid" / "notes.jsonl")] == ["n0", "n1", "n3", "n4"]
    assert [r["surrogate"] for r in read_jsonl(out / "surrogates.local.jsonl")] == ["S1", "S3"]
    assert part_files(out) == [] and merge_parts(out, position_of) == 0
