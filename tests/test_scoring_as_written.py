"""Scoring reads prediction and gold files as written, like the official i2b2 2014 scorer
(kotfic/i2b2_evaluation_scripts: per document a *set* of (category, start, end, TYPE) keys; the
``text`` attribute is never read). One hand-built test per rule; expected values by hand.

Gold note (5 PHI): DATE, PATIENT, AGE, HOSPITAL (across a line break), PHONE.
"""

from __future__ import annotations

import json

import pytest

from clinical_ner.documents import FormatError, LoadReport
from clinical_ner.evaluation import EvalArguments, run_evaluation
from data_scripts import brat, conll, i2b2_2010, i2b2_2014

TEXT = ("\nRecord date: 2093-04-11\nMr. Tolliver Quince seen, 67, at Harbor Point\n"
        "Clinic. Call 617-555-0142.\n")
GOLD = [("DATE", "DATE", "2093-04-11"), ("NAME", "PATIENT", "Tolliver Quince"),
        ("AGE", "AGE", "67"), ("LOCATION", "HOSPITAL", "Harbor Point\nClinic"),
        ("CONTACT", "PHONE", "617-555-0142")]


def tag(cat, typ, covered, *, tid="P0", shift_end=0, text=None):
    start = TEXT.index(covered)
    end = start + len(covered) + shift_end
    attr = TEXT[start:end] if text is None else text
    attr = attr.replace("&", "&amp;").replace('"', "&quot;")  # a raw newline stays raw
    return (f'<{cat} id="{tid}" start="{start}" end="{end}" text="{attr}" TYPE="{typ}" '
            'comment="" />')


def xml(tags):
    return ('<?xml version="1.0" encoding="UTF-8" ?>\n<deIdi2b2>\n<TEXT><![CDATA[' + TEXT
            + "]]></TEXT>\n<TAGS>\n" + "\n".join(tags) + "\n</TAGS>\n</deIdi2b2>\n")


def gold_tags():
    return [tag(c, t, s, tid=f"P{i}") for i, (c, t, s) in enumerate(GOLD)]


def score(tmp_path, pred_tags, gold=None, name="101-01.xml"):
    g, p = tmp_path / "gold", tmp_path / "pred"
    g.mkdir(exist_ok=True)
    p.mkdir(exist_ok=True)
    (g / name).write_text(xml(gold or gold_tags()), encoding="utf-8")
    (p / name).write_text(xml(pred_tags), encoding="utf-8")
    out = tmp_path / "out"
    run_evaluation(EvalArguments(gold=str(g), pred=str(p), format="i2b2_2014",
                                 output_dir=str(out), bootstrap=0))
    return json.loads((out / "metrics.json").read_text())


def micro(m, measure="strict"):
    x = m[measure]["micro"]
    return x["tp"], x["fp"], x["fn"], round(x["f1"], 4)


def test_perfect_prediction_scores_one_and_reads_every_tag(tmp_path):
    m = score(tmp_path, gold_tags())
    assert micro(m) == (5, 0, 0, 1.0)
    assert m["evaluation"]["reading"]["gold"] == {
        "reading": "as written", "tags_read": 5, "spans_scored": 5, "differ": 0, "problems": {}}
    assert m["evaluation"]["reading"]["pred"]["differ"] == 0


def test_trailing_whitespace_prediction_is_a_strict_miss_and_a_relaxed_hit(tmp_path):
    # "Tolliver Quince " (one trailing space): the official scorer compares offsets as written
    pred = gold_tags()
    pred[1] = tag("NAME", "PATIENT", "Tolliver Quince", tid="P1", shift_end=1)
    m = score(tmp_path, pred)
    assert micro(m) == (4, 1, 1, 0.8)  # P = R = 4/5
    assert micro(m, "relaxed") == (5, 0, 0, 1.0)  # same start, end within 2
    assert micro(m, "token") == (12, 0, 0, 1.0)  # the space holds no [A-Za-z0-9]+ token
    assert m["evaluation"]["reading"]["pred"]["problems"] == {}


def test_trailing_whitespace_in_gold_is_scored_as_written(tmp_path):
    gold = gold_tags()
    gold[1] = tag("NAME", "PATIENT", "Tolliver Quince", tid="P1", shift_end=1)
    m = score(tmp_path, gold_tags(), gold=gold)
    assert micro(m) == (4, 1, 1, 0.8)


def test_raw_newline_in_text_attribute_is_scored(tmp_path):
    # the HOSPITAL tag's text attribute holds a raw newline (XML parsers read it as a space)
    assert "\n" in GOLD[3][2]
    m = score(tmp_path, gold_tags())
    assert micro(m) == (5, 0, 0, 1.0)
    assert m["strict"]["per_type"]["HOSPITAL"]["tp"] == 1
    assert m["evaluation"]["reading"]["pred"]["problems"] == {}  # no mismatch after normalising


def test_empty_or_wrong_text_attribute_is_scored_with_a_counted_warning(tmp_path):
    pred = gold_tags()
    pred[0] = tag("DATE", "DATE", "2093-04-11", tid="P0", text="")
    pred[2] = tag("AGE", "AGE", "67", tid="P2", text="76")
    m = score(tmp_path, pred)
    assert micro(m) == (5, 0, 0, 1.0)
    assert m["evaluation"]["reading"]["pred"]["problems"] == {"text_mismatch (scored)": 1}
    report = json.loads((tmp_path / "out" / "pred_load_report.json").read_text())
    assert report["counts"]["empty_text_attribute"] == 1


def test_overlapping_predictions_are_all_scored(tmp_path):
    # "Tolliver Quince" PATIENT (right) + "Tolliver" PATIENT + "Quince" DOCTOR (overlaps): both FP
    pred = gold_tags() + [tag("NAME", "PATIENT", "Tolliver", tid="P7"),
                          tag("NAME", "DOCTOR", "Quince", tid="P8")]
    m = score(tmp_path, pred)
    assert micro(m) == (5, 2, 0, round(2 * 5 / 7 / (5 / 7 + 1), 4))  # P 5/7, R 1: F1 0.8333
    assert m["strict"]["per_type"]["DOCTOR"]["fp"] == 1
    assert m["evaluation"]["reading"]["pred"]["spans_scored"] == 7
    assert "seqeval" not in m and "overlap" in m["seqeval_skipped"]


def test_duplicate_prediction_counts_once(tmp_path):
    pred = gold_tags() + [tag("NAME", "PATIENT", "Tolliver Quince", tid="P9")]
    m = score(tmp_path, pred)
    assert micro(m) == (5, 0, 0, 1.0)
    assert m["evaluation"]["reading"]["pred"] == {
        "reading": "as written", "tags_read": 6, "spans_scored": 5, "differ": 1,
        "problems": {"duplicate (scored once)": 1}}
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Files as read" in md and "duplicate (scored once): 1" in md


def test_unknown_type_is_a_false_positive_of_its_own_type(tmp_path):
    pred = gold_tags() + [tag("NAME", "NURSE", "Tolliver Quince", tid="P9")]
    m = score(tmp_path, pred)
    assert micro(m) == (5, 1, 0, round(2 * (5 / 6) / (5 / 6 + 1), 4))  # 0.9091
    assert m["strict"]["per_type"]["NURSE"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                                "tp": 0, "fp": 1, "fn": 0, "support": 0}
    assert m["evaluation"]["reading"]["pred"]["problems"] == {"unknown_label (scored)": 1}


def test_offsets_past_the_text_cannot_be_scored(tmp_path):
    pred = gold_tags() + ['<DATE id="P9" start="10" end="999" text="x" TYPE="DATE" />']
    with pytest.raises(FormatError, match=r"101-01\.xml: record '101-01' tag P9: out_of_bounds"):
        score(tmp_path, pred)


CONLL_GOLD = "Patient O\nhas O\nbreast B-Disease\ncancer I-Disease\nand O\ndiabetes B-Disease\n"


def test_conll_orphan_inside_is_an_error_under_strict_iob2(tmp_path):
    g, p = tmp_path / "gold", tmp_path / "pred"
    g.mkdir()
    p.mkdir()
    (g / "x.tsv").write_text(CONLL_GOLD)
    (p / "x.tsv").write_text(CONLL_GOLD.replace("B-Disease\ncancer", "I-Disease\ncancer"))
    out = tmp_path / "out"
    m = run_evaluation(EvalArguments(gold=str(g), pred=str(p), format="conll", bootstrap=0,
                                     output_dir=str(out), seqeval_lenient=True))
    # strict IOB2: "I-Disease I-Disease" starts no entity: TP 1 (diabetes), FN 1: F1 2/3
    assert m["seqeval"]["mode"] == "strict IOB2"
    assert round(m["seqeval"]["micro"]["f1"], 4) == 0.6667
    assert round(m["seqeval"]["micro"]["precision"], 4) == 1.0
    assert round(m["exact"]["micro"]["f1"], 4) == 0.6667  # the spans agree with seqeval
    assert m["seqeval_lenient"]["micro"]["f1"] == 1.0  # conlleval reads it as an entity
    assert m["evaluation"]["reading"]["pred"]["problems"] == {
        "invalid_iob2 (scored as no entity)": 2}


def test_conll_lone_orphan_scores_zero(tmp_path):
    g, p = tmp_path / "gold", tmp_path / "pred"
    g.mkdir()
    p.mkdir()
    (g / "x.tsv").write_text("breast B-Disease\ncancer I-Disease\n")
    (p / "x.tsv").write_text("breast I-Disease\ncancer I-Disease\n")
    m = run_evaluation(EvalArguments(gold=str(g), pred=str(p), format="conll", bootstrap=0))
    assert m["seqeval"]["micro"]["f1"] == 0.0 and m["exact"]["micro"]["f1"] == 0.0


def test_brat_text_mismatch_scored_as_written(tmp_path):
    (tmp_path / "a.txt").write_text("Took aspirin daily.")
    (tmp_path / "a.ann").write_text("T1\tDrug 5 12\tasprin\nT2\tFrequency 13 18\tdaily\n"
                                    "T3\tDrug 5 12\taspirin\n")
    report = LoadReport("brat", as_written=True)
    (doc,) = brat.read_folder(tmp_path, report, as_written=True)
    assert [(s.start, s.end, s.label) for s in doc.spans] == [(5, 12, "Drug"),
                                                              (13, 18, "Frequency")]
    assert [(p.problem.split(":")[0], p.action) for p in report.problems] == [
        ("text_mismatch", "scored"), ("duplicate", "scored once")]
    assert report.tags_read == 3
    training = LoadReport("brat")
    (doc,) = brat.read_folder(tmp_path, training)
    assert doc.meta["rejected"] == [(5, 12)]  # T1 rejected for training (T3 is kept)


def test_i2b2_2010_text_mismatch_scored_as_written(tmp_path):
    (tmp_path / "txt").mkdir()
    (tmp_path / "concept").mkdir()
    (tmp_path / "txt" / "r.txt").write_text("Patient has chest pain .\n")
    (tmp_path / "concept" / "r.con").write_text('c="chest pains" 1:2 1:3||t="problem"\n'
                                                'c="pain" 1:3 1:3||t="problem"\n')
    report = LoadReport("i2b2_2010", as_written=True)
    (doc,) = i2b2_2010.read_folder(tmp_path, report, as_written=True)
    # overlapping concepts both kept; the c= mismatch is a warning
    assert [(s.start, s.end) for s in doc.spans] == [(12, 22), (18, 22)]
    assert [p.action for p in report.problems] == ["scored"]


def test_upper_case_extensions_are_read(tmp_path):
    (tmp_path / "101-01.XML").write_text(xml(gold_tags()), encoding="utf-8")
    report = LoadReport("i2b2_2014")
    assert [d.id for d in i2b2_2014.read_folder(tmp_path, report)] == ["101-01"]
    b = tmp_path / "brat"
    b.mkdir()
    (b / "a.TXT").write_text("Took aspirin.")
    (b / "a.ANN").write_text("T1\tDrug 5 12\taspirin\n")
    (doc,) = brat.read_folder(b, LoadReport("brat"))
    assert doc.spans[0].label == "Drug"
    c = tmp_path / "c"
    (c / "txt").mkdir(parents=True)
    (c / "concept").mkdir()
    (c / "txt" / "r.TXT").write_text("chest pain .\n")
    (c / "concept" / "r.CON").write_text('c="chest pain" 1:0 1:1||t="problem"\n')
    (doc,) = i2b2_2010.read_folder(c, LoadReport("i2b2_2010"))
    assert len(doc.spans) == 1
    n = tmp_path / "n"
    n.mkdir()
    (n / "train.TSV").write_text("aspirin B-Drug\n")
    assert len(conll.read_path(n, LoadReport("conll"))) == 1


def test_windows_offsets_counting_carriage_returns_are_detected(tmp_path):
    # written on Windows: CR LF in the file and offsets that count the CR (XML parsing drops it)
    text = "\r\nSeen 4/22 by Dr. Amos Velt.\r\n"
    start = text.index("Amos")
    raw = ('<?xml version="1.0" encoding="UTF-8" ?>\r\n<deIdi2b2>\r\n<TEXT><![CDATA[' + text
           + f']]></TEXT>\r\n<TAGS>\r\n<NAME id="P0" start="{start}" end="{start + 9}" '
           'text="Amos Velt" TYPE="DOCTOR" />\r\n</TAGS>\r\n</deIdi2b2>\r\n')
    (tmp_path / "101-01.xml").write_bytes(raw.encode())
    with pytest.raises(FormatError, match=r"101-01\.xml: crlf_offsets: .*carriage returns"):
        i2b2_2014.read_file(tmp_path / "101-01.xml", LoadReport("i2b2_2014"))
    report = LoadReport("i2b2_2014", as_written=True)
    doc = i2b2_2014.read_file(tmp_path / "101-01.xml", report, as_written=True)
    assert doc.spans[0].start == start  # scored as written, never shifted
    assert [p.problem.split(":")[0] for p in report.problems] == ["crlf_offsets",
                                                                   "text_mismatch"]


def test_non_utf8_file_names_file_and_encoding(tmp_path):
    (tmp_path / "101-01.xml").write_bytes(xml(gold_tags()).replace("Quince", "Qu\xefnce")
                                          .encode("latin-1"))
    with pytest.raises(FormatError, match=r"101-01\.xml: encoding error: not UTF-8 at byte"):
        i2b2_2014.read_folder(tmp_path, LoadReport("i2b2_2014"))
    (tmp_path / "101-01.xml").unlink()
    (tmp_path / "a.txt").write_bytes("Took \xe4spirin.".encode("latin-1"))
    with pytest.raises(FormatError, match=r"a\.txt: encoding error"):
        brat.read_folder(tmp_path, LoadReport("brat"))


def test_physionet_perturbed_predictions_score_as_the_official_scorer(tmp_path):
    """The PhysioNet test split as predictions, perturbed: 3 tags with one trailing space, 5
    duplicated, 2 unknown TYPE copies of PATIENT tags, 4 overlapping first-word copies. The
    official scorer (sets of (category, start, end, TYPE) per document) gives by hand: strict
    TP = N - 3, FP = 3 + 2 + 4, FN = 3; relaxed TP = N, FP = 6."""
    from conftest import PHYSIONET, need_shared

    from clinical_ner.documents import Document, Span
    from clinical_ner.evaluation import load_documents

    gold_dir = need_shared(PHYSIONET) / "test"
    gold, _ = load_documents("i2b2_2014", gold_dir)
    n = sum(len(d.spans) for d in gold)
    budget = {"trail": 3, "dup": 5, "nurse": 2, "overlap": 4}
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    for d in gold:
        spans = []
        for s in d.spans:
            t = d.text
            if budget["trail"] and s.end < len(t) and t[s.end] == " ":
                budget["trail"] -= 1
                spans.append(Span(s.start, s.end + 1, s.label))
                continue
            spans.append(s)
            if budget["dup"]:
                budget["dup"] -= 1
                spans.append(s)
            elif budget["nurse"] and s.label == "NAME/PATIENT":
                budget["nurse"] -= 1
                spans.append(Span(s.start, s.end, "NAME/NURSE"))
            elif budget["overlap"] and " " in d.span_text(s):
                budget["overlap"] -= 1
                spans.append(Span(s.start, s.start + d.span_text(s).index(" "), s.label))
        doc = Document(d.id, d.text)
        doc.spans = tuple(sorted(spans))  # duplicates kept, as a system could write them
        i2b2_2014.write_file(doc, pred_dir / f"{d.id}.xml")
    assert not any(budget.values())
    m = run_evaluation(EvalArguments(gold=str(gold_dir), pred=str(pred_dir), bootstrap=0,
                                     format="i2b2_2014"))
    assert micro(m)[:3] == (n - 3, 9, 3)
    assert micro(m, "relaxed")[:3] == (n, 6, 0)
    reading = m["evaluation"]["reading"]["pred"]
    assert reading["tags_read"] == n + 5 + 2 + 4 and reading["differ"] == 5
    assert reading["problems"] == {"duplicate (scored once)": 5, "unknown_label (scored)": 2}


def test_tag_without_type_is_an_error_when_scoring_and_dropped_for_training(tmp_path):
    tags = gold_tags() + ['<NAME id="P9" start="29" end="44" text="Tolliver Quince" />']
    with pytest.raises(FormatError, match=r"tag P9: missing_type: <NAME> tag \[29, 44\)"):
        score(tmp_path, tags)
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "101-01.xml").write_text(xml(tags), encoding="utf-8")
    report = LoadReport("i2b2_2014")
    (doc,) = i2b2_2014.read_folder(tmp_path / "t", report)
    assert len(doc.spans) == 5 and [p.problem.split(":")[0] for p in report.problems] == [
        "missing_type"]
    assert doc.meta["rejected"] == [(29, 44)]  # kept out of the training loss
