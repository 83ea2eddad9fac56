"""Notes as the model sees them (sub-tokens, windows, padded positions) and two systems' spans
compared note by note. Window geometry is :mod:`clinical_ner.windows`'."""

from __future__ import annotations

from collections.abc import Sequence

from clinical_ner.labels import split_words
from clinical_ner.windows import TokenizedDoc, special_affixes, tokenize_documents, window_bounds


def note_token_count(tokenizer, texts: Sequence[str]) -> tuple[int, list[TokenizedDoc]]:
    """``(sub-tokens, tokenized notes)``: the notes' sub-tokens as
    :func:`clinical_ner.inference.predict_documents` cuts them (words of :func:`split_words`,
    no special tokens, each sub-token once) and the :class:`TokenizedDoc` per note."""
    toks = tokenize_documents(tokenizer, texts, [split_words(t) for t in texts])
    return sum(len(t.ids) for t in toks), toks


def note_windows(tokenizer, toks: Sequence[TokenizedDoc], max_seq_length: int,
                 doc_stride: int) -> list[list[tuple[int, int]]]:
    """Per note, the ``(start, end)`` sub-token range of each of its windows
    (:func:`clinical_ner.windows.window_bounds`). Raises ValueError for a stride that does not
    fit the window."""
    affixes = special_affixes(tokenizer)
    return [window_bounds(len(t.ids), max_seq_length, doc_stride, affixes) for t in toks]


def count_windows(tokenizer, toks, max_seq_length: int, doc_stride: int) -> list[int]:
    """Windows per note for tokenized notes."""
    return [len(b) for b in note_windows(tokenizer, toks, max_seq_length, doc_stride)]


def window_lengths(tokenizer, toks, max_seq_length: int, doc_stride: int) -> list[list[int]]:
    """Per note, the length in positions (special tokens included) of each of its windows."""
    pre, suf = special_affixes(tokenizer)
    extra = len(pre) + len(suf)
    return [[e - s + extra for s, e in b]
            for b in note_windows(tokenizer, toks, max_seq_length, doc_stride)]


def padded_positions(lengths: list[list[int]], batch_size: int) -> dict:
    """Token positions (padding included) the model runs over, two ways: ``batched`` = all
    windows of all notes sorted by length, in batches of ``batch_size`` padded to their longest
    (:func:`clinical_ner.inference.predict_documents`); ``per_note`` = every note's windows
    padded to the note's longest window, one window per forward call (what the token
    classification pipeline with ``stride`` does). ``real`` = the windows' own lengths.
    ``lengths``: per note, its window lengths (:func:`window_lengths`)."""
    flat = sorted(n for ls in lengths for n in ls)
    batched = sum(max(flat[i : i + batch_size]) * len(flat[i : i + batch_size])
                  for i in range(0, len(flat), batch_size))
    per_note = sum(max(ls) * len(ls) for ls in lengths if ls)
    return {"real": sum(flat), "batched": batched, "per_note": per_note}


def spans_as_keys(spans) -> set[tuple[int, int, str]]:
    """``{(start, end, label)}`` of Span objects or pipeline entity dicts (``start``, ``end``,
    ``entity_group``)."""
    out = set()
    for s in spans:
        if isinstance(s, dict):
            out.add((int(s["start"]), int(s["end"]), str(s["entity_group"])))
        else:
            out.add((s.start, s.end, s.label))
    return out


def overlap_char_ranges(tokenizer, toks, words, max_seq_length: int, doc_stride: int
                        ) -> list[list[tuple[int, int]]]:
    """Per note, the character ranges ``(start, end)`` covered by two consecutive windows (the
    ``doc_stride`` overlaps of :func:`clinical_ner.windows.make_windows`); empty for one-window
    notes. ``toks``: :class:`TokenizedDoc` per note, ``words``: the notes'
    :func:`split_words` offsets."""
    out = []
    bounds = note_windows(tokenizer, toks, max_seq_length, doc_stride)
    for td, ws, b in zip(toks, words, bounds, strict=True):
        # the next window starts inside this one: shared sub-tokens next_start .. this_end - 1
        out.append([(ws[td.word_of[nxt]][0], ws[td.word_of[end - 1]][1])
                    for (_, end), (nxt, _) in zip(b[:-1], b[1:], strict=True)])
    return out


def _reason(span: tuple[int, int, str], bounds: tuple[set, set], overlaps) -> str:
    s, e, _ = span
    starts, ends = bounds
    if s not in starts or e not in ends:
        return "word_boundary"
    if any(s < hi and lo < e for lo, hi in overlaps):
        return "window_overlap"
    return "other"


def compare_span_sets(ours: list[set], theirs: list[set], *, doc_ids: list[str],
                      overlaps: list[list[tuple[int, int]]],
                      word_bounds: list[tuple[set, set]], max_examples: int = 20) -> dict:
    """Compare two systems' spans note by note (exact ``(start, end, type)`` sets).

    ``overlaps[i]``: character ranges of note i covered by two windows
    (:func:`overlap_char_ranges`); ``word_bounds[i]``: (word starts, word ends) of note i under
    :func:`clinical_ner.labels.split_words`. Each differing span gets a reason, first match
    wins: ``word_boundary`` (it starts or ends inside one of our words: the pipeline's words
    differ), ``window_overlap`` (it touches a region covered by two windows: the pipeline
    predicts each window on its own and keeps the longest of overlapping entities, we keep per
    word the window where it is most central) or ``other``. Returns counts (also
    ``single_window_notes`` and ``single_window_notes_identical``) and up to ``max_examples``
    examples (ids and offsets only, never note text).
    """
    counts = {"ours_only": 0, "pipeline_only": 0}
    notes_diff = single = single_same = 0
    reasons: dict[str, int] = {}
    examples = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if not overlaps[i]:
            single += 1
            single_same += a == b
        if a == b:
            continue
        notes_diff += 1
        for side, diff in (("ours_only", a - b), ("pipeline_only", b - a)):
            for span in sorted(diff):
                reason = _reason(span, word_bounds[i], overlaps[i])
                reasons[reason] = reasons.get(reason, 0) + 1
                counts[side] += 1
                if len(examples) < max_examples:
                    examples.append({"doc_id": doc_ids[i], "start": span[0], "end": span[1],
                                     "type": span[2], "side": side, "reason": reason,
                                     "windows": len(overlaps[i]) + 1})
    return {"notes": len(ours), "notes_differing": notes_diff,
            "spans_ours": sum(len(a) for a in ours), "spans_pipeline": sum(len(b) for b in theirs),
            "spans_in_both": sum(len(a & b) for a, b in zip(ours, theirs, strict=True)),
            "spans_only_ours": counts["ours_only"],
            "spans_only_pipeline": counts["pipeline_only"], "differences_by_reason": reasons,
            "single_window_notes": single, "single_window_notes_identical": single_same,
            "identical": notes_diff == 0, "examples": examples}
