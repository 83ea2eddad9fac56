"""Apply a trained model to new notes: spans and de-identified text out, streaming.

Layer 5. :func:`run_prediction` reads the notes of ``--input`` one at a time
(:func:`iter_notes`: ``.txt`` files, JSONL records, i2b2 2014 XML or brat), collects them in
chunks of ``--chunk_size`` notes, predicts each chunk with the run's task, windows and batching
(:func:`clinical_ner.inference.predict_documents`, the code path of ``eval_ner.py --model``),
redacts it (:func:`clinical_ner.redaction.redact`) and writes it before reading on, so memory
does not grow with the number of notes. Files in ``--output_dir``:

* ``predictions.jsonl``: one line per note, ``{"id", "spans": [{"start", "end", "label",
  "score", "out_start", "out_end"}]}`` (offsets into the input text and, when redacting, into
  the de-identified text; ``score``: the span's mean probability). A note's line is written
  after its de-identified file, so a line means the note is done: a rerun (``--resume``, the
  default) skips those notes and a killed run loses at most the chunk it was writing.
* ``deid/``: de-identified notes in the input's format (``<id>.txt``; i2b2 2014 XML with the
  new ``<TEXT>`` and the predicted tags at their new offsets, checked to read back; brat
  ``.txt`` + ``.ann``; JSONL records ``{"id", "text", "spans"}``, other fields not copied as they
  are not de-identified). Each file is written atomically (temporary file + ``os.replace``).
* ``summary.json``: counts only (notes, characters, spans per label, skipped notes with their
  file and reason, seconds, notes/s, ``inference_seconds``, peak memory, settings, with
  ``--gold`` the leak report); no note text and never the surrogate key.
* ``surrogates.local.jsonl`` (``--redact surrogate``): ``{"patient", "label", "original",
  "surrogate"}`` once per patient and original. It holds PHI: local only (the ``*.local.*``
  pattern is git-ignored and refused by the publish step).

A folder is refused when it holds anything else than these outputs (a user's files are never
overwritten), or a previous run when ``--resume false``.

Several processes (``accelerate launch --num_processes N predict_ner.py ...``, CPU or GPU, one
machine or several, :func:`clinical_ner.inference.process_state`): every process reads every
note (so all agree on skipped and repeated notes) and predicts, redacts and writes the chunks of
``--chunk_size`` notes whose number ``c`` has ``c % N`` equal to its rank (:func:`chunk_owner`),
each note exactly once. The chunks are those of one process, so are the batches: int8 backends,
whose activations are quantized per batch, also give the spans of one process. Processes write
their lines to
``parts/g<generation>.r<rank>.*`` (each line prefixed by the note's input position); at the end
the main process merges them into ``predictions.jsonl``, ``surrogates.local.jsonl`` and
``deid/*.jsonl`` in input order (:func:`merge_parts`) and writes ``summary.json`` with the counts
of all processes, so the outputs equal those of one process. Per-note files of ``deid/`` are
written by their process directly. A killed multi-process run leaves its parts; the next run
(with any number of processes) counts their notes as done and merges them. ``--redact
surrogate`` on N > 1 processes needs a given key (a random one would differ per process).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from clinical_ner.documents import FormatError, Span
from clinical_ner.files import write_json_atomic, write_text_atomic
from clinical_ner.note_files import (  # noqa: F401  (re-exported: the reading API)
    INPUT_FORMATS,
    Note,
    count_notes,
    iter_notes,
    patient_of,
)
from clinical_ner.prediction_outputs import (  # noqa: F401  (re-exported: the output API)
    PARTS_DIR,
    _append,
    _complete_lines,
    _iter_complete_lines,
    _write_lines_atomic,
    done_ids,
    merge_parts,
    part_files,
    part_line,
    write_deid,
)
from clinical_ner.run_folder import SAVED_SETTINGS, CorpusSettings, RunFolder

logger = logging.getLogger("clinical_ner")

#: Default ``--group_by``: the i2b2 ``PPP-RR`` record id's patient prefix.
DEFAULT_GROUP_BY = r"^(\d+)-\d+"
#: Environment variable read when ``--surrogate_key`` is not given.
KEY_ENV = "CLINICAL_NER_SURROGATE_KEY"
#: The entries of an output folder this tool writes (anything else makes it refuse the folder).
OWN_OUTPUTS = ("predictions.jsonl", "summary.json", "surrogates.local.jsonl", "deid", "parts")
#: Settings that must not change between a run and its resumption.
RESUME_SETTINGS = ("model", "input", "format", "redact", "threshold", "thresholds_file",
                   "window_merge", "group_by", "locale", "max_seq_length", "doc_stride",
                   "surrogate_key_fingerprint")


@dataclass
class PredictArguments:
    """Arguments of ``predict_ner.py``."""

    model: str = field(default=None, metadata={
        "help": "Run folder written by train_ner.py (task and window settings from its "
                "clinical_ner.json)."})
    input: str = field(default=None, metadata={
        "help": "Notes: a .txt file or folder of them (text), a .jsonl file or folder (jsonl), "
                "a folder (or file) of i2b2 2014 XML, or a brat folder."})
    format: str = field(default="text", metadata={
        "help": "Input format; de-identified notes are written in it.",
        "choices": list(INPUT_FORMATS)})
    output_dir: str = field(default=None, metadata={
        "help": "Output folder (predictions.jsonl, deid/, summary.json, surrogates.local.jsonl)."})
    redact: str = field(default="tag", metadata={
        "help": "none (spans only), tag ([PATIENT]), mask (****) or surrogate (realistic, "
                "consistent per patient).", "choices": ["none", "tag", "mask", "surrogate"]})
    threshold: float = field(default=None, metadata={
        "help": "Recall first: a token is PHI unless P(O) >= THRESHOLD (default: arg-max)."})
    thresholds_file: str = field(default=None, metadata={
        "help": "YAML of per-type thresholds (TYPE or CATEGORY/TYPE: P, optional default: P); "
                "--threshold is the default for types it does not list."})
    batch_size: int = field(default=32, metadata={"help": "Inference batch size (windows)."})
    chunk_size: int = field(default=64, metadata={
        "help": "Notes read, predicted and written together (memory and the most a killed run "
                "loses)."})
    resume: bool = field(default=True, metadata={
        "help": "Skip notes already in OUTPUT_DIR/predictions.jsonl (false: refuse a folder "
                "with a previous run)."})
    on_error: str = field(default="stop", metadata={
        "help": "An unreadable note (bad encoding, empty, bad record): stop, or skip it (named "
                "and counted in summary.json).", "choices": ["stop", "skip"]})
    group_by: str = field(default=DEFAULT_GROUP_BY, metadata={
        "help": "Regex on the note id giving its patient (group 1, else the match); a JSONL "
                "'patient' field wins; no match: the note is its own patient."})
    surrogate_key: str = field(default=None, metadata={
        "help": f"Key of the surrogates (default: env {KEY_ENV}; else a random key per run, "
                "never written: surrogates cannot be recomputed and the run cannot resume)."})
    locale: str = field(default="en_US", metadata={
        "help": "Faker locale of surrogates (a JSONL 'locale' field wins for its note)."})
    window_merge: str = field(default="central", metadata={
        "help": "central or longest (as eval_ner.py).", "choices": ["central", "longest"]})
    max_seq_length: int = field(default=None, metadata={
        "help": "Window length in sub-tokens (default: the run's)."})
    doc_stride: int = field(default=None, metadata={
        "help": "Window overlap in sub-tokens (default: the run's)."})
    device: str = field(default=None, metadata={
        "help": "Inference device (default: cuda when available, else cpu)."})
    backend: str = field(default="torch", metadata={
        "help": "torch or onnx (as eval_ner.py).", "choices": ["torch", "onnx"]})
    precision: str = field(default="fp32", metadata={
        "help": "fp32, int8, fp16 or bf16 (as eval_ner.py).",
        "choices": ["fp32", "int8", "fp16", "bf16"]})
    threads_per_process: int = field(default=None, metadata={
        "help": "Intra-op threads of torch / ONNX Runtime per process (default: the library's "
                "with one process; the machine's cores / processes on it with several)."})
    gold: bool = field(default=False, metadata={
        "help": "Read the input's gold tags (i2b2_2014, brat, jsonl) and report residual PHI "
                "and over-redaction in summary.json (leak)."})
    disable_tqdm: bool = field(default=False, metadata={"help": "No progress bar."})


# ------------------------------------------------------------------------------ the run


def check_output_dir(out: Path, resume: bool) -> bool:
    """Check ``out`` before any work: create it when missing; refuse (ValueError) a folder
    holding anything but :data:`OWN_OUTPUTS` (and our temporary ``.*.tmp`` files, removed), or
    a previous run without ``resume``. Returns whether a previous run is there to resume."""
    out.mkdir(parents=True, exist_ok=True)
    entries = sorted(p.name for p in out.iterdir())
    foreign = [n for n in entries if n not in OWN_OUTPUTS and not
               (n.startswith(".") and n.endswith(".tmp"))]
    if foreign:
        raise ValueError(f"--output_dir {out} holds files this tool did not write "
                         f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); "
                         "choose an empty or new folder (nothing is overwritten)")
    for n in entries:
        if n.startswith(".") and n.endswith(".tmp"):
            (out / n).unlink()
    previous = any(n in entries for n in OWN_OUTPUTS)
    if previous and "summary.json" not in entries:  # a run writes it first: not one of ours
        raise ValueError(f"--output_dir {out} holds {', '.join(entries[:3])} but no "
                         "summary.json, so no run of this tool; choose an empty or new folder "
                         "(nothing is overwritten)")
    if previous and not resume:
        raise ValueError(f"--output_dir {out} holds a previous run; rerun with --resume true to "
                         "finish it, or choose another folder")
    return previous


def run_settings(args: PredictArguments) -> dict:
    """The run folder's settings (``clinical_ner.json``: task, format, label_granularity,
    max_seq_length, doc_stride; defaults of :class:`clinical_ner.run_folder.CorpusSettings`,
    the training defaults), ``--max_seq_length``/``--doc_stride`` overriding. Raises FormatError
    for a missing run folder or a settings file that is not JSON."""
    run = RunFolder(args.model)
    if not run.exists():
        raise FormatError(f"--model {run.path}: no such run folder")
    saved, d = run.settings, CorpusSettings()
    out = {k: saved.get(k) or getattr(d, k) for k in SAVED_SETTINGS}
    for k in ("max_seq_length", "doc_stride"):
        if getattr(args, k) is not None:
            out[k] = getattr(args, k)
    return out


def load_thresholds(args: PredictArguments, task):
    """The ``threshold`` argument of :func:`clinical_ner.inference.predict_documents`: None,
    ``--threshold``, or the YAML of ``--thresholds_file`` (keys: entity types, span labels
    ``CATEGORY/TYPE`` or ``default``) as entity type -> P, with ``--threshold`` as default.
    Raises ValueError naming the file for a bad file or an unknown type."""
    if not args.thresholds_file:
        return args.threshold
    import yaml

    path = Path(args.thresholds_file)
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"--thresholds_file {path}: {exc}") from exc
    if not isinstance(cfg, dict):
        raise ValueError(f"--thresholds_file {path}: expected a mapping TYPE: probability")
    out: dict = {"default": args.threshold}
    types = task.scheme.entity_types
    for k, v in cfg.items():
        k = str(k)
        if k == "default":
            out["default"] = float(v)
        elif k in task.scheme.span_labels:
            out[task.scheme.entity_of(k)] = float(v)
        elif k in types:
            out[k] = float(v)
        else:
            raise ValueError(f"--thresholds_file {path}: {k!r} is not a type of the model "
                             f"({', '.join(types[:5])}, ...)")
    return out


def _surrogate_key(args: PredictArguments) -> tuple[str | None, str]:
    if args.surrogate_key:
        return args.surrogate_key, "--surrogate_key"
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV], f"env {KEY_ENV}"
    return None, "random per run (not written; surrogates cannot be recomputed)"


def key_fingerprint(key: str | bytes) -> str:
    """A fingerprint of a surrogate key, stored in ``summary.json`` so that a resumed run with
    another key is refused: 16 hex digits of PBKDF2-HMAC-SHA256 (200,000 iterations, fixed
    salt), slow to brute-force for a weak key and never the key itself."""
    import hashlib

    raw = key.encode("utf-8") if isinstance(key, str) else key
    return hashlib.pbkdf2_hmac("sha256", raw, b"clinical-ner surrogate key", 200_000)[:8].hex()


def release_freed_memory() -> None:
    """Give the memory freed by the last chunk back to the operating system (glibc's
    ``malloc_trim(0)``; a no-op elsewhere). Without it glibc keeps the freed buffers of batches
    of ever-different shapes and the process's resident memory creeps up chunk after chunk
    although the live memory stays flat (measured: 504 -> 511 MB live, 686 -> 960 MB resident
    over 20 chunks of 64 notes)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def chunk_owner(index: int, chunk_size: int, num_processes: int) -> int:
    """The process that predicts the ``index``-th note to predict (0-based, counting only the
    notes read without error and not already done): the chunk ``index // chunk_size`` goes to
    process ``chunk % num_processes``. Every note has one owner, and each process's chunks are
    chunks of the one-process run (same notes, same batches)."""
    return (index // chunk_size) % num_processes


def _keep_done_lines(path: Path, done: set[str], json_of) -> None:
    """Rewrite ``path`` (lines appended by this tool) keeping, once, the lines of notes in
    ``done`` (``json_of(line)``: the line's JSON record with its ``id``)."""
    kept, seen = [], set()
    for line in _complete_lines(path):
        rid = json.loads(json_of(line))["id"]
        if rid in done and rid not in seen:
            kept.append(line)
            seen.add(rid)
    write_text_atomic(path, "".join(x + "\n" for x in kept))


def _main_first(state, fn):
    """``fn()`` on the main process while the others wait; its result (or its FormatError,
    ValueError or OSError, raised again in every process with the same message) is broadcast
    to all processes. With one process: ``fn()``."""
    if state.num_processes == 1:
        return fn()
    from accelerate.utils import broadcast_object_list

    box: list = [None]
    error = None
    if state.is_main_process:
        try:
            box = [("ok", fn())]
        except (FormatError, ValueError, OSError) as exc:
            error, box = exc, [(type(exc).__name__, str(exc))]
    broadcast_object_list(box, from_process=0)
    if error is not None:
        raise error
    kind, value = box[0]
    if kind == "ok":
        return value
    raise {"FormatError": FormatError, "ValueError": ValueError}.get(kind, OSError)(value)


def merge_leak_counters(counters: list):
    """One :class:`~clinical_ner.redaction.LeakCounter` holding the sum of ``counters`` (the
    processes' counts of a multi-process run; its fields are Counters and integers)."""
    from clinical_ner.redaction import LeakCounter

    total = LeakCounter()
    for c in counters:
        for name, value in vars(c).items():
            if isinstance(value, Counter):
                getattr(total, name).update(value)  # keeps zero counts, as add() does
            else:
                setattr(total, name, getattr(total, name) + value)
    return total


def run_prediction(args: PredictArguments) -> dict:
    """Predict, redact and write every note of ``args.input`` (module docstring); returns the
    summary (also ``OUTPUT_DIR/summary.json``).

    Raises ValueError/FormatError for bad arguments or input before any model loads (missing
    ``--model``/``--input``/``--output_dir``, an output folder that is not ours, a resumed run
    whose settings changed, a surrogate run resumed without its key, labels the output format
    cannot hold, a task/model label mismatch), and with ``--on_error stop`` for the first
    unreadable note (the notes before it are written).
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoConfig, AutoTokenizer

    from clinical_ner.backends import check_backend, load_inference_model
    from clinical_ner.inference import peak_rss_mb, predict_documents, process_state
    from clinical_ner.redaction import LeakCounter, redact
    from clinical_ner.surrogates import SurrogateGenerator, casefold_key
    from clinical_ner.tasks import get_task

    for name in ("model", "input", "output_dir"):
        if not getattr(args, name):
            raise ValueError(f"--{name} is required")
    if args.format not in INPUT_FORMATS:
        raise ValueError(f"--format must be one of {INPUT_FORMATS}, not {args.format!r}")
    if args.gold and args.format == "text":
        raise ValueError("--gold reads the input's gold tags: use --format i2b2_2014, brat or "
                         "jsonl (plain text has none)")
    if args.gold and args.redact == "none":
        raise ValueError("--gold measures what a redaction leaves: give --redact tag, mask or "
                         "surrogate")
    if args.chunk_size < 1 or args.batch_size < 1:
        raise ValueError("--chunk_size and --batch_size must be at least 1")
    try:
        group_by = re.compile(args.group_by)
    except re.error as exc:
        raise ValueError(f"--group_by {args.group_by!r} is not a regular expression: {exc}") \
            from exc
    inp, out = Path(args.input), Path(args.output_dir)
    if not inp.exists():
        raise FormatError(f"--input {inp}: no such file or folder")
    if out.resolve() == inp.resolve() or out.resolve() in inp.resolve().parents \
            or inp.resolve() in out.resolve().parents:
        raise ValueError("--output_dir must be outside --input (and --input outside it)")
    st = run_settings(args)
    task = get_task(st["task"], st["format"], st["label_granularity"])
    if args.format in ("i2b2_2014", "brat"):
        from clinical_ner.predictions import check_writable

        check_writable(args.format, task.scheme.span_labels)
    thresholds = load_thresholds(args, task)
    if thresholds is not None and args.window_merge != "central":
        raise ValueError("--threshold/--thresholds_file need --window_merge central (the "
                         "pipeline's rule of 'longest' decides by arg-max)")
    key, key_source = _surrogate_key(args)
    state = process_state()
    n_proc, rank, is_main = state.num_processes, state.process_index, state.is_main_process
    if n_proc > 1 and args.redact == "surrogate" and key is None:
        raise ValueError(f"--redact surrogate on {n_proc} processes needs --surrogate_key (or "
                         f"env {KEY_ENV}): a random key would differ per process, and it is "
                         "never written or sent between processes")
    settings = {"model": str(args.model), "input": str(args.input), "format": args.format,
                "redact": args.redact, "threshold": args.threshold,
                "thresholds_file": args.thresholds_file, "window_merge": args.window_merge,
                "group_by": args.group_by, "locale": args.locale,
                # the run's training format is "run_format": "format" stays the input's
                **{k: v for k, v in st.items() if k != "format"}, "run_format": st["format"],
                "batch_size": args.batch_size, "chunk_size": args.chunk_size,
                "on_error": args.on_error, "gold": args.gold,
                "surrogate_key": key_source if args.redact == "surrogate" else None}
    total = count_notes(args.format, inp)  # a folder without notes fails before any output
    # one key for every locale's generator (a random one, never written, when none is given)
    key_material = key if key is not None else secrets.token_bytes(32)
    settings["surrogate_key_fingerprint"] = (key_fingerprint(key_material)
                                             if args.redact == "surrogate" else None)
    gens: dict[str, SurrogateGenerator] = {}
    try:
        gen = SurrogateGenerator(key_material, args.locale) if args.redact == "surrogate" \
            else None
    except AttributeError as exc:  # Faker's error for a locale it does not have
        raise ValueError(f"--locale {args.locale!r}: Faker has no such locale ({exc})") from exc
    if gen is not None:
        gens[args.locale] = gen
    map_path, deid_dir = out / "surrogates.local.jsonl", out / "deid"

    def prepare() -> tuple[set[str], bool, int]:
        """The main process checks and prepares OUT (the others wait): returns the ids already
        done, whether this run writes part files, and their generation."""
        previous = check_output_dir(out, args.resume)
        done: set[str] = set()
        if previous:
            old = {}
            if (out / "summary.json").is_file():
                old = json.loads((out / "summary.json").read_text(encoding="utf-8")).get(
                    "settings", {})
            changed = [k for k in RESUME_SETTINGS if k in old and old[k] != settings[k]
                       and not (k == "surrogate_key_fingerprint" and key is None)]  # below
            if changed:
                what = ", ".join(f"{k}: {old[k]!r} then, {settings[k]!r} now" for k in changed)
                raise ValueError(f"--output_dir {out} holds a run with other settings ({what}); "
                                 "choose another folder")
            done = done_ids(out)
            if done and args.redact == "surrogate" and key is None:
                raise ValueError(f"--output_dir {out}: resuming a surrogate run needs its "
                                 f"--surrogate_key (or env {KEY_ENV}); the random key of a run "
                                 "without one is never written")
            if args.format == "jsonl":  # keep the de-identified lines of finished notes only
                for f in sorted(deid_dir.glob("*.jsonl")) if deid_dir.is_dir() else []:
                    _keep_done_lines(f, done, lambda line: line)
                for f in part_files(out):
                    if ".deid." in f.name:
                        _keep_done_lines(f, done, lambda line: line.partition("\t")[2])
            logger.info("resuming in %s: %d notes already done are skipped", out, len(done))
        if gen is not None:
            _complete_lines(map_path)  # cut a partial last line before any process reads it
        parts = part_files(out)
        generation = 1 + max((int(f.name[1:4]) for f in parts), default=0)
        use_parts = n_proc > 1 or bool(parts)
        if use_parts:
            (out / PARTS_DIR).mkdir(exist_ok=True)
        write_json_atomic(out / "summary.json", {"status": "running", "settings": settings})
        return done, use_parts, generation

    t_start = time.time()
    done, use_parts, generation = _main_first(state, prepare)
    if use_parts:
        stem = out / PARTS_DIR / f"g{generation:03d}.r{rank:03d}"
        pred_path = stem.with_name(stem.name + ".predictions.jsonl")
        map_out = stem.with_name(stem.name + ".surrogates.jsonl")
    else:
        pred_path, map_out = out / "predictions.jsonl", map_path
    mapped: set[bytes] = set()
    if gen is not None:
        for line in _iter_complete_lines(map_path):
            r = json.loads(line)
            mapped.add(gen.digest("map", r["patient"], r["label"], casefold_key(r["original"])))
        if is_main:
            logger.info("surrogates.local.jsonl maps original PHI to surrogates: it holds PHI, "
                        "keep it local (never publish or commit it)")
        if key is None:
            logger.warning("no --surrogate_key (or env %s): a random key is used and not "
                           "written; surrogates differ in every run and this run cannot resume",
                           KEY_ENV)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    check_backend(args.backend, args.precision, device)
    if device == "cuda" and n_proc > 1:
        device = str(state.device)  # cuda:LOCAL_RANK
    threads = args.threads_per_process
    if threads is None and n_proc > 1 and not device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_WORLD_SIZE", n_proc))
        threads = max(1, (os.cpu_count() or 1) // local)  # the cores shared, not oversubscribed
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    config = AutoConfig.from_pretrained(args.model)
    id2label = {i: config.id2label[i] for i in range(config.num_labels)}
    if list(id2label.values()) != task.scheme.bio_labels:
        raise ValueError(f"model {args.model} predicts {config.num_labels} labels but its "
                         f"task {st['task']!r} ({st['label_granularity']}) expects "
                         f"{len(task.scheme.bio_labels)}: is clinical_ner.json from this run?")
    model, backend = load_inference_model(args.model, backend=args.backend,
                                          precision=args.precision, device=device,
                                          threads=threads)
    if n_proc > 1:
        logger.info("process %d of %d: every %d-th chunk of %d notes, %s threads", rank, n_proc,
                    n_proc, args.chunk_size, threads or "default")
    if args.redact != "none":
        deid_dir.mkdir(exist_ok=True)

    counts = {"notes": 0, "characters": 0, "spans": 0}
    per_label: Counter = Counter()
    skipped: list[dict] = []
    seen_ids: set[str] = set(done)
    position_of: dict[str, int] = {}  # note id -> input position (for the merge of the parts)
    leak = LeakCounter() if args.gold else None
    inference_seconds = 0.0
    already = 0

    def flush(chunk: list[Note]) -> None:
        nonlocal inference_seconds
        if not chunk:
            return
        t0 = time.time()
        spans, scores = predict_documents(
            model, tokenizer, [n.text for n in chunk], id2label,
            span_label_of=task.scheme.span_label_of, max_seq_length=st["max_seq_length"],
            doc_stride=st["doc_stride"], batch_size=args.batch_size,
            window_merge=args.window_merge, threshold=thresholds, return_scores=True,
            stats=counts)
        inference_seconds += time.time() - t0
        pred_lines, map_lines, deid_lines = [], [], {}

        def tagged(line: str, note: Note) -> str:
            return part_line(note.position, line) if use_parts else line

        for note, note_spans, note_scores in zip(chunk, spans, scores, strict=True):
            patient = patient_of(note, group_by)
            where = f"note {note.id!r} ({note.file})"
            if gen is not None:
                note_gen = gens[note.locale or args.locale]

                def sur(s, original, patient=patient, note_gen=note_gen, note=note):
                    value = note_gen.surrogate(s.label, original, patient)
                    d = gen.digest("map", patient, s.label, casefold_key(original))
                    if d not in mapped:
                        mapped.add(d)
                        map_lines.append(tagged(json.dumps(
                            {"patient": patient, "label": s.label, "original": original,
                             "surrogate": value}, ensure_ascii=False), note))
                    return value
            else:
                sur = None
            red = redact(note.text, note_spans, args.redact, surrogate=sur, where=where)
            if args.redact != "none":
                new_spans = [Span(r.out_start, r.out_end, r.label) for r in red.spans]
                line = write_deid(args.format, deid_dir, note, red.text, new_spans)
                if line is not None:
                    deid_lines.setdefault(note.deid_file, []).append(tagged(line, note))
            if leak is not None:
                leak.add(note.text, note.gold, red)
            items = []
            for r, sc in zip(red.spans, note_scores, strict=True):
                item = {"start": r.start, "end": r.end, "label": r.label, "score": sc}
                if args.redact != "none":
                    item.update(out_start=r.out_start, out_end=r.out_end)
                items.append(item)
                per_label[r.label] += 1
            pred_lines.append(tagged(json.dumps({"id": note.id, "spans": items},
                                                ensure_ascii=False), note))
            counts["notes"] += 1
            counts["characters"] += len(note.text)
            counts["spans"] += len(items)
        for name, lines in deid_lines.items():
            _append(stem.with_name(f"{stem.name}.deid.{name}") if use_parts else deid_dir / name,
                    lines)
        _append(map_out, map_lines)
        _append(pred_path, pred_lines)  # last: a line here means the note is done
        chunk.clear()
        release_freed_memory()

    def gather_figures() -> list[dict]:
        """Every process's figures (a collective: each process calls it at the same point);
        then the main process merges the part files."""
        peak = peak_rss_mb()
        mine = {"counts": counts, "per_label": per_label, "leak": leak,
                "stats": sum((g.stats for g in gens.values()), Counter()),
                "inference_seconds": inference_seconds,
                "peak_rss_mb": None if peak is None else round(peak, 1)}
        figures = [mine]
        if n_proc > 1:
            from accelerate.utils import gather_object

            figures = gather_object(figures)  # all processes have written their parts
        if is_main and use_parts:
            merge_parts(out, position_of)
        return figures

    chunk: list[Note] = []
    bar = tqdm(total=total, unit="note", disable=args.disable_tqdm or not is_main,
               desc="predict_ner")
    gathered: list[dict] | None = None
    position = to_predict = 0
    try:
        for note in iter_notes(args.format, inp, gold=args.gold):
            note.position, position = position, position + 1
            if note.error is None and note.id in done:
                position_of.setdefault(note.id, note.position)
                already += 1
                bar.update(1)
                continue
            if note.error is None and note.id in seen_ids:
                note.error = f"{note.file}: note id {note.id!r} occurs twice"
            if note.error is None and gen is not None and note.locale and \
                    note.locale not in gens:
                try:
                    gens[note.locale] = SurrogateGenerator(key_material, note.locale)
                except AttributeError:
                    note.error = (f"{note.file}: record {note.id!r}: Faker has no locale "
                                  f"{note.locale!r}")
            if note.error is not None:
                skipped.append({"id": note.id, "file": note.file, "reason": note.error})
                if args.on_error == "stop":
                    flush(chunk)
                    # every process reads every note, so all stop here: merge what was written
                    gathered = gather_figures()
                    raise FormatError(f"{note.error} (note {note.id!r}; --on_error skip skips "
                                      "such notes and counts them)")
                if is_main:
                    logger.warning("skipped note %r: %s", note.id, note.error)
                bar.update(1)
                continue
            seen_ids.add(note.id)
            position_of[note.id] = note.position
            owner = chunk_owner(to_predict, args.chunk_size, n_proc)
            to_predict += 1
            if owner != rank:
                bar.update(1)
                continue
            chunk.append(note)
            if len(chunk) >= args.chunk_size:
                n = len(chunk)
                flush(chunk)
                bar.update(n)
        n = len(chunk)
        flush(chunk)
        bar.update(n)
        gathered = gather_figures()
    except BaseException as exc:  # stopped (bad note, kill signal, ...): say so, then re-raise
        if is_main:
            notes = sum(f["counts"]["notes"] for f in gathered) if gathered else counts["notes"]
            write_json_atomic(out / "summary.json", {
                "status": "stopped", "stopped_by": type(exc).__name__, "notes": notes,
                "notes_already_done": already, "skipped_notes": len(skipped),
                "skipped": skipped, "settings": settings})
        raise
    finally:
        bar.close()
    seconds = time.time() - t_start
    total_counts = Counter()
    labels: Counter = Counter()
    for f in gathered:
        total_counts.update(f["counts"])
        labels.update(f["per_label"])
    notes = total_counts["notes"]
    inference = [round(f["inference_seconds"], 2) for f in gathered]
    peaks = [f["peak_rss_mb"] for f in gathered]
    summary = {
        "status": "done", "notes": notes, "notes_already_done": already,
        "characters": total_counts["characters"], "spans": total_counts["spans"],
        # decoded spans of symbols only (a lone "," tagged B-X), left out: not PHI
        "pred_spans_without_alnum_dropped": total_counts["pred_spans_without_alnum_dropped"],
        "spans_per_label": dict(sorted(labels.items())),
        "skipped_notes": len(skipped), "skipped": skipped,
        "seconds": round(seconds, 2),
        "notes_per_second": round(notes / seconds, 2) if seconds else None,
        # seconds in the backend's predict_documents calls (tokenization, windows, forward
        # passes, merge), summed over the processes; per process below
        "inference_seconds": round(sum(f["inference_seconds"] for f in gathered), 2),
        "processes": n_proc, "inference_seconds_per_process": inference,
        "peak_rss_mb": max(peaks) if None not in peaks else None,
        "peak_rss_mb_per_process": peaks, "backend": backend.to_json(), "device": device,
        "settings": settings,
    }
    if gen is not None:
        stats = sum((f["stats"] for f in gathered), Counter())
        summary["surrogates"] = dict(sorted(stats.items()))
        summary["surrogate_locales"] = sorted(gens)
    if leak is not None:
        summary["leak"] = merge_leak_counters([f["leak"] for f in gathered]).to_json()
    if is_main:
        write_json_atomic(out / "summary.json", summary)
        logger.info("%d notes predicted (%d already done, %d skipped) in %.1f s; outputs in %s "
                    "(deid/ and surrogates.local.jsonl hold note text / PHI: local use only)",
                    notes, already, len(skipped), seconds, out)
    return summary
