"""i2b2/UTHealth 2014 de-identification (Track 1) XML: a folder of ``PPP-RR.xml`` files.

Follows ``docs/formats.md`` §1.2 (Stubbs & Uzuner, JBI 2015):
``<deIdi2b2><TEXT><![CDATA[...]]></TEXT>
<TAGS><CATEGORY id= start= end= text= TYPE= comment=/>...</TAGS></deIdi2b2>``; offsets are
0-based, end-exclusive code points into the parsed ``<TEXT>`` string. Span labels are
``"CATEGORY/TYPE"``. Every tag is validated (offsets inside the text, ``text[start:end] == @text``,
known category/TYPE, overlaps); a tag that fails is reported with file, tag id and offsets and is
not guessed at.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport, Span, resolve_spans
from clinical_ner.files import write_text_atomic
from data_scripts.loader_common import Corpus

#: i2b2/UTHealth 2014 PHI categories and their TYPEs (docs/formats.md §1.2, the
#: official scorer's tags.py).
I2B2_2014_TYPES: dict[str, tuple[str, ...]] = {
    "NAME": ("PATIENT", "DOCTOR", "USERNAME"),
    "PROFESSION": ("PROFESSION",),
    "LOCATION": (
        "ROOM", "DEPARTMENT", "HOSPITAL", "ORGANIZATION", "STREET", "CITY", "STATE", "COUNTRY",
        "ZIP", "LOCATION-OTHER",
    ),
    "AGE": ("AGE",),
    "DATE": ("DATE",),
    "CONTACT": ("PHONE", "FAX", "EMAIL", "URL", "IPADDR"),
    "ID": (
        "SSN", "MEDICALRECORD", "HEALTHPLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "BIOID",
        "IDNUM",
    ),
    "OTHER": ("OTHER",),
}

#: The citation of the format (the corpus paper).
STUBBS_2015 = """@article{stubbs-2015-annotating,
  title = "Annotating longitudinal clinical narratives for de-identification: The 2014 i2b2/{UTHealth} corpus",
  author = "Stubbs, Amber and Uzuner, {\\"O}zlem",
  journal = "Journal of Biomedical Informatics",
  volume = "58",
  number = "Suppl",
  pages = "S20--S29",
  year = "2015",
  doi = "10.1016/j.jbi.2015.07.020"
}"""  # noqa: E501
#: Citations of the PhysioNet deid notes (Neamatullah et al. 2008; PhysioNet).
NEAMATULLAH_2008 = """@article{neamatullah-2008-deid,
  title = "Automated de-identification of free-text medical records",
  author = "Neamatullah, Ishna and Douglass, Margaret M. and Lehman, Li-wei H. and Reisner, Andrew and Villarroel, Mauricio and Long, William J. and Szolovits, Peter and Moody, George B. and Mark, Roger G. and Clifford, Gari D.",
  journal = "BMC Medical Informatics and Decision Making",
  volume = "8",
  pages = "32",
  year = "2008",
  doi = "10.1186/1472-6947-8-32"
}"""  # noqa: E501
GOLDBERGER_2000 = """@article{goldberger-2000-physionet,
  title = "{PhysioBank}, {PhysioToolkit}, and {PhysioNet}: Components of a New Research Resource for Complex Physiologic Signals",
  author = "Goldberger, Ary L. and Amaral, Luis A. N. and Glass, Leon and Hausdorff, Jeffrey M. and Ivanov, Plamen Ch. and Mark, Roger G. and Mietus, Joseph E. and Moody, George B. and Peng, Chung-Kang and Stanley, H. Eugene",
  journal = "Circulation",
  volume = "101",
  number = "23",
  pages = "e215--e220",
  year = "2000",
  doi = "10.1161/01.CIR.101.23.e215"
}"""  # noqa: E501

#: Corpora in this format: base name of the corpus folder -> facts for the model card.
CORPORA: dict[str, Corpus] = {
    "physionet-deid-i2b2": Corpus(
        id="physionet-deid-i2b2",
        name="PhysioNet deid ICU nursing notes with surrogate PHI (i2b2 2014 format)",
        license="GPL-2.0-or-later",
        description="de-identified ICU nursing notes (MIMIC-II, from the PhysioNet deid 1.1 "
                    "package) whose hidden PHI was replaced by synthetic surrogates and "
                    "annotated in the i2b2 2014 de-identification layout",
        url="https://physionet.org/content/deid/1.1/",
        citations=(NEAMATULLAH_2008, GOLDBERGER_2000),
        license_note="The corpus is distributed under GPL-2.0-or-later, like the deid 1.1 "
                     "package its text comes from, and its README asks that anything shipping "
                     "the data or a derivative of it keep that license. Whether fine-tuned "
                     "weights are such a derivative is for the publisher to decide; to follow "
                     "the data license, publish with `--license gpl-2.0`."),
    "demo_i2b2_2014": Corpus(
        id="clinical-ner-demo-i2b2-2014",
        name="clinical-ner made-up demo notes (i2b2 2014 format)",
        license="CC0-1.0",
        description="invented notes built from sentence templates with Faker surrogates; no "
                    "real patient, clinician or note is behind them"),
}


FILE_RE = re.compile(r"^(\d+)-(\d+)")
#: An offset attribute: ASCII digits with an optional minus (no spaces, ``+``, ``_`` or
#: non-ASCII digits, which ``int()`` would accept).
_INT_RE = re.compile(r"-?[0-9]+")


def patient_of(doc_id: str) -> str | None:
    """The patient id of a ``PPP-RR`` record id, or None when the name does not follow it."""
    m = FILE_RE.match(doc_id)
    return m.group(1) if m else None


def xml_attribute_normalized(s: str) -> str:
    """``s`` as an XML parser returns it in an attribute value: each tab, newline and carriage
    return becomes a space (XML 1.0 §3.3.3, attribute-value normalisation). A ``text=``
    attribute is compared with the covered text after this, on both sides."""
    return s.replace("\r\n", " ").translate(_ATTR_WS)


_ATTR_WS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def _parse(path: Path):
    data = path.read_bytes()
    head = data[:200].decode("ascii", "replace")
    m = re.search(r"encoding=[\"']([A-Za-z0-9_.-]+)[\"']", head)
    declared = m.group(1).lower().replace("_", "-") if m else "utf-8"
    if declared in ("utf-8", "utf8"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{path}: encoding error: not UTF-8 at byte offset {exc.start} "
                              f"({exc.reason}); i2b2 2014 files are UTF-8 (re-encode the file, "
                              "e.g. iconv -f latin1 -t utf-8)") from exc
    try:
        return ET.fromstring(data), data
    except ET.ParseError as exc:
        raise FormatError(f"{path}: not well-formed XML: {exc}") from exc


def _counts_carriage_returns(raw: bytes, text: str, tags: list) -> bool:
    """Whether the file's offsets count the ``\r`` of CR LF line ends (a file written on Windows):
    XML parsing turns CR LF into LF, so such offsets do not fit the parsed text. True when the
    raw file holds CR LF and more tags fit the text with CR LF restored than the parsed text."""
    if b"\r\n" not in raw or "\n" not in text:
        return False
    crlf = text.replace("\n", "\r\n")
    fit_parsed = fit_crlf = 0
    for tag in tags:
        raw_offsets, attr = (tag.get("start"), tag.get("end")), tag.get("text")
        if attr is None or not all(r and _INT_RE.fullmatch(r) for r in raw_offsets):
            continue
        start, end = int(raw_offsets[0]), int(raw_offsets[1])
        want = xml_attribute_normalized(attr)
        fit_parsed += xml_attribute_normalized(text[start:end]) == want
        fit_crlf += xml_attribute_normalized(crlf[start:end]) == want
    return fit_crlf > fit_parsed


def read_file(path: str | Path, report: LoadReport, *, labels=None,
              as_written: bool = False) -> Document:
    """Read one i2b2 2014 XML file into a :class:`Document` (id = file stem).

    Follows ``docs/formats.md`` §1.2. Two readings:

    * training data (``as_written=False``): a tag with bad offsets, an unknown CATEGORY/TYPE or a
      ``text=`` attribute that differs from the covered text (compared after XML
      attribute-value normalisation, :func:`xml_attribute_normalized`) is reported and rejected
      (its range stays in ``doc.meta["rejected"]``, kept out of the training loss); the span
      policy (:func:`~clinical_ner.documents.resolve_spans`) then trims, collapses and resolves
      overlaps, all reported. An empty ``text=""`` attribute is no text to check (counted,
      ``counts["empty_text_attribute"]``).
    * scoring (``as_written=True``, the official scorer's reading, §1.5): every tag is scored by
      its offsets and ``CATEGORY/TYPE`` as written; a ``text=`` attribute that disagrees is a
      counted warning (``text_mismatch``, action ``scored``), an unknown TYPE is kept (a false
      positive or negative of its own type, ``unknown_label``), duplicates count once.

    ``labels`` keeps only those ``CATEGORY/TYPE`` labels (the others are counted in
    ``counts["not_in_task:<label>"]``, before the overlap policy). Every tag met is counted in
    ``report.tags_read``. Raises :class:`FormatError` naming the file when it is not UTF-8
    ("encoding"), the XML does not parse, it has no ``<TEXT>``, or (training reading) its offsets
    count carriage returns that XML parsing removed (a file written on Windows; never shifted);
    when scoring, also for a tag whose offsets are not integers, empty or past the text (tag id
    and offsets named). In the scoring reading carriage-return offsets are a warning
    (``crlf_offsets``) and the tags are scored as written.
    """
    from data_scripts.loader_common import select_labels

    path = Path(path)
    root, raw = _parse(path)
    text_els, tags_els = root.findall("TEXT"), root.findall("TAGS")
    if not text_els:
        raise FormatError(f"{path}: no <TEXT> element")
    if len(text_els) > 1 or len(tags_els) > 1:
        raise FormatError(f"{path}: {len(text_els)} <TEXT> and {len(tags_els)} <TAGS> elements "
                          "(expected one of each)")
    text_el = text_els[0]
    if len(text_el):
        raise FormatError(f"{path}: <TEXT> holds a <{text_el[0].tag}> element after character "
                          f"{len(text_el.text or '')}; the note text must be plain text or CDATA "
                          "(its tags would cut the text)")
    text = text_el.text or ""
    doc_id = path.stem
    spans: list[Span] = []
    rejected: list[tuple[int, int]] = []
    tags = list(tags_els[0]) if tags_els else []
    if _counts_carriage_returns(raw, text, tags):
        what = ("crlf_offsets: the tag offsets count the carriage returns of CR LF line ends, "
                "which XML parsing removes (a file written on Windows): they do not fit the note "
                "text")
        if not as_written:
            raise FormatError(f"{path}: {what}; offsets are never shifted silently: convert the "
                              "file with its offsets recomputed, or score it as written")
        report.problem(file=str(path), record=doc_id, start=None, end=None, problem=what,
                       action="scored as written")
    for tag in tags:
        report.tags_read += 1
        span, problem, (start, end) = _tag_span(tag, text)
        tag_id = tag.get("id")
        if span is None:  # offsets unusable
            if as_written:
                raise FormatError(f"{path}: record {doc_id!r} tag {tag_id}: {problem}; it cannot "
                                  "be scored")
            report.problem(file=str(path), record=doc_id, tag_id=tag_id, start=start, end=end,
                           problem=problem, action="dropped")
            if start is not None and 0 <= start < end <= len(text):  # placeable: not "O"
                rejected.append((start, end))
            continue
        if problem == "empty_text_attribute":
            report.counts["empty_text_attribute"] += 1
            problem = None
        if problem:
            if as_written:
                report.problem(file=str(path), record=doc_id, tag_id=tag_id, start=span.start,
                               end=span.end, problem=problem, action="scored")
            else:
                report.problem(file=str(path), record=doc_id, tag_id=tag_id, start=span.start,
                               end=span.end, problem=problem, action="dropped")
                rejected.append((span.start, span.end))
                continue
        spans.append(span)
    spans = select_labels(spans, labels, report)
    kept = resolve_spans(text, spans, report, file=str(path), record=doc_id,
                         as_written=as_written, rejected=rejected)
    meta = {"patient": patient_of(doc_id), "file": path.name}
    if rejected:
        meta["rejected"] = rejected
    return Document(doc_id, text, kept, meta=meta)


def _tag_span(tag, text: str) -> tuple[Span | None, str | None, tuple]:
    """One ``<TAGS>`` child -> ``(span or None when its offsets are unusable, problem or None,
    (start, end) as integers or (None, None))``. Problems: ``bad_offsets``, ``out_of_bounds``
    (no span); ``unknown_label``, ``text_mismatch``, ``empty_text_attribute`` (with the span as
    written)."""
    category, typ = tag.tag, tag.get("TYPE")
    raw = (tag.get("start"), tag.get("end"))
    if not all(r is not None and _INT_RE.fullmatch(r) for r in raw):
        return None, (f"bad_offsets: start/end {raw[0]!r}, {raw[1]!r} missing or not "
                      "integers"), (None, None)
    start, end = int(raw[0]), int(raw[1])
    if start >= end:
        return None, f"bad_offsets: [{start}, {end}) is empty or reversed", (start, end)
    if start < 0 or end > len(text):
        return None, (f"out_of_bounds: [{start}, {end}) outside the text ({len(text)} "
                      "characters)"), (start, end)
    if not typ:
        return None, f"missing_type: <{category}> tag [{start}, {end}) has no TYPE", (start, end)
    span = Span(start, end, f"{category}/{typ}")
    attr = tag.get("text")
    if category not in I2B2_2014_TYPES or typ not in I2B2_2014_TYPES[category]:
        problem = f"unknown_label: {category}/{typ} is not an i2b2 2014 category/TYPE"
    elif attr == "":
        problem = "empty_text_attribute"
    elif attr is not None and (xml_attribute_normalized(text[start:end])
                               != xml_attribute_normalized(attr)):
        problem = ("text_mismatch: text[start:end] differs from the tag's text attribute "
                   "(compared after XML attribute-value normalisation)")
    else:
        problem = None
    return span, problem, (start, end)


def read_folder(folder: str | Path, report: LoadReport, *, labels=None,
                as_written: bool = False) -> list[Document]:
    """Read every ``*.xml`` (any case: ``.XML`` too) in ``folder``, sorted by name, with
    :func:`read_file`. Raises FormatError when there is none."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".xml"
                   ) if folder.is_dir() else []
    if not files:
        raise FormatError(f"{folder}: no .xml files (expected i2b2 2014 PPP-RR.xml files)")
    docs = []
    for f in files:
        doc = read_file(f, report, labels=labels, as_written=as_written)
        report.add_document(doc)
        docs.append(doc)
    return docs


def write_file(doc: Document, path: str | Path) -> None:
    """Write a document as i2b2 2014 XML whose ``<TEXT>`` parses back byte-identical.

    Spans need ``"CATEGORY/TYPE"`` labels. Text that holds ``]]>`` is split over two CDATA
    sections so it still parses to the same string. Written atomically (temporary file, then
    rename).
    """
    # XML parsing turns a raw CR (and CR LF) into LF even inside CDATA: a CR is written as the
    # character reference &#13; between two CDATA sections, so <TEXT> reads back identical
    body = doc.text.replace("]]>", "]]]]><![CDATA[>").replace("\r", "]]>&#13;<![CDATA[")
    lines = ['<?xml version="1.0" encoding="UTF-8" ?>', "<deIdi2b2>",
             f"<TEXT><![CDATA[{body}]]></TEXT>", "<TAGS>"]
    for i, s in enumerate(doc.spans):
        if "/" not in s.label:
            raise ValueError(f"{doc.id}: span label {s.label!r} is not CATEGORY/TYPE")
        cat, typ = s.label.split("/", 1)
        el = ET.Element(cat, {"id": f"P{i}", "start": str(s.start), "end": str(s.end),
                              "text": doc.span_text(s), "TYPE": typ, "comment": ""})
        lines.append(ET.tostring(el, encoding="unicode").replace(" />", "/>").replace("/>", " />"))
    lines += ["</TAGS>", "</deIdi2b2>", ""]
    write_text_atomic(path, "\n".join(lines))
