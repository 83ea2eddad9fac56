"""i2b2/UTHealth 2014 de-identification (Track 1) XML: a folder of ``PPP-RR.xml`` files.

Follows ``formats.md`` §1.2 (Stubbs & Uzuner, JBI 2015): ``<deIdi2b2><TEXT><![CDATA[...]]></TEXT>
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
from clinical_ner.labels import I2B2_2014_TYPES

FILE_RE = re.compile(r"^(\d+)-(\d+)")
#: An offset attribute: ASCII digits with an optional minus (no spaces, ``+``, ``_`` or
#: non-ASCII digits, which ``int()`` would accept).
_INT_RE = re.compile(r"-?[0-9]+")


def patient_of(doc_id: str) -> str | None:
    """The patient id of a ``PPP-RR`` record id, or None when the name does not follow it."""
    m = FILE_RE.match(doc_id)
    return m.group(1) if m else None


def read_file(path: str | Path, report: LoadReport) -> Document:
    """Read one i2b2 2014 XML file into a :class:`Document` (id = file stem).

    Raises :class:`FormatError` (naming the file) when the XML does not parse or has no
    ``<TEXT>``. Bad tags are reported in ``report`` and left out; nothing is shifted.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise FormatError(f"{path}: not well-formed XML: {exc}") from exc
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
    tags = tags_els[0] if tags_els else None
    for tag in [] if tags is None else list(tags):
        category, tag_id = tag.tag, tag.get("id")
        typ = tag.get("TYPE")
        raw = (tag.get("start"), tag.get("end"))
        if not all(r is not None and _INT_RE.fullmatch(r) for r in raw):
            report.problem(file=str(path), record=doc_id, tag_id=tag_id, start=None, end=None,
                           problem=f"bad_offsets: start/end {raw[0]!r}, {raw[1]!r} missing or "
                                   "not integers", action="dropped")
            continue
        start, end = int(raw[0]), int(raw[1])
        if start >= end:
            what = f"bad_offsets: [{start}, {end}) is empty or reversed"
        elif not (0 <= start < end <= len(text)):
            what = f"out_of_bounds: [{start}, {end}) outside the text ({len(text)} characters)"
        elif category not in I2B2_2014_TYPES or typ not in I2B2_2014_TYPES[category]:
            what = f"unknown_label: {category}/{typ} is not an i2b2 2014 category/TYPE"
        elif tag.get("text") is not None and text[start:end] != tag.get("text"):
            what = "text_mismatch: text[start:end] differs from the tag's text attribute"
        else:
            what = None
        if what:
            report.problem(file=str(path), record=doc_id, tag_id=tag_id, start=start, end=end,
                           problem=what, action="dropped")
            continue
        spans.append(Span(start, end, f"{category}/{typ}"))
    kept = resolve_spans(text, spans, report, file=str(path), record=doc_id)
    return Document(doc_id, text, kept, meta={"patient": patient_of(doc_id), "file": path.name})


def read_folder(folder: str | Path, report: LoadReport) -> list[Document]:
    """Read every ``*.xml`` in ``folder`` (sorted by name). Raises FormatError when none."""
    folder = Path(folder)
    files = sorted(folder.glob("*.xml"))
    if not files:
        raise FormatError(f"{folder}: no .xml files (expected i2b2 2014 PPP-RR.xml files)")
    docs = []
    for f in files:
        doc = read_file(f, report)
        report.add_document(doc)
        docs.append(doc)
    return docs


def write_file(doc: Document, path: str | Path) -> None:
    """Write a document as i2b2 2014 XML whose ``<TEXT>`` parses back byte-identical.

    Spans need ``"CATEGORY/TYPE"`` labels. Text that holds ``]]>`` is split over two CDATA
    sections so it still parses to the same string.
    """
    body = doc.text.replace("]]>", "]]]]><![CDATA[>")
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
    Path(path).write_text("\n".join(lines), encoding="utf-8")
