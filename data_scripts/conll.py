"""CoNLL-style token/label columns (NCBI disease ``conll/*.tsv``, CoNLL 2003 and the like).

One token a line, the token in the first column and its IOB2 tag in the last (columns split on
tabs when the line has one, else on whitespace); a blank line ends a sentence; a line whose token
is ``-DOCSTART-`` starts a new document. Follows the layout described in
``../shared/samples/README.md`` (``conll/``) and the NCBI disease README (``standoff2conll``).

* Text: the tokens of a sentence joined by one space, sentences joined by ``"\\n"``; offsets are
  0-based, end-exclusive code points into that text.
* Documents: at each ``-DOCSTART-``. A file without any ``-DOCSTART-`` (NCBI disease) has no
  document boundaries, so each sentence is its own document (counted in
  ``counts["conll:sentence_documents"]``). Ids are ``<file stem>-<k>``, k the 0-based document
  index in the file.
* Tags: ``O``, ``B-<type>`` or ``I-<type>``; the type is everything after the first ``-``, so
  ``B-Multi-tissue_structure`` has type ``Multi-tissue_structure``. Any other tag is a
  :class:`FormatError` naming the file and line. An ``I-X`` that does not continue an ``X``
  entity of the same sentence starts a new span and is reported (``orphan_inside``).
* A UTF-8 BOM at the start of a file is dropped (``counts["conll:bom_stripped"]``; the text is
  rebuilt from the tokens, so no offset moves); a file without token lines is reported
  (``empty_file``).
* Split: a file whose name says ``train``/``dev``/``devel``/``valid``/``test`` gives its documents
  that split (``doc.meta["split"]``).
"""

from __future__ import annotations

from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport, Span, resolve_spans
from data_scripts.loader_common import decode_utf8, files_with_splits, select_labels, split_of_name

SUFFIXES = (".tsv", ".conll", ".iob", ".iob2", ".bio", ".txt")
DOCSTART = "-DOCSTART-"


def parse_tag(tag: str, file: str, lineno: int) -> tuple[str, str | None]:
    """``"O"`` -> ``("O", None)``; ``"B-X"``/``"I-X"`` -> ``("B"|"I", "X")`` with hyphens inside X
    kept. Raises :class:`FormatError` naming ``file`` and ``lineno`` for anything else."""
    if tag == "O":
        return "O", None
    if tag[:2] in ("B-", "I-") and len(tag) > 2 and not any(c.isspace() for c in tag):
        return tag[0], tag[2:]
    raise FormatError(f"{file}:{lineno}: bad tag {tag!r} (expected O, B-<type> or I-<type>)")


def _blocks(content: str, file: str):
    """Yield ("docstart", lineno) or ("sentence", [(token, tag, lineno), ...])."""
    sent: list[tuple[str, str, int]] = []
    for lineno, raw in enumerate(content.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            if sent:
                yield "sentence", sent
                sent = []
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if cols[0] == DOCSTART:
            if sent:
                yield "sentence", sent
                sent = []
            yield "docstart", lineno
            continue
        if len(cols) < 2:
            raise FormatError(f"{file}:{lineno}: expected a token and a label column, got "
                              f"{len(cols)} column(s)")
        if not cols[0].strip():
            raise FormatError(f"{file}:{lineno}: empty or blank token in the first column")
        sent.append((cols[0], cols[-1].strip(), lineno))
    if sent:
        yield "sentence", sent


def read_file(path: str | Path, report: LoadReport, *, labels=None,
              as_written: bool = False) -> list[Document]:
    """Read one CoNLL file into documents (see the module docstring for text, ids and tags).

    Documents are added to ``report``; ``labels`` keeps only those native types before the span
    policy. With ``as_written`` (the scoring reading) the tags are read under strict IOB2, as
    seqeval's ``mode="strict", scheme=IOB2`` reads them (its own ``Entities`` decoder): an ``I-``
    that continues no entity starts none (reported, ``invalid_iob2``), and the raw tags stay in
    ``doc.meta["iob2_sentences"]`` (one list of tags per sentence) for the seqeval score. Every
    entity start (``B-`` or an ``I-`` that does not continue) counts in ``report.tags_read``.
    Raises :class:`FormatError` naming the file and line on a bad row or tag, or bad UTF-8
    (encoding, byte offset).
    """
    path = Path(path)
    content = decode_utf8(path.read_bytes(), path)
    if content.startswith("\ufeff"):  # else it hides a first -DOCSTART- or joins the first token
        content = content[1:]
        report.counts["conll:bom_stripped"] += 1
    blocks = list(_blocks(content, str(path)))
    if not blocks:
        report.problem(file=str(path), record="", start=None, end=None, action="no documents",
                       problem="empty_file: no token lines")
    has_docstart = any(kind == "docstart" for kind, _ in blocks)
    groups: list[list[list]] = []
    if has_docstart:
        current: list[list] | None = None
        for kind, val in blocks:
            if kind == "docstart":
                current = []
                groups.append(current)
            else:
                if current is None:  # sentences before the first -DOCSTART-
                    current = []
                    groups.append(current)
                current.append(val)
        empty = sum(1 for g in groups if not g)
        if empty:
            report.counts["conll:empty_documents_skipped"] += empty
        groups = [g for g in groups if g]
    else:
        groups = [[val] for kind, val in blocks if kind == "sentence"]
        report.counts["conll:sentence_documents"] += len(groups)
        report.counts["conll:files_without_docstart"] += 1
    split = split_of_name(path.name)
    docs = []
    for k, sentences in enumerate(groups):
        doc_id = f"{path.stem}-{k}"
        meta = {"file": path.name, "patient": None, "split": split}
        if as_written:
            text, spans = _strict_document(sentences, str(path), doc_id, report)
            meta["iob2_sentences"] = [[tag for _, tag, _ in sent] for sent in sentences]
        else:
            text, spans = _document(sentences, str(path), doc_id, report)
        spans = select_labels(spans, labels, report)
        kept = resolve_spans(text, spans, report, file=str(path), record=doc_id,
                             as_written=as_written)
        doc = Document(doc_id, text, kept, meta=meta)
        report.add_document(doc)
        docs.append(doc)
    return docs


def _layout(sentences) -> tuple[str, list[list[tuple[int, int]]]]:
    """The text of one document (tokens joined by a space, sentences by a newline) and, per
    sentence, each token's ``(start, end)`` in it."""
    parts: list[str] = []
    offsets: list[list[tuple[int, int]]] = []
    pos = 0
    for si, sent in enumerate(sentences):
        if si:
            parts.append("\n")
            pos += 1
        row = []
        for ti, (token, _, _) in enumerate(sent):
            if ti:
                parts.append(" ")
                pos += 1
            row.append((pos, pos + len(token)))
            parts.append(token)
            pos += len(token)
        offsets.append(row)
    return "".join(parts), offsets


def _strict_document(sentences, file: str, doc_id: str, report: LoadReport
                     ) -> tuple[str, list[Span]]:
    """Text and spans of one document under strict IOB2 (seqeval's ``Entities`` decoder)."""
    from seqeval.scheme import IOB2, Entities

    text, offsets = _layout(sentences)
    spans: list[Span] = []
    for sent, offs in zip(sentences, offsets, strict=True):
        tags = [tag for _, tag, _ in sent]
        for _, tag, lineno in sent:
            parse_tag(tag, file, lineno)
        covered = set()
        for ent in Entities([tags], IOB2).entities[0]:
            spans.append(Span(offs[ent.start][0], offs[ent.end - 1][1], ent.tag))
            covered.update(range(ent.start, ent.end))
        for ti, tag in enumerate(tags):
            prev = tags[ti - 1] if ti else "O"
            if tag != "O" and (tag[0] == "B" or prev == "O" or prev[2:] != tag[2:]):
                report.tags_read += 1  # a chunk as conlleval reads it
            if tag != "O" and ti not in covered:
                report.problem(file=file, record=doc_id, start=offs[ti][0], end=offs[ti][1],
                               action="scored as no entity",
                               problem=f"invalid_iob2: line {sent[ti][2]} tag {tag} continues "
                                       "no entity (strict IOB2)")
    return text, spans


def _document(sentences, file: str, doc_id: str, report: LoadReport) -> tuple[str, list[Span]]:
    text, offsets = _layout(sentences)
    spans: list[Span] = []
    for sent, offs in zip(sentences, offsets, strict=True):
        cur: list | None = None  # [type, start, end]
        for (_, tag, lineno), (start, end) in zip(sent, offs, strict=True):
            prefix, typ = parse_tag(tag, file, lineno)
            if prefix == "I" and cur is not None and cur[0] == typ:
                cur[2] = end
                continue
            if cur is not None:
                spans.append(Span(cur[1], cur[2], cur[0]))
                cur = None
            if prefix == "I":
                report.problem(file=file, record=doc_id, start=start, end=end,
                               action="started a new span",
                               problem=f"orphan_inside: line {lineno} tag {tag} does not "
                                       f"continue a {typ} entity")
            if typ is not None:
                cur = [typ, start, end]
                report.tags_read += 1
        if cur is not None:
            spans.append(Span(cur[1], cur[2], cur[0]))
    return text, spans


def read_path(path: str | Path, report: LoadReport, *, labels=None,
              as_written: bool = False) -> list[Document]:
    """Read a CoNLL file, or every ``*.tsv``/``*.conll``/``*.iob``/``*.iob2``/``*.bio``/``*.txt``
    file of a folder (sorted by name). Raises :class:`FormatError` when a folder has none."""
    docs = []
    for f in files_with_splits(Path(path), SUFFIXES, "CoNLL token/label files"):
        docs += read_file(f, report, labels=labels, as_written=as_written)
    return docs
