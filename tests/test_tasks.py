"""Tasks (issue 4, point 3): phi (i2b2 2014 TYPEs/categories, i2b2 2006 TYPEs), concepts,
medications and label map YAML files, the shipped MACCROBAT concept map, and the two training
configs."""

from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES, SHARED, need_shared

from clinical_ner.documents import Document, LoadReport, Span
from clinical_ner.tasks import (
    LABEL_MAPS_DIR,
    get_task,
    label_map_task,
    shipped_label_maps,
)
from data_scripts import brat, load_corpus, to_dataset_dict

MACCROBAT_MAP = ROOT / "data_scripts" / "label_maps" / "maccrobat_concepts.yaml"


def test_phi_on_i2b2_2014_unchanged():
    t = get_task("phi", "i2b2_2014")
    assert len(t.scheme.span_labels) == 31 and t.metric_scheme == "i2b2_2014"
    assert t.scheme.entity_of("NAME/DOCTOR") == "DOCTOR" and t.label_map is None
    c = get_task("phi", "i2b2_2014", "category")
    assert c.scheme.span_labels == ("NAME", "PROFESSION", "LOCATION", "AGE", "DATE", "CONTACT",
                                    "ID", "OTHER")
    assert c.label_map["LOCATION/HOSPITAL"] == "LOCATION" and len(c.corpus_labels) == 31


def test_phi_on_i2b2_2006():
    t = get_task("phi", "i2b2_2006")
    assert t.scheme.span_labels == ("PATIENT", "DOCTOR", "HOSPITAL", "ID", "DATE", "LOCATION",
                                    "PHONE", "AGE")
    assert t.scheme.bio_labels[:3] == ["O", "B-PATIENT", "I-PATIENT"]
    assert t.metric_scheme == "concepts" and t.corpus_labels == t.scheme.span_labels
    with pytest.raises(ValueError, match="only 'type'"):
        get_task("phi", "i2b2_2006", "category")
    with pytest.raises(ValueError, match="TASK=phi does not support format 'brat'"):
        get_task("phi", "brat")


def test_concepts_and_medications():
    c = get_task("concepts", "i2b2_2010")
    assert c.scheme.span_labels == ("problem", "test", "treatment")
    assert c.metric_scheme == "concepts" and len(c.scheme.bio_labels) == 7
    assert get_task("concepts", "conll").scheme == c.scheme
    with pytest.raises(ValueError, match="does not support format 'i2b2_2014'"):
        get_task("concepts", "i2b2_2014")
    m = get_task("medications", "brat")
    assert m.scheme.span_labels == ("Drug", "Strength", "Dosage", "Duration", "Frequency",
                                    "Form", "Route", "Reason", "ADE")
    assert m.metric_scheme == "concepts" and len(m.scheme.bio_labels) == 19
    with pytest.raises(ValueError, match="unknown task 'nope'.*maccrobat_concepts"):
        get_task("nope", "brat")


def test_shipped_maccrobat_concept_map():
    assert {"maccrobat_concepts", "ncbi_disease"} <= set(shipped_label_maps())
    by_name = get_task("maccrobat_concepts", "brat")
    by_path = get_task(str(MACCROBAT_MAP), "brat")
    assert by_name.label_map == by_path.label_map == {
        "Disease_disorder": "problem", "Sign_symptom": "problem",
        "Diagnostic_procedure": "test", "Therapeutic_procedure": "treatment",
        "Medication": "treatment"}
    assert by_name.scheme.span_labels == ("problem", "test", "treatment")
    assert by_name.metric_scheme == "concepts" and by_name.name == "maccrobat_concepts"
    assert MACCROBAT_MAP.resolve().parent == LABEL_MAPS_DIR
    assert get_task("phi", "brat", label_map_file=str(MACCROBAT_MAP)).label_map == \
        by_name.label_map


def test_map_document_relabels_and_reports_the_rest():
    t = get_task("maccrobat_concepts", "brat")
    doc = Document("d", "previously healthy man with fever",
                   (Span(0, 18, "History"), Span(28, 33, "Sign_symptom")))
    report = LoadReport("brat")
    out = t.map_document(doc, report)
    assert out.spans == (Span(28, 33, "problem"),)
    (p,) = report.problems
    assert (p.start, p.end, p.action) == (0, 18, "dropped")
    assert p.problem == "unknown_label: History is not a label of task maccrobat_concepts"


def test_task_labels_are_selected_before_the_overlap_policy(tmp_path):
    # MACCROBAT-like: Sign_symptom "healthy" (11..18) nested in History "previously healthy"
    (tmp_path / "a.txt").write_text("previously healthy man\n")
    (tmp_path / "a.ann").write_text("T1\tHistory 0 18\tpreviously healthy\n"
                                    "T2\tSign_symptom 11 18\thealthy\n")
    task = get_task("maccrobat_concepts", "brat")
    plain = LoadReport("brat")
    (doc,) = brat.read_folder(tmp_path, plain)
    assert doc.spans == (Span(0, 18, "History"),)  # the concept lost the overlap
    report = LoadReport("brat")
    (doc,) = brat.read_folder(tmp_path, report, labels=task.corpus_labels)
    assert doc.spans == (Span(11, 18, "Sign_symptom"),)
    assert report.counts["not_in_task:History"] == 1 and report.problems == []
    assert task.map_document(doc).spans == (Span(11, 18, "problem"),)


def write_map(tmp_path, body):
    f = tmp_path / "m.yaml"
    f.write_text(body)
    return f


def test_label_map_yaml_defaults_and_errors(tmp_path):
    t = label_map_task(write_map(tmp_path, "map:\n  Drug: medication\n  Dose: dose\n"
                                           "  Route: dose\n"))
    assert t.name == "m" and t.metric_scheme == "concepts"
    assert t.scheme.span_labels == ("medication", "dose")
    assert t.corpus_labels == ("Drug", "Dose", "Route")
    with pytest.raises(ValueError, match=r"m\.yaml: map values \['dose'\] are not in labels"):
        label_map_task(write_map(tmp_path, "labels: [medication]\nmap:\n  Drug: medication\n"
                                           "  Dose: dose\n"))
    with pytest.raises(ValueError, match=r"m\.yaml: a label map needs a non-empty 'map:'"):
        label_map_task(write_map(tmp_path, "labels: [a]\n"))
    with pytest.raises(ValueError, match=r"m\.yaml: metric_scheme must be"):
        label_map_task(write_map(tmp_path, "metric_scheme: f1\nmap:\n  A: a\n"))
    with pytest.raises(ValueError, match=r"m\.yaml: bad entity type name 'B-x'"):
        label_map_task(write_map(tmp_path, "map:\n  A: B-x\n"))
    with pytest.raises(ValueError, match="no such file"):
        get_task(str(tmp_path / "missing.yaml"), "brat")


def test_medications_dataset_dict_on_the_brat_sample():
    folder = need_shared(SAMPLES / "brat")
    task = get_task("medications", "brat")
    splits, report = load_corpus("brat", folder, labels=task.corpus_labels)
    # 2 documents, seeded 70/10/20: the empty dev split is recorded but not returned
    assert report.splits["documents"] == {"train": 1, "dev": 0, "test": 1}
    assert sorted(splits) == ["test", "train"]
    dsd = to_dataset_dict(splits, task, report)
    assert report.spans == report.round_trip_spans == 62  # 29 + 33 T lines, join policy
    assert dsd["train"].features["ner_tags"].feature.names == task.scheme.bio_labels
    names = dsd["train"].features["spans"].feature["label"].names
    assert names == list(task.scheme.span_labels)


@pytest.mark.parametrize("config,fmt,task,data", [
    ("maccrobat_concepts_minilm.yaml", "brat", "maccrobat_concepts",
     SHARED / "data" / "maccrobat2020" / "MACCROBAT2020"),
    ("ncbi_disease_minilm.yaml", "conll", "ncbi_disease", SHARED / "data" / "ncbi-disease"
     / "conll"),
])
def test_training_configs_parse(config, fmt, task, data):
    from transformers import TrainingArguments

    from clinical_ner.cli import parse_args
    from clinical_ner.training import TRAINING_DEFAULTS, DataArguments, ModelArguments

    path = ROOT / "configs" / config
    model_args, data_args, training_args = parse_args(
        (ModelArguments, DataArguments, TrainingArguments), [str(path)], TRAINING_DEFAULTS)
    assert (data_args.format, data_args.task) == (fmt, task)
    assert model_args.model_name_or_path == "minilm"
    assert training_args.output_dir.startswith("runs/")
    assert get_task(data_args.task, data_args.format).metric_scheme == "concepts"
    # data_dir is relative to the repository root, where train_ner.py runs
    assert (ROOT / data_args.data_dir).resolve() == Path(need_shared(data)).resolve()
