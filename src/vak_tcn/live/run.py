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
the environment variable ``VAK_TCN_EVENT`` (JSON); with ``--fifo PATH`` it writes the event's
JSON line to a FIFO instead.  ``--post-processing auto|tuned|config`` cleans the frame labels
as ``vak-tcn annotate`` does (:mod:`.cleanup`), reporting each event once the clean-up makes it
certain.  At the end (end of input, or Ctrl-C) the session's annotation is
written with ``--annot-out`` in a crowsetta format, as ``vak-tcn annotate`` writes them, and a
summary (events, compute time per push) goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import queue
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np

DTYPES = ("int16", "int32", "float32")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=pathlib.Path, help="stock vak predict config of a causal TCN or ConvTCN")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--simulate", type=pathlib.Path, metavar="FILE", help="play a recording at real-time pace")
    source.add_argument("--stdin", action="store_true", help="raw PCM on standard input (give --rate)")
    source.add_argument("--device", nargs="?", const="default", help="a sound card (needs the sounddevice package)")
    p.add_argument("--rate", type=int, help="sample rate of --stdin / --device audio (Hz)")
    p.add_argument("--dtype", default="int16", choices=DTYPES, help="sample format of --stdin (default int16)")
    p.add_argument("--channels", type=int, default=1, help="interleaved channels of --stdin / --device (default 1)")
    p.add_argument("--channel", type=int, default=0, help="the channel to annotate (default 0)")
    p.add_argument("--speed", type=float, default=1.0, help="--simulate pace: 1 real time (default), 0 no waiting")
    p.add_argument("--hop", type=int, default=1, help="spectrogram frames per push (default 1: lowest latency)")
    p.add_argument(
        "--reference-power", type=float, default=None, help="what log_spect divides by (default: running maximum)"
    )
    p.add_argument("--reference", type=pathlib.Path, default=None, help="take --reference-power from this recording")
    p.add_argument("--trigger", metavar="LABEL", help="fire --exec / --fifo at each onset of LABEL")
    p.add_argument(
        "--exec", dest="exec_cmd", metavar="CMD", help="command run at each trigger (event in $VAK_TCN_EVENT)"
    )
    p.add_argument("--fifo", type=pathlib.Path, help="FIFO (or file) that gets each trigger's event as a JSON line")
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


def _blocks_from_file(path: pathlib.Path, size: int, speed: float, channel: int) -> Iterator[np.ndarray]:
    import soundfile

    rate = soundfile.info(str(path)).samplerate
    start = time.perf_counter()
    done = 0
    for block in soundfile.blocks(str(path), blocksize=size, dtype="float64", always_2d=True):
        if speed > 0:  # real-time pace: wait until this block would have been recorded
            delay = start + (done + len(block)) / rate / speed - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        done += len(block)
        yield block[:, channel]


def _blocks_from_stdin(size: int, dtype: str, channels: int, channel: int) -> Iterator[np.ndarray]:
    itemsize = np.dtype(dtype).itemsize * channels
    scale = {"int16": 2**15, "int32": 2**31, "float32": 1.0}[dtype]
    while True:
        data = sys.stdin.buffer.read(size * itemsize)  # blocks until a whole hop, or the end of input
        whole = len(data) // itemsize * itemsize
        if whole:
            yield np.frombuffer(data[:whole], dtype=dtype).reshape(-1, channels)[:, channel].astype(np.float64) / scale
        if len(data) < size * itemsize:
            return


def _blocks_from_device(device, rate: int, size: int, channels: int, channel: int) -> Iterator[np.ndarray]:
    try:
        import sounddevice
    except ImportError:
        raise ValueError('--device needs the sounddevice package: pip install "vak-tcn[live]"') from None
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


class Trigger:
    """Runs a command or writes to a FIFO at each onset of one label."""

    def __init__(self, label: str, command: str | None, fifo: pathlib.Path | None):
        if command is None and fifo is None:
            raise ValueError("--trigger needs --exec CMD or --fifo PATH")
        self.label, self.fifo = label, fifo
        self.command = shlex.split(command) if command else None
        self.fired = 0

    def __call__(self, event) -> None:
        if event.kind != "onset" or event.label != self.label:
            return
        line = json.dumps(event.as_dict())
        if self.command:
            subprocess.Popen(self.command, env={**os.environ, "VAK_TCN_EVENT": line})
        if self.fifo is not None:
            with open(self.fifo, "a") as fh:
                fh.write(line + "\n")
        self.fired += 1


def main_live(args: argparse.Namespace) -> int:
    from ..inference.annotate import write_annotation
    from .stream import Stream, reference_power_of

    if args.stdin and not args.rate:
        raise ValueError("--stdin needs --rate (the sample rate of the PCM on standard input)")
    if args.hop < 1:
        raise ValueError(f"--hop must be at least 1 frame, got {args.hop}")
    if args.simulate is not None and not args.simulate.is_file():
        raise FileNotFoundError(f"--simulate: no such file: {args.simulate}")
    if (args.exec_cmd or args.fifo) and not args.trigger:
        raise ValueError("--exec / --fifo need --trigger LABEL")
    trigger = Trigger(args.trigger, args.exec_cmd, args.fifo) if args.trigger else None

    if args.simulate is not None:
        import soundfile

        rate = soundfile.info(str(args.simulate)).samplerate
    else:
        rate = args.rate or 32000
    stream = Stream.from_config(
        args.config, rate, reference_power=args.reference_power, post_processing=args.post_processing
    )
    if stream.cleanup is not None:
        print(
            f"vak-tcn live: clean-up {stream.cleanup.describe()} (from {stream.cleanup_source}): onsets "
            f"{1000 * stream.onset_delay_s:.1f} ms and offsets {1000 * stream.offset_delay_s:.1f} ms later",
            file=sys.stderr,
            flush=True,
        )
    if args.reference is not None:  # the reference recording's maximum power, with the model's spect_params
        stream.spectrogram.reference_power = reference_power_of(args.reference, stream.params, args.channel)
    size = args.hop * stream.params.step_size
    if args.simulate is not None:
        blocks = _blocks_from_file(args.simulate, size, args.speed, args.channel)
    elif args.stdin:
        blocks = _blocks_from_stdin(size, args.dtype, args.channels, args.channel)
    else:
        blocks = _blocks_from_device(args.device, rate, size, args.channels, args.channel)
    if trigger is not None and trigger.label not in stream.labels.values():
        raise ValueError(f"--trigger {trigger.label!r}: not a label of this model ({sorted(stream.labels.values())})")
    n_samples, n_events = 0, 0

    def emit(events):
        nonlocal n_events
        for event in events:
            print(json.dumps(event.as_dict()), flush=True)
            n_events += 1
            if trigger is not None:
                trigger(event)

    interrupted = False
    try:
        for block in blocks:
            n_samples += len(block)
            emit(stream.push(block))
    except KeyboardInterrupt:
        interrupted = True
    emit(stream.finish())
    if args.annot_out is not None:
        labels, onsets, offsets = stream.annotation()
        source = args.simulate if args.simulate is not None else pathlib.Path("stdin" if args.stdin else "device")
        write_annotation(args.annot_out, args.annot_format, source, labels, onsets, offsets)
    times = sorted(stream.compute_s) or [0.0]
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print(
        f"vak-tcn live: {n_samples / rate:.1f} s of audio, {n_events} events, {len(stream.segments)} syllables"
        + (f", trigger fired {trigger.fired}x" if trigger else "")
        + f"; compute per push of {args.hop} frame(s): median {1000 * statistics.median(times):.2f} ms, "
        f"p99 {1000 * p99:.2f} ms; algorithmic latency {1000 * stream.latency_s:.1f} ms"
        + (
            f" (+ clean-up: onsets {1000 * stream.onset_delay_s:.1f} ms, offsets {1000 * stream.offset_delay_s:.1f} ms)"
            if stream.cleanup is not None
            else ""
        )
        + ("; interrupted" if interrupted else ""),
        file=sys.stderr,
    )
    return 130 if interrupted else 0
