"""PHI dates: read one date string in the formats clinical notes use, shift it by a number of
days in its own format, or write a date in another form.

Layer 3 (pure: no model, no files), used by :mod:`clinical_ner.surrogates` (de-identification
keeps each date's format, :func:`shift_date`; training augmentation and re-rendered folders
write it in a fresh form, :func:`date_fields` + :func:`render_date`).

Formats read (full match, case-insensitive): ``01/02/2095``, ``1/2/95``, ``2095-01-02``,
``20950102``, ``01/2095``, ``2/1``, ``10-15``, ``Jan 2``, ``January 2nd``, ``2 Jan 2095``,
``2nd of January``, ``Jan 2, 2095``, ``January 2095``, ``January``, ``2095``, weekday names;
numeric dates month first (US), day first when the first number is over 12.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

_MONTHS = [m.lower() for m in calendar.month_name[1:]]
_WEEKDAYS = [d.lower() for d in calendar.day_name]
_MON = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
        r"aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?P<mdot>\.?)")
_ORD = r"(?P<ord>st|nd|rd|th)?"
_YEAR = r"(?P<y>\d{4}|'?\d{2})"
#: Date formats read (full match, case-insensitive), in order. Named groups: m/d/y numeric,
#: ``mon`` month name, ``ord`` ordinal suffix, ``wd`` weekday.
_DATE_FORMATS = [
    ("mdy", re.compile(r"(?P<m>\d{1,2})(?P<s>[/.-])(?P<d>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})")),
    ("ymd", re.compile(r"(?P<y>\d{4})(?P<s>[/.-])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})")),
    ("compact", re.compile(r"(?P<y>(?:19|20|21)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)")),
    ("my", re.compile(r"(?P<m>\d{1,2})(?P<s>[/-])(?P<y>\d{4})")),
    ("md", re.compile(r"(?P<m>\d{1,2})(?P<s>[/-])(?P<d>\d{1,2})")),
    ("mon_d", re.compile(_MON + r"(?P<s1>\s+|-)(?P<d>\d{1,2})" + _ORD
                         + r"(?:(?P<s2>,\s*|\s+|-)" + _YEAR + ")?", re.I)),
    ("d_mon", re.compile(r"(?P<d>\d{1,2})" + _ORD + r"(?P<s1>\s+of\s+|\s+|-)" + _MON
                         + r"(?:(?P<s2>,?\s+|-)" + _YEAR + ")?", re.I)),
    ("mon_y", re.compile(_MON + r"(?P<s1>,?\s+|-)" + r"(?P<y>\d{4}|'\d{2})", re.I)),
    ("mon", re.compile(_MON, re.I)),
    ("y", re.compile(r"(?P<y>(?:1[89]|2[01])\d{2})")),
    ("wd", re.compile(r"(?P<wd>mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?P<wdrest>[a-z]*)"
                      r"(?P<mdot>\.?)", re.I)),
]
#: Time of day after a date (``01/02/2095 14:30``): kept as written.
_TIME_TAIL = re.compile(r"(?P<date>.*?)(?P<time>(?:\s+|\s*@\s*|T)\d{1,2}:\d{2}(?::\d{2})?"
                        r"(?:\s*[ap]\.?m\.?)?)", re.I | re.S)

#: Reference year for dates without a year (a leap year, so ``2/29`` is read).
REFERENCE_YEAR = 2000

def _word_case(value: str, original: str) -> str:
    """A single name word in the case of ``original``: UPPER, lower or Title."""
    if original.isupper() and len(original) > 1:
        return value.upper()
    if original.islower():
        return value.lower()
    return value[:1].upper() + value[1:]





def _pad(value: int, like: str) -> str:
    return str(value).zfill(len(like)) if like.startswith("0") else str(value)


def _month_name(month: int, like: str) -> str:
    """Month ``month`` (1-12) in the form of ``like`` (full name or abbreviation, its case)."""
    full = calendar.month_name[month]
    low = like.lower()
    if low in _MONTHS:
        name = full
    elif low == "sept" and month == 9:
        name = "Sept"
    else:
        name = full[:3]
    return _word_case(name, like)


def _ordinal(day: int, like: str | None) -> str:
    if not like:
        return ""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return suffix.upper() if like.isupper() else suffix


def _year_text(year: int, like: str) -> str:
    if like.startswith("'"):
        return f"'{year % 100:02d}"
    return f"{year % 100:02d}" if len(like) == 2 else str(year)


def _full_year(y: str) -> int:
    y = y.lstrip("'")
    if len(y) == 4:
        return int(y)
    return 2000 + int(y) if int(y) < 50 else 1900 + int(y)  # as strptime's %y (POSIX)


def _month_of(name: str) -> int:
    low = name.lower()
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(low[:3]))


def shift_date(text: str, days: int) -> str | None:
    """``text`` (one date, without surrounding whitespace) moved by ``days`` days in its own
    format, or None when no format of the module docstring reads it (or it is no valid date).

    Numeric dates are month first (US), day first when the first number is over 12;
    2-digit years are read as strptime's ``%y`` (00-49 -> 20xx) and written back as 2 digits.
    Dates without a year are read in :data:`REFERENCE_YEAR`; a month alone or month and year
    is shifted from the 15th, a year alone from July 1st; a weekday moves by ``days mod 7``.
    """
    return _read_date(text, lambda name, g, m: _shift_match(name, g, m, days))


def _read_date(text: str, read):
    """``read(format name, groups, match)`` for the first of :data:`_DATE_FORMATS` that matches
    all of ``text``; None when none does or ``read`` finds no such date (13/45/2095, past year
    9999)."""
    for name, rx in _DATE_FORMATS:
        m = rx.fullmatch(text)
        if m:
            try:
                return read(name, m.groupdict(), m)
            except (ValueError, OverflowError):
                return None
    return None


def _shift_match(name: str, g: dict, m: re.Match, days: int) -> str:
    delta = dt.timedelta(days=days)
    if name == "wd":
        idx = next(i for i, w in enumerate(_WEEKDAYS) if w.startswith(g["wd"].lower()[:3]))
        new = calendar.day_name[(idx + days) % 7]
        like = g["wd"] + g["wdrest"]
        word = new if like.lower() in _WEEKDAYS else new[: len(like)]
        return _word_case(word, like) + g["mdot"]
    if name in ("mdy", "ymd", "compact", "md"):
        a, b = int(g["m"]), int(g["d"])
        swap = name in ("mdy", "md") and a > 12 and b <= 12
        month, day = (b, a) if swap else (a, b)
        year = _full_year(g["y"]) if g.get("y") else REFERENCE_YEAR
        d = dt.date(year, month, day) + delta
        ms, ds = (g["d"], g["m"]) if swap else (g["m"], g["d"])
        # zero-padded style when either field of the original has a leading zero (06/21/2020)
        padded = g["m"].startswith("0") or g["d"].startswith("0")
        mt, dtx = _pad(d.month, "00" if padded else ms), _pad(d.day, "00" if padded else ds)
        if name == "compact":
            return f"{d.year:04d}{d.month:02d}{d.day:02d}"
        if name == "ymd":
            return f"{d.year:04d}{g['s']}{mt}{g['s']}{dtx}"
        first, second = (dtx, mt) if swap else (mt, dtx)
        if name == "md":
            return f"{first}{g['s']}{second}"
        return f"{first}{g['s']}{second}{g['s']}{_year_text(d.year, g['y'])}"
    if name == "my":
        d = dt.date(int(g["y"]), int(g["m"]), 15) + delta
        return f"{_pad(d.month, g['m'])}{g['s']}{d.year}"
    if name == "y":
        d = dt.date(int(g["y"]), 7, 1) + delta
        return str(d.year)
    month = _month_of(g["mon"])
    if name in ("mon", "mon_y"):
        year = _full_year(g["y"]) if g.get("y") else REFERENCE_YEAR
        d = dt.date(year, month, 15) + delta
        out = _month_name(d.month, g["mon"]) + g["mdot"]
        return out if name == "mon" else out + g["s1"] + _year_text(d.year, g["y"])
    year = _full_year(g["y"]) if g.get("y") else REFERENCE_YEAR
    d = dt.date(year, month, int(g["d"])) + delta
    mon = _month_name(d.month, g["mon"]) + g["mdot"]
    day = _pad(d.day, g["d"]) + _ordinal(d.day, g.get("ord"))
    tail = g["s2"] + _year_text(d.year, g["y"]) if g.get("y") else ""
    if name == "mon_d":
        return f"{mon}{g['s1']}{day}{tail}"
    return f"{day}{g['s1']}{mon}{tail}"



#: Date forms (by which fields the original has): ``07/22``, ``7/22``, ``Jul 22``, ``22-Jul``,
#: ``1998-07-22``, ``July 22, 1998``, ``07/22/1998``, ``7/22/98``, ``22 Jul 1998``, ``July 22nd``.
DATE_FORMS_MD = ("{m}/{d}", "{mm}/{dd}", "{mon} {d}", "{d}-{mon}", "{month} {d}",
                 "{month} {d}{ord}", "{mm}-{dd}", "{mon}. {d}")
DATE_FORMS_MDY = ("{m}/{d}/{yy}", "{mm}/{dd}/{yyyy}", "{yyyy}-{mm}-{dd}", "{month} {d}, {yyyy}",
                  "{mon} {d}, {yyyy}", "{d} {mon} {yyyy}", "{d}-{mon}-{yyyy}", "{m}/{d}/{yyyy}",
                  "{mm}-{dd}-{yyyy}", "{mon} {d} {yyyy}")
DATE_FORMS_MY = ("{mon} {yyyy}", "{month} {yyyy}", "{mm}/{yyyy}", "{m}/{yy}")
#: Year-only forms. No ``'{yy}``: the i2b2 corpora tag ``'84`` as the span ``84`` (the apostrophe
#: outside; PhysioNet: 20 such dates, none with the apostrophe inside), so a surrogate that wrote
#: the apostrophe inside its span would teach the other convention (and, in de-identified output
#: after a written apostrophe, give ``''91``).
DATE_FORMS_Y = ("{yyyy}", "{yy}")
DATE_FORMS_WD = ("{wd}", "{wdd}")


def date_fields(text: str) -> tuple[dt.date, str] | None:
    """The date ``text`` reads as (one of the module's formats) and which fields it writes:
    ``"md"``, ``"mdy"``, ``"my"``, ``"y"`` or ``"wd"`` (the date is then a day of that weekday);
    None when no format reads it. Missing fields are filled as :func:`shift_date` does; a bare
    2-digit number (``CABG 80``, ``'84``) is read as a year, ``11th`` as a day (``"d"``)."""
    short = re.fullmatch(r"'?(\d{2})'?", text)
    if short:
        return dt.date(_full_year(short.group(1)), 7, 1), "y"
    day = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)", text, re.I)
    if day and 1 <= int(day.group(1)) <= 31:
        return dt.date(REFERENCE_YEAR, 1, int(day.group(1))), "d"
    return _read_date(text, _fields_of_match)


def _fields_of_match(name: str, g: dict, _m) -> tuple[dt.date, str]:
    if name == "wd":
        idx = next(i for i, w in enumerate(_WEEKDAYS) if w.startswith(g["wd"].lower()[:3]))
        return dt.date(REFERENCE_YEAR, 1, 3 + idx), "wd"  # 2000-01-03 is a Monday
    if name in ("mdy", "ymd", "compact", "md"):
        a, b = int(g["m"]), int(g["d"])
        month, day = (b, a) if name in ("mdy", "md") and a > 12 and b <= 12 else (a, b)
        year = _full_year(g["y"]) if g.get("y") else REFERENCE_YEAR
        return dt.date(year, month, day), ("mdy" if g.get("y") else "md")
    if name == "my":
        return dt.date(int(g["y"]), int(g["m"]), 15), "my"
    if name == "y":
        return dt.date(int(g["y"]), 7, 1), "y"
    month = _month_of(g["mon"])
    year = _full_year(g["y"]) if g.get("y") else REFERENCE_YEAR
    if name in ("mon", "mon_y"):
        return dt.date(year, month, 15), ("my" if g.get("y") else "md")
    return dt.date(year, month, int(g["d"])), ("mdy" if g.get("y") else "md")


def render_date(d: dt.date, form: str) -> str:
    """``d`` written in ``form`` (one of the ``DATE_FORMS_*`` templates)."""
    return form.format(
        m=d.month, mm=f"{d.month:02d}", d=d.day, dd=f"{d.day:02d}", yyyy=f"{d.year:04d}",
        yy=f"{d.year % 100:02d}", mon=calendar.month_abbr[d.month],
        month=calendar.month_name[d.month], ord=_ordinal(d.day, "th"),
        wd=calendar.day_abbr[d.weekday()], wdd=calendar.day_name[d.weekday()])


__all__ = ["shift_date", "date_fields", "render_date", "REFERENCE_YEAR", "DATE_FORMS_MD",
           "DATE_FORMS_MDY", "DATE_FORMS_MY", "DATE_FORMS_Y", "DATE_FORMS_WD"]
