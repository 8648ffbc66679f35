"""``vak-tcn live CONFIG``: annotate song as it arrives, print events, fire triggers.

Audio comes from one source:

* ``--simulate FILE``: a recording played at real-time pace (``--speed``: 2 = twice as fast,
  0 = as fast as the machine goes), for testing without hardware;
* ``--stdin --rate R [--dtype int16] [--channels N]``: raw interleaved PCM on standard input
  (e.g. ``arecord -f S16_LE -r 32000 -c 1 | vak-tcn live config.toml --stdin --rate 32000``);
* ``--device [N]``: a sound card, through the optional ``sounddevice`` package
  (``pip install "vak-tcn[live]"``).

Each event is printed as one JSON line on standard output.  ``--trigger LABEL`` with
``--exec CMD`` runs ``CMD`` (not waiting for it) at each onset of ``LABEL``, with the event in
the variable ``VAK_TCN_EVENT`` (JSON); with ``--fifo PATH`` it writes the event's
JSON line to a FIFO instead.  ``--post-processing auto|tuned|config`` cleans the frame labels
as ``vak-tcn annotate`` does (:mod:`.cleanup`), reporting each event once the clean-up makes it
certain.  At the end the session's annotation is written with ``--annot-out`` in a crowsetta
format, as ``vak-tcn annotate`` writes them, and a summary (events, compute time per push) goes
to standard error, on every way a session ends: end of input, Ctrl-C (exit 130), SIGTERM (143),
SIGHUP (129), the reader of standard output gone (141), or an error.

Mistakes are refused before the session, in one line (exit 2): among them a ``--reference`` whose
level is more than :data:`REFERENCE_DB_LIMIT` dB from the level recorded when training ended, a
trigger on a label that never makes an onset (the background), and a ``--stdin`` stream whose
first second does not look like audio of its ``--dtype`` (:func:`dtype_problem`).

Nothing on the audio path blocks or ends the session: a non-finite sample is replaced by silence
and reported; a trigger command that cannot start or fails is reported and counted; the FIFO is
written without blocking, and an event nobody reads is dropped and counted (:class:`Trigger`).
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import pathlib
import queue
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np

from .. import settings

DTYPES = ("int16", "int32", "float32")
SCALES = {"int16": 2**15, "int32": 2**31, "float32": 1.0}

#: a --reference whose maximum power is further than this from the level recorded when training ended is
#: refused: it is not the set-up's song (issue 37: 5 s of DC, 39 dB below it, gave 375 syllables instead of 63)
REFERENCE_DB_LIMIT = 20.0

# what --stdin's first second must look like for its --dtype (dtype_problem, docs/live.md)
FLOAT_LIMIT = 16.0  # float32 audio lies within +-1; beyond +-16 (24 dB over full scale) no sample is audio
FLOAT_FLOOR = 1e-9  # -180 dB: no audio is that quiet; integer PCM read as float32 gives such numbers (and NaN/huge)
BAD_SHARE = 0.01  # float32 audio: at most 1 % of the non-zero samples NaN, inf or beyond FLOAT_LIMIT


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=pathlib.Path, help="stock vak predict config of a causal TCN or ConvTCN")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--simulate", type=pathlib.Path, metavar="FILE", help="play a recording at real-time pace")
    source.add_argument(
        "--stdin", action="store_true", help="raw PCM on standard input (give --rate; its first second is checked)"
    )
    source.add_argument("--device", nargs="?", const="default", help="a sound card (needs the sounddevice package)")
    p.add_argument("--rate", type=int, help="sample rate of --stdin / --device audio (Hz)")
    p.add_argument("--dtype", default="int16", choices=DTYPES, help="sample format of --stdin (default int16)")
    p.add_argument("--channels", type=int, default=1, help="interleaved channels of --stdin / --device (default 1)")
    p.add_argument("--channel", type=int, default=0, help="the channel to annotate (default 0)")
    p.add_argument("--speed", type=float, default=1.0, help="--simulate pace: 1 real time (default), 0 no waiting")
    p.add_argument("--hop", type=int, default=1, help="spectrogram frames per push (default 1: lowest latency)")
    p.add_argument(
        "--reference-power",
        type=float,
        default=None,
        help="what log_spect divides by (default: the level recorded when training ended, "
        "reference_power.json beside the checkpoint; without it the running maximum)",
    )
    p.add_argument("--reference", type=pathlib.Path, default=None, help="take --reference-power from this recording")
    p.add_argument("--trigger", metavar="LABEL", help="fire --exec / --fifo at each onset of LABEL")
    p.add_argument(
        "--exec", dest="exec_cmd", metavar="CMD", help="command run at each trigger (event in $VAK_TCN_EVENT)"
    )
    p.add_argument("--fifo", type=pathlib.Path, help="FIFO (or file) that gets each trigger's event as a JSON line")
    p.add_argument(
        "--exec-grace",
        type=float,
        default=2.0,
        metavar="S",
        help="at the end, --exec commands still running get S seconds, then are killed (default 2)",
    )
    p.add_argument(
        "--post-processing",
        choices=("none", "auto", "tuned", "config"),
        default="none",
        help="clean-up: none (default: every event at once); auto/tuned/config: what vak-tcn annotate applies "
        "(tuned on validation data, then the config's), onsets min_segment_dur and offsets min_gap_dur later",
    )
    p.add_argument("--annot-out", type=pathlib.Path, default=None, help="write the session's annotation here")
    p.add_argument(
        "--annot-format", default="generic-seq", help="crowsetta format of --annot-out (default generic-seq)"
    )


def _blocks_from_file(path: pathlib.Path, info, size: int, speed: float, channel: int) -> Iterator[np.ndarray]:
    """``--simulate``: the file in blocks of ``size`` samples (annotate's reader), at ``speed`` x real time."""
    from ..audio.read import block_reader

    start = time.perf_counter()
    done = 0
    for block in block_reader(path, info, channel, check_finite=False)(size):
        if speed > 0:  # real-time pace: wait until this block would have been recorded
            delay = start + (done + len(block)) / info.samplerate / speed - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        done += len(block)
        yield block


class _Refused(Exception):
    """A mistake found once the session reads its input (``--stdin``'s first second): one line, exit 2,
    nothing else (no summary, no annotation: the session has not started)."""


def _as_float32(data: bytes) -> tuple[float, float, float] | None:
    """Bytes read as float32: ``(share of the non-zero values that are NaN, inf or beyond FLOAT_LIMIT,
    median magnitude of the finite non-zero ones, largest magnitude within FLOAT_LIMIT)``; None when
    every value is 0."""
    x = np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)
    with np.errstate(invalid="ignore"):  # signalling NaNs
        x = x[x != 0].astype(np.float64)  # NaN is not 0: kept
    if not x.size:
        return None
    magnitude = np.abs(x)
    finite = np.isfinite(magnitude)
    within = finite & (np.nan_to_num(magnitude, nan=np.inf) <= FLOAT_LIMIT)
    return (
        1.0 - float(within.mean()),
        float(np.median(magnitude[finite])) if finite.any() else 0.0,
        float(magnitude[within].max()) if within.any() else 0.0,
    )


def dtype_problem(data: bytes, dtype: str) -> str | None:
    """What is wrong with ``data``, the first second of ``--stdin``, for ``--dtype``; None if it can be
    audio of that dtype (digital silence can be anything: None).

    * ``float32``: audio lies within +-1.  Not float32 audio if more than :data:`BAD_SHARE` of its
      non-zero samples are NaN, inf or beyond +-:data:`FLOAT_LIMIT`, or if they are mostly (median)
      below :data:`FLOAT_FLOOR`: what integer PCM read as float32 gives (an int16 sample is half of a
      float's bits: the negative ones make NaN or huge numbers, the positive ones tiny ones).
    * ``int16``, ``int32``: any value is possible, but not these bytes being float32 audio by the
      rule above (and not silence): then each float's upper half reads as a sample near half of full
      scale, its lower half as random bits, loud white noise.  Integer audio read as float32 never
      passes that rule.
    """
    reading = _as_float32(data)
    if dtype == "float32":
        if reading is None:
            return None
        bad, median, _ = reading
        if bad > BAD_SHARE:
            what = f"{100 * bad:.0f} % of its non-zero samples are NaN, inf or beyond +-{FLOAT_LIMIT:g}"
        elif median < FLOAT_FLOOR:
            what = f"its non-zero samples are mostly below {FLOAT_FLOOR:g} (-180 dB: no audio is that quiet)"
        else:
            return None
        return (
            f"{what}, as integer PCM read as float32 gives (float32 audio lies within +-1): give the --dtype "
            "it was written in, e.g. --dtype int16 for arecord -f S16_LE (int32: S32_LE)"
        )
    if reading is None or reading[0] > BAD_SHARE or reading[1] < FLOAT_FLOOR:
        return None
    x = np.frombuffer(data[: len(data) // np.dtype(dtype).itemsize * np.dtype(dtype).itemsize], dtype=dtype)
    rms = float(np.sqrt(np.mean((x.astype(np.float64) / SCALES[dtype]) ** 2)))
    return (
        f"read as {dtype} it is white noise at {20 * np.log10(rms):.1f} dB full scale (RMS), while its bytes read "
        f"as float32 are audio within +-{reading[2]:.3g}: give --dtype float32 (arecord -f FLOAT_LE)"
    )


def _blocks_from_stdin(
    size: int, dtype: str, channels: int, channel: int, rate: int, checked: Callable[[], None]
) -> Iterator[np.ndarray]:
    """``--stdin``: blocks of ``size`` samples of ``channel``.

    The first second is read whole and checked (:func:`dtype_problem`: a :class:`_Refused` for a
    wrong ``--dtype``) before any of it is yielded; then ``checked()`` is called.  A second of
    digital silence (zero bytes: silence in every dtype) cannot be judged: it is yielded, and the
    next second is read and checked, until one holds a non-zero byte or the input ends."""
    itemsize = np.dtype(dtype).itemsize * channels
    second, want = rate * itemsize, size * itemsize

    def samples(data: bytes) -> np.ndarray:
        return np.frombuffer(data, dtype=dtype).reshape(-1, channels)[:, channel].astype(np.float64) / SCALES[dtype]

    carry, judged = b"", False
    while True:
        if judged:
            chunk = sys.stdin.buffer.read(want - len(carry))  # blocks until a whole hop, or the end of input
            ended = len(chunk) < want - len(carry)
        else:
            chunk = sys.stdin.buffer.read(second)  # a second (less: the whole input)
            ended = len(chunk) < second
            if ended or chunk.count(0) < len(chunk):
                problem = dtype_problem(chunk, dtype)
                if problem is not None:
                    raise _Refused(
                        f"--dtype {dtype}: the first second on standard input does not look like {dtype} PCM: {problem}"
                    )
                judged = True
                checked()
        data = carry + chunk
        whole = len(data) // want * want
        for start in range(0, whole, want):
            yield samples(data[start : start + want])
        carry = data[whole:]
        if ended:
            if len(carry) >= itemsize:
                yield samples(carry[: len(carry) // itemsize * itemsize])
            return


def _blocks_from_device(device, rate: int, size: int, channels: int, channel: int) -> Iterator[np.ndarray]:
    try:  # now, not at the first block: a missing package is a mistake before the session, not an end of it
        import sounddevice
    except ImportError:
        raise ValueError('--device needs the sounddevice package: pip install "vak-tcn[live]"') from None

    def blocks_of_device() -> Iterator[np.ndarray]:
        blocks: queue.Queue = queue.Queue()
        with sounddevice.InputStream(
            device=None if device == "default" else device,
            samplerate=rate,
            channels=channels,
            blocksize=size,
            dtype="float32",
            callback=lambda data, frames, t, status: blocks.put(data[:, channel].astype(np.float64).copy()),
        ):
            while True:
                yield blocks.get()

    return blocks_of_device()


def _say(line: str) -> None:
    """One line on standard error; nothing if standard error is gone (the session must not end for that)."""
    try:
        print(f"vak-tcn live: {line}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


class Trigger:
    """Runs a command and/or writes to a FIFO at each onset of one label, never blocking the audio path.

    * ``command`` (``--exec``): started, not waited for, in its own process group, with the event
      in ``$VAK_TCN_EVENT``, standard input from /dev/null (it must not read ``--stdin``'s audio)
      and its standard output on live's standard error (it must not mix with the events).  A
      command that cannot start (missing, not executable) or exits non-zero is reported (one line
      per kind of failure) and counted in :attr:`failed`; the session goes on.  :meth:`close`
      gives the commands still running ``grace`` seconds, then kills their process groups
      (SIGTERM, then SIGKILL half a second later), counted in :attr:`killed`.
    * ``fifo`` (``--fifo``): opened non-blocking and kept open.  An event nobody can read (no
      reader, the reader gone, or its pipe full because it does not read) is dropped and counted
      in :attr:`dropped`; the next reader to open the FIFO gets the next events.  A path that does
      not exist is created as a regular file (as before); one that cannot be opened at all (no such
      directory, no permission) is refused at the start.
    """

    def __init__(self, label: str, command: str | None, fifo: pathlib.Path | None, grace: float = 2.0, report=_say):
        if command is None and fifo is None:
            raise ValueError("--trigger needs --exec CMD or --fifo PATH")
        self.label, self.fifo, self.grace, self.report = label, fifo, float(grace), report
        self.command = shlex.split(command) if command is not None else None
        if self.command is not None and not self.command:
            raise ValueError("--exec: empty command")
        self.fired = self.failed = self.dropped = self.killed = 0
        self.running: list[subprocess.Popen] = []
        self._said: set[str] = set()
        self._fd: int | None = None
        if fifo is not None:
            self._open_fifo(at_start=True)

    def _say_once(self, line: str) -> None:
        if line not in self._said:
            self._said.add(line)
            self.report(line)

    def __call__(self, event) -> None:
        if event.kind != "onset" or event.label != self.label:
            return
        self.fired += 1
        line = json.dumps(event.as_dict())
        if self.command:
            self._run(line)
        if self.fifo is not None:
            self._write((line + "\n").encode())

    # --exec
    def _run(self, line: str) -> None:
        self._reap()
        try:
            proc = subprocess.Popen(
                self.command,
                env=settings.child_env({"VAK_TCN_EVENT": line}),
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else 2,
                start_new_session=True,  # its own process group: killed as a whole by close()
            )
        except OSError as e:  # missing, not executable, not a program
            self.failed += 1
            self._say_once(f"--exec {self.command[0]!r}: cannot run it: {e.strerror or e} (the session goes on)")
            return
        self.running.append(proc)

    def _reap(self) -> None:
        still = []
        for proc in self.running:
            status = proc.poll()
            if status is None:
                still.append(proc)
            elif status != 0:
                self.failed += 1
                how = f"exited with status {status}" if status > 0 else f"was killed by signal {-status}"
                self._say_once(f"--exec {self.command[0]!r} {how} (the session goes on)")
        self.running = still

    # --fifo
    def _open_fifo(self, at_start: bool = False) -> bool:
        try:  # O_NONBLOCK: a FIFO with no reader is ENXIO at once, instead of waiting for one
            self._fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND | os.O_CREAT, 0o644)
            return True
        except OSError as e:
            if e.errno == errno.ENXIO:
                self._say_once(f"--fifo {self.fifo}: no reader: events dropped until one opens it")
                return False
            if at_start:
                raise ValueError(f"--fifo {self.fifo}: {e.strerror or e}") from None
            self._say_once(f"--fifo {self.fifo}: {e.strerror or e}: events dropped")
            return False

    def _close_fifo(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass

    def _write(self, data: bytes) -> None:
        for _ in range(2):  # once more after the reader has gone: another may be waiting
            if self._fd is None and not self._open_fifo():
                break
            try:
                os.write(self._fd, data)  # a line < PIPE_BUF: written whole or not at all
                return
            except BlockingIOError:
                self._say_once(f"--fifo {self.fifo}: its reader does not read (pipe full): events dropped")
                break
            except BrokenPipeError:  # the reader has closed it
                self._close_fifo()
            except OSError as e:
                self._say_once(f"--fifo {self.fifo}: {e.strerror or e}: events dropped")
                self._close_fifo()
                break
        self.dropped += 1

    def close(self) -> None:
        """End of the session: the FIFO closed; commands still running get :attr:`grace` seconds, then
        their process groups are killed."""
        self._close_fifo()
        if not self.command:
            return
        self._reap()
        deadline = time.monotonic() + self.grace
        while self.running and time.monotonic() < deadline:
            time.sleep(0.01)
            self._reap()
        if not self.running:
            return
        hung, self.running = self.running, []
        for sig, wait in ((signal.SIGTERM, 0.5), (signal.SIGKILL, 5.0)):
            for proc in hung:
                try:
                    os.killpg(proc.pid, sig)  # the group: what the command started too
                except (ProcessLookupError, PermissionError):
                    pass
            until = time.monotonic() + wait
            for proc in hung:
                try:
                    proc.wait(timeout=max(0.0, until - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        self.killed = len(hung)
        self.report(
            f"{len(hung)} --exec command(s) still running {self.grace:g} s after the session ended: "
            "killed with their process groups (SIGTERM, then SIGKILL)"
        )

    def summary(self) -> str:
        notes = []
        if self.failed:
            notes.append(f"--exec failed {self.failed}x")
        if self.killed:
            notes.append(f"{self.killed} --exec command(s) killed at the end")
        if self.dropped:
            notes.append(f"{self.dropped} --fifo event(s) dropped, nobody reading")
        return f", trigger fired {self.fired}x" + (f" ({'; '.join(notes)})" if notes else "")


def _has_fileno(stream) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False


class _Stop(Exception):
    """The session ends before its input: a signal, or standard output closed by its reader."""

    def __init__(self, why: str, status: int):
        super().__init__(why)
        self.why, self.status = why, status


_SIGNALS = {
    signal.SIGINT: ("interrupted", 130),
    signal.SIGTERM: ("terminated (SIGTERM)", 143),
    signal.SIGHUP: ("hung up (SIGHUP)", 129),  # the terminal closed, an ssh session lost: as SIGTERM
}


class _Signals:
    """SIGINT, SIGTERM and SIGHUP end the session: :class:`_Stop` raised in the main thread, at once when
    it waits for audio, else after the block in hand (a block's processing is never cut in two);
    once the wrap-up has started (:attr:`stopping`), they are ignored, so that it finishes."""

    def __init__(self):
        self.busy, self.stopping, self.pending = False, False, None
        self._previous: dict = {}

    def _handler(self, signum, frame):
        if self.stopping or self.pending is not None:
            return
        self.pending = _Stop(*_SIGNALS[signum])
        if not self.busy:
            raise self.pending

    def __enter__(self) -> _Signals:
        try:
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)
        except ValueError:  # not the main thread (embedded): Ctrl-C stays a KeyboardInterrupt
            pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _silence_stdout() -> None:
    """Standard output's reader has gone: send what is left to /dev/null, so that Python's final
    flush does not print 'Exception ignored ... BrokenPipeError'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def _say_reference(stream, args: argparse.Namespace) -> None:
    """One line on what ``log_spect`` divides the power by; a warning for the running maximum."""
    if stream.params.transform_type != "log_spect":
        return
    power = stream.spectrogram.reference_power
    if power is None:
        _say(
            f"warning: normalising by the {stream.reference_source}: until the loudest sound so far, frames "
            "look louder than vak-tcn annotate sees them and their labels can differ; give --reference "
            "CALIBRATION.wav, or record the training files' level with `vak-tcn tune RESULTS_DIR`"
        )
    elif args.reference_power is not None:
        _say(f"reference power {power:.6g} (--reference-power)")
    else:
        _say(f"reference power {power:.6g}: {stream.reference_source}")


def _check_reference_level(path: pathlib.Path, power: float, recorded: float | None) -> None:
    """A ``--reference`` whose level is further than :data:`REFERENCE_DB_LIMIT` from the level recorded
    when training ended (when there is one) is not the set-up's song: refused, both levels named."""
    if recorded is None:
        return
    apart = 10 * math.log10(power / recorded)
    if abs(apart) <= REFERENCE_DB_LIMIT:
        return
    raise ValueError(
        f"--reference {path}: its level, {10 * math.log10(power):.1f} dB (maximum power {power:.3g}), is "
        f"{abs(apart):.1f} dB {'below' if apart < 0 else 'above'} the level recorded when training ended, "
        f"{10 * math.log10(recorded):.1f} dB ({recorded:.3g}): more than {REFERENCE_DB_LIMIT:g} dB away, it is not "
        f"song from the same set-up ({'near-silent' if apart < 0 else 'far louder'}); give a recording with loud "
        f"song from the set-up, or --reference-power {power:.3g} if its gain really differs that much"
    )


def main_live(args: argparse.Namespace) -> int:
    from ..audio.annotations import ANNOT_FORMATS, write_annotation
    from ..audio.read import RecordingError, audio_info
    from .stream import Stream, reference_power_of

    # the arguments first, before the model loads: each mistake is one line (exit 2)
    if args.stdin and not args.rate:
        raise ValueError("--stdin needs --rate (the sample rate of the PCM on standard input)")
    if args.rate is not None and args.rate <= 0:
        raise ValueError(f"--rate must be a sample rate in Hz > 0, got {args.rate}")
    if args.channels < 1:
        raise ValueError(f"--channels must be at least 1, got {args.channels}")
    if args.hop < 1:
        raise ValueError(f"--hop must be at least 1 frame, got {args.hop}")
    if not args.speed >= 0:
        raise ValueError(f"--speed must be >= 0 (0: as fast as it goes), got {args.speed}")
    if not args.exec_grace >= 0:
        raise ValueError(f"--exec-grace must be >= 0 seconds, got {args.exec_grace}")
    if args.annot_format not in ANNOT_FORMATS:
        raise ValueError(f"--annot-format {args.annot_format!r}: not one of {sorted(ANNOT_FORMATS)}")
    if args.annot_out is not None:  # where the session's annotation goes: checked now, not after the session
        try:
            args.annot_out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"--annot-out {args.annot_out}: {e.strerror or e}") from None
        if args.annot_out.is_dir() or not os.access(args.annot_out.parent, os.W_OK):
            raise ValueError(f"--annot-out {args.annot_out}: not a file that can be written")
    if (args.exec_cmd is not None or args.fifo) and not args.trigger:
        raise ValueError("--exec / --fifo need --trigger LABEL")
    if args.simulate is not None:
        if not args.simulate.is_file():
            raise FileNotFoundError(f"--simulate: no such file: {args.simulate}")
        try:
            info = audio_info(args.simulate)
        except RecordingError as e:
            raise ValueError(f"--simulate {args.simulate}: {e}") from None
        rate, channels, has = info.samplerate, info.channels, f"{args.simulate} has"
    else:
        rate, channels, has = args.rate or 32000, args.channels, "--channels says"
    if not 0 <= args.channel < channels:
        raise ValueError(
            f"--channel {args.channel} out of range: {has} {channels} channel(s), --channel 0 to {channels - 1}"
        )

    stream = Stream.from_config(
        args.config,
        rate,
        reference_power=args.reference_power,
        post_processing=args.post_processing,
        recorded_reference=args.reference is None,
    )
    if args.reference is not None:  # the reference recording's maximum power, with the model's spect_params
        try:
            power = reference_power_of(args.reference, stream.params, args.channel, rate)
        except RecordingError as e:
            raise ValueError(f"--reference {e}") from None
        _check_reference_level(args.reference, power, stream.recorded_power)
        stream.spectrogram.reference_power = power
        stream.reference_source = f"the maximum power of --reference {args.reference}"
    if args.trigger is not None and args.trigger not in stream.event_labels:
        valid = ", ".join(stream.event_labels)
        if args.trigger in stream.labels.values():
            raise ValueError(
                f"--trigger {args.trigger!r}: the background class makes no onsets, a trigger on it would never "
                f"fire; give a syllable label: {valid}"
            )
        raise ValueError(f"--trigger {args.trigger!r}: not a label of this model; give a syllable label: {valid}")
    size = args.hop * stream.params.step_size
    if args.simulate is not None:
        blocks = _blocks_from_file(args.simulate, info, size, args.speed, args.channel)
    elif args.stdin:  # its first second is read and checked (a wrong --dtype: refused) before the session
        blocks = _blocks_from_stdin(size, args.dtype, args.channels, args.channel, rate, checked=lambda: announce())
    else:
        blocks = _blocks_from_device(args.device, rate, size, args.channels, args.channel)
    trigger = Trigger(args.trigger, args.exec_cmd, args.fifo, args.exec_grace) if args.trigger else None

    n_events = 0
    stdout_open = True

    def emit(events):
        nonlocal n_events
        for event in events:
            if trigger is not None:  # first: the trigger is what cannot wait
                trigger(event)
            n_events += 1
            if stdout_open:
                print(json.dumps(event.as_dict()), flush=True)

    def report_nonfinite():
        for start_s, end_s, n in stream.pop_nonfinite():
            _say(
                f"{n} non-finite sample(s) (NaN or inf) from {start_s:.4f} s to {end_s:.4f} s: replaced by silence, "
                "the stream goes on"
            )

    def announce():
        """What the session runs with: said once every check has passed, so that a refusal is one line."""
        if stream.cleanup is not None:
            _say(
                f"clean-up {stream.cleanup.describe()} (from {stream.cleanup_source}): onsets "
                f"{1000 * stream.onset_delay_s:.1f} ms and offsets {1000 * stream.offset_delay_s:.1f} ms later"
            )
        _say_reference(stream, args)

    stop: _Stop | None = None
    crashed = False
    refused: _Refused | None = None
    with _Signals() as signals:
        try:
            if not args.stdin:  # --stdin: once its first second has passed the check
                announce()
            for block in blocks:
                signals.busy = True
                emit(stream.push(block))
                report_nonfinite()
                signals.busy = False
                if signals.pending is not None:
                    raise signals.pending
        except _Refused as e:  # the input is not what --dtype says: a mistake, refused before it is labelled
            refused = e
        except _Stop as e:
            stop = e
        except KeyboardInterrupt:
            stop = _Stop(*_SIGNALS[signal.SIGINT])
        except BrokenPipeError:  # the reader of standard output has gone
            stop, stdout_open = _Stop("standard output closed by its reader", 141), False
            _silence_stdout()
        except BaseException:
            crashed = True
            raise
        finally:
            signals.stopping = True  # from here on, signals are ignored: the wrap-up must finish
            if refused is not None:
                if trigger is not None:
                    trigger.close()
                raise ValueError(str(refused)) from None
            try:
                emit(stream.finish())
            except BrokenPipeError:
                stdout_open = False
                _silence_stdout()
                stop = stop or _Stop("standard output closed by its reader", 141)
            except Exception as e:  # after an error: the syllables so far are still written
                if not crashed:
                    raise
                _say(f"could not finish the stream after the error: {type(e).__name__}: {e}")
            report_nonfinite()
            wrote = None
            try:
                if args.annot_out is not None:
                    labels, onsets, offsets = stream.annotation()
                    source = (
                        args.simulate
                        if args.simulate is not None
                        else pathlib.Path("stdin" if args.stdin else "device")
                    )
                    write_annotation(args.annot_out, args.annot_format, source, labels, onsets, offsets)
                    wrote = args.annot_out
            finally:  # whatever happened to the annotation, no command outlives the session
                if trigger is not None:
                    trigger.close()
            times = sorted(stream.compute_s) or [0.0]
            p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
            _say(
                f"{stream.samples_in / rate:.1f} s of audio, {n_events} events, {len(stream.segments)} syllables"
                + (trigger.summary() if trigger else "")
                + (
                    f", {stream.nonfinite_samples} non-finite sample(s) in {stream.nonfinite_stretches} stretch(es) "
                    "replaced by silence"
                    if stream.nonfinite_samples
                    else ""
                )
                + f"; compute per push of {args.hop} frame(s): median {1000 * statistics.median(times):.2f} ms, "
                f"p99 {1000 * p99:.2f} ms; algorithmic latency {1000 * stream.latency_s:.1f} ms"
                + (
                    f" (+ clean-up: onsets {1000 * stream.onset_delay_s:.1f} ms, "
                    f"offsets {1000 * stream.offset_delay_s:.1f} ms)"
                    if stream.cleanup is not None
                    else ""
                )
                + (f"; annotation written to {wrote}" if wrote is not None else "")
                + (f"; {stop.why}" if stop is not None else "")
            )
    return stop.status if stop is not None else 0
