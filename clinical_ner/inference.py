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

With ``"central"``, a decoded span without a letter or digit (a lone ``,`` or ``--`` tagged
``B-X``) is left out and counted (:func:`~clinical_ner.labels.drop_spans_without_alnum`);
``"longest"`` keeps the pipeline's entities as the pipeline returns them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import torch

from clinical_ner.documents import Document, Span
from clinical_ner.labels import split_words
from clinical_ner.windows import make_windows, special_affixes, tokenize_documents, tokenize_texts

WINDOW_MERGES = ("central", "longest")


def class_thresholds(threshold, id2label: dict[int, str]) -> np.ndarray | None:
    """Per class id, the probability of ``O`` at or above which a token is ``O`` (NaN: plain
    arg-max for that class's entity type); None when ``threshold`` is None (plain arg-max).

    ``threshold``: None, a float in (0, 1], or a mapping of entity type (``"PATIENT"``, as in
    ``id2label`` without ``B-``/``I-``) to such a float, with an optional ``"default"`` key for
    the other types (else they keep the arg-max). Raises ValueError for a value outside (0, 1]
    or an entity type the model does not predict.
    """
    if threshold is None:
        return None
    types = {lab[2:] for lab in id2label.values() if lab != "O"}
    if isinstance(threshold, (int, float)):
        mapping, default = {}, float(threshold)
    else:
        mapping = {str(k): v for k, v in dict(threshold).items() if k != "default"}
        default = dict(threshold).get("default")
        unknown = sorted(set(mapping) - types)
        if unknown:
            raise ValueError(f"thresholds for {unknown}: the model predicts no such entity type "
                             f"(it has {', '.join(sorted(types))})")
    out = np.full(len(id2label), np.nan)
    for k, lab in id2label.items():
        if lab == "O":
            continue
        value = mapping.get(lab[2:], default)
        if value is None:
            continue
        if not 0 < float(value) <= 1:
            raise ValueError(f"threshold {value!r} for {lab[2:]} is not in (0, 1]")
        out[int(k)] = float(value)
    return out


def decide_classes(probs: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
    """Class ids from probabilities ``probs`` (``(..., num_labels)``, class 0 = ``O``).

    ``thresholds`` None: arg-max. Else recall first: a token is the arg-max among the non-``O``
    classes unless ``P(O)`` is at least that class's threshold (:func:`class_thresholds`; NaN
    keeps the plain arg-max for that class)."""
    best = probs.argmax(-1)
    if thresholds is None:
        return best
    cand = probs[..., 1:].argmax(-1) + 1
    thr = thresholds[cand]
    p_o = probs[..., 0]
    by_threshold = np.where(p_o >= thr, 0, cand)
    return np.where(np.isnan(thr), best, by_threshold)


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
                             Sequence[int], np.ndarray]], *, with_probs: bool = False):
    """Merge per-window predictions into one class id per word.

    ``window_preds`` holds, per window, ``(word_index, centrality, class_ids)`` aligned by
    position (word_index -1 = no word starts there); with ``with_probs`` a fourth item, the
    class probabilities ``(positions, num_labels)``. For each word the prediction from the
    window where it is most central wins (ties: the earlier window). Returns ``(class_ids,
    has_prediction)``, arrays of length ``n_words``; words never seen get class 0; with
    ``with_probs`` also the winning window's probabilities per word ``(n_words, num_labels)``
    (zeros for words never seen).
    """
    best = np.full(n_words, -2, dtype=np.int64)
    out = np.zeros(n_words, dtype=np.int64)
    probs = None
    for item in window_preds:
        word_index, centrality, classes = item[:3]
        if with_probs and probs is None:
            probs = np.zeros((n_words, item[3].shape[-1]), dtype=np.float32)
        for pos, (w, c, k) in enumerate(zip(word_index, centrality, classes)):
            if w >= 0 and c > best[w]:
                best[w], out[w] = c, k
                if with_probs:
                    probs[w] = item[3][pos]
    if with_probs:
        return out, best > -2, probs if probs is not None else np.zeros((n_words, 1))
    return out, best > -2


def span_scores(words: Sequence[tuple[int, int]], spans: Sequence[Span],
                word_probs: np.ndarray, id2label: dict[int, str], entity_of) -> list[float]:
    """Per span, the mean over its words of the probability of its entity type (``P(B-X) +
    P(I-X)`` of the word's merged window, :func:`merge_window_predictions`). ``words``:
    ``(start, end)`` character offsets; ``entity_of``: span label -> entity type."""
    import bisect

    label2id = {v: int(k) for k, v in id2label.items()}
    starts = [w[0] for w in words]
    out = []
    for s in spans:
        ent = entity_of(s.label)
        cols = [label2id[f"B-{ent}"], label2id[f"I-{ent}"]]
        lo = bisect.bisect_left(starts, s.start)
        idx = [i for i in range(lo, len(words)) if words[i][1] <= s.end]
        idx = [i for i in idx if words[i][0] < s.end]
        vals = word_probs[idx][:, cols].sum(-1) if idx else np.zeros(1)
        out.append(round(float(vals.mean()), 6))
    return out


def pipeline_merge(pipe, text: str, windows: Sequence[dict], logits: Sequence[torch.Tensor],
                   span_label_of=lambda ent: ent, scores: list | None = None) -> list[Span]:
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
    out and counted in ``pipe.zero_width_dropped`` (created here when missing). ``scores``, when
    given, receives each returned span's pipeline ``score`` (in the order of the spans).
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
    pairs = sorted((Span(int(e["start"]), int(e["end"]), span_label_of(e["entity_group"])),
                    round(float(e["score"]), 6)) for e in kept)
    if scores is not None:
        scores.extend(sc for _, sc in pairs)
    return [sp for sp, _ in pairs]


@torch.inference_mode()
def predict_documents(model, tokenizer, texts: Sequence[str], id2label: dict[int, str], *,
                      max_seq_length: int = 256, doc_stride: int = 64, batch_size: int = 32,
                      span_label_of=lambda ent: ent, device=None,
                      window_merge: str = "central", threshold=None,
                      return_scores: bool = False, stats: dict | None = None):
    """Predict spans for whole notes.

    ``texts``: the notes; ``id2label``: class id -> IOB2 tag (``config.id2label``);
    ``span_label_of``: entity type -> span label (e.g. ``"DOCTOR"`` -> ``"NAME/DOCTOR"``);
    ``window_merge``: ``"central"`` or ``"longest"`` (module docstring; ``"longest"`` uses the
    model's ``config.id2label``); ``threshold``: None (arg-max), a float or a per-type mapping
    (:func:`class_thresholds`: a token is PHI unless ``P(O)`` reaches the threshold; central
    merge only). Returns, per note, spans with character offsets into that note; with
    ``return_scores`` a pair ``(spans, scores)``, ``scores[i][j]`` the score of span j of note i
    (central: :func:`span_scores`; longest: the pipeline's entity score). No note is truncated.
    ``stats`` (a ``collections.Counter`` or dict of ints), when given, gets
    ``pred_spans_without_alnum_dropped`` added: the central decode's spans of symbols only, left
    out (module docstring); no note text.
    Raises ValueError for an unknown ``window_merge``, a bad threshold, or a threshold with
    ``window_merge="longest"`` (the pipeline's rule decides by arg-max).
    """
    from clinical_ner.labels import bio_to_spans, drop_spans_without_alnum

    if window_merge not in WINDOW_MERGES:
        raise ValueError(f"window_merge must be one of {WINDOW_MERGES}, not {window_merge!r}")
    if threshold is not None and window_merge == "longest":
        raise ValueError("a threshold needs window_merge='central' (the pipeline's rule of "
                         "'longest' decides by arg-max)")
    thresholds = class_thresholds(threshold, id2label)
    want_probs = return_scores or thresholds is not None
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
        if want_probs:
            probs = logits.float().softmax(-1).cpu().numpy()
            classes = decide_classes(probs, thresholds) if thresholds is not None else \
                logits.argmax(-1).cpu().numpy()
        else:
            classes = logits.argmax(-1).cpu().numpy()
        for r, w in enumerate(batch):
            n = len(w["input_ids"])
            item = (w["word_index"], w["centrality"], classes[r, :n])
            per_doc[w["doc_index"]].append(item + (probs[r, :n],) if return_scores else item)
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
        out, out_scores = [], []
        for i, text in enumerate(texts):
            ws = sorted(per_doc[i], key=lambda x: x[0]["window_index"])
            note_scores: list[float] = []
            out.append(pipeline_merge(pipe, text, [w for w, _ in ws], [lg for _, lg in ws],
                                      span_label_of, scores=note_scores))
            out_scores.append(note_scores)
        if getattr(pipe, "zero_width_dropped", 0):
            import warnings

            warnings.warn(f"window_merge='longest': {pipe.zero_width_dropped} zero-width "
                          "entities of the pipeline's rule left out (whitespace tokens of a "
                          "byte-level BPE tokenizer)", stacklevel=2)
        return (out, out_scores) if return_scores else out
    results, scores = [], []
    dropped = 0
    entity_of_label = {span_label_of(lab[2:]): lab[2:] for lab in id2label.values()
                       if lab != "O"}
    for i in range(len(texts)):
        merged = merge_window_predictions(len(words[i]), per_doc[i], with_probs=return_scores)
        cls, seen = merged[0], merged[1]
        tags = [id2label[int(k)] for k in cls]
        fill_untokenized(tags, seen)
        spans, n_dropped = drop_spans_without_alnum(texts[i],
                                                    bio_to_spans(words[i], tags, span_label_of))
        dropped += n_dropped
        results.append(spans)
        if return_scores:
            scores.append(span_scores(words[i], spans, merged[2], id2label,
                                      entity_of_label.__getitem__))
    if stats is not None:
        stats["pred_spans_without_alnum_dropped"] = \
            stats.get("pred_spans_without_alnum_dropped", 0) + dropped
    return (results, scores) if return_scores else results


def predict_corpus(model, tokenizer, docs: Sequence[Document], task, **kwargs) -> list[Document]:
    """Predict every document with :func:`predict_documents` (``kwargs``: its window, batch,
    merge and ``threshold`` options; not ``return_scores``); returns documents with the same
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


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process so far, MB (10**6 bytes): ``ru_maxrss``, which
    Linux gives in KiB and macOS in bytes. None where ``resource`` is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak if sys.platform == "darwin" else peak * 1024) / 1e6


def process_state():
    """This process's ``accelerate.PartialState`` (rank, number of processes, device). On CPU
    it honours ``ACCELERATE_USE_CPU`` (set by ``accelerate launch --cpu`` and in the tests'
    ``ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2``), so processes
    started without a GPU join one gloo group; without a launcher: one process."""
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    return PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))


def predict_corpus_sharded(model, tokenizer, docs: Sequence[Document], task,
                           **kwargs) -> list[Document]:
    """:func:`predict_corpus` shared among the processes of an ``accelerate launch`` (or any
    ``torch.distributed`` launch ``accelerate.PartialState`` recognises); with one process it
    is :func:`predict_corpus` itself.

    Each process predicts its shard of the notes (:func:`shard_indices`: note ``i`` on process
    ``i % N``, each note exactly once), the predicted spans are gathered to every process
    (``accelerate.utils.gather_object``; only ids and spans travel, not note text) and put back
    in the order of ``docs``. Every process must call it (it is a collective) and every process
    gets the same list. ``kwargs`` go to :func:`predict_corpus`; a ``stats`` counter among them
    gets the counts of all processes (gathered too). Raises RuntimeError when the gathered
    predictions do not cover each note exactly once.
    """
    state = process_state()
    n = state.num_processes
    if n == 1:
        return predict_corpus(model, tokenizer, docs, task, **kwargs)
    import logging

    from accelerate.utils import gather_object

    stats = kwargs.pop("stats", None)
    local: dict = {}
    mine = shard_indices(len(docs), n, state.process_index)
    logging.getLogger("clinical_ner").info("sharded prediction: %d of %d notes on process %d of "
                                           "%d", len(mine), len(docs), state.process_index, n)
    preds = predict_corpus(model, tokenizer, [docs[i] for i in mine], task, stats=local,
                           **kwargs) if mine else []
    if stats is not None:
        for counts in gather_object([local]):
            for k, v in counts.items():
                stats[k] = stats.get(k, 0) + v
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
