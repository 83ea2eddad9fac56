"""i2b2 2006 de-identification: XML files of ``<ROOT><RECORD ID><TEXT>`` with inline
``<PHI TYPE="...">`` tags (docs/formats.md §1.1).

* Offsets are derived while walking the parsed tree (``xml.etree``): the text is ``TEXT.text``
  then, for each child, its text (recursively) and its tail; a ``<PHI>`` child covers
  ``[len(before), len(before) + len(its text))``. Offsets are 0-based, end-exclusive code points
  into the tag-stripped, *parsed* text, so the XML escapes (``&amp; &lt; &gt; &quot; &apos;``) are
  one character each and CR LF is LF, as any XML parser returns them.
* The text is the parsed ``<TEXT>`` content verbatim: the leading ``\\n`` and the final
  ``[ report_end ]\\n`` marker are kept. ``strip_report_end=True`` cuts the text just before a
  final ``[ report_end ]`` marker (the offsets of the PHI before it do not move); records without
  the marker are counted in ``counts["i2b2_2006:records_without_report_end"]`` either way.
* The known malformed tag of the training file (``<PHI TYPE="DATE">25th of July<PHI
  TYPE="DOCTOR">``, near line 25722) is repaired by the same targeted textual fix bigbio and the
  MIST converter apply (-> ``<PHI TYPE="DATE">25th of July</PHI>``) before parsing, and reported
  (``repaired_tag``, with the record and the line). Any other XML error is a :class:`FormatError`
  naming the file, line and column.
* Span labels are the ``TYPE`` values (PATIENT, DOCTOR, HOSPITAL, ID, DATE, LOCATION, PHONE,
  AGE). An unknown TYPE is kept and reported; a ``<PHI>`` without TYPE is reported and left
  out (its text stays in the note).
* Record ids are ``RECORD ID``. A file whose name says ``train``/``test`` gives its records that
  split; in a folder, a test file without gold (``deid_surrogate_test_all_version2.xml``) is
  skipped, and reported, when a ``groundtruth`` file sits beside it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport, Span, resolve_spans
from data_scripts.loader_common import check_label, decode_utf8, select_labels, split_of_name

#: The 8 PHI TYPEs of i2b2 2006 (docs/formats.md §1.1).
I2B2_2006_TYPES = ("PATIENT", "DOCTOR", "HOSPITAL", "ID", "DATE", "LOCATION", "PHONE", "AGE")
#: The one known malformed tag of ``deid_surrogate_train_all_version2.xml`` and its repair.
BAD_TAG = b'<PHI TYPE="DATE">25th of July<PHI TYPE="DOCTOR">'
REPAIRED_TAG = b'<PHI TYPE="DATE">25th of July</PHI>'
REPORT_END = "[ report_end ]"
_RECORD_ID_RE = re.compile(rb'<RECORD ID="([^"]*)"')


def repair(data: bytes, path: Path, report: LoadReport) -> bytes:
    """Apply the known targeted repair(s) to the raw bytes of a file, reporting each one with
    its record id and 1-based line. Returns the (possibly) repaired bytes; never raises."""
    pos = data.find(BAD_TAG)
    while pos >= 0:
        ids = _RECORD_ID_RE.findall(data, 0, pos)
        record = ids[-1].decode("utf-8", "replace") if ids else "?"
        line = data.count(b"\n", 0, pos) + 1
        report.problem(file=str(path), record=record, start=None, end=None, action="repaired",
                       problem=f"repaired_tag: line {line}: the known malformed DATE tag "
                               "(closed by a stray <PHI TYPE=\"DOCTOR\">) now ends with </PHI>, "
                               "as bigbio does (no note text in the report)")
        data = data[:pos] + REPAIRED_TAG + data[pos + len(BAD_TAG):]
        pos = data.find(BAD_TAG, pos + len(REPAIRED_TAG))
    return data


def _walk(el, buf: list[str], pos: int, out: list, file: str, record: str,
          report: LoadReport) -> int:
    """Append the text under ``el`` to ``buf``; collect (start, end, TYPE|None) of each PHI."""
    if el.text:
        buf.append(el.text)
        pos += len(el.text)
    for child in el:
        start = pos
        pos = _walk(child, buf, pos, out, file, record, report)
        if child.tag == "PHI":
            out.append((start, pos, child.get("TYPE")))
        else:
            report.problem(file=file, record=record, start=start, end=pos, action="text kept",
                           problem=f"unknown_element: <{child.tag}> inside <TEXT> is not <PHI>")
        if child.tail:
            buf.append(child.tail)
            pos += len(child.tail)
    return pos


def read_file(path: str | Path, report: LoadReport, *, strip_report_end: bool = False,
              labels=None, as_written: bool = False) -> list[Document]:
    """Read every ``<RECORD>`` of one i2b2 2006 XML file into documents (added to ``report``).

    Every ``<PHI>`` counts in ``report.tags_read``. With ``as_written`` (the scoring reading)
    the spans are not trimmed, overlaps are kept and duplicates count once (see
    :func:`clinical_ner.documents.resolve_spans`); a ``<PHI>`` without TYPE raises. Raises
    :class:`FormatError` naming the file when it is not UTF-8 (encoding), (line and column) when
    the XML does not parse after the known repair, or naming the record when it has no ``ID``,
    not exactly one ``<TEXT>``, or an ID repeats in the file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if b"encoding=" not in raw[:200] or re.search(rb"encoding=[\"']utf-?8", raw[:200], re.I):
        decode_utf8(raw, path)
    data = repair(raw, path, report)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        raise FormatError(f"{path}: not well-formed XML at line {line}, column {col}: "
                          f"{exc}") from exc
    split = split_of_name(path.name)
    docs, seen = [], set()
    records = [root] if root.tag == "RECORD" else root.findall("RECORD")
    if not records:
        raise FormatError(f"{path}: no <RECORD> elements (expected i2b2 2006 <ROOT><RECORD>)")
    for i, rec in enumerate(records):
        rid = rec.get("ID")
        if rid is None:
            raise FormatError(f"{path}: record #{i + 1} has no ID attribute")
        if rid in seen:
            raise FormatError(f"{path}: record {rid!r} appears more than once")
        seen.add(rid)
        text_els = rec.findall("TEXT")
        if len(text_els) != 1:
            raise FormatError(f"{path}: record {rid!r} has {len(text_els)} <TEXT> elements "
                              "(expected one)")
        text_el = text_els[0]
        buf: list[str] = []
        found: list = []
        _walk(text_el, buf, 0, found, str(path), rid, report)
        text = "".join(buf)
        spans = []
        for start, end, typ in found:
            report.tags_read += 1
            if typ is None and as_written:
                raise FormatError(f"{path}: record {rid!r}: <PHI> without TYPE at offset "
                                  f"{start}: it cannot be scored")
            if typ is None:
                report.problem(file=str(path), record=rid, start=start, end=end,
                               action="dropped", problem="missing_type: <PHI> without TYPE")
                continue
            if start == end:
                report.problem(file=str(path), record=rid, start=start, end=end,
                               action="dropped", problem=f"empty_tag: <PHI TYPE={typ}> is empty")
                continue
            typ = check_label(typ, file=str(path), record=rid, where=f"offset {start}")
            if typ not in I2B2_2006_TYPES:
                report.problem(file=str(path), record=rid, start=start, end=end, action="kept",
                               problem=f"unknown_label: {typ} is not an i2b2 2006 TYPE")
            spans.append(Span(start, end, typ))
        marker = text.rstrip().endswith(REPORT_END)
        if not marker:
            report.counts["i2b2_2006:records_without_report_end"] += 1
        elif strip_report_end:
            text = text[: text.rstrip().rfind(REPORT_END)]
            report.counts["i2b2_2006:report_end_stripped"] += 1
        spans = select_labels(spans, labels, report)
        kept = resolve_spans(text, spans, report, file=str(path), record=rid,
                             as_written=as_written)
        doc = Document(rid, text, kept, meta={"file": path.name, "patient": None,
                                              "split": split})
        report.add_document(doc)
        docs.append(doc)
    return docs


def read_path(path: str | Path, report: LoadReport, *, strip_report_end: bool = False,
              labels=None, as_written: bool = False) -> list[Document]:
    """Read one i2b2 2006 XML file, or every ``*.xml`` of a folder (sorted by name).

    In a folder that holds a ``*groundtruth*`` file, ``*test*`` files without ``groundtruth`` in
    their name (the release's untagged test copy) are skipped and reported. Raises
    :class:`FormatError` when a folder holds no ``.xml`` or a record id repeats across files.
    """
    path = Path(path)
    if path.is_file():
        files = [path]
    else:
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
        if not files:
            raise FormatError(f"{path}: no .xml files (expected i2b2 2006 deid_surrogate_*.xml)")
        if any("groundtruth" in f.name.lower() for f in files):
            for f in [f for f in files if split_of_name(f.name) == "test"
                      and "groundtruth" not in f.name.lower()]:
                report.problem(file=str(f), record="", start=None, end=None,
                               action="skipped file",
                               problem="untagged_test_copy: test file without gold; the "
                                       "groundtruth file beside it is read instead")
                files.remove(f)
    docs, where = [], {}
    for f in files:
        for doc in read_file(f, report, strip_report_end=strip_report_end, labels=labels,
                             as_written=as_written):
            if doc.id in where:
                raise FormatError(f"{f}: record {doc.id!r} also in {where[doc.id]}")
            where[doc.id] = f
            docs.append(doc)
    return docs
