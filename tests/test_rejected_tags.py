"""A gold tag the loader rejects (text mismatch, unknown TYPE, lost overlap) is kept out of the
training loss (label -100 on its words), never learnt as "O"; counted in the load report."""

from __future__ import annotations

from test_scoring_as_written import TEXT, gold_tags, tag, xml

from clinical_ner.training import DataArguments, build_windows, load_task_data
from clinical_ner.windows import IGNORE


def corpus(tmp_path, tags):
    for split in ("train", "dev"):
        (tmp_path / split).mkdir()
        (tmp_path / split / f"{'101' if split == 'train' else '202'}-01.xml").write_text(
            xml(tags), encoding="utf-8")
    return DataArguments(data_dir=str(tmp_path), bootstrap=0)


def test_rejected_gold_tags_are_left_out_of_the_loss(tmp_path, tiny_tokenizer):
    tags = gold_tags()
    tags[1] = tag("NAME", "PATIENT", "Tolliver Quince", tid="P1", text="Tolliver Quincy")
    tags[2] = tag("AGE", "AGES", "67", tid="P2")  # unknown TYPE
    task, docs, dsd, report = load_task_data(corpus(tmp_path, tags))
    row = dsd["train"][0]
    words = list(zip(row["word_starts"], row["word_ends"]))
    ignored = {TEXT[s:e] for (s, e), skip in zip(words, row["ignore_words"]) if skip}
    assert ignored == {"Tolliver", "Quince", "67"}
    # 2 rejected tags (3 words) in the train note and the same in its dev copy
    assert report.counts["rejected_tags_out_of_loss"] == 4
    assert report.counts["words_out_of_loss"] == 6
    (doc,) = docs["train"]
    assert [s.label for s in doc.spans] == ["DATE/DATE", "LOCATION/HOSPITAL", "CONTACT/PHONE"]
    (window,) = build_windows(tiny_tokenizer, [doc], task, max_seq_length=128, doc_stride=32)
    enc = tiny_tokenizer(TEXT, return_offsets_mapping=True)
    labels = dict(zip((tuple(o) for o in enc["offset_mapping"]), window["labels"], strict=True))
    o = task.scheme.bio_labels.index("O")
    start = TEXT.index("Tolliver")
    first = next(v for (a, _), v in labels.items() if a == start)
    assert first == IGNORE  # not 'O'
    seen = next(v for (a, _), v in labels.items() if a == TEXT.index("seen"))
    assert seen == o
    assert any(v == task.scheme.bio_labels.index("B-DATE") for v in labels.values())


def test_overlap_loser_outside_the_winner_is_left_out_of_the_loss(tmp_path):
    # "Mr. Tolliver Quince" as PATIENT loses to nothing; "Quince seen" DOCTOR overlaps it and is
    # dropped by the overlap policy: its word "seen" (outside the kept span) is ignored
    tags = gold_tags() + [tag("NAME", "DOCTOR", "Quince seen", tid="P9")]
    _, _, dsd, _ = load_task_data(corpus(tmp_path, tags))
    row = dsd["train"][0]
    words = list(zip(row["word_starts"], row["word_ends"]))
    assert {TEXT[s:e] for (s, e), skip in zip(words, row["ignore_words"]) if skip} == {"seen"}
