"""Shared command-line helpers: argument dataclasses from the command line or a YAML/JSON file,
and the score table printed at the end of a run."""

from __future__ import annotations

import sys
from pathlib import Path


class UsageError(ValueError):
    """A bad command-line argument or combination, found before any model is loaded. The CLIs
    print it as one line (``train_ner.py: error: ...``) and exit with status 2, no traceback."""


def error_line(prog: str, exc: BaseException) -> str:
    """``"<prog>: error: <message>"`` on one line (line breaks in the message become spaces)."""
    return f"{prog}: error: " + " ".join(str(exc).split("\n"))


def parse_args(dataclass_types, argv=None, defaults: dict | None = None):
    """Parse argument dataclasses with ``HfArgumentParser``.

    A single ``.yaml``/``.yml``/``.json`` argument is read as a config file; further command-line
    flags after it override the file. ``defaults`` replaces dataclass defaults (by field name).
    """
    import yaml
    from transformers import HfArgumentParser

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(dataclass_types)
    if defaults:
        known = {a.dest for a in parser._actions}
        parser.set_defaults(**{k: v for k, v in defaults.items() if k in known})
    if argv and argv[0].endswith((".yaml", ".yml", ".json")) and Path(argv[0]).is_file():
        config = yaml.safe_load(Path(argv[0]).read_text()) or {}
        flags = []
        for k, v in config.items():
            if isinstance(v, bool):
                flags += [f"--{k}", str(v)]
            elif isinstance(v, list):
                flags += [f"--{k}", *map(str, v)]
            elif v is not None:
                flags += [f"--{k}", str(v)]
        argv = flags + argv[1:]
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
