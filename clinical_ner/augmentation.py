"""Surrogate augmentation: training notes re-rendered with fresh PHI of the same TYPE.

Each gold span of a note is replaced by :meth:`SurrogateGenerator.restyled
<clinical_ner.surrogates.SurrogateGenerator.restyled>` (the de-identification generator, in
fresh forms and Faker locales: names as ``SMITH`` / ``Smith, J.`` / ``J. Smith``, dates as
``07/22`` / ``Jul 22`` / ``22-Jul`` / ``1998-07-22`` / ``July 22, 1998``, phones as ``(617)
555-0142`` / ``617.555.0142``, IDs with letters, hospitals and cities of other locales) through
:func:`clinical_ner.redaction.redact`, which recomputes every offset. Copy ``k`` of a note uses
the surrogate key ``augment:<seed>``, the patient ``<patient>#copy<k>`` (so each copy draws
afresh, consistently within the note) and a locale drawn per note and copy from ``locales``.

Every augmented note is checked before it is used (:func:`augment_document`): the text outside
the spans is character for character the original's, each span covers exactly its surrogate,
and (with a ``task``) the spans survive span -> BIO -> span, as the load report's round trip
checks the corpus. A note that fails a check is left out and counted (``stats``), never used
half right. Words the loader left out of the loss (``doc.meta["ignore_words"]``, under rejected
gold tags) stay out of it in the copy.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport, Span
from clinical_ner.files import write_json_atomic
from clinical_ner.redaction import redact, text_outside
from clinical_ner.surrogates import SurrogateGenerator, unknown_locales
from data_scripts import i2b2_2014

#: Faker locales of the surrogates (Latin-script names, cities and companies).
DEFAULT_LOCALES = ("en_US", "en_GB", "en_AU", "en_IN", "en_CA", "en_IE", "es_ES", "es_MX",
                   "fr_FR", "de_DE", "it_IT", "pt_BR", "nl_NL", "pl_PL")


class AugmentationError(ValueError):
    """An augmented note failed a check (offsets, outside text or BIO round trip)."""


def augment_document(doc: Document, gen: SurrogateGenerator, copy: int, task=None) -> Document:
    """One augmented copy of ``doc``: each span re-rendered with ``gen.restyled`` for patient
    ``<patient>#copy<copy>`` (``doc.meta["patient"]``, else the id).

    Returns a new :class:`Document` (id ``<id>#aug<copy>``, ``meta`` with ``augmented_from``
    and, when the original has it, ``ignore_words`` for the copy's words). Raises
    :class:`AugmentationError` naming the note and span when the outside text, a span's text
    or (with ``task``, a :class:`~clinical_ner.tasks.Task`) the BIO round trip or the
    ``ignore_words`` mapping does not hold; ValueError from :func:`redact` for overlapping
    spans.
    """
    patient = f"{doc.meta.get('patient') or doc.id}#copy{copy}"
    where = f"{doc.meta.get('file', doc.id)} (augmented copy {copy})"
    red = redact(doc.text, doc.spans, "surrogate", where=where,
                 surrogate=lambda s, original: gen.restyled(s.label, original, patient))
    spans = tuple(Span(r.out_start, r.out_end, r.label) for r in red.spans)
    if text_outside(doc.text, [(s.start, s.end) for s in doc.spans]) != \
            text_outside(red.text, [(s.start, s.end) for s in spans]):
        raise AugmentationError(f"{where}: the text outside the spans changed")
    for r in red.spans:
        new = red.text[r.out_start:r.out_end]
        if not new.strip() or new != new.strip() and doc.text[r.start:r.end] == \
                doc.text[r.start:r.end].strip():
            raise AugmentationError(f"{where}: span [{r.start}, {r.end}) {r.label} got the "
                                    "surrogate of another form (empty or padded)")
    meta = {k: v for k, v in doc.meta.items() if k != "ignore_words"}
    meta["augmented_from"] = doc.id
    out = Document(f"{doc.id}#aug{copy}", red.text, spans, meta)
    if task is not None:
        words, tags = task.words_and_tags(out)
        if set(task.decode(words, tags)) != set(out.spans):
            raise AugmentationError(f"{where}: the spans do not survive span -> BIO -> span")
        if any(doc.meta.get("ignore_words") or ()):
            out.meta["ignore_words"] = _moved_ignore_words(doc, out, red, task, where)
    return out


def _moved_ignore_words(doc: Document, out: Document, red, task, where: str) -> list[bool]:
    """The copy's ``ignore_words``: the ignored words of ``doc`` (all outside the spans) moved
    by the length change of the spans before them."""
    old_words, _ = task.words_and_tags(doc)
    new_words, _ = task.words_and_tags(out)
    if len(doc.meta["ignore_words"]) != len(old_words):
        raise AugmentationError(f"{where}: ignore_words does not match the note's words")
    moved = set()
    for (a, b), skip in zip(old_words, doc.meta["ignore_words"], strict=True):
        if not skip:
            continue
        delta = sum((r.out_end - r.out_start) - (r.end - r.start) for r in red.spans
                    if r.end <= a)
        moved.add((a + delta, b + delta))
    flags = [w in moved for w in new_words]
    if sum(flags) != len(moved):
        raise AugmentationError(f"{where}: a word left out of the loss has no place in the copy")
    return flags


def augment_documents(docs: Sequence[Document], copies: int, seed: int = 42, *,
                      locales: Sequence[str] = DEFAULT_LOCALES, task=None
                      ) -> tuple[list[Document], Counter]:
    """``copies`` augmented copies of every note of ``docs`` that has a span (a note without
    PHI would come back unchanged), copy by copy (all notes' copy 1, then copy 2, ...).

    The locale of each note's copy is drawn with ``random.Random(f"{seed}:{id}:{copy}")``; the
    surrogates are keyed by ``augment:<seed>``: the same arguments give the same notes.
    Returns ``(augmented documents, stats)``; ``stats`` counts ``augmented_notes``,
    ``augmented_spans``, ``augment_failed_notes`` (left out, see :func:`augment_document`),
    ``augment_notes_without_spans`` and the generator's ``restyled:<kind>`` counts (no note
    text). Raises ValueError for ``copies < 0`` or an empty ``locales``.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    if not locales:
        raise ValueError("no Faker locale given")
    gens = {loc: SurrogateGenerator(f"augment:{seed}", loc) for loc in locales}
    out: list[Document] = []
    stats: Counter = Counter(augmented_notes=0, augmented_spans=0, augment_failed_notes=0)
    with_spans = [d for d in docs if d.spans]
    stats["augment_notes_without_spans"] = len(docs) - len(with_spans)
    for copy in range(1, copies + 1):
        for doc in with_spans:
            loc = random.Random(f"{seed}:{doc.id}:{copy}").choice(list(locales))
            try:
                aug = augment_document(doc, gens[loc], copy, task)
            except AugmentationError:
                stats["augment_failed_notes"] += 1
                continue
            out.append(aug)
            stats["augmented_notes"] += 1
            stats["augmented_spans"] += len(aug.spans)
    for g in gens.values():
        stats.update({k: v for k, v in g.stats.items() if k.startswith("restyled:")})
    return out, stats


#: The manifest :func:`resurrogate_folder` writes into its output folder (no note text).
RESURROGATE_MANIFEST = "resurrogate.json"


def resurrogate_folder(in_dir, out_dir, *, seed: int = 0, locale: str = "en_US") -> dict:
    """Re-render an i2b2 2014 corpus folder with other surrogates: every tag's text replaced by
    :meth:`SurrogateGenerator.restyled` (key ``resurrogate:<seed>``, Faker ``locale``,
    consistent per patient), offsets recomputed, everything else kept; a robustness check of a
    PHI model (score it on the original and on the re-rendered folder: ``eval_ner.py --model
    RUN --data_dir OUT_DIR`` reports the drop).

    ``in_dir`` holds ``*.xml`` files or ``train``/``dev``/``test`` (any split name) sub-folders
    of them; ``out_dir`` gets the same layout and file names (so a seeded split by patient
    gives the same notes) and ``resurrogate.json`` (source folder, seed, locale, counts; no
    note text). Tags are read as written (``as_written``: the offsets and TYPEs of the
    files), so the re-rendered gold is the original gold. Raises FileExistsError when
    ``out_dir`` exists and is not empty (nothing is overwritten), FormatError naming the file
    for a file that cannot be read, ValueError naming the file for overlapping tags (a
    redaction needs disjoint spans), ValueError for a ``locale`` Faker does not know (``''``
    included). Returns the manifest.
    """
    if unknown_locales([locale]):
        raise ValueError(f"unknown Faker locale {locale!r} (faker.config.AVAILABLE_LOCALES "
                         "lists the known ones, e.g. en_GB, de_DE)")
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if out_dir.resolve() == in_dir.resolve() or in_dir.resolve() in out_dir.resolve().parents:
        raise FileExistsError(f"{out_dir}: is the input folder or inside it")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir}: exists and is not empty; resurrogate writes a new "
                              "folder and never overwrites one")
    if not in_dir.exists():
        raise FileNotFoundError(f"{in_dir}: no such folder")
    folders = [p for p in sorted(in_dir.iterdir()) if p.is_dir()
               and any(f.suffix.lower() == ".xml" for f in p.iterdir())] if in_dir.is_dir() \
        else []
    if not folders:
        folders = [in_dir]
    gen = SurrogateGenerator(f"resurrogate:{seed}", locale)
    report = LoadReport(format="i2b2_2014", as_written=True)
    counts: Counter = Counter()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # written into a temporary folder beside OUT_DIR, renamed at the end: a failure leaves nothing
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _resurrogate_into(work, folders, in_dir, gen, report, counts)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    counts.update({k: v for k, v in gen.stats.items() if k.startswith("restyled:")
                   or k == "date_not_parsed"})
    manifest = {"source": str(in_dir.resolve()), "seed": seed, "locale": locale,
                "generator": "clinical_ner.surrogates.SurrogateGenerator.restyled",
                "folders": [f.name for f in folders if f != in_dir],
                "counts": dict(sorted(counts.items())),
                "load_report_problems": len(report.problems)}
    write_json_atomic(work / RESURROGATE_MANIFEST, manifest)
    if out_dir.exists():
        out_dir.rmdir()  # empty (checked above)
    work.rename(out_dir)
    return manifest


def _resurrogate_into(out_dir, folders, in_dir, gen, report, counts) -> None:
    """The loop of :func:`resurrogate_folder`: every note of ``folders`` re-rendered into
    ``out_dir``. Raises FormatError for a file whose offsets count CR LF line ends (the tags
    would not lie on their PHI)."""
    for folder in folders:
        target = out_dir if folder == in_dir else out_dir / folder.name
        for doc in i2b2_2014.read_folder(folder, report, as_written=True):
            crlf = [p for p in report.problems if p.problem.startswith("crlf_offsets")]
            if crlf:
                raise FormatError(f"{folder / crlf[0].file if crlf[0].file else folder}: record "
                                  f"{crlf[0].record!r}: the tag offsets count the CR of CR LF "
                                  "line ends; re-rendering would replace the wrong characters")
            patient = doc.meta.get("patient") or doc.id
            where = doc.meta.get("file", doc.id)
            red = redact(doc.text, doc.spans, "surrogate", where=str(folder / where),
                         surrogate=lambda s, o, p=patient: gen.restyled(s.label, o, p))
            spans = tuple(Span(r.out_start, r.out_end, r.label) for r in red.spans)
            name = Path(doc.meta.get("file") or f"{doc.id}.xml").name
            target.mkdir(parents=True, exist_ok=True)
            i2b2_2014.write_file(Document(doc.id, red.text, spans), target / name)
            counts["notes"] += 1
            counts["tags"] += len(spans)
