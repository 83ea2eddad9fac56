"""Window logits -> one label per word (the window where the word is most central wins) ->
character spans of the original text.

:func:`predict_documents` is the project's batched inference over whole notes: all windows of all
notes are sorted by length and run in batches with dynamic padding. Two ways to merge the
windows of a note (``window_merge``):

- ``"central"`` (default): per word, the prediction of the window where the word is most central
  (farthest from a window edge) wins; the merged IOB2 tags are decoded once per note.
- ``"longest"``: the rule of ``transformers.pipeline("token-classification",
  aggregation_strategy="first", stride=...)``: the raw note is tokenized as the pipeline does
  (the tokenizer's own words, not :func:`~clinical_ner.labels.split_words`), each window is
  decoded to entities on its own, and of overlapping entities from different windows the longest
  wins (ties: the higher mean score). The pipeline's own post-processing code is called on the
  batched logits, so the spans are those of the pipeline run note by note, for tokenizers that
  pad and truncate on the right (BERT/WordPiece and most others; not XLNet-style left padding)
  and except zero-width entities, which are left out and counted (:func:`pipeline_merge`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from clinical_ner.documents import Document, Span
from clinical_ner.labels import split_words
from clinical_ner.windows import make_windows, special_affixes, tokenize_documents, tokenize_texts

WINDOW_MERGES = ("central", "longest")


def fill_untokenized(tags: list[str], has_token: Sequence[bool]) -> int:
    """Give words that produced no sub-token (e.g. a lone control character) a tag: ``I-X``
    when both neighbours are inside the same entity X, else ``O``. Returns how many were filled.
    """
    n = 0
    for i, ok in enumerate(has_token):
        if ok:
            continue
        n += 1
        prev = tags[i - 1] if i > 0 else "O"
        nxt = next((tags[j] for j in range(i + 1, len(tags)) if has_token[j]), "O")
        if prev != "O" and nxt.startswith("I-") and nxt[2:] == prev[2:]:
            tags[i] = "I-" + prev[2:]
        else:
            tags[i] = "O"
    return n


def merge_window_predictions(n_words: int, window_preds: Sequence[tuple[Sequence[int],
                             Sequence[int], np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-window predictions into one class id per word.

    ``window_preds`` holds, per window, ``(word_index, centrality, class_ids)`` aligned by
    position (word_index -1 = no word starts there). For each word the prediction from the
    window where it is most central wins (ties: the earlier window). Returns ``(class_ids,
    has_prediction)``, arrays of length ``n_words``; words never seen get class 0.
    """
    best = np.full(n_words, -2, dtype=np.int64)
    out = np.zeros(n_words, dtype=np.int64)
    for word_index, centrality, classes in window_preds:
        for w, c, k in zip(word_index, centrality, classes):
            if w >= 0 and c > best[w]:
                best[w], out[w] = c, k
    return out, best > -2


def pipeline_merge(pipe, text: str, windows: Sequence[dict], logits: Sequence[torch.Tensor],
                   span_label_of=lambda ent: ent) -> list[Span]:
    """Spans of one note by the token classification pipeline's rule (``window_merge="longest"``).

    ``pipe``: a ``TokenClassificationPipeline`` (its tokenizer and ``config.id2label`` are used,
    the model is not called); ``windows``: the note's windows from
    :func:`~clinical_ner.windows.make_windows` (with ``offsets``), in note order; ``logits``:
    per window a float tensor ``(len(input_ids), num_labels)``. Runs the pipeline's own
    ``postprocess`` with ``aggregation_strategy="first"`` (transformers
    ``pipelines/token_classification.py``: per window, the first sub-token's arg-max labels each
    tokenizer word, B/I tags are grouped into entities, and overlapping entities of different
    windows keep the longest, ties the higher score). Returns spans sorted by offset.

    The pipeline can return a zero-width entity (with byte-level BPE tokenizers a lone
    whitespace token has offsets ``(k, k)``); a span cannot be empty, so such entities are left
    out and counted in ``pipe.zero_width_dropped`` (created here when missing).
    """
    from transformers.pipelines.token_classification import AggregationStrategy

    outputs = []
    for w, lg in zip(windows, logits, strict=True):
        special = [int(c < 0) for c in w["centrality"]]  # -1 marks special tokens
        outputs.append({"logits": lg.float().unsqueeze(0),
                        "input_ids": torch.tensor([w["input_ids"]]),
                        "offset_mapping": torch.tensor([w["offsets"]]),
                        "special_tokens_mask": torch.tensor([special]),
                        "sentence": text, "word_ids": None, "word_to_chars_map": None})
    if not outputs:
        return []
    ents = pipe.postprocess(outputs, aggregation_strategy=AggregationStrategy.FIRST)
    kept = [e for e in ents if int(e["end"]) > int(e["start"])]
    pipe.zero_width_dropped = getattr(pipe, "zero_width_dropped", 0) + len(ents) - len(kept)
    return sorted(Span(int(e["start"]), int(e["end"]), span_label_of(e["entity_group"]))
                  for e in kept)


@torch.inference_mode()
def predict_documents(model, tokenizer, texts: Sequence[str], id2label: dict[int, str], *,
                      max_seq_length: int = 256, doc_stride: int = 64, batch_size: int = 32,
                      span_label_of=lambda ent: ent, device=None,
                      window_merge: str = "central") -> list[list[Span]]:
    """Predict spans for whole notes.

    ``texts``: the notes; ``id2label``: class id -> IOB2 tag (``config.id2label``);
    ``span_label_of``: entity type -> span label (e.g. ``"DOCTOR"`` -> ``"NAME/DOCTOR"``);
    ``window_merge``: ``"central"`` or ``"longest"`` (module docstring; ``"longest"`` uses the
    model's ``config.id2label``). Returns, per note, spans with character offsets into that
    note. No note is truncated. Raises ValueError for an unknown ``window_merge``.
    """
    from clinical_ner.labels import bio_to_spans

    if window_merge not in WINDOW_MERGES:
        raise ValueError(f"window_merge must be one of {WINDOW_MERGES}, not {window_merge!r}")
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    if window_merge == "longest":
        words = []
        toks = tokenize_texts(tokenizer, texts)
    else:
        words = [split_words(t) for t in texts]
        toks = tokenize_documents(tokenizer, texts, words)
    affixes = special_affixes(tokenizer)
    windows = [w for i, td in enumerate(toks)
               for w in make_windows(tokenizer, td, max_seq_length, doc_stride, doc_index=i,
                                     affixes=affixes)]
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]["input_ids"]))
    per_doc: list[list] = [[] for _ in texts]
    pad = tokenizer.pad_token_id or 0
    for b in range(0, len(order), batch_size):
        batch = [windows[i] for i in order[b : b + batch_size]]
        width = max(len(w["input_ids"]) for w in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, w in enumerate(batch):
            ids[r, : len(w["input_ids"])] = torch.tensor(w["input_ids"])
            mask[r, : len(w["input_ids"])] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        if window_merge == "longest":
            cpu_logits = logits.float().cpu()
            for r, w in enumerate(batch):
                per_doc[w["doc_index"]].append((w, cpu_logits[r, : len(w["input_ids"])]))
            continue
        classes = logits.argmax(-1).cpu().numpy()
        for r, w in enumerate(batch):
            n = len(w["input_ids"])
            per_doc[w["doc_index"]].append((w["word_index"], w["centrality"], classes[r, :n]))
    if was_training:
        model.train()
    if window_merge == "longest":
        from transformers.pipelines.token_classification import TokenClassificationPipeline
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity(hf_logging.CRITICAL)  # ONNX backend: no registered model class
        try:
            pipe = TokenClassificationPipeline(model=model, tokenizer=tokenizer, device=device)
        finally:
            hf_logging.set_verbosity(verbosity)
        out = []
        for i, text in enumerate(texts):
            ws = sorted(per_doc[i], key=lambda x: x[0]["window_index"])
            out.append(pipeline_merge(pipe, text, [w for w, _ in ws], [lg for _, lg in ws],
                                      span_label_of))
        if getattr(pipe, "zero_width_dropped", 0):
            import warnings

            warnings.warn(f"window_merge='longest': {pipe.zero_width_dropped} zero-width "
                          "entities of the pipeline's rule left out (whitespace tokens of a "
                          "byte-level BPE tokenizer)", stacklevel=2)
        return out
    results = []
    for i in range(len(texts)):
        cls, seen = merge_window_predictions(len(words[i]), per_doc[i])
        tags = [id2label[int(k)] for k in cls]
        fill_untokenized(tags, seen)
        results.append(bio_to_spans(words[i], tags, span_label_of))
    return results


def predict_corpus(model, tokenizer, docs: Sequence[Document], task, **kwargs) -> list[Document]:
    """Predict every document with :func:`predict_documents`; returns documents with the same
    id and text and the predicted spans (task span labels)."""
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    spans = predict_documents(model, tokenizer, [d.text for d in docs], id2label,
                              span_label_of=task.scheme.span_label_of, **kwargs)
    return [Document(d.id, d.text, tuple(s), dict(d.meta)) for d, s in zip(docs, spans)]


def shard_indices(n_items: int, num_processes: int, process_index: int) -> list[int]:
    """The item indices process ``process_index`` of ``num_processes`` predicts: ``i`` with
    ``i % num_processes == process_index``. Every index is in exactly one shard (no padding, so
    an uneven last shard repeats nothing); a shard may be empty."""
    return list(range(process_index, n_items, num_processes))


def predict_corpus_sharded(model, tokenizer, docs: Sequence[Document], task,
                           **kwargs) -> list[Document]:
    """:func:`predict_corpus` shared among the processes of an ``accelerate launch`` (or any
    ``torch.distributed`` launch ``accelerate.PartialState`` recognises); with one process it
    is :func:`predict_corpus` itself.

    Each process predicts its shard of the notes (:func:`shard_indices`: note ``i`` on process
    ``i % N``, each note exactly once), the predicted spans are gathered to every process
    (``accelerate.utils.gather_object``; only ids and spans travel, not note text) and put back
    in the order of ``docs``. Every process must call it (it is a collective) and every process
    gets the same list. ``kwargs`` go to :func:`predict_corpus`. Raises RuntimeError when the
    gathered predictions do not cover each note exactly once.
    """
    from accelerate import PartialState

    state = PartialState()
    n = state.num_processes
    if n == 1:
        return predict_corpus(model, tokenizer, docs, task, **kwargs)
    from accelerate.utils import gather_object

    mine = shard_indices(len(docs), n, state.process_index)
    preds = predict_corpus(model, tokenizer, [docs[i] for i in mine], task, **kwargs) if mine \
        else []
    gathered = gather_object([(i, p.id, p.spans) for i, p in zip(mine, preds, strict=True)])
    by_index = {}
    for i, doc_id, spans in gathered:
        if i in by_index or docs[i].id != doc_id:
            raise RuntimeError(f"sharded prediction: note {i} ({doc_id!r}) gathered twice or "
                               "out of place")
        by_index[i] = spans
    if len(by_index) != len(docs):
        raise RuntimeError(f"sharded prediction: {len(by_index)} of {len(docs)} notes gathered")
    return [Document(d.id, d.text, tuple(by_index[i]), dict(d.meta)) for i, d in enumerate(docs)]
