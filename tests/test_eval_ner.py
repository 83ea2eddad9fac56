"""Tests of eval_ner.py and clinical_ner.evaluation/report: every expected number is computed by
hand in the comments (the physionet test split: 483 notes, 271 PHI tags, 142 notes with PHI)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from conftest import DEMO, PHYSIONET, ROOT, need_shared

from clinical_ner.confusion import MISSED
from clinical_ner.documents import Document, Span
from clinical_ner.evaluation import (
    EvalArguments,
    auto_metric_scheme,
    check_predictions,
    load_documents,
    score_documents,
)
from clinical_ner.metrics import I2B2_2014_MEASURES
from clinical_ner.report import ERRORS_WARNING, error_counts, error_records, write_error_files

approx = pytest.approx


def _load_cli():
    spec = importlib.util.spec_from_file_location("eval_ner", ROOT / "eval_ner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


eval_ner = _load_cli()


def run_cli(*argv) -> int:
    return eval_ner.main([str(a) for a in argv])


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------------------ loading


def test_load_documents_reads_every_document():
    # DEMO/test has no split folders: load_corpus would split it by patient; we want all 20.
    docs, report = load_documents("i2b2_2014", DEMO / "test")
    assert len(docs) == 20 and [d.id for d in docs] == sorted(d.id for d in docs)
    assert report.splits == {"method": "all documents", "documents": {"all": 20}}
    # the corpus root: train 60 + dev 15 + test 20, merged
    docs, report = load_documents("i2b2_2014", DEMO)
    assert len(docs) == 95
    assert report.splits["method"] == "all documents of the corpus folders"


def test_auto_metric_scheme():
    concept = [Document("a", "chest pain", (Span(0, 10, "problem"),))]
    phi = [Document("a", "Dr. Lee", (Span(4, 7, "NAME/DOCTOR"),))]
    assert auto_metric_scheme("i2b2_2014", concept) == "i2b2_2014"
    assert auto_metric_scheme("jsonl", concept) == "concepts"
    assert auto_metric_scheme("jsonl", phi) == "i2b2_2014"
    assert auto_metric_scheme("brat", []) == "concepts"


def test_check_predictions_errors():
    gold = [Document("a", "Seen on 3/4.", meta={"file": "a.xml"}), Document("b", "x")]
    assert check_predictions(gold, [Document("a", "Seen on 3/4.")]) == ["b"]
    with pytest.raises(ValueError, match=r"'a' \(file a2\.xml\): text differs .* offset 8"):
        check_predictions(gold, [Document("a", "Seen on 4/4.", meta={"file": "a2.xml"})])
    with pytest.raises(ValueError, match="'c' has no gold document"):
        check_predictions(gold, [Document("c", "x")])
    with pytest.raises(ValueError, match="'a' occurs twice"):
        check_predictions(gold, [Document("a", "Seen on 3/4."), Document("a", "Seen on 3/4.")])


# ------------------------------------------------------------------------------ error analysis


def test_error_records_kinds_and_context():
    text = "Dr. Ann Lee saw Bob Ray on 3/4 at Mercy."
    #       0123456789012345678901234567890123456789
    gold = Document("d", text, (Span(4, 11, "NAME/DOCTOR"), Span(16, 23, "NAME/PATIENT"),
                                Span(27, 30, "DATE/DATE"), Span(34, 39, "LOCATION/HOSPITAL")),
                    meta={"file": "d.xml"})
    pred = Document("d", text, (
        Span(4, 11, "NAME/PATIENT"),   # same offsets, other type   -> wrong_type (FN + FP)
        Span(16, 19, "NAME/PATIENT"),  # "Bob" only, same type      -> wrong_boundary (FN + FP)
        Span(27, 30, "DATE/DATE"),     # correct
        Span(0, 2, "NAME/DOCTOR"),     # "Dr", overlaps no gold     -> spurious
    ))                                 # Mercy not found            -> missed
    recs = error_records([gold], [pred], context=5)
    got = [(r["side"], r["error"], r["label"], r["start"], r["end"], r["text"]) for r in recs]
    assert got == [
        ("false_positive", "spurious", "NAME/DOCTOR", 0, 2, "Dr"),
        ("false_negative", "wrong_type", "NAME/DOCTOR", 4, 11, "Ann Lee"),
        ("false_positive", "wrong_type", "NAME/PATIENT", 4, 11, "Ann Lee"),
        ("false_positive", "wrong_boundary", "NAME/PATIENT", 16, 19, "Bob"),
        ("false_negative", "wrong_boundary", "NAME/PATIENT", 16, 23, "Bob Ray"),
        ("false_negative", "missed", "LOCATION/HOSPITAL", 34, 39, "Mercy"),
    ]
    assert (recs[1]["left"], recs[1]["right"]) == ("Dr. ", " saw ")
    assert recs[0]["left"] == "" and recs[-1]["right"] == "."
    assert recs[1]["overlapping"] == [
        {"label": "NAME/PATIENT", "start": 4, "end": 11, "text": "Ann Lee"}]
    assert recs[0]["file"] == "d.xml"
    counts = error_counts(recs)
    # strict: tp 1 (DATE), fp 3, fn 3
    assert (counts["false_negative"], counts["false_positive"]) == (3, 3)
    assert counts["by_error"] == {"missed": 1, "spurious": 1, "wrong_type": 2,
                                  "wrong_boundary": 2}
    assert counts["by_label"]["NAME/PATIENT"] == {"false_negative": 1, "false_positive": 2}
    m = score_documents([gold], [pred])["strict"]["micro"]
    assert (m["tp"], m["fp"], m["fn"]) == (1, 3, 3)
    with pytest.raises(ValueError, match="context"):
        error_records([gold], [pred], context=-1)


def test_error_files_begin_with_warning(tmp_path):
    text = "Seen by\nDr. `Lee` today"
    gold = Document("d", text, (Span(12, 17, "NAME/DOCTOR"),))
    files = write_error_files(error_records([gold], []), tmp_path)
    assert files["jsonl"].name == "errors.local.jsonl" and files["md"].name == "errors.local.md"
    lines = read_jsonl(files["jsonl"])
    assert lines[0] == {"warning": ERRORS_WARNING}
    assert lines[1]["text"] == "`Lee`" and lines[1]["left"] == "Seen by\nDr. "
    md = files["md"].read_text(encoding="utf-8")
    assert md.splitlines()[0] == ERRORS_WARNING
    assert "- **FN** missed `NAME/DOCTOR` [12, 17): `…Seen by⏎Dr. ⟦'Lee'⟧ today…`" in md


# -------------------------------------------------------------------------------- CLI errors


def test_cli_argument_errors(tmp_path, capsys):
    assert run_cli() == 2
    assert "give exactly one of --model" in capsys.readouterr().err
    assert run_cli("--pred", DEMO / "test") == 2
    assert "--pred needs --gold" in capsys.readouterr().err
    assert run_cli("--gold", DEMO / "test", "--compare", DEMO / "test") == 2
    assert "two prediction folders" in capsys.readouterr().err
    assert run_cli("--gold", DEMO / "test", "--pred", DEMO / "test", "--write_predictions") == 2
    assert "--write_predictions is for --model" in capsys.readouterr().err
    assert run_cli("--gold", DEMO / "test", "--pred", tmp_path / "nope") == 2
    assert "nope: no such file or folder" in capsys.readouterr().err
    assert run_cli("--gold", DEMO / "test", "--pred", DEMO / "test", "--format", "xml") == 2
    assert "unknown format 'xml'" in capsys.readouterr().err
    assert run_cli("--model", tmp_path / "nomodel", "--data_dir", DEMO) == 2
    assert "no such model folder" in capsys.readouterr().err


def test_cli_bad_prediction_files(tmp_path, capsys):
    pred = tmp_path / "pred"
    shutil.copytree(DEMO / "test", pred)
    # one character appended to the note text of 042-01: texts differ at offset len(gold text)
    path = pred / "042-01.xml"
    gold_len = len(ET.parse(path).getroot().find("TEXT").text)
    raw = path.read_text(encoding="utf-8")
    path.write_text(raw.replace("]]></TEXT>", "X]]></TEXT>", 1), encoding="utf-8")
    assert run_cli("--gold", DEMO / "test", "--pred", pred, "--bootstrap", 0) == 2
    err = capsys.readouterr().err
    assert f"'042-01' (file 042-01.xml): text differs from the gold text at character offset " \
           f"{gold_len}" in err
    path.write_text(raw, encoding="utf-8")
    shutil.copy(path, pred / "999-01.xml")
    assert run_cli("--gold", DEMO / "test", "--pred", pred, "--bootstrap", 0) == 2
    assert "'999-01' (file 999-01.xml) has no gold document" in capsys.readouterr().err


def test_demo_missing_prediction_file_scores_empty(tmp_path):
    pred = tmp_path / "pred"
    shutil.copytree(DEMO / "test", pred)
    gone = pred / "042-01.xml"
    n_gone = len(ET.parse(gone).getroot().find("TAGS"))
    gone.unlink()
    out = tmp_path / "out"
    assert run_cli("--gold", DEMO / "test", "--pred", pred, "--bootstrap", 0, "--output_dir",
                   out, "--write_errors", "false") == 0
    m = read_json(out / "metrics.json")
    # the demo test split has 225 gold spans; the deleted file held n_gone of them
    assert m["strict"]["micro"]["fn"] == n_gone and m["strict"]["micro"]["fp"] == 0
    assert m["strict"]["micro"]["recall"] == approx((225 - n_gone) / 225)
    assert m["evaluation"]["documents_without_prediction"] == 1
    assert not (out / "errors.local.jsonl").exists()
    assert "No error file was written" in (out / "report.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------- physionet: gold vs gold


def _tags(folder):
    """{file: [(category, TYPE, text)]} straight from the XML (independent of the loader)."""
    out = {}
    for f in sorted(folder.glob("*.xml")):
        out[f.name] = [(t.tag, t.get("TYPE"), t.get("text"))
                       for t in ET.parse(f).getroot().find("TAGS")]
    return out


HIPAA = {("DATE", "DATE"), ("LOCATION", "CITY"), ("LOCATION", "ORGANIZATION"),
         ("NAME", "PATIENT"), ("CONTACT", "PHONE")}  # the HIPAA types present in this split


def test_physionet_gold_against_itself_scores_one(tmp_path):
    test = need_shared(PHYSIONET / "test")
    out = tmp_path / "out"
    assert run_cli("--gold", test, "--pred", test, "--format", "i2b2_2014", "--output_dir", out,
                   "--bootstrap", 50) == 0
    m = read_json(out / "metrics.json")
    tags = _tags(test)
    assert (m["documents"], m["gold_spans"], m["pred_spans"]) == (483, 271, 271)
    for name in I2B2_2014_MEASURES:
        micro = m[name]["micro"]
        assert (micro["precision"], micro["recall"], micro["f1"]) == (1.0, 1.0, 1.0), name
        assert micro["fp"] == micro["fn"] == 0 and micro["f1_ci"] == [1.0, 1.0], name
        assert all(v["f1"] == 1.0 for v in m[name]["per_type"].values()), name
        assert m[name]["macro_nonempty"]["f1"] == 1.0, name
    # token counts: the 271 tags hold 489 [A-Za-z0-9]+ tokens, the 140 HIPAA tags 258
    assert m["token"]["micro"]["tp"] == sum(len(re.findall("[A-Za-z0-9]+", t[2]))
                                            for ts in tags.values() for t in ts) == 489
    assert m["hipaa_strict"]["micro"]["tp"] == 140
    assert m["hipaa_token"]["micro"]["tp"] == 258
    # official macro: a note without PHI scores P = R = 0 and still counts
    with_phi = sum(1 for ts in tags.values() if ts)
    with_hipaa = sum(1 for ts in tags.values() if any(t[:2] in HIPAA for t in ts))
    assert (with_phi, with_hipaa) == (142, 85)
    assert m["strict"]["macro"]["precision"] == approx(142 / 483)
    assert m["strict"]["macro"]["f1"] == approx(142 / 483)
    assert m["hipaa_strict"]["macro"]["recall"] == approx(85 / 483)
    assert m["strict"]["macro_nonempty"]["documents"] == 142
    assert m["seqeval"]["micro"]["f1"] == 1.0 and m["seqeval"]["mode"] == "strict IOB2"
    assert "seqeval_lenient" not in m
    assert read_jsonl(out / "errors.local.jsonl") == [{"warning": ERRORS_WARNING}]
    for name in ("report.md", "confusion.png", "confusion.json", "load_report.json",
                 "pred_load_report.json"):
        assert (out / name).is_file(), name


REMOVED = ("005-02.xml", '<DATE id="P0" start="88" end="95" text="4/10/87" TYPE="DATE" '
           'comment="" />')


@pytest.fixture(scope="module")
def one_tag_removed(tmp_path_factory):
    """A copy of the physionet test split without the DATE 4/10/87 [88, 95) of 005-02 (a note
    with 5 tags, all HIPAA: 4 DATE + 1 LOCATION/CITY)."""
    test = need_shared(PHYSIONET / "test")
    pred = tmp_path_factory.mktemp("pred") / "test"
    shutil.copytree(test, pred)
    path = pred / REMOVED[0]
    raw = path.read_text(encoding="utf-8")
    assert raw.count(REMOVED[1]) == 1
    path.write_text(raw.replace(REMOVED[1] + "\n", ""), encoding="utf-8")
    return test, pred


def test_physionet_one_tag_removed_exact_drop(one_tag_removed, tmp_path):
    test, pred = one_tag_removed
    out = tmp_path / "out"
    assert run_cli("--gold", test, "--pred", pred, "--format", "i2b2_2014", "--output_dir", out,
                   "--bootstrap", 100, "--seqeval_lenient") == 0
    m = read_json(out / "metrics.json")
    expected = {
        # measure: (tp, fn) -- fp is 0 everywhere, so P = 1
        "strict": (270, 1), "relaxed": (270, 1), "binary_strict": (270, 1),
        "token": (486, 3), "binary_token": (486, 3),       # "4/10/87" = 3 tokens of 489
        "hipaa_strict": (139, 1), "hipaa_relaxed": (139, 1),  # 140 HIPAA tags (IDNUM left out)
        "hipaa_token": (255, 3),                             # 258 HIPAA tokens
    }
    for name, (tp, fn) in expected.items():
        micro = m[name]["micro"]
        assert (micro["tp"], micro["fp"], micro["fn"]) == (tp, 0, fn), name
        assert micro["precision"] == 1.0, name
        assert micro["recall"] == approx(tp / (tp + fn)), name
        assert micro["f1"] == approx(2 * tp / (2 * tp + fn)), name
        low, high = micro["f1_ci"]
        assert low <= micro["f1"] <= high <= 1.0, name
    assert m["strict"]["micro"]["recall"] == approx(270 / 271)
    assert m["strict"]["micro"]["f1"] == approx(540 / 541)
    date = m["strict"]["per_type"]["DATE"]
    assert (date["tp"], date["fn"], date["support"]) == (99, 1, 100)
    assert date["recall"] == approx(0.99)
    assert m["strict"]["per_category"]["DATE"]["recall"] == approx(0.99)
    assert m["strict"]["per_type"]["DOCTOR"]["f1"] == 1.0
    assert m["token"]["per_type"]["DATE"]["fn"] == 3
    # macro: 005-02 now has R = 4/5 (P still 1); 141 other notes with PHI R = 1; 341 empty = 0
    assert m["strict"]["macro"]["precision"] == approx(142 / 483)
    assert m["strict"]["macro"]["recall"] == approx((141 + 4 / 5) / 483)
    p, r = 142 / 483, (141 + 4 / 5) / 483
    assert m["strict"]["macro"]["f1"] == approx(2 * p * r / (p + r))
    assert m["strict"]["macro_nonempty"]["recall"] == approx((141 + 4 / 5) / 142)
    assert m["hipaa_strict"]["macro"]["recall"] == approx((84 + 4 / 5) / 483)
    # seqeval strict over words: one DATE entity missed
    assert m["seqeval"]["micro"]["recall"] == approx(270 / 271)
    assert m["seqeval_lenient"]["mode"].startswith("lenient")
    # confusion: the removed DATE is the only missed span
    conf = read_json(out / "confusion.json")
    cell = {(r, c): conf["matrix"][i][j] for i, r in enumerate(conf["rows"])
            for j, c in enumerate(conf["columns"])}
    assert cell[("DATE/DATE", MISSED)] == 1 and cell[("DATE/DATE", "DATE/DATE")] == 99
    assert sum(v for (r, c), v in cell.items() if c == MISSED) == 1
    # the error file quotes the note; metrics.json and report.md do not
    errors = read_jsonl(out / "errors.local.jsonl")
    assert errors[0] == {"warning": ERRORS_WARNING}
    (rec,) = errors[1:]
    assert (rec["document"], rec["side"], rec["error"], rec["label"], rec["start"], rec["end"],
            rec["text"]) == ("005-02", "false_negative", "missed", "DATE/DATE", 88, 95, "4/10/87")
    report = (out / "report.md").read_text(encoding="utf-8")
    metrics_text = (out / "metrics.json").read_text(encoding="utf-8")
    for quoted in (rec["left"].strip(), rec["right"].strip(), "4/10/87"):
        assert quoted and quoted not in report and quoted not in metrics_text
    assert "errors.local.jsonl" in report and "must not be shared" in report
    assert "ID/IDNUM is left out, exactly as the official script" in report
    assert (out / "errors.local.md").read_text(encoding="utf-8").startswith(ERRORS_WARNING)


def test_physionet_hipaa_include_idnum(one_tag_removed, tmp_path):
    test, pred = one_tag_removed
    out = tmp_path / "out"
    assert run_cli("--gold", test, "--pred", pred, "--output_dir", out, "--bootstrap", 0,
                   "--hipaa_include_idnum", "--write_errors", "false") == 0
    m = read_json(out / "metrics.json")
    # the one ID/IDNUM tag joins the HIPAA subset: 141 tags, 259 tokens
    micro = m["hipaa_strict"]["micro"]
    assert (micro["tp"], micro["fn"]) == (140, 1)
    assert micro["recall"] == approx(140 / 141)
    assert m["hipaa_token"]["micro"]["recall"] == approx(256 / 259)
    assert m["strict"]["micro"]["recall"] == approx(270 / 271)  # unchanged
    assert "f1_ci" not in m["strict"]["micro"]
    assert m["evaluation"]["hipaa_include_idnum"] is True


def test_physionet_compare(one_tag_removed, tmp_path):
    test, pred = one_tag_removed
    out = tmp_path / "out"
    assert run_cli("--gold", test, "--compare", test, pred, "--compare_method", "randomization",
                   "--bootstrap", 99, "--output_dir", out) == 0
    comp = read_json(out / "comparison.json")
    strict = comp["measures"]["strict"]
    assert (strict["f1_a"], strict["f1_b"]) == (1.0, approx(540 / 541))
    assert strict["difference"] == approx(540 / 541 - 1)
    # only 005-02 differs: every permutation gives |d| = |d_obs|, so p = (99 + 1) / (99 + 1)
    assert strict["p_value"] == 1.0
    assert strict["difference_ci"][1] == 0.0  # B is never better on any resample
    assert comp["measures"]["hipaa_token"]["difference"] == approx(2 * 255 / 513 - 1)
    assert comp["evaluation"]["method"] == "randomization"
    assert "| `strict` | 1.0000 | 0.9982 |" in (out / "report.md").read_text(encoding="utf-8")
    # paired bootstrap: d* = 0 when 005-02 is not drawn (about (1 - 1/483)^483 = 0.37 of the
    # resamples), d* < 0 otherwise -> p = 2 * P(d* >= 0) is about 0.74, far from significant
    out2 = tmp_path / "out2"
    assert run_cli("--gold", test, "--compare", test, pred, "--bootstrap", 400,
                   "--output_dir", out2) == 0
    boot = read_json(out2 / "comparison.json")["measures"]["strict"]
    assert 0.6 < boot["p_value"] < 0.9
    assert boot["difference_ci"][1] == 0.0


# ----------------------------------------------------------------------------- concept task


def test_concepts_jsonl_gold_pred(tmp_path):
    from clinical_ner.documents import write_jsonl

    text = "chest pain ; ECG done ; aspirin given"
    #       0123456789012345678901234567890123456
    gold = [Document("r1", text, (Span(0, 10, "problem"), Span(13, 16, "test"),
                                  Span(24, 31, "treatment")))]
    pred = [Document("r1", text, (Span(6, 10, "problem"), Span(13, 16, "test"),
                                  Span(24, 37, "test")))]
    write_jsonl(gold, tmp_path / "gold" / "notes.jsonl")
    write_jsonl(pred, tmp_path / "pred" / "notes.jsonl")
    out = tmp_path / "out"
    assert run_cli("--gold", tmp_path / "gold", "--pred", tmp_path / "pred", "--format", "jsonl",
                   "--output_dir", out, "--bootstrap", 0) == 0
    m = read_json(out / "metrics.json")
    assert m["evaluation"]["metric_scheme"] == "concepts"
    # exact: only "ECG" -> tp 1, fp 2, fn 2; inexact: "pain" overlaps "chest pain" -> tp 2
    # (the treatment/test overlap differs in type) -> fp 1, fn 1
    assert [m["exact"]["micro"][k] for k in ("tp", "fp", "fn")] == [1, 2, 2]
    assert [m["inexact"]["micro"][k] for k in ("tp", "fp", "fn")] == [2, 1, 1]
    assert m["inexact"]["micro"]["f1"] == approx(2 / 3)
    assert m["inexact"]["per_type"]["problem"]["f1"] == 1.0
    assert m["exact"]["per_type"]["test"] == {"precision": 0.5, "recall": 1.0, "f1": approx(2 / 3),
                                              "tp": 1, "fp": 1, "fn": 0, "support": 1}
    assert m["strict"] == m["exact"]
    assert "relaxed" not in m
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| `inexact` |" in report and "chest" not in report


# ------------------------------------------------------------------------------ model mode


def test_model_mode_scores_like_training(tiny_phi_run, tmp_path):
    out = tmp_path / "eval"
    # training scored test with bootstrap 20 and seed 42 (the TrainingArguments seed)
    assert run_cli("--model", tiny_phi_run, "--data_dir", DEMO, "--format", "i2b2_2014",
                   "--split", "test", "--output_dir", out, "--bootstrap", 20, "--seed", 42,
                   "--write_predictions") == 0
    m = read_json(out / "metrics.json")
    trained = read_json(tiny_phi_run / "metrics.json")
    for name in I2B2_2014_MEASURES:
        assert m[name]["micro"] == trained[name]["micro"], name
        assert m[name]["per_type"] == trained[name]["per_type"], name
    assert m["seqeval"] == trained["seqeval"]
    assert (m["split"], m["documents"], m["gold_spans"]) == ("test", 20, 225)
    ev = m["evaluation"]
    # window settings read from the run's clinical_ner.json (the run used 64/16)
    assert (ev["max_seq_length"], ev["doc_stride"], ev["task"], ev["label_granularity"]) == (
        64, 16, "phi", "type")
    assert ev["predictions"]["format"] == "i2b2_2014" and ev["predictions"]["documents"] == 20
    for name in ("report.md", "confusion.png", "errors.local.jsonl", "errors.local.md"):
        assert (out / name).is_file(), name
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    written = sorted(p.name for p in (out / "predictions").glob("*.xml"))
    assert written == sorted(p.name for p in (DEMO / "test").glob("*.xml"))
    # the written predictions, scored as files, give exactly the model-mode scores
    again = tmp_path / "again"
    assert run_cli("--gold", DEMO / "test", "--pred", out / "predictions", "--output_dir", again,
                   "--bootstrap", 20, "--seed", 42) == 0
    m2 = read_json(again / "metrics.json")
    for name in I2B2_2014_MEASURES:
        assert m2[name]["micro"] == m[name]["micro"], name
    assert m2["evaluation"]["pred_load_problems"] == 0


def test_model_mode_flags_override_run_settings(tiny_phi_run, capsys):
    assert run_cli("--model", tiny_phi_run, "--data_dir", DEMO, "--max_seq_length", 32,
                   "--doc_stride", 8, "--bootstrap", 0, "--write_errors", "false") == 0
    m = read_json(tiny_phi_run / "eval_test" / "metrics.json")  # default output folder
    assert (m["evaluation"]["max_seq_length"], m["evaluation"]["doc_stride"]) == (32, 8)
    assert m["documents"] == 20
    assert run_cli("--model", tiny_phi_run, "--data_dir", DEMO, "--label_granularity",
                   "category", "--bootstrap", 0) == 2
    assert "predicts 63 labels" in capsys.readouterr().err
    assert run_cli("--model", tiny_phi_run, "--data_dir", DEMO, "--label_granularity",
                   "category", "--write_predictions", "--bootstrap", 0) == 2
    assert "CATEGORY/TYPE" in capsys.readouterr().err
    assert run_cli("--model", tiny_phi_run, "--data_dir", DEMO, "--split", "valid") == 2
    assert "split 'valid' is missing" in capsys.readouterr().err


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli("-h")
    assert exc.value.code == 0
    assert "--hipaa_include_idnum" in capsys.readouterr().out


def test_eval_arguments_defaults():
    args = EvalArguments()
    assert (args.split, args.bootstrap, args.seed, args.hipaa_include_idnum) == (
        "test", 1000, 12345, False)
    assert args.write_errors is True and args.write_predictions is False


def test_no_spans_anywhere_gives_strict_json_without_nan(tmp_path):
    for side in ("gold", "pred"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "x.jsonl").write_text('{"id": "1", "text": "nothing here"}\n')
    out = tmp_path / "out"
    assert run_cli("--gold", tmp_path / "gold", "--pred", tmp_path / "pred", "--format", "jsonl",
                   "--output_dir", out, "--bootstrap", 0) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"),
                         parse_constant=lambda c: pytest.fail(f"metrics.json holds {c}"))
    assert metrics["seqeval"]["macro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                           "support": 0}


def test_model_mode_on_a_resurrogated_folder_reports_the_drop(tiny_phi_run, tmp_path):
    from data_scripts.__main__ import main as data_main

    rendered = tmp_path / "rendered"
    assert data_main(["resurrogate", str(DEMO), str(rendered), "--seed", "5",
                      "--locale", "en_GB"]) == 0
    assert run_cli("--model", tiny_phi_run, "--data_dir", rendered, "--split", "test",
                   "--output_dir", tmp_path / "r", "--bootstrap", 0) == 0
    assert run_cli("--model", tiny_phi_run, "--data_dir", DEMO, "--split", "test",
                   "--output_dir", tmp_path / "o", "--bootstrap", 0) == 0
    m, o = read_json(tmp_path / "r" / "metrics.json"), read_json(tmp_path / "o" / "metrics.json")
    rob = m["robustness"]
    assert (rob["seed"], rob["locale"]) == (5, "en_GB")
    assert rob["source"] == str(DEMO.resolve())
    strict = rob["measures"]["strict_f1"]
    assert strict["original"] == o["strict"]["micro"]["f1"]  # the source folder, same model
    assert strict["resurrogated"] == m["strict"]["micro"]["f1"]
    assert strict["drop"] == round(strict["original"] - strict["resurrogated"], 4)
    assert m["gold_spans"] == o["gold_spans"]  # the same gold, re-rendered
    assert "robustness" not in o
