"""The record beside each recording's outputs (``NAME.annotate.json``): what made them, by content, so
that a rerun skips what is done (:func:`resume_state`), annotates again what another model, clean-up or
option made, and never overwrites a file no record vouches for; and the lock that lets one run at a time
write in an output folder (:func:`output_lock`).  ``vak-tcn annotate`` writes them; ``vak-tcn report``
reads annotate's outputs through them."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import pathlib
import time
from collections.abc import Iterator

from .._atomic import write_text
from ..audio.annotations import ANNOT_FORMATS, PROBABILITIES_SUFFIX
from .options import Options

__all__ = [
    "LOCK_NAME",
    "RECORD_SUFFIX",
    "check_writable",
    "foreign_refusal",
    "output_lock",
    "output_paths",
    "plan_outputs",
    "read_record",
    "record_failure",
    "record_path",
    "recording_about",
    "recording_made_with",
    "resume_state",
    "write_record",
]

#: beside each recording's outputs: what made them (:func:`resume_state`)
RECORD_SUFFIX = ".annotate.json"
RECORD_FORMAT = 1


def plan_outputs(
    found, out_dir: pathlib.Path, options: Options
) -> list[tuple[pathlib.Path, dict[str, pathlib.Path], pathlib.Path]]:
    """``(audio, outputs, record)`` per recording: one output per recording, or ValueError before any work.

    Two recordings that would write the same file (``n1/rec.wav`` and ``n2/rec.wav`` given as two
    folders or two files) are refused, both named; the same recording given twice is annotated once.
    """
    planned, owner = [], {}
    for audio, relative in found:
        outputs = output_paths(relative, out_dir, options)
        key = outputs["annotation"].resolve()
        if key in owner:
            if owner[key].resolve() == pathlib.Path(audio).resolve():
                continue  # the same file twice (a folder and a file in it)
            raise ValueError(
                f"{owner[key]} and {audio} would both be annotated to {outputs['annotation']}: annotate them to "
                "separate --out folders, or give a folder above both with --recursive (sub-folders are kept "
                "under --out)"
            )
        owner[key] = pathlib.Path(audio)
        planned.append((pathlib.Path(audio), outputs, record_path(relative, out_dir)))
    return planned


def output_paths(relative: pathlib.Path, out_dir: pathlib.Path, options: Options) -> dict[str, pathlib.Path]:
    base = pathlib.Path(out_dir) / relative
    paths = {"annotation": base.with_name(base.name + ANNOT_FORMATS[options.annot_format])}
    if options.probabilities:
        paths["probabilities"] = base.with_name(base.name + PROBABILITIES_SUFFIX)
    return paths


def record_path(relative: pathlib.Path, out_dir: pathlib.Path) -> pathlib.Path:
    """The record beside a recording's outputs: what made them (:func:`resume_state`)."""
    base = pathlib.Path(out_dir) / relative
    return base.with_name(base.name + RECORD_SUFFIX)


def remove_stale_temporaries(path: pathlib.Path) -> None:
    """Delete what a killed run left of ``path`` (``.NAME.PID.tmp``, and :mod:`vak_tcn._atomic`'s
    ``.NAME.PID.XXXXXX.tmp``, of a process no longer running on this machine); a run still writing
    it keeps its file."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 : -len(".tmp")].split(".")[0]
        if pid.isdigit() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


# ---------------------------------------------------------------- what made the outputs (resume)
#: the parts of a record's ``made_with``, as a message names them when they differ
MADE_WITH_PARTS = {
    "checkpoint": "checkpoint",
    "labelmap": "labelmap",
    "frames_standardizer": "frames standardizer",
    "model": "model or network table",
    "spect_params": "spect_params",
    "clean_up": "clean-up",
    "precision": "--precision",
    "spectrogram": "spectrogram (float32, or float64 with --exact)",
    "channel": "--channel",
    "resampled": "resampling (sample rate, resampler)",
    "recording": "recording (changed since)",
}


def part_order(part: str) -> int:
    return list(MADE_WITH_PARTS).index(part) if part in MADE_WITH_PARTS else len(MADE_WITH_PARTS)


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def as_json(value):
    """``value`` as it reads back from JSON (tuples as lists, keys as strings): comparable with a record."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _output_identity(path: pathlib.Path, key: str) -> dict:
    """How a record recognises a file it vouches for: its size, and for an annotation (small) its
    content, so an annotation edited since is not taken for the one written.  Probabilities
    (large, never edited by hand) by size."""
    identity = {"size": path.stat().st_size}
    if key == "annotation":
        identity["sha256"] = sha256_of(path)
    return identity


def recording_made_with(made_with: dict, audio: pathlib.Path) -> dict:
    """``made_with`` for one recording: the run's, and the recording's size and modification time."""
    stat = pathlib.Path(audio).stat()
    return as_json({**made_with, "recording": {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}})


def recording_about(about: dict | None, audio: pathlib.Path) -> dict:
    """``about`` (what a record says beside what made the outputs) for one recording: with where the
    recording was (``recording_path``; not part of ``made_with``: a moved folder is no reason to redo
    the outputs), for the report of formats that do not name it (Raven, TextGrid, ...)."""
    return {**(about or {}), "recording_path": str(pathlib.Path(audio).resolve())}


def read_record(path: pathlib.Path) -> dict:
    """The entries of a record (output file name -> entry); ``{}`` for none or an unreadable one."""
    try:
        record = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return {}
    entries = record.get("outputs") if isinstance(record, dict) else None
    return entries if isinstance(entries, dict) else {}


def resume_state(outputs: dict[str, pathlib.Path], record: pathlib.Path, made_with: dict) -> tuple[str, list[str]]:
    """What a rerun does with one recording: ``(state, details)``.

    * ``"done"``: the record vouches for every output (same size, same annotation content), made
      with the same ``made_with``: skipped;
    * ``"todo"``: an output is missing, or was being written by a run that stopped: annotated;
    * ``"failed"``: the last run could not annotate the recording (``details``: its reason): tried again;
    * ``"other"``: the record's outputs were made another way (``details``: the parts of
      ``made_with`` that differ): annotated again;
    * ``"foreign"``: a file under an output name that no record vouches for (not written by
      vak-tcn annotate, or changed since; ``details``: those files): never overwritten.
    """
    entries = read_record(record)
    state, foreign, differ, failed = "done", [], set(), []
    for key, path in outputs.items():
        entry = entries.get(path.name)
        if isinstance(entry, dict) and entry.get("state") == "failed":  # ours: the recording failed, try again
            failed.append(str(entry.get("error") or "no reason recorded"))
        elif not path.exists():
            state = "todo"
        elif not isinstance(entry, dict):
            foreign.append(str(path))
        elif entry.get("state") == "pending":  # its writer stopped before the record: ours, unfinished
            state = "todo"
        elif entry.get("output") != _output_identity(path, key):
            foreign.append(str(path))
        elif entry.get("made_with") != made_with:
            before = entry.get("made_with") if isinstance(entry.get("made_with"), dict) else {}
            differ |= {part for part in {*made_with, *before} if made_with.get(part) != before.get(part)}
    if foreign:
        return "foreign", foreign
    if differ:
        return "other", sorted(differ, key=part_order)
    if failed:
        return "failed", failed[:1]
    return state, []


def write_record(
    path: pathlib.Path,
    outputs: dict[str, pathlib.Path],
    made_with: dict,
    state: str,
    about: dict | None = None,
    error: str | None = None,
) -> None:
    """Say in the record beside them what made ``outputs``: ``"pending"`` before writing them,
    ``"complete"`` (with each file's identity) after, or ``"failed"`` (with ``error``, the reason) when
    the recording could not be annotated (a rerun tries it again).  Written atomically, other entries kept."""
    from .._version import __version__

    entries = read_record(path)
    for key, output in outputs.items():
        entry = {"state": state, "made_with": made_with, **(about or {})}
        if state == "complete":
            entry["output"] = _output_identity(output, key)
        if state == "failed":
            entry["error"] = error
        if state != "pending":
            entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        entries[output.name] = entry
    record = {"written_by": f"vak-tcn {__version__} annotate", "format": RECORD_FORMAT, "outputs": entries}
    write_text(path, json.dumps(record, indent=1) + "\n")  # atomic, flushed to disk


def foreign_refusal(foreign: list[str], out_dir, overwrite: str | None = "--overwrite") -> ValueError:
    """The refusal of files under output names that no record vouches for (``foreign``, from
    :func:`resume_state`), never overwritten; ``overwrite``: the option that annotates over them, where the
    command has one."""
    fix = "move them away or choose another --out" + (
        f", or give {overwrite} to annotate over them" if overwrite else ""
    )
    return ValueError(
        f"{len(foreign)} file(s) under --out {out_dir} were not written by vak-tcn annotate or were changed "
        f"since (no {RECORD_SUFFIX} record vouches for them), e.g. {foreign[0]}: not overwritten; {fix}"
    )


def check_writable(folders) -> None:
    """ValueError naming an output folder that is a file, or where nothing can be written (read-only):
    found before any recording is read.  Folders not made yet: the nearest one that exists."""
    checked = set()
    for folder in sorted({pathlib.Path(f) for f in folders}):
        existing = folder
        while not os.path.lexists(existing) and existing != existing.parent:
            existing = existing.parent
        if existing in checked:
            continue
        checked.add(existing)
        if not existing.is_dir():
            where = "" if existing == folder else f" ({existing} is a file)"
            what = "is a file, not a folder" if existing == folder else "cannot be made"
            raise ValueError(f"output folder {folder} {what}{where}: choose another --out")
        probe = existing / f".vak-tcn-annotate-probe.{os.getpid()}.tmp"
        try:
            probe.open("w").close()
            probe.unlink()
        except OSError as e:
            raise ValueError(
                f"cannot write in output folder {existing} ({e.strerror or e}): choose another --out"
            ) from None


#: in an output folder while a ``vak-tcn annotate`` writes in it (:func:`output_lock`)
LOCK_NAME = ".vak-tcn-annotate.lock"


def _lock_holder(fd: int) -> dict:
    """What a lock file says of the run that holds (or held) it: ``pid``, ``host``, ``started``; ``{}`` if
    nothing readable (a run that has just taken it and not yet written)."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _who(holder: dict) -> str:
    import socket

    where = f" on {holder['host']}" if holder.get("host") not in (None, socket.gethostname()) else ""
    since = f", since {holder['started']}" if holder.get("started") else ""
    return f"pid {holder.get('pid', '?')}{where}{since}"


@contextlib.contextmanager
def output_lock(folder: pathlib.Path, echo) -> Iterator[None]:
    """One ``vak-tcn annotate`` at a time in ``folder`` (made if needed): two runs on one ``--out`` would write
    each other's outputs and records.  The lock is the kernel's (``flock`` on ``folder/.vak-tcn-annotate.lock``,
    which says which process holds it), so it ends with its process however that ends.

    ValueError, naming the holder's pid (and host, when not this one), when another run holds it.  A lock file
    left by a run that was killed is taken over, saying so in one line (``echo``).  Where the file system has
    no locks, one line says so and the run goes on.  On leaving, the lock file is deleted, and ``folder`` too
    if this call made it and nothing was written in it.
    """
    import socket

    folder = pathlib.Path(folder)
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = None
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            fcntl = None
            echo(
                f"warning: cannot lock --out {folder} (no fcntl here): another vak-tcn annotate on it would not be stopped"
            )
        while fcntl is not None:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as e:  # another user's lock file
                raise ValueError(f"cannot open {path} ({e.strerror or e}): choose another --out") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = {}
                for _ in range(20):  # a run that has just taken the lock writes its pid at once
                    holder = _lock_holder(fd)
                    if holder:
                        break
                    time.sleep(0.05)
                os.close(fd)
                fd = None  # not ours: left as it is
                raise ValueError(
                    f"--out {folder} is being written by another vak-tcn annotate ({_who(holder)}): two runs on "
                    "one folder would overwrite each other's outputs; wait for it to end, or choose another --out"
                ) from None
            except OSError as e:  # a file system without locks
                os.close(fd)
                fd = None
                echo(
                    f"warning: cannot lock --out {folder} ({e.strerror or e}): another vak-tcn annotate on it "
                    "would not be stopped"
                )
                break
            try:  # the file locked is still the lock (a run ending deletes it, perhaps after this open)
                current = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                before = _lock_holder(fd)
                if before:  # a lock file whose process ended without deleting it: killed
                    echo(
                        f"taking over the lock on --out {folder} from vak-tcn annotate {_who(before)}: no longer running"
                    )
                mine = {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "command": "vak-tcn annotate",
                }
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(mine) + "\n").encode(), 0)
                break
            os.close(fd)
            fd = None
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still holding it: the next run makes a new one
            os.close(fd)
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: nothing was written


def record_failure(record: pathlib.Path, outputs: dict[str, pathlib.Path], made_with: dict, error: str, about) -> None:
    """The record says the recording failed and why; a record that cannot be written (a full disk) stays as it
    was (pending, or none): a rerun tries the recording again either way."""
    with contextlib.suppress(Exception):
        write_record(record, outputs, made_with, "failed", about, error=error)
