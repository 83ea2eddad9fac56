"""Atomic outputs (clinical_ner.files): a write that fails mid-way leaves the old file intact,
and the writable-folder probe refuses a folder it cannot write into."""

import json
import os

import pytest

from clinical_ner import files
from clinical_ner.files import check_writable_dir, write_json_atomic, write_text_atomic


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"strict": 0.5})
    assert json.loads(target.read_text()) == {"strict": 0.5}

    real_fdopen = os.fdopen

    class HalfWriter:
        """Writes the first 5 characters, then fails as a full disk would."""

        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            self.fh.write(text[:5])
            self.fh.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="No space"):
        write_json_atomic(target, {"strict": 0.9, "relaxed": 0.95})
    assert json.loads(target.read_text()) == {"strict": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temp left


def test_failed_replace_and_unserialisable_leave_old_file(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    write_text_atomic(target, "# old\n")
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "report.md", {"x": object()})
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(5, "EIO")))
    with pytest.raises(OSError):
        write_text_atomic(target, "# new\n")
    assert target.read_text() == "# old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_atomic_write_keeps_permissions(tmp_path):
    target = tmp_path / "a.json"
    write_json_atomic(target, [1])
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    os.chmod(target, 0o640)
    write_json_atomic(target, [2])
    assert target.stat().st_mode & 0o777 == 0o640 and json.loads(target.read_text()) == [2]


def test_check_writable_dir(tmp_path):
    assert check_writable_dir(tmp_path / "new" / "out").is_dir()
    assert list((tmp_path / "new" / "out").iterdir()) == []  # the probe is gone
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OSError, match=r"output folder .*afile/out is not writable \(Not a "
                                      r"directory\)"):
        check_writable_dir(tmp_path / "afile" / "out")
