"""The span policy (issue 4, point 2) through the loaders, on tiny hand-made files: every change
is counted and reported with its offsets, nothing is silently dropped, truncated or shifted.

Offsets in the comments are counted by hand."""

import pytest

from clinical_ner.documents import Document, LoadReport, Span
from clinical_ner.labels import split_words
from clinical_ner.tasks import get_task
from data_scripts import brat, conll, i2b2_2010


def brat_doc(tmp_path, text: str, ann: str, **kw):
    (tmp_path / "n.txt").write_bytes(text.encode("utf-8"))
    (tmp_path / "n.ann").write_bytes(ann.encode("utf-8"))
    report = LoadReport("brat")
    (doc,) = brat.read_folder(tmp_path, report, **kw)
    return doc, report


def kinds(report):
    return [(p.problem.split(":")[0], p.start, p.end, p.action) for p in report.problems]


# --------------------------------------------------------------------------- CRLF (brat)

def test_crlf_text_keeps_offsets_after_the_first_line_break(tmp_path):
    # "Pt on aspirin." = 0..14, "\r\n" = 14..16, "Started" 16..23, "heparin" 24..31,
    # "5000 units" 32..42. Universal-newline reading would move heparin to 23..30.
    text = "Pt on aspirin.\r\nStarted heparin 5000 units.\r\n"
    ann = ("T1\tDrug 6 13\taspirin\r\nT2\tDrug 24 31\theparin\r\n"
           "T3\tStrength 32 42\t5000 units\r\n")
    doc, report = brat_doc(tmp_path, text, ann)
    assert doc.text == text and len(doc.text) == 45 and doc.text[14:16] == "\r\n"
    assert doc.spans == (Span(6, 13, "Drug"), Span(24, 31, "Drug"), Span(32, 42, "Strength"))
    assert [doc.span_text(s) for s in doc.spans] == ["aspirin", "heparin", "5000 units"]
    assert report.problems == [] and report.counts["brat_lines:T"] == 3


def test_crlf_span_across_the_line_break(tmp_path):
    # "shortness of" 0..12, "\r\n" 12..14, "breath" 14..20; brat shows the break as a space
    doc, report = brat_doc(tmp_path, "shortness of\r\nbreath\r\n",
                           "T1\tReason 0 20\tshortness of breath\n")
    assert doc.spans == (Span(0, 20, "Reason"),) and report.problems == []
    assert doc.span_text(doc.spans[0]) == "shortness of\r\nbreath"


# ---------------------------------------------------------------- discontinuous (brat)

DISC_TEXT = "Docusate\n   Sodium 100 mg"  # Docusate 0..8, Sodium 12..18, "100 mg" 19..25
DISC_ANN = "T1\tDrug 0 8;12 18\tDocusate Sodium\nT2\tStrength 19 25\t100 mg\n"


@pytest.mark.parametrize("policy,spans,action", [
    ("join", (Span(0, 18, "Drug"), Span(19, 25, "Strength")), "joined"),
    ("split", (Span(0, 8, "Drug"), Span(12, 18, "Drug"), Span(19, 25, "Strength")), "split"),
    ("drop", (Span(19, 25, "Strength"),), "dropped"),
])
def test_discontinuous_span_under_each_policy(tmp_path, policy, spans, action):
    doc, report = brat_doc(tmp_path, DISC_TEXT, DISC_ANN, discontinuous=policy)
    assert doc.spans == spans
    assert report.counts["discontinuous"] == 1
    assert report.counts[f"discontinuous_{policy}"] == 1
    start, end = (0, 18)
    assert kinds(report) == [("discontinuous", start, end, action)]
    assert report.problems[0].tag_id == "T1"
    assert "[0, 8); [12, 18)" in report.problems[0].problem


def test_discontinuous_text_field_is_checked_fragment_by_fragment(tmp_path):
    doc, report = brat_doc(tmp_path, DISC_TEXT, "T1\tDrug 0 8;12 18\tDocusate Sodiun\n")
    assert doc.spans == ()
    assert kinds(report) == [("text_mismatch", 0, 18, "dropped")]


# ------------------------------------------------------------------ overlaps, duplicates

def test_nested_span_dropped_and_counted(tmp_path):
    # "severe chest pain today": severe 0..6, chest 7..12, pain 13..17
    doc, report = brat_doc(tmp_path, "severe chest pain today",
                           "T1\tSign_symptom 0 17\tsevere chest pain\n"
                           "T2\tBiological_structure 7 12\tchest\n")
    assert doc.spans == (Span(0, 17, "Sign_symptom"),)
    assert kinds(report) == [("overlap", 7, 12, "dropped")]
    assert "overlaps kept span [0, 17) Sign_symptom" in report.problems[0].problem
    assert report.counts["problem:overlap"] == 1


def test_overlap_keeps_the_longest_then_the_earliest(tmp_path):
    # "chest pain radiating": "chest pain" 0..10 (10), "pain radiating" 6..20 (14): the longest
    # wins although it starts later
    doc, report = brat_doc(tmp_path, "chest pain radiating",
                           "T1\tSign_symptom 0 10\tchest pain\n"
                           "T2\tSign_symptom 6 20\tpain radiating\n")
    assert doc.spans == (Span(6, 20, "Sign_symptom"),)
    assert kinds(report) == [("overlap", 0, 10, "dropped")]
    # equal lengths, 0..10 "chest pain" and 6..16 "pain radia" (both 10): the earliest wins
    doc, report = brat_doc(tmp_path, "chest pain radiating",
                           "T1\tSign_symptom 6 16\tpain radia\n"
                           "T2\tSign_symptom 0 10\tchest pain\n")
    assert doc.spans == (Span(0, 10, "Sign_symptom"),)
    assert kinds(report) == [("overlap", 6, 16, "dropped")]


def test_exact_duplicates_collapse_and_are_counted(tmp_path):
    doc, report = brat_doc(tmp_path, "aspirin daily",
                           "T1\tDrug 0 7\taspirin\nT2\tDrug 0 7\taspirin\n")
    assert doc.spans == (Span(0, 7, "Drug"),)
    assert kinds(report) == [("duplicate", 0, 7, "collapsed")]
    # same offsets, another label: not a duplicate but an overlap, the label sorting first wins
    doc, report = brat_doc(tmp_path, "aspirin daily",
                           "T1\tReason 0 7\taspirin\nT2\tDrug 0 7\taspirin\n")
    assert doc.spans == (Span(0, 7, "Drug"),)
    assert kinds(report) == [("overlap", 0, 7, "dropped")]


# ------------------------------------------------------------------------- whitespace

def test_whitespace_led_span_trimmed(tmp_path):
    # "took aspirin daily": the span 4..12 is " aspirin" -> trimmed to 5..12
    doc, report = brat_doc(tmp_path, "took aspirin daily", "T1\tDrug 4 12\t aspirin\n")
    assert doc.spans == (Span(5, 12, "Drug"),)
    assert kinds(report) == [("trimmed_whitespace", 4, 12, "trimmed")]
    assert "trimmed to [5, 12)" in report.problems[0].problem


def test_whitespace_only_span_dropped(tmp_path):
    doc, report = brat_doc(tmp_path, "took  aspirin", "T1\tDrug 4 6\t  \n")
    assert doc.spans == ()
    assert kinds(report) == [("whitespace_only", 4, 6, "dropped")]


# ------------------------------------------------------------ boundary inside a word

def test_span_boundary_inside_a_word_splits_the_word():
    # "Lasix20mg daily": the word "Lasix20mg" (0..9) is cut at the span end 5
    text = "Lasix20mg daily"
    spans = (Span(0, 5, "Drug"),)
    assert split_words(text) == [(0, 9), (10, 15)]
    words = split_words(text, spans)
    assert words == [(0, 5), (5, 9), (10, 15)]
    task = get_task("medications", "brat")
    doc = Document("d", text, spans)
    w, tags = task.words_and_tags(doc)
    assert (w, tags) == (words, ["B-Drug", "O", "O"])
    assert task.decode(w, tags) == list(spans)
    # a DATE "01/01" glued to "/1995": the cut makes "01/01" whole words
    assert split_words("01/01/1995", [Span(0, 5, "DATE")]) == [(0, 2), (2, 3), (3, 5), (5, 6),
                                                               (6, 10)]


# ---------------------------------------------------------------------- labels

def test_conll_bio_prefixes_and_hyphenated_types(tmp_path):
    f = tmp_path / "t.tsv"
    # Multi-tissue 0..12, mass 13..17, in 18..20, liver 21..26
    f.write_text("Multi-tissue\tB-Multi-tissue_structure\nmass\tB-Sign_symptom\n"
                 "in\tO\nliver\tI-Biological_structure\n")
    report = LoadReport("conll")
    (doc,) = conll.read_file(f, report)
    assert doc.text == "Multi-tissue mass in liver"
    assert doc.spans == (Span(0, 12, "Multi-tissue_structure"), Span(13, 17, "Sign_symptom"),
                         Span(21, 26, "Biological_structure"))
    assert kinds(report) == [("orphan_inside", 21, 26, "started a new span")]


def test_conll_I_continues_only_the_same_type(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_text("chest\tB-problem\npain\tI-problem\nECG\tI-test\n")  # 0..10, 11..14
    report = LoadReport("conll")
    (doc,) = conll.read_file(f, report)
    assert doc.spans == (Span(0, 10, "problem"), Span(11, 14, "test"))
    assert kinds(report) == [("orphan_inside", 11, 14, "started a new span")]


def test_brat_bio_prefixed_type_is_kept_and_reported(tmp_path):
    doc, report = brat_doc(tmp_path, "aspirin daily", "T1\tB-Drug 0 7\taspirin\n")
    assert doc.spans == (Span(0, 7, "B-Drug"),)
    assert kinds(report) == [("bio_prefixed_label", None, None, "kept")]


# ------------------------------------------------------------------------ i2b2 2010

CON_TXT = "He has a pulmonary\nembolism today .\n"
# line 1: He 0..2, has 3..6, a 7..8, pulmonary 9..18; line 2 starts at 19:
# embolism 19..27, today 28..33, . 34..35


def con_doc(tmp_path, con: str):
    (tmp_path / "txt").mkdir(exist_ok=True)
    (tmp_path / "concept").mkdir(exist_ok=True)
    (tmp_path / "txt" / "r.txt").write_text(CON_TXT)
    (tmp_path / "concept" / "r.con").write_text(con)
    report = LoadReport("i2b2_2010")
    (doc,) = i2b2_2010.read_folder(tmp_path, report)
    return doc, report


def test_con_concept_across_two_lines(tmp_path):
    doc, report = con_doc(tmp_path, 'c="pulmonary embolism" 1:3 2:0||t="problem"\n')
    assert doc.text == "He has a pulmonary\nembolism today ."
    assert doc.spans == (Span(9, 27, "problem"),)
    assert doc.span_text(doc.spans[0]) == "pulmonary\nembolism"
    assert report.problems == []


def test_con_end_token_one_too_far_is_reported(tmp_path):
    # mid-line: 2:0 2:1 covers "embolism today" (19..33), which is not c="embolism"
    doc, report = con_doc(tmp_path, 'c="embolism" 2:0 2:1||t="problem"\n'
                                    'c="today ." 2:1 2:3||t="test"\n'
                                    'c="he" 1:0 1:0||t="problem"\n')
    assert doc.spans == (Span(0, 2, "problem"),)
    assert kinds(report) == [("text_mismatch", 19, 33, "dropped"),
                             ("token_out_of_range", None, None, "dropped")]
    # end of line: line 2 has 3 tokens (0..2), token 3 does not exist
    assert "line 2 has 3 tokens" in report.problems[1].problem
    assert "line 2 (2:1 2:3 test)" in report.problems[1].problem


def test_con_duplicate_concepts_collapse_and_reversed_is_reported(tmp_path):
    doc, report = con_doc(tmp_path, 'c="embolism" 2:0 2:0||t="problem"\n'
                                    'c="embolism" 2:0 2:0||t="problem"\n'
                                    'c="a pulmonary" 1:3 1:2||t="problem"\n')
    assert doc.spans == (Span(19, 27, "problem"),)
    assert [k[0] for k in kinds(report)] == ["reversed", "duplicate"]
