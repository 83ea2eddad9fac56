"""Format loaders (i2b2 2006, i2b2 2010, brat, CoNLL, JSONL): exact on the shared samples, the
load-report figures of the open corpora (MACCROBAT2020, NCBI disease), the CLI, splits, and the
format-specific quirks on tiny hand-made files."""

import json
from collections import Counter

import pytest
from conftest import SAMPLES, SHARED, need_shared

from clinical_ner.documents import FormatError, LoadReport, Span
from data_scripts import brat, conll, i2b2_2006, i2b2_2010, i2b2_2014, jsonl, load_corpus
from data_scripts.__main__ import main as cli_main
from data_scripts.loader_common import split_of_name

MACCROBAT = SHARED / "data" / "maccrobat2020" / "MACCROBAT2020"
NCBI = SHARED / "data" / "ncbi-disease"


def expected(name):
    folder = need_shared(SAMPLES / name)
    return [json.loads(x) for x in (folder / "expected.jsonl").read_text().splitlines()]


def as_expected(doc, spans_key="spans"):
    return {"id": doc.id, "text": doc.text, spans_key: doc.to_json()["spans"]}


# ----------------------------------------------------------------------------- shared samples

def test_i2b2_2006_sample_exact():
    exp = expected("i2b2_2006")
    report = LoadReport("i2b2_2006")
    docs = i2b2_2006.read_path(SAMPLES / "i2b2_2006" / "deid_surrogate_sample.xml", report)
    assert [as_expected(d) for d in docs] == exp
    assert report.problems == [] and report.documents == 3 and report.spans == 30
    d101 = docs[0]
    # escapes are one character each in the parsed text: "Bamford & Hale Rehabilitation"
    assert d101.span_text(Span(690, 719, "HOSPITAL")) == "Bamford & Hale Rehabilitation"
    assert d101.text.startswith("\n") and d101.text.endswith("[ report_end ]\n")


def test_i2b2_2010_sample_exact():
    exp = expected("i2b2_2010")
    report = LoadReport("i2b2_2010")
    docs = i2b2_2010.read_folder(SAMPLES / "i2b2_2010", report)
    assert [as_expected(d) for d in docs] == exp
    assert report.problems == [] and report.counts["i2b2_2010:concept_lines"] == 32
    # "pulmonary embolism" 13:21 14:0 crosses the line break
    assert docs[0].span_text(Span(610, 628, "problem")) == "pulmonary\nembolism"


@pytest.mark.parametrize("policy,key", [("join", "spans"), ("split", "spans_split"),
                                        ("drop", "spans_drop")])
def test_brat_sample_exact_under_each_policy(policy, key):
    exp = expected("brat")
    report = LoadReport("brat")
    docs = brat.read_folder(SAMPLES / "brat", report, discontinuous=policy)
    assert [as_expected(d, key) for d in docs] == [
        {"id": e["id"], "text": e["text"], key: e[key]} for e in exp]
    assert report.counts["discontinuous"] == 1 and report.counts[f"discontinuous_{policy}"] == 1
    (p,) = report.problems
    assert (p.record, p.tag_id, p.start, p.end) == ("104211", "T22", 522, 540)
    assert p.action == {"join": "joined", "split": "split", "drop": "dropped"}[policy]
    assert "[522, 530); [534, 540)" in p.problem


def test_brat_sample_counts_per_document():
    for e in expected("brat"):
        report = LoadReport("brat")
        doc = brat.read_document(SAMPLES / "brat" / f"{e['id']}.txt",
                                 SAMPLES / "brat" / f"{e['id']}.ann", report)
        c = report.counts
        assert {"T": c["brat_lines:T"], "R": c["brat_lines:R"], "notes": c["brat_lines:#"],
                "discontinuous": c["discontinuous"]} == e["counts"]
        frags = [{"id": p.tag_id, "label": "Drug"} for p in report.problems]
        assert frags == [{"id": d["id"], "label": d["label"]} for d in e["discontinuous"]]
        # characters, not bytes: the ° µ – before later entities do not shift them
        assert all(doc.span_text(s) == doc.text[s.start:s.end] for s in doc.spans)


def test_conll_sample_exact():
    exp = expected("conll")
    report = LoadReport("conll")
    docs = conll.read_file(SAMPLES / "conll" / "sample.tsv", report)
    assert [as_expected(d) for d in docs] == exp
    assert report.problems == [] and dict(report.counts) == {}


@pytest.mark.parametrize("name", ["i2b2_2006", "i2b2_2010", "brat", "conll", "i2b2_2014"])
def test_jsonl_reads_every_expected_file_back_exactly(name):
    exp = expected(name)
    report = LoadReport("jsonl")
    docs = jsonl.read_path(SAMPLES / name / "expected.jsonl", report)
    assert [as_expected(d) for d in docs] == [{k: e[k] for k in ("id", "text", "spans")}
                                              for e in exp]
    assert report.problems == []


@pytest.mark.parametrize("fmt,path", [
    ("i2b2_2006", "i2b2_2006/deid_surrogate_sample.xml"), ("i2b2_2010", "i2b2_2010"),
    ("brat", "brat"), ("conll", "conll/sample.tsv"), ("jsonl", "conll/expected.jsonl")])
def test_cli_dump_equals_expected(fmt, path, tmp_path, capsys):
    need_shared(SAMPLES)
    name = path.split("/")[0]
    rc = cli_main([fmt, str(SAMPLES / path), "--report", str(tmp_path / "r.json"),
                   "--dump", str(tmp_path / "d.jsonl")])
    assert rc == 0
    lines = (tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()
    dumped = {r["id"]: r for r in map(json.loads, lines)}
    exp = expected(name)
    assert len(dumped) == len(exp)
    for e in exp:
        assert dumped[e["id"]]["text"] == e["text"] and dumped[e["id"]]["spans"] == e["spans"]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["documents"] == len(exp)
    assert report["spans"] == sum(len(e["spans"]) for e in exp)
    # the report holds no note text
    texts = [e["text"] for e in exp]
    raw = (tmp_path / "r.json").read_text()
    assert not any(t.strip()[:40] in raw for t in texts)
    assert json.loads(capsys.readouterr().out)["documents"] == len(exp)


# --------------------------------------------------------------------------- open corpora

def test_maccrobat_brat_with_concept_map_report(tmp_path):
    need_shared(MACCROBAT)
    assert cli_main(["brat", str(MACCROBAT), "--task", "maccrobat_concepts",
                     "--report", str(tmp_path / "r.json")]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["documents"] == 200 and r["characters"] == 565716
    assert r["per_label"] == {"Diagnostic_procedure": 4588, "Disease_disorder": 1352,
                              "Medication": 1078, "Sign_symptom": 3369,
                              "Therapeutic_procedure": 1032}
    assert r["spans"] == r["round_trip_spans"] == 11419
    c = r["counts"]
    # PROVENANCE.md: 25,189 T entities, 44 discontinuous; E/R/A/*/# lines counted, not entities
    assert c["brat_lines:T"] == 25189 and c["discontinuous"] == c["discontinuous_join"] == 44
    assert (c["brat_lines:E"], c["brat_lines:R"], c["brat_lines:A"], c["brat_lines:*"],
            c["brat_lines:#"]) == (14368, 16307, 1416, 2023, 335)
    kinds = Counter(p["problem"].split(":")[0] + "/" + p["action"] for p in r["problems"])
    assert kinds == {"discontinuous/joined": 44, "overlap/dropped": 39}  # no text mismatch
    not_in_task = sum(v for k, v in c.items() if k.startswith("not_in_task:"))
    assert c["not_in_task:History"] == 392 and c["not_in_task:Lab_value"] == 2848
    # no span silently lost: every T line is kept, outside the task, or dropped and reported
    assert 11419 + not_in_task + kinds["overlap/dropped"] == 25189
    assert r["splits"]["documents"] == {"train": 140, "dev": 20, "test": 40}
    assert r["splits"]["method"].startswith("seeded split by patient/document (seed 1701")


def test_maccrobat_brat_native_labels():
    need_shared(MACCROBAT)
    splits, r = load_corpus("brat", MACCROBAT)
    kinds = Counter(p.problem.split(":")[0] for p in r.problems)
    assert r.spans == 24711 and r.per_label["Multi-tissue_structure"] == 0
    assert kinds == {"overlap": 478, "discontinuous": 44, "trimmed_whitespace": 3}
    assert r.spans + kinds["overlap"] == 25189 == r.counts["brat_lines:T"]
    # 25661749.ann T145 has a stray "\t\u2005" tail: split on the first two tabs, it matches
    doc = next(d for v in splits.values() for d in v if d.id == "25661749")
    assert len(doc.spans) > 100


def test_ncbi_conll_report(tmp_path):
    need_shared(NCBI)
    assert cli_main(["conll", str(NCBI / "conll"), "--task", "ncbi_disease",
                     "--report", str(tmp_path / "r.json")]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    # no -DOCSTART-: one document per sentence (5432 + 923 + 940 blank-line-ended sentences)
    assert r["documents"] == 7295 and r["counts"]["conll:sentence_documents"] == 7295
    assert r["splits"]["documents"] == {"dev": 923, "test": 940, "train": 5432}
    assert r["splits"]["method"].startswith("corpus files")
    assert r["spans"] == r["round_trip_spans"] == 6892 and r["per_label"] == {"Disease": 6892}
    assert r["problems"] == []


def test_ncbi_brat_report_and_agreement_with_conll(tmp_path):
    need_shared(NCBI)
    assert cli_main(["brat", str(NCBI / "standoff"), "--task", "ncbi_disease",
                     "--report", str(tmp_path / "r.json")]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["documents"] == 793  # 593 + 100 + 100 (8528200 and 8528200.1 both in train)
    assert r["splits"] == {"method": "corpus folders",
                           "documents": {"dev": 100, "test": 100, "train": 593}}
    assert r["spans"] == r["round_trip_spans"] == 6892  # PROVENANCE.md: 6892/6892
    assert r["per_label"] == {"CompositeMention": 170, "DiseaseClass": 1016, "Modifier": 1767,
                              "SpecificDisease": 3939}
    assert r["counts"] == {"brat_lines:N": 7038, "brat_lines:T": 6892}
    assert r["problems"] == []
    # per split, the same mentions (whitespace removed) as the CoNLL form: B- tags 5145/787/960
    b, _ = load_corpus("brat", NCBI / "standoff")
    c, _ = load_corpus("conll", NCBI / "conll")
    def mentions(docs):
        return Counter("".join(d.span_text(s).split()) for d in docs for s in d.spans)

    for split, n in {"train": 5145, "dev": 787, "test": 960}.items():
        bm, cm = mentions(b[split]), mentions(c[split])
        assert sum(bm.values()) == sum(cm.values()) == n
        if split != "train":
            assert bm == cm
    bm, cm = mentions(b["train"]), mentions(c["train"])
    # two train mentions end inside a word in the original data; standoff keeps the given end,
    # the CoNLL conversion extended them to the token end
    assert dict(cm - bm) == {"autosomaldominantdisorder": 1,
                             "absenceoftheseventhcomponentofcomplement": 1}
    assert dict(bm - cm) == {"autosomaldominantdisorde": 1,
                             "absenceoftheseventhcomponentofcomplemen": 1}


# ----------------------------------------------------------------------------- i2b2 2006

XML_2006 = """<ROOT>
<RECORD ID="7">
<TEXT>
Seen on <PHI TYPE="DATE">25th of July<PHI TYPE="DOCTOR"> by Dr. \
<PHI TYPE="DOCTOR">Velt</PHI> &amp; team.
[ report_end ]
</TEXT>
</RECORD>
<RECORD ID="8">
<TEXT>
<PHI TYPE="PATIENT">O&apos;Hara</PHI> &lt;3 <PHI TYPE="ALIEN">x</PHI>
</TEXT>
</RECORD>
</ROOT>
"""


def test_i2b2_2006_malformed_tag_repaired_and_reported(tmp_path):
    f = tmp_path / "deid_surrogate_train_all_version2.xml"
    f.write_text(XML_2006)
    report = LoadReport("i2b2_2006")
    d7, d8 = i2b2_2006.read_file(f, report)
    assert d7.text == "\nSeen on 25th of July by Dr. Velt & team.\n[ report_end ]\n"
    assert d7.spans == (Span(9, 21, "DATE"), Span(29, 33, "DOCTOR"))
    assert d8.text == "\nO'Hara <3 x\n" and d8.spans == (Span(1, 7, "PATIENT"),
                                                          Span(11, 12, "ALIEN"))
    assert d7.meta["split"] == d8.meta["split"] == "train"
    kinds = [(p.problem.split(":")[0], p.record, p.action) for p in report.problems]
    assert kinds == [("repaired_tag", "7", "repaired"), ("unknown_label", "8", "kept")]
    assert "line 4" in report.problems[0].problem
    assert "July" not in json.dumps(report.to_json())  # the report holds no note text
    assert report.counts["i2b2_2006:records_without_report_end"] == 1


def test_i2b2_2006_strip_report_end_keeps_offsets(tmp_path):
    f = tmp_path / "sample.xml"
    f.write_text(XML_2006)
    report = LoadReport("i2b2_2006")
    d7, d8 = i2b2_2006.read_file(f, report, strip_report_end=True)
    assert d7.text == "\nSeen on 25th of July by Dr. Velt & team.\n"
    assert d7.spans == (Span(9, 21, "DATE"), Span(29, 33, "DOCTOR"))
    assert d8.text == "\nO'Hara <3 x\n"  # no marker: unchanged, counted
    assert report.counts["i2b2_2006:report_end_stripped"] == 1
    assert d7.meta["split"] is None


def test_i2b2_2006_other_xml_errors_name_file_line_column(tmp_path):
    f = tmp_path / "bad.xml"
    f.write_text('<ROOT>\n<RECORD ID="1"><TEXT>a <PHI TYPE="DATE">b</TEXT></RECORD>\n</ROOT>\n')
    with pytest.raises(FormatError, match=r"bad\.xml: not well-formed XML at line 2, column"):
        i2b2_2006.read_file(f, LoadReport("i2b2_2006"))


def test_i2b2_2006_folder_splits_and_untagged_test_copy(tmp_path):
    rec = '<ROOT><RECORD ID="{}"><TEXT>\nDr. <PHI TYPE="DOCTOR">Velt</PHI>\n</TEXT></RECORD></ROOT>'
    (tmp_path / "deid_surrogate_train_all_version2.xml").write_text(
        rec.format(1).replace("</ROOT>", "") + rec.format(2).replace("<ROOT>", ""))
    (tmp_path / "deid_surrogate_test_all_groundtruth_version2.xml").write_text(rec.format(3))
    (tmp_path / "deid_surrogate_test_all_version2.xml").write_text(
        '<ROOT><RECORD ID="3"><TEXT>\nDr. Velt\n</TEXT></RECORD></ROOT>')
    splits, report = load_corpus("i2b2_2006", tmp_path)
    # train has no dev: seeded dev = max(1, round(10 % of 2 records)) = 1 record; seed 1701
    # shuffles ["1", "2"] to ["1", "2"], so record 1 goes to dev
    assert {k: [d.id for d in v] for k, v in splits.items()} == {
        "test": ["3"], "train": ["2"], "dev": ["1"]}
    assert report.splits["documents"] == {"test": 1, "train": 1, "dev": 1}
    assert splits["test"][0].spans == (Span(5, 9, "DOCTOR"),)
    assert "no dev split in the corpus: seeded dev" in report.splits["method"]
    (p,) = report.problems
    assert p.action == "skipped file" and p.file.endswith("deid_surrogate_test_all_version2.xml")


# ----------------------------------------------------------------------------- i2b2 2010

def make_2010(tmp_path, txt, con, name="rec-1"):
    (tmp_path / "txt").mkdir(exist_ok=True)
    (tmp_path / "concept").mkdir(exist_ok=True)
    (tmp_path / "txt" / f"{name}.txt").write_bytes(txt.encode())
    (tmp_path / "concept" / f"{name}.con").write_bytes(con.encode())
    return tmp_path


def test_i2b2_2010_duplicates_collapse_and_bad_lines_fail(tmp_path):
    folder = make_2010(tmp_path, "Aspirin given .\n",
                       'c="aspirin" 1:0 1:0||t="treatment"\n'
                       'c="aspirin" 1:0 1:0||t="treatment"\n')
    report = LoadReport("i2b2_2010")
    (doc,) = i2b2_2010.read_folder(folder, report)
    assert doc.spans == (Span(0, 7, "treatment"),)
    assert [(p.problem.split(":")[0], p.action) for p in report.problems] == [
        ("duplicate", "collapsed")]
    (tmp_path / "concept" / "rec-1.con").write_text('c="aspirin" 1:0||t="treatment"\n')
    with pytest.raises(FormatError, match=r"rec-1\.con:1: not a concept line"):
        i2b2_2010.read_folder(folder, LoadReport("i2b2_2010"))


def test_i2b2_2010_crlf_lines_and_nested_folders(tmp_path):
    (tmp_path / "beth").mkdir()
    make_2010(tmp_path / "beth", "Chest pain .\r\nNo fever .\r\n",
              'c="fever" 2:1 2:1||t="problem"\n')
    report = LoadReport("i2b2_2010")
    (doc,) = i2b2_2010.read_folder(tmp_path, report)  # finds beth/txt + beth/concept
    assert doc.text == "Chest pain .\nNo fever ." and doc.spans == (Span(16, 21, "problem"),)
    assert report.counts["i2b2_2010:crlf_lines"] == 2


# ---------------------------------------------------------------------------------- brat

def test_brat_lines_counted_t_split_on_first_two_tabs(tmp_path):
    (tmp_path / "a.txt").write_text("Multi-tissue mass in the chest .\n")
    (tmp_path / "a.ann").write_text(
        "T1\tMulti-tissue_structure 0 12\tMulti-tissue\t\u2005\n"
        "T2\tSign_symptom 13 17\tmass\nE1\tSign_symptom:T2 \nA1\tPolarity E1 NEG\n"
        "R1\tMODIFY Arg1:T1 Arg2:E1\t\nN1\tReference T2 MeSH:D0001\n*\tOverlap T1 T2\n"
        "#1\tAnnotatorNotes T1\tnote\n")
    report = LoadReport("brat")
    (doc,) = brat.read_folder(tmp_path, report)
    assert doc.spans == (Span(0, 12, "Multi-tissue_structure"), Span(13, 17, "Sign_symptom"))
    assert {k: v for k, v in report.counts.items() if k.startswith("brat_lines")} == {
        "brat_lines:T": 2, "brat_lines:E": 1, "brat_lines:A": 1, "brat_lines:R": 1,
        "brat_lines:N": 1, "brat_lines:*": 1, "brat_lines:#": 1}
    assert report.problems == []


def test_brat_text_mismatch_reported_and_bad_t_line_fails(tmp_path):
    (tmp_path / "a.txt").write_text("aspirin daily\n")
    (tmp_path / "a.ann").write_text("T1\tDrug 0 7\taspirin\nT2\tFrequency 8 13\tweekly\n")
    report = LoadReport("brat")
    (doc,) = brat.read_folder(tmp_path, report)
    assert doc.spans == (Span(0, 7, "Drug"),)
    (p,) = report.problems
    assert (p.tag_id, p.start, p.end, p.action) == ("T2", 8, 13, "dropped")
    assert p.problem.startswith("text_mismatch: T2 Frequency")
    (tmp_path / "a.ann").write_text("T1\tDrug 0 x7\taspirin\n")
    with pytest.raises(FormatError, match=r"a\.ann: record 'a' line 1 \(T1\): offsets"):
        brat.read_folder(tmp_path, LoadReport("brat"))
    (tmp_path / "b.ann").write_text("T1\tDrug 0 7\taspirin\n")
    with pytest.raises(FormatError, match=r"b\.ann: \.ann without its \.txt"):
        brat.read_folder(tmp_path, LoadReport("brat"))


def test_brat_non_ascii_offsets_are_characters(tmp_path):
    text = "T 38.9 °C; 25 µg/hr – fentanyl\n"
    (tmp_path / "a.txt").write_bytes(text.encode("utf-8"))
    start = text.index("fentanyl")
    assert start == 22 and len(text[:start].encode("utf-8")) == 26  # bytes would shift it by 4
    (tmp_path / "a.ann").write_text(f"T1\tDrug {start} {start + 8}\tfentanyl\n", encoding="utf-8")
    (doc,) = brat.read_folder(tmp_path, LoadReport("brat"))
    assert doc.spans == (Span(22, 30, "Drug"),) and doc.span_text(doc.spans[0]) == "fentanyl"


def test_brat_bad_policy_and_bad_utf8(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"ok \xff bad\n")
    with pytest.raises(FormatError, match="discontinuous must be one of"):
        brat.read_folder(tmp_path, LoadReport("brat"), discontinuous="merge")
    with pytest.raises(FormatError, match=r"a\.txt: encoding error: not UTF-8 at byte offset 3"
                       ):
        brat.read_folder(tmp_path, LoadReport("brat"))


# --------------------------------------------------------------------------------- conll

def test_conll_no_docstart_sentence_documents_and_bad_tag(tmp_path):
    f = tmp_path / "devel.tsv"
    f.write_text("Breast\tB-Disease\ncancer\tI-Disease\n.\tO\n\nNo\tO\nsigns\tO\n")
    report = LoadReport("conll")
    d0, d1 = conll.read_file(f, report)
    assert (d0.id, d0.text, d0.spans) == ("devel-0", "Breast cancer .",
                                          (Span(0, 13, "Disease"),))
    assert (d1.id, d1.text, d1.spans) == ("devel-1", "No signs", ())
    assert d0.meta["split"] == "dev" and report.counts["conll:sentence_documents"] == 2
    f.write_text("Breast\tB-Disease\ncancer\tE-Disease\n")
    with pytest.raises(FormatError, match=r"devel\.tsv:2: bad tag 'E-Disease'"):
        conll.read_file(f, LoadReport("conll"))
    f.write_text("Breast\n")
    with pytest.raises(FormatError, match=r"devel\.tsv:1: expected a token and a label"):
        conll.read_file(f, LoadReport("conll"))


def test_conll_four_columns_and_docstart(tmp_path):
    f = tmp_path / "x.conll"
    f.write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
                 "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n")
    report = LoadReport("conll")
    d0, d1 = conll.read_file(f, report)
    assert (d0.id, d0.text, d0.spans) == ("x-0", "EU rejects", (Span(0, 2, "ORG"),))
    assert (d1.id, d1.text, d1.spans) == ("x-1", "Peter Blackburn", (Span(0, 15, "PER"),))
    assert d0.meta["split"] is None and dict(report.counts) == {}



# ----------------------------------------------------------------------------- i2b2 2014

I2B2_TEXT = "\nRecord date: 2093-04-11\nMr. Tolliver Quince, 67.\n"
I2B2_DATE = '<DATE id="P0" start="14" end="24" text="2093-04-11" TYPE="DATE" />'


def write_i2b2_2014(path, text=I2B2_TEXT, tags=(I2B2_DATE,), body=None):
    body = body or f"<TEXT><![CDATA[{text}]]></TEXT><TAGS>{''.join(tags)}</TAGS>"
    path.write_text(f"<deIdi2b2>{body}</deIdi2b2>", encoding="utf-8")
    return path


@pytest.mark.parametrize("start, end, problem", [
    ("2_9", "37", "bad_offsets: start/end '2_9', '37' missing or not integers"),
    ("\uff12\uff19", "37", "bad_offsets: start/end '\uff12\uff19', '37' missing or not integers"),
    (" 29", "37", "bad_offsets: start/end ' 29', '37' missing or not integers"),
    ("+29", "37", "bad_offsets: start/end '+29', '37' missing or not integers"),
    ("29.0", "37", "bad_offsets: start/end '29.0', '37' missing or not integers"),
    ("37", "29", "bad_offsets: [37, 29) is empty or reversed"),
    ("-2", "37", "out_of_bounds: [-2, 37) outside the text (50 characters)"),
])
def test_i2b2_2014_offsets_are_plain_integers_never_reinterpreted(tmp_path, start, end, problem):
    tag = f'<NAME id="P1" start="{start}" end="{end}" text="Tolliver" TYPE="PATIENT" />'
    report = LoadReport("i2b2_2014")
    doc = i2b2_2014.read_file(write_i2b2_2014(tmp_path / "100-01.xml",
                                              tags=(I2B2_DATE, tag)), report)
    assert [s.label for s in doc.spans] == ["DATE/DATE"]
    assert [(p.tag_id, p.problem, p.action) for p in report.problems] == [
        ("P1", problem, "dropped")]


@pytest.mark.parametrize("body, message", [
    ("<TEXT>\nRecord date: <b>x</b> 2093-04-11</TEXT><TAGS/>",
     r"<TEXT> holds a <b> element after character 14"),
    (f"<TEXT>{I2B2_TEXT}</TEXT><TEXT>more</TEXT><TAGS>{I2B2_DATE}</TAGS>",
     r"2 <TEXT> and 1 <TAGS> elements \(expected one of each\)"),
    (f"<TEXT>{I2B2_TEXT}</TEXT><TAGS>{I2B2_DATE}</TAGS><TAGS/>",
     r"1 <TEXT> and 2 <TAGS> elements"),
])
def test_i2b2_2014_text_or_tags_never_silently_cut(tmp_path, body, message):
    path = write_i2b2_2014(tmp_path / "100-01.xml", body=body)
    with pytest.raises(FormatError, match=r"100-01\.xml: " + message):
        i2b2_2014.read_file(path, LoadReport("i2b2_2014"))


def test_i2b2_2006_record_with_two_texts_is_an_error(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text('<ROOT><RECORD ID="1"><TEXT>a <PHI TYPE="DATE">03</PHI></TEXT>'
                    '<TEXT>b <PHI TYPE="DATE">04</PHI></TEXT></RECORD></ROOT>')
    with pytest.raises(FormatError, match=r"x\.xml: record '1' has 2 <TEXT> elements"):
        i2b2_2006.read_file(path, LoadReport("i2b2_2006"))



def test_brat_unicode_digit_offsets_fail_and_duplicate_t_id_reported(tmp_path):
    (tmp_path / "d.txt").write_text("Started metoprolol 25 mg PO BID.\n")
    (tmp_path / "d.ann").write_text("T1\tDrug \uff18 18\tmetoprolol\n")
    with pytest.raises(FormatError, match=r"d\.ann: record 'd' line 1 \(T1\): offsets"):
        brat.read_folder(tmp_path, LoadReport("brat"))
    (tmp_path / "d.ann").write_text("T1\tDrug 8 18\tmetoprolol\nT1\tRoute 25 27\tPO\n")
    report = LoadReport("brat")
    [doc] = brat.read_folder(tmp_path, report)
    assert len(doc.spans) == 2
    assert [(p.tag_id, p.start, p.end, p.problem, p.action) for p in report.problems] == [
        ("T1", 25, 27, "duplicate_id: T1 on line 2 was already defined on line 1", "kept")]


def test_i2b2_2010_unknown_type_kept_and_reported(tmp_path):
    (tmp_path / "txt").mkdir()
    (tmp_path / "concept").mkdir()
    (tmp_path / "txt" / "r1.txt").write_text("Patient admitted with chest pain .\n")
    (tmp_path / "concept" / "r1.con").write_text('c="chest pain" 1:3 1:4||t="disease"\n')
    report = LoadReport("i2b2_2010")
    [doc] = i2b2_2010.read_folder(tmp_path, report)
    assert doc.spans == (Span(22, 32, "disease"),)
    assert [(p.start, p.end, p.problem, p.action) for p in report.problems] == [
        (22, 32, "unknown_label: line 1: disease is not an i2b2 2010 type "
                 "(problem/test/treatment)", "kept")]


def test_conll_bom_stripped_blank_token_and_empty_files(tmp_path):
    (tmp_path / "x.tsv").write_bytes(b"\xef\xbb\xbf-DOCSTART-\tO\n\nchest\tB-problem\n")
    report = LoadReport("conll")
    [doc] = conll.read_path(tmp_path, report)
    assert (doc.id, doc.text, doc.spans) == ("x-0", "chest", (Span(0, 5, "problem"),))
    assert report.counts["conll:bom_stripped"] == 1
    (tmp_path / "x.tsv").write_text("\tB-problem\n")
    with pytest.raises(FormatError, match=r"x\.tsv:1: empty or blank token in the first column"):
        conll.read_path(tmp_path, LoadReport("conll"))
    (tmp_path / "x.tsv").write_text("-DOCSTART-\tO\n\n")
    with pytest.raises(FormatError, match="no documents in any file"):
        load_corpus("conll", tmp_path)
    (tmp_path / "y.tsv").write_text("chest\tB-problem\n")
    (tmp_path / "x.tsv").write_text("")
    splits, report = load_corpus("conll", tmp_path)
    assert sum(len(v) for v in splits.values()) == 1
    assert [(p.file.endswith("x.tsv"), p.problem) for p in report.problems] == [
        (True, "empty_file: no token lines")]


def test_jsonl_empty_file_reported_and_empty_corpus_fails(tmp_path):
    (tmp_path / "x.jsonl").write_text("\n")
    with pytest.raises(FormatError, match="no documents in any file"):
        load_corpus("jsonl", tmp_path)
    (tmp_path / "y.jsonl").write_text('{"id": "1", "text": "a"}\n')
    report = LoadReport("jsonl")
    assert len(jsonl.read_path(tmp_path, report)) == 1
    assert [p.problem for p in report.problems] == ["empty_file: no records"]


# --------------------------------------------------------------------------------- jsonl

def test_jsonl_mismatch_duplicate_id_and_split_names(tmp_path):
    rec = {"id": "214-01", "text": "Dr. Velt", "spans": [{"start": 4, "end": 8,
                                                          "label": "NAME/DOCTOR", "text": "Velt"}]}
    (tmp_path / "train.jsonl").write_text(json.dumps(rec) + "\n")
    (tmp_path / "test.jsonl").write_text(json.dumps({**rec, "id": "215-01"}) + "\n")
    report = LoadReport("jsonl")
    docs = jsonl.read_path(tmp_path, report)
    assert [(d.id, d.meta["split"], d.meta["patient"]) for d in docs] == [
        ("215-01", "test", "215"), ("214-01", "train", "214")]
    (tmp_path / "test.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(FormatError, match="record '214-01' appears more than once"):
        jsonl.read_path(tmp_path, LoadReport("jsonl"))
    bad = {**rec, "spans": [{"start": 3, "end": 8, "label": "NAME/DOCTOR", "text": "Velt"}]}
    (tmp_path / "test.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(FormatError, match=r"test\.jsonl:1: record '214-01': span \[3, 8\)"):
        jsonl.read_path(tmp_path / "test.jsonl", LoadReport("jsonl"))



@pytest.mark.parametrize("line, message", [
    ("[1, 2]", r"x\.jsonl:1: a record must be a JSON object, got list"),
    ("null", r"x\.jsonl:1: a record must be a JSON object, got NoneType"),
    ('{"id": null, "text": "abc"}', r"'id' must be a string or an integer, got NoneType"),
    ('{"id": "1", "text": 5}', r"bad record '1': 'text' must be a string, got int"),
    ('{"id": "1", "text": ["a"], "spans": []}', r"'text' must be a string, got list"),
    ('{"id": "1", "text": "ab\\ud800c"}', r"lone surrogate .* at character offset 2"),
    ('{"id": "1", "text": "abc", "spans": "x"}', r"'spans' must be a list, got str"),
    ('{"id": "1", "text": "abc", "spans": [[0, 1, "X"]]}', r"span #0 must be a JSON object"),
    ('{"id": "1", "text": "abc", "spans": [{"start": 0, "label": "X"}]}',
     r"span #0 has no 'end' field"),
    ('{"id": "1", "text": "abcdef", "spans": [{"start": 1.7, "end": 4, "label": "X"}]}',
     r"span #0: 'start'/'end' must be integers, got 1\.7, 4"),
    ('{"id": "1", "text": "abc", "spans": [{"start": "0", "end": 2, "label": "X"}]}',
     r"must be integers, got '0', 2"),
    ('{"id": "1", "text": "abc", "spans": [{"start": true, "end": 2, "label": "X"}]}',
     r"must be integers, got True, 2"),
    ('{"id": "1", "text": "abc", "spans": [{"start": 0, "end": Infinity, "label": "X"}]}',
     r"must be integers, got 0, inf"),
    ('{"id": "1", "text": "abc", "spans": [{"start": 0, "end": 2, "label": null}]}',
     r"span #0 \[0, 2\): 'label' must be a string, got NoneType"),
])
def test_jsonl_wrong_types_are_errors_never_coerced_or_tracebacks(tmp_path, line, message):
    (tmp_path / "x.jsonl").write_text(line + "\n")
    with pytest.raises(FormatError, match=message):
        jsonl.read_path(tmp_path, LoadReport("jsonl"))


def test_jsonl_bad_utf8_names_file_line_and_byte_offset(tmp_path):
    (tmp_path / "x.jsonl").write_bytes(b'{"id": "1", "text": "a"}\n{"id": "2", "text": "\xff"}\n')
    with pytest.raises(FormatError,
                       match=r"x\.jsonl:2: encoding error: not UTF-8 at byte offset 46"):
        jsonl.read_path(tmp_path, LoadReport("jsonl"))


# -------------------------------------------------------------------------------- splits

def test_split_names():
    assert [split_of_name(n) for n in (
        "deid_surrogate_train_all_version2.xml", "deid_surrogate_test_all_groundtruth_version2.xml",
        "devel.tsv", "NCBIdevelopset_corpus.txt", "valid.jsonl", "sample.tsv", "train_test.tsv",
    )] == ["train", "test", "dev", "dev", "dev", None, None]


def test_some_files_naming_a_split_is_an_error(tmp_path):
    (tmp_path / "train.tsv").write_text("a\tO\n")
    (tmp_path / "extra.tsv").write_text("b\tO\n")
    with pytest.raises(FormatError, match="extra.tsv does not"):
        load_corpus("conll", tmp_path)


def test_same_document_id_in_two_split_folders_is_an_error(tmp_path):
    for split in ("train", "test"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "x.jsonl").write_text('{"id": "214-01", "text": "a"}\n')
    (tmp_path / "train" / "y.jsonl").write_text('{"id": "215-01", "text": "b"}\n')
    with pytest.raises(FormatError, match="document id '214-01' is in split test and again in "
                                          r"split train \(file x\.jsonl\)"):
        load_corpus("jsonl", tmp_path)
