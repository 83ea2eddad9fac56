"""Output files that are never half-written, and output folders checked before the work starts.

A bottom-layer module (standard library only): every JSON and Markdown output of the project
goes through :func:`write_text_atomic` / :func:`write_json_atomic`, which write a temporary file
in the same folder and ``os.replace`` it over the target, so a crash, a full disk or a kill
mid-write leaves the previous file intact (or no file), never a truncated one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically: a temporary file in the same folder (same file
    system, so the rename is atomic), flushed and fsynced, then ``os.replace``. Creates the
    parent folder. On any error the temporary file is removed, the old ``path`` is left as it
    was, and the error (OSError, UnicodeEncodeError, ...) propagates. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; keep the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _mode_for(path: Path) -> int:
    """The permission bits a new file at ``path`` gets: the old file's, else 0666 minus umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_json_atomic(path: str | Path, obj, *, indent: int | None = 2, **dumps_kwargs) -> Path:
    """Write ``obj`` as JSON (``json.dumps(obj, indent=indent, **dumps_kwargs)`` plus a final
    newline) to ``path`` with :func:`write_text_atomic`. The object is serialised before the
    file is touched, so a TypeError (not JSON-serialisable) leaves the old file intact."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, **dumps_kwargs) + "\n")


def check_writable_dir(path: str | Path, what: str = "output folder") -> Path:
    """Make sure ``path`` is a folder this process can write into: create it (and its parents)
    when missing, then create and delete a probe file in it. Raises ``OSError`` with a one-line
    message naming ``what`` and the path when that fails (e.g. a path under a regular file, a
    read-only file system, no permission). Returns ``path``."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write_probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(f"{what} {path} is not writable ({reason}); choose another folder") \
            from exc
    return path


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file's bytes as 64 hex digits (read in 1 MiB blocks)."""
    import hashlib

    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
