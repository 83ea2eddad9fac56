"""Shared command-line helpers: argument dataclasses from the command line or a YAML/JSON file,
and the score table printed at the end of a run."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


class UsageError(ValueError):
    """A bad command-line argument or combination, found before any model is loaded. The CLIs
    print it as one line (``train_ner.py: error: ...``) and exit with status 2, no traceback."""


def error_line(prog: str, exc: BaseException) -> str:
    """``"<prog>: error: <message>"`` on one line (line breaks in the message become spaces)."""
    return f"{prog}: error: " + " ".join(str(exc).split("\n"))


CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def _fail(parser, message: str):
    """End the program on a bad config file: one line on stderr, status 2 (as a usage error)."""
    print(error_line(Path(parser.prog).name, message), file=sys.stderr)
    raise SystemExit(2)


def _typed(parser, action, key: str, value, path: str):
    """A config file value as the flag ``--key value`` would give it (the action's type applied
    to its text, each item of a list), checked against the action's choices."""
    convert = action.type or str

    def one(v):
        try:
            out = convert(str(v))
        except (TypeError, ValueError) as exc:
            _fail(parser, f"{path}: {key}: invalid value {v!r} ({exc})")
        if action.choices is not None and out not in action.choices:
            _fail(parser, f"{path}: {key}: invalid choice {v!r} (choose from "
                         f"{', '.join(map(str, action.choices))})")
        return out

    if isinstance(value, list):
        return [one(v) for v in value]
    return one(value)


def config_defaults(parser, path: str | Path) -> dict:
    """The values of a YAML/JSON config file as defaults for ``parser`` (by argument name),
    typed as the matching flags would be. A key that is no argument of the parser, a value
    that does not convert and a file that is not a mapping end the program with a one-line
    usage error naming the file (status 2). ``null`` values keep the default."""
    import json

    import yaml

    path = str(path)
    text = Path(path).read_text(encoding="utf-8")
    try:
        config = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        _fail(parser, f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'}: {exc}")
    config = config or {}
    if not isinstance(config, dict):
        _fail(parser, f"{path}: a config file must be a mapping of argument names to values")
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    unknown = sorted(str(k) for k in config if k not in actions)
    if unknown:
        _fail(parser, f"{path}: unknown key(s) {', '.join(unknown)}: not arguments of this "
                     "command (see --help)")
    return {k: _typed(parser, actions[k], k, v, path) for k, v in config.items()
            if v is not None}


def _near_config(values: dict, config: Path) -> None:
    """A relative ``data_dir`` of a config file that is not in the working folder but is beside
    the config file is taken from there (logged). Otherwise it is left for
    :func:`data_scripts.find_data_dir` (the folder holding the installed package)."""
    data_dir = values.get("data_dir")
    if not isinstance(data_dir, str) or Path(data_dir).is_absolute() or Path(data_dir).exists():
        return
    candidate = config.parent / data_dir
    if candidate.exists():
        logging.getLogger("clinical_ner").warning(
            "data_dir %s of %s is not in the working folder: using %s", data_dir, config,
            candidate)
        values["data_dir"] = str(candidate)


def parse_args(dataclass_types, argv=None, defaults: dict | None = None):
    """Parse argument dataclasses with ``HfArgumentParser``.

    A single ``.yaml``/``.yml``/``.json`` first argument is read as a config file
    (:func:`config_defaults`: its values become the parser's defaults, unknown keys are
    refused); further command-line flags after it override the file. ``defaults`` replaces
    dataclass defaults (by field name) below the file.
    """
    from transformers import HfArgumentParser

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(dataclass_types)
    if defaults:
        known = {a.dest for a in parser._actions}
        parser.set_defaults(**{k: v for k, v in defaults.items() if k in known})
    if argv and argv[0].endswith(CONFIG_SUFFIXES) and Path(argv[0]).is_file():
        values = config_defaults(parser, argv[0])
        _near_config(values, Path(argv[0]))
        for action in parser._actions:
            if action.dest in values:
                action.required = False  # the file gives it
        parser.set_defaults(**values)
        argv = argv[1:]
    return parser.parse_args_into_dataclasses(args=argv)


def print_scores(metrics: dict, title: str = "scores") -> None:
    """Print micro P/R/F1 (with the CI when present) per measure and per-type F1 with support."""
    print(f"\n== {title} ==")
    print(f"{'measure':<16}{'P':>8}{'R':>8}{'F1':>8}  95% CI")
    for name, m in metrics.items():
        if not isinstance(m, dict) or "micro" not in m:
            continue
        mi = m["micro"]
        ci = mi.get("f1_ci")
        ci_s = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
        print(f"{name:<16}{mi['precision']:8.3f}{mi['recall']:8.3f}{mi['f1']:8.3f}  {ci_s}")
    strict = metrics.get("strict", {})
    if strict.get("per_type"):
        print(f"\n{'type (strict)':<24}{'support':>8}{'P':>8}{'R':>8}{'F1':>8}")
        for t, v in sorted(strict["per_type"].items(), key=lambda kv: -kv[1].get("support", 0)):
            print(f"{t:<24}{v.get('support', 0):>8}{v['precision']:8.3f}{v['recall']:8.3f}"
                  f"{v['f1']:8.3f}")
