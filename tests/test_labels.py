"""Words split at span boundaries, span -> BIO -> span round trips, label schemes."""

import pytest

from clinical_ner.documents import Span
from clinical_ner.labels import (
    LabelScheme,
    bio_to_spans,
    i2b2_2014_scheme,
    spans_to_bio,
    split_words,
)


def words_of(text, spans=()):
    return [text[s:e] for s, e in split_words(text, spans)]


def test_words_split_at_punctuation_and_span_boundaries():
    assert words_of("Dr.Smith's BP 120/80") == ["Dr", ".", "Smith", "'", "s", "BP", "120", "/",
                                               "80"]
    # a DATE 01/01 directly followed by /1995 is its own word sequence
    text = "on 01/01/1995 ok"
    assert words_of(text, [Span(3, 8, "DATE")]) == ["on", "01", "/", "01", "/", "1995", "ok"]
    # a boundary inside an alphanumeric run splits the word
    assert words_of("SMITHJOHN went", [Span(0, 5, "PATIENT")]) == ["SMITH", "JOHN", "went"]
    assert split_words("  ") == []


def test_spans_to_bio_and_back_are_exact():
    text = "Seen 4/22 by Dr. Amos Velt at Lakeside General."
    spans = [Span(5, 9, "DATE"), Span(17, 26, "DOCTOR"), Span(30, 46, "HOSPITAL")]
    words = split_words(text, spans)
    tags = spans_to_bio(words, spans)
    assert tags == ["O", "B-DATE", "I-DATE", "I-DATE", "O", "O", "O", "B-DOCTOR", "I-DOCTOR",
                    "O", "B-HOSPITAL", "I-HOSPITAL", "O"]
    assert bio_to_spans(words, tags) == spans


def test_adjacent_spans_of_one_type_stay_apart():
    text = "JOHN SMITH"
    spans = [Span(0, 4, "PATIENT"), Span(5, 10, "PATIENT")]
    words = split_words(text, spans)
    assert spans_to_bio(words, spans) == ["B-PATIENT", "B-PATIENT"]
    assert bio_to_spans(words, ["B-PATIENT", "B-PATIENT"]) == spans
    assert bio_to_spans(words, ["B-PATIENT", "I-PATIENT"]) == [Span(0, 10, "PATIENT")]


def test_decoding_repairs_orphan_inside_tags():
    words = [(0, 1), (2, 3), (4, 5)]
    # I- without B- starts an entity; a type change starts a new one
    assert bio_to_spans(words, ["I-DATE", "I-AGE", "O"]) == [Span(0, 1, "DATE"),
                                                             Span(2, 3, "AGE")]
    with pytest.raises(ValueError, match="IOB2"):
        bio_to_spans(words, ["X-DATE", "O", "O"])


def test_overlapping_spans_are_refused():
    words = split_words("a b c", [Span(0, 3, "X"), Span(2, 5, "Y")])
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_bio(words, [Span(0, 3, "X"), Span(2, 5, "Y")])


def test_i2b2_2014_scheme_covers_every_type():
    scheme = i2b2_2014_scheme("type")
    assert len(scheme.span_labels) == 31
    assert scheme.bio_labels[:3] == ["O", "B-PATIENT", "I-PATIENT"]
    assert len(scheme.bio_labels) == 63
    assert scheme.entity_of("LOCATION/LOCATION-OTHER") == "LOCATION-OTHER"
    assert scheme.span_label_of("OTHER") == "OTHER/OTHER"
    cats = i2b2_2014_scheme("category")
    assert cats.span_labels == ("NAME", "PROFESSION", "LOCATION", "AGE", "DATE", "CONTACT", "ID",
                                "OTHER")
    with pytest.raises(ValueError):
        i2b2_2014_scheme("subtype")


def test_label_scheme_checks_names_and_keeps_hyphens():
    s = LabelScheme.from_bio_labels(["O", "B-Multi-tissue_structure", "I-Multi-tissue_structure"])
    assert s.entity_types == ("Multi-tissue_structure",)
    with pytest.raises(ValueError):
        LabelScheme(("a", "b"), ("X", "X"))
    with pytest.raises(ValueError):
        LabelScheme(("a",), ("B-X",))


def test_negative_subsampler_keeps_entities_and_redraws_negatives():
    from clinical_ner.training import NegativeSubsampler

    has_entity = [True, False, False, True, False, False, False, False, False, False]
    s = NegativeSubsampler(has_entity, keep=0.25, seed=3)
    assert len(s) == 2 + 2  # round(0.25 * 8) negatives
    epochs = [sorted(s) for _ in range(4)]
    assert all(len(e) == 4 and {0, 3} <= set(e) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # a fresh draw of negatives per epoch
    again = NegativeSubsampler(has_entity, keep=0.25, seed=3)
    assert [sorted(again) for _ in range(4)] == epochs  # seeded


def test_negative_subsampler_groups_the_epoch_by_length():
    """With window lengths, the epoch's draw is put in group_by_length order: 64 windows of 100
    and 10 sub-tokens, batch 4 -> mega-batches of 16 (64 // (4 * 4) = 4 of them) each sorted
    by length, so at most one batch per mega-batch mixes the two lengths (a shuffle mixes ~14
    of the 16 batches)."""
    from clinical_ner.training import NegativeSubsampler

    lengths = [100, 10] * 32
    has_entity = [True] * 64
    plain = NegativeSubsampler(has_entity, keep=0.5, seed=7)
    grouped = NegativeSubsampler(has_entity, keep=0.5, seed=7, lengths=lengths, batch_size=4)
    order = list(grouped)
    assert sorted(order) == list(range(64)) and len(order) == len(grouped)
    batches = [order[i : i + 4] for i in range(0, 64, 4)]
    mixed = sum(len({lengths[i] for i in b}) > 1 for b in batches)
    assert mixed <= 4
    shuffled = list(plain)
    mixed_shuffled = sum(len({lengths[i] for i in shuffled[j : j + 4]}) > 1
                         for j in range(0, 64, 4))
    assert mixed_shuffled > mixed
    # with negatives: the same windows as the shuffled draw of that epoch, only reordered
    has_entity = [i % 3 == 0 for i in range(64)]
    a = NegativeSubsampler(has_entity, keep=0.25, seed=5)
    b = NegativeSubsampler(has_entity, keep=0.25, seed=5, lengths=lengths, batch_size=4)
    assert sorted(a.epoch_indices(2)) == sorted(b.epoch_indices(2))
    assert b.epoch_indices(2) == b.epoch_indices(2)  # seeded


def test_spans_without_a_letter_or_digit_are_dropped_and_counted():
    from clinical_ner.labels import drop_spans_without_alnum

    text = "woman, Carrillo House -- +1 (617) é -"
    spans = [Span(5, 6, "PATIENT"), Span(7, 15, "PATIENT"), Span(22, 24, "PHONE"),
             Span(25, 27, "PHONE"), Span(28, 33, "PHONE"), Span(34, 35, "CITY"),
             Span(36, 37, "CITY")]
    kept, dropped = drop_spans_without_alnum(text, spans)
    # ",", "--" and "-" hold no letter or digit; "+1", "(617)" and "é" do
    assert kept == [Span(7, 15, "PATIENT"), Span(25, 27, "PHONE"), Span(28, 33, "PHONE"),
                    Span(34, 35, "CITY")]
    assert dropped == 3
    assert drop_spans_without_alnum(text, iter([])) == ([], 0)
