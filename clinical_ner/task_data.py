"""Corpus -> the documents of a task: the one place that reads a corpus for training, scoring,
prediction and the benchmark, so all of them see the same splits and labels.

:func:`load_task_documents` takes the corpus settings of a run (``train_ner.py``'s
``DataArguments``, or :class:`clinical_ner.run_folder.CorpusSettings` read back from a run
folder: any object with ``data_dir``, ``format``, ``task``, ``label_granularity``,
``split_seed``, ``discontinuous`` and ``strip_report_end``) and reads the corpus one of two ways:

* the *training* reading (``as_written=False``): tags repaired as training data needs (every
  repair counted in the load report), spans mapped to the task's labels, and the
  ``datasets.DatasetDict`` the Trainer consumes (label names in its ``Features``);
* the *scoring* reading (``as_written=True``): offsets and labels as the files write them, like
  the official i2b2 2014 scorer (no trimming, dropping or overlap resolution, duplicates once),
  relabelled into the task's span labels, a label the task does not know kept as it is (a false
  negative).

Both readings use the same split seed and so the same splits and documents.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinical_ner.documents import Document, LoadReport
from clinical_ner.tasks import Task, get_task
from data_scripts import dataset_documents, load_corpus, to_dataset_dict


@dataclass
class TaskDocuments:
    """A corpus read for a task: the task, the documents per split (in the task's span labels),
    the load report and, for the training reading, the ``DatasetDict``."""

    task: Task
    splits: dict[str, list[Document]]
    report: LoadReport
    datasets: object | None = None


def load_task_documents(settings, *, as_written: bool = False,
                        task: Task | None = None) -> TaskDocuments:
    """Read the corpus of ``settings`` for its task (see the module docstring for the two
    readings). ``task`` reuses a task already built from the same settings.

    Raises ValueError without ``settings.data_dir``, FormatError/ValueError naming the file and
    record for bad input (in the scoring reading, a tag that cannot be scored).
    """
    if not settings.data_dir:
        raise ValueError("--data_dir is required (a corpus folder)")
    if task is None:
        task = get_task(settings.task, settings.format, settings.label_granularity)
    options = dict(split_seed=settings.split_seed, discontinuous=settings.discontinuous,
                   strip_report_end=settings.strip_report_end)
    if as_written:
        labels = task.corpus_labels if task.meta.get("label_map_file") else None
        splits, report = load_corpus(settings.format, settings.data_dir, labels=labels,
                                     as_written=True, **options)
        mapped = {name: [task.map_document(d, report, keep_unknown=True) for d in docs]
                  for name, docs in splits.items()}
        return TaskDocuments(task, mapped, report)
    # labels: spans of labels outside the task are counted and left out *before* the overlap
    # policy, so they cannot make a task span lose an overlap.
    splits, report = load_corpus(settings.format, settings.data_dir,
                                 labels=task.corpus_labels, **options)
    dsd = to_dataset_dict(splits, task, report)
    docs = {name: dataset_documents(ds) for name, ds in dsd.items()}
    return TaskDocuments(task, docs, report, dsd)
