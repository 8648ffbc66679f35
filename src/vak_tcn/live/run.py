"""``vak-tcn live CONFIG|RESULTS_DIR``: annotate song as it arrives, print events, fire triggers.

Audio comes from one source:

* ``--simulate FILE``: a recording played at real-time pace (``--speed``: 2 = twice as fast,
  0 = as fast as the machine goes), for testing without hardware;
* ``--stdin --samplerate R [--dtype int16] [--channels N]``: raw interleaved PCM on standard input
  (e.g. ``arecord -f S16_LE -r 32000 -c 1 | vak-tcn live config.toml --stdin --samplerate 32000``);
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

Mistakes are refused before the session, in one line (exit 2): among them a ``--calibration`` recording whose
level is more than :data:`REFERENCE_DB_LIMIT` dB from the level recorded when training ended, a
trigger on a label that never makes an onset (the background), and a ``--stdin`` stream whose
first second does not look like audio of its ``--dtype`` (:func:`.sources.dtype_problem`).

Nothing on the audio path blocks or ends the session: a non-finite sample is replaced by silence
and reported; a trigger command that cannot start or fails is reported and counted; the FIFO is
written without blocking, and an event nobody reads is dropped and counted (:class:`.trigger.Trigger`).

This module is the command: its arguments, their checks and the session's loop.  The audio sources
are in :mod:`.sources`, the triggers in :mod:`.trigger`, the messages and the signals that end a
session in :mod:`.session`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import signal
import statistics

from .._cli_args import add_option, add_run_options, given_as
from .session import _SIGNALS, _say, _Signals, _silence_stdout, _Stop
from .sources import DTYPES, _blocks_from_device, _blocks_from_file, _blocks_from_stdin, _Refused
from .trigger import Trigger

#: a --calibration recording whose maximum power is further than this from the level recorded when training
#: ended is refused: it is not the set-up's song (issue 37: 5 s of DC, 39 dB below it, gave 375 syllables instead of 63)
REFERENCE_DB_LIMIT = 20.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config",
        type=pathlib.Path,
        metavar="CONFIG|RESULTS_DIR",
        help="stock vak predict config of a causal TCN or ConvTCN, or its `vak train`/`learncurve` results directory",
    )
    add_run_options(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--simulate", type=pathlib.Path, metavar="FILE", help="play a recording at real-time pace")
    source.add_argument(
        "--stdin",
        action="store_true",
        help="raw PCM on standard input (give --samplerate; its first second is checked)",
    )
    source.add_argument("--device", nargs="?", const="default", help="a sound card (needs the sounddevice package)")
    add_option(
        p,
        "--samplerate",
        "--rate",
        type=int,
        metavar="HZ",
        help="sample rate of --stdin / --device audio (Hz; needed with --stdin; --device default: 32000)",
    )
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
    add_option(
        p,
        "--calibration",
        "--reference",
        type=pathlib.Path,
        default=None,
        metavar="FILE",
        help="a recording of loud song from the set-up: --reference-power is its maximum power",
    )
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
        "--annot-format",
        default="generic-seq",
        help="format of --annot-out, as annotate's: generic-seq (default), simple-seq, aud-seq, raven, textgrid",
    )


def _say_reference(stream, args: argparse.Namespace) -> None:
    """One line on what ``log_spect`` divides the power by; a warning for the running maximum."""
    if stream.params.transform_type != "log_spect":
        return
    power = stream.spectrogram.reference_power
    if power is None:
        _say(
            f"warning: normalising by the {stream.reference_source}: until the loudest sound so far, frames "
            "look louder than vak-tcn annotate sees them and their labels can differ; give --calibration "
            "CALIBRATION.wav, or record the training files' level with `vak-tcn tune RESULTS_DIR`"
        )
    elif args.reference_power is not None:
        _say(f"reference power {power:.6g} (--reference-power)")
    else:
        _say(f"reference power {power:.6g}: {stream.reference_source}")


def _check_reference_level(path: pathlib.Path, power: float, recorded: float | None, option: str) -> None:
    """A ``--calibration`` recording whose level is further than :data:`REFERENCE_DB_LIMIT` from the level recorded
    when training ended (when there is one) is not the set-up's song: refused, both levels named."""
    if recorded is None:
        return
    apart = 10 * math.log10(power / recorded)
    if abs(apart) <= REFERENCE_DB_LIMIT:
        return
    raise ValueError(
        f"{option} {path}: its level, {10 * math.log10(power):.1f} dB (maximum power {power:.3g}), is "
        f"{abs(apart):.1f} dB {'below' if apart < 0 else 'above'} the level recorded when training ended, "
        f"{10 * math.log10(recorded):.1f} dB ({recorded:.3g}): more than {REFERENCE_DB_LIMIT:g} dB away, it is not "
        f"song from the same set-up ({'near-silent' if apart < 0 else 'far louder'}); give a recording with loud "
        f"song from the set-up, or --reference-power {power:.3g} if its gain really differs that much"
    )


def main_live(args: argparse.Namespace) -> int:
    from ..audio.annotations import ANNOT_FORMATS, raven_band, write_annotation
    from ..audio.read import RecordingError, audio_info
    from .stream import Stream, reference_power_of

    # the arguments first, before the model loads: each mistake is one line (exit 2)
    if args.stdin and args.samplerate is None:
        raise ValueError("--stdin needs --samplerate (formerly --rate): the sample rate of the PCM on standard input")
    if args.samplerate is not None and args.samplerate <= 0:
        option = given_as(args, "samplerate", "--samplerate")
        raise ValueError(f"{option} must be a sample rate in Hz > 0, got {args.samplerate}")
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
        rate, channels, has = args.samplerate or 32000, args.channels, "--channels says"
    if not 0 <= args.channel < channels:
        raise ValueError(
            f"--channel {args.channel} out of range: {has} {channels} channel(s), --channel 0 to {channels - 1}"
        )

    from ..models import cleanup
    from ..models.predict_config import results_model

    run_model = results_model(args.config, args.run, args.checkpoint, cleanup.Request(cli=args.post_processing), _say)
    stream = Stream.from_config(
        run_model if run_model is not None else args.config,
        rate,
        reference_power=args.reference_power,
        post_processing=args.post_processing,
        recorded_reference=args.calibration is None,
    )
    if args.calibration is not None:  # the calibration recording's maximum power, with the model's spect_params
        option = given_as(args, "calibration", "--calibration")
        try:
            power = reference_power_of(args.calibration, stream.params, args.channel, rate)
        except RecordingError as e:
            raise ValueError(f"{option} {e}") from None
        _check_reference_level(args.calibration, power, stream.recorded_power, option)
        stream.spectrogram.reference_power = power
        stream.reference_source = f"the maximum power of {option} {args.calibration}"
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
                    write_annotation(
                        args.annot_out, args.annot_format, source, labels, onsets, offsets,
                        duration_s=stream.samples_in / rate, band_hz=raven_band(rate, stream.params.freq_cutoffs),
                        channel=args.channel,
                    )  # fmt: skip
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
