"""Tasks: which span labels a model predicts, how corpus labels map to them, how they are scored.

``TASK=phi`` on i2b2 2014 predicts every i2b2 2014 TYPE (or category); the label set comes from
the task definition, never from the training split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clinical_ner.documents import Document, LoadReport
from clinical_ner.labels import LabelScheme, i2b2_2014_scheme, spans_to_bio, split_words
from clinical_ner.labels import bio_to_spans


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

    def map_document(self, doc: Document, report: LoadReport | None = None) -> Document:
        """Relabel ``doc``'s spans into the task's span labels.

        A span whose label the task does not know is left out and reported (``unknown_label``)
        with its offsets, never silently.
        """
        spans = []
        for s in doc.spans:
            label = self.label_map.get(s.label) if self.label_map is not None else s.label
            if label is None or label not in self.scheme.span_labels:
                if report is not None:
                    report.problem(file=doc.meta.get("file", ""), record=doc.id, start=s.start,
                                   end=s.end, action="dropped",
                                   problem=f"unknown_label: {s.label} is not a label of task "
                                           f"{self.name}")
                continue
            spans.append(type(s)(s.start, s.end, label))
        return Document(doc.id, doc.text, tuple(spans), dict(doc.meta))

    def words_and_tags(self, doc: Document) -> tuple[list[tuple[int, int]], list[str]]:
        """Words of ``doc`` (split at its span boundaries) and their IOB2 tags."""
        words = split_words(doc.text, doc.spans)
        return words, spans_to_bio(words, doc.spans, self.scheme.entity_of)

    def decode(self, words, tags) -> list:
        """IOB2 tags over words -> spans with the task's span labels."""
        return bio_to_spans(words, tags, self.scheme.span_label_of)


def phi_task(fmt: str = "i2b2_2014", granularity: str = "type") -> Task:
    """PHI de-identification. i2b2 2014: every TYPE (span labels ``CATEGORY/TYPE``) or every
    category (``--label_granularity category``: span labels ``CATEGORY``)."""
    if fmt in ("i2b2_2014", "jsonl"):
        scheme = i2b2_2014_scheme(granularity)
        label_map = None
        if granularity == "category":
            label_map = {f"{c}/{t}": c for c, t in (lab.split("/") for lab in
                         i2b2_2014_scheme("type").span_labels)}
        return Task("phi", scheme, "i2b2_2014", label_map,
                    f"PHI, i2b2 2014 {granularity}s")
    raise ValueError(f"TASK=phi does not support format {fmt!r} yet")


def get_task(name: str, fmt: str, granularity: str = "type", label_map_file: str | None = None
             ) -> Task:
    """Look up a task by name for a corpus format. Raises ValueError for an unknown pair."""
    if name == "phi":
        return phi_task(fmt, granularity)
    raise ValueError(f"unknown task {name!r} (known: phi)")
