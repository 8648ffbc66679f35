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


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    ``mode`` is ``"w"`` or ``"wb"``; ``open_kwargs`` go to :func:`open` (e.g. ``newline=""``).
    On any error the temporary file is removed and ``path`` is untouched.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # .NAME.PID.XXXXXX.tmp: the writer's process id tells a killed writer's leftovers from a live one's
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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
