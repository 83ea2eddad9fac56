"""Surrogate augmentation and re-rendered folders: offsets exact, every non-PHI character kept,
the generator's fresh forms per TYPE (expected values from the form tables and the date shift)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter

import pytest

from clinical_ner.augmentation import (
    AugmentationError,
    augment_document,
    augment_documents,
    resurrogate_folder,
)
from clinical_ner.documents import Document, FormatError, LoadReport, Span
from clinical_ner.redaction import text_outside
from clinical_ner.surrogates import (
    DATE_FORMS_MD,
    DATE_FORMS_MDY,
    PHONE_FORMS,
    SurrogateGenerator,
    date_fields,
    fill_layout,
    render_date,
)
from clinical_ner.tasks import get_task

TEXT = ("Seen by Dr. Smith on 07/22/2095 at Kent Medical Center.\n"
        "Pt John Doe, 92 y/o, call 617-555-0142; MRN 12345678.\n")
LABELS = [("Smith", "NAME/DOCTOR"), ("07/22/2095", "DATE/DATE"),
          ("Kent Medical Center", "LOCATION/HOSPITAL"), ("John Doe", "NAME/PATIENT"),
          ("92", "AGE/AGE"), ("617-555-0142", "CONTACT/PHONE"), ("12345678", "ID/MEDICALRECORD")]


def _doc(doc_id="100-01") -> Document:
    spans = [Span(TEXT.index(t), TEXT.index(t) + len(t), lab) for t, lab in LABELS]
    return Document(doc_id, TEXT, tuple(spans), {"patient": doc_id[:3], "file": f"{doc_id}.xml"})


@pytest.fixture(scope="module")
def task():
    return get_task("phi", "i2b2_2014")


def test_augmented_copy_keeps_offsets_and_every_outside_character(task):
    doc = _doc()
    gen = SurrogateGenerator("augment:42", "en_GB")
    aug = augment_document(doc, gen, 1, task)
    assert aug.id == "100-01#aug1" and aug.meta["augmented_from"] == "100-01"
    assert [s.label for s in aug.spans] == [s.label for s in doc.spans]
    assert text_outside(doc.text, [(s.start, s.end) for s in doc.spans]) == \
        text_outside(aug.text, [(s.start, s.end) for s in aug.spans])
    for s_old, s_new in zip(doc.spans, aug.spans, strict=True):
        # each new span covers exactly the generator's surrogate for the copy's patient
        assert aug.span_text(s_new) == gen.restyled(s_old.label, doc.span_text(s_old),
                                                    "100#copy1")
        assert aug.span_text(s_new) == aug.span_text(s_new).strip()
    words, tags = task.words_and_tags(aug)
    assert set(task.decode(words, tags)) == set(aug.spans)  # the load report's round trip


def test_copies_are_seeded_and_differ(task):
    docs = [_doc("100-01"), _doc("101-01"), Document("102-01", "No PHI here.\n")]
    a, stats = augment_documents(docs, 2, seed=7, task=task)
    b, _ = augment_documents(docs, 2, seed=7, task=task)
    c, _ = augment_documents(docs, 2, seed=8, task=task)
    assert [d.text for d in a] == [d.text for d in b]  # same seed: same notes
    assert [d.text for d in a] != [d.text for d in c]
    assert [d.id for d in a] == ["100-01#aug1", "101-01#aug1", "100-01#aug2", "101-01#aug2"]
    assert a[0].text != a[2].text  # copy 2 draws afresh
    assert stats["augmented_notes"] == 4 and stats["augmented_spans"] == 28
    assert stats["augment_notes_without_spans"] == 1 and stats["augment_failed_notes"] == 0


def test_ignored_words_move_with_the_copy(task):
    doc = _doc()
    words, _ = task.words_and_tags(doc)
    ignore = [TEXT[a:b] == "call" for a, b in words]  # a word under a rejected tag
    assert sum(ignore) == 1
    doc.meta["ignore_words"] = ignore
    aug = augment_document(doc, SurrogateGenerator("k"), 1, task)
    new_words, _ = task.words_and_tags(aug)
    assert [aug.text[a:b] for (a, b), f in zip(new_words, aug.meta["ignore_words"]) if f] == \
        ["call"]


def test_a_bad_copy_is_refused_not_used(task, monkeypatch):
    gen = SurrogateGenerator("k")
    monkeypatch.setattr(gen, "restyled", lambda label, original, patient: " x ")
    with pytest.raises(AugmentationError, match="100-01.xml.*padded"):
        augment_document(_doc(), gen, 1, task)


def test_restyled_dates_are_shifted_by_the_patient_shift_in_a_known_form():
    gen = SurrogateGenerator("forms")
    seen = Counter()
    for i in range(300):
        patient = f"p{i}"
        out = gen.restyled("DATE/DATE", "07/22/2095", patient)
        parsed = date_fields(out)
        assert parsed is not None, out
        d, fields = parsed
        expect = dt.date(2095, 7, 22) + dt.timedelta(days=gen.date_shift(patient))
        assert (d.month, d.day) == (expect.month, expect.day), (out, expect)
        if fields == "mdy":
            assert d.year % 100 == expect.year % 100  # a 2-digit year reads as %y
        forms = [f for f in DATE_FORMS_MDY + DATE_FORMS_MD
                 if render_date(expect, f).casefold() == out.casefold()]
        assert forms, out
        seen[forms[0]] += 1
    # every form of the tables is drawn (07/22, Jul 22, 22-Jul, 1998-07-22, July 22, 1998 ...)
    assert {"{m}/{d}", "{mon} {d}", "{d}-{mon}", "{yyyy}-{mm}-{dd}", "{month} {d}, {yyyy}"} \
        <= set(seen)


def test_restyled_years_keep_the_apostrophe_outside_the_span():
    """The corpora tag ``'84`` as ``84`` (PhysioNet: 20 such DATE spans, none starting with
    the apostrophe): a restyled bare year is 4 or 2 digits, never ``'91``, and shifted by the
    patient's shift (1984-07-01 + shift, as date_fields reads a bare year)."""
    gen = SurrogateGenerator("years")
    seen = set()
    for i in range(200):
        patient = f"p{i}"
        out = gen.restyled("DATE/DATE", "84", patient)
        expect = dt.date(1984, 7, 1) + dt.timedelta(days=gen.date_shift(patient))
        assert out in (str(expect.year), f"{expect.year % 100:02d}"), (out, expect)
        seen.add(len(out))
    assert seen == {2, 4}


def test_restyled_names_phones_ids_forms():
    gen = SurrogateGenerator("forms")
    names = [gen.restyled("NAME/DOCTOR", "Smith", f"p{i}") for i in range(200)]
    shapes = Counter()
    for n in names:
        shapes[re.sub(r"[^\W\d_]{2,}", "W", re.sub(r"\b[^\W\d_]\b", "I", n))] += 1
    # Smith, John Smith, Smith, John, J. Smith, Smith, J., John A. Smith, J Smith
    assert {"W", "W W", "W, W", "I. W", "W, I.", "W I. W", "I W"} <= set(shapes)
    assert sum(n.casefold() == "smith" for n in names) == 0  # always a new surname
    phones = {gen.restyled("CONTACT/PHONE", "617-555-0142", f"p{i}") for i in range(200)}
    layouts = {re.sub(r"\d", "9", p) for p in phones}
    assert {"(999) 999-9999", "999.999.9999", "999-999-9999"} <= layouts <= \
        {re.sub(r"\d", "9", f) for f in PHONE_FORMS}  # "+1 ..." reads "+9 ..." here
    ids = {gen.restyled("ID/IDNUM", "12345678", f"p{i}") for i in range(100)}
    assert any(re.search(r"[A-Z]", x) for x in ids)  # IDs with letters
    assert all(re.fullmatch(r"[\dA-Z-]+", x) for x in ids)
    assert fill_layout("A9-9", __import__("random").Random(0)) != "A9-9"


def test_restyled_is_consistent_per_patient_and_keeps_titles_and_whitespace():
    gen = SurrogateGenerator("k", "de_DE")
    a = gen.restyled("NAME/PATIENT", "Doe", "p1")
    assert gen.restyled("NAME/PATIENT", "DOE", "p1") == a or \
        gen.restyled("NAME/PATIENT", "DOE", "p1").casefold() == a.casefold()
    assert gen.restyled("NAME/DOCTOR", "Dr. Smith", "p1").startswith("Dr. ")
    assert gen.restyled("DATE/DATE", " 07/22 ", "p1").startswith(" ")
    assert gen.restyled("AGE/AGE", "92", "p1").isdigit()
    assert int(gen.restyled("AGE/AGE", "92", "p1")) > 89  # an age over 89 stays over 89
    assert date_fields("'84") == (dt.date(1984, 7, 1), "y")
    assert date_fields("11th") == (dt.date(2000, 1, 11), "d")


def test_resurrogate_folder_keeps_layout_and_gold(tmp_path):
    from data_scripts import i2b2_2014
    from data_scripts.__main__ import main

    src = tmp_path / "src"
    (src / "test").mkdir(parents=True)
    i2b2_2014.write_file(_doc("100-01"), src / "test" / "100-01.xml")
    i2b2_2014.write_file(_doc("101-01"), src / "test" / "101-01.xml")
    assert main(["resurrogate", str(src), str(tmp_path / "out"), "--seed", "3",
                 "--locale", "en_AU"]) == 0
    manifest = json.loads((tmp_path / "out" / "resurrogate.json").read_text())
    assert manifest["counts"]["notes"] == 2 and manifest["counts"]["tags"] == 14
    assert manifest["folders"] == ["test"] and manifest["locale"] == "en_AU"
    report = LoadReport(format="i2b2_2014")
    new = i2b2_2014.read_folder(tmp_path / "out" / "test", report, as_written=True)
    assert [d.id for d in new] == ["100-01", "101-01"] and not report.problems
    for d in new:
        old = _doc(d.id)
        assert [s.label for s in d.spans] == [s.label for s in old.spans]
        assert text_outside(d.text, [(s.start, s.end) for s in d.spans]) == \
            text_outside(old.text, [(s.start, s.end) for s in old.spans])
        assert all(d.span_text(a) != old.span_text(b) for a, b in zip(d.spans, old.spans))
    # never overwrites
    assert main(["resurrogate", str(src), str(tmp_path / "out")]) == 2
    with pytest.raises(FileExistsError):
        resurrogate_folder(src, tmp_path / "out")


def test_resurrogate_keeps_a_carriage_return_and_refuses_crlf_offsets(tmp_path):
    from data_scripts import i2b2_2014

    src = tmp_path / "cr"
    src.mkdir()
    text = "Seen\r\nJohn Smith on 01/02/2003."
    i2b2_2014.write_file(Document("200-01", text, (Span(6, 16, "NAME/PATIENT"),
                                                   Span(20, 30, "DATE/DATE"))), src / "200-01.xml")
    back = i2b2_2014.read_file(src / "200-01.xml", LoadReport(format="i2b2_2014"),
                               as_written=True)
    assert back.text == text  # the CR survives the XML round trip (&#13;)
    resurrogate_folder(src, tmp_path / "out")
    new = i2b2_2014.read_file(tmp_path / "out" / "200-01.xml", LoadReport(format="i2b2_2014"),
                              as_written=True)
    assert new.text.startswith("Seen\r\n") and new.text.endswith(".")
    assert text_outside(new.text, [(s.start, s.end) for s in new.spans]) == \
        text_outside(text, [(6, 16), (20, 30)])
    # offsets that count the CR of CR LF line ends (raw CR LF in the file): refused, nothing left
    crlf = tmp_path / "crlf"
    crlf.mkdir()
    (crlf / "200-01.xml").write_bytes(
        b'<?xml version="1.0" encoding="UTF-8" ?>\r\n<deIdi2b2><TEXT><![CDATA[Line one\r\n'
        b'John Smith\r\nLine\r\nMary Jones and more text here\r\n]]></TEXT><TAGS>\r\n'
        b'<NAME id="P0" start="10" end="20" text="John Smith" TYPE="PATIENT" comment="" />\r\n'
        b'<NAME id="P1" start="28" end="38" text="Mary Jones" TYPE="PATIENT" comment="" />\r\n'
        b'</TAGS></deIdi2b2>')
    with pytest.raises(FormatError, match="200-01.*CR LF"):
        resurrogate_folder(crlf, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(FileExistsError, match="inside"):
        resurrogate_folder(src, src / "out")


@pytest.mark.parametrize("copies, locales, message", [
    (-1, "", "between 0 and 50, not -1"), (51, "", "between 0 and 50, not 51"),
    (2, ",", "lists no locale"), (2, "en_GB,xx_YY", "unknown Faker locale.s. xx_YY"),
])
def test_bad_augmentation_arguments_are_refused(copies, locales, message):
    from clinical_ner.cli import UsageError
    from clinical_ner.training import DataArguments, check_augment_arguments

    with pytest.raises(UsageError, match=message):
        check_augment_arguments(DataArguments(augment_copies=copies, augment_locales=locales))
    check_augment_arguments(DataArguments(augment_copies=2, augment_locales="en_GB, de_DE"))


@pytest.mark.parametrize("locale", ["", "xx_YY"])
def test_resurrogate_refuses_an_unknown_locale_before_writing(tmp_path, capsys, locale):
    from data_scripts import i2b2_2014
    from data_scripts.__main__ import main

    (tmp_path / "src").mkdir()
    i2b2_2014.write_file(_doc("100-01"), tmp_path / "src" / "100-01.xml")
    assert main(["resurrogate", str(tmp_path / "src"), str(tmp_path / "out"),
                 "--locale", locale]) == 2
    assert f"unknown Faker locale {locale!r}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
