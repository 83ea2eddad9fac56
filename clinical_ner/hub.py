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

Checks (:mod:`clinical_ner.publish_checks`; all run before any upload, dry run included;
:class:`PublishError` lists every failure, never quoting note text or the token):

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

import logging
import os
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clinical_ner.cards import (
    CardError,
    RunInfo,
    load_run,
    render_card,
    resolve_license,
)
from clinical_ner.files import write_json_atomic, write_text_atomic
from clinical_ner.models import resolve_base_model
from clinical_ner.publish_checks import (
    ALLOWED_FILES,
    REFUSED_PATTERNS,  # noqa: F401 - part of the publish API (tests name it through hub)
    TOKENIZER_FILES,
    PublishError,
    basename,
    check_publish_folder,
    corpus_texts,
    redact,
)
from clinical_ner.run_folder import onnx_files

logger = logging.getLogger("clinical_ner.hub")

#: Keys of the run arguments that hold local paths (reduced to their base name).
PATH_KEYS = frozenset({"output_dir", "logging_dir", "data_dir", "resume_from_checkpoint",
                       "cache_dir", "best_model_checkpoint", "best_checkpoint", "deepspeed",
                       "run_name", "tokenizer_name", "config_name", "label_map_file"})
_HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


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


class RedactToken(logging.Filter):
    """A logging filter that replaces the token in every record's message with ``<hf-token>``."""

    def __init__(self, token: str | None):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            msg = record.getMessage()
            if self.token in msg:
                record.msg, record.args = redact(msg, self.token), ()
        return True


def _is_local_path(value: str) -> bool:
    return (os.path.isabs(value) or value.startswith(("~", "./", "../", ".\\"))
            or bool(re.match(r"[A-Za-z]:\\", value)))


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
            return basename(obj)
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
                           f"{redact(f'{type(exc).__name__}: {exc}', token)}") from None
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
        print(redact(str(exc), redact.token), file=sys.stderr)
        return 2
    print(result.folder.resolve() if pub_args.dry_run else result.url)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    sys.exit(main())
