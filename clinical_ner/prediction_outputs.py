"""Outputs of ``predict_ner.py``: whole-line appends, per-process part files and their merge in
input order, and the de-identified notes in the input's format.

Layer 5 (files out, no model). Every write is atomic or a whole fsynced line, so a killed run
leaves only complete lines (a partial last line is cut on resume, and logged); a multi-process
run's ``parts/g<generation>.r<rank>.*`` lines carry each note's input position, and
:func:`merge_parts` merges them into the outputs in input order, each note once.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from clinical_ner.documents import Document, LoadReport, Span
from clinical_ner.files import write_text_atomic
from clinical_ner.note_files import Note

logger = logging.getLogger("clinical_ner")

#: Folder of a multi-process run's per-process outputs, merged into the outputs at its end.
PARTS_DIR = "parts"


def _append(path: Path, lines: list[str]) -> None:
    """Append whole lines and fsync (a crash can leave only a partial last line, which
    :func:`_complete_lines` drops on resume)."""
    if not lines:
        return
    with open(path, "a", encoding="utf-8", newline="") as fh:
        fh.write("".join(line + "\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())


def _complete_lines(path: Path) -> list[str]:
    """The complete lines of a file we append to; a partial last line (a killed write) is cut
    off the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(end)
        logger.warning("%s: cut a partial last line (an interrupted write)", path)
    return data[:end].decode("utf-8").splitlines()


def _iter_complete_lines(path: Path) -> Iterator[str]:
    """The complete lines of ``path`` one at a time (a partial last line is left out, the file
    is not changed); nothing when it does not exist."""
    if not path.exists():
        return
    with open(path, encoding="utf-8", newline="") as fh:
        for line in fh:
            if line.endswith("\n"):
                yield line[:-1]


def _write_lines_atomic(path: Path, lines) -> None:
    """Write ``lines`` (an iterable of strings without newlines) to ``path`` atomically,
    streaming: a temporary file in the same folder, fsynced, then ``os.replace``."""
    tmp = path.with_name(f".{path.name}.merge.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            for line in lines:
                fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def part_line(position: int, line: str) -> str:
    """A line of a per-process part file: the note's input position, a tab, the output line
    (JSON never holds a raw tab, so the first tab splits them)."""
    return f"{position}\t{line}"


def _part_stream(path: Path) -> Iterator[tuple[int, str]]:
    for raw in _iter_complete_lines(path):
        pos, _, line = raw.partition("\t")
        yield int(pos), line


def _output_stream(path: Path, position_of: dict[str, int] | None) -> Iterator[tuple[int, str]]:
    """Lines of a merged output file with their notes' positions (``position_of`` id ->
    position; an id not in it keeps the previous line's position); without ``position_of``
    every line comes first (position -1)."""
    last = -1
    for line in _iter_complete_lines(path):
        if position_of is not None:
            last = position_of.get(json.loads(line)["id"], last)
        yield last, line


def part_files(out: Path) -> list[Path]:
    """The per-process part files in ``OUTPUT_DIR/parts`` (sorted by name)."""
    d = out / PARTS_DIR
    return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []


def done_ids(out: Path) -> set[str]:
    """Ids of the notes done in ``out``: those with a line in ``predictions.jsonl`` or in a part
    file ``parts/*.predictions.jsonl`` of an unmerged multi-process run."""
    done = {json.loads(line)["id"] for line in _complete_lines(out / "predictions.jsonl")}
    for f in part_files(out):
        if f.name.endswith(".predictions.jsonl"):
            done.update(json.loads(line)["id"] for _, line in _part_stream(f))
    return done


def merge_parts(out: Path, position_of: dict[str, int]) -> int:
    """Merge the part files of a multi-process run (``OUTPUT_DIR/parts/g<generation>.r<rank>.
    {predictions.jsonl, surrogates.jsonl, deid.<name>}``, lines :func:`part_line`, each file in
    input order) into ``predictions.jsonl``, ``surrogates.local.jsonl`` and ``deid/<name>`` in
    the input order of the notes (``position_of``: note id -> input position), then remove them.

    Each note appears once (the first line of an id is kept; a surrogate mapping once per
    patient, label and original, at its first note); a de-identified JSONL line is kept only
    for a note with a predictions line. Every target is rewritten atomically and the part files
    are removed last, so a merge cut short by a kill is redone by the next run with the same
    result. Returns the number of part files merged (0: nothing to do).
    """
    import heapq

    from clinical_ner.surrogates import casefold_key

    files = part_files(out)
    if not files:
        return 0
    preds = [f for f in files if f.name.endswith(".predictions.jsonl")]
    done = done_ids(out)

    def merged(target: Path, parts: list[Path], key_of, keep=lambda line: True,
               with_positions: bool = True):
        seen: set = set()
        streams = [_output_stream(target, position_of if with_positions else None)]
        streams += [_part_stream(f) for f in parts]
        for _, line in heapq.merge(*streams, key=lambda item: item[0]):
            k = key_of(line)
            if k not in seen and keep(line):
                seen.add(k)
                yield line

    def note_id(line: str) -> str:
        return json.loads(line)["id"]

    deid_names = sorted({f.name.split(".deid.", 1)[1] for f in files if ".deid." in f.name})
    for name in deid_names:
        parts = [f for f in files if f.name.endswith(f".deid.{name}")]
        _write_lines_atomic(out / "deid" / name, merged(out / "deid" / name, parts, note_id,
                                                        keep=lambda line: note_id(line) in done))

    def mapping(line: str) -> tuple:
        r = json.loads(line)
        return r["patient"], r["label"], casefold_key(r["original"])

    maps = [f for f in files if f.name.endswith(".surrogates.jsonl")]
    if maps:
        target = out / "surrogates.local.jsonl"
        _write_lines_atomic(target, merged(target, maps, mapping, with_positions=False))
    target = out / "predictions.jsonl"
    _write_lines_atomic(target, merged(target, preds, note_id))
    for f in files:
        f.unlink()
    return len(files)


def _safe_relative(note_id: str) -> Path:
    from clinical_ner.predictions import _relative_path

    return Path(_relative_path(note_id))


def write_deid(fmt: str, deid_dir: Path, note: Note, text: str, spans: list[Span]) -> str | None:
    """Write one de-identified note (``text`` with ``spans`` at their new offsets) into
    ``deid_dir`` in ``fmt``, atomically; returns the JSONL line for ``jsonl`` (appended by the
    caller), else None. i2b2 2014 files are read back and must give the same text and tags.
    Raises ValueError naming the note when they do not, or for an id unusable as a file name."""
    doc = Document(note.id, text, tuple(spans))
    if fmt == "jsonl":
        return json.dumps(doc.to_json(), ensure_ascii=False)
    if fmt == "text":
        write_text_atomic(deid_dir / (_safe_relative(note.id).as_posix() + ".txt"), text)
        return None
    if fmt == "brat":
        from clinical_ner.predictions import brat_lines

        stem = deid_dir / _safe_relative(note.id)
        write_text_atomic(stem.with_name(stem.name + ".txt"), text)
        write_text_atomic(stem.with_name(stem.name + ".ann"),
                          "".join(x + "\n" for x in brat_lines(doc)))
        return None
    from data_scripts import i2b2_2014

    target = deid_dir / (Path(note.file).name if note.file.lower().endswith(".xml")
                         else f"{note.id}.xml")
    tmp = target.with_name(f".{target.name}.tmp")
    i2b2_2014.write_file(doc, tmp)
    try:
        back = i2b2_2014.read_file(tmp, LoadReport("i2b2_2014"), as_written=True)
        if back.text != text or set(back.spans) != set(spans):
            raise ValueError(f"note {note.id!r}: the de-identified i2b2 XML does not read back "
                             "with the same text and tags (a character XML 1.0 cannot hold?)")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return None
