"""What may leave the machine: the checks a publish folder passes before any upload.

:func:`check_publish_folder` (used by :mod:`clinical_ner.hub`; :class:`PublishError` lists every
failure, never quoting note text or the token):

* every file is on the allow-list (:data:`ALLOWED_FILES`); known note-text carriers get a
  specific refusal (:data:`REFUSED_PATTERNS`); no sub-folders or links;
* the card parses and its model-index is valid and equals ``metrics.json``
  (:func:`clinical_ner.cards.validate_card`);
* ``config.json`` has real IOB2 labels (no ``LABEL_<n>``), consistent with ``label2id`` and the
  classifier's size in the weights;
* heuristics for note text: JSON string values longer than 12 words or 300 characters, and
  (when the training corpus folder is found, :func:`corpus_texts`) any run of 8 consecutive
  words shared with a corpus file (:func:`find_corpus_runs`);
* no absolute local path; the Hub token appears in no file.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from clinical_ner.cards import CardError, headline_measures, safetensors_summary, validate_card
from clinical_ner.labels import check_label_names
from clinical_ner.run_folder import ONNX_FILES

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
_ABS_PATH_RE = re.compile(
    r"(?<![\w.:/~-])(?:/(?:home|Users|tmp|root|mnt|scratch|work|data|srv|opt|var|private|media)"
    r"/[^\s\"'<>)]*|[A-Za-z]:\\[^\s\"'<>)]*)")
_WORD_RE = re.compile(r"[a-z]+")


class PublishError(ValueError):
    """The publish folder, or the upload, fails a check; ``problems`` lists every failure."""

    def __init__(self, problems, folder: Path | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.folder = folder
        where = f" {folder}" if folder else ""
        super().__init__(f"refusing to publish{where}:\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


def redact(text: str, token: str | None) -> str:
    return text.replace(token, "<hf-token>") if token else text


def basename(value: str) -> str:
    name = Path(str(value).rstrip("/\\").replace("\\", "/")).name
    return name or "<local>"


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
                       "skipped (the file allow-list still applies)", basename(str(data_dir)))
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
        raise PublishError([redact(p, token) for p in problems], folder)
    return sorted(names)
