"""Tests of clinical_ner.metrics: every expected number is computed by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from clinical_ner.confusion import (
    MISSED,
    SPURIOUS,
    confusion_counts,
    confusion_matrix,
    plot_confusion,
)
from clinical_ner.documents import Span
from clinical_ner.metrics import (
    I2B2_2014_MEASURES,
    DocMatch,
    category_of,
    count_matrix,
    document_matches,
    evaluate_spans,
    flatten_metrics,
    grouped_scores,
    is_hipaa,
    macro_scores,
    match_exact,
    match_overlap,
    match_relaxed,
    micro_scores,
    paired_test,
    prf,
    seqeval_scores,
    token_spans,
    type_of,
)
from clinical_ner.significance import bootstrap_f1_ci, f1_from_totals

approx = pytest.approx


def micro(result: dict, measure: str) -> tuple[int, int, int]:
    m = result[measure]["micro"]
    return m["tp"], m["fp"], m["fn"]


# ------------------------------------------------------------------------------------ labels


def test_category_and_type():
    assert category_of("NAME/DOCTOR") == "NAME"
    assert type_of("NAME/DOCTOR") == "DOCTOR"
    assert category_of("problem") == type_of("problem") == "problem"
    assert type_of("LOCATION/LOCATION-OTHER") == "LOCATION-OTHER"


@pytest.mark.parametrize(
    "label, expected",
    [
        ("NAME/PATIENT", True),
        ("NAME/DOCTOR", False),
        ("NAME/USERNAME", False),
        ("LOCATION/CITY", True),
        ("LOCATION/ORGANIZATION", True),
        ("LOCATION/HOSPITAL", False),
        ("LOCATION/STATE", False),
        ("DATE/DATE", True),
        ("AGE/AGE", True),
        ("CONTACT/PHONE", True),
        ("CONTACT/URL", False),
        ("ID/MEDICALRECORD", True),
        ("ID/IDNUM", False),
        ("PROFESSION/PROFESSION", False),
        ("problem", False),
    ],
)
def test_is_hipaa(label, expected):
    assert is_hipaa(label) is expected


def test_is_hipaa_idnum_option():
    assert is_hipaa("ID/IDNUM") is False
    assert is_hipaa("ID/IDNUM", include_idnum=True) is True
    assert is_hipaa("NAME/DOCTOR", include_idnum=True) is False


# ---------------------------------------------------------------------------------- matchers


def test_token_spans_doctor_name():
    text = "Seen by Dr. John Smith-Jones today."
    start = text.index("Dr.")
    span = Span(start, start + len("Dr. John Smith-Jones"), "NAME/DOCTOR")
    toks = sorted(token_spans([span], text))
    assert [text[t.start : t.end] for t in toks] == ["Dr", "John", "Smith", "Jones"]
    assert toks[0] == Span(8, 10, "NAME/DOCTOR")
    assert {t.label for t in toks} == {"NAME/DOCTOR"}
    # two overlapping spans with the same label share tokens: a set, so "John" counts once
    john = Span(text.index("John"), text.index("John") + 4, "NAME/DOCTOR")
    assert len(token_spans([span, john], text)) == 4


def test_token_spans_past_text():
    with pytest.raises(ValueError, match="ends past the text"):
        token_spans([Span(0, 10, "DATE/DATE")], "short")


def test_match_exact_sets_and_binary():
    g = [Span(0, 5, "NAME/DOCTOR"), Span(0, 5, "NAME/DOCTOR")]
    p = [Span(0, 5, "NAME/PATIENT")]
    m = match_exact(g, p)
    assert (len(m.tp), len(m.fp), len(m.fn)) == (0, 1, 1)
    b = match_exact(g, p, use_label=False)
    assert b.tp == [(Span(0, 5, "NAME/DOCTOR"), Span(0, 5, "NAME/PATIENT"))]
    assert (b.fp, b.fn) == ([], [])


def test_match_relaxed_prefers_exact_end():
    g = [Span(0, 10, "DATE/DATE")]
    p = [Span(0, 11, "DATE/DATE"), Span(0, 10, "DATE/DATE")]
    m = match_relaxed(g, p)
    assert m.tp == [(Span(0, 10, "DATE/DATE"), Span(0, 10, "DATE/DATE"))]
    assert m.fp == [Span(0, 11, "DATE/DATE")]
    assert m.fn == []


def test_match_relaxed_is_greedy_not_maximum():
    # gold ends {10, 12}, predicted ends {12, 14}: the exact pair 12-12 is taken first, after which
    # gold 10 and pred 14 are 4 apart; 1 pair, not the 2 a maximum matching would find.
    g = [Span(0, 10, "DATE/DATE"), Span(0, 12, "DATE/DATE")]
    p = [Span(0, 12, "DATE/DATE"), Span(0, 14, "DATE/DATE")]
    m = match_relaxed(g, p)
    assert (len(m.tp), len(m.fp), len(m.fn)) == (1, 1, 1)


def test_match_relaxed_needs_same_start_and_label():
    g = [Span(0, 10, "DATE/DATE")]
    assert match_relaxed(g, [Span(1, 10, "DATE/DATE")]).tp == []
    assert match_relaxed(g, [Span(0, 10, "AGE/AGE")]).tp == []
    assert len(match_relaxed(g, [Span(0, 8, "DATE/DATE")]).tp) == 1  # shorter by 2 also counts


def test_match_overlap_one_to_one_largest_first():
    g = [Span(0, 10, "problem")]
    p = [Span(5, 12, "problem"), Span(0, 8, "problem")]  # overlaps 5 and 8 characters
    m = match_overlap(g, p)
    assert m.tp == [(Span(0, 10, "problem"), Span(0, 8, "problem"))]
    assert m.fp == [Span(5, 12, "problem")]  # NOT ignored as the n2c2 2018 script would
    assert match_overlap(g, [Span(0, 10, "test")]).tp == []
    assert len(match_overlap(g, [Span(0, 10, "test")], use_label=False).tp) == 1
    assert match_overlap(g, [Span(10, 12, "problem")]).tp == []  # touching is not overlapping


def test_non_span_input_raises():
    with pytest.raises(TypeError, match="expected Span"):
        match_exact([(0, 5, "DATE/DATE")], [])


# --------------------------------------------------------------------------------- summaries


def test_prf_zero_division():
    assert prf(0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 0}
    # P = 1/2, R = 1/4, F1 = 2 * 1/8 / (3/4) = 1/3
    assert prf(1, 1, 3)["f1"] == approx(1 / 3)


def test_grouped_scores_attribution():
    m = DocMatch(
        tp=[(Span(0, 5, "NAME/DOCTOR"), Span(0, 5, "NAME/DOCTOR"))],
        fp=[Span(10, 15, "NAME/PATIENT")],
        fn=[Span(20, 25, "DATE/DATE")],
    )
    by_type = grouped_scores([m])
    assert list(by_type) == ["DATE", "DOCTOR", "PATIENT"]
    assert by_type["DOCTOR"] == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 1, "fp": 0, "fn": 0, "support": 1,
    }
    assert (by_type["PATIENT"]["fp"], by_type["PATIENT"]["support"]) == (1, 0)
    assert (by_type["DATE"]["fn"], by_type["DATE"]["support"]) == (1, 1)
    by_cat = grouped_scores([m], category_of)
    # NAME: tp 1, fp 1, fn 0 -> P = 1/2, R = 1, F1 = 2/3
    assert by_cat["NAME"]["f1"] == approx(2 / 3)
    assert micro_scores([m])["f1"] == approx(0.5)  # tp1 fp1 fn1
    assert macro_scores([])["documents"] == 0


# ---------------------------------------------------------------------------- i2b2 2014 measures


def test_relaxed_end_off_by_two_but_not_three():
    gold = {"d": [Span(0, 10, "DATE/DATE"), Span(20, 30, "NAME/PATIENT")]}
    pred = {"d": [Span(0, 12, "DATE/DATE"), Span(20, 33, "NAME/PATIENT")]}  # +2 and +3
    r = evaluate_spans(gold, pred)
    assert micro(r, "strict") == (0, 2, 2)
    assert micro(r, "relaxed") == (1, 1, 1)
    assert r["relaxed"]["micro"]["f1"] == 0.5
    assert micro(r, "hipaa_relaxed") == (1, 1, 1)
    assert r["relaxed"]["per_type"]["DATE"]["tp"] == 1
    assert r["relaxed"]["per_type"]["PATIENT"]["fp"] == 1


def test_doctor_counts_in_strict_but_not_hipaa():
    gold = {"d": [Span(0, 5, "NAME/DOCTOR"), Span(10, 15, "NAME/PATIENT")]}
    pred = {"d": [Span(0, 5, "NAME/DOCTOR"), Span(10, 15, "NAME/PATIENT"),
                  Span(20, 25, "NAME/DOCTOR")]}
    r = evaluate_spans(gold, pred)
    assert micro(r, "strict") == (2, 1, 0)  # P = 2/3, R = 1
    assert r["strict"]["micro"]["precision"] == approx(2 / 3)
    assert micro(r, "hipaa_strict") == (1, 0, 0)  # only NAME/PATIENT is HIPAA
    assert r["hipaa_strict"]["micro"]["f1"] == 1.0
    assert list(r["hipaa_strict"]["per_type"]) == ["PATIENT"]
    assert r["strict"]["per_category"]["NAME"]["fp"] == 1


def test_idnum_outside_hipaa_by_default():
    gold = {"d": [Span(0, 6, "ID/IDNUM"), Span(10, 16, "ID/MEDICALRECORD")]}
    pred = {"d": [Span(0, 6, "ID/IDNUM")]}
    r = evaluate_spans(gold, pred)
    assert micro(r, "strict") == (1, 0, 1)
    assert micro(r, "hipaa_strict") == (0, 0, 1)  # the official "IDNUM " quirk
    r2 = evaluate_spans(gold, pred, hipaa_include_idnum=True)
    assert micro(r2, "hipaa_strict") == (1, 0, 1)
    assert r2["hipaa_strict"]["micro"]["f1"] == approx(2 / 3)  # P = 1, R = 1/2


def test_duplicate_predictions_count_once():
    s = Span(0, 4, "DATE/DATE")
    r = evaluate_spans({"d": [s]}, {"d": [s, s, s, Span(8, 9, "AGE/AGE"), Span(8, 9, "AGE/AGE")]})
    assert micro(r, "strict") == (1, 1, 0)
    assert micro(r, "relaxed") == (1, 1, 0)
    assert micro(r, "binary_strict") == (1, 1, 0)


def test_macro_f1_is_harmonic_mean_of_macro_p_and_r():
    # doc a: gold 1, pred that 1          -> P = 1,   R = 1,    F1 = 1
    # doc b: gold 4, pred 1 of them + 1   -> P = 1/2, R = 1/4,  F1 = 2*(1/8)/(3/4) = 1/3
    # macro P = 3/4, macro R = 5/8, macro F1 = 2*(15/32)/(11/8) = 15/22 = 0.6818...
    # mean of per-document F1 would be (1 + 1/3)/2 = 2/3 = 0.6667 (not what the scorer reports)
    # SD (ddof=0): P {1, 1/2} -> 1/4; R {1, 1/4} -> 3/8
    # micro: tp 2, fp 1, fn 3 -> P = 2/3, R = 2/5, F1 = 1/2
    g_b = [Span(i * 10, i * 10 + 5, "DATE/DATE") for i in range(4)]
    gold = {"a": [Span(0, 5, "AGE/AGE")], "b": g_b}
    pred = {"a": [Span(0, 5, "AGE/AGE")], "b": [g_b[0], Span(50, 55, "DATE/DATE")]}
    macro = evaluate_spans(gold, pred)["strict"]["macro"]
    assert macro["precision"] == approx(0.75)
    assert macro["recall"] == approx(0.625)
    assert macro["f1"] == approx(15 / 22)
    assert macro["f1_doc_mean"] == approx(2 / 3)
    assert macro["f1"] != approx(macro["f1_doc_mean"])
    assert macro["precision_sd"] == approx(0.25)
    assert macro["recall_sd"] == approx(0.375)
    assert macro["documents"] == 2
    m = evaluate_spans(gold, pred)["strict"]["micro"]
    assert (m["precision"], m["recall"], m["f1"]) == (approx(2 / 3), approx(0.4), approx(0.5))


def test_empty_document_and_document_without_predictions():
    # ok: 1/1 -> P = R = 1; empty: 0/0 -> P = R = 0; nopred: tp 0 fp 0 fn 2 -> P = 0 (0/0), R = 0;
    # onlypred (absent from gold): tp 0 fp 1 -> P = R = 0.  Macro P = R = 1/4 over 4 documents.
    gold = {
        "ok": [Span(0, 3, "AGE/AGE")],
        "empty": [],
        "nopred": [Span(0, 3, "AGE/AGE"), Span(5, 9, "DATE/DATE")],
    }
    pred = {"ok": [Span(0, 3, "AGE/AGE")], "empty": [], "onlypred": [Span(1, 2, "AGE/AGE")]}
    r = evaluate_spans(gold, pred)
    macro = r["strict"]["macro"]
    assert macro["documents"] == 4
    assert (macro["precision"], macro["recall"]) == (0.25, 0.25)
    assert macro["f1"] == 0.25
    assert micro(r, "strict") == (1, 1, 2)
    matches = document_matches(gold, pred)
    assert list(matches) == ["empty", "nopred", "ok", "onlypred"]
    assert count_matrix(matches).tolist() == [[0, 0, 0], [0, 0, 2], [1, 0, 0], [0, 1, 0]]


def test_macro_nonempty_leaves_out_empty_documents():
    # the documents of the test above: ok P = R = 1; empty (no gold, no pred) is left out;
    # nopred P = R = 0; onlypred P = R = 0 -> P = R = 1/3 over 3 documents (official: 1/4 over 4)
    gold = {
        "ok": [Span(0, 3, "AGE/AGE")],
        "empty": [],
        "nopred": [Span(0, 3, "AGE/AGE"), Span(5, 9, "DATE/DATE")],
    }
    pred = {"ok": [Span(0, 3, "AGE/AGE")], "empty": [], "onlypred": [Span(1, 2, "AGE/AGE")]}
    r = evaluate_spans(gold, pred)
    ne = r["strict"]["macro_nonempty"]
    assert (ne["precision"], ne["recall"], ne["documents"]) == (approx(1 / 3), approx(1 / 3), 3)
    assert ne["f1"] == approx(1 / 3)
    assert r["strict"]["macro"]["documents"] == 4
    assert macro_scores([], skip_empty=True)["documents"] == 0
    # a perfect system on notes where most hold no span: official macro P = 1/3, non-empty 1
    perfect = {"a": [Span(0, 3, "AGE/AGE")], "b": [], "c": []}
    r = evaluate_spans(perfect, perfect)
    assert r["strict"]["macro"]["precision"] == approx(1 / 3)
    assert r["strict"]["macro_nonempty"]["precision"] == 1.0


def test_every_i2b2_measure_on_one_note():
    text = "Mr. John Smith-Jones seen by Dr. Lee on 4/10/87, ID 12345."

    def at(s: str, label: str, extra: int = 0) -> Span:
        i = text.index(s)
        return Span(i, i + len(s) + extra, label)

    gold = {"d": [at("John Smith-Jones", "NAME/PATIENT"), at("Lee", "NAME/DOCTOR"),
                  at("4/10/87", "DATE/DATE"), at("12345", "ID/IDNUM")]}
    pred = {"d": [
        at("John Smith", "NAME/PATIENT"),  # same start, end 6 short: not even relaxed
        at("Lee", "NAME/PATIENT"),         # same offsets, wrong type
        at("4/10/87", "DATE/DATE", 1),     # "4/10/87," end +1: relaxed only
        at("12345", "ID/IDNUM"),           # exact (but IDNUM is not HIPAA by default)
    ]}
    r = evaluate_spans(gold, pred, {"d": text})
    # gold tokens: John Smith Jones (PATIENT) Lee (DOCTOR) 4 10 87 (DATE) 12345 (IDNUM) = 8
    # pred tokens: John Smith (PATIENT) Lee (PATIENT) 4 10 87 (DATE; "," is no token) 12345 = 7
    assert micro(r, "strict") == (1, 3, 3)         # 12345
    assert micro(r, "relaxed") == (2, 2, 2)        # 12345, 4/10/87~4/10/87,
    assert micro(r, "token") == (6, 1, 2)          # fp Lee/PATIENT; fn Jones, Lee/DOCTOR
    assert micro(r, "hipaa_strict") == (0, 3, 2)   # gold PATIENT, DATE; pred 2 PATIENT, DATE
    assert micro(r, "hipaa_relaxed") == (1, 2, 1)
    assert micro(r, "hipaa_token") == (5, 1, 1)    # John Smith 4 10 87; fp Lee; fn Jones
    assert micro(r, "binary_strict") == (2, 2, 2)  # Lee and 12345 offsets agree
    assert micro(r, "binary_token") == (7, 0, 1)   # only Jones missed
    # token: P = 6/7, R = 6/8, F1 = 2*6/(2*6 + 1 + 2) = 12/15
    assert r["token"]["micro"]["f1"] == approx(12 / 15)
    assert r["hipaa_token"]["micro"]["f1"] == approx(10 / 12)
    assert r["token"]["per_type"]["PATIENT"] == {
        "precision": approx(2 / 3), "recall": approx(2 / 3), "f1": approx(2 / 3),
        "tp": 2, "fp": 1, "fn": 1, "support": 3}
    assert r["relaxed"]["per_category"]["NAME"]["fp"] == 2
    r2 = evaluate_spans(gold, pred, {"d": text}, hipaa_include_idnum=True)
    assert micro(r2, "hipaa_strict") == (1, 3, 2)
    assert micro(r2, "hipaa_token") == (6, 1, 1)
    assert micro(r2, "strict") == micro(r, "strict")


def test_token_measures_on_hyphenated_name():
    text = "Seen by Dr. John Smith-Jones today."
    s = text.index("Dr.")
    j = text.index("John")
    gold = {"d": [Span(j, j + len("John Smith-Jones"), "NAME/DOCTOR")]}
    pred = {"d": [Span(s, s + len("Dr. John Smith"), "NAME/DOCTOR")]}
    texts = {"d": text}
    r = evaluate_spans(gold, pred, texts)
    assert set(r) == set(I2B2_2014_MEASURES)
    # gold tokens John Smith Jones; pred tokens Dr John Smith -> tp 2, fp 1 (Dr), fn 1 (Jones)
    assert micro(r, "token") == (2, 1, 1)
    assert r["token"]["micro"]["f1"] == approx(2 / 3)
    assert micro(r, "strict") == (0, 1, 1)
    assert micro(r, "hipaa_token") == (0, 0, 0)  # NAME/DOCTOR is not HIPAA
    # the same span labelled PATIENT: label-aware token misses, binary token still finds 2 tokens
    pred_patient = {"d": [Span(s, s + len("Dr. John Smith"), "NAME/PATIENT")]}
    r2 = evaluate_spans(gold, pred_patient, texts)
    assert micro(r2, "token") == (0, 3, 3)
    assert micro(r2, "binary_token") == (2, 1, 1)


def test_binary_strict_ignores_labels():
    gold = {"d": [Span(0, 5, "NAME/DOCTOR"), Span(7, 9, "AGE/AGE")]}
    pred = {"d": [Span(0, 5, "NAME/PATIENT"), Span(7, 10, "AGE/AGE")]}
    r = evaluate_spans(gold, pred)
    assert micro(r, "strict") == (0, 2, 2)
    assert micro(r, "binary_strict") == (1, 1, 1)
    assert r["binary_strict"]["per_type"] == {}
    assert r["binary_strict"]["per_category"] == {}


def test_without_texts_token_measures_are_skipped():
    r = evaluate_spans({"d": [Span(0, 1, "AGE/AGE")]}, {})
    assert list(r) == [
        "strict", "relaxed", "hipaa_strict", "hipaa_relaxed", "binary_strict",
    ]


def test_errors():
    gold = {"d": [Span(0, 5, "AGE/AGE")]}
    with pytest.raises(ValueError, match="unknown scheme"):
        evaluate_spans(gold, gold, scheme="conll")
    with pytest.raises(ValueError, match="unknown measure"):
        document_matches(gold, gold, measure="lenient")
    with pytest.raises(ValueError, match="needs the document texts"):
        document_matches(gold, gold, measure="token")
    with pytest.raises(ValueError, match="no text for document 'd'"):
        evaluate_spans(gold, gold, {"other": "text"})
    with pytest.raises(ValueError, match="document 'd'.*ends past the text"):
        evaluate_spans(gold, gold, {"d": "abc"})
    with pytest.raises(ValueError, match="bootstrap"):
        evaluate_spans(gold, gold, bootstrap=-1)
    with pytest.raises(ValueError, match="confidence"):
        evaluate_spans(gold, gold, bootstrap=10, confidence=1.5)


# ---------------------------------------------------------------------------------- concepts


def test_concepts_exact_vs_inexact():
    gold = {"r": [Span(0, 10, "problem"), Span(20, 25, "test")]}
    pred = {"r": [
        Span(0, 10, "problem"),    # exact
        Span(18, 24, "test"),      # overlaps gold test by 4 characters
        Span(30, 35, "treatment"),  # spurious
        Span(5, 12, "problem"),    # overlaps the already matched gold problem -> FP (no n2c2 quirk)
    ]}
    r = evaluate_spans(gold, pred, scheme="concepts")
    assert list(r) == ["exact", "inexact", "strict"]
    # exact: tp 1, fp 3, fn 1 -> P = 1/4, R = 1/2, F1 = 1/3
    assert micro(r, "exact") == (1, 3, 1)
    assert r["exact"]["micro"]["f1"] == approx(1 / 3)
    # inexact: tp 2, fp 2, fn 0 -> P = 1/2, R = 1, F1 = 2/3
    assert micro(r, "inexact") == (2, 2, 0)
    assert r["inexact"]["micro"]["f1"] == approx(2 / 3)
    assert r["strict"] == r["exact"]
    assert r["strict"] is not r["exact"]
    per = r["inexact"]["per_type"]
    assert (per["problem"]["tp"], per["problem"]["fp"], per["problem"]["fn"]) == (1, 1, 0)
    assert (per["test"]["tp"], per["treatment"]["fp"], per["treatment"]["support"]) == (1, 1, 0)


# -------------------------------------------------------------------------------- resampling


def _random_corpus(n_docs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    gold, pred = {}, {}
    for d in range(n_docs):
        spans = [Span(i * 10, i * 10 + 4, "DATE/DATE") for i in range(int(rng.integers(1, 6)))]
        gold[f"doc{d:03d}"] = spans
        keep = [s for s in spans if rng.random() < 0.7]
        extra = [Span(500, 504, "DATE/DATE")] if rng.random() < 0.3 else []
        pred[f"doc{d:03d}"] = keep + extra
    return gold, pred


def test_bootstrap_ci_reproducible_and_contains_point():
    gold, pred = _random_corpus(40)
    r1 = evaluate_spans(gold, pred, bootstrap=300, seed=7)
    r2 = evaluate_spans(gold, pred, bootstrap=300, seed=7)
    for measure in r1:
        assert r1[measure]["micro"]["f1_ci"] == r2[measure]["micro"]["f1_ci"]
    low, high = r1["strict"]["micro"]["f1_ci"]
    assert low <= r1["strict"]["micro"]["f1"] <= high
    assert low < high
    assert "f1_ci" not in evaluate_spans(gold, pred)["strict"]["micro"]


def test_bootstrap_ci_constant_documents():
    # every document has tp 1, fp 1, fn 0: every resample has P = 1/2, R = 1, F1 = 2/3
    counts = np.tile([1, 1, 0], (25, 1))
    assert bootstrap_f1_ci(counts, n=50, seed=1) == [approx(2 / 3), approx(2 / 3)]
    assert bootstrap_f1_ci(np.zeros((0, 3)), n=50) == [0.0, 0.0]
    assert f1_from_totals(np.array([[1, 1, 0], [0, 0, 0]])).tolist() == [approx(2 / 3), 0.0]


def test_bootstrap_is_seeded_and_brackets_the_pooled_f1():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 30, size=(500, 3))
    low, high = bootstrap_f1_ci(counts, n=1000, seed=12345)
    assert bootstrap_f1_ci(counts, n=1000, seed=12345) == [low, high]
    assert bootstrap_f1_ci(counts, n=1000, seed=1) != [low, high]
    pooled = f1_from_totals(counts.sum(axis=0, keepdims=True))[0]
    assert 0 < low < pooled < high < 1


@pytest.mark.parametrize("method", ["bootstrap", "randomization"])
def test_paired_test_identical_systems(method):
    gold, pred = _random_corpus(30)
    out = paired_test(gold, pred, dict(pred), n=200, method=method)
    assert out["difference"] == 0.0
    assert out["difference_ci"] == [0.0, 0.0]
    assert out["p_value"] == 1.0
    assert out["f1_a"] == out["f1_b"]
    assert (out["method"], out["n"], out["documents"]) == (method, 200, 30)


def test_paired_test_clear_difference():
    # 30 documents with one gold span each; B finds them all, A finds none -> F1 0 vs 1.
    gold = {f"d{i}": [Span(0, 4, "DATE/DATE")] for i in range(30)}
    pred_a = {f"d{i}": [Span(0, 3, "DATE/DATE")] for i in range(30)}
    boot = paired_test(gold, pred_a, gold, n=999)
    assert (boot["f1_a"], boot["f1_b"], boot["difference"]) == (0.0, 1.0, 1.0)
    assert boot["difference_ci"] == [1.0, 1.0]
    assert boot["p_value"] == 0.0  # no resample has a difference <= 0
    rand = paired_test(gold, pred_a, gold, n=999, method="randomization")
    # a permuted |difference| reaches 1 only if all 30 swaps agree: none of 999 trials here
    assert rand["p_value"] == 1 / 1000
    again = paired_test(gold, pred_a, gold, n=999, method="randomization")
    assert again == rand


def test_paired_test_errors():
    gold = {"d": [Span(0, 1, "AGE/AGE")]}
    with pytest.raises(ValueError, match="method"):
        paired_test(gold, gold, gold, method="t-test")
    with pytest.raises(ValueError, match="at least one document"):
        paired_test({}, {}, {})


# ---------------------------------------------------------------------------------- flatten


def test_flatten_metrics():
    gold = {"d": [Span(0, 5, "NAME/DOCTOR")]}
    r = evaluate_spans(gold, gold, bootstrap=10)
    flat = flatten_metrics(r)
    assert flat["strict.micro.f1"] == 1.0
    assert flat["strict.micro.tp"] == 1.0
    assert flat["strict.per_type.DOCTOR.f1"] == 1.0
    assert flat["strict.per_category.NAME.support"] == 1.0
    assert flat["strict.micro.f1_ci"] == [1.0, 1.0]
    assert flat["hipaa_strict.macro.documents"] == 1.0
    assert flatten_metrics({"a": {"mode": "strict", "ok": True, "x": np.float32(0.5)}}) == {
        "a.x": 0.5
    }


# ---------------------------------------------------------------------------------- seqeval


def test_seqeval_strict_vs_lenient():
    true = [["B-PER", "I-PER", "O"], ["B-LOC", "O"]]
    pred = [["I-PER", "I-PER", "O"], ["B-LOC", "O"]]
    strict = seqeval_scores(true, pred)
    lenient = seqeval_scores(true, pred, lenient=True)
    # strict IOB2: the I-PER run without B-PER is no entity -> PER P = R = 0; LOC correct.
    # micro: tp 1 (LOC), 1 predicted entity, 2 gold -> P = 1, R = 1/2, F1 = 2/3
    assert strict["mode"] == "strict IOB2"
    assert strict["per_type"]["PER"]["f1"] == 0.0
    assert (strict["micro"]["precision"], strict["micro"]["recall"]) == (1.0, 0.5)
    assert strict["micro"]["f1"] == approx(2 / 3)
    # lenient (conlleval): I-PER I-PER is a PER entity at tokens 0-1 -> everything matches
    assert lenient["mode"] == "lenient (conlleval, default seqeval)"
    assert lenient["micro"]["f1"] == 1.0
    assert lenient["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    with pytest.raises(ValueError):
        seqeval_scores([["O"]], [["O", "O"]])


# -------------------------------------------------------------------------------- confusion


def test_confusion_counts_and_plot(tmp_path):
    gold = {"d": [Span(0, 10, "NAME/DOCTOR"), Span(20, 30, "DATE/DATE"), Span(40, 42, "AGE/AGE")]}
    pred = {
        "d": [
            Span(0, 8, "NAME/PATIENT"),   # overlaps DOCTOR by 8 -> confusion
            Span(5, 12, "NAME/PATIENT"),  # overlaps DOCTOR by 5 only -> spurious
            Span(20, 30, "DATE/DATE"),
            Span(50, 55, "NAME/DOCTOR"),  # spurious
        ],
        "e": [Span(0, 2, "AGE/AGE")],     # document absent from gold -> spurious
    }
    counts = confusion_counts(gold, pred)
    assert dict(counts) == {
        ("NAME/DOCTOR", "NAME/PATIENT"): 1,
        ("DATE/DATE", "DATE/DATE"): 1,
        ("AGE/AGE", MISSED): 1,
        (SPURIOUS, "NAME/PATIENT"): 1,
        (SPURIOUS, "NAME/DOCTOR"): 1,
        (SPURIOUS, "AGE/AGE"): 1,
    }
    rows, cols, matrix = confusion_matrix(counts)
    assert rows == ["AGE/AGE", "DATE/DATE", "NAME/DOCTOR", "NAME/PATIENT", SPURIOUS]
    assert cols == ["AGE/AGE", "DATE/DATE", "NAME/DOCTOR", "NAME/PATIENT", MISSED]
    assert matrix.tolist() == [
        [0, 0, 0, 0, 1],
        [0, 1, 0, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0],
        [1, 0, 1, 1, 0],
    ]
    out = plot_confusion(counts, tmp_path / "plots" / "confusion.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
