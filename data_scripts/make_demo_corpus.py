"""Generate the made-up demo corpus in i2b2/UTHealth 2014 de-identification XML.

``python data_scripts/make_demo_corpus.py [--out DIR]``

Writes ``DIR/{train,dev,test}/PPP-RR.xml`` (60 / 15 / 20 notes, different patients per split)
and ``DIR/README.md`` (default DIR: ``data_scripts/demo_i2b2_2014``). Every note is filled in
from short nursing / clinic / discharge sentence templates with surrogate PHI from Faker; no
real person or record is behind any of it. Output is fixed by the seeds (Faker and
``random.Random``, both 2020) and the Faker version.

Layout (docs/formats.md §1.2): the ``<TEXT>`` CDATA content starts with one or three
newlines; tags are ``<CATEGORY id="Pn" start= end= text= TYPE= comment="" />`` in order of
start, with 0-based, end-exclusive code-point offsets into the parsed text. Every written
file is parsed back with ElementTree and every tag checked against the text.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import faker
from faker import Faker

SEED = 2020
SPLITS = {"train": (60, 24), "dev": (15, 6), "test": (20, 8)}  # split: (notes, patients)
NO_PHI_SHARE = 0.2
MIN_CHARS, MAX_CHARS = 300, 1200
DEFAULT_OUT = Path(__file__).resolve().parent / "demo_i2b2_2014"

# placeholder -> (CATEGORY, TYPE)
PHI_KEYS = {
    "PATIENT": ("NAME", "PATIENT"),
    "PT_NAME": ("NAME", "PATIENT"),
    "PT_LAST": ("NAME", "PATIENT"),
    "PT_FIRST": ("NAME", "PATIENT"),
    "DOCTOR": ("NAME", "DOCTOR"),
    "DR_LAST": ("NAME", "DOCTOR"),
    "DATE": ("DATE", "DATE"),
    "DATE_SHORT": ("DATE", "DATE"),
    "DATE_FULL": ("DATE", "DATE"),
    "DATE_ISO": ("DATE", "DATE"),
    "DATE_MY": ("DATE", "DATE"),
    "DATE_YEAR": ("DATE", "DATE"),
    "DATE_LONG": ("DATE", "DATE"),
    "DATE_NEXT_MY": ("DATE", "DATE"),
    "HOSPITAL": ("LOCATION", "HOSPITAL"),
    "OTHER_HOSPITAL": ("LOCATION", "HOSPITAL"),
    "CITY": ("LOCATION", "CITY"),
    "STREET": ("LOCATION", "STREET"),
    "STATE": ("LOCATION", "STATE"),
    "ZIP": ("LOCATION", "ZIP"),
    "ORG": ("LOCATION", "ORGANIZATION"),
    "PHONE": ("CONTACT", "PHONE"),
    "AGE": ("AGE", "AGE"),
    "MRN": ("ID", "MEDICALRECORD"),
    "PROFESSION": ("PROFESSION", "PROFESSION"),
}
ALL_TYPES = sorted(set(PHI_KEYS.values()))
# date placeholder -> which date it draws (relative to the note's day)
DATE_WHEN = {
    "DATE_SHORT": "near",
    "DATE_FULL": "near",
    "DATE_ISO": "past",
    "DATE_MY": "past",
    "DATE_LONG": "past",
    "DATE_YEAR": "old",
    "DATE_NEXT_MY": "future",
}

# ---------------------------------------------------------------------------------------------
# Templates. {UPPER} = PHI placeholder, {lower} = non-PHI filler. ICU notes may be upper-cased.

ICU_PHI = [
    "{AGE} year old {sex} admitted in transfer from {OTHER_HOSPITAL} for {reason}.",
    "Pt is {AGE}yo {sex} s/p fall at home, found down by {relation}.",
    "PMH: {pmh}, s/p {proc} {DATE_YEAR}.",
    "{DATE_SHORT} found by {relation} on floor, awake but confused.",
    "Dr. {DR_LAST} aware of {finding}.",
    "{DR_LAST} notified of BP {bp}, no new orders at this time.",
    "MD {DR_LAST} at bedside, {finding} discussed.",
    "Dr.{DR_LAST} paged re: {finding}, awaiting call back.",
    "Family meeting held with {PT_LAST}'s {relation} and Dr. {DR_LAST}.",
    "{Relation} at bedside, updated on plan of care, can be reached at {PHONE}.",
    "{Relation} called from {CITY} for update; number on chart is {PHONE}.",
    "Transfer to {OTHER_HOSPITAL} planned for {DATE_SHORT}.",
    "Seen in ED at {OTHER_HOSPITAL} on {DATE_SHORT}, transferred to MICU.",
    "{DATE_SHORT}-{DATE_SHORT}: tube feeds held for high residuals.",
    "{DATE_FULL}: INR {inr}, coumadin held per Dr. {DR_LAST}.",
    "{CITY} EMS brought pt in at {time}, {reason} en route.",
    "Code status discussed with {PT_LAST} and family, remains full code.",
    "Pt states {he} is a retired {PROFESSION} and lives alone in {CITY}.",
    "Vanco level drawn {DATE_SHORT}, result pending per {DR_LAST}.",
    "Social work following, VNA through {ORG} to resume after d/c.",
    "Plan discussed with attending {DOCTOR}.",
    "Pt last in unit {DATE_MY} for {reason}.",
    "Echo done at {HOSPITAL} {DATE_MY}, EF {ef}%.",
    "{PT_NAME} remains on {drip}, titrating to MAP > 60.",
]

CLINIC_PHI = [
    "{PT_NAME} is a {AGE} year old {sex} with {pmh} who presents with {reason}.",
    "{title} {PT_LAST} was last seen here on {DATE_FULL} by Dr. {DR_LAST}.",
    "{PT_LAST}'s {relation} accompanies {him} today and helps with medications.",
    "{He} worked as a {PROFESSION} at {ORG} until {DATE_YEAR}.",
    "{He} works part time as a {PROFESSION} and plans to return to work in {DATE_NEXT_MY}.",
    "{He} is originally from {CITY}, {STATE} and moved here in {DATE_YEAR}.",
    "Retired {PROFESSION}, lives with {his} {relation} on {STREET}.",
    "Prior echo {DATE_ISO} showed EF {ef}%.",
    "Last colonoscopy in {DATE_MY} was unremarkable.",
    "Stress test at {HOSPITAL} on {DATE_LONG} was negative for ischemia.",
    "Outside records from {OTHER_HOSPITAL} in {CITY}, {STATE} were reviewed.",
    "History of {pmh} since {DATE_YEAR}, followed by Dr. {DR_LAST}.",
    "Admitted {DATE_FULL} with {reason} and discharged {DATE_FULL}.",
    "{He} volunteers with {ORG} twice a week.",
    "{DOCTOR} from {ORG} saw {him} in consultation on {DATE_SHORT}.",
    "Hospitalized at {OTHER_HOSPITAL} in {DATE_YEAR} for {reason}.",
    "{He} may call the clinic at {PHONE} with questions.",
    "Follow-up with Dr. {DR_LAST} at {HOSPITAL} on {DATE_FULL}.",
    "Labs faxed to {ORG}, phone {PHONE}.",
    "Dr. {DR_LAST}'s office will arrange repeat imaging in {DATE_NEXT_MY}.",
    "At {AGE}, {he} still walks daily and cooks for {him}self.",
    "{PT_LAST} reports {finding} since {DATE_SHORT}.",
]

NO_PHI_ICU = [
    "Neuro: A&O x3, MAE, follows commands.",
    "Neuro: lethargic but arousable to voice, PERRL.",
    "Resp: LS clear bilaterally, sats 95-98% on 2L NC.",
    "Resp: coarse BS at bases, suctioned for thick tan sputum.",
    "CV: NSR 70s-80s, no ectopy noted.",
    "CV: BP 100-120/50s, HR 90s ST.",
    "GI: abd soft, NT/ND, +BS, tolerating clears.",
    "GU: foley draining clear yellow urine 40-60cc/hr.",
    "Skin: intact, turned q2h, heels elevated.",
    "Strict I&O.",
    "Pain controlled with tylenol 650mg PO.",
    "Lasix 40mg IV given with good response.",
    "Pt resting comfortably, no acute distress.",
    "K 3.4, repleted with 40 mEq KCl.",
    "Afebrile, WBC trending down.",
    "OOB to chair with assist x2, tolerated well.",
    "Insulin sliding scale per protocol, FS 140-180.",
    "Will obtain CXR in AM.",
    "Heparin gtt at 900 units/hr, PTT therapeutic.",
    "Wound care per protocol, dressing C/D/I.",
    "No BM x2 days, colace given.",
    "Slept in naps overnight, R&R encouraged.",
    "Family updated by phone.",
    "Plan: continue to monitor, wean O2 as tolerated.",
    "Versed gtt weaned off, pt calm and cooperative.",
    "Levophed titrated down, MAP > 65.",
]

NO_PHI_CLINIC = [
    "No chest pain, orthopnea or syncope.",
    "Exam: BP 128/76, HR 68 regular, lungs clear.",
    "Trace ankle edema bilaterally.",
    "Medications reviewed and reconciled.",
    "Continue current regimen; repeat labs in 3 months.",
    "Diet and exercise counselling provided.",
    "A1c 7.2, improved from prior.",
    "Denies fevers, chills or night sweats.",
    "Cr 1.1 & BUN 19, K 4.3.",
    "Tolerating apixaban without bleeding.",
    "Flu vaccine given today.",
    "Ambulating independently with a cane.",
]

ICU_HEADERS_PHI = [
    "NURSING PROGRESS NOTE {DATE_SHORT} 0700-1900",
    "MICU Nursing Note {DATE_FULL} 7p-7a",
    "CCU NPN {DATE_SHORT}",
]
ICU_HEADERS_NO_PHI = ["NURSING PROGRESS NOTE 7A-7P", "MICU NPN", "Nursing Note 1900-0700", ""]

FILLERS = {
    "reason": ["mental status changes", "hypotension", "CHF exacerbation", "pneumonia",
               "GI bleed", "syncope", "chest pain", "urosepsis", "COPD flare", "hypoxia"],
    "pmh": ["CAD", "DM2", "HTN", "COPD", "CHF", "AFib", "CKD", "PVD", "NIDDM", "hypothyroidism"],
    "proc": ["CABG", "MI", "PTCA", "MVR", "AVR", "hip replacement", "cholecystectomy"],
    "relation": ["wife", "husband", "daughter", "son", "niece", "nephew", "sister"],
    "finding": ["low urine output", "new afib", "SBP in the 80s", "increased agitation",
                "rising lactate", "worsening hypoxia", "a 2 point hct drop", "fever to 101.5"],
    "bp": ["84/40", "92/48", "176/90", "88/52", "190/100"],
    "inr": ["3.8", "4.2", "5.6", "7"],
    "ef": ["25", "30", "35", "45", "55", "60"],
    "time": ["0215", "0730", "1130", "1545", "2130", "2340"],
    "drip": ["levophed", "dopamine", "neo", "propofol", "a heparin gtt", "an insulin gtt"],
}

PROFESSIONS = [
    "machinist", "teacher", "carpenter", "accountant", "electrician", "lawyer", "farmer",
    "firefighter", "mail carrier", "bus driver", "engineer", "pharmacist", "librarian",
    "plumber", "chef", "truck driver", "police officer", "musician", "dentist",
    "social worker", "house painter", "secretary", "janitor", "welder", "cashier",
    "architect", "professor", "fisherman", "bookkeeper", "nurse",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
CLINICS = ["Cardiology", "Pulmonary", "Geriatrics", "Internal Medicine", "Renal", "Endocrine"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


# ---------------------------------------------------------------------------------------------
@dataclass
class Patient:
    pid: int
    sex: str
    first: str
    middle: str
    last: str
    age: str | None
    street: str
    city: str
    state: str
    zipcode: str
    mrn: str
    profession: str
    hospital: str
    doctor: tuple[str, str]
    year: int


@dataclass
class Note:
    """A note as a list of parts: (text, (CATEGORY, TYPE) or None)."""

    parts: list[tuple[str, tuple[str, str] | None]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(t) for t, _ in self.parts)

    def add(self, text: str, label: tuple[str, str] | None = None) -> None:
        self.parts.append((text, label))

    def extend(self, other: Note) -> None:
        self.parts.extend(other.parts)

    def upper(self) -> Note:
        out = Note()
        for t, lab in self.parts:
            u = t.upper()
            assert len(u) == len(t), t
            out.add(u, lab)
        return out

    def assemble(self) -> tuple[str, list[tuple[int, int, str, str]]]:
        text, spans, pos = [], [], 0
        for t, lab in self.parts:
            if lab is not None:
                spans.append((pos, pos + len(t), lab[0], lab[1]))
            text.append(t)
            pos += len(t)
        return "".join(text), spans


class Generator:
    def __init__(self, seed: int = SEED) -> None:
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.rng = random.Random(seed)

    # -- surrogate values ----------------------------------------------------------------------
    def person_name(self, sex: str | None = None) -> tuple[str, str]:
        f = self.fake
        sex = sex or self.rng.choice("MF")
        first = f.first_name_male() if sex == "M" else f.first_name_female()
        return first, f.last_name()

    def hospital(self) -> str:
        f, r = self.fake, self.rng
        forms = [
            lambda: f"{f.last_name()} Memorial Hospital",
            lambda: f"{f.city()} General Hospital",
            lambda: f"St. {f.first_name()}'s Hospital",
            lambda: f"{f.last_name()} Medical Center",
            lambda: f"{f.city()} Community Hospital",
            lambda: f"{f.last_name()} Regional Medical Center",
        ]
        return r.choice(forms)()

    def organization(self) -> str:
        f, r = self.fake, self.rng
        forms = [
            lambda: f"{f.last_name()} & {f.last_name()} Clinic",
            lambda: f"{f.last_name()} & {f.last_name()} Associates",
            lambda: f.company(),
            lambda: f"{f.city()} Visiting Nurse Association",
            lambda: f"{f.city()} Senior Center",
            lambda: f"{f.last_name()} Home Care",
        ]
        return r.choice(forms)()

    def profession(self) -> str:
        if self.rng.random() < 0.3:
            for _ in range(20):
                job = self.fake.job()
                if "," not in job and "(" not in job and len(job.split()) <= 3:
                    return job.lower()
        return self.rng.choice(PROFESSIONS)

    def phone(self) -> str:
        f = self.fake
        fmt = self.rng.choice(["%##-%##-####", "(%##) %##-####", "%##.%##.####", "%##-####"])
        return f.numerify(fmt)

    def mrn(self) -> str:
        fmt = self.rng.choice(["#######", "########", "####-###", "##-##-##", "%######"])
        return self.fake.numerify(fmt)

    def patient(self, pid: int) -> Patient:
        f, r = self.fake, self.rng
        sex = r.choice("MF")
        first, last = self.person_name(sex)
        state = f.state_abbr(include_territories=False) if r.random() < 0.8 else f.state()
        return Patient(
            pid=pid, sex=sex, first=first, middle=f.random_uppercase_letter(), last=last,
            age=str(r.randint(90, 104)) if r.random() < 0.6 else None,
            street=f.street_address(), city=f.city(), state=state,
            zipcode=f.zipcode_plus4() if r.random() < 0.2 else f.zipcode(), mrn=self.mrn(),
            profession=self.profession(), hospital=self.hospital(),
            doctor=self.person_name(), year=r.randint(1996, 2130),
        )

    # -- dates ---------------------------------------------------------------------------------
    def draw_date(self, when: str, ctx: Ctx) -> date:
        r = self.rng
        if when == "near":
            return ctx.day + timedelta(days=r.randint(-20, 5))
        if when == "past":
            return ctx.day - timedelta(days=r.randint(60, 3000))
        if when == "old":
            return ctx.day - timedelta(days=r.randint(365, 365 * 25))
        return ctx.day + timedelta(days=r.randint(30, 300))

    def fmt_date(self, key: str, d: date) -> str:
        month = MONTHS[d.month - 1]
        if key == "DATE_SHORT":
            return f"{d.month}/{d.day}"
        if key == "DATE_FULL":
            return self.fmt_full(d)
        if key == "DATE_ISO":
            return f"{d.year}-{d.month:02d}-{d.day:02d}"
        if key in ("DATE_MY", "DATE_NEXT_MY"):
            return f"{month if self.rng.random() < 0.7 else month[:3]} {d.year}"
        if key == "DATE_YEAR":
            return str(d.year)
        if key == "DATE_LONG":
            return f"{month} {d.day}, {d.year}"
        raise KeyError(key)

    def fmt_full(self, d: date) -> str:
        return self.rng.choice([
            f"{d.month:02d}/{d.day:02d}/{d.year}", f"{d.month}/{d.day}/{d.year}",
            f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
        ])

    def value(self, key: str, ctx: Ctx) -> str:
        r, p = self.rng, ctx.patient
        if key == "PATIENT":
            return r.choice([f"{p.first} {p.last}", f"{p.last}, {p.first}",
                             f"{p.first} {p.middle}. {p.last}"])
        if key == "PT_NAME":
            return r.choice([f"{p.first} {p.last}", p.last, p.first])
        if key == "PT_LAST":
            return p.last
        if key == "PT_FIRST":
            return p.first
        if key == "DOCTOR":
            first, last = p.doctor if r.random() < 0.4 else self.person_name()
            return r.choice([f"{first} {last}", f"{first[0]}. {last}"])
        if key == "DR_LAST":
            return p.doctor[1] if r.random() < 0.4 else self.fake.last_name()
        if key == "HOSPITAL":
            return p.hospital if r.random() < 0.7 else self.hospital()
        if key == "OTHER_HOSPITAL":
            return self.hospital()
        if key == "CITY":
            return p.city if r.random() < 0.5 else self.fake.city()
        if key == "STREET":
            return p.street
        if key == "STATE":
            return p.state
        if key == "ZIP":
            return p.zipcode
        if key == "ORG":
            return self.organization()
        if key == "PHONE":
            return self.phone()
        if key == "AGE":
            assert p.age is not None
            return p.age
        if key == "MRN":
            return p.mrn
        if key == "PROFESSION":
            return p.profession if r.random() < 0.7 else self.profession()
        raise KeyError(key)

    def filler(self, key: str, ctx: Ctx) -> str:
        male = ctx.patient.sex == "M"
        pron = {"he": "he" if male else "she", "him": "him" if male else "her",
                "his": "his" if male else "her", "sex": "male" if male else "female",
                "title": "Mr." if male else "Ms."}
        low = key.lower()
        if low in pron:
            word = pron[low]
        elif low in FILLERS:
            word = self.rng.choice(FILLERS[low])
        else:
            raise KeyError(key)
        return word[0].upper() + word[1:] if key[0].isupper() else word

    # -- templates -----------------------------------------------------------------------------
    def render(self, template: str, ctx: Ctx) -> Note:
        """Fill a template; the dates in one template come out in ascending order."""
        matches = list(PLACEHOLDER.finditer(template))
        date_keys = {}
        for m in matches:
            key = m.group(1)
            if key == "DATE":
                key = self.rng.choice(["DATE_SHORT", "DATE_FULL", "DATE_ISO", "DATE_MY"])
            if key in DATE_WHEN:
                date_keys[m.start()] = key
        days = iter(sorted(self.draw_date(DATE_WHEN[k], ctx) for k in date_keys.values()))
        note, pos = Note(), 0
        for m in matches:
            if m.start() > pos:
                note.add(template[pos:m.start()])
            key = m.group(1)
            if m.start() in date_keys:
                note.add(self.fmt_date(date_keys[m.start()], next(days)), PHI_KEYS["DATE"])
            elif key in PHI_KEYS:
                val = self.value(key, ctx).strip()
                note.add(val, PHI_KEYS[key])
            else:
                note.add(self.filler(key, ctx))
            pos = m.end()
        if pos < len(template):
            note.add(template[pos:])
        return note

    def usable(self, template: str, ctx: Ctx) -> bool:
        return ctx.patient.age is not None or "{AGE}" not in template

    def body(self, ctx: Ctx, phi_pool: list[str], plain_pool: list[str], budget: int,
             target: int, sep: str, phi_share: float) -> Note:
        out, n, tries, used = Note(), 0, 0, set()
        while len(out) < target and tries < 80:
            tries += 1
            pool = phi_pool if phi_pool and self.rng.random() < phi_share else plain_pool
            tpl = self.rng.choice(pool)
            if tpl in used or not self.usable(tpl, ctx):
                continue
            used.add(tpl)
            piece = self.render(tpl[:-1] if sep == "; " and tpl.endswith(".") else tpl, ctx)
            gap = sep if n else ""
            if len(out) + len(gap) + len(piece) > budget:
                continue
            if gap:
                out.add(self.rng.choice([gap, gap, "\n"]) if sep == " " else gap)
            out.extend(piece)
            n += 1
        return out

    # -- notes ---------------------------------------------------------------------------------
    def icu_note(self, ctx: Ctx, with_phi: bool, caps: bool) -> Note:
        r = self.rng
        note = Note()
        if with_phi and r.random() < 0.5:
            header = self.render(r.choice(ICU_HEADERS_PHI), ctx)
        else:
            header = self.render(r.choice(ICU_HEADERS_NO_PHI), ctx)
        if len(header):
            note.extend(header)
            note.add("\n")
        target = r.randint(MIN_CHARS + 20, MAX_CHARS - 150)
        budget = MAX_CHARS - 10 - len(note)
        note.extend(self.body(ctx, ICU_PHI if with_phi else [], NO_PHI_ICU, budget, target,
                              r.choice(["; ", " ", " "]), 0.45))
        note.add(r.choice([" \n", "\n", " \n\n"]))
        return note.upper() if caps else note

    def clinic_note(self, ctx: Ctx) -> Note:
        r = self.rng
        note = Note()
        note.add("Record date: ")
        record = ctx.day
        note.add(r.choice([f"{record.year}-{record.month:02d}-{record.day:02d}",
                           self.fmt_full(record)]), PHI_KEYS["DATE"])
        note.add("\n\n")
        hosp = self.render("{HOSPITAL}", ctx)
        note.extend(hosp.upper() if r.random() < 0.5 else hosp)
        note.add(f"\n{r.choice(CLINICS)} Clinic Follow-up Note\n\n")
        note.extend(self.render(r.choice(["Patient: {PATIENT}          MRN: {MRN}\n",
                                          "Patient: {PATIENT}\nMRN: {MRN}\n"]), ctx))
        if r.random() < 0.6:
            note.extend(self.render("Address: {STREET}, {CITY}, {STATE} {ZIP}\n", ctx))
        if r.random() < 0.5:
            note.extend(self.render("PCP: Dr. {DOCTOR}\n", ctx))
        note.add("\n")
        sign = self.render(r.choice(["\n\n{DOCTOR}, MD\n", "\n\n{DOCTOR}, MD\nMRN: {MRN}\n",
                                     "\n\nElectronically signed by {DOCTOR}, MD {DATE_FULL}\n"]),
                           ctx)
        budget = MAX_CHARS - len(note) - len(sign)
        target = min(budget, r.randint(MIN_CHARS + 100, MAX_CHARS - 100) - len(note))
        note.extend(self.body(ctx, CLINIC_PHI, NO_PHI_CLINIC, budget, max(target, 120), " ",
                              0.6))
        note.extend(sign)
        return note

    def discharge_note(self, ctx: Ctx) -> Note:
        r = self.rng
        note = self.render(
            "DISCHARGE SUMMARY\n\nPatient: {PATIENT}\nMRN: {MRN}\n"
            "Admission Date: {DATE_FULL}\nDischarge Date: {DATE_FULL}\n"
            "Attending: {DOCTOR}\n\nHISTORY: ", ctx)
        sign = self.render(r.choice([
            "\n\nFollow-up: Dr. {DR_LAST}, {PHONE}.\n",
            "\n\nDISPOSITION: home to {CITY} with services from {ORG}.\n",
            "\n\nDISPOSITION: home.\n\n{DOCTOR}, MD\n",
        ]), ctx)
        budget = MAX_CHARS - len(note) - len(sign) - 20
        hist = self.body(ctx, CLINIC_PHI, NO_PHI_CLINIC, budget // 2, r.randint(120, 300), " ",
                         0.6)
        note.extend(hist)
        note.add("\n\nHOSPITAL COURSE: ")
        course = self.body(ctx, ICU_PHI, NO_PHI_ICU, budget - len(hist), r.randint(100, 300),
                           " ", 0.4)
        note.extend(course)
        note.extend(sign)
        return note

    def note(self, ctx: Ctx, with_phi: bool) -> tuple[str, list[tuple[int, int, str, str]]]:
        r = self.rng
        if not with_phi:
            body = self.icu_note(ctx, False, r.random() < 0.5)
        else:
            kind = r.choices(["icu_caps", "icu", "clinic", "discharge"], [3, 3, 2, 2])[0]
            if kind.startswith("icu"):
                body = self.icu_note(ctx, True, kind == "icu_caps")
            elif kind == "clinic":
                body = self.clinic_note(ctx)
            else:
                body = self.discharge_note(ctx)
        note = Note()
        note.add(r.choice(["\n", "\n", "\n\n\n"]))
        note.extend(body)
        text, spans = note.assemble()
        if len(text) < MIN_CHARS:  # pad with PHI-free sentences
            extra = Note()
            while len(text) + len(extra) < MIN_CHARS:
                extra.add(r.choice(NO_PHI_ICU) + " ")
            text = text.rstrip("\n") + " " + "".join(t for t, _ in extra.parts).rstrip() + "\n"
        return text, spans


@dataclass
class Ctx:
    patient: Patient
    day: date


# ---------------------------------------------------------------------------------------------
def xml_for(text: str, spans: list[tuple[int, int, str, str]]) -> str:
    assert "]]>" not in text
    lines = ['<?xml version="1.0" encoding="UTF-8" ?>', "<deIdi2b2>",
             f"<TEXT><![CDATA[{text}]]></TEXT>", "<TAGS>"]
    for i, (s, e, cat, typ) in enumerate(spans):
        val = escape(text[s:e], {'"': "&quot;"})
        lines.append(f'<{cat} id="P{i}" start="{s}" end="{e}" text="{val}" TYPE="{typ}" '
                     'comment="" />')
    lines += ["</TAGS>", "</deIdi2b2>", ""]
    return "\n".join(lines)


def verify(path: Path, text: str, spans: list[tuple[int, int, str, str]]) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "deIdi2b2", path
    parsed = root.find("TEXT").text
    assert parsed == text, f"{path}: parsed text differs"
    assert "]]>" not in parsed
    assert MIN_CHARS <= len(parsed) <= MAX_CHARS, f"{path}: {len(parsed)} characters"
    tags = list(root.find("TAGS"))
    assert len(tags) == len(spans), path
    prev_end = -1
    for i, (tag, span) in enumerate(zip(tags, spans, strict=True)):
        s, e = int(tag.get("start")), int(tag.get("end"))
        got = parsed[s:e]
        assert tag.get("id") == f"P{i}", (path, i)
        assert (s, e, tag.tag, tag.get("TYPE")) == span, (path, i)
        assert got == tag.get("text"), (path, tag.get("id"), got, tag.get("text"))
        assert got and got == got.strip() and "\n" not in got, (path, tag.get("id"))
        assert tag.get("comment") == "", path
        assert s >= prev_end, f"{path}: overlapping / unordered tags at P{i}"
        prev_end = e


def plan_patients(rng: random.Random) -> dict[str, list[tuple[int, int]]]:
    """split -> [(patient id, record count)], patients disjoint across splits."""
    n_pat = sum(p for _, p in SPLITS.values())
    ids = rng.sample(range(1, 1000), n_pat)
    out, k = {}, 0
    for split, (n_notes, n_p) in SPLITS.items():
        pids = sorted(ids[k:k + n_p])
        k += n_p
        counts = [1] * n_p
        for _ in range(n_notes - n_p):
            counts[rng.randrange(n_p)] += 1
        out[split] = list(zip(pids, counts, strict=True))
    return out


def generate(out_dir: Path) -> dict[str, dict]:
    gen = Generator(SEED)
    plan = plan_patients(gen.rng)
    stats: dict[str, dict] = {}
    for split, pats in plan.items():
        split_dir = out_dir / split
        if split_dir.exists():
            shutil.rmtree(split_dir)
        split_dir.mkdir(parents=True)
        n_notes = sum(c for _, c in pats)
        no_phi = set(gen.rng.sample(range(n_notes), round(NO_PHI_SHARE * n_notes)))
        counts: Counter = Counter()
        st = {"notes": 0, "patients": len(pats), "notes_without_phi": 0, "characters": 0,
              "bytes": 0, "counts": counts}
        idx = 0
        for pid, n_rec in pats:
            patient = gen.patient(pid)
            day = date(patient.year, gen.rng.randint(1, 12), gen.rng.randint(1, 28))
            for rec in range(1, n_rec + 1):
                ctx = Ctx(patient, day)
                text, spans = gen.note(ctx, idx not in no_phi)
                path = split_dir / f"{pid:03d}-{rec:02d}.xml"
                with open(path, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(xml_for(text, spans))
                verify(path, text, spans)
                counts.update(f"{c}/{t}" for _, _, c, t in spans)
                st["notes"] += 1
                st["notes_without_phi"] += not spans
                st["characters"] += len(text)
                st["bytes"] += path.stat().st_size
                day += timedelta(days=gen.rng.randint(1, 400))
                idx += 1
        missing = [f"{c}/{t}" for c, t in ALL_TYPES if not counts[f"{c}/{t}"]]
        assert not missing, f"{split}: no {missing}"
        stats[split] = st
    return stats


def counts_table(stats: dict[str, dict]) -> str:
    splits = list(stats)
    rows = ["| CATEGORY/TYPE | " + " | ".join(splits) + " | total |",
            "|---|" + "---:|" * (len(splits) + 1)]
    for c, t in ALL_TYPES:
        key = f"{c}/{t}"
        vals = [stats[s]["counts"][key] for s in splits]
        rows.append(f"| {key} | " + " | ".join(map(str, vals)) + f" | {sum(vals)} |")
    for label, fn in [
        ("**all PHI**", lambda s: sum(stats[s]["counts"].values())),
        ("notes", lambda s: stats[s]["notes"]),
        ("notes without PHI", lambda s: stats[s]["notes_without_phi"]),
        ("patients", lambda s: stats[s]["patients"]),
        ("characters of text", lambda s: stats[s]["characters"]),
        ("bytes on disk", lambda s: stats[s]["bytes"]),
    ]:
        vals = [fn(s) for s in splits]
        rows.append(f"| {label} | " + " | ".join(map(str, vals)) + f" | {sum(vals)} |")
    return "\n".join(rows)


README = """\
# demo_i2b2_2014: a made-up clinical-note corpus for `make demo`

**Everything here is invented.** The notes are filled in from short nursing, clinic and
discharge-summary sentence templates; every name, date, place, phone number, age, record
number, profession and organisation is a surrogate value from
[Faker](https://faker.readthedocs.io/) (or a fixed word list), chosen at random. No real
person, patient, clinician or record is behind any of it, and no real clinical note was used.

## How it was made

```
pip install faker
python data_scripts/make_demo_corpus.py            # --out DIR to write elsewhere
```

The script seeds Faker (`seed_instance({seed})`) and `random.Random({seed})`, writes the three
split folders and this README, then parses every file back with `xml.etree.ElementTree` and
checks `text[start:end] == @text` for every tag (and ordering, no overlaps, no whitespace at
span edges). Generated with Faker {faker_version}; another Faker version may pick different
surrogate values.

## License

CC0 1.0 (public domain dedication); you may equally use it under the project's license
(Apache-2.0).

## Format

Exactly the i2b2/UTHealth 2014 de-identification Track 1 layout (`docs/formats.md` §1.2): one
`PPP-RR.xml` per note (patient id, 3 digits; record number, 2 digits), in `train/`, `dev/`,
`test/`; no patient appears in more than one split.

```xml
<?xml version="1.0" encoding="UTF-8" ?>
<deIdi2b2>
<TEXT><![CDATA[
...note text...
]]></TEXT>
<TAGS>
<DATE id="P0" start="14" end="24" text="2093-04-11" TYPE="DATE" comment="" />
</TAGS>
</deIdi2b2>
```

- The CDATA content starts with one or three newlines; offsets are 0-based, end-exclusive
  code-point offsets into the text as an XML parser returns it.
- Tags come in order of start with ids `P0`, `P1`, ...; attribute values are XML-escaped
  (some notes contain `&`, e.g. `A&O x3`, `I&O`, or organisations like `X & Y Clinic`).
- About 20% of the notes have no PHI at all (`<TAGS>` is empty).
- About half of the ICU nursing notes are written in capitals, the rest in mixed case.
- Edge cases on purpose: PHI at the start of the note or of a sentence, dates followed by
  punctuation (`4/22.`), names followed by `'s`, glued forms (`92yo`, `Dr.Smith`), date
  ranges (`4/22-4/25`), and city/state/ZIP runs (`Springfield, MA 01103`).
- Ages are only ever ages over 89 (and all of them are tagged).

## Counts

{table}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = ap.parse_args(argv)
    stats = generate(args.out)
    table = counts_table(stats)
    print(table)
    readme = README.format(seed=SEED, faker_version=faker.VERSION, table=table)
    (args.out / "README.md").write_text(readme, encoding="utf-8")
    print(f"wrote {sum(s['notes'] for s in stats.values())} notes and README.md to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
