"""The files a report writes in ``--out``, and only those: ``report-files.json`` lists them.

A rerun removes what the previous report listed (each file as it was written: one edited or replaced
since is not the report's any more), never anything else; a file of the user's under a name the report
writes is refused before anything is written; a run that fails removes what it wrote, and the folders it
made (docs/report.md#what-it-writes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib

from .. import _atomic

__all__ = ["MANIFEST", "ReportFiles", "check_out"]

#: the list of a report's files, in ``--out``
MANIFEST = "report-files.json"


def check_out(out: pathlib.Path, sources) -> None:
    """ValueError in one line for an ``--out`` that is a file, below a file, not writable, or a folder
    the report reads."""
    out = pathlib.Path(out)
    existing = out
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if existing == out and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: choose another --out")
    if not existing.is_dir():
        raise ValueError(f"--out {out} cannot be made: {existing} is a file, not a folder: choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: cannot write in {existing} (permission denied): choose another --out")
    resolved = out.resolve()
    for source in sources:
        if source is not None and pathlib.Path(source).resolve() == resolved:
            raise ValueError(f"--out {out} is the folder the report reads ({source}): choose another --out")


def _identity(path: pathlib.Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


class ReportFiles:
    """The report's files in ``out``: those the previous report listed (and that are as it wrote them),
    and those this run writes.

    :meth:`claim` before writing (refuses a file that is not the report's), :meth:`replace_previous`
    (removes the previous report's files and lists this run's, so a run that stops half way is cleaned
    by the next), :meth:`done` at the end (each file's identity), :meth:`abort` on failure.
    """

    def __init__(self, out: pathlib.Path):
        self.out = pathlib.Path(out)
        self.made_dirs: list[pathlib.Path] = []
        self.manifest_ours = not os.path.lexists(self.out / MANIFEST)  # else: when it is a report's list
        self.previous = self._read()
        self.written: list[str] = []  # relative paths, this run's

    def _read(self) -> dict[str, dict | None]:
        """The previous report's files that are still as it wrote them (None: listed by a run that did
        not finish, so without identity)."""
        try:
            doc = json.loads((self.out / MANIFEST).read_text())
            files = doc["files"]
            self.manifest_ours = str(doc["written_by"]).startswith("vak-tcn ")
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        ours = {}
        for name, identity in files.items() if isinstance(files, dict) else ():
            path = self.out / name
            if ".." in pathlib.PurePath(name).parts or pathlib.PurePath(name).is_absolute() or not path.is_file():
                continue
            if identity is None or identity == _identity(path):
                ours[name] = identity
        return ours

    def path(self, name: str) -> pathlib.Path:
        return self.out / name

    def claim(self, names) -> None:
        """ValueError (nothing written) when a file this run would write exists and is not the report's."""
        foreign = [] if self.manifest_ours else [MANIFEST]
        foreign += [
            n for n in names if os.path.lexists(self.out / n) and n not in self.previous and n not in self.written
        ]
        if foreign:
            raise ValueError(
                f"{len(foreign)} file(s) in --out {self.out} were not written by vak-tcn report or were changed since "
                f"(no {MANIFEST} lists them as they are), e.g. {self.out / foreign[0]}: not overwritten; move them "
                "away or choose another --out"
            )

    def mkdir(self, folder: pathlib.Path) -> None:
        """Make ``folder`` (and its parents), remembering the ones made for :meth:`abort`."""
        missing = []
        for parent in [folder, *folder.parents]:
            if parent.exists():
                break
            missing.append(parent)
        folder.mkdir(parents=True, exist_ok=True)
        self.made_dirs += reversed(missing)

    def add(self, names) -> None:
        """List ``names`` as this run's before they are written (a run that stops leaves them listed)."""
        self.written += [n for n in names if n not in self.written]
        self._write({**self.previous, **dict.fromkeys(self.written)})

    def replace_previous(self, names) -> None:
        """Remove the previous report's files (those this run has not written already), then list ``names``."""
        for name in list(self.previous):
            if name not in self.written:
                (self.out / name).unlink(missing_ok=True)
                self._prune((self.out / name).parent)
                del self.previous[name]
        self.add(names)

    def done(self) -> None:
        """List this run's files with their identities (the previous report's are gone)."""
        self.previous = {}
        self._write({name: _identity(self.out / name) for name in self.written if (self.out / name).is_file()})

    def abort(self) -> None:
        """Remove what this run wrote and the folders it made (those left empty)."""
        for name in self.written:
            with contextlib.suppress(OSError):
                (self.out / name).unlink()
        self.written = []
        with contextlib.suppress(OSError):
            if self.previous:
                self._write(self.previous)
            else:
                (self.out / MANIFEST).unlink(missing_ok=True)
        for folder in sorted(self.made_dirs, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty

    def _prune(self, folder: pathlib.Path) -> None:
        """Remove ``folder`` and the folders above it, inside ``out``, while they are empty."""
        out = self.out.resolve()
        folder = folder.resolve()
        while folder != out and out in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty
                return
            folder = folder.parent

    def _write(self, files: dict) -> None:
        from .._version import __version__

        doc = {"written_by": f"vak-tcn {__version__} report", "files": dict(sorted(files.items()))}
        _atomic.write_text(self.out / MANIFEST, json.dumps(doc, indent=1) + "\n")
