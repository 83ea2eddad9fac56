"""Token windows: words -> fast-tokenizer sub-tokens -> overlapping windows, never truncated.

The first sub-token of a word carries the word's label; the other sub-tokens and the special
tokens carry -100 (ignored by the loss). A note longer than ``max_seq_length`` is cut into windows
of at most ``max_seq_length`` tokens (special tokens included) that overlap by ``doc_stride``
sub-tokens, so every sub-token is in at least one window (the meaning of ``stride`` in Hugging Face
tokenizers).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from clinical_ner.labels import split_words

IGNORE = -100


@dataclass
class TokenizedDoc:
    """One note's sub-tokens: ``ids[i]`` belongs to word ``word_of[i]``; ``first[i]`` is True on a
    word's first sub-token; ``offsets[i]`` is its ``(start, end)`` character range in the note.
    ``n_words`` counts all words, also those with no sub-token."""

    ids: list[int]
    word_of: list[int]
    first: list[bool]
    n_words: int
    offsets: list[tuple[int, int]] | None = None


def tokenize_documents(tokenizer, texts: Sequence[str], words: Sequence[Sequence[tuple[int, int]]],
                       with_offsets: bool = False) -> list[TokenizedDoc]:
    """Tokenize each document's words (``(start, end)`` character offsets into its text) with a
    fast tokenizer, in one batched call, without special tokens and without truncation.
    ``with_offsets``: also fill ``offsets`` (character ranges in the note); training and the
    per-word merge do not need them.

    Raises ValueError when the tokenizer is not a fast one (word ids are needed).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("a fast (Rust) tokenizer is needed for word alignment")
    word_strs = [[t[s:e] for s, e in ws] for t, ws in zip(texts, words)]
    nonempty = [i for i, w in enumerate(word_strs) if w]
    out = [TokenizedDoc([], [], [], 0, [] if with_offsets else None) for _ in texts]
    if not nonempty:
        return out
    enc = tokenizer([word_strs[i] for i in nonempty], is_split_into_words=True,
                    add_special_tokens=False, truncation=False,
                    return_offsets_mapping=with_offsets, verbose=False)
    for j, i in enumerate(nonempty):
        wid = enc.word_ids(j)
        first = [k == 0 or wid[k] != wid[k - 1] for k in range(len(wid))]
        offsets = None
        if with_offsets:  # offsets of pre-split words are relative to the word: shift them
            offsets = [(words[i][w][0] + a, words[i][w][0] + b)
                       for w, (a, b) in zip(wid, enc["offset_mapping"][j], strict=True)]
        out[i] = TokenizedDoc(list(enc["input_ids"][j]), list(wid), first, len(word_strs[i]),
                              offsets)
    return out


def tokenize_texts(tokenizer, texts: Sequence[str]) -> list[TokenizedDoc]:
    """Tokenize raw notes the way ``transformers.pipeline("token-classification")`` does (the
    tokenizer's own pre-tokenization, no special tokens, no truncation), in one batched call.
    ``word_of`` holds the tokenizer's word ids and ``offsets`` the character ranges.

    Raises ValueError when the tokenizer is not a fast one.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("a fast (Rust) tokenizer is needed for offsets")
    if not texts:
        return []
    enc = tokenizer(list(texts), add_special_tokens=False, truncation=False,
                    return_offsets_mapping=True, verbose=False)
    out = []
    for j in range(len(texts)):
        wid = [w if w is not None else -1 for w in enc.word_ids(j)]
        first = [k == 0 or wid[k] != wid[k - 1] for k in range(len(wid))]
        out.append(TokenizedDoc(list(enc["input_ids"][j]), wid, first, max(wid, default=-1) + 1,
                                [tuple(o) for o in enc["offset_mapping"][j]]))
    return out


def window_starts(n_tokens: int, content_len: int, stride: int) -> list[int]:
    """Start offsets (in sub-tokens) of windows of ``content_len`` sub-tokens overlapping by
    ``stride``, covering ``n_tokens``. Raises ValueError unless ``0 <= stride < content_len``."""
    if not 0 <= stride < content_len:
        raise ValueError(f"doc_stride ({stride}) must be >= 0 and < the window content "
                         f"length ({content_len})")
    starts = [0]
    while starts[-1] + content_len < n_tokens:
        starts.append(starts[-1] + content_len - stride)
    return starts


def special_affixes(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids a tokenizer puts before and after one sequence (e.g. ``[CLS]`` and
    ``[SEP]`` for BERT), found by encoding a probe word with and without special tokens."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for i in range(len(full) - len(plain) + 1):
        if full[i : i + len(plain)] == plain:
            return list(full[:i]), list(full[i + len(plain) :])
    raise ValueError("cannot locate the special tokens this tokenizer adds")


def content_length(max_seq_length: int, affixes: tuple[list[int], list[int]]) -> int:
    """Sub-tokens of a note one window of ``max_seq_length`` positions holds: the length less the
    special tokens ``affixes`` (:func:`special_affixes`) put around it."""
    prefix, suffix = affixes
    return max_seq_length - len(prefix) - len(suffix)


def window_bounds(n_tokens: int, max_seq_length: int, doc_stride: int,
                  affixes: tuple[list[int], list[int]]) -> list[tuple[int, int]]:
    """``(start, end)`` sub-token ranges (end exclusive, special tokens not counted) of the
    windows :func:`make_windows` cuts from a note of ``n_tokens`` sub-tokens; one window (0, 0)
    for an empty note. Raises ValueError as :func:`window_starts`."""
    content = content_length(max_seq_length, affixes)
    return [(s, min(s + content, n_tokens)) for s in window_starts(n_tokens, content, doc_stride)]


def make_windows(tokenizer, doc: TokenizedDoc, max_seq_length: int, doc_stride: int,
                 word_labels: Sequence[int] | None = None, doc_index: int = 0,
                 affixes: tuple[list[int], list[int]] | None = None) -> list[dict]:
    """Cut one tokenized note into model inputs.

    Returns a list of dicts with ``input_ids`` and ``attention_mask`` (lists of ints, length at
    most ``max_seq_length``), ``labels`` (class id on first sub-tokens when ``word_labels`` is
    given, else omitted; -100 elsewhere), and for inference ``word_index`` (the word a first
    sub-token starts, -1 elsewhere), ``centrality`` (distance to the nearer window edge, in
    sub-tokens), ``offsets`` (character range of each position in the note, ``(0, 0)`` on
    special tokens; only when ``doc.offsets`` is known), ``doc_index`` and ``window_index``
    (0, 1, ... in note order). ``affixes`` caches :func:`special_affixes`.
    """
    prefix, suffix = affixes or special_affixes(tokenizer)
    content_len = content_length(max_seq_length, (prefix, suffix))
    windows = []
    for wi, s in enumerate(window_starts(len(doc.ids), content_len, doc_stride)):
        chunk = doc.ids[s : s + content_len]
        ids = prefix + chunk + suffix
        special = [1] * len(prefix) + [0] * len(chunk) + [1] * len(suffix)
        word_index, labels, centrality = [], [], []
        k = s
        n = len(chunk)
        for m in special:
            if m:
                word_index.append(-1)
                labels.append(IGNORE)
                centrality.append(-1)
                continue
            pos = k - s
            if doc.first[k]:
                w = doc.word_of[k]
                word_index.append(w)
                labels.append(word_labels[w] if word_labels is not None else IGNORE)
            else:
                word_index.append(-1)
                labels.append(IGNORE)
            centrality.append(min(pos, n - 1 - pos))
            k += 1
        win = {"input_ids": ids, "attention_mask": [1] * len(ids), "word_index": word_index,
               "centrality": centrality, "doc_index": doc_index, "window_index": wi}
        if doc.offsets is not None:  # [] for a note without sub-tokens: the window is specials
            win["offsets"] = ([(0, 0)] * len(prefix) + list(doc.offsets[s : s + content_len])
                              + [(0, 0)] * len(suffix))
        if word_labels is not None:
            win["labels"] = labels
        windows.append(win)
    return windows


def build_windows(tokenizer, docs, task, max_seq_length, doc_stride, with_labels=True):
    """Documents -> training windows (dicts with input_ids, attention_mask, labels, length).

    Words are split at the gold span boundaries; the first sub-token of each word carries its
    IOB2 class id (index in ``task.scheme.bio_labels``), or -100 (left out of the loss) for a
    word under a gold tag the loader rejected (``doc.meta["ignore_words"]`` from
    :func:`data_scripts.to_dataset_dict`). ``with_labels=False`` leaves ``labels`` out.
    """
    label_id = {lab: i for i, lab in enumerate(task.scheme.bio_labels)}
    # without labels no tags are needed (a span label outside the task is no error then)
    words_tags = [task.words_and_tags(d) if with_labels else (split_words(d.text, d.spans), None)
                  for d in docs]
    toks = tokenize_documents(tokenizer, [d.text for d in docs], [w for w, _ in words_tags])
    affixes = special_affixes(tokenizer)
    out = []
    for i, (td, (_, tags)) in enumerate(zip(toks, words_tags)):
        labels = None
        if with_labels:
            ignore = docs[i].meta.get("ignore_words") or [False] * len(tags)
            labels = [IGNORE if skip else label_id[t] for t, skip in zip(tags, ignore,
                                                                         strict=True)]
        for w in make_windows(tokenizer, td, max_seq_length, doc_stride, labels, i, affixes):
            row = {"input_ids": w["input_ids"], "attention_mask": w["attention_mask"],
                   "length": len(w["input_ids"])}
            if with_labels:
                row["labels"] = w["labels"]
            out.append(row)
    return out


def windows_with_entity(windows: list[dict]) -> list[bool]:
    """Per training window (from :func:`build_windows`), whether a labelled word in it is part of
    an entity (class id > 0; id 0 is ``O`` in every label scheme)."""
    return [any(lab > 0 for lab in w["labels"]) for w in windows]


class NegativeSubsampler:
    """A training sampler: every window with an entity, plus a fresh seeded fraction ``keep`` of
    the windows without one, each epoch (epoch k draws with seed ``seed + k``).

    ``has_entity[i]`` says whether window i holds a labelled entity. With ``lengths`` (window
    lengths in sub-tokens) and ``batch_size``, the epoch's windows are put in the Trainer's
    ``group_by_length`` order (:func:`transformers.trainer_pt_utils.get_length_grouped_indices`:
    random mega-batches, each sorted by length, so a batch pads little); without them they are
    shuffled. Its length is constant, as the Trainer needs; under ``accelerate`` every process
    draws the same indices and takes its shard of them.
    """

    def __init__(self, has_entity: list[bool], keep: float, seed: int,
                 lengths: list[int] | None = None, batch_size: int | None = None):
        self.pos = [i for i, h in enumerate(has_entity) if h]
        self.neg = [i for i, h in enumerate(has_entity) if not h]
        self.n_neg = min(len(self.neg), round(keep * len(self.neg)))
        self.seed, self.epoch = seed, 0
        self.lengths, self.batch_size = lengths, batch_size

    def __len__(self) -> int:
        return len(self.pos) + self.n_neg

    def epoch_indices(self, epoch: int) -> list[int]:
        """The window indices of epoch ``epoch`` in batch order (see the class docstring)."""
        rng = random.Random(self.seed + epoch)
        idx = self.pos + rng.sample(self.neg, self.n_neg)
        if self.lengths is None or not self.batch_size:
            rng.shuffle(idx)
            return idx
        # transformers' trainer utilities load the Trainer stack (seconds): only when sampling
        from transformers.trainer_pt_utils import get_length_grouped_indices

        gen = torch.Generator().manual_seed(self.seed + epoch)
        order = get_length_grouped_indices([self.lengths[i] for i in idx], self.batch_size,
                                           generator=gen)
        return [idx[j] for j in order]

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch ``epoch`` at the next iteration. The Trainer calls it (through
        accelerate's ``DataLoaderShard.set_epoch``) before each epoch, also when it resumes from
        a checkpoint, so a resumed run draws what the uninterrupted run draws; without it the
        epochs count up from 0 one iteration at a time."""
        self.epoch = epoch

    def __iter__(self):
        idx = self.epoch_indices(self.epoch)
        self.epoch += 1
        return iter(idx)
