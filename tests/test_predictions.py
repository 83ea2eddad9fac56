"""Tests of clinical_ner.predictions: predictions written in the corpus format read back exactly."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from conftest import DEMO, PHYSIONET, need_shared

from clinical_ner.documents import Document, LoadReport, Span, read_jsonl
from clinical_ner.evaluation import load_documents
from clinical_ner.predictions import (
    brat_lines,
    check_writable,
    prediction_format,
    write_brat,
    write_i2b2_2014,
    write_predictions,
)
from data_scripts import i2b2_2014

TRICKY = '\nRecord ]]> & <b> "q" \'a\' é 😀 Dr. Ann Lee\tseen 4/10/87.\n'


def tricky_doc() -> Document:
    a = TRICKY.index("Ann Lee")
    d = TRICKY.index("4/10/87")
    return Document("042-01", TRICKY, (Span(a, a + 7, "NAME/DOCTOR"), Span(d, d + 7, "DATE/DATE")),
                    meta={"file": "042-01.xml"})


def test_prediction_format():
    assert prediction_format("i2b2_2014") == "i2b2_2014"
    assert prediction_format("brat") == "brat"
    assert prediction_format("jsonl") == "jsonl"
    assert prediction_format("conll") == "jsonl"
    assert prediction_format("i2b2_2010") == "jsonl"


def test_i2b2_text_parses_back_byte_identical(tmp_path):
    doc = tricky_doc()
    (path,) = write_i2b2_2014([doc], tmp_path)
    assert path.name == "042-01.xml"
    parsed = ET.parse(path).getroot().find("TEXT").text
    assert parsed == TRICKY
    assert parsed.encode("utf-8") == TRICKY.encode("utf-8")
    # "]]>" inside the note is split over two CDATA sections, so the raw file holds it escaped
    assert "]]]]><![CDATA[>" in path.read_text(encoding="utf-8")
    back = i2b2_2014.read_file(path, LoadReport("i2b2_2014"))
    assert back.spans == doc.spans
    assert [back.span_text(s) for s in back.spans] == ["Ann Lee", "4/10/87"]
    tags = ET.parse(path).getroot().find("TAGS")
    assert [(t.tag, t.get("TYPE"), t.get("start"), t.get("end")) for t in tags] == [
        ("NAME", "DOCTOR", str(TRICKY.index("Ann Lee")), str(TRICKY.index("Ann Lee") + 7)),
        ("DATE", "DATE", str(TRICKY.index("4/10/87")), str(TRICKY.index("4/10/87") + 7)),
    ]


def test_i2b2_file_name_without_meta(tmp_path):
    doc = Document("101-02", "Seen 3/4.", (Span(5, 8, "DATE/DATE"),))
    (path,) = write_i2b2_2014([doc], tmp_path)
    assert path.name == "101-02.xml"


def test_i2b2_carriage_return_reads_back_exactly(tmp_path):
    # a raw "\r\n" would parse as "\n"; the writer puts the CR as &#13;, so offsets hold
    from clinical_ner.documents import LoadReport
    from data_scripts import i2b2_2014

    doc = Document("101-01", "Line one\r\nSeen 3/4.", (Span(15, 18, "DATE/DATE"),))
    write_i2b2_2014([doc], tmp_path)
    back = i2b2_2014.read_file(tmp_path / "101-01.xml", LoadReport("i2b2_2014"), as_written=True)
    assert back.text == doc.text and back.span_text(back.spans[0]) == "3/4"


def test_i2b2_needs_category_type_labels(tmp_path):
    doc = Document("101-01", "Dr. Lee", (Span(4, 7, "NAME"),))
    with pytest.raises(ValueError, match="CATEGORY/TYPE"):
        write_i2b2_2014([doc], tmp_path)
    with pytest.raises(ValueError, match="category-granularity"):
        check_writable("i2b2_2014", ["NAME", "DATE"])
    check_writable("i2b2_2014", ["NAME/DOCTOR"])
    check_writable("jsonl", ["NAME"])


def test_i2b2_two_documents_one_file_name(tmp_path):
    a = Document("a", "x", meta={"file": "001-01.xml"})
    b = Document("b", "y", meta={"file": "001-01.xml"})
    with pytest.raises(ValueError, match="'a' and 'b' would both be written"):
        write_i2b2_2014([a, b], tmp_path)


def test_demo_corpus_written_back_is_byte_identical(tmp_path):
    docs, _ = load_documents("i2b2_2014", DEMO / "test")
    paths = write_i2b2_2014(docs, tmp_path)
    assert len(paths) == 20
    for p in paths:
        assert p.read_bytes() == (DEMO / "test" / p.name).read_bytes(), p.name


def test_physionet_test_written_back_is_byte_identical(tmp_path):
    test = need_shared(PHYSIONET / "test")
    docs, _ = load_documents("i2b2_2014", test)
    paths = write_i2b2_2014(docs, tmp_path)
    assert len(paths) == 483
    for p in paths:
        gold_text = ET.parse(test / p.name).getroot().find("TEXT").text
        assert ET.parse(p).getroot().find("TEXT").text.encode() == gold_text.encode(), p.name
        # the whole file, tags included, is the same as the corpus file
        assert p.read_bytes() == (test / p.name).read_bytes(), p.name


# ---------------------------------------------------------------------------------------- brat

BRAT_TEXT = "Pt John\nSmith seen 3/4.\r\nBye\n"


def brat_doc() -> Document:
    # "John\nSmith" = [3, 13); "3/4" = [19, 22)
    return Document("notes/r1", BRAT_TEXT, (Span(3, 13, "PATIENT"), Span(19, 22, "DATE")))


def test_brat_lines():
    assert BRAT_TEXT[3:13] == "John\nSmith" and BRAT_TEXT[19:22] == "3/4"
    assert brat_lines(brat_doc()) == ["T1\tPATIENT 3 13\tJohn Smith", "T2\tDATE 19 22\t3/4"]
    tab = Document("t", "a\tb c", (Span(0, 3, "X"),))
    assert brat_lines(tab) == ["T1\tX 0 3\ta b"]


def test_brat_files(tmp_path):
    (ann,) = write_brat([brat_doc()], tmp_path)
    assert ann == tmp_path / "notes" / "r1.ann"
    assert ann.read_bytes() == b"T1\tPATIENT 3 13\tJohn Smith\nT2\tDATE 19 22\t3/4\n"
    # the text is written as held: the CRLF stays, so offsets stay valid
    assert (tmp_path / "notes" / "r1.txt").read_bytes() == BRAT_TEXT.encode("utf-8")


def test_brat_reads_back(tmp_path):
    doc = Document("r1", BRAT_TEXT, brat_doc().spans)
    write_brat([doc], tmp_path)
    back, report = load_documents("brat", tmp_path)
    assert [(d.id, d.text, d.spans) for d in back] == [("r1", BRAT_TEXT, doc.spans)]
    assert report.problems == []


def test_brat_bad_input(tmp_path):
    with pytest.raises(ValueError, match="whitespace"):
        brat_lines(Document("x", "abc", (Span(0, 1, "Bad label"),)))
    with pytest.raises(ValueError, match="cannot be used as a brat file name"):
        write_brat([Document("../escape", "abc")], tmp_path)


# --------------------------------------------------------------------------------------- jsonl


def test_jsonl_predictions(tmp_path):
    docs = [tricky_doc(), brat_doc()]
    out = write_predictions(docs, "jsonl", tmp_path)
    assert out["format"] == "jsonl" and out["documents"] == 2 and out["spans"] == 4
    back = list(read_jsonl(tmp_path / "predictions.jsonl"))
    assert [(d.id, d.text, d.spans) for d in back] == [(d.id, d.text, d.spans) for d in docs]


def test_write_predictions_dispatch(tmp_path):
    out = write_predictions([tricky_doc()], "i2b2_2014", tmp_path / "xml")
    assert out["paths"] == [str(tmp_path / "xml" / "042-01.xml")]
    with pytest.raises(ValueError, match="no prediction writer"):
        write_predictions([], "conll", tmp_path)
