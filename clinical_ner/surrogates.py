"""Keyed surrogate PHI: a realistic replacement of the same TYPE for each PHI string.

Layer 3 (pure: no model, no files). :class:`SurrogateGenerator` turns ``(label, original,
patient)`` into a surrogate string. It serves de-identification (predicted spans -> surrogates,
:mod:`clinical_ner.redaction`) and, later, training augmentation (gold spans -> fresh surrogates).

Properties (each tested in ``tests/test_surrogates.py``):

* **Keyed and deterministic.** Every random choice is seeded by ``HMAC-SHA256(key, purpose,
  patient, TYPE, casefolded original)``: the same key gives the same surrogate in every note
  and every run; without the key no mapping can be recomputed (an HMAC, not a plain hash, so
  knowing the original does not reveal its surrogate). ``key=None`` draws a random 32-byte key
  that is never written anywhere (:attr:`SurrogateGenerator.key_given` is then False).
* **Consistent per patient.** The same original string (case-insensitive) of the same TYPE maps
  to the same surrogate for one patient; another patient gets another draw. Names are mapped
  token by token (``Smith`` alone and in ``Smith, John`` give the same surname surrogate).
* **Same form.** Names keep their case, punctuation, titles (``Dr.``, ``Mr``, ``M.D.``),
  initials (an initial becomes an initial) and the gender of a given name Faker knows as one.
  Dates are shifted by one number of days per patient
  (:meth:`SurrogateGenerator.date_shift`), each in its own format (``01/02/2095``, ``1/2/95``,
  ``2095-01-02``, ``Jan 2``, ``January 2nd``, ``2 Jan 2095``, ``2/1``, ``10-15``, ``01/2095``,
  ``January 2095``, ``2095``, ``20950102``, weekday names), so intervals between a patient's
  dates are kept. Phone, fax, IDs, record numbers, ZIP codes, rooms, user names: random digits
  and letters in the same layout (``617-555-0199`` -> ``408-213-7755``). Hospitals, cities,
  streets, states,
  countries, organisations, professions, e-mails, URLs, IP addresses: Faker values of the
  generator's locale, in the original's case (upper, lower).
* **Ages over 89** become ``90+`` (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(C)); other ages
  are not PHI under Safe Harbor and are kept.

A date the formats above do not read (``Christmas``, ``the 3rd``) is not shifted: its digits and
letters are replaced in the same layout and it is counted in ``stats["date_not_parsed"]`` (the
interval to other dates is then lost; never silent). Labels are i2b2 2014 ``CATEGORY/TYPE``
(:data:`clinical_ner.labels.I2B2_2014_TYPES`), a bare TYPE (i2b2 2006) or a category only.
Surrogates depend on Faker's word lists: pin Faker (pyproject) to keep them across installs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import re
import secrets
from collections import Counter

from clinical_ner.dates import (  # noqa: F401  (the date API is re-exported here)
    _TIME_TAIL,
    DATE_FORMS_MD,
    DATE_FORMS_MDY,
    DATE_FORMS_MY,
    DATE_FORMS_WD,
    DATE_FORMS_Y,
    REFERENCE_YEAR,
    _word_case,
    date_fields,
    render_date,
    shift_date,
)

#: Titles, honorifics and degrees kept as written inside a name (compared case-insensitively,
#: without dots; not ``DO``, a surname too).
NAME_TITLES = frozenset({
    "dr", "mr", "mrs", "ms", "miss", "mx", "prof", "md", "phd", "rn", "np", "pa", "jr",
    "sr", "ii", "iii", "iv", "dds", "facs", "mph", "msn", "aprn", "crnp", "pharmd",
})
#: Words that end a hospital's name and are kept (``Lakeside General Hospital`` ->
#: ``<Faker surname> General Hospital``), longest first.
FACILITY_WORDS = ("medical center", "health center", "general hospital", "memorial hospital",
                  "hospital", "clinic", "center", "centre", "medical", "health", "infirmary",
                  "rehab", "rehabilitation", "nursing home", "hospice")
_FACILITY_SUFFIXES = ("General Hospital", "Medical Center", "Memorial Hospital", "Hospital",
                      "Clinic", "Health Center")
_DEPARTMENTS = ("Cardiology", "Oncology", "Radiology", "Neurology", "Surgery", "Pediatrics",
                "Internal Medicine", "Emergency Department", "Orthopedics", "Urology",
                "Nephrology", "Dermatology", "Psychiatry", "Gastroenterology", "Pulmonology")
#: A name token: letters with inner apostrophes; titles with dots (``M.D.``) are matched first.
_NAME_TOKEN = re.compile(r"(?P<title>(?i:M\.D\.|Ph\.D\.|D\.D\.S\.))"
                         r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)")


def unknown_locales(locales) -> list[str]:
    """The entries of ``locales`` (strings) that Faker does not know
    (``faker.config.AVAILABLE_LOCALES``; ``''`` included, which ``Faker('')`` would silently
    take as its default), in their order."""
    from faker.config import AVAILABLE_LOCALES

    return [x for x in locales if x not in AVAILABLE_LOCALES]


def casefold_key(original: str) -> str:
    """The form an original is matched by: casefolded, runs of whitespace as one space,
    stripped (``"SMITH "`` and ``"smith"`` are the same original)."""
    return " ".join(original.casefold().split())


def match_case(value: str, original: str) -> str:
    """``value`` in the case of ``original``: upper when every cased letter of the original is
    upper (and it has two or more letters), lower when all are lower, else ``value`` as is."""
    letters = [c for c in original if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return value.upper()
    if letters and all(c.islower() for c in letters):
        return value.lower()
    return value


def split_label(label: str) -> tuple[str, str]:
    """``(CATEGORY, TYPE)`` of a span label: ``"NAME/PATIENT"`` -> ``("NAME", "PATIENT")``; a
    bare label is both (``"DATE"`` -> ``("DATE", "DATE")``, ``"PATIENT"`` ->
    ``("PATIENT", "PATIENT")``). Upper-cased."""
    cat, _, typ = label.upper().partition("/")
    return cat, (typ or cat)


#: TYPE (or bare label / category) -> surrogate kind.
_KIND_OF = {
    "PATIENT": "name", "DOCTOR": "name", "NAME": "name", "USERNAME": "layout",
    "PROFESSION": "profession", "HOSPITAL": "hospital", "ORGANIZATION": "organization",
    "STREET": "street", "CITY": "city", "STATE": "state", "COUNTRY": "country", "ZIP": "layout",
    "ROOM": "layout", "DEPARTMENT": "department", "LOCATION-OTHER": "city", "LOCATION": "location",
    "AGE": "age", "DATE": "date", "PHONE": "layout", "FAX": "layout", "EMAIL": "email",
    "URL": "url", "IPADDR": "ipaddr", "CONTACT": "contact", "ID": "layout", "SSN": "layout",
    "MEDICALRECORD": "layout", "HEALTHPLAN": "layout", "ACCOUNT": "layout", "LICENSE": "layout",
    "VEHICLE": "layout", "DEVICE": "layout", "BIOID": "layout", "IDNUM": "layout",
    "OTHER": "layout",
}


def surrogate_kind(label: str) -> str:
    """How a label is replaced: ``name``, ``date``, ``age``, ``layout`` (digits and letters
    in the same layout), or a Faker kind (``hospital``, ``city``, ...). Looks up the TYPE, then
    the category; an unknown label is ``layout`` (never kept as is)."""
    cat, typ = split_label(label)
    return _KIND_OF.get(typ) or _KIND_OF.get(cat) or "layout"


class SurrogateGenerator:
    """Keyed surrogate generator (module docstring).

    ``key``: bytes or str (UTF-8) of the HMAC key, or None for a random key drawn now and never
    written; ``locale``: the Faker locale of the fake values (e.g. ``en_US``, ``en_GB``);
    ``min_shift_days``/``max_shift_days``: bounds of the absolute date shift (a patient's shift
    is ``±d`` with ``min_shift_days <= d <= max_shift_days``). Raises ValueError for an empty key
    or bad bounds, AttributeError from Faker for an unknown locale.

    ``stats`` counts surrogates per kind and ``date_not_parsed`` (no note text).
    """

    def __init__(self, key: bytes | str | None = None, locale: str = "en_US", *,
                 min_shift_days: int = 30, max_shift_days: int = 730):
        from faker import Faker

        if key is None:
            key, self.key_given = secrets.token_bytes(32), False
        else:
            self.key_given = True
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not key:
            raise ValueError("the surrogate key is empty")
        if not 0 < min_shift_days <= max_shift_days:
            raise ValueError(f"need 0 < min_shift_days <= max_shift_days, got {min_shift_days}, "
                             f"{max_shift_days}")
        self._key = key
        self.locale = locale
        self.min_shift_days, self.max_shift_days = min_shift_days, max_shift_days
        self._faker = Faker(locale)
        self._first_names = _first_names(self._faker)
        self.stats: Counter = Counter()

    def __repr__(self) -> str:  # never show the key
        return (f"SurrogateGenerator(locale={self.locale!r}, key_given={self.key_given}, "
                f"shift=±[{self.min_shift_days}, {self.max_shift_days}] days)")

    # ------------------------------------------------------------------ keyed randomness

    def digest(self, *parts: str) -> bytes:
        """``HMAC-SHA256(key, parts joined by U+001F)``: 32 bytes."""
        msg = "\x1f".join(parts).encode("utf-8")
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def _rng(self, *parts: str) -> random.Random:
        return random.Random(int.from_bytes(self.digest(*parts), "big"))

    def _fake(self, *parts: str):
        self._faker.seed_instance(int.from_bytes(self.digest(*parts)[:8], "big"))
        return self._faker

    # ------------------------------------------------------------------ the API

    def date_shift(self, patient: str) -> int:
        """The patient's date shift in days (non-zero, ``min_shift_days <= |shift| <=
        max_shift_days``), from the key: every date of the patient moves by it."""
        rng = self._rng("date-shift", patient)
        days = rng.randint(self.min_shift_days, self.max_shift_days)
        return days if rng.random() < 0.5 else -days

    def surrogate(self, label: str, original: str, patient: str) -> str:
        """The surrogate of ``original`` (a PHI string labelled ``label``) for ``patient``.

        Deterministic in ``(key, patient, TYPE, casefold_key(original))`` (names: per name
        word; dates: per patient shift); leading and trailing whitespace of ``original`` is kept.
        The result differs from the original (case-insensitive) except for ages of 89 or less
        (not PHI under Safe Harbor) and originals without any letter or digit. Raises ValueError
        for an empty original.
        """
        if not original:
            raise ValueError(f"empty original for label {label!r}")
        lead = original[: len(original) - len(original.lstrip())]
        core = original.strip()
        if not core:
            return original
        trail = original[len(lead) + len(core):]
        kind = surrogate_kind(label)
        _, typ = split_label(label)
        self.stats[kind] += 1
        if kind == "date":
            out = self._date(core, patient)
        elif kind == "age":
            out = _age(core)
        elif kind == "name":
            out = self._name(core, typ, patient)
        else:
            out = self._other(kind, typ, core, patient)
        return lead + out + trail

    def restyled(self, label: str, original: str, patient: str) -> str:
        """A surrogate of ``original`` in a *fresh form* (training augmentation, and
        ``python -m data_scripts resurrogate``), where :meth:`surrogate` keeps the form.

        Keyed and consistent per ``(patient, TYPE, casefolded original)`` as :meth:`surrogate`.
        Names: a new given name and surname in one of :data:`NAME_FORMS` (``Smith``, ``J.
        Smith``, ``Smith, John``, ...), titles kept as written; dates: shifted by the patient's
        shift and written in one of the ``DATE_FORMS_*`` of the fields the original has (a
        year sometimes added or dropped; mostly one form per patient); phones and IDs: a new
        layout (:data:`PHONE_FORMS`, :data:`ID_FORMS`, IDs with letters); hospitals: a
        :data:`HOSPITAL_FORMS` name from the locale's surnames and cities (sometimes an
        acronym); cities: a city of the locale; ages: a new age on the same side of 89; case:
        the original's or Title/UPPER/lower. A share (30 %) keeps the original's form
        (:meth:`surrogate`). Leading and trailing whitespace is kept. Raises ValueError for an
        empty original.
        """
        if not original:
            raise ValueError(f"empty original for label {label!r}")
        core = original.strip()
        if not core:
            return original
        lead = original[: len(original) - len(original.lstrip())]
        trail = original[len(lead) + len(core):]
        self.stats["restyled:" + surrogate_kind(label)] += 1
        return lead + _restyled(self, label, core, patient) + trail

    # ------------------------------------------------------------------ kinds

    def _draw(self, kind: str, typ: str, core: str, patient: str, make) -> str:
        """``make(faker_or_rng, attempt)`` until the value differs from ``core``."""
        base = casefold_key(core)
        out = core
        for attempt in range(8):
            out = make(("v", kind, patient, typ, base, str(attempt)))
            if casefold_key(out) != base:
                return out
        return out

    def _other(self, kind: str, typ: str, core: str, patient: str) -> str:
        if kind == "location":
            kind = "hospital" if _facility_suffix(core) else "city"
        if kind == "contact":
            kind = "email" if "@" in core else ("url" if re.match(r"(?i)(https?:|www\.)", core)
                                                else "layout")
        if kind == "layout" or (kind == "hospital" and _is_acronym(core)):
            return self._draw(kind, typ, core, patient,
                              lambda p: layout_surrogate(core, self._rng(*p)))

        def make(parts):
            fake = self._fake(*parts)
            if kind == "hospital":
                suffix = _facility_suffix(core)
                kept = core[len(core) - len(suffix):] if suffix else \
                    fake.random_element(_FACILITY_SUFFIXES)
                return f"{match_case(fake.last_name(), core)} {match_case(kept, core)}"
            if kind == "state":
                value = fake.state_abbr() if len(core) <= 3 else fake.state()
            elif kind == "street":
                value = fake.street_address() if any(c.isdigit() for c in core) \
                    else fake.street_name()
            else:
                value = {"city": fake.city, "country": fake.country,
                         "organization": fake.company, "profession": fake.job,
                         "email": fake.email, "url": fake.url, "ipaddr": fake.ipv4,
                         "department": lambda: fake.random_element(_DEPARTMENTS)}[kind]()
            value = " ".join(value.split())  # Faker addresses may end in a space or hold "\n"
            return value if kind in ("email", "url", "ipaddr") else match_case(value, core)

        def make_or_layout(parts):
            try:
                return make(parts)
            except AttributeError:  # the locale's Faker lacks this provider (de_DE: state_abbr)
                self.stats["faker_missing"] += 1
                return layout_surrogate(core, self._rng(*parts))

        return self._draw(kind, typ, core, patient, make_or_layout)

    def _name(self, core: str, typ: str, patient: str) -> str:
        out, pos = [], 0
        for m in _NAME_TOKEN.finditer(core):
            out.append(core[pos:m.start()])
            pos = m.end()
            tok = m.group(0)
            if m.group("title") or tok.replace(".", "").lower() in NAME_TITLES:
                out.append(tok)  # M.D., Dr, Mr: kept
            elif len(tok) == 1:
                out.append(self._initial(tok, typ, patient))
            else:
                out.append(self._name_word(tok, typ, patient))
        out.append(core[pos:])
        return "".join(out)

    def _initial(self, tok: str, typ: str, patient: str) -> str:
        for attempt in range(8):
            c = self._rng("initial", patient, typ, tok.casefold(), str(attempt)).choice(
                "ABCDEFGHIJKLMNOPRSTW")
            if c.casefold() != tok.casefold():
                break
        return c if tok.isupper() else c.lower()

    def _name_word(self, tok: str, typ: str, patient: str) -> str:
        name = tok[:1].upper() + tok[1:].lower()
        male, female = name in self._first_names[1], name in self._first_names[2]
        first = name in self._first_names[0]
        for attempt in range(8):
            fake = self._fake("name", patient, typ, tok.casefold(), str(attempt))
            try:
                if male != female:  # a given name of one gender gets one of the same gender
                    value = fake.first_name_male() if male else fake.first_name_female()
                else:
                    value = fake.first_name() if first else fake.last_name()
            except AttributeError:  # a locale without gendered first names
                value = fake.first_name() if first else fake.last_name()
            value = re.sub(r"[^\w'-]", "", value) or value
            if value.casefold() != tok.casefold():
                break
        return _word_case(value, tok)

    def _date(self, core: str, patient: str) -> str:
        shift = self.date_shift(patient)
        m = _TIME_TAIL.fullmatch(core)
        date_part, time_part = (m.group("date"), m.group("time")) if m and m.group("date") \
            else (core, "")
        out = shift_date(date_part, shift)
        if out is None:
            self.stats["date_not_parsed"] += 1
            return self._draw("date", "DATE", core, patient,
                              lambda p: layout_surrogate(core, self._rng(*p)))
        return out + time_part


def _first_names(faker) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The locale's first names ``(all, male, female)`` (Faker's person provider), for telling a
    given name from a surname and keeping its gender; falls back to en_US's."""
    found: dict[str, set[str]] = {"first_names": set(), "first_names_male": set(),
                                  "first_names_female": set()}
    for provider in faker.get_providers():
        for attr, names in found.items():
            value = getattr(provider, attr, None)
            if value:
                names.update(value.keys() if isinstance(value, dict) else value)
    if not any(found.values()):
        from faker.providers.person.en_US import Provider

        found["first_names"].update(Provider.first_names)
    everyone = found["first_names"] | found["first_names_male"] | found["first_names_female"]
    return (frozenset(everyone), frozenset(found["first_names_male"]),
            frozenset(found["first_names_female"]))


def _facility_suffix(core: str) -> str:
    low = core.lower()
    for w in FACILITY_WORDS:
        if low.endswith(w) and (len(low) == len(w) or not low[-len(w) - 1].isalnum()):
            return w
    return ""


def _is_acronym(core: str) -> bool:
    return len(core) <= 6 and core.isalpha() and core.isupper()


def layout_surrogate(original: str, rng: random.Random) -> str:
    """Random digits and letters in the layout of ``original``: each digit -> a random digit,
    each upper/lower-case letter -> a random letter of that case, everything else kept
    (``617-555-0199`` -> ``408-213-7755``)."""
    out = []
    for c in original:
        if c.isdigit():
            out.append(rng.choice("0123456789"))
        elif c.isalpha() and c.isupper():
            out.append(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        elif c.isalpha():
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz"))
        else:
            out.append(c)
    return "".join(out)


def _age(core: str) -> str:
    """Ages over 89 -> ``90+`` (the number only; ``92 y/o`` -> ``90+ y/o``); others kept."""
    return re.sub(r"\d+", lambda m: "90+" if int(m.group(0)) > 89 else m.group(0), core, count=1)


# ------------------------------------------------------------------------------ restyled forms

#: Name forms of :meth:`SurrogateGenerator.restyled` (``{F}`` given name, ``{L}`` surname,
#: ``{f}``/``{m}`` initials): ``Smith``, ``John Smith``, ``Smith, John``, ``J. Smith``,
#: ``Smith, J.``, ``John A. Smith``, ``J Smith``, ``John``.
NAME_FORMS = ("{L}", "{F} {L}", "{L}, {F}", "{f}. {L}", "{L}, {f}.", "{F} {m}. {L}",
              "{f} {L}", "{F}")
#: Phone and fax layouts (``9`` a digit): ``(617) 555-0142``, ``617.555.0142``, ...
PHONE_FORMS = ("(999) 999-9999", "999-999-9999", "999.999.9999", "999 999 9999", "9999999999",
               "999-9999", "+1 999 999 9999", "1-999-999-9999", "99999", "(999)999-9999")
#: ID layouts (``9`` a digit, ``A`` an upper-case letter): IDs with letters among them.
ID_FORMS = ("99999999", "A9999999", "AA999999", "999-99-9999", "99-9999999", "AAA-99999",
            "9999999-A", "A99-999-999", "9999999", "AA-9999-99")
#: Hospital name forms (``{L}`` a surname, ``{C}`` a city, ``{F}`` a given name).
HOSPITAL_FORMS = ("{L} General Hospital", "{L} Medical Center", "{C} Community Hospital",
                  "{C} Regional Medical Center", "St. {F}'s Hospital", "{L} Memorial Hospital",
                  "{C} Hospital", "{L} Clinic", "University of {C} Medical Center",
                  "{C} General", "{L} Health Center", "{C} Medical Center")
_KEEP_FORM = 0.3  # share of restyled surrogates that keep the original's form


def fill_layout(form: str, rng: random.Random) -> str:
    """``form`` with each ``9`` a random digit and each ``A`` a random upper-case letter."""
    return "".join(rng.choice("0123456789") if c == "9" else
                   rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") if c == "A" else c for c in form)


def _restyle_case(value: str, original: str, rng: random.Random) -> str:
    """The original's case half of the time, else Title, UPPER or (rarely) lower case."""
    r = rng.random()
    if r < 0.5:
        return match_case(value, original)
    if r < 0.75:
        return value
    return value.upper() if r < 0.95 else value.lower()


def _restyled(gen: SurrogateGenerator, label: str, core: str, patient: str) -> str:
    """See :meth:`SurrogateGenerator.restyled` (``core``: the original, stripped)."""
    kind = surrogate_kind(label)
    _, typ = split_label(label)
    rng = gen._rng("restyle", patient, typ, casefold_key(core))
    if kind == "name":
        return _restyled_name(gen, typ, core, patient, rng)
    if kind == "date":
        parsed = date_fields(core)
        if parsed is None:
            return gen.surrogate(label, core, patient)
        d, fields = parsed
        d = d + dt.timedelta(days=gen.date_shift(patient) if fields != "d" else rng.randint(1, 27))
        if fields == "d":
            d = d.replace(month=1)
        if fields in ("md", "mdy") and rng.random() < 0.3:  # a year added or removed
            fields = "mdy" if fields == "md" else "md"
        if fields == "mdy" and d.year == REFERENCE_YEAR:
            d = d.replace(year=rng.randint(1990, 2030)) if (d.month, d.day) != (2, 29) else d
        # one form per patient and field set most of the time: a note writes its dates alike
        form_rng = gen._rng("restyle-date-form", patient, fields) if rng.random() < 0.7 else rng
        forms = {"d": ("{d}{ord}",), "md": DATE_FORMS_MD, "mdy": DATE_FORMS_MDY,
                 "my": DATE_FORMS_MY, "y": DATE_FORMS_Y, "wd": DATE_FORMS_WD}[fields]
        return _restyle_case(render_date(d, form_rng.choice(forms)), core, rng)
    if kind == "age":
        n = re.search(r"\d+", core)
        if not n:
            return gen.surrogate(label, core, patient)
        age = rng.randint(90, 104) if int(n.group(0)) > 89 else rng.randint(18, 89)
        return core[:n.start()] + str(age) + core[n.end():]
    if typ in ("PHONE", "FAX") and rng.random() >= _KEEP_FORM:
        return fill_layout(rng.choice(PHONE_FORMS), rng)
    if kind == "layout" and typ in ("IDNUM", "MEDICALRECORD", "HEALTHPLAN", "ACCOUNT",
                                    "LICENSE", "DEVICE", "BIOID", "ID") \
            and rng.random() >= _KEEP_FORM:
        return fill_layout(rng.choice(ID_FORMS), rng)
    if typ == "HOSPITAL" and rng.random() >= _KEEP_FORM:
        fake = gen._fake("restyle-hospital", patient, casefold_key(core))
        value = rng.choice(HOSPITAL_FORMS).format(L=fake.last_name(), C=fake.city(),
                                                  F=fake.first_name())
        if rng.random() < 0.1:  # an acronym: Kent Medical Center -> KMC
            value = "".join(w[0] for w in re.findall(r"[^\W\d_]+", value)).upper()
        return _restyle_case(value, core, rng)
    if typ in ("CITY", "LOCATION-OTHER"):
        return _restyle_case(gen._fake("restyle-city", patient, casefold_key(core)).city(),
                             core, rng)
    return gen.surrogate(label, core, patient)


def _restyled_name(gen: SurrogateGenerator, typ: str, core: str, patient: str,
                   rng: random.Random) -> str:
    toks = list(_NAME_TOKEN.finditer(core))
    words = [m for m in toks if not (m.group("title")
                                     or m.group(0).replace(".", "").lower() in NAME_TITLES)]
    if not words or rng.random() < _KEEP_FORM:
        return gen.surrogate(typ, core, patient) if typ in ("PATIENT", "DOCTOR") else \
            gen.surrogate("NAME/" + typ, core, patient)
    # titles before the first and after the last name word stay as written (Dr., M.D.)
    head, tail = core[:words[0].start()], core[words[-1].end():]
    first_word = words[0].group(0)
    given_only = len(words) == 1 and first_word[:1].upper() + first_word[1:].lower() in \
        gen._first_names[0]
    last_key = words[-1].group(0) + ("#last" if given_only else "")
    first_key = first_word if (len(words) > 1 or given_only) else first_word + "#first"
    surname = gen._name_word(last_key.split("#")[0], typ, patient + "#" + last_key) \
        if not given_only else gen._fake("name-last", patient, typ, last_key).last_name()
    given = gen._name_word(first_word, typ, patient) if (len(words) > 1 or given_only) else \
        gen._fake("name-first", patient, typ, first_key).first_name()
    middle = gen._rng("name-middle", patient, casefold_key(core)).choice("ABCDEFGHJKLMNPRSTW")
    surname, given = surname[:1].upper() + surname[1:].lower(), given[:1].upper() + \
        given[1:].lower()
    form = rng.choice(NAME_FORMS[-1:] if given_only and rng.random() < 0.5 else NAME_FORMS)
    value = form.format(F=given, L=surname, f=given[:1], m=middle)
    return head + _restyle_case(value, " ".join(w.group(0) for w in words), rng) + tail


__all__ = ["SurrogateGenerator", "shift_date", "layout_surrogate", "surrogate_kind",
           "split_label", "casefold_key", "match_case", "date_fields", "render_date",
           "fill_layout", "NAME_FORMS"]
