"""Corpus loaders: corpus files -> :class:`~clinical_ner.documents.Document` lists per split ->
``datasets.DatasetDict``.

Each format module reads files into documents and records problems in a
:class:`~clinical_ner.documents.LoadReport`; :func:`load_corpus` finds the splits and
:func:`to_dataset_dict` turns them into a ``DatasetDict`` with ``ClassLabel`` features.
CLI: ``python -m data_scripts FORMAT DIR --report REPORT.json [--dump DOCS.jsonl]``.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from clinical_ner.documents import Document, FormatError, LoadReport
from data_scripts import brat, conll, i2b2_2006, i2b2_2010, i2b2_2014, jsonl, presidio

logger = logging.getLogger("clinical_ner")

#: Known corpora (base name of the corpus folder -> licence, citations), from the format modules.
CORPORA = {**i2b2_2014.CORPORA}

SPLIT_NAMES = {"train": "train", "dev": "dev", "devel": "dev", "valid": "dev",
               "validation": "dev", "test": "test"}


def _read_i2b2_2014(path: Path, report: LoadReport, *, labels=None, as_written=False,
                    **_) -> list[Document]:
    return i2b2_2014.read_folder(path, report, labels=labels, as_written=as_written)


def _read_i2b2_2006(path: Path, report: LoadReport, *, strip_report_end: bool = False,
                    labels=None, as_written=False, **_) -> list[Document]:
    return i2b2_2006.read_path(path, report, strip_report_end=strip_report_end, labels=labels,
                               as_written=as_written)


def _read_i2b2_2010(path: Path, report: LoadReport, *, labels=None, as_written=False,
                    **_) -> list[Document]:
    return i2b2_2010.read_folder(path, report, labels=labels, as_written=as_written)


def _read_brat(path: Path, report: LoadReport, *, discontinuous: str = "join", labels=None,
               as_written=False, **_) -> list[Document]:
    return brat.read_folder(path, report, discontinuous=discontinuous, labels=labels,
                            as_written=as_written)


def _read_conll(path: Path, report: LoadReport, *, labels=None, as_written=False,
                **_) -> list[Document]:
    return conll.read_path(path, report, labels=labels, as_written=as_written)


def _read_jsonl(path: Path, report: LoadReport, *, labels=None, as_written=False,
                **_) -> list[Document]:
    return jsonl.read_path(path, report, labels=labels, as_written=as_written)


def _read_presidio(path: Path, report: LoadReport, *, labels=None, as_written=False,
                   **_) -> list[Document]:
    return presidio.read_path(path, report, labels=labels, as_written=as_written)


#: format name -> reader(path, report, **options) -> documents of one split folder or file.
#: Options every reader accepts (and ignores when they do not apply): ``labels`` (native labels
#: to keep before the span policy, None = all), ``discontinuous`` (brat: join|split|drop),
#: ``strip_report_end`` (i2b2 2006), ``as_written`` (the scoring reading: tags as the files
#: write them, no repair; see :func:`clinical_ner.documents.resolve_spans`).
READERS = {"i2b2_2014": _read_i2b2_2014, "i2b2_2006": _read_i2b2_2006,
           "i2b2_2010": _read_i2b2_2010, "brat": _read_brat, "conll": _read_conll,
           "jsonl": _read_jsonl, "presidio": _read_presidio}


def find_data_dir(data_dir: str | None, *, near=()) -> str | None:
    """Where a corpus folder is: ``data_dir`` as given when it exists from the working folder
    (or is absolute or empty); else, for a relative one, the first of ``near`` / data_dir and
    (the folder holding this package) / data_dir that exists, so that a shipped config's
    ``data_scripts/demo_i2b2_2014`` is found from any folder in a source checkout and in a
    non-editable install (the demo notes are package data). The path used is logged; a
    folder found nowhere is returned as given (the reader then names it)."""
    if not data_dir or Path(data_dir).is_absolute() or Path(data_dir).exists():
        return data_dir
    for base in (*map(Path, near), Path(__file__).resolve().parent.parent):
        candidate = base / data_dir
        if candidate.exists():
            logger.warning("data_dir %s is not in the working folder %s: using %s", data_dir,
                           Path.cwd(), candidate)
            return str(candidate)
    return data_dir


def split_by_group(
    docs: list[Document], seed: int = 1701, ratios=(0.7, 0.1, 0.2)
) -> dict[str, list[Document]]:
    """Seeded split of documents into train/dev/test by ``doc.meta["patient"]`` when present
    (no patient in two splits), else by document. ``ratios`` are fractions of the groups."""
    groups: dict[str, list[Document]] = {}
    for d in docs:
        groups.setdefault(d.meta.get("patient") or d.id, []).append(d)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_train = round(ratios[0] * len(keys))
    n_dev = round(ratios[1] * len(keys))
    parts = {"train": keys[:n_train], "dev": keys[n_train : n_train + n_dev],
             "test": keys[n_train + n_dev :]}
    return {name: [d for k in ks for d in groups[k]] for name, ks in parts.items()}


def carve_dev(docs: list[Document], seed: int = 1701, fraction: float = 0.1
              ) -> tuple[list[Document], list[Document]]:
    """Seeded ``(train, dev)`` split of a corpus train split without a dev split: ``fraction``
    of the groups (patients where ``doc.meta["patient"]`` is set, else documents), at least one
    when there are two or more groups, go to dev. Order within each part is kept."""
    groups: dict[str, list[Document]] = {}
    for d in docs:
        groups.setdefault(d.meta.get("patient") or d.id, []).append(d)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_dev = max(1, round(fraction * len(keys))) if len(keys) > 1 else 0
    dev_keys = set(keys[:n_dev])
    return ([d for d in docs if (d.meta.get("patient") or d.id) not in dev_keys],
            [d for d in docs if (d.meta.get("patient") or d.id) in dev_keys])


def load_corpus(
    fmt: str, path: str | Path, *, split_seed: int = 1701, **options
) -> tuple[dict[str, list[Document]], LoadReport]:
    """Load a corpus folder (or file) into ``{split: [Document]}`` and its :class:`LoadReport`.

    Splits, in order of preference (recorded in ``report.splits``):

    1. ``path`` holds ``train``/``dev`` (or ``devel``/``valid``/``validation``)/``test``
       sub-folders: those are the splits (the corpus split);
    2. every document's file names its split (``doc.meta["split"]``: e.g. ``train.tsv``,
       ``deid_surrogate_train_all_version2.xml``): those are the splits;
    3. otherwise every document is read and split 70/10/20 by patient (ids ``PPP-RR``) or
       document with ``split_seed``.

    A corpus split with a train but no dev split gets a seeded dev part (10 % of the train
    groups, :func:`carve_dev`). Empty splits are left out of the returned dict (their 0 stays in
    ``report.splits``). ``options`` go to the format's reader (``labels``, ``discontinuous``,
    ``strip_report_end``; see :data:`READERS`).
    Raises FormatError for an unknown format, a missing path, files of which only some name
    a split, files that hold no document at all, or a document id met twice (in two split
    folders, where nothing else checks it: a test note also in train).
    """
    if fmt not in READERS:
        raise FormatError(f"unknown format {fmt!r}; known: {', '.join(sorted(READERS))}")
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder")
    report = LoadReport(format=fmt, as_written=bool(options.get("as_written")))
    reader = READERS[fmt]
    subdirs = {SPLIT_NAMES[p.name]: p for p in sorted(path.iterdir())
               if p.is_dir() and p.name in SPLIT_NAMES} if path.is_dir() else {}
    if subdirs:
        splits = {name: reader(p, report, **options) for name, p in subdirs.items()}
        method = "corpus folders"
    else:
        docs = reader(path, report, **options)
        named = [d.meta.get("split") for d in docs]
        if docs and all(named):
            splits = {}
            for d in docs:
                splits.setdefault(d.meta["split"], []).append(d)
            method = "corpus files (the split named in each file name)"
        elif any(named):
            odd = next(d for d in docs if not d.meta.get("split"))
            raise FormatError(f"{path}: some files name a split (train/dev/test) but "
                              f"{odd.meta.get('file', odd.id)} does not")
        else:
            splits = split_by_group(docs, seed=split_seed)
            method = (f"seeded split by patient/document (seed {split_seed}, 70/10/20 % of "
                      "groups)")
    if not any(splits.values()):
        raise FormatError(f"{path}: no documents in any file (empty {fmt} files?)")
    split_of: dict[str, str] = {}
    for name, split_docs in splits.items():
        for d in split_docs:
            if d.id in split_of:
                raise FormatError(f"{path}: document id {d.id!r} is in split {split_of[d.id]} "
                                  f"and again in split {name} (file {d.meta.get('file', '?')})")
            split_of[d.id] = name
    if splits.get("train") and not splits.get("dev") and not method.startswith("seeded"):
        splits["train"], splits["dev"] = carve_dev(splits["train"], seed=split_seed)
        method += (f"; no dev split in the corpus: seeded dev = 10 % of the train "
                   f"patients/documents (seed {split_seed})")
    report.splits = {"method": method, "documents": {k: len(v) for k, v in splits.items()}}
    # an empty split (a seeded split of very few documents) is recorded above but not returned
    return {k: v for k, v in splits.items() if v}, report


def to_dataset_dict(splits: dict[str, list[Document]], task, report: LoadReport | None = None):
    """Documents per split -> ``datasets.DatasetDict`` with explicit ``Features``.

    Columns: ``id``, ``text``, ``spans`` (``start``, ``end``, ``label`` as ``ClassLabel`` over the
    task's span labels), ``word_starts``/``word_ends`` (character offsets of the words) and
    ``ner_tags`` (``ClassLabel`` over the task's IOB2 labels, one per word) and ``ignore_words``
    (per word: left out of the training loss, because it lies under a gold tag the loader
    rejected; :meth:`~clinical_ner.tasks.Task.ignored_words`, counted in
    ``counts["rejected_tags_out_of_loss"]`` and ``counts["words_out_of_loss"]``). Label names
    thus travel with the data into ``config.id2label``. Spans with labels outside the task are
    reported in ``report``; ``report.round_trip_spans`` counts spans that BIO-decode back
    exactly.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    scheme = task.scheme
    features = Features({
        "id": Value("string"),
        "text": Value("string"),
        "spans": [{"start": Value("int32"), "end": Value("int32"),
                   "label": ClassLabel(names=list(scheme.span_labels))}],
        "word_starts": Sequence(Value("int32")),
        "word_ends": Sequence(Value("int32")),
        "ner_tags": Sequence(ClassLabel(names=scheme.bio_labels)),
        "ignore_words": Sequence(Value("bool")),
    })
    out, round_trip = {}, 0
    for name, docs in splits.items():
        rows = []
        for doc in docs:
            doc = task.map_document(doc, report)
            words, tags = task.words_and_tags(doc)
            decoded = task.decode(words, tags)
            round_trip += len(set(decoded) & set(doc.spans))
            if report is not None and set(decoded) != set(doc.spans):
                for s in set(doc.spans) - set(decoded):
                    report.problem(file=doc.meta.get("file", ""), record=doc.id, start=s.start,
                                   end=s.end, problem="no_round_trip: span does not survive "
                                   "span -> BIO -> span", action="reported")
            ignore = task.ignored_words(words, tags, doc.meta.get("rejected"))
            if report is not None and any(ignore):
                report.counts["rejected_tags_out_of_loss"] += len(doc.meta["rejected"])
                report.counts["words_out_of_loss"] += sum(ignore)
            rows.append({"id": doc.id, "text": doc.text,
                         "spans": [{"start": s.start, "end": s.end, "label": s.label}
                                   for s in doc.spans],
                         "word_starts": [w[0] for w in words], "word_ends": [w[1] for w in words],
                         "ner_tags": tags, "ignore_words": ignore})
        out[name] = Dataset.from_list(rows, features=features)
    if report is not None:
        report.round_trip_spans = round_trip
    return DatasetDict(out)


def dataset_documents(ds) -> list[Document]:
    """The documents (text and spans with their label names) back from one split of
    :func:`to_dataset_dict`."""
    from clinical_ner.documents import Span

    names = ds.features["spans"].feature["label"].names
    return [Document(r["id"], r["text"], tuple(Span(s["start"], s["end"], names[s["label"]])
                                                for s in r["spans"]),
                     meta={"ignore_words": r["ignore_words"]} if any(r["ignore_words"]) else {})
            for r in ds]
