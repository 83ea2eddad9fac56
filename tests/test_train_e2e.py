"""A few training steps of a tiny model produce a run folder that reloads with the right labels."""

import json

from clinical_ner.labels import i2b2_2014_scheme


def test_run_folder_reloads_with_real_labels(tiny_phi_run):
    from transformers import AutoModelForTokenClassification, pipeline

    model = AutoModelForTokenClassification.from_pretrained(tiny_phi_run)
    bio = i2b2_2014_scheme("type").bio_labels
    assert model.config.num_labels == 63 == len(bio)
    assert [model.config.id2label[i] for i in range(63)] == bio
    assert model.config.label2id["B-DOCTOR"] == bio.index("B-DOCTOR")
    for name in ("metrics.json", "dev_metrics.json", "load_report.json", "run_args.json",
                 "train_results.json", "tokenizer.json", "model.safetensors"):
        assert (tiny_phi_run / name).is_file(), name
    metrics = json.loads((tiny_phi_run / "metrics.json").read_text())
    assert set(metrics["strict"]["micro"]) >= {"precision", "recall", "f1", "f1_ci"}
    assert metrics["split"] == "test" and metrics["documents"] == 20
    assert metrics["gold_spans"] == 225
    report = json.loads((tiny_phi_run / "load_report.json").read_text())
    assert report["spans"] == report["round_trip_spans"] == 1061
    ner = pipeline("token-classification", model=str(tiny_phi_run), aggregation_strategy="first")
    out = ner("Dr. Amos Velt saw the patient on 03/14/2001.")
    assert all(e["entity_group"] in {lab.split("/")[1] for lab in
                                     i2b2_2014_scheme().span_labels} for e in out)
