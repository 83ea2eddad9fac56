"""Helpers shared by the format loaders: label checks, task-label selection, split names, and
the :class:`Corpus` facts (licence, citation) each format module records for known corpora.

Nothing here reads a corpus format itself; see the format modules (``docs/formats.md`` §1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from clinical_ner.documents import FormatError, LoadReport, Span

#: File-name parts that name a split (``deid_surrogate_train_all_version2.xml`` -> train,
#: ``devel.tsv`` -> dev). Checked in this order; a name matching two splits has none.
_SPLIT_WORDS = (("train", "train"), ("valid", "dev"), ("dev", "dev"), ("test", "test"))


def split_of_name(name: str) -> str | None:
    """The split a file name names (``train``/``dev``/``test``), or None.

    Case-insensitive substring match on the name without its suffix: ``train`` -> train,
    ``dev``/``devel``/``valid``/``validation`` -> dev, ``test`` -> test. A name that matches two
    different splits (``train_test.tsv``) names none. Never raises.
    """
    stem = Path(name).name.split(".")[0].lower()
    found = {split for word, split in _SPLIT_WORDS if word in stem}
    return found.pop() if len(found) == 1 else None


def check_label(label: str, *, file: str, record: str, where: str = "",
                report: LoadReport | None = None, start: int | None = None,
                end: int | None = None) -> str:
    """Check a native span label and return it unchanged (hyphens inside names are kept, e.g.
    ``Multi-tissue_structure``).

    Raises :class:`FormatError` naming ``file``, ``record`` and ``where`` (a line or offset) for an
    empty label or one holding whitespace. A label that looks like a BIO tag (``B-X``/``I-X``) in
    a span format is kept but reported (``bio_prefixed_label``): it usually means a converter
    wrote tags where types belong.
    """
    if not label or any(ch.isspace() for ch in label):
        raise FormatError(f"{file}: record {record!r} {where}: bad label {label!r} (empty or "
                          "holds whitespace)")
    if report is not None and label[:2] in ("B-", "I-") and len(label) > 2:
        report.problem(file=file, record=record, start=start, end=end, action="kept",
                       problem=f"bio_prefixed_label: span label {label} starts with a BIO prefix")
    return label


def select_labels(spans: Iterable[Span], labels: Iterable[str] | None, report: LoadReport,
                  ) -> list[Span]:
    """Keep the spans whose label is in ``labels`` (None keeps all).

    Used *before* the overlap policy so that a span the task does not use (e.g. MACCROBAT's
    ``History``) cannot make a task span (a nested ``Sign_symptom``) lose an overlap. Each span
    left out is counted in ``report.counts["not_in_task:<label>"]`` (a count, not a problem
    entry: a 41-type corpus mapped to 3 classes leaves out thousands by design).
    """
    spans = list(spans)
    if labels is None:
        return spans
    keep = set(labels)
    out = []
    for s in spans:
        if s.label in keep:
            out.append(s)
        else:
            report.counts[f"not_in_task:{s.label}"] += 1
    return out


def decode_utf8(data: bytes, path: Path) -> str:
    """Decode UTF-8 bytes as stored (no newline translation, a BOM is kept as a character).

    Raises :class:`FormatError` naming the file and the byte offset of the first bad byte.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: encoding error: not UTF-8 at byte offset {exc.start}: "
                          f"{exc.reason} (re-encode the file as UTF-8, e.g. iconv -f latin1 "
                          "-t utf-8)") from exc


def files_with_splits(path: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    """The corpus files of a loader given a file or a folder (sorted, not recursive).

    File names match ``suffixes`` in any case (``.TSV`` too). Raises :class:`FormatError` when
    ``path`` is a folder without any such file.
    """
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and p.name.lower().endswith(suffixes))
    if not files:
        raise FormatError(f"{path}: no {'/'.join(suffixes)} files (expected {what})")
    return files


@dataclass(frozen=True)
class Corpus:
    """A known training corpus (looked up by the base name of ``data_dir``)."""

    id: str
    name: str
    license: str | None
    description: str
    url: str | None = None
    citations: tuple[str, ...] = ()
    license_note: str = ""
