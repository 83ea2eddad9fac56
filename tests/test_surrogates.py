"""clinical_ner.surrogates: keyed, consistent, same-form surrogate PHI (expected values by hand)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from clinical_ner.surrogates import (
    SurrogateGenerator,
    layout_surrogate,
    shift_date,
    split_label,
    surrogate_kind,
)


@pytest.fixture(scope="module")
def gen():
    return SurrogateGenerator("test-key")


@pytest.mark.parametrize("text, days, expected", [
    ("01/02/2095", 30, "02/01/2095"),      # 2 Jan + 30 days = 1 Feb; zero padding kept
    ("06/21/2020", 15, "07/06/2020"),      # a leading zero in either field pads both
    ("12/21/2020", 15, "1/5/2021"),         # no leading zero: none added
    ("1/2/95", -3, "12/30/94"),             # 2-digit year kept, across a year boundary
    ("2095-01-02", 30, "2095-02-01"),
    ("2/1", 30, "3/2"),                     # no year: read in 2000 (leap): 1 Feb + 30 = 2 Mar
    ("10-15", 30, "11-14"),                 # month-day with a hyphen
    ("Jan 2", 30, "Feb 1"),
    ("JAN 2", 30, "FEB 1"),                 # case kept
    ("January 2nd", 30, "February 1st"),    # full name and ordinal suffix
    ("Sept. 30", 1, "Oct. 1"),
    ("Jan 2, 2095", 365, "Jan 2, 2096"),    # 2095 is no leap year
    ("2 Jan 2095", 30, "1 Feb 2095"),
    ("2nd of January", 30, "1st of February"),
    ("31/12/2095", 1, "1/1/2096"),          # first number > 12: day first
    ("01/2095", 30, "02/2095"),             # month/year shifted from the 15th
    ("January 2095", 30, "February 2095"),
    ("2095", 200, "2096"),                  # a year alone from 1 July: 1 July + 200 -> 2096
    ("20950102", 30, "20950201"),
    ("Tuesday", 30, "Thursday"),            # 30 mod 7 = 2
    ("Tue", 30, "Thu"),
])
def test_each_date_format_shifted_by_a_known_offset(text, days, expected):
    assert shift_date(text, days) == expected


@pytest.mark.parametrize("text", ["Christmas", "13/45/2095", "last week", "02/30/2095",
                                  "12/31/9999"])
def test_dates_not_read_give_none(text):
    assert shift_date(text, 10) is None


def test_unparsed_date_replaced_in_layout_and_counted():
    g = SurrogateGenerator("k")
    out = g.surrogate("DATE/DATE", "Christmas", "001")
    assert re.fullmatch(r"[A-Z][a-z]{8}", out) and out != "Christmas"
    assert g.stats["date_not_parsed"] == 1


def test_date_shift_is_one_offset_per_patient_and_keeps_intervals(gen):
    d1 = gen.date_shift("001")
    assert d1 == gen.date_shift("001") and 30 <= abs(d1) <= 730
    a = gen.surrogate("DATE/DATE", "01/02/2095", "001")
    b = gen.surrogate("DATE/DATE", "03/15/2095", "001")
    assert a == shift_date("01/02/2095", d1)
    fmt = "%m/%d/%Y"
    interval = dt.datetime.strptime(b, fmt) - dt.datetime.strptime(a, fmt)
    assert interval.days == (dt.date(2095, 3, 15) - dt.date(2095, 1, 2)).days == 72
    assert gen.surrogate("DATE/DATE", "01/02/2095 14:30", "001") == a + " 14:30"  # time kept
    shifts = {gen.date_shift(p) for p in ("001", "002", "003", "004")}
    assert len(shifts) > 1  # patients get their own shift


def test_name_forms(gen):
    smith = gen.surrogate("NAME/PATIENT", "SMITH", "001")
    assert smith.isupper() and smith != "SMITH" and re.fullmatch(r"[A-Z'-]+", smith)
    both = gen.surrogate("NAME/PATIENT", "Smith, John", "001")
    last, first = both.split(", ")
    assert last.upper() == smith  # "Smith" maps as "SMITH" did: case-insensitive, per word
    assert first == gen.surrogate("NAME/PATIENT", "John", "001") != "John"
    assert gen.surrogate("NAME/PATIENT", "John Smith", "001") == f"{first} {last}"
    init = gen.surrogate("NAME/DOCTOR", "J. Smith", "001")
    assert re.fullmatch(r"[A-Z]\. [A-Z][\w'-]+", init) and not init.startswith("J.")
    dr = gen.surrogate("NAME/DOCTOR", "Dr. X", "001")
    assert re.fullmatch(r"Dr\. [A-Z]", dr) and dr != "Dr. X"
    md = gen.surrogate("NAME/DOCTOR", "Amos Velt, M.D.", "001")
    assert md.endswith(", M.D.") and "Amos" not in md and "Velt" not in md
    from faker.providers.person.en_US import Provider

    david = gen.surrogate("NAME/PATIENT", "David", "001")
    mary = gen.surrogate("NAME/PATIENT", "Mary", "001")
    assert david in Provider.first_names_male and mary in Provider.first_names_female
    low = gen.surrogate("NAME/PATIENT", "smith", "001")
    assert low == smith.lower()


def test_same_patient_same_surrogate_other_patient_other(gen):
    note1 = gen.surrogate("LOCATION/HOSPITAL", "Lakeside General", "001")
    note2 = gen.surrogate("LOCATION/HOSPITAL", "LAKESIDE  general", "001")  # case, spaces
    assert note1.casefold() == note2.casefold()
    assert gen.surrogate("NAME/PATIENT", "Quince", "001") != \
        gen.surrogate("NAME/PATIENT", "Quince", "002")
    assert gen.surrogate("ID/MEDICALRECORD", "88231904", "001") != \
        gen.surrogate("ID/MEDICALRECORD", "88231904", "002")


def test_same_key_same_output_other_key_other_output():
    items = [("NAME/PATIENT", "Tolliver Quince"), ("DATE/DATE", "2093-04-11"),
             ("LOCATION/HOSPITAL", "Harbor Point Clinic"), ("CONTACT/PHONE", "555-123-4567"),
             ("LOCATION/CITY", "Boston")]

    def run(key):
        g = SurrogateGenerator(key)
        return [g.surrogate(lab, o, "007") for lab, o in items]

    assert run("key-A") == run("key-A")
    other = run("key-B")
    assert all(a != b for a, b in zip(run("key-A"), other))
    assert run(None) != run(None)  # a random key per generator
    assert not SurrogateGenerator(None).key_given and SurrogateGenerator("x").key_given
    assert "key-A" not in repr(SurrogateGenerator("key-A"))


def test_layout_types_keep_their_layout(gen):
    phone = gen.surrogate("CONTACT/PHONE", "(617) 555-0199", "001")
    assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", phone) and phone != "(617) 555-0199"
    mrn = gen.surrogate("ID/MEDICALRECORD", "MRN 8823-19A", "001")
    assert re.fullmatch(r"[A-Z]{3} \d{4}-\d{2}[A-Z]", mrn)
    zip_ = gen.surrogate("LOCATION/ZIP", "02114", "001")
    assert re.fullmatch(r"\d{5}", zip_) and zip_ != "02114"
    import random

    assert layout_surrogate("Ab-1 x", random.Random(0)).__len__() == 6


def test_ages_over_89_become_90_plus(gen):
    assert gen.surrogate("AGE/AGE", "92", "001") == "90+"
    assert gen.surrogate("AGE/AGE", "103 yo", "001") == "90+ yo"
    assert gen.surrogate("AGE/AGE", "89", "001") == "89"  # not PHI under Safe Harbor


def test_faker_kinds_and_case(gen):
    city = gen.surrogate("LOCATION/CITY", "BOSTON", "001")
    assert city.isupper() and city != "BOSTON"
    hosp = gen.surrogate("LOCATION/HOSPITAL", "Lakeside General Hospital", "001")
    assert hosp.endswith(" General Hospital") and not hosp.startswith("Lakeside")
    assert len(gen.surrogate("LOCATION/STATE", "MA", "001")) == 2
    assert "@" in gen.surrogate("CONTACT/EMAIL", "a.b@example.org", "001")
    assert gen.surrogate("PROFESSION/PROFESSION", "nurse", "001") != "nurse"
    assert gen.surrogate("NAME/PATIENT", " Smith\n", "001").startswith(" ")  # spaces kept


def test_other_locales_and_missing_faker_providers():
    g = SurrogateGenerator("k", "de_DE")  # its Faker has no state_abbr
    state = g.surrogate("LOCATION/STATE", "MA", "001")
    assert re.fullmatch(r"[A-Z]{2}", state) and state != "MA"
    assert g.stats["faker_missing"] >= 1
    assert g.surrogate("LOCATION/CITY", "Boston", "001") != "Boston"
    assert g.surrogate("NAME/PATIENT", "Smith, John", "001").count(", ") == 1


def test_labels_type_or_category_only():
    assert split_label("NAME/PATIENT") == ("NAME", "PATIENT")
    assert split_label("DATE") == ("DATE", "DATE")
    assert [surrogate_kind(x) for x in ("NAME/DOCTOR", "NAME", "PATIENT", "DATE", "ID",
                                        "CONTACT/FAX", "LOCATION", "OTHER/OTHER", "FOO/BAR")] \
        == ["name", "name", "name", "date", "layout", "layout", "location", "layout", "layout"]
    g = SurrogateGenerator("k")
    assert g.surrogate("DATE", "01/02/2095", "9") == shift_date("01/02/2095", g.date_shift("9"))
    assert g.surrogate("NAME", "SMITH", "9").isupper()


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        SurrogateGenerator("")
    with pytest.raises(ValueError, match="empty original"):
        SurrogateGenerator("k").surrogate("NAME/PATIENT", "", "1")
