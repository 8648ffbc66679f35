"""Annotate recordings of any length with a trained model, in bounded memory.

``vak-tcn annotate CONFIG AUDIO...`` (docs/annotate.md).  CONFIG is a stock vak *predict*
config: the checkpoint, labelmap and frames standardizer, the ``[vak.prep.spect_params]``, the
model table, ``majority_vote`` and ``min_segment_dur`` (read without importing vak when the model is
one of vak-tcn's networks, :class:`~vak_tcn.models.trained.TrainedModel`; else by vak's parser).  The
clean-up (:meth:`TrainedModel.from_predict_config <vak_tcn.models.trained.TrainedModel.from_predict_config>`), as ``vak predict`` applies it to vak-tcn models: the settings
tuned on validation data and stored beside the checkpoint (``postprocess.json``, with gap filling),
then the config's ``majority_vote``/``min_segment_dur`` (vak's defaults for keys it leaves out).
For each recording:

audio blocks -> vak's spectrogram (:class:`~vak_tcn.inference.spectrogram.Float32Spectrogram`, one
pass in float32; with ``--exact``
:class:`~vak_tcn.inference.spectrogram.StreamingSpectrogram`, vak's float64 arithmetic, two passes) ->
the saved standardizer -> the network in chunks with enough context
(:class:`~vak_tcn.inference.chunked.ChunkedInference`) -> argmax -> vak's post-processing and
segments (:class:`~vak_tcn.inference.segments.SegmentStream`) -> one crowsetta annotation file
(and, on request, per-frame class probabilities in a compressed ``.npz``).  The stages overlap in
threads (:mod:`vak_tcn.inference.pipeline`): reading and filtering, the blocks' FFTs on a pool, the
network, and the segments and probabilities.

Every output is written to a temporary name in its directory and renamed, the annotation
last; then a record beside them (``NAME.annotate.json``) says what made them: the checkpoint, the
clean-up, the options and the recording, by content.  A rerun skips a recording only when its
record vouches for every output it needs, made the same way (:func:`resume_state`); it annotates
again what another model, clean-up or option made, and never overwrites a file that no record
claims (a folder's own ground truth, an annotation edited by hand).  A recording that fails is recorded as
failed, with the reason, and tried again by the next run.  One run at a time writes in an output folder
(:func:`output_lock`).  A file is annotated when its extension is one of the formats the audio reader opens
(:func:`audio_extensions`), in folders as when named.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import json
import logging
import math
import os
import pathlib
import threading
import time
import zipfile
from collections.abc import Iterator

import numpy as np

from .. import settings
from .._atomic import Replacement, atomic_path, write_text
from .._processes import connect_scheduler, quiet_dask, terminal_interrupts_ignored
from ..models import postprocess
from ..models.trained import ModelError, TrainedModel, read_predict_config
from ..nn.precision import check_precision, with_precision
from ..plugins import vak_compat
from . import chunked, pipeline, segments, spectrogram

__all__ = [
    "ANNOT_FORMATS",
    "Annotator",
    "ModelError",
    "Options",
    "RecordingError",
    "Result",
    "audio_info",
    "find_audio",
    "output_paths",
    "record_path",
    "resume_state",
]

#: crowsetta formats written, and the suffix added to the audio file's name
ANNOT_FORMATS = {"generic-seq": ".annot.csv", "simple-seq": ".csv", "aud-seq": ".txt"}
PROBABILITIES_SUFFIX = ".probabilities.npz"
#: beside each recording's outputs: what made them (:func:`resume_state`)
RECORD_SUFFIX = ".annotate.json"
RECORD_FORMAT = 1
#: the shortest ``--chunk-seconds``.  Every network call also computes the context its chunk needs
#: (a TCN's receptive field, up to hundreds of frames; 2048 frames each side for TweetyNet), so
#: shorter chunks only repeat that work, never change the result: at 0.05 s (25 frames at 2 ms) a
#: TCN with a 255-frame receptive field already computes 11 frames per frame it outputs; at
#: 0.0001 s every frame would recompute its whole context (a run that seems to hang).
MIN_CHUNK_SECONDS = 0.05
#: the columns crowsetta writes for generic-seq (an empty annotation is this header alone)
GENERIC_SEQ_COLUMNS = ["label", "onset_s", "offset_s", "notated_path", "annot_path", "sequence", "annotation"]


class RecordingError(ValueError):
    """A recording that cannot be annotated (unreadable, wrong sample rate, NaN samples, ...)."""


@dataclasses.dataclass(frozen=True)
class Options:
    """What ``vak-tcn annotate`` does with each recording."""

    annot_format: str = "generic-seq"
    probabilities: bool = False
    post_processing: bool = True  # False: no clean-up at all (--no-post-processing)
    cleanup: str | None = None  # auto | tuned | config | none; None: postprocess.resolve_mode
    channel: int | None = None
    chunk_seconds: float = 60.0
    samplerate: int | None = None  # required sample rate (else each file's own, checked against the model)
    threads: int | None = None  # torch's intra-op threads in each process (None: torch's default)
    precision: str = "32"  # "32" or "bf16" (vak_tcn.nn.precision)
    #: vak's float64 spectrogram, two passes (else float32, one pass: Float32Spectrogram); None: the setting
    #: ``annotate_exact`` (``VAK_TCN_ANNOTATE_EXACT``, default off), resolved once (:func:`resolved`)
    exact: bool | None = None
    profile: bool = False  # seconds per stage, in each Result (changes no output)


def resolved(options: Options) -> Options:
    """``options`` with the settings it leaves to vak_tcn.settings resolved (``exact``), so that every
    worker process annotates the same way."""
    return dataclasses.replace(options, exact=settings.resolve("annotate_exact", cli=options.exact, flag="--exact"))


@dataclasses.dataclass
class Result:
    audio: str
    duration_s: float
    n_segments: int
    seconds: float
    annotation: str
    #: seconds per stage (``Options.profile``; :class:`~vak_tcn.inference.pipeline.Profile`)
    profile: dict | None = None

    @property
    def x_real_time(self) -> float:
        return self.duration_s / self.seconds if self.seconds > 0 else float("inf")


# ---------------------------------------------------------------- files
#: audio files annotate reads through soundfile, by extension, and the libsndfile format that reads each: those this
#: libsndfile has (:func:`audio_extensions`) are annotated, in folders as when named; ``.cbin`` is read through vak's
#: reader (evfuncs).  vak's own formats (:data:`~vak_tcn.plugins.vak_compat.AUDIO_FORMATS`) are among them.
SOUNDFILE_EXTENSIONS = {
    ".aif": "AIFF",
    ".aiff": "AIFF",
    ".au": "AU",
    ".caf": "CAF",
    ".flac": "FLAC",
    ".mp3": "MP3",  # libsndfile >= 1.1 (soundfile >= 0.12's wheels)
    ".ogg": "OGG",
    ".opus": "OGG",
    ".rf64": "RF64",
    ".w64": "W64",
    ".wav": "WAV",
}


def audio_extensions() -> tuple[list[str], list[str]]:
    """``(read, not_read)``: the audio file extensions annotate reads here (``.cbin``, and those of
    :data:`SOUNDFILE_EXTENSIONS` whose format this libsndfile opens), and the audio extensions it does not
    (an MP3 where libsndfile is older than 1.1), sorted."""
    import soundfile

    available = set(soundfile.available_formats())
    read = {".cbin"} | {ext for ext, fmt in SOUNDFILE_EXTENSIONS.items() if fmt in available}
    return sorted(read), sorted(set(SOUNDFILE_EXTENSIONS) - read)


def _reader_version() -> str:
    import soundfile

    return f"soundfile {soundfile.__version__}, libsndfile {soundfile.__libsndfile_version__}"


def find_audio(inputs: list[pathlib.Path], recursive: bool = False) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """``(audio file, path relative to the output directory)`` for files and directories given.

    One rule for files named and files in folders: a file is annotated when its extension is one of
    :func:`audio_extensions` (case aside).  Directories are searched for those (recursively with
    ``recursive``); files inside a directory keep their sub-path below it; their other files are not
    audio and are left alone.  ValueError, before any work, naming them: a file named that is not in a
    format read here, an audio file (named or in a folder) whose format this libsndfile cannot read (MP3
    before libsndfile 1.1), a directory without audio (``--recursive`` suggested when its subfolders
    hold audio); FileNotFoundError: a path that does not exist.
    """
    read, not_read = audio_extensions()
    extensions, unreadable = set(read), set(not_read)
    found, refused = [], []
    for item in inputs:
        item = pathlib.Path(item)
        if item.is_dir():
            pattern = "**/*" if recursive else "*"
            files = [p for p in sorted(item.glob(pattern)) if p.is_file()]
            here = [p for p in files if p.suffix.lower() in extensions]
            refused.extend(p for p in files if p.suffix.lower() in unreadable)
            if not here and not any(p.suffix.lower() in unreadable for p in files):
                kinds = ", ".join(read)
                below = (
                    [] if recursive else [p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in extensions]
                )
                if below:
                    raise ValueError(
                        f"{item} holds no audio file at its top level, and {len(below)} in its subfolders: "
                        "add --recursive to annotate those"
                    )
                raise ValueError(f"{item} holds no audio file ({kinds}){' in any subfolder' if recursive else ''}")
            found.extend((path, path.relative_to(item)) for path in here)
        elif item.exists():
            if item.suffix.lower() in extensions:
                found.append((item, pathlib.Path(item.name)))
            else:
                refused.append(item)
        else:
            raise FileNotFoundError(f"audio file or directory not found: {item}")
    if refused:
        named = ", ".join(map(str, refused[:3])) + (f" and {len(refused) - 3} more" if len(refused) > 3 else "")
        hint = (
            " (MP3 needs libsndfile >= 1.1: pip install 'soundfile>=0.12'; or convert them to FLAC or WAV)"
            if any(p.suffix.lower() == ".mp3" for p in refused) and ".mp3" in unreadable
            else ""
        )
        raise ValueError(
            f"{len(refused)} file(s) not in an audio format annotate reads here: {named}; it reads "
            f"{', '.join(read)} ({_reader_version()}){hint}"
        )
    return found


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


def _remove_stale_temporaries(path: pathlib.Path) -> None:
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
    "recording": "recording (changed since)",
}


def _part_order(part: str) -> int:
    return list(MADE_WITH_PARTS).index(part) if part in MADE_WITH_PARTS else len(MADE_WITH_PARTS)


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _as_json(value):
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
    return _as_json({**made_with, "recording": {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}})


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
        return "other", sorted(differ, key=_part_order)
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
    from .. import __version__

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


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    samplerate: int
    n_samples: int
    channels: int

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.samplerate


def audio_info(path: pathlib.Path) -> AudioInfo:
    """Sample rate, length and channels from the file's header (nothing else is read)."""
    path = pathlib.Path(path)
    try:
        if path.suffix.lower() == ".cbin":
            data, rate = vak_compat.read_cbin(path)
            data = np.asarray(data)
            return AudioInfo(int(rate), data.shape[0], 1 if data.ndim == 1 else data.shape[1])
        import soundfile

        info = soundfile.info(str(path))
        result = AudioInfo(int(info.samplerate), int(info.frames), int(info.channels))
    except Exception as e:
        raise RecordingError(f"cannot read audio: {type(e).__name__}: {e}".strip()) from e
    declared = _wav_declared_samples(path)
    if declared is not None and declared > result.n_samples:  # libsndfile reads what is there, silently
        rate = result.samplerate
        raise RecordingError(
            f"truncated: its header gives {declared} samples ({declared / rate:.3f} s), the file holds "
            f"{result.n_samples} ({result.duration_s:.3f} s); copy it again from its source"
        )
    in_frames = _mp3_frame_samples(path) if path.suffix.lower() == ".mp3" else None
    if in_frames is not None and in_frames - result.n_samples > 4 * 1152:  # more than a tag frame, delay, padding
        rate = result.samplerate
        raise RecordingError(
            f"libsndfile would read {result.n_samples} samples ({result.duration_s:.3f} s) of this MP3, whose "
            f"frames hold {in_frames} ({in_frames / rate:.3f} s): a variable-bitrate file without a Xing/Info "
            "header (libsndfile estimates its length); convert it to FLAC or WAV"
        )
    return result


#: MPEG audio Layer III bit rates (kbit/s) by version (MPEG-1, else MPEG-2/2.5), and sample rates by version bits
_MP3_BITRATES = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame_samples(path: pathlib.Path) -> int | None:
    """The samples an MP3 file's frames hold, from their headers (None: not MPEG Layer III from its
    start, e.g. free format).  libsndfile takes an MP3's length from its Xing/Info header, else
    estimates it from the first frame's bit rate, and reads no further: a variable-bitrate file without
    that header is read in part, silently; compare (a walk over the frame headers, no decoding)."""
    import mmap

    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            size, position = len(data), 0
            if data[:3] == b"ID3" and size >= 10:  # an ID3v2 tag first: its size is "synchsafe", 7 bits a byte
                position = 10 + sum((data[6 + i] & 0x7F) << (7 * (3 - i)) for i in range(4))
                position += 10 if data[5] & 0x10 else 0  # a footer
            samples = 0
            while position + 4 <= size:
                header = int.from_bytes(data[position : position + 4], "big")
                version, layer = (header >> 19) & 3, (header >> 17) & 3
                bitrate_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
                if header >> 21 != 0x7FF or version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
                    break  # not a Layer III frame: the end (an ID3v1 or APE tag), or junk
                bitrate = _MP3_BITRATES[3 if version == 3 else 2][bitrate_index] * 1000
                per_frame = 1152 if version == 3 else 576
                position += per_frame // 8 * bitrate // _MP3_RATES[version][rate_index] + ((header >> 9) & 1)
                samples += per_frame
    except (OSError, ValueError):  # an empty file (mmap), unreadable: soundfile has said what it could
        return None
    return samples or None


def _wav_declared_samples(path: pathlib.Path) -> int | None:
    """The samples a RIFF WAV file's header gives its data chunk (None: not a WAV file, or a length
    left open, 0 or 0xFFFFFFFF, as recorders that stream to disk write it).  libsndfile reads a
    truncated file (a copy cut short) as a shorter recording without a word: compare."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            position, block_align = 12, 0
            while position + 8 <= size:
                fh.seek(position)
                chunk = fh.read(8)
                name, length = chunk[:4], int.from_bytes(chunk[4:8], "little")
                if name == b"fmt ":
                    block_align = int.from_bytes(fh.read(16)[12:14], "little")
                elif name == b"data":
                    if length in (0, 0xFFFFFFFF) or not block_align:
                        return None
                    return length // block_align
                position += 8 + length + (length & 1)
    except OSError:
        return None
    return None


def block_reader(path: pathlib.Path, info: AudioInfo, channel: int | None, check_finite: bool = True):
    """``read_blocks(n)``: the recording in blocks of ``n`` samples, one channel, float64 as vak reads it
    (the one audio block reader: annotate's :class:`StreamingSpectrogram`, live's ``--simulate``).

    :class:`RecordingError` for a file that cannot be read, ends before its header's length, or (with
    ``check_finite``) has a NaN/inf sample; live replaces those with silence itself.
    """
    if info.channels > 1 and channel is None:
        raise RecordingError(f"{info.channels} channels: choose one with --channel")
    if info.channels > 1 and not 0 <= channel < info.channels:
        raise RecordingError(f"--channel {channel} out of range for {info.channels} channels")

    def pick(block: np.ndarray, start: int) -> np.ndarray:
        if block.ndim == 2:
            block = block[:, channel or 0]
        if check_finite and not np.all(np.isfinite(block)):
            bad = start + int(np.nonzero(~np.isfinite(block))[0][0])
            raise RecordingError(f"non-finite sample (NaN or inf) at sample {bad} ({bad / info.samplerate:.3f} s)")
        return block

    if path.suffix.lower() == ".cbin":  # evfuncs reads whole files; cbin files are short

        def read_blocks(n: int) -> Iterator[np.ndarray]:
            data = np.asarray(vak_compat.read_cbin(path)[0])
            for start in range(0, data.shape[0], n):
                yield pick(data[start : start + n], start)

        return read_blocks

    import soundfile

    def read_blocks(n: int) -> Iterator[np.ndarray]:
        start = 0
        try:
            with soundfile.SoundFile(str(path)) as f:
                while True:
                    block = f.read(n, dtype="float64", always_2d=False)
                    if len(block) == 0:
                        break
                    yield pick(block, start)
                    start += len(block)
        except RecordingError:
            raise
        except Exception as e:
            where = f" after sample {start} of {info.n_samples} (truncated or corrupt?)" if start else ""
            raise RecordingError(f"cannot read audio{where}: {type(e).__name__}: {e}") from e
        if start < info.n_samples:
            raise RecordingError(
                f"truncated: the audio ends after {start} of the {info.n_samples} samples its header gives"
            )

    return read_blocks


# ---------------------------------------------------------------- writers
_WRITER_WARMED = threading.Event()


def warm_up_writer() -> None:
    """Import crowsetta and write one annotation (to memory), in a thread, once per process.

    crowsetta (pandas, pandera, dask.dataframe) takes ~0.5 s to import and its first file ~0.5 s more
    (measured here: 0.54 s and 0.49 s); started while the first recording is read, that second is
    spent while the audio's FFTs (which release the GIL) run, not after the network."""
    if _WRITER_WARMED.is_set():
        return
    _WRITER_WARMED.set()

    def warm():
        with contextlib.suppress(Exception):  # only a warm-up: the real write says what is wrong
            import io

            import crowsetta

            seq = crowsetta.Sequence.from_keyword(labels=np.array(["a"]), onsets_s=np.zeros(1), offsets_s=np.ones(1))
            annot = crowsetta.Annotation(seq=seq, notated_path="warm-up.wav", annot_path="warm-up.csv")
            crowsetta.formats.seq.GenericSeq(annots=[annot]).to_file(io.StringIO())  # in memory, nothing written

    threading.Thread(target=warm, name="vak-tcn-warm-up", daemon=True).start()


#: decimals of the seconds written in simple-seq and aud-seq (microseconds, as Audacity writes its labels): a frame
#: edge computed as ``t - frame_dur/2`` is written ``1.051``, not ``1.0510000000000002``.  generic-seq keeps every
#: digit of the float: it is what ``vak predict`` writes, and annotate's equals it to the float
#: (tests/inference/test_annotate_vs_vak_predict.py).
TIME_DECIMALS = 6


def write_annotation(path: pathlib.Path, fmt: str, audio: pathlib.Path, labels, onsets_s, offsets_s) -> None:
    """One crowsetta annotation file, written to a temporary name and renamed.  Times are rounded to
    :data:`TIME_DECIMALS` in simple-seq and aud-seq; generic-seq (vak's format) keeps the floats as computed."""
    import crowsetta

    labels = np.asarray(labels).astype(str)
    onsets_s, offsets_s = np.asarray(onsets_s, dtype=float), np.asarray(offsets_s, dtype=float)
    if fmt != "generic-seq":
        onsets_s, offsets_s = np.round(onsets_s, TIME_DECIMALS), np.round(offsets_s, TIME_DECIMALS)
    # a temporary name, flushed and renamed into place: the annotation's record, written after it,
    # must not outlive it in a power cut
    with atomic_path(path) as tmp:
        if fmt == "generic-seq":
            if len(labels) == 0:  # crowsetta cannot write an empty sequence: its header alone
                tmp.write_text(",".join(GENERIC_SEQ_COLUMNS) + "\n")
            else:
                seq = crowsetta.Sequence.from_keyword(labels=labels, onsets_s=onsets_s, offsets_s=offsets_s)
                annot = crowsetta.Annotation(seq=seq, notated_path=audio, annot_path=path)
                crowsetta.formats.seq.GenericSeq(annots=[annot]).to_file(tmp)
        elif fmt == "simple-seq":
            crowsetta.formats.seq.SimpleSeq(
                onsets_s=onsets_s, offsets_s=offsets_s, labels=labels, annot_path=path, notated_path=audio
            ).to_file(tmp)
        elif fmt == "aud-seq":
            crowsetta.formats.seq.AudSeq(
                start_times=onsets_s, end_times=offsets_s, labels=labels, annot_path=path, notated_path=audio
            ).to_file(tmp)
        else:  # pragma: no cover - checked by Options' users
            raise ValueError(f"annotation format {fmt!r} not one of {sorted(ANNOT_FORMATS)}")


class ProbabilityWriter:
    """Per-frame class probabilities ``(classes, frames)`` into a compressed ``.npz``, chunk by chunk.

    The array is stored Fortran-ordered, so frames are written as they come; ``np.load`` reads
    it as any ``.npz``: ``probabilities`` (float32), ``frame_times`` (s) and ``labels``.
    """

    def __init__(self, path: pathlib.Path, n_classes: int, n_frames: int, frame_times, labels: list[str]):
        self.path, self.replacement = path, Replacement(path)
        self.tmp = self.replacement.tmp
        self.zip = zipfile.ZipFile(self.tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        with self.zip.open("labels.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, np.asarray(labels, dtype=str), allow_pickle=False)
        with self.zip.open("frame_times.npy", "w", force_zip64=True) as f:  # frame_times(start, stop), in blocks
            np.lib.format.write_array_header_2_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n_frames,)})
            for start in range(0, n_frames, 2**20):
                f.write(np.asarray(frame_times(start, min(n_frames, start + 2**20)), dtype="<f8").tobytes())
        self.n_frames, self.written = n_frames, 0
        self.stream = self.zip.open("probabilities.npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": True}
        header["shape"] = (int(n_classes), self.n_frames)
        np.lib.format.write_array_header_2_0(self.stream, header)

    def write(self, probabilities: np.ndarray) -> None:
        self.stream.write(np.ascontiguousarray(probabilities.T, dtype=np.float32).tobytes())
        self.written += probabilities.shape[1]

    def close(self) -> None:
        self.stream.close()
        self.zip.close()
        if self.written != self.n_frames:
            self.abort()
            raise RuntimeError(f"wrote {self.written} of {self.n_frames} frames of probabilities")
        self.replacement.commit()

    def abort(self) -> None:
        try:
            self.stream.close()
            self.zip.close()
        except Exception:
            pass
        self.replacement.abort()


# ---------------------------------------------------------------- clean-up
def cleanup_request(options: Options) -> postprocess.Request:
    """The clean-up the options ask for: ``--post-processing``, or off (``--no-post-processing``)."""
    return postprocess.Request(cli=options.cleanup, off_by=None if options.post_processing else "--no-post-processing")


# ---------------------------------------------------------------- the annotator
class Annotator:
    """A trained model, loaded once, that annotates recordings one after the other.

    Parameters
    ----------
    config_path : path
        A stock vak predict config.
    options : Options
    samplerate : int, optional
        The sample rate every recording must have; without it, each recording's own rate is
        accepted if it gives the model's number of frequency bins.
    """

    def __init__(self, config_path: pathlib.Path, options: Options = Options(), samplerate: int | None = None):
        import torch

        if options.annot_format not in ANNOT_FORMATS:
            raise ValueError(
                f"--annot-format {options.annot_format!r}: vak-tcn writes {', '.join(sorted(ANNOT_FORMATS))}"
            )
        options = resolved(options)
        self.options, self.samplerate = options, samplerate
        self.precision = check_precision(options.precision, "--precision")
        if options.threads:
            torch.set_num_threads(options.threads)
        from scipy import fft, signal  # noqa: F401  (every recording's filter and FFTs: imported once, here)

        #: the trained model, loaded once (vak_tcn.models.trained): its attributes are this annotator's
        self.model = TrainedModel.from_predict_config(config_path, cleanup_request(options))
        model = self.model
        self.spect_params, self.labelmap, self.standardizer = model.spect_params, model.labelmap, model.standardizer
        self.frames_standardizer_path, self.n_freqbins = model.standardizer_path, model.n_freqbins
        self.model_config, self.window_size = model.model_config, model.window_size
        self.checkpoint_path = model.checkpoint
        self.cleanup, self.cleanup_source = model.cleanup, model.cleanup_source
        self.majority_vote = self.cleanup.majority_vote
        self.min_segment_dur = self.cleanup.min_segment_dur or None
        self.min_gap_dur = self.cleanup.min_gap_dur or None
        accelerator = getattr(model.table.trainer, "accelerator", "cpu")
        self.device = "cuda" if accelerator == "gpu" and torch.cuda.is_available() else "cpu"
        self.net = None
        self._pool = None
        if self.n_freqbins is not None:
            self._load_network(self.n_freqbins)

    @property
    def pool(self):
        """Threads for the blocks' FFTs, transforms and standardization, made once: as many as torch's
        (``--threads``; one per worker process with ``--workers``), else one per core."""
        if self._pool is None:
            import weakref
            from concurrent.futures import ThreadPoolExecutor

            workers = self.options.threads or pipeline.cpu_count()
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="vak-tcn-fft")
            weakref.finalize(self, self._pool.shutdown, wait=False)  # its threads end with the annotator
        return self._pool

    def _load_network(self, n_freqbins: int) -> None:
        net = self.model.load_network(n_freqbins)
        self.net = with_precision(net.to(self.device), self.precision, self.device)
        self.n_freqbins = n_freqbins
        self.left, self.right, self.exact_context = chunked.context_of(self.net)

    def made_with(self) -> dict:
        """What makes this annotator's outputs what they are, by content: a record's ``made_with``
        (:func:`resume_state`).  Hashes the checkpoint and the standardizer (once per run)."""
        standardizer = self.frames_standardizer_path
        return _as_json(
            {
                "checkpoint": {"sha256": sha256_of(self.checkpoint_path)},
                "labelmap": self.labelmap,
                "frames_standardizer": {"sha256": sha256_of(standardizer)} if standardizer else None,
                "model": {"name": self.model_config.get("name"), "network": self.model_config.get("network") or {}},
                "spect_params": dataclasses.asdict(self.spect_params),
                "clean_up": self.cleanup.asdict(),
                "precision": self.precision,
                # float32 (the default) is named; --exact is what every record before it was made with
                **({} if self.options.exact else {"spectrogram": "float32"}),
                "channel": self.options.channel,
            }
        )

    def prepare(self, samplerate: int) -> None:
        """Load the network for audio at ``samplerate``; :class:`RecordingError` if the config's
        spect_params give it another number of frequency bins than the model takes."""
        try:
            n_freqbins = self.model.check_samplerate(samplerate)
        except ValueError as e:
            raise RecordingError(str(e)) from None
        if self.net is None:
            self._load_network(n_freqbins)

    def annotate(self, audio: pathlib.Path, outputs: dict[str, pathlib.Path]) -> Result:
        """Annotate one recording; write its outputs; raise :class:`RecordingError` if it is bad."""
        t0 = time.perf_counter()
        audio = pathlib.Path(audio)
        info = audio_info(audio)
        if self.samplerate is not None and info.samplerate != self.samplerate:
            raise RecordingError(f"sample rate {info.samplerate} Hz, expected {self.samplerate} Hz")
        params = self.spect_params
        self.prepare(info.samplerate)
        warm_up_writer()
        profile = pipeline.Profile()
        kind = spectrogram.StreamingSpectrogram if self.options.exact else spectrogram.Float32Spectrogram
        reader = block_reader(audio, info, self.options.channel)
        spect = kind(reader, info.n_samples, info.samplerate, params, profile=profile)
        n = spect.n_frames
        times = spect.frame_times
        frame_dur = float(segments.frame_dur_from_times(times(0, min(n, 1000)))) if n >= 2 else float("nan")
        stream = segments.SegmentStream(
            self.labelmap, times, frame_dur, self.majority_vote, self.min_segment_dur, min_gap_dur=self.min_gap_dur
        )
        writer = None
        if "probabilities" in outputs:
            names = [k for k, _ in sorted(self.labelmap.items(), key=lambda kv: kv[1])]
            writer = ProbabilityWriter(outputs["probabilities"], len(self.labelmap), n, times, names)
        try:
            # log_spect: the whole recording's maximum power first (float32: the one pass, its work kept)
            with profile("spectrogram pass"):
                peak = spect.prepare(self.pool, self.standardizer) if n else None
            if n == 0 or (params.transform_type == "log_spect" and peak == 0.0):
                # no frame, or digital silence (vak's log_spect would be 0/0): no segments
                if writer is not None:
                    probs = np.zeros((len(self.labelmap), n), dtype=np.float32)
                    probs[stream.background] = 1.0
                    writer.write(probs)
            else:
                with profile("network pass"):
                    self._run(spect, n, stream, writer, profile)
            if writer is not None:
                with profile("write"):
                    writer.close()
                writer = None
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        finally:
            if isinstance(spect, spectrogram.Float32Spectrogram):
                spect.close()
        with profile("clean-up"):
            labels, onsets_s, offsets_s = stream.finish()
        with profile("write"):
            write_annotation(outputs["annotation"], self.options.annot_format, audio, labels, onsets_s, offsets_s)
        seconds = time.perf_counter() - t0
        profile.audio_seconds, profile.wall_seconds = info.duration_s, seconds
        about = dict(profile.seconds, audio_seconds=profile.audio_seconds, wall_seconds=seconds)
        return Result(
            str(audio), info.duration_s, len(labels), seconds, str(outputs["annotation"]),
            profile=about if self.options.profile else None,
        )  # fmt: skip

    def _run(self, spect, n: int, stream: segments.SegmentStream, writer, profile: pipeline.Profile) -> None:
        """The network over the spectrogram's blocks (here), in chunks; the segments and probabilities of
        each chunk in another thread, while the network computes the next."""
        import torch

        chunk = max(1, int(round(self.options.chunk_seconds * spect.samplerate / self.spect_params.step_size)))
        runner = chunked.ChunkedInference(self.net, n, chunk, self.left, self.right, self.device)

        def consume(logits: np.ndarray) -> None:
            with profile("clean-up"):
                stream.feed(logits.argmax(axis=0))
                probabilities = torch.softmax(torch.from_numpy(logits), dim=0).numpy() if writer is not None else None
            if writer is not None:
                with profile("write"):
                    writer.write(probabilities)

        with pipeline.Consumer(consume) as sink:
            blocks = spect.network_blocks(self.standardizer, self.pool)
            try:  # waiting for a block is charged to the stages that make it; its chunks' time to the network
                for block in blocks:
                    for _, logits in profile.timed("network", runner.feed(block)):
                        sink.put(logits)
                for _, logits in profile.timed("network", runner.finish()):
                    sink.put(logits)
            finally:
                blocks.close()


# ---------------------------------------------------------------- one task (local or on a dask worker)
_ANNOTATORS: dict = {}


def annotate_task(
    config_path: str,
    audio: str,
    outputs: dict,
    options: Options,
    samplerate: int | None,
    record: str | None = None,
    made_with: dict | None = None,
    about: dict | None = None,
) -> dict:
    """Annotate one recording in this process (a dask task); the model is loaded once per process.

    With ``record``: the record beside the outputs says ``made_with`` is writing them (pending)
    before they are written, and vouches for them (complete) after, or says why the recording failed
    (failed: a rerun tries it again; an interrupted run leaves it pending).  Returns ``{"ok": True,
    **Result}`` or ``{"ok": False, "audio": ..., "error": ...}``; :class:`ModelError` (no
    recording can be annotated) is raised.
    """
    key = (str(config_path), options, samplerate)
    if key not in _ANNOTATORS:
        _ANNOTATORS.clear()
        _ANNOTATORS[key] = Annotator(pathlib.Path(config_path), options, samplerate)
    paths = {k: pathlib.Path(v) for k, v in outputs.items()}
    try:
        if record is not None:
            write_record(pathlib.Path(record), paths, made_with or {}, "pending", about)
        result = _ANNOTATORS[key].annotate(pathlib.Path(audio), paths)
        if record is not None:
            write_record(pathlib.Path(record), paths, made_with or {}, "complete", about)
    except ModelError:
        raise
    except Exception as e:  # this one file (anything else than RecordingError named by its type): go on with the others
        error = str(e) if isinstance(e, RecordingError) else f"{type(e).__name__}: {e}"
        if record is not None:
            record_failure(pathlib.Path(record), paths, made_with or {}, error, about)
        return {"ok": False, "audio": audio, "error": error}
    return {"ok": True, **dataclasses.asdict(result)}


def record_failure(record: pathlib.Path, outputs: dict[str, pathlib.Path], made_with: dict, error: str, about) -> None:
    """The record says the recording failed and why; a record that cannot be written (a full disk) stays as it
    was (pending, or none): a rerun tries the recording again either way."""
    with contextlib.suppress(Exception):
        write_record(record, outputs, made_with, "failed", about, error=error)


# ---------------------------------------------------------------- many recordings
def _line(result: dict) -> str:
    if not result["ok"]:
        return f"FAILED {result['audio']}: {result['error']}"
    x = result["duration_s"] / result["seconds"] if result["seconds"] > 0 else float("inf")
    return (
        f"{result['audio']}: {result['duration_s']:.1f} s, {result['n_segments']} segments, "
        f"{result['seconds']:.1f} s, {x:.0f}x real time -> {result['annotation']}"
    )


def check_options(options: Options, workers: int | None = None) -> None:
    """ValueError for an option that cannot work (the command line checks these as it parses them)."""
    if options.annot_format not in ANNOT_FORMATS:
        raise ValueError(f"--annot-format {options.annot_format!r}: vak-tcn writes {', '.join(sorted(ANNOT_FORMATS))}")
    if not (math.isfinite(options.chunk_seconds) and options.chunk_seconds >= MIN_CHUNK_SECONDS):
        raise ValueError(
            f"--chunk-seconds must be a number of seconds >= {MIN_CHUNK_SECONDS}, got {options.chunk_seconds}"
        )
    for name, value in (("--workers", workers), ("--threads", options.threads)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")


def _on_dask(client, work, submit, report, remote: bool) -> None:
    """Submit every recording, report each as it finishes; on Ctrl-C or a model error, quietly."""
    from dask.distributed import as_completed

    futures = {submit(client, audio, outputs, record, made_with): d for audio, outputs, record, made_with, d in work}
    try:
        for future in as_completed(futures):
            report(future.result(), futures[future])
    except BaseException:  # Ctrl-C, or a model that does not load
        quiet_dask()
        with contextlib.suppress(Exception):
            if remote:  # a running task goes on (dask cannot stop it); its record says when it is done
                client.cancel(list(futures), force=True)
            else:
                client.run(quiet_dask)  # on this command's own workers too
        raise
    quiet_dask()


def annotate_all(
    config_path: pathlib.Path,
    inputs: list[pathlib.Path],
    out_dir: pathlib.Path | None = None,
    options: Options = Options(),
    recursive: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    samplerate: int | None = None,
    echo=None,
) -> tuple[int, int, int]:
    """Annotate every recording found in ``inputs``; returns ``(annotated, failed, skipped)``.

    Before any recording is read, ValueError for: an option that cannot work, a folder without
    audio, a file not in an audio format read here, two recordings that would write one file, an
    output folder that is a file or read-only, or that another ``vak-tcn annotate`` is writing
    (:func:`output_lock`), a config whose model does not load (:class:`ModelError`), and files under
    output names that no record vouches for (never overwritten).  Recordings whose record vouches for
    their outputs, made the same way, are skipped (resume); those made another way, and those that
    failed, are annotated again.  In this process by default, on a local dask.distributed cluster of
    ``workers`` processes, or on the cluster at ``scheduler`` (one task per recording).  ``echo``
    (default: print above the progress bar) gets one line per recording and the summary.
    """
    from tqdm import tqdm

    echo = echo or tqdm.write

    check_options(options, workers)
    options = resolved(options)
    config_path = pathlib.Path(config_path).resolve()
    if out_dir is None:  # the config's output_dir, else the working directory
        cfg, _ = read_predict_config(config_path)
        configured = getattr(cfg.predict, "output_dir", None) if cfg.predict is not None else None
        out_dir = pathlib.Path(configured) if configured else pathlib.Path.cwd()
    out_dir = pathlib.Path(out_dir)
    planned = plan_outputs(find_audio(inputs, recursive), out_dir, options)
    check_writable([out_dir])
    with output_lock(out_dir, echo):
        return _annotate_planned(config_path, planned, out_dir, options, workers, scheduler, samplerate, echo)


def _annotate_planned(config_path, planned, out_dir, options, workers, scheduler, samplerate, echo):
    """:func:`annotate_all` once the recordings and their outputs are known, ``out_dir`` locked."""
    from tqdm import tqdm

    # the config, checkpoint, labelmap and standardizer are checked here, before any work
    _ANNOTATORS.clear()
    annotator = _ANNOTATORS[(str(config_path), options, samplerate)] = Annotator(config_path, options, samplerate)
    echo(f"clean-up: {annotator.cleanup.describe()}; from {annotator.cleanup_source}")
    made_with = annotator.made_with()
    about = {"config": str(config_path), "checkpoint_path": str(pathlib.Path(annotator.checkpoint_path).resolve())}
    todo, skipped, failed, done, foreign, other, n_other, retried = [], 0, 0, 0, [], set(), 0, []
    for audio, outputs, record in planned:
        ours = recording_made_with(made_with, audio)
        state, details = resume_state(outputs, record, ours)
        if state == "done":
            skipped += 1
            continue
        if state == "foreign":
            foreign.extend(details)
            continue
        if state == "other":
            n_other += 1
            other.update(details)
        if state == "failed":
            retried.append(f"{audio}: {details[0]}")
        todo.append((audio, outputs, record, ours))
    if foreign:
        raise ValueError(
            f"{len(foreign)} file(s) under --out {out_dir} were not written by vak-tcn annotate or were changed "
            f"since (no {RECORD_SUFFIX} record vouches for them), e.g. {foreign[0]}: not overwritten; move them "
            "away or choose another --out"
        )
    check_writable({path.parent for _, outputs, record, _ in todo for path in (*outputs.values(), record)})
    if skipped:
        echo(
            f"{skipped} recording(s) already annotated in {out_dir} with this checkpoint, clean-up and options: skipped"
        )
    if n_other:
        what = ", ".join(MADE_WITH_PARTS.get(part, part) for part in sorted(other, key=_part_order))
        echo(f"{n_other} recording(s) in {out_dir} were annotated with a different {what}: annotating them again")
    if retried:
        echo(f"{len(retried)} recording(s) failed in an earlier run (e.g. {retried[0]}): trying them again")
    work = []
    for audio, outputs, record, ours in todo:
        try:
            duration = audio_info(audio).duration_s
        except RecordingError as e:
            echo(_line({"ok": False, "audio": str(audio), "error": str(e)}))
            record_failure(record, outputs, ours, str(e), about)
            failed += 1
            continue
        for path in (*outputs.values(), record):  # a killed run's half-written files: never under a final name
            _remove_stale_temporaries(path)
        work.append(
            (
                str(audio.resolve()),
                {k: str(v.resolve()) for k, v in outputs.items()},
                str(record.resolve()),
                ours,
                duration,
            )
        )
    # audio (in h, min or s, as long as it is), as exact as the durations: the bar ends at its total, never
    # past it (it showed 101 %, with tqdm's warning "clamping frac to range [0, 1]")
    total_s = sum(item[-1] for item in work)
    scale, unit = (3600, "h") if total_s >= 3600 else (60, "min") if total_s >= 60 else (1, "s")
    total = total_s / scale
    bar = tqdm(
        total=total, desc="annotate", disable=not work, leave=False,
        bar_format=f"{{desc}}: {{percentage:3.0f}}%|{{bar}}| {{n:.1f}}/{{total:.1f}} {unit} audio "
        "[{elapsed}<{remaining}]",
    )  # fmt: skip
    progress = {"audio": 0.0, "reported": 0}

    profile = pipeline.Profile()

    def report(result: dict, duration: float) -> None:
        nonlocal done, failed
        done, failed = done + result["ok"], failed + (not result["ok"])
        echo(_line(result))
        progress["audio"] += duration / scale
        progress["reported"] += 1
        bar.update((total if progress["reported"] == len(work) else min(progress["audio"], total)) - bar.n)
        if result.get("profile"):
            seconds = dict(result["profile"])
            one = pipeline.Profile()
            one.audio_seconds, one.wall_seconds = seconds.pop("audio_seconds"), seconds.pop("wall_seconds")
            one.seconds.update(seconds)
            profile.merge(one)

    def submit(client, audio, outputs, record, ours):
        task = (str(config_path), audio, outputs, options, samplerate, record, ours, about)
        return client.submit(annotate_task, *task, pure=False)

    try:
        if workers is None and scheduler is None:
            for audio, outputs, record, ours, duration in work:
                result = annotate_task(str(config_path), audio, outputs, options, samplerate, record, ours, about)
                report(result, duration)
        elif work:
            _annotate_on_dask(work, submit, report, workers, scheduler)
    finally:
        bar.close()
    echo(f"{done} annotated, {failed} failed" + (f", {skipped} skipped (already annotated)" if skipped else ""))
    if options.profile and profile.audio_seconds:
        echo(profile.table())
    return done, failed, skipped


def _annotate_on_dask(work, submit, report, workers: int | None, scheduler: str | None) -> None:
    from dask.distributed import Client, LocalCluster

    level = logging.getLogger("distributed").level
    cluster = client = None
    try:
        if scheduler:
            client = connect_scheduler(scheduler)
        else:
            with terminal_interrupts_ignored():  # Ctrl-C reaches this process alone; it stops the workers
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
            client = Client(cluster)
        _on_dask(client, work, submit, report, remote=bool(scheduler))
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        logging.getLogger("distributed").setLevel(level)
