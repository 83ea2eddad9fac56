"""Sub-token alignment, overlapping windows over long notes, and the per-word merge back to
character spans (with an oracle model whose answers are known)."""

import numpy as np
import pytest
import torch

from clinical_ner.documents import Span
from clinical_ner.inference import fill_untokenized, merge_window_predictions, predict_documents
from clinical_ner.labels import spans_to_bio, split_words
from clinical_ner.windows import (
    IGNORE,
    make_windows,
    special_affixes,
    tokenize_documents,
    window_starts,
)


def test_window_starts_cover_and_overlap():
    assert window_starts(10, 30, 8) == [0]
    assert window_starts(30, 30, 8) == [0]
    assert window_starts(31, 30, 8) == [0, 22]
    assert window_starts(100, 30, 10) == [0, 20, 40, 60, 80]
    with pytest.raises(ValueError, match="doc_stride"):
        window_starts(100, 30, 30)


def test_first_subtoken_carries_the_label(tiny_tokenizer):
    text = "Mr. Quincevelt Quince seen"
    spans = [Span(4, 21, "PATIENT")]
    words = split_words(text, spans)
    tags = spans_to_bio(words, spans)
    (td,) = tokenize_documents(tiny_tokenizer, [text], [words])
    label_id = {"O": 0, "B-PATIENT": 1, "I-PATIENT": 2}
    (win,) = make_windows(tiny_tokenizer, td, 64, 8, [label_id[t] for t in tags])
    pieces = tiny_tokenizer.convert_ids_to_tokens(win["input_ids"])
    expected = []
    for w, first in zip(td.word_of, td.first):
        expected.append(label_id[tags[w]] if first else IGNORE)
    assert win["labels"] == [IGNORE] + expected + [IGNORE]
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    # "Quincevelt" (not in the vocabulary) is cut into several pieces:
    # only the first is labelled (B), the rest -100
    tol = [i for i, w in enumerate(td.word_of) if w == 2]
    assert len(tol) > 1
    assert [win["labels"][1 + i] for i in tol] == [1] + [IGNORE] * (len(tol) - 1)
    assert win["labels"][1 + td.word_of.index(3)] == 2  # Quince: I-PATIENT


class OracleModel(torch.nn.Module):
    """Answers B-DOCTOR/I-DOCTOR for the first pieces of 'Amos'/'Velt', O elsewhere, and O for
    any token within 3 positions of a window edge (as if context were missing there)."""

    def __init__(self, tokenizer):
        super().__init__()
        self.b = tokenizer("Amos", add_special_tokens=False)["input_ids"][0]
        self.i = tokenizer("Velt", add_special_tokens=False)["input_ids"][0]
        self.p = torch.nn.Parameter(torch.zeros(1))
        self.calls = 0

    def forward(self, input_ids, attention_mask):
        self.calls += 1
        logits = torch.zeros(*input_ids.shape, 3)
        logits[..., 0] = 1
        lengths = attention_mask.sum(1)
        for r in range(input_ids.shape[0]):
            for c in range(int(lengths[r])):
                if 3 <= c < lengths[r] - 3:
                    k = {self.b: 1, self.i: 2}.get(int(input_ids[r, c]), 0)
                    logits[r, c, k] = 5
        return type("Out", (), {"logits": logits})


def test_long_note_fully_labelled_and_straddling_entity_whole(tiny_tokenizer):
    filler = "PLAN : CONTINUE LASIX 20 MG IV BID . "
    max_len, stride = 32, 12
    text = filler * 20
    (td,) = tokenize_documents(tiny_tokenizer, [text], [split_words(text)])
    content = max_len - 2
    assert len(td.ids) >= 5 * max_len  # the note is at least 5x the window
    # put "Amos Velt" exactly across the edge of the first window (pieces 29 and 30)
    words = split_words(text)
    edge_word = td.word_of[content - 1]
    cut = words[edge_word][0]
    text = text[:cut] + "Amos Velt " + text[cut:]
    id2label = {0: "O", 1: "B-DOCTOR", 2: "I-DOCTOR"}
    model = OracleModel(tiny_tokenizer)
    (spans,) = predict_documents(model, tiny_tokenizer, [text], id2label, max_seq_length=max_len,
                                 doc_stride=stride, batch_size=4)
    assert spans == [Span(cut, cut + 9, "DOCTOR")]
    # every word received a prediction from some window
    words = split_words(text)
    (td,) = tokenize_documents(tiny_tokenizer, [text], [words])
    wins = make_windows(tiny_tokenizer, td, max_len, stride)
    seen = {w for win in wins for w in win["word_index"] if w >= 0}
    assert seen == set(range(len(words)))
    assert len(wins) >= 6 and model.calls == -(-len(wins) // 4)


def test_merge_prefers_the_most_central_window():
    # word 0 seen at the edge of window A (centrality 0, says 2) and centrally in B (3, says 1)
    preds = [([0, 1], [0, 1], np.array([2, 2])), ([-1, 0], [-1, 3], np.array([0, 1]))]
    classes, seen = merge_window_predictions(3, preds)
    assert classes.tolist() == [1, 2, 0] and seen.tolist() == [True, True, False]


def test_untokenized_words_follow_their_entity():
    tags = ["B-X", "O", "I-X", "O", "O"]
    assert fill_untokenized(tags, [True, False, True, False, True]) == 2
    assert tags == ["B-X", "I-X", "I-X", "O", "O"]


def test_special_affixes_of_a_bert_tokenizer(tiny_tokenizer):
    pre, suf = special_affixes(tiny_tokenizer)
    assert tiny_tokenizer.convert_ids_to_tokens(pre + suf) == ["[CLS]", "[SEP]"]


def test_token_offsets_point_into_the_note(tiny_tokenizer):
    text = "Mr.  Quincevelt\tQuince , 67"
    words = split_words(text)
    (td,) = tokenize_documents(tiny_tokenizer, [text], [words], with_offsets=True)
    pieces = tiny_tokenizer.convert_ids_to_tokens(td.ids)
    assert len(td.offsets) == len(td.ids)
    for piece, (s, e) in zip(pieces, td.offsets):
        assert text[s:e] == piece.removeprefix("##")  # cased vocabulary: pieces are the text
    # the pieces of "Quincevelt" (characters 5-15) tile the word
    q = [off for off, w in zip(td.offsets, td.word_of) if w == 2]
    assert q[0][0] == 5 and q[-1][1] == 15
    assert all(a[1] == b[0] for a, b in zip(q, q[1:]))
    (win,) = make_windows(tiny_tokenizer, td, 64, 8)
    assert win["offsets"] == [(0, 0)] + td.offsets + [(0, 0)] and win["window_index"] == 0


def _random_token_classifier(tokenizer, labels, seed):
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    torch.manual_seed(seed)
    cfg = DistilBertConfig(vocab_size=len(tokenizer), dim=32, hidden_dim=64, n_layers=2,
                           n_heads=2, max_position_embeddings=512,
                           pad_token_id=tokenizer.pad_token_id, num_labels=len(labels),
                           id2label=dict(enumerate(labels)),
                           label2id={lab: i for i, lab in enumerate(labels)})
    model = DistilBertForTokenClassification(cfg).eval()
    with torch.no_grad():  # larger logits: many entities, also across window edges
        model.classifier.weight.mul_(40)
    return model


@pytest.mark.parametrize("seed", [0, 1])
def test_longest_merge_gives_the_pipeline_spans(tiny_tokenizer, seed):
    """window_merge="longest" on batched windows == pipeline(aggregation_strategy="first",
    stride=...) note by note, span for span, with a random model (many entities that the
    windows disagree on)."""
    from transformers import AutoTokenizer, pipeline

    from tests.conftest import CORPUS_TEXT

    labels = ["O", "B-DOCTOR", "I-DOCTOR", "B-DATE", "I-DATE", "B-PATIENT", "I-PATIENT"]
    model = _random_token_classifier(tiny_tokenizer, labels, seed)
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.permutation(CORPUS_TEXT * 3)) + " Zyxw éclat °C" for _ in range(4)]
    texts.append("Amos Velt .")  # one window
    max_len, stride = 32, 12
    ours = predict_documents(model, tiny_tokenizer, texts, dict(enumerate(labels)),
                             max_seq_length=max_len, doc_stride=stride, batch_size=5,
                             window_merge="longest")
    central = predict_documents(model, tiny_tokenizer, texts, dict(enumerate(labels)),
                                max_seq_length=max_len, doc_stride=stride, batch_size=5)
    ptok = AutoTokenizer.from_pretrained(tiny_tokenizer.name_or_path)
    ptok.model_max_length = max_len
    ner = pipeline("token-classification", model=model, tokenizer=ptok,
                   aggregation_strategy="first", stride=stride, device="cpu")
    n_spans = 0
    for text, mine in zip(texts, ours, strict=True):
        theirs = sorted(Span(int(e["start"]), int(e["end"]), e["entity_group"])
                        for e in ner(text))
        assert mine == theirs
        n_spans += len(theirs)
    assert n_spans > 40  # the comparison is not vacuous
    assert ours != central  # the two merge rules differ on these notes


def test_unknown_window_merge_is_an_error(tiny_tokenizer):
    model = _random_token_classifier(tiny_tokenizer, ["O", "B-X", "I-X"], 0)
    with pytest.raises(ValueError, match="window_merge"):
        predict_documents(model, tiny_tokenizer, ["a b"], {0: "O", 1: "B-X", 2: "I-X"},
                          window_merge="widest")


def test_longest_merge_on_notes_without_tokens(tiny_tokenizer):
    """Empty, blank and control-character notes have no sub-tokens: no spans, as the pipeline,
    and the other notes of the call are still predicted."""
    from transformers import AutoTokenizer, pipeline

    labels = ["O", "B-DOCTOR", "I-DOCTOR"]
    model = _random_token_classifier(tiny_tokenizer, labels, 0)
    texts = ["", " ", " \n\t\r\n  ", "\x00\x01", "Amos Velt saw the patient ."]
    ours = predict_documents(model, tiny_tokenizer, texts, dict(enumerate(labels)),
                             max_seq_length=32, doc_stride=8, window_merge="longest")
    ptok = AutoTokenizer.from_pretrained(tiny_tokenizer.name_or_path)
    ptok.model_max_length = 32
    ner = pipeline("token-classification", model=model, tokenizer=ptok,
                   aggregation_strategy="first", stride=8, device="cpu")
    assert ours[:4] == [[], [], [], []]
    theirs = [sorted(Span(int(e["start"]), int(e["end"]), e["entity_group"]) for e in ner(t))
              for t in texts]
    assert ours == theirs


def test_pipeline_merge_leaves_out_zero_width_entities_and_counts_them():
    """A byte-level BPE whitespace token can come back from the pipeline's post-processing as an
    entity with start == end; it cannot be a span, so it is left out and counted."""
    from clinical_ner.inference import pipeline_merge

    class FakePipe:
        def postprocess(self, outputs, aggregation_strategy):
            return [{"start": 3, "end": 3, "entity_group": "DOCTOR", "score": 0.9},
                    {"start": 4, "end": 8, "entity_group": "DOCTOR", "score": 0.9}]

    win = {"input_ids": [2, 7, 3], "centrality": [-1, 0, -1],
           "offsets": [(0, 0), (4, 8), (0, 0)]}
    pipe = FakePipe()
    spans = pipeline_merge(pipe, "Dr.  Velt", [win], [torch.zeros(3, 3)])
    assert spans == [Span(4, 8, "DOCTOR")] and pipe.zero_width_dropped == 1


class EverythingBModel(torch.nn.Module):
    """Answers B-DOCTOR for every token: every word is a span of its own."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask):
        logits = torch.zeros(*input_ids.shape, 3)
        logits[..., 1] = 5
        return type("Out", (), {"logits": logits})


def test_central_decode_leaves_out_symbol_only_spans_and_counts_them(tiny_tokenizer):
    text = "Amos , Velt -- 4"
    id2label = {0: "O", 1: "B-DOCTOR", 2: "I-DOCTOR"}
    stats = {}
    (spans,) = predict_documents(EverythingBModel(), tiny_tokenizer, [text], id2label,
                                 max_seq_length=32, doc_stride=8, stats=stats)
    # words: Amos , Velt - - 4 (each mark a word): the ",", "-", "-" spans are left out
    assert spans == [Span(0, 4, "DOCTOR"), Span(7, 11, "DOCTOR"), Span(15, 16, "DOCTOR")]
    assert stats == {"pred_spans_without_alnum_dropped": 3}
