"""The i2b2 2014 loader: exact on the samples and on every file of the PhysioNet corpus; bad tags
are reported with file, tag id and offsets; written XML parses back byte-identical."""

import json

import pytest
from conftest import PHYSIONET, SAMPLES, need_shared

from clinical_ner.documents import Document, FormatError, LoadReport, Span
from data_scripts import i2b2_2014, load_corpus
from data_scripts.__main__ import main as cli_main


def test_samples_match_expected_exactly():
    folder = need_shared(SAMPLES / "i2b2_2014")
    expected = [json.loads(x) for x in (folder / "expected.jsonl").read_text().splitlines()]
    report = LoadReport("i2b2_2014")
    docs = i2b2_2014.read_folder(folder, report)
    assert [d.to_json() for d in docs] == expected
    assert report.problems == []
    assert docs[0].spans[0] == Span(16, 26, "DATE/DATE")  # three leading newlines


def test_physionet_counts_equal_stats_json():
    root = need_shared(PHYSIONET)
    stats = json.loads((root / "stats.json").read_text())["splits"]
    splits, report = load_corpus("i2b2_2014", root)
    assert report.problems == []
    for name, s in stats.items():
        docs = splits[name]
        assert len(docs) == s["notes"]
        assert sum(len(d.text) for d in docs) == s["characters"]
        assert sum(len(d.spans) for d in docs) == s["phi"]
        per_type = {}
        for d in docs:
            for sp in d.spans:
                per_type[sp.label] = per_type.get(sp.label, 0) + 1
        assert per_type == s["phi_per_type"]
        assert sum(1 for d in docs if d.spans) == s["notes_with_phi"]
        assert len({d.meta["patient"] for d in docs}) == s["patients"]


def test_cli_report_counts_round_trip(tmp_path, capsys):
    root = need_shared(PHYSIONET)
    assert cli_main(["i2b2_2014", str(root), "--report", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["documents"] == 2434 and report["characters"] == 2042622
    assert report["spans"] == report["round_trip_spans"] == 1530
    assert report["per_label"]["NAME/DOCTOR"] == 472
    assert report["problems"] == []
    assert json.loads(capsys.readouterr().out)["spans"] == 1530


XML = """<?xml version="1.0" encoding="UTF-8" ?>
<deIdi2b2>
<TEXT><![CDATA[
Seen 4/22 by Dr. Amos Velt & team.
]]></TEXT>
<TAGS>
{tags}
</TAGS>
</deIdi2b2>
"""


def write(tmp_path, tags, name="101-01.xml"):
    (tmp_path / name).write_text(XML.format(tags="\n".join(tags)))
    return tmp_path / name


def test_bad_tags_are_reported_with_file_tag_and_offsets(tmp_path):
    path = write(tmp_path, [
        '<DATE id="P0" start="6" end="10" text="4/22" TYPE="DATE" comment="" />',
        '<NAME id="P1" start="18" end="26" text="Amos Velx" TYPE="DOCTOR" comment="" />',
        '<NAME id="P2" start="18" end="27" text="Amos Velt" TYPE="NURSE" comment="" />',
        '<DATE id="P3" start="30" end="99" text="x" TYPE="DATE" comment="" />',
        '<NAME id="P4" start="18" end="27" text="Amos Velt" TYPE="DOCTOR" comment="" />',
        '<NAME id="P5" start="18" end="27" text="Amos Velt" TYPE="DOCTOR" comment="" />',
    ])
    report = LoadReport("i2b2_2014")
    doc = i2b2_2014.read_file(path, report)
    assert doc.spans == (Span(6, 10, "DATE/DATE"), Span(18, 27, "NAME/DOCTOR"))
    got = [(p.tag_id, p.start, p.end, p.problem.split(":")[0], p.action) for p in report.problems]
    assert got == [("P1", 18, 26, "text_mismatch", "dropped"),
                   ("P2", 18, 27, "unknown_label", "dropped"),
                   ("P3", 30, 99, "out_of_bounds", "dropped"),
                   (None, 18, 27, "duplicate", "collapsed")]
    assert all(p.file == str(path) and p.record == "101-01" for p in report.problems)


def test_unescaped_text_attribute_is_compared(tmp_path):
    path = write(tmp_path, ['<NAME id="P0" start="18" end="34" text="Amos Velt &amp; team" '
                            'TYPE="DOCTOR" comment="" />'])
    report = LoadReport("i2b2_2014")
    doc = i2b2_2014.read_file(path, report)
    assert doc.span_text(doc.spans[0]) == "Amos Velt & team" and report.problems == []


def test_malformed_xml_names_the_file(tmp_path):
    (tmp_path / "1-1.xml").write_text("<deIdi2b2><TEXT>oops</deIdi2b2>")
    with pytest.raises(FormatError, match="1-1.xml"):
        i2b2_2014.read_file(tmp_path / "1-1.xml", LoadReport("i2b2_2014"))
    with pytest.raises(FormatError, match="no .xml files"):
        i2b2_2014.read_folder(tmp_path / "nothing", LoadReport("i2b2_2014"))


def test_written_xml_parses_back_byte_identical(tmp_path):
    text = "\n\nA & B <x> ]]> end\r\n"
    doc = Document("300-01", text, (Span(2, 7, "NAME/PATIENT"), Span(8, 11, "ID/IDNUM")))
    i2b2_2014.write_file(doc, tmp_path / "300-01.xml")
    report = LoadReport("i2b2_2014")
    back = i2b2_2014.read_file(tmp_path / "300-01.xml", report)
    # XML parsers normalise a raw CR LF to LF (docs/formats.md §1.2): the writer puts each CR as
    # &#13; between CDATA sections, so the text reads back exactly, CR included
    assert back.text == text
    assert back.spans == doc.spans and report.problems == []
