"""clinical_ner.redaction: every mode on a hand-made note, offsets, kept text, leak counts."""

from __future__ import annotations

import pytest

from clinical_ner.documents import Span
from clinical_ner.redaction import (
    LeakCounter,
    output_range,
    redact,
    tag_for,
    text_outside,
)
from clinical_ner.surrogates import SurrogateGenerator

#            0         1         2         3
#            0123456789012345678901234567890123456
TEXT = "Pt John Smith seen 01/02/2095 at MGH."
SPANS = [Span(3, 13, "NAME/PATIENT"), Span(19, 29, "DATE/DATE"), Span(33, 36, "LOCATION/HOSPITAL")]


def _out(r):
    return [(s.start, s.end, s.label, s.out_start, s.out_end) for s in r.spans]


def test_tag_mode_exact():
    r = redact(TEXT, SPANS, "tag")
    assert r.text == "Pt [PATIENT] seen [DATE] at [HOSPITAL]."
    assert _out(r) == [(3, 13, "NAME/PATIENT", 3, 12), (19, 29, "DATE/DATE", 18, 24),
                       (33, 36, "LOCATION/HOSPITAL", 28, 38)]
    assert tag_for("NAME") == "[NAME]"  # category-only labels


def test_mask_mode_exact():
    r = redact(TEXT, SPANS, "mask")
    assert r.text == "Pt ********** seen ********** at ***."
    assert [(s.out_start, s.out_end) for s in r.spans] == [(3, 13), (19, 29), (33, 36)]


def test_none_mode_keeps_the_text():
    r = redact(TEXT, SPANS, "none")
    assert r.text == TEXT and [(s.out_start, s.out_end) for s in r.spans] == \
        [(3, 13), (19, 29), (33, 36)]


def test_surrogate_mode_exact_with_a_given_replacement():
    table = {"John Smith": "Mark Jones", "01/02/2095": "3/4/2095", "MGH": "Lakeview Hospital"}
    r = redact(TEXT, SPANS, "surrogate", surrogate=lambda s, o: table[o])
    assert r.text == "Pt Mark Jones seen 3/4/2095 at Lakeview Hospital."
    assert [(s.out_start, s.out_end) for s in r.spans] == [(3, 13), (19, 27), (31, 48)]
    assert [r.text[s.out_start:s.out_end] for s in r.spans] == list(table.values())


def test_non_phi_characters_identical_with_real_surrogates():
    text = "Dr. Amos Velt saw\tTolliver Quince on 03/14/2001 at Lakeside General, 555-123-4567.\n"
    spans = [Span(4, 13, "NAME/DOCTOR"), Span(18, 33, "NAME/PATIENT"), Span(37, 47, "DATE/DATE"),
             Span(51, 67, "LOCATION/HOSPITAL"), Span(69, 81, "CONTACT/PHONE")]
    g = SurrogateGenerator("k")
    for mode in ("tag", "mask", "surrogate"):
        r = redact(text, spans, mode, surrogate=lambda s, o: g.surrogate(s.label, o, "001"))
        assert text_outside(text, [(s.start, s.end) for s in spans]) == \
            text_outside(r.text, [(s.out_start, s.out_end) for s in r.spans])
        assert text_outside(r.text, [(s.out_start, s.out_end) for s in r.spans]) == \
            ["Dr. ", " saw\t", " on ", " at ", ", ", ".\n"]
        for s in spans:
            assert text[s.start:s.end] not in r.text


def test_bad_spans_and_modes():
    with pytest.raises(ValueError, match=r"\[3, 13\) NAME/PATIENT and \[5, 9\) .* overlap"):
        redact(TEXT, [Span(3, 13, "NAME/PATIENT"), Span(5, 9, "NAME/DOCTOR")], "tag",
               where="note 'x'")
    with pytest.raises(ValueError, match="ends past the text"):
        redact("abc", [Span(1, 9, "DATE/DATE")], "mask")
    with pytest.raises(ValueError, match="redaction mode"):
        redact(TEXT, SPANS, "blur")
    with pytest.raises(ValueError, match="callable"):
        redact(TEXT, SPANS, "surrogate")


def test_output_range():
    r = redact(TEXT, SPANS, "tag")  # "Pt [PATIENT] seen [DATE] at [HOSPITAL]."
    assert output_range(r, 3, 13) == (3, 12)
    assert output_range(r, 14, 18) == (13, 17)  # "seen" moved by -1
    assert output_range(r, 8, 13) == (3, 12)  # inside a replaced span: widened to it
    assert output_range(r, 36, 37) == (38, 39)


def test_leak_counter_by_hand():
    #        0         1         2         3
    #        0123456789012345678901234567890123456
    text = "Pt John Smith seen 01/02/2095 at MGH."
    gold = [Span(3, 13, "NAME/PATIENT"), Span(19, 29, "DATE/DATE"),
            Span(33, 36, "LOCATION/HOSPITAL")]
    # predicted: "John" only (Smith leaks), the date, and "seen" (over-redaction); MGH missed
    pred = [Span(3, 7, "NAME/PATIENT"), Span(14, 18, "OTHER/OTHER"), Span(19, 29, "DATE/DATE")]
    r = redact(text, pred, "tag")
    assert r.text == "Pt [PATIENT] Smith [OTHER] [DATE] at MGH."
    c = LeakCounter()
    assert c.add(text, gold, r) == [False, False, True]  # "John Smith" is not there whole
    rep = c.to_json()
    assert rep["gold_phi"] == 3 and rep["residual"] == 1 and rep["residual_rate"] == 0.333333
    assert rep["per_type"]["LOCATION/HOSPITAL"] == {"gold": 1, "residual": 1,
                                                    "residual_rate": 1.0, "found_anywhere": 1,
                                                    "uncovered_characters": 3}
    assert rep["found_anywhere"] == 1  # "Smith" is there, but not the gold "John Smith"
    assert rep["per_type"]["NAME/PATIENT"]["uncovered_characters"] == 6  # " Smith"
    assert rep["uncovered_characters"] == 9
    assert rep["replaced_characters"] == 18 and rep["over_redacted_characters"] == 4
    assert rep["phi_characters"] == 23 and rep["characters"] == 37
    assert rep["over_redaction_rate"] == round(4 / 14, 6)  # 14 non-PHI characters
    assert rep["over_redacted_share"] == round(4 / 18, 6)
    mask = redact(text, [Span(3, 13, "NAME/PATIENT")], "mask")
    c2 = LeakCounter()
    assert c2.add(text, [Span(8, 13, "NAME/PATIENT")], mask) == [False]
    surrogate_same = redact(text, [Span(33, 36, "LOCATION/HOSPITAL")], "surrogate",
                            surrogate=lambda s, o: "mgh")  # same string, other case: a leak
    assert LeakCounter().add(text, [Span(33, 36, "LOCATION/HOSPITAL")], surrogate_same) == [True]
