"""Tasks: which span labels a model predicts, how corpus labels map to them, how they are scored.

* ``TASK=phi``: i2b2 2014 TYPEs (span labels ``CATEGORY/TYPE``) or categories; i2b2 2006 TYPEs
  (PATIENT, DOCTOR, HOSPITAL, ID, DATE, LOCATION, PHONE, AGE; docs/formats.md §1.1).
* ``TASK=concepts``: i2b2 2010 ``problem``/``test``/``treatment`` (docs/formats.md §1.3), from the
  i2b2_2010, conll, brat or jsonl formats.
* ``TASK=medications``: n2c2 2018 Track 2's nine entity types (docs/formats.md §1.4), from brat or
  jsonl.
* A label map YAML (a path, or the name of a map shipped in ``data_scripts/label_maps/``, e.g.
  ``maccrobat_concepts``): corpus labels -> task labels, any format. See :func:`label_map_task`.

The label set comes from the task definition, never from the training split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from clinical_ner.documents import Document, LoadReport
from clinical_ner.labels import (
    LabelScheme,
    bio_to_spans,
    i2b2_2014_scheme,
    spans_to_bio,
    split_words,
)


@dataclass
class Task:
    """A task: ``scheme`` (span labels <-> BIO entity types), ``label_map`` (corpus label -> span
    label; None keeps labels as they are) and ``metric_scheme`` (``"i2b2_2014"`` or
    ``"concepts"``, see :func:`clinical_ner.metrics.evaluate_spans`)."""

    name: str
    scheme: LabelScheme
    metric_scheme: str = "i2b2_2014"
    label_map: dict[str, str] | None = None
    description: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def corpus_labels(self) -> tuple[str, ...]:
        """The native corpus labels this task reads: the label map's keys, or the span labels
        when there is no map. Loaders keep only these before the overlap policy (``labels=``)."""
        if self.label_map is not None:
            return tuple(self.label_map)
        return tuple(self.scheme.span_labels)

    def map_document(self, doc: Document, report: LoadReport | None = None, *,
                     keep_unknown: bool = False) -> Document:
        """Relabel ``doc``'s spans into the task's span labels.

        A span whose label the task does not know is left out and reported (``unknown_label``)
        with its offsets, never silently; its range is added to ``meta["rejected"]`` (kept out
        of the training loss). With ``keep_unknown`` (scoring gold as written) such a span is
        kept under its own label instead: a false negative the model cannot predict.
        """
        spans = []
        meta = dict(doc.meta)
        for s in doc.spans:
            label = self.label_map.get(s.label) if self.label_map is not None else s.label
            if label is None or label not in self.scheme.span_labels:
                if keep_unknown:
                    spans.append(s if label is None else type(s)(s.start, s.end, label))
                    continue
                if report is not None:
                    report.problem(file=doc.meta.get("file", ""), record=doc.id, start=s.start,
                                   end=s.end, action="dropped",
                                   problem=f"unknown_label: {s.label} is not a label of task "
                                           f"{self.name}")
                meta["rejected"] = [*meta.get("rejected", ()), (s.start, s.end)]
                continue
            spans.append(type(s)(s.start, s.end, label))
        return Document(doc.id, doc.text, tuple(spans), meta)

    def words_and_tags(self, doc: Document) -> tuple[list[tuple[int, int]], list[str]]:
        """Words of ``doc`` (split at its span boundaries) and their IOB2 tags."""
        words = split_words(doc.text, doc.spans)
        return words, spans_to_bio(words, doc.spans, self.scheme.entity_of)

    @staticmethod
    def ignored_words(words: list[tuple[int, int]], tags: list[str],
                      rejected) -> list[bool]:
        """Per word, whether training must leave it out of the loss (label -100): an ``O`` word
        that shares a character with a rejected gold tag ``(start, end)`` (a tag the loader
        could not accept: a text mismatch, an unknown label, an overlap it lost), which would
        otherwise be learnt as "not PHI". Words of kept spans keep their labels."""
        out = [False] * len(words)
        for start, end in rejected or ():
            for i, (ws, we) in enumerate(words):
                if ws < end and start < we and tags[i] == "O":
                    out[i] = True
        return out

    def decode(self, words, tags) -> list:
        """IOB2 tags over words -> spans with the task's span labels."""
        return bio_to_spans(words, tags, self.scheme.span_label_of)


#: The 8 PHI TYPEs of i2b2 2006 (docs/formats.md §1.1), the span labels of TASK=phi on that format.
I2B2_2006_TYPES = ("PATIENT", "DOCTOR", "HOSPITAL", "ID", "DATE", "LOCATION", "PHONE", "AGE")
#: i2b2 2010 concept classes (docs/formats.md §1.3).
CONCEPT_LABELS = ("problem", "test", "treatment")
#: n2c2 2018 Track 2 entity types (docs/formats.md §1.4).
MEDICATION_LABELS = ("Drug", "Strength", "Dosage", "Duration", "Frequency", "Form", "Route",
                     "Reason", "ADE")
#: Folder of the label map YAML files shipped with the package (``data_scripts/label_maps``).
LABEL_MAPS_DIR = Path(__file__).resolve().parents[1] / "data_scripts" / "label_maps"

_CONCEPT_FORMATS = ("i2b2_2010", "conll", "brat", "jsonl")
_MEDICATION_FORMATS = ("brat", "jsonl")


def _flat(labels) -> LabelScheme:
    return LabelScheme(tuple(labels), tuple(labels))


def _types_only(name: str, granularity: str) -> None:
    if granularity != "type":
        raise ValueError(f"TASK={name} has no label granularity {granularity!r} (only 'type')")


def phi_task(fmt: str = "i2b2_2014", granularity: str = "type") -> Task:
    """PHI de-identification. i2b2 2014 (and jsonl holding its labels): every TYPE (span labels
    ``CATEGORY/TYPE``) or every category (``--label_granularity category``: span labels
    ``CATEGORY``), scored with ``metric_scheme="i2b2_2014"``. i2b2 2006: its 8 TYPEs (types only),
    scored with ``metric_scheme="concepts"`` (exact/inexact; the i2b2 2014 HIPAA measures key on
    2014 categories and would be wrong for 2006 labels). Raises ValueError for another format or
    an unknown granularity."""
    if fmt in ("i2b2_2014", "jsonl"):
        scheme = i2b2_2014_scheme(granularity)
        label_map = None
        if granularity == "category":
            label_map = {f"{c}/{t}": c for c, t in (lab.split("/") for lab in
                         i2b2_2014_scheme("type").span_labels)}
        return Task("phi", scheme, "i2b2_2014", label_map,
                    f"PHI, i2b2 2014 {granularity}s")
    if fmt == "i2b2_2006":
        _types_only("phi (i2b2 2006)", granularity)
        return Task("phi", _flat(I2B2_2006_TYPES), "concepts", None, "PHI, i2b2 2006 TYPEs")
    raise ValueError(f"TASK=phi does not support format {fmt!r} "
                     "(i2b2_2014, i2b2_2006, jsonl)")


def concepts_task(fmt: str = "i2b2_2010", granularity: str = "type") -> Task:
    """Medical concepts: i2b2 2010 ``problem``/``test``/``treatment`` (span labels as named),
    ``metric_scheme="concepts"``. Formats whose labels already are these classes: i2b2_2010,
    conll, brat, jsonl (map other corpora with a label map YAML). Raises ValueError otherwise."""
    _types_only("concepts", granularity)
    if fmt not in _CONCEPT_FORMATS:
        raise ValueError(f"TASK=concepts does not support format {fmt!r} "
                         f"({', '.join(_CONCEPT_FORMATS)}; or use a label map YAML)")
    return Task("concepts", _flat(CONCEPT_LABELS), "concepts", None,
                "i2b2 2010 concepts: problem, test, treatment")


def medications_task(fmt: str = "brat", granularity: str = "type") -> Task:
    """Medications and ADEs: n2c2 2018 Track 2's nine entity types (Drug, Strength, Dosage,
    Duration, Frequency, Form, Route, Reason, ADE), ``metric_scheme="concepts"``. Formats: brat,
    jsonl. Raises ValueError otherwise."""
    _types_only("medications", granularity)
    if fmt not in _MEDICATION_FORMATS:
        raise ValueError(f"TASK=medications does not support format {fmt!r} "
                         f"({', '.join(_MEDICATION_FORMATS)})")
    return Task("medications", _flat(MEDICATION_LABELS), "concepts", None,
                "n2c2 2018 Track 2 medication and ADE entities")


def label_map_task(path: str | Path) -> Task:
    """A task defined by a label map YAML file::

        name: maccrobat_concepts          # optional, default: the file stem
        description: ...                  # optional
        metric_scheme: concepts           # optional, "concepts" (default) or "i2b2_2014"
        labels: [problem, test, treatment]   # optional: the task labels in order
        map:                              # required: corpus label -> task label
          Disease_disorder: problem
          Sign_symptom: problem

    ``labels`` defaults to the map's values in order of first appearance; every value must be one
    of them. Corpus labels not in ``map`` are left out of the task (loaders count them in
    ``counts["not_in_task:<label>"]``). Raises ValueError naming the file for a missing or
    malformed map, an unknown metric scheme or a value outside ``labels``; FileNotFoundError
    when the file does not exist.
    """
    import yaml

    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(cfg, dict) or not isinstance(cfg.get("map"), dict) or not cfg["map"]:
        raise ValueError(f"{path}: a label map needs a non-empty 'map:' of corpus label -> "
                         "task label")
    mapping = {str(k): str(v) for k, v in cfg["map"].items()}
    labels = [str(x) for x in cfg.get("labels") or dict.fromkeys(mapping.values())]
    outside = sorted({v for v in mapping.values() if v not in labels})
    if outside:
        raise ValueError(f"{path}: map values {outside} are not in labels {labels}")
    metric = cfg.get("metric_scheme", "concepts")
    if metric not in ("concepts", "i2b2_2014"):
        raise ValueError(f"{path}: metric_scheme must be 'concepts' or 'i2b2_2014', "
                         f"not {metric!r}")
    try:
        scheme = _flat(labels)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return Task(str(cfg.get("name") or path.stem), scheme, metric, mapping,
                str(cfg.get("description", "")), meta={"label_map_file": str(path)})


def shipped_label_maps() -> list[str]:
    """Names of the label maps shipped in ``data_scripts/label_maps`` (usable as TASK=name)."""
    return sorted(p.stem for p in LABEL_MAPS_DIR.glob("*.yaml"))


def get_task(name: str, fmt: str, granularity: str = "type", label_map_file: str | None = None
             ) -> Task:
    """Look up a task for a corpus format.

    ``name``: ``phi``, ``concepts``, ``medications``, a path to a label map YAML
    (:func:`label_map_task`) or the name of a shipped map (:func:`shipped_label_maps`);
    ``label_map_file``, when given, wins over ``name``. Raises ValueError for an unknown name or
    an unsupported (task, format, granularity) combination.
    """
    if label_map_file:
        return label_map_task(label_map_file)
    if name == "phi":
        return phi_task(fmt, granularity)
    if name == "concepts":
        return concepts_task(fmt, granularity)
    if name == "medications":
        return medications_task(fmt, granularity)
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        if not Path(name).is_file():
            raise ValueError(f"label map {name!r}: no such file")
        return label_map_task(name)
    if (LABEL_MAPS_DIR / f"{name}.yaml").is_file():
        return label_map_task(LABEL_MAPS_DIR / f"{name}.yaml")
    raise ValueError(f"unknown task {name!r} (known: phi, concepts, medications, a label map "
                     f"YAML path, or a shipped map: {', '.join(shipped_label_maps()) or 'none'})")
