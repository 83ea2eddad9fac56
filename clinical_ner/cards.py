"""Model cards for finished runs: metadata, Markdown body and validation.

A run folder written by :func:`clinical_ner.training.train` holds everything a card needs
(``config.json``, ``metrics.json``, ``dev_metrics.json``, ``run_args.json``,
``train_results.json``, ``load_report.json``, ``clinical_ner.json``; optionally the run's row
of ``benchmark.py`` results, see :func:`benchmark_row`). :func:`render_card` turns it into a
``huggingface_hub.ModelCard``:

* metadata: a :class:`huggingface_hub.ModelCardData` (license, language, tags, base_model,
  datasets, metrics and a model-index built from ``EvalResult`` objects, one result per headline
  measure, see :func:`eval_results`);
* body: ``clinical_ner/templates/model_card.md.j2`` rendered by ``ModelCard.from_template`` with
  the context of :func:`card_context` (numbers only: counts, scores, hyperparameters; never note
  text).

:func:`validate_card` checks a card's text before anything is published and raises
:class:`CardError` listing every problem.

Model-index layout: the Hub groups ``EvalResult`` objects by (task, dataset type, config, split,
revision), so ``dataset.config`` carries the measure name (``strict``, ``hipaa_token``, ...) to
keep one result per measure; each result holds the micro ``f1``, ``precision`` and ``recall``
of that measure, exactly as in ``metrics.json``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from huggingface_hub import RepoCard
from safetensors import SafetensorError, safe_open

from clinical_ner.documents import FormatError
from clinical_ner.metrics import HEADLINE_MEASURES, MEASURE_DESCRIPTIONS
from clinical_ner.models import resolve_base_model
from clinical_ner.run_folder import (
    CONFIG,
    DEV_METRICS,
    LOAD_REPORT,
    METRICS,
    RUN_ARGS,
    SETTINGS,
    TRAIN_RESULTS,
    RunFolder,
    onnx_files,
)
from data_scripts import CORPORA
from data_scripts.i2b2_2014 import STUBBS_2015
from data_scripts.loader_common import Corpus

#: The Jinja template of the card body (front matter comes from ``ModelCardData``).
TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md.j2"

#: Files of a run folder the card is made from (``dev_metrics.json`` is optional too).
RUN_FILES = (CONFIG, METRICS, RUN_ARGS, TRAIN_RESULTS, LOAD_REPORT, SETTINGS)

#: Metric keys of ``metrics.json[measure]["micro"]`` reported in the model-index.
INDEX_METRICS = ("f1", "precision", "recall")

#: Results of ``benchmark.py`` (real mode) looked up for the run, relative to the working folder.
BENCHMARK_RESULTS = Path("benchmarks/results/real/results.json")
#: Benchmark row key -> card label (``clinical_ner.benchmark.rows``; MB = 10**6 bytes).
BENCHMARK_KEYS = (
    ("params", "parameters"), ("disk_mb_fp32", "disk, fp32 safetensors (MB)"),
    ("disk_mb_fp16", "disk, fp16 safetensors (MB)"), ("peak_mem_mb", "peak memory (MB)"),
    ("infer_tokens_per_s", "inference, note sub-tokens/s"),
    ("infer_notes_per_s", "inference, notes/s"), ("latency_p50_ms", "latency per note, p50 (ms)"),
    ("latency_p95_ms", "latency per note, p95 (ms)"),
    ("train_step_tokens_per_s", "training, tokens/s (timed optimizer steps)"),
    ("documents", "notes measured"), ("device", "device"), ("gpu", "GPU"), ("cpu", "CPU"),
    ("torch_threads", "torch threads"))

#: Tags every card carries (validated).
REQUIRED_TAGS = ("token-classification", "ner", "clinical")

#: Sections the card body must have (validated), as Markdown headings.
REQUIRED_SECTIONS = ("## Labels", "## Intended use and limits", "## Privacy note",
                     "## Training data", "## Training procedure", "## Evaluation",
                     "## Speed and size", "## How to use", "## Citation")

ABADEER_2020 = """@inproceedings{abadeer-2020-assessment,
  title = "Assessment of {D}istil{BERT} performance on Named Entity Recognition task for the detection of Protected Health Information and medical concepts",
  author = "Abadeer, Macarious",
  booktitle = "Proceedings of the 3rd Clinical Natural Language Processing Workshop",
  year = "2020",
  address = "Online",
  publisher = "Association for Computational Linguistics",
  url = "https://aclanthology.org/2020.clinicalnlp-1.18",
  doi = "10.18653/v1/2020.clinicalnlp-1.18",
  pages = "158--167"
}"""  # noqa: E501
class CardError(ValueError):
    """A model card, or the run it is made from, fails a check.

    ``problems`` lists every failure; the message shows them one per line.
    """

    def __init__(self, problems):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("model card check failed:\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


@dataclass
class RunInfo:
    """The JSON files of a finished run folder, parsed (see :func:`load_run`)."""

    path: Path
    config: dict
    metrics: dict
    run_args: dict
    train_results: dict
    load_report: dict
    task_info: dict
    dev_metrics: dict = field(default_factory=dict)
    benchmark: dict = field(default_factory=dict)


def benchmark_row(run_dir: str | Path, results: str | Path | None = None) -> dict:
    """The ``benchmark.py`` measurements of this run, or ``{}``.

    Looks in ``results`` when given, else in ``RUN/benchmark.json`` and then
    :data:`BENCHMARK_RESULTS`. A file may be a whole ``results.json`` (``rows`` with
    ``run_dir``; the first row without error whose ``run_dir`` is this run is taken, with the
    file's ``environment`` CPU/GPU names) or one row. Unreadable files are skipped.
    """
    run_dir = Path(run_dir).resolve()
    paths = [Path(results)] if results else [run_dir / "benchmark.json", BENCHMARK_RESULTS]
    for p in paths:
        try:
            data = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            continue
        rows = data.get("rows") if isinstance(data.get("rows"), list) else [data]
        env = data.get("environment") or {}
        for row in rows:
            if not isinstance(row, dict) or row.get("error"):
                continue
            rd = row.get("run_dir")
            if (rd and Path(rd).resolve() == run_dir) or (not rd and p.parent.resolve()
                                                           == run_dir):
                return {**{k: env[k] for k in ("cpu", "gpu") if isinstance(env, dict)
                           and env.get(k)}, **row, "_source": p.name,
                        "_mode": data.get("mode", "")}
    return {}


def load_run(run_dir: str | Path, benchmark: str | Path | None = None) -> RunInfo:
    """Read the JSON files of a finished run folder through
    :class:`~clinical_ner.run_folder.RunFolder` (and its benchmark row, see
    :func:`benchmark_row`; ``benchmark`` names a results file).

    Raises CardError naming every missing or unreadable file of :data:`RUN_FILES`
    (``dev_metrics.json`` is optional).
    """
    folder = RunFolder(run_dir)
    if not folder.exists():
        raise CardError(f"{folder.path}: not a run folder")
    data, problems = {}, []
    for name in RUN_FILES + (DEV_METRICS,):
        if not folder.has(name):
            if name in RUN_FILES:
                problems.append(f"{folder.file(name)}: missing (is this a finished train_ner.py "
                                "run?)")
            continue
        try:
            data[name] = folder.read_json(name)
        except (OSError, FormatError) as exc:
            problems.append(f"{folder.file(name)}: unreadable JSON ({exc.__cause__ or exc})")
    if problems:
        raise CardError(problems)
    return RunInfo(path=folder.path, config=data[CONFIG], metrics=data[METRICS],
                   run_args=data[RUN_ARGS], train_results=data[TRAIN_RESULTS],
                   load_report=data[LOAD_REPORT], task_info=data[SETTINGS],
                   dev_metrics=data.get(DEV_METRICS, {}),
                   benchmark=benchmark_row(folder.path, benchmark))


def resolve_license(option: str | None, base_license: str | None, base_model: str | None) -> str:
    """The card's license: ``option`` unless it is empty or ``"auto"``, else the base model's.

    Raises CardError when ``auto`` cannot tell the base model's license or the id is not a
    lower-case Hub license id (``apache-2.0``, ``mit``, ``gpl-2.0``, ``other``, ...).
    """
    lic = option if option and option != "auto" else base_license
    if not lic:
        raise CardError(f"cannot tell the license of base model {base_model or '(local)'}; "
                        "pass --license ID (e.g. apache-2.0, mit, gpl-2.0)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", lic):
        raise CardError(f"license {lic!r} is not a Hub license id (lower case, e.g. apache-2.0)")
    return lic


def resolve_corpus(data_dir: str | None, dataset_id: str | None = None,
                   dataset_name: str | None = None) -> Corpus:
    """The training corpus from the base name of ``data_dir`` (see :data:`CORPORA`);
    ``dataset_id``/``dataset_name`` override. Only base names reach the card, never paths.

    Raises CardError when no dataset id can be found (no ``data_dir`` and no override).
    """
    base = Path(str(data_dir).rstrip("/\\")).name if data_dir else ""
    known = CORPORA.get(base)
    if known is None:
        if not (dataset_id or base):
            raise CardError("the run has no data_dir; pass --dataset_id and --dataset_name")
        known = Corpus(id=base or str(dataset_id), name=base or str(dataset_id), license=None,
                       description="a local corpus (see its own documentation)")
    if dataset_id or dataset_name:
        known = Corpus(**{**known.__dict__, "id": dataset_id or known.id,
                          "name": dataset_name or dataset_id or known.name})
    return known


def headline_measures(metrics: dict, metric_scheme: str) -> list[str]:
    """The headline measures of ``metric_scheme`` that ``metrics`` holds, in card order.

    Raises CardError for an unknown scheme or when none is present.
    """
    if metric_scheme not in HEADLINE_MEASURES:
        raise CardError(f"unknown metric scheme {metric_scheme!r}")
    names = [m for m in HEADLINE_MEASURES[metric_scheme]
             if isinstance(metrics.get(m), dict) and "micro" in metrics[m]]
    if not names:
        raise CardError(f"metrics.json holds none of the {metric_scheme} measures "
                        f"{', '.join(HEADLINE_MEASURES[metric_scheme])}")
    return names


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def eval_results(metrics: dict, metric_scheme: str, corpus: Corpus, task_name: str):
    """``huggingface_hub.EvalResult`` list: per headline measure, micro f1/precision/recall.

    Every result has ``task_type="token-classification"``, string ``dataset_type`` (corpus id),
    ``dataset_name``, ``dataset_split`` (``metrics["split"]``) and ``dataset_config`` (the
    measure). Values are the ``metrics.json`` numbers unchanged. Raises CardError for a missing
    or non-finite value or a missing split.
    """
    from huggingface_hub import EvalResult

    split = metrics.get("split")
    if not isinstance(split, str) or not split:
        raise CardError("metrics.json has no 'split' (test or dev)")
    out, problems = [], []
    for m in headline_measures(metrics, metric_scheme):
        for key in INDEX_METRICS:
            value = metrics[m]["micro"].get(key)
            if not _finite(value):
                problems.append(f"metrics.json {m}.micro.{key} is {value!r}, not a number")
                continue
            out.append(EvalResult(
                task_type="token-classification", task_name=task_name,
                dataset_type=corpus.id, dataset_name=corpus.name, dataset_config=m,
                dataset_split=split, metric_type=key, metric_value=value,
                metric_name=f"{m} micro {'F1' if key == 'f1' else key}"))
    if problems:
        raise CardError(problems)
    return out


def _task_tags(task: str) -> list[str]:
    if task == "phi":
        return ["de-identification", "phi"]
    name = Path(str(task)).stem if str(task).endswith((".yaml", ".yml")) else str(task)
    return [re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "clinical-concepts"]


def _task_name(task: str, metric_scheme: str) -> str:
    if task == "phi":
        return "PHI detection (de-identification)"
    return f"Clinical concept recognition ({_task_tags(task)[0]})"


def card_data(run: RunInfo, repo_id: str, *, license: str = "auto", base_model: str | None = None,
              dataset_id: str | None = None, dataset_name: str | None = None):
    """The card metadata for a run as a ``huggingface_hub.ModelCardData``.

    ``repo_id`` is ``ORG/NAME`` (its NAME is the model-index name). Raises CardError when the
    license cannot be resolved or a measure is missing (see :func:`eval_results`).
    """
    from huggingface_hub import ModelCardData

    model_args = run.run_args.get("model", {})
    data_args = run.run_args.get("data", {})
    hub_id, base_license, _ = resolve_base_model(model_args.get("model_name_or_path"),
                                                 base_model)
    lic = resolve_license(license, base_license, hub_id)
    corpus = resolve_corpus(data_args.get("data_dir"), dataset_id, dataset_name)
    task = run.task_info.get("task") or data_args.get("task") or "phi"
    scheme = run.task_info.get("metric_scheme", "i2b2_2014")
    results = eval_results(run.metrics, scheme, corpus, _task_name(task, scheme))
    return ModelCardData(
        language=["en"], license=lic, library_name="transformers",
        pipeline_tag="token-classification",
        tags=[*REQUIRED_TAGS, *_task_tags(task), "clinical-ner"],
        base_model=hub_id, datasets=[corpus.id], metrics=list(INDEX_METRICS),
        model_name=repo_id.split("/")[-1], eval_results=results)


# ------------------------------------------------------------------------------------ context

def _f(x, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if _finite(x) else "n/a"


def _ci(micro: dict) -> str:
    ci = micro.get("f1_ci")
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_finite(v) for v in ci):
        return f"[{ci[0]:.3f}, {ci[1]:.3f}]"
    return "n/a"


def safetensors_summary(path: Path) -> dict:
    """Parameter count, file size and tensor shapes from a safetensors file's header (the
    weights are not loaded). Returns ``{"parameters", "bytes", "shapes", "metadata"}``.

    Raises CardError when the header cannot be read.
    """
    try:
        with safe_open(str(path), framework="numpy") as f:  # reads the header only
            meta = f.metadata() or {}
            shapes = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    except (OSError, SafetensorError) as exc:
        raise CardError(f"{path}: not a readable safetensors file ({exc})") from exc
    params = sum(math.prod(s) for s in shapes.values())
    return {"parameters": params, "bytes": path.stat().st_size, "shapes": shapes,
            "metadata": meta}


def _label_rows(run: RunInfo) -> list[dict]:
    spans = run.task_info.get("span_labels") or []
    per_label = run.load_report.get("per_label", {})
    main = run.metrics.get("strict") or run.metrics.get("exact") or {}
    per_type = main.get("per_type", {})
    rows = []
    for lab in spans:
        entity = lab.split("/")[-1]
        rows.append({"label": lab, "entity": entity,
                     "category": lab.split("/")[0] if "/" in lab else lab,
                     "corpus": per_label.get(lab, 0),
                     "test_support": per_type.get(entity, {}).get("support", 0)})
    return rows


def _hyperparameters(run: RunInfo, base_id: str | None, base_desc: str
                     ) -> list[tuple[str, str]]:
    t = run.run_args.get("training", {})
    d = run.run_args.get("data", {})
    steps = t.get("max_steps", -1)
    precision = "bf16" if t.get("bf16") else "fp16" if t.get("fp16") else "fp32"
    rows = [
        ("base model", f"{base_id} ({base_desc})" if base_id else base_desc),
        ("epochs", f"{t.get('num_train_epochs')}" + (f" (max_steps {steps})"
                                                      if steps and steps > 0 else "")),
        ("learning rate", f"{t.get('learning_rate')}"),
        *([("classification head learning rate", f"{m['head_learning_rate']}")]
          if (m := run.run_args.get("model", {})).get("head_learning_rate") else []),
        ("scheduler / warmup", f"{t.get('lr_scheduler_type')} / {t.get('warmup_steps')}"),
        ("batch size (per device x grad. accumulation)",
         f"{t.get('per_device_train_batch_size')} x {t.get('gradient_accumulation_steps', 1)}"),
        ("weight decay", f"{t.get('weight_decay')}"),
        ("optimizer", f"{t.get('optim')}"),
        ("precision", precision),
        ("window length / stride (sub-tokens)",
         f"{d.get('max_seq_length')} / {d.get('doc_stride')}"),
        ("windows without entities kept (fraction)", f"{d.get('negative_window_keep')}"),
        ("label granularity", f"{d.get('label_granularity')}"),
        ("seed", f"{t.get('seed')}"),
        ("checkpoint selection",
         f"best dev {t.get('metric_for_best_model')} (whole dev notes)"
         if t.get("load_best_model_at_end") else "last checkpoint"),
    ]
    if d.get("max_train_documents"):
        rows.append(("training notes used (first N)", f"{d['max_train_documents']}"))
    return rows


def _windows_line(tr: dict, data_args: dict) -> str:
    """Training windows in words, for both layouts of ``train_results.json``."""
    n = tr.get("train_windows")
    if n is None:
        return "n/a"
    if "train_windows_with_entities" in tr:
        line = f"{n} ({tr['train_windows_with_entities']} with an entity)"
        per_epoch = tr.get("train_windows_per_epoch")
        if per_epoch is not None and per_epoch != n:
            line += (f"; {per_epoch} per epoch: every window with an entity and a fraction "
                     f"{data_args.get('negative_window_keep')} of the others, redrawn each epoch")
        return line
    before = tr.get("train_windows_before_negative_sampling")
    return f"{n} (of {before} before dropping windows without entities)" if before else f"{n}"


def _benchmark_rows(bench: dict) -> list[tuple[str, str]]:
    rows = []
    for key, label in BENCHMARK_KEYS:
        v = bench.get(key)
        if _finite(v):
            rows.append((label, f"{v:,.4g}" if isinstance(v, float) else f"{v:,}"))
        elif isinstance(v, str) and v and len(v) <= 80:
            rows.append((label, v))
    return rows


def card_context(run: RunInfo, repo_id: str, *, license: str, base_model: str | None = None,
                 dataset_id: str | None = None, dataset_name: str | None = None) -> dict:
    """Template variables for ``clinical_ner/templates/model_card.md.j2``: formatted strings and
    rows of counts and scores taken from the run's JSON files (no note text, no local paths).

    Raises CardError when the weights' header cannot be read or measures are missing.
    """
    model_args = run.run_args.get("model", {})
    data_args = run.run_args.get("data", {})
    hub_id, _, base_desc = resolve_base_model(model_args.get("model_name_or_path"), base_model)
    corpus = resolve_corpus(data_args.get("data_dir"), dataset_id, dataset_name)
    task = run.task_info.get("task") or data_args.get("task") or "phi"
    scheme = run.task_info.get("metric_scheme", "i2b2_2014")
    m = run.metrics
    measures = headline_measures(m, scheme)
    main = "strict" if "strict" in measures else measures[0]
    measure_rows = [{"name": k, "description": MEASURE_DESCRIPTIONS.get(k, ""),
                     "p": _f(m[k]["micro"].get("precision")), "r": _f(m[k]["micro"].get("recall")),
                     "f1": _f(m[k]["micro"].get("f1")), "ci": _ci(m[k]["micro"])}
                    for k in measures]

    def grouped(key: str) -> list[dict]:
        table = m.get(main, {}).get(key, {}) or {}
        return [{"name": name, "support": v.get("support", 0), "p": _f(v.get("precision")),
                 "r": _f(v.get("recall")), "f1": _f(v.get("f1"))}
                for name, v in sorted(table.items(), key=lambda kv: (-kv[1].get("support", 0),
                                                                     kv[0]))]

    weights = safetensors_summary(run.path / "model.safetensors")
    tr = run.train_results
    speed = [("parameters", f"{weights['parameters']:,}"),
             ("weights file (safetensors)", f"{weights['bytes'] / 2**20:,.1f} MiB")]
    if _finite(m.get("inference_seconds")) and m.get("documents"):
        speed.append((f"{m.get('split')} split inference after training ({m['documents']} "
                      f"notes, {tr.get('device', '?')})",
                      f"{m['inference_seconds']:.1f} s ({m['documents'] / max(m['inference_seconds'], 1e-9):.1f} notes/s)"))  # noqa: E501
    if _finite(tr.get("train_tokens_per_second")):
        speed.append(("training throughput", f"{tr['train_tokens_per_second']:,.0f} sub-tokens/s"))
    best = tr.get("best_checkpoint")
    splits = (run.load_report.get("splits") or {}).get("documents", {})
    dev_main = (run.dev_metrics.get(main) or {}).get("micro", {})
    lic_note = corpus.license_note or (
        f"The training corpus is licensed {corpus.license}." if corpus.license else
        "The training corpus's license is not recorded here: check it, and its data-use "
        "agreement, before publishing.")
    citations = [ABADEER_2020, *corpus.citations]
    if run.task_info.get("format") == "i2b2_2014" or scheme == "i2b2_2014":
        citations.append(STUBBS_2015)
    secs = tr.get("train_seconds")
    return {
        "repo_id": repo_id, "model_name": repo_id.split("/")[-1],
        "is_phi": task == "phi", "task": str(_task_tags(task)[0] if task != "phi" else "phi"),
        "task_name": _task_name(task, scheme), "metric_scheme": scheme,
        "label_granularity": run.task_info.get("label_granularity",
                                               data_args.get("label_granularity")),
        "base_model": hub_id, "base_model_description": base_desc, "license": license,
        "corpus": corpus, "corpus_license_note": lic_note,
        "labels": _label_rows(run),
        "n_bio_labels": len(run.config.get("id2label", {})),
        "counts": {"documents": run.load_report.get("documents"),
                   "characters": run.load_report.get("characters"),
                   "spans": run.load_report.get("spans"),
                   "splits": {k: splits[k] for k in ("train", "dev", "test") if k in splits},
                   "problems": len(run.load_report.get("problems") or []),
                   "train_documents": tr.get("train_documents"),
                   "train_windows": _windows_line(tr, data_args)},
        "hyperparameters": _hyperparameters(run, hub_id, base_desc),
        "hardware": {"device": tr.get("device", "unknown"),
                     "torch_threads": tr.get("torch_threads"),
                     "train_time": (f"{secs:,.0f} s ({secs / 60:.1f} min)" if _finite(secs)
                                    else "n/a"),
                     "global_steps": tr.get("global_steps"),
                     "best_checkpoint": Path(best).name if best else "n/a",
                     "best_dev": _f(tr.get("best_dev_strict_f1"))},
        "eval": {"split": m.get("split"), "documents": m.get("documents"),
                 "gold_spans": m.get("gold_spans"), "pred_spans": m.get("pred_spans"),
                 "bootstrap": data_args.get("bootstrap", 0), "main": main,
                 "dev_f1": _f(dev_main.get("f1")), "dev_ci": _ci(dev_main) if dev_main else "n/a"},
        "measures": measure_rows, "per_type": grouped("per_type"),
        "per_category": grouped("per_category") if scheme == "i2b2_2014" else [],
        "speed": speed, "benchmark": _benchmark_rows(run.benchmark),
        "benchmark_source": run.benchmark.get("_source", ""),
        "max_seq_length": run.task_info.get("max_seq_length", data_args.get("max_seq_length")),
        "doc_stride": run.task_info.get("doc_stride", data_args.get("doc_stride")),
        "citations": citations,
        "onnx_files": _onnx_files(run.path),
    }


def _onnx_files(run_dir) -> list[str]:
    return onnx_files(run_dir) if run_dir else []


def render_card(run_dir: str | Path, repo_id: str, *, license: str = "auto",
                base_model: str | None = None, dataset_id: str | None = None,
                dataset_name: str | None = None, benchmark: str | Path | None = None,
                template: str | Path = TEMPLATE):
    """Render the model card of a finished run (``huggingface_hub.ModelCard``; ``str(card)``
    is the README.md text) and validate it with :func:`validate_card`.

    ``license="auto"`` takes the base model's license (apache-2.0 for MiniLM, DistilBERT and
    BERT; mit for Bio+ClinicalBERT); ``base_model``/``dataset_id``/``dataset_name`` override
    what the run records; ``benchmark`` names a ``benchmark.py`` results file (default: see
    :func:`benchmark_row`). Raises CardError (missing run files, unknown license, missing or
    invalid measures, a card that fails validation) or FileNotFoundError (no template).
    """
    from huggingface_hub import ModelCard

    run = load_run(run_dir, benchmark)
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo_id or ""):
        raise CardError(f"hub model id {repo_id!r} is not ORG/NAME")
    data = card_data(run, repo_id, license=license, base_model=base_model,
                     dataset_id=dataset_id, dataset_name=dataset_name)
    ctx = card_context(run, repo_id, license=data.license, base_model=base_model,
                       dataset_id=dataset_id, dataset_name=dataset_name)
    template = Path(template)
    if not template.is_file():
        raise FileNotFoundError(f"model card template {template} not found")
    card = ModelCard.from_template(data, template_path=str(template), **ctx)
    validate_card(str(card), metrics=run.metrics, metric_scheme=ctx["metric_scheme"])
    return card


# --------------------------------------------------------------------------------- validation

def split_front_matter(text: str) -> tuple[dict, str]:
    """``(metadata dict, body)`` of a README with a YAML front matter block, read by
    ``huggingface_hub.RepoCard`` (the metadata as written: the model-index is not converted).

    Raises CardError when the block is missing, is not valid YAML or is not a mapping.
    """
    try:
        card = RepoCard(text)
    except yaml.YAMLError as exc:
        raise CardError(f"the card's metadata is not valid YAML: {exc}") from exc
    except ValueError as exc:  # "repo card metadata block should be a dict"
        raise CardError("the card's metadata is not a mapping") from exc
    if card.text == text:
        raise CardError("the card has no YAML metadata block (--- ... ---) at the top")
    return card.data.to_dict(), card.text


def _str_list(v) -> bool:
    if isinstance(v, str):
        return bool(v)
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) and x for x in v)


def _check_model_index(mi) -> list[str]:
    problems = []
    if not isinstance(mi, list) or len(mi) != 1 or not isinstance(mi[0], dict):
        return ["model-index must be a list holding one model"]
    entry = mi[0]
    if not isinstance(entry.get("name"), str) or not entry["name"]:
        problems.append("model-index name must be a non-empty string")
    results = entry.get("results")
    if not isinstance(results, list) or not results:
        return problems + ["model-index has no results"]
    seen = set()
    for i, r in enumerate(results):
        where = f"model-index result {i}"
        if not isinstance(r, dict):
            problems.append(f"{where} is not a mapping")
            continue
        task = r.get("task")
        if not isinstance(task, dict) or task.get("type") != "token-classification":
            problems.append(f"{where}: task.type must be 'token-classification'")
        ds = r.get("dataset")
        if not isinstance(ds, dict):
            problems.append(f"{where}: dataset missing")
        else:
            for key in ("name", "type", "split"):
                if key not in ds:
                    problems.append(f"{where}: dataset.{key} missing")
            for key, v in ds.items():
                if not isinstance(v, str) or not v.strip():
                    problems.append(f"{where}: dataset.{key} is {v!r}, not a non-empty string")
            ident = (ds.get("type"), ds.get("config"), ds.get("split"))
            if ident in seen:
                problems.append(f"{where}: duplicates dataset/config/split {ident}")
            seen.add(ident)
        mets = r.get("metrics")
        if not isinstance(mets, list) or not mets:
            problems.append(f"{where}: no metrics")
            continue
        for j, met in enumerate(mets):
            if not isinstance(met, dict) or not isinstance(met.get("type"), str):
                problems.append(f"{where} metric {j}: type must be a string")
            elif not _finite(met.get("value")):
                problems.append(f"{where} metric {j} ({met['type']}): value "
                                f"{met.get('value')!r} is not a finite number")
    return problems


def model_index_values(card_text: str) -> dict[tuple[str, str], float]:
    """``{(measure, metric): value}`` read back from a card's model-index through
    ``huggingface_hub``: ``ModelCard`` parsing and ``model_index_to_eval_results`` (the measure
    is each result's ``dataset.config``).

    Raises CardError when the card or its model-index cannot be parsed.
    """
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    try:
        card = ModelCard(card_text)
        meta, _ = split_front_matter(card_text)
        _, results = model_index_to_eval_results(meta["model-index"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CardError(f"the model-index cannot be parsed by huggingface_hub: {exc}") from exc
    if not card.data.eval_results or len(card.data.eval_results) != len(results):
        raise CardError("ModelCardData did not load the model-index results")
    return {(r.dataset_config, r.metric_type): r.metric_value for r in results}


def validate_card(card_text: str, *, metrics: dict | None = None,
                  metric_scheme: str | None = None):
    """Check a README.md card before publishing; returns the parsed ``ModelCard``.

    Checks: the front matter parses (YAML, then ``huggingface_hub.ModelCard`` with its
    model-index); license, language, tags (``token-classification``, ``ner``, ``clinical``),
    metrics and datasets (non-empty strings), base_model (a string when present),
    ``pipeline_tag: token-classification``; the model-index has one model, results with
    ``task.type: token-classification`` and string ``dataset.name``/``type``/``split`` (no null
    or non-string dataset field) and finite metric values; it round-trips through
    ``model_index_to_eval_results`` and, when ``metrics`` is given, every value equals
    ``metrics[measure]["micro"][metric]`` and every headline measure of ``metric_scheme`` is
    there; no ``LABEL_<n>`` placeholder label anywhere; the required sections are present.
    Raises CardError listing every problem.
    """
    from huggingface_hub import ModelCard

    meta, body = split_front_matter(card_text)
    problems = []
    try:
        card = ModelCard(card_text)
    except ValueError as exc:
        raise CardError(f"huggingface_hub cannot parse the card metadata: {exc}") from exc
    lic = meta.get("license")
    if not isinstance(lic, str) or not lic:
        problems.append("metadata: license missing")
    if not _str_list(meta.get("language")):
        problems.append("metadata: language missing")
    tags = meta.get("tags")
    if not _str_list(tags):
        problems.append("metadata: tags must be a list of strings")
    else:
        problems += [f"metadata: tag {t!r} missing" for t in REQUIRED_TAGS if t not in tags]
    ds = meta.get("datasets")
    if not isinstance(ds, list) or not ds or not all(isinstance(x, str) and x for x in ds):
        problems.append(f"metadata: datasets must be a list of non-empty strings, got {ds!r}")
    if not _str_list(meta.get("metrics")):
        problems.append("metadata: metrics must be a list of strings")
    if "base_model" in meta and not _str_list(meta["base_model"]):
        problems.append(f"metadata: base_model is {meta['base_model']!r}, not a string")
    if meta.get("pipeline_tag") != "token-classification":
        problems.append("metadata: pipeline_tag must be token-classification")
    if "model-index" not in meta:
        problems.append("metadata: model-index missing")
    else:
        problems += _check_model_index(meta["model-index"])
    if not problems:
        values = model_index_values(card_text)
        if metrics is not None:
            for (measure, key), v in values.items():
                want = (metrics.get(measure) or {}).get("micro", {}).get(key)
                if want != v:
                    problems.append(f"model-index {measure} {key} = {v!r} but metrics.json "
                                    f"has {want!r}")
            if metric_scheme:
                for measure in headline_measures(metrics, metric_scheme):
                    if (measure, "f1") not in values:
                        problems.append(f"model-index lacks the {measure} F1")
    bad = sorted(set(re.findall(r"\bLABEL_\d+\b", card_text)))
    if bad:
        problems.append(f"the card shows placeholder labels {', '.join(bad[:5])}")
    problems += [f"the card lacks the section '{s}'" for s in REQUIRED_SECTIONS
                 if not re.search(rf"^{re.escape(s)}\b", body, flags=re.M)]
    if problems:
        raise CardError(problems)
    return card
