"""i2b2/VA 2010 concepts: ``txt/NAME.txt`` + ``concept/NAME.con`` (docs/formats.md §1.3).

* Text: the ``.txt`` split on ``"\\n"`` (a trailing ``\\r`` on a line is removed and counted in
  ``counts["i2b2_2010:crlf_lines"]``), lines joined by ``"\\n"`` without the final newline. Only
  ``"\\n"`` ends a line (``str.splitlines`` would also break on form feeds etc. and shift the
  line numbers).
* ``.con`` lines ``c="<text>" L:T L:T||t="<type>"``: L is the 1-based line, T the 0-based index of
  a whitespace-separated token of that line, the end token inclusive. They become character spans
  ``[start of token (L1, T1), end of token (L2, T2))`` of the text; a concept may cross lines.
  Blank lines count in L.
* Checks (each a problem with the offsets, the concept left out, never guessed at): a line or
  token number outside the text (``token_out_of_range``), an end before the start
  (``reversed``), and ``c=`` differing from the covered text compared lowercased with whitespace
  runs as one space (``text_mismatch``; bigbio drops these silently).
* Exact duplicates collapse and overlaps are resolved by
  :func:`clinical_ner.documents.resolve_spans`, all counted. Labels are the ``t=`` types
  (``problem``/``test``/``treatment``); any other type is kept and reported
  (``unknown_label``).

A folder may hold ``txt/`` and ``concept/`` (or ``concepts/``) itself or in sub-folders at any
depth (``beth/``, ``partners/``); ids are the file stems and must be unique.
"""

from __future__ import annotations

import re
from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport, Span, resolve_spans
from data_scripts.loader_common import check_label, decode_utf8, select_labels

CON_RE = re.compile(r'^c="(.*)" (\d+):(\d+) (\d+):(\d+)\|\|t="([^"]*)"(\|\|.*)?$')
TYPES = ("problem", "test", "treatment")


def parse_con_line(line: str, file: str = "<con>", lineno: int = 0
                   ) -> tuple[str, int, int, int, int, str]:
    """``c="chest pain" 1:3 1:4||t="problem"`` -> ``("chest pain", 1, 3, 1, 4, "problem")``
    (lines 1-based, tokens 0-based, end inclusive, as written).

    Raises :class:`FormatError` naming ``file`` and ``lineno`` when the line does not match.
    """
    m = CON_RE.match(line)
    if not m:
        raise FormatError(f"{file}:{lineno}: not a concept line "
                          '(expected c="..." L:T L:T||t="...")')
    c, l1, t1, l2, t2, typ, _ = m.groups()
    return c, int(l1), int(t1), int(l2), int(t2), typ


def read_text(path: Path, report: LoadReport) -> tuple[str, list[int], list[list[tuple[int, int]]]]:
    """The text of a ``.txt``, the offset of each line and each line's token offsets
    ``(start, end)`` in the text. Raises :class:`FormatError` on bad UTF-8 (byte offset)."""
    raw = decode_utf8(path.read_bytes(), path)
    lines = raw.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            lines[i] = line[:-1]
            report.counts["i2b2_2010:crlf_lines"] += 1
    starts, tokens, pos = [], [], 0
    for line in lines:
        starts.append(pos)
        tokens.append([(pos + m.start(), pos + m.end()) for m in re.finditer(r"\S+", line)])
        if "  " in line or line != line.strip():
            report.counts["i2b2_2010:lines_with_irregular_spacing"] += 1
        pos += len(line) + 1
    return "\n".join(lines), starts, tokens


def _norm(s: str) -> str:
    return " ".join(s.split()).lower()


def read_document(txt_path: str | Path, con_path: str | Path | None, report: LoadReport, *,
                  labels=None, as_written: bool = False) -> Document:
    """Read one ``.txt`` and its ``.con`` (None: no concepts) into a :class:`Document` (id =
    stem; not added to ``report``).

    Training reading: a concept whose tokens are out of range or reversed, or whose ``c=`` text
    differs from the covered tokens, is reported and left out (a mismatching one's range goes to
    ``doc.meta["rejected"]``, kept out of the loss). Scoring reading (``as_written``): a
    ``c=`` mismatch is a counted warning and the concept is scored by its token offsets as
    written; tokens that cannot be placed raise :class:`FormatError`. Every concept line counts
    in ``report.tags_read``. Raises :class:`FormatError` for a malformed ``.con`` line (file
    and line) or bad UTF-8 (encoding)."""
    txt_path = Path(txt_path)
    doc_id = txt_path.stem
    text, _, tokens = read_text(txt_path, report)
    spans: list[Span] = []
    rejected: list[tuple[int, int]] = []
    if con_path is not None:
        con_path = Path(con_path)
        file = str(con_path)
        content = decode_utf8(con_path.read_bytes(), con_path)
        for lineno, raw in enumerate(content.split("\n"), 1):
            line = raw.rstrip("\r")
            if not line.strip():
                continue
            c, l1, t1, l2, t2, typ = parse_con_line(line, file, lineno)
            typ = check_label(typ, file=file, record=doc_id, where=f"line {lineno}")
            report.counts["i2b2_2010:concept_lines"] += 1
            report.tags_read += 1

            def bad(what: str, start=None, end=None, action="dropped") -> None:
                if as_written and action == "dropped":
                    raise FormatError(f"{file}: record {doc_id!r}: {what}: it cannot be scored")
                report.problem(file=file, record=doc_id, start=start, end=end,
                               action=action, problem=what)
                if action == "dropped" and start is not None:
                    rejected.append((start, end))

            where = f"line {lineno} ({l1}:{t1} {l2}:{t2} {typ})"
            if not (1 <= l1 <= len(tokens) and 1 <= l2 <= len(tokens)
                    and 0 <= t1 < len(tokens[l1 - 1]) and 0 <= t2 < len(tokens[l2 - 1])):
                n1 = len(tokens[l1 - 1]) if 1 <= l1 <= len(tokens) else 0
                n2 = len(tokens[l2 - 1]) if 1 <= l2 <= len(tokens) else 0
                bad(f"token_out_of_range: {where}: the text has {len(tokens)} lines; line {l1} "
                    f"has {n1} tokens, line {l2} has {n2}")
                continue
            start, end = tokens[l1 - 1][t1][0], tokens[l2 - 1][t2][1]
            if (l2, t2) < (l1, t1):
                bad(f"reversed: {where}: the end token comes before the start token")
                continue
            if _norm(text[start:end]) != _norm(c):
                bad(f"text_mismatch: {where}: c= text differs from the covered tokens "
                    f"({len(c)} vs {end - start} characters)", start, end,
                    "scored" if as_written else "dropped")
                if not as_written:
                    continue
            if typ not in TYPES:
                report.problem(file=file, record=doc_id, start=start, end=end, action="kept",
                               problem=f"unknown_label: line {lineno}: {typ} is not an i2b2 2010 "
                                       f"type ({'/'.join(TYPES)})")
            spans.append(Span(start, end, typ))
    spans = select_labels(spans, labels, report)
    kept = resolve_spans(text, spans, report, file=str(con_path or txt_path), record=doc_id,
                         as_written=as_written, rejected=rejected)
    meta = {"file": txt_path.name, "patient": None}
    if rejected:
        meta["rejected"] = rejected
    return Document(doc_id, text, kept, meta=meta)


def _pairs(folder: Path) -> list[tuple[Path, Path | None]]:
    txt_dirs = sorted(d for d in [folder, *folder.rglob("*")] if d.is_dir() and d.name == "txt")
    out = []
    for tdir in txt_dirs:
        cdir = next((tdir.parent / n for n in ("concept", "concepts")
                     if (tdir.parent / n).is_dir()), None)
        if cdir is None:
            continue
        txts = sorted(p for p in tdir.iterdir() if p.is_file() and p.suffix.lower() == ".txt")
        cons = {c.stem: c for c in sorted(cdir.iterdir())
                if c.is_file() and c.suffix.lower() == ".con"}
        for txt in txts:
            out.append((txt, cons.get(txt.stem)))
        stems = {t.stem for t in txts}
        orphans = sorted(c for stem, c in cons.items() if stem not in stems)
        if orphans:
            raise FormatError(f"{orphans[0]}: .con without its .txt in {tdir} "
                              f"({len(orphans)} such files)")
    return out


def read_folder(folder: str | Path, report: LoadReport, *, labels=None,
                as_written: bool = False) -> list[Document]:
    """Read every ``txt/*.txt`` with its ``concept/*.con`` under ``folder`` (see the module
    docstring). A ``.txt`` without ``.con`` has no spans (``counts["txt_without_con"]``).

    Raises :class:`FormatError` when no ``txt/`` with a sibling ``concept/`` exists, a ``.con``
    has no ``.txt``, or two documents share an id.
    """
    folder = Path(folder)
    pairs = _pairs(folder) if folder.is_dir() else []
    if not pairs:
        raise FormatError(f"{folder}: no txt/ folder with a sibling concept/ folder "
                          "(expected i2b2 2010 txt/*.txt + concept/*.con)")
    docs, ids = [], {}
    for txt, con in pairs:
        if txt.stem in ids:
            raise FormatError(f"{txt}: record id {txt.stem!r} also in {ids[txt.stem]}")
        ids[txt.stem] = txt
        if con is None:
            report.counts["txt_without_con"] += 1
        doc = read_document(txt, con, report, labels=labels, as_written=as_written)
        report.add_document(doc)
        docs.append(doc)
    return docs
