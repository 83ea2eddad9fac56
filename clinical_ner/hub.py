"""Publish a finished run to the Hugging Face Hub, safely.

    python -m clinical_ner.hub --run runs/phi_minilm --hub_model_id ORG/NAME --dry_run
    python -m clinical_ner.hub --run runs/phi_minilm --hub_model_id ORG/NAME [--hub_private false]
    make publish RUN=runs/phi_minilm HUB_ID=ORG/NAME DRY_RUN=1
    python train_ner.py ... --push_to_hub --hub_model_id ORG/NAME      # publish after training

Steps (:func:`publish`): render and validate the model card (:mod:`clinical_ner.cards`) ->
assemble the exact folder to upload (RUN/publish/ or ``--publish_dir``;
:func:`assemble_publish_folder`) -> check it (:func:`check_publish_folder`) -> with
``--dry_run`` stop and print the folder; otherwise ``HfApi.create_repo`` (private unless
``--hub_private false``) and ``HfApi.upload_folder`` of exactly the checked files.

The folder holds only: ``model.safetensors``, the tokenizer files, ``config.json`` (real
``id2label``), ``README.md`` (the card), ``metrics.json``, ``training_args.json`` (run
arguments with every key containing "token" removed and local paths reduced to base names) and
``clinical_ner.json`` (task, labels, window length/stride for inference).

Checks (all run before any upload, dry run included; :class:`PublishError` lists every
failure, never quoting note text or the token):

* every file is on the allow-list above; known note-text carriers get a specific refusal
  (``errors.local.*``, ``*.jsonl`` dumps, ``predictions*``, corpus files ``*.xml``/``*.ann``/
  ``*.txt`` other than the tokenizer vocabulary, datasets ``*.arrow``/``*.parquet``, pickles
  ``*.bin``/``*.pt``, logs, checkpoints, sub-folders);
* the card parses and its model-index is valid and equals ``metrics.json``
  (:func:`clinical_ner.cards.validate_card`);
* ``config.json`` has real IOB2 labels (no ``LABEL_<n>``), consistent with ``label2id`` and the
  classifier's size in the weights;
* heuristics for note text: JSON string values longer than 12 words or 300 characters, and (when
  the training corpus folder is found) any run of 8 consecutive words shared with a corpus file;
* no absolute local path (the run, output and corpus folders, the working and home folders);
* the Hub token (``--hub_token``, ``HF_TOKEN`` or the stored login) appears in no file.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clinical_ner.cards import (
    CardError,
    RunInfo,
    headline_measures,
    load_run,
    render_card,
    resolve_base_model,
    resolve_license,
    safetensors_summary,
    validate_card,
)
from clinical_ner.files import write_json_atomic, write_text_atomic
from clinical_ner.labels import check_label_names
from clinical_ner.run_folder import ONNX_FILES, onnx_files

logger = logging.getLogger("clinical_ner.hub")

#: Tokenizer files that may be published (vocabularies and tokenizer settings only).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.model")
#: Files that must be in the folder.
REQUIRED_FILES = ("model.safetensors", "config.json", "README.md", "metrics.json",
                  "training_args.json")
# ONNX_FILES (clinical_ner.run_folder): published at the folder's top level when the run has
# them (the layout ``optimum``'s ``ORTModelForTokenClassification`` loads with ``file_name=``).
#: Every file that may be published.
ALLOWED_FILES = frozenset(REQUIRED_FILES + TOKENIZER_FILES + ONNX_FILES + ("clinical_ner.json",))
#: Binary files (not scanned as text).
BINARY_FILES = frozenset({"model.safetensors", "spiece.model", "sentencepiece.bpe.model",
                          "tokenizer.model", *ONNX_FILES})
#: Vocabulary files (a word per entry: skipped by the word-run and JSON string heuristics).
VOCAB_FILES = frozenset({"tokenizer.json", "vocab.txt", "vocab.json", "merges.txt"})
#: (name pattern, reason) of files refused with a specific message; checked after the allow-list.
REFUSED_PATTERNS: tuple[tuple[str, str], ...] = (
    ("errors.local*", "error listings quote note text"),
    ("*.local.*", "local-only files hold note text or PHI (error listings, surrogate mappings)"),
    ("*.jsonl", "JSONL dumps hold documents or predictions (note text)"),
    ("pred*", "predictions hold note text"),
    ("*.xml", "corpus files hold note text"),
    ("*.ann", "brat annotation files hold note text"),
    ("*.bioc", "corpus files hold note text"),
    ("*.txt", "text files may hold notes (only the tokenizer's vocab.txt/merges.txt are "
              "published)"),
    ("*.arrow", "datasets files hold note text"),
    ("*.parquet", "datasets files hold note text"),
    ("dataset_info.json", "datasets files hold note text"),
    ("dataset_dict.json", "datasets files hold note text"),
    ("state.json", "datasets files hold note text"),
    ("*.csv", "tables may hold note text"),
    ("*.tsv", "tables may hold note text"),
    ("*.conll", "CoNLL files hold note text"),
    ("*.bio", "token files hold note text"),
    ("*.log", "logs may quote notes or the token"),
    ("*.bin", "pickles are not published (training_args.bin holds local paths and can hold "
              "the Hub token); weights go as safetensors"),
    ("*.pt", "pickles are not published"),
    ("*.pth", "pickles are not published"),
    ("*.pkl", "pickles are not published"),
    ("*.ckpt", "checkpoints are not published"),
    ("checkpoint-*", "checkpoints are not published"),
)
#: JSON string values longer than this many words (or characters) look like note text.
MAX_JSON_STRING_WORDS = 12
MAX_JSON_STRING_CHARS = 300
#: Length in words of a run shared with the corpus that is refused.
CORPUS_NGRAM = 8
#: Corpus files read for the word-run scan (suffixes) and the most bytes read.
CORPUS_SUFFIXES = (".xml", ".txt", ".ann", ".jsonl", ".json", ".conll", ".tsv", ".csv", ".bio")
MAX_CORPUS_BYTES = 500 * 2**20
#: Keys of the run arguments that hold local paths (reduced to their base name).
PATH_KEYS = frozenset({"output_dir", "logging_dir", "data_dir", "resume_from_checkpoint",
                       "cache_dir", "best_model_checkpoint", "best_checkpoint", "deepspeed",
                       "run_name", "tokenizer_name", "config_name", "label_map_file"})
_ABS_PATH_RE = re.compile(
    r"(?<![\w.:/~-])(?:/(?:home|Users|tmp|root|mnt|scratch|work|data|srv|opt|var|private|media)"
    r"/[^\s\"'<>)]*|[A-Za-z]:\\[^\s\"'<>)]*)")
_WORD_RE = re.compile(r"[a-z]+")
_HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class PublishError(ValueError):
    """The publish folder, or the upload, fails a check; ``problems`` lists every failure."""

    def __init__(self, problems, folder: Path | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.folder = folder
        where = f" {folder}" if folder else ""
        super().__init__(f"refusing to publish{where}:\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


@dataclass
class PublishArguments:
    """How to publish (shared by ``python -m clinical_ner.hub`` and ``train_ner.py``)."""

    hub_private: bool = field(default=True, metadata={
        "help": "Create the Hub repository private (default). Only an explicit "
                "`--hub_private false` makes a new repository public."})
    dry_run: bool = field(default=False, metadata={
        "help": "Write the exact folder that would be uploaded (RUN/publish/ or --publish_dir), "
                "print its path and stop: no Hub call, no token needed."})
    publish_dir: str | None = field(default=None, metadata={
        "help": "Folder to assemble the upload in (default: RUN/publish/)."})
    license: str = field(default="auto", metadata={
        "help": "Hub license id of the model card. 'auto' (default): the base model's license "
                "(apache-2.0 for minilm, distilbert, bert; mit for clinicalbert). The training "
                "data's license is noted in the card (PhysioNet deid corpus: GPL-2.0-or-later; "
                "pass --license gpl-2.0 to follow it)."})
    base_model: str | None = field(default=None, metadata={
        "help": "Hub id of the base model for the card, when the run used a local folder."})
    dataset_id: str | None = field(default=None, metadata={
        "help": "Dataset id for the card (default: the corpus folder's base name)."})
    dataset_name: str | None = field(default=None, metadata={
        "help": "Readable dataset name for the card."})
    benchmark: str | None = field(default=None, metadata={
        "help": "benchmark.py results file with this run's speed and size (default: "
                "RUN/benchmark.json, then benchmarks/results/real/results.json, when they list "
                "this run)."})
    scan_corpus: bool = field(default=True, metadata={
        "help": "Refuse files that share a run of 8 words with the training corpus, when the "
                "corpus folder recorded in run_args.json is found."})


@dataclass
class HubArguments:
    """What to publish where (``python -m clinical_ner.hub``)."""

    run: str = field(metadata={"help": "Finished run folder (train_ner.py --output_dir)."})
    hub_model_id: str = field(metadata={"help": "Hub repository, ORG/NAME."})


@dataclass
class PublishResult:
    """Outcome of :func:`publish`: the folder, the files in it, whether it went private and
    the commit URL (None for a dry run)."""

    folder: Path
    files: list[str]
    private: bool
    url: str | None = None


@dataclass
class PushRequest:
    """What ``train_ner.py --push_to_hub`` asked for (see :func:`claim_push`)."""

    hub_model_id: str
    token: str | None = field(default=None, repr=False)


# ------------------------------------------------------------------------------------ helpers

def check_hub_id(hub_model_id: str | None) -> str:
    """Return ``hub_model_id`` when it is ``ORG/NAME``; raises PublishError otherwise."""
    if not hub_model_id or not _HUB_ID_RE.fullmatch(hub_model_id):
        raise PublishError(f"--hub_model_id must be ORG/NAME, got {hub_model_id!r}")
    return hub_model_id


def local_token(explicit: str | None = None) -> str | None:
    """The Hub token without any network call: ``explicit``, else ``HF_TOKEN`` (or the older
    ``HUGGING_FACE_HUB_TOKEN``), else the stored login file. None when there is none."""
    if explicit:
        return explicit
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(var, "").strip():
            return os.environ[var].strip()
    try:
        from huggingface_hub import constants

        path = Path(constants.HF_TOKEN_PATH)
        if path.is_file():
            return path.read_text(encoding="utf-8").strip() or None
    except (ImportError, AttributeError, OSError):
        pass
    return None


def upload_token(explicit: str | None = None) -> str | None:
    """The token for an upload: :func:`local_token`, else ``huggingface_hub.get_token()``."""
    token = local_token(explicit)
    if token:
        return token
    from huggingface_hub import get_token

    return get_token()


def _redact(text: str, token: str | None) -> str:
    return text.replace(token, "<hf-token>") if token else text


class RedactToken(logging.Filter):
    """A logging filter that replaces the token in every record's message with ``<hf-token>``."""

    def __init__(self, token: str | None):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            msg = record.getMessage()
            if self.token in msg:
                record.msg, record.args = _redact(msg, self.token), ()
        return True


def _is_local_path(value: str) -> bool:
    return (os.path.isabs(value) or value.startswith(("~", "./", "../", ".\\"))
            or bool(re.match(r"[A-Za-z]:\\", value)))


def _basename(value: str) -> str:
    name = Path(str(value).rstrip("/\\").replace("\\", "/")).name
    return name or "<local>"


def sanitize_training_args(run_args: dict, train_results: dict | None = None) -> dict:
    """Run arguments (``run_args.json``) fit to publish, with ``train_results`` attached.

    Removes every key whose name contains ``token`` (any depth, case-insensitive) from the run
    arguments; reduces path values (keys in :data:`PATH_KEYS`, a local
    ``model_name_or_path``, and any other absolute or ``./``-relative string, or a string equal
    to one of those paths) to their base name. ``train_results`` (timings, counts) get the same
    path treatment. Returns a new dict ``{"model", "data", "training", ..., "train_results"}``.
    """
    known_paths: set[str] = set()

    def collect(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(v, str) and v and (k in PATH_KEYS or _is_local_path(v)):
                    known_paths.add(v)
                collect(v)
        elif isinstance(obj, list):
            for v in obj:
                collect(v)

    collect(run_args)
    collect(train_results or {})
    name = (run_args.get("model") or {}).get("model_name_or_path")
    if isinstance(name, str) and resolve_base_model(name)[0] is None:
        known_paths.add(name)

    def clean(obj, drop_tokens: bool):
        if isinstance(obj, dict):
            return {k: clean(v, drop_tokens) for k, v in obj.items()
                    if not (drop_tokens and "token" in str(k).lower())}
        if isinstance(obj, list):
            return [clean(v, drop_tokens) for v in obj]
        if isinstance(obj, str) and (obj in known_paths or _is_local_path(obj)):
            return _basename(obj)
        return obj

    out = clean(run_args, True)
    if train_results is not None:
        out["train_results"] = clean(train_results, False)
    return out


def _sanitize_config(config: dict) -> dict:
    config = dict(config)
    for key in ("_name_or_path", "name_or_path"):
        if isinstance(config.get(key), str) and _is_local_path(config[key]):
            config.pop(key)
    return config


# ----------------------------------------------------------------------------------- assemble

def assemble_publish_folder(run: RunInfo, out_dir: str | Path, card_text: str) -> Path:
    """Write the folder to upload: weights, tokenizer files, ``config.json`` (a local
    ``_name_or_path`` dropped), ``metrics.json``, ``clinical_ner.json``, ``training_args.json``
    (:func:`sanitize_training_args`), the ONNX exports when present (:func:`onnx_files`) and
    ``README.md`` = ``card_text``.

    An existing ``out_dir`` is emptied when it holds only files of :data:`ALLOWED_FILES`
    (a previous publish folder); otherwise PublishError (nothing is deleted). Raises
    PublishError when ``out_dir`` is the run folder or the run lacks weights or a tokenizer.
    Returns the folder.
    """
    out = Path(out_dir)
    if out.resolve() == run.path.resolve():
        raise PublishError("--publish_dir must not be the run folder itself")
    problems = []
    weights = run.path / "model.safetensors"
    if not weights.is_file():
        problems.append(f"{weights} missing: only safetensors weights are published")
    tok_files = [n for n in TOKENIZER_FILES if (run.path / n).is_file()]
    if not tok_files:
        problems.append(f"{run.path}: no tokenizer files ({', '.join(TOKENIZER_FILES[:4])}, ...)")
    if problems:
        raise PublishError(problems)
    if out.exists():
        entries = list(out.iterdir())
        others = [p.name for p in entries if p.name not in ALLOWED_FILES or not p.is_file()
                  or p.is_symlink()]
        if others:
            raise PublishError(f"{out} already holds {', '.join(sorted(others)[:5])}, which a "
                               "publish folder never has; choose an empty --publish_dir")
        for p in entries:
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, out / "model.safetensors")
    for n in tok_files:
        shutil.copyfile(run.path / n, out / n)
    for n in onnx_files(run.path):
        shutil.copyfile(run.path / "onnx" / n, out / n)

    def write_json(name: str, obj) -> None:
        write_json_atomic(out / name, obj, default=str)

    write_json("config.json", _sanitize_config(run.config))
    write_json("metrics.json", run.metrics)
    write_json("clinical_ner.json", run.task_info)
    write_json("training_args.json", sanitize_training_args(run.run_args, run.train_results))
    write_text_atomic(out / "README.md", card_text)
    return out


# --------------------------------------------------------------------------------------- checks

def _json_strings(obj) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _json_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _json_strings(v)
    elif isinstance(obj, str):
        yield obj


def _check_config(folder: Path) -> list[str]:
    problems = []
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"config.json unreadable: {exc}"]
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        return ["config.json has no id2label"]
    try:
        check_label_names(id2label)
    except ValueError as exc:
        problems.append(f"config.json: {exc}")
    if sorted(id2label, key=lambda k: int(k) if str(k).isdigit() else -1) != [
            str(i) for i in range(len(id2label))]:
        problems.append("config.json: id2label keys are not 0..n-1")
    bad = [v for v in id2label.values()
           if not isinstance(v, str) or not (v == "O" or re.fullmatch(r"[BI]-\S+", v))]
    if bad:
        problems.append(f"config.json: labels {bad[:3]} are not IOB2 (O, B-X, I-X)")
    label2id = config.get("label2id") or {}
    if {str(v): k for k, v in label2id.items()} != {str(k): v for k, v in id2label.items()}:
        problems.append("config.json: label2id does not mirror id2label")
    archs = config.get("architectures") or []
    if not any(str(a).endswith("ForTokenClassification") for a in archs):
        problems.append(f"config.json: architectures {archs} is not a token classifier")
    if (folder / "model.safetensors").is_file():
        try:
            info = safetensors_summary(folder / "model.safetensors")
        except CardError as exc:
            return problems + exc.problems
        heads = {k: s for k, s in info["shapes"].items() if k.endswith("classifier.weight")}
        for k, shape in heads.items():
            if shape and shape[0] != len(id2label):
                problems.append(f"model.safetensors: {k} has {shape[0]} outputs but id2label "
                                f"has {len(id2label)} labels")
        for k, v in info["metadata"].items():
            if not isinstance(v, str) or len(v) > 200:
                problems.append(f"model.safetensors: header metadata {k!r} is not a short "
                                "string")
    return problems


def _text_files(folder: Path, names: Iterable[str]) -> dict[str, str]:
    out = {}
    for n in names:
        if n in BINARY_FILES:
            continue
        try:
            out[n] = (folder / n).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            out[n] = (folder / n).read_bytes().decode("utf-8", "replace")
    return out


def corpus_texts(data_dir: str | Path | None, *, base: Path | None = None) -> Iterator[str]:
    """Texts of the corpus files under ``data_dir`` (suffixes in :data:`CORPUS_SUFFIXES`, at most
    :data:`MAX_CORPUS_BYTES`), for the word-run scan. A relative ``data_dir`` is looked up from
    the working folder, then from ``base``. Yields nothing when the folder is not found."""
    if not data_dir:
        return
    candidates = [Path(data_dir)] + ([base / data_dir] if base else [])
    root = next((p for p in candidates if p.exists()), None)
    if root is None:
        logger.warning("corpus folder %s not found: the word-run scan for note text is "
                       "skipped (the file allow-list still applies)", _basename(str(data_dir)))
        return
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()
                                                 and p.suffix.lower() in CORPUS_SUFFIXES)
    total = 0
    for p in files:
        total += p.stat().st_size
        if total > MAX_CORPUS_BYTES:
            logger.warning("corpus larger than %d MiB: the word-run scan covers part of it",
                           MAX_CORPUS_BYTES >> 20)
            return
        yield p.read_text(encoding="utf-8", errors="replace")


def find_corpus_runs(texts: dict[str, str], corpus: Iterable[str], n: int = CORPUS_NGRAM
                     ) -> dict[str, int]:
    """How many runs of ``n`` consecutive words (lower-cased ``[a-z]+``) each text shares with
    the corpus texts: ``{file name: count}`` for the files with at least one. The runs
    themselves are never returned (they would be note text)."""
    shingles: dict[tuple[str, ...], set[str]] = {}
    for name, text in texts.items():
        words = _WORD_RE.findall(text.lower())
        for i in range(len(words) - n + 1):
            shingles.setdefault(tuple(words[i:i + n]), set()).add(name)
    hits: dict[str, set] = {}
    if not shingles:
        return {}
    for doc in corpus:
        words = _WORD_RE.findall(doc.lower())
        for i in range(len(words) - n + 1):
            key = tuple(words[i:i + n])
            for name in shingles.get(key, ()):
                hits.setdefault(name, set()).add(key)
    return {name: len(keys) for name, keys in sorted(hits.items())}


def _file_contains(path: Path, needle: bytes, chunk: int = 8 * 2**20) -> bool:
    with open(path, "rb") as fh:
        tail = b""
        while True:
            block = fh.read(chunk)
            if not block:
                return False
            if needle in tail + block:
                return True
            tail = block[-(len(needle) - 1):] if len(needle) > 1 else b""


def check_publish_folder(folder: str | Path, *, token: str | None = None,
                         metric_scheme: str | None = None,
                         corpus: Iterable[str] | None = None,
                         local_paths: Iterable[str] = ()) -> list[str]:
    """Check a folder before upload; returns its file names (sorted) when every check passes.

    Checks, in order: entries (regular files on :data:`ALLOWED_FILES`; a specific refusal for
    known note-text carriers, see :data:`REFUSED_PATTERNS`; no sub-folders or links); required
    files; the card (:func:`clinical_ner.cards.validate_card` against the folder's
    ``metrics.json``, and every headline measure of ``metric_scheme``); ``config.json`` labels
    (no ``LABEL_<n>``, IOB2, ``label2id`` mirror, classifier size); JSON string values that
    look like note text; runs of 8 words shared with ``corpus`` texts; ``local_paths`` and
    absolute home/tmp/work paths in text files; the ``token`` in any file (binary included).
    Raises PublishError listing every problem (never the token or the note text itself).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PublishError(f"{folder} is not a folder")
    problems: list[str] = []
    names: list[str] = []
    for p in sorted(folder.iterdir()):
        if p.is_symlink() or not p.is_file():
            kind = "link" if p.is_symlink() else "folder"
            reason = next((r for pat, r in REFUSED_PATTERNS if fnmatch.fnmatch(p.name, pat)),
                          "only the model's own files are published")
            problems.append(f"{p.name}: a {kind} is not published ({reason})")
            continue
        if p.name in ALLOWED_FILES:
            names.append(p.name)
            continue
        reason = next((r for pat, r in REFUSED_PATTERNS if fnmatch.fnmatch(p.name.lower(), pat)),
                      None)
        problems.append(f"{p.name}: refused, {reason}" if reason else
                        f"{p.name}: not an expected model file (allowed: "
                        f"{', '.join(sorted(ALLOWED_FILES))})")
    problems += [f"{n} missing" for n in REQUIRED_FILES if n not in names]
    metrics = None
    if "metrics.json" in names:
        try:
            metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"metrics.json is not JSON: {exc}")
    if "README.md" in names:
        try:
            validate_card((folder / "README.md").read_text(encoding="utf-8"), metrics=metrics,
                          metric_scheme=metric_scheme if isinstance(metrics, dict) else None)
        except CardError as exc:
            problems += [f"README.md: {p}" for p in exc.problems]
        if isinstance(metrics, dict) and metric_scheme:
            try:
                headline_measures(metrics, metric_scheme)
            except CardError as exc:
                problems += exc.problems
    if "config.json" in names:
        problems += _check_config(folder)
    texts = _text_files(folder, names)
    for n, text in texts.items():
        if not n.endswith(".json") or n in VOCAB_FILES:
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            problems.append(f"{n} is not JSON: {exc}")
            continue
        long = [s for s in _json_strings(obj)
                if len(s.split()) > MAX_JSON_STRING_WORDS or len(s) > MAX_JSON_STRING_CHARS]
        if long:
            problems.append(f"{n}: {len(long)} string value(s) longer than "
                            f"{MAX_JSON_STRING_WORDS} words or {MAX_JSON_STRING_CHARS} "
                            "characters (looks like note text)")
    if corpus is not None:
        scanned = {n: t for n, t in texts.items() if n not in VOCAB_FILES}
        for n, count in find_corpus_runs(scanned, corpus).items():
            problems.append(f"{n}: shares {count} run(s) of {CORPUS_NGRAM} words with the "
                            "training corpus (note text?)")
    paths = {str(p) for p in local_paths if p and len(str(p)) > 1}
    for n, text in texts.items():
        found = sorted(p for p in paths if p in text)
        if n not in VOCAB_FILES:
            found += sorted(set(_ABS_PATH_RE.findall(text)) - set(found))
        if found:
            problems.append(f"{n}: contains local path(s) {', '.join(found[:3])}")
    if token:
        needle = token.encode("utf-8")
        problems += [f"{n}: contains the Hugging Face token" for n in names
                     if _file_contains(folder / n, needle)]
    if problems:
        raise PublishError([_redact(p, token) for p in problems], folder)
    return sorted(names)


def local_paths_of(run: RunInfo, publish_dir: Path) -> list[str]:
    """Absolute (and recorded relative) local paths that must not appear in published files:
    the run and publish folders, the corpus and base-model folders, the working and home
    folders."""
    data = run.run_args.get("data") or {}
    model = (run.run_args.get("model") or {}).get("model_name_or_path")
    training = run.run_args.get("training") or {}
    out = [str(run.path.resolve()), str(run.path), str(publish_dir.resolve()), str(Path.cwd())]
    home = str(Path.home())
    if home not in ("/", ""):
        out.append(home)
    for v in (data.get("data_dir"), training.get("output_dir"), training.get("logging_dir")):
        if isinstance(v, str) and ("/" in v or "\\" in v):
            out += [v, str(Path(v).resolve())]
    if isinstance(model, str) and resolve_base_model(model)[0] is None and "/" in model:
        out += [model, str(Path(model).resolve())]
    return sorted(set(out))


# ------------------------------------------------------------------------------------- upload

def upload(folder: Path, repo_id: str, files: list[str], *, private: bool = True,
           token: str | None = None) -> str:
    """Create the Hub repository (``private`` unless told otherwise) and upload exactly
    ``files`` of ``folder`` with ``HfApi.create_repo``, ``HfApi.repo_info`` and
    ``HfApi.upload_folder``. Returns the commit URL.

    Raises PublishError when there is no token, when ``private`` is asked for but the
    repository exists and is public, or when a Hub call fails (the token is redacted).
    """
    from huggingface_hub import HfApi

    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login` "
                           "(a --dry_run needs none)")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
        info = api.repo_info(repo_id=repo_id, repo_type="model")
        if private and getattr(info, "private", None) is not True:
            raise PublishError(f"{repo_id} already exists and is not private; refusing to "
                               "upload into it (make it private first, or pass "
                               "--hub_private false if it may be public)")
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=str(folder), repo_type="model",
            allow_patterns=list(files),
            commit_message="Upload clinical-ner model (weights, tokenizer, card, metrics)")
    except PublishError:
        raise
    except Exception as exc:  # noqa: BLE001 - any Hub failure, reported without the token
        raise PublishError(f"Hub upload to {repo_id} failed: "
                           f"{_redact(f'{type(exc).__name__}: {exc}', token)}") from None
    return str(getattr(commit, "commit_url", None) or commit)


def publish(run_dir: str | Path, hub_model_id: str, args: PublishArguments | None = None, *,
            token: str | None = None, corpus: Iterable[str] | None = None) -> PublishResult:
    """Render the card, assemble and check the publish folder, then upload it (or stop there
    with ``args.dry_run``).

    ``token``: explicit Hub token (else ``HF_TOKEN``/stored login; only an upload needs one, a
    dry run uses it just to check no file contains it). ``corpus``: texts for the word-run scan
    (default: the files of the run's ``data_dir`` when ``args.scan_corpus``). Raises CardError
    (run files, license, card) or PublishError (checks, upload).
    """
    args = args or PublishArguments()
    check_hub_id(hub_model_id)
    run = load_run(run_dir)
    card = render_card(run.path, hub_model_id, license=args.license, base_model=args.base_model,
                       dataset_id=args.dataset_id, dataset_name=args.dataset_name,
                       benchmark=args.benchmark)
    out = Path(args.publish_dir) if args.publish_dir else run.path / "publish"
    assemble_publish_folder(run, out, str(card))
    scheme = run.task_info.get("metric_scheme", "i2b2_2014")
    if corpus is None and args.scan_corpus:
        corpus = corpus_texts((run.run_args.get("data") or {}).get("data_dir"))
    check_token = local_token(token) if args.dry_run else upload_token(token)
    files = check_publish_folder(out, token=check_token, metric_scheme=scheme, corpus=corpus,
                                 local_paths=local_paths_of(run, out))
    if args.dry_run:
        return PublishResult(out, files, args.hub_private)
    url = upload(out, hub_model_id, files, private=args.hub_private, token=check_token)
    logger.info("uploaded %d files to %s (%s)", len(files), hub_model_id,
                "private" if args.hub_private else "public")
    return PublishResult(out, files, args.hub_private, url)


def claim_push(training_args, publish_args: PublishArguments | None = None,
               model_name_or_path: str | None = None) -> PushRequest | None:
    """For ``train_ner.py``: when ``training_args.push_to_hub`` is set, check the request
    before training (``--hub_model_id`` is ORG/NAME; the card license resolves) and turn
    ``push_to_hub`` off and take ``hub_token`` out of the arguments, so the Trainer never
    pushes checkpoints and the token is never pickled into ``training_args.bin``.

    Returns a :class:`PushRequest` for :func:`publish` after training, or None when not
    pushing. Raises PublishError or CardError before any training happens.
    """
    if not getattr(training_args, "push_to_hub", False):
        return None
    hub_id = check_hub_id(getattr(training_args, "hub_model_id", None))
    publish_args = publish_args or PublishArguments()
    base, base_license, _ = resolve_base_model(model_name_or_path, publish_args.base_model)
    resolve_license(publish_args.license, base_license, base)
    if getattr(training_args, "hub_private_repo", None) is False and publish_args.hub_private:
        logger.warning("--hub_private_repo false is ignored: clinical-ner publishes private "
                       "unless --hub_private false is given")
    token = getattr(training_args, "hub_token", None)
    training_args.push_to_hub = False
    training_args.hub_token = None
    return PushRequest(hub_id, token)


def main(argv: list[str] | None = None) -> int:
    """``python -m clinical_ner.hub``: publish a finished run (see the module docstring).
    Prints the publish folder (dry run) or the commit URL; returns 0, or 2 with the refusal
    on stderr."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser((HubArguments, PublishArguments))
    hub_args, pub_args = parser.parse_args_into_dataclasses(
        args=list(sys.argv[1:] if argv is None else argv))
    redact = RedactToken(local_token())
    for h in logging.getLogger().handlers:
        h.addFilter(redact)
    try:
        result = publish(hub_args.run, hub_args.hub_model_id, pub_args)
    except (CardError, PublishError) as exc:
        print(_redact(str(exc), redact.token), file=sys.stderr)
        return 2
    print(result.folder.resolve() if pub_args.dry_run else result.url)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    sys.exit(main())
