"""presidio-research synthetic PII sentences (``synth_dataset_v2.json``, MIT, Microsoft).

Format (microsoft/presidio-research ``data/synth_dataset_v2.json``): a JSON list of records
``{"full_text", "masked", "spans": [{"entity_type", "entity_value", "start_position",
"end_position"}], "template_id", "metadata"}``; offsets are 0-based, end exclusive code points
into ``full_text`` and ``entity_value`` must equal the covered text. The reader keeps the native
``entity_type`` labels (``PERSON``, ``GPE``, ...); :data:`TO_I2B2_2014` maps them to i2b2 2014
``CATEGORY/TYPE`` labels for training PHI models on them as extra data (``train_ner.py
--extra_train_dir DIR``). Records get ids ``presidio-<index>``; there is no split and no patient.

Licence: MIT (Microsoft Corporation). Source: https://github.com/microsoft/presidio-research.
Generic (non-clinical) sentences: extra training data, never a clinical benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport, Span, resolve_spans
from data_scripts.loader_common import select_labels

LICENSE = "MIT (Microsoft Corporation)"
CITATION = "microsoft/presidio-research, data/synth_dataset_v2.json (2022)"

#: presidio entity type -> i2b2 2014 label; None: not PHI under the i2b2 2014 guidelines
#: (titles such as ``Mr.``, nationalities/religions/political groups), dropped and counted.
TO_I2B2_2014: dict[str, str | None] = {
    "PERSON": "NAME/PATIENT", "STREET_ADDRESS": "LOCATION/STREET", "GPE": "LOCATION/CITY",
    "ORGANIZATION": "LOCATION/ORGANIZATION", "DATE_TIME": "DATE/DATE", "AGE": "AGE/AGE",
    "PHONE_NUMBER": "CONTACT/PHONE", "EMAIL_ADDRESS": "CONTACT/EMAIL", "ZIP_CODE": "LOCATION/ZIP",
    "DOMAIN_NAME": "CONTACT/URL", "IP_ADDRESS": "CONTACT/IPADDR", "US_SSN": "ID/SSN",
    "US_DRIVER_LICENSE": "ID/LICENSE", "CREDIT_CARD": "ID/ACCOUNT", "IBAN_CODE": "ID/ACCOUNT",
    "TITLE": None, "NRP": None,
}


def read_path(path: str | Path, report: LoadReport, *, labels=None,
              as_written: bool = False) -> list[Document]:
    """Read a presidio ``*.json`` file, or every one of a folder (sorted), into documents with
    native labels (added to ``report``). ``labels`` keeps only those labels.

    Raises :class:`FormatError` naming the file and record for a file that is not a JSON list,
    a record without ``full_text``, a span whose offsets are not integers, lie outside the text
    or whose ``entity_value`` differs from the covered text.
    """
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file()) \
        if path.is_dir() else [path]
    if not files:
        raise FormatError(f"{path}: no .json files (expected presidio synth_dataset_v2.json)")
    docs = []
    for f in files:
        try:
            records = json.loads(f.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FormatError(f"{f}: not a presidio JSON file: {exc}") from exc
        if not isinstance(records, list):
            raise FormatError(f"{f}: expected a JSON list of records")
        for i, rec in enumerate(records):
            docs.append(_document(rec, f, i, len(docs), report, labels, as_written))
    return docs


def _document(rec, f: Path, i: int, n: int, report: LoadReport, labels, as_written: bool
              ) -> Document:
    rid = f"presidio-{n}"
    if not isinstance(rec, dict) or not isinstance(rec.get("full_text"), str):
        raise FormatError(f"{f}: record {i}: no full_text string")
    text = rec["full_text"]
    spans = []
    spans_in = rec.get("spans") or []
    if not isinstance(spans_in, list) or not all(isinstance(s, dict) for s in spans_in):
        raise FormatError(f"{f}: record {i}: 'spans' must be a list of objects")
    for s in spans_in:
        start, end = s.get("start_position"), s.get("end_position")
        where = f"{f}: record {i} span [{start}, {end}) {s.get('entity_type')!r}"
        if not (type(start) is int and type(end) is int and 0 <= start < end <= len(text)):
            raise FormatError(f"{where}: offsets are not integers within the text "
                              f"({len(text)} characters)")
        if s.get("entity_value") is not None and text[start:end] != s["entity_value"]:
            raise FormatError(f"{where}: entity_value differs from the text at these offsets")
        spans.append(Span(start, end, str(s.get("entity_type"))))
    report.tags_read += len(spans)
    kept = resolve_spans(text, select_labels(spans, labels, report), report, file=str(f),
                         record=rid, as_written=as_written)
    doc = Document(rid, text, kept, meta={"file": f.name, "record": i})
    report.add_document(doc)
    return doc


def to_i2b2_2014(doc: Document, report: LoadReport | None = None) -> Document:
    """``doc`` with its presidio labels mapped by :data:`TO_I2B2_2014`; spans of types mapped
    to None or unknown are dropped and counted in ``report.counts`` (``presidio_not_phi:<type>``,
    ``presidio_unknown:<type>``)."""
    kept = []
    for s in doc.spans:
        label = TO_I2B2_2014.get(s.label, "?")
        if label is None or label == "?":
            if report is not None:
                kind = "not_phi" if label is None else "unknown"
                report.counts[f"presidio_{kind}:{s.label}"] += 1
            continue
        kept.append(Span(s.start, s.end, label))
    return Document(doc.id, doc.text, tuple(kept), dict(doc.meta))
