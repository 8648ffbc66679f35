"""vak_tcn._atomic: the one way result files are written (whole or not at all)."""

import os

import pytest

from vak_tcn import _atomic


def test_atomic_path_replaces_on_success_with_a_files_permissions(tmp_path):
    path = tmp_path / "sub" / "out.csv"
    with _atomic.atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(f".out.csv.{os.getpid()}.") and tmp.suffix == ".tmp"
        tmp.write_text("new\n")
        assert not path.exists()  # nothing at the target until the write is done
    assert path.read_text() == "new\n"
    (tmp_path / "other").write_text("")
    assert path.stat().st_mode == (tmp_path / "other").stat().st_mode
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.csv"]


def test_atomic_path_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    path.chmod(0o600)
    with pytest.raises(OSError, match="disk full"), _atomic.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise OSError("disk full")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    _atomic.write_text(path, "newer\n")
    assert path.read_text() == "newer\n" and path.stat().st_mode & 0o777 == 0o600  # replaced, mode kept


def test_replacement_commit_and_abort(tmp_path):
    path = tmp_path / "p.npz"
    kept = _atomic.Replacement(path)
    kept.tmp.write_bytes(b"data")
    assert kept.commit() == path and path.read_bytes() == b"data"
    dropped = _atomic.Replacement(path)
    dropped.tmp.write_bytes(b"other")
    dropped.abort()
    assert path.read_bytes() == b"data" and [p.name for p in tmp_path.iterdir()] == ["p.npz"]
