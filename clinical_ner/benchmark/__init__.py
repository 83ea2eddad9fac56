"""Speed, size, memory and F1 of NER models side by side (``benchmark.py``).

Two modes:

* **real** (default): for each model x task, a finished run folder (``--runs minilm=runs/x`` or
  ``runs/<task>_<model>``; trained with ``train_ner.py`` when missing) is measured on the whole
  notes of one split (default test) of the corpus, read with the run's own corpus settings
  (:func:`clinical_ner.task_data.load_task_documents`);
* **architecture-only** (``--architecture_only``): randomly initialised models built from the real
  configurations (DistilBERT-base, BERT-base; BioBERT and Bio_ClinicalBERT share BERT-base) with
  the real tokenizers' vocabulary size, fed the real corpus' windows, so runtime, disk and memory
  ratios can be measured with no Hub access. Scores are null there.

Size and peak memory are measured in a fresh subprocess per model (``python -m
clinical_ner.benchmark.worker SPEC OUT``) so that the peak is the model's own (CPU: peak resident
set size, which never goes down within a process; GPU: ``torch.cuda.max_memory_allocated``).
Times are measured in one more subprocess holding all models, their passes and steps
interleaved, so that load from other jobs on shared cores falls on every model alike.

Units and definitions (also written into ``results.json`` under ``definitions``): MB = 10**6
bytes everywhere; disk = bytes of the ``*.safetensors`` files written by ``save_pretrained``
(fp32, and an fp16 copy of the same state dict), header included; inference tokens = the notes'
sub-tokens (no special tokens, overlapping window parts counted once); inference pass = all
selected notes through :func:`clinical_ner.inference.predict_documents`, figures the median of
the timed passes after a warm-up; latency = one note per call, p50/p95 over the notes; training
steps = full optimizer steps on pre-collated batches drawn evenly across one epoch's batch
order. Side by side (real mode): against ``transformers.pipeline("token-classification",
aggregation_strategy="first", stride=...)`` note by note, and training with this project's
batching against every window padded to ``max_seq_length``.

Modules, in the order of the flow:

* :mod:`~clinical_ner.benchmark.settings`: ``BenchmarkArguments``, mode defaults, worker specs;
* :mod:`~clinical_ner.benchmark.sizes`: real architectures, parameters, disk, process memory;
* :mod:`~clinical_ner.benchmark.spans`: sub-tokens, windows, padded positions, span comparison;
* :mod:`~clinical_ner.benchmark.timing`: interleaved passes and optimizer steps, statistics;
* :mod:`~clinical_ner.benchmark.context`: one model with its notes, ready to measure;
* :mod:`~clinical_ner.benchmark.side_by_side`: against the pipeline and pad-to-max;
* :mod:`~clinical_ner.benchmark.worker`: the memory and timing workers (subprocesses);
* :mod:`~clinical_ner.benchmark.rows`: results rows, ratios, the side-by-side summary;
* :mod:`~clinical_ner.benchmark.run`: the whole run, ``results.json``;
* :mod:`~clinical_ner.benchmark.report`, :mod:`~clinical_ner.benchmark.plots`: results.md, PNGs;
* :mod:`~clinical_ner.benchmark.backends`: ``--backends``, inference backends side by side.
"""
