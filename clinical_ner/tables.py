"""Markdown tables and number formatting shared by the reports (evaluation, benchmark)."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: What a missing figure is shown as.
MISSING = "–"


def is_number(x) -> bool:
    """True for a finite int or float (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_number(x, digits: int = 1, missing: str = MISSING) -> str:
    """``x`` for a table cell: floats with ``digits`` decimals and thousands separators, ints
    with separators, None as ``missing``, anything else as ``str(x)``."""
    if x is None:
        return missing
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    return str(x)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    """A Markdown table as lines: header, ``|---|`` separator, one line per row (cells as
    ``str``; a row may be shorter than the header)."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out
