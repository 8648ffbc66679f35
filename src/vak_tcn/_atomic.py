"""Writing a result file atomically: a reader sees the old file or the whole new one, never half.

The data go to a temporary file in the same directory, are flushed to disk (fsync), and the
temporary file is renamed over the target (atomic on POSIX and on Windows' ``os.replace``).  A
full disk, a crash or Ctrl-C mid-write leaves the previous file as it was.  Pure Python, so
every stack can use it.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Replacement:
    """A temporary file beside ``path`` that replaces it on :meth:`commit`, or is deleted on :meth:`abort`.

    For writers that need a file *name* (crowsetta's ``to_file``, a zip archive streamed chunk by
    chunk): write to :attr:`tmp`, then commit.  The temporary file is ``.NAME.PID.XXXXXX.tmp``:
    the writer's process id tells a killed writer's leftovers from a live one's.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.{os.getpid()}.", suffix=".tmp")
        os.close(fd)
        self.tmp = pathlib.Path(tmp)

    def commit(self) -> pathlib.Path:
        """Flush the temporary file to disk and rename it over ``path``; the rename made durable too."""
        try:
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(self.tmp, self.path.stat().st_mode & 0o7777 if self.path.exists() else 0o666 & ~_umask())
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return self.path

    def abort(self) -> None:
        """Delete the temporary file; ``path`` stays as it was."""
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """A temporary path to write ``path``'s new contents to; on success it replaces ``path``.

    On any error the temporary file is removed and ``path`` is untouched.
    """
    replacement = Replacement(path)
    try:
        yield replacement.tmp
    except BaseException:
        replacement.abort()
        raise
    replacement.commit()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    ``mode`` is ``"w"`` or ``"wb"``; ``open_kwargs`` go to :func:`open` (e.g. ``newline=""``).
    On any error the temporary file is removed and ``path`` is untouched.
    """
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as fh:
        yield fh


def write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """:meth:`pathlib.Path.write_text`, atomically."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return pathlib.Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> pathlib.Path:
    """:meth:`pathlib.Path.write_bytes`, atomically."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return pathlib.Path(path)
