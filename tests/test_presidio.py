"""data_scripts.presidio: presidio-research synthetic sentences, mapped to i2b2 2014 TYPEs."""

from __future__ import annotations

import json

import pytest

from clinical_ner.documents import FormatError, LoadReport, Span
from data_scripts import presidio

RECORDS = [
    {"full_text": "Mr. John Smith lives in Boston since 2019.",
     "spans": [{"entity_type": "PERSON", "entity_value": "John Smith", "start_position": 4,
                "end_position": 14},
               {"entity_type": "GPE", "entity_value": "Boston", "start_position": 24,
                "end_position": 30},
               {"entity_type": "TITLE", "entity_value": "Mr.", "start_position": 0,
                "end_position": 3},
               {"entity_type": "DATE_TIME", "entity_value": "2019", "start_position": 37,
                "end_position": 41}]},
    {"full_text": "What are my options?", "spans": []},
]


def test_read_and_map_to_i2b2(tmp_path):
    f = tmp_path / "synth.json"
    f.write_text(json.dumps(RECORDS))
    report = LoadReport(format="presidio")
    docs = presidio.read_path(tmp_path, report)
    assert [d.id for d in docs] == ["presidio-0", "presidio-1"] and report.tags_read == 4
    mapped = presidio.to_i2b2_2014(docs[0], report)
    assert mapped.spans == (Span(4, 14, "NAME/PATIENT"), Span(24, 30, "LOCATION/CITY"),
                            Span(37, 41, "DATE/DATE"))
    assert report.counts["presidio_not_phi:TITLE"] == 1  # Mr. is no PHI: dropped, counted


@pytest.mark.parametrize("span, message", [
    ({"entity_type": "PERSON", "entity_value": "John", "start_position": 4,
      "end_position": 14}, "entity_value differs"),
    ({"entity_type": "PERSON", "start_position": 4.0, "end_position": 14}, "not integers"),
    ({"entity_type": "PERSON", "start_position": 30, "end_position": 99}, "within the text"),
])
def test_bad_spans_name_file_and_record(tmp_path, span, message):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps([RECORDS[1], {"full_text": RECORDS[0]["full_text"], "spans": [span]}]))
    with pytest.raises(FormatError, match=rf"bad.json: record 1 span .*{message}"):
        presidio.read_path(f, LoadReport(format="presidio"))
