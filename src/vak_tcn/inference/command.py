"""The ``vak-tcn annotate``, ``vak-tcn predict-config`` and ``vak-tcn tune`` commands: their options and
what they run (docs/annotate.md, docs/postprocessing.md).

Light at import (no NumPy, torch or vak): :mod:`vak_tcn.cli` imports it when one of them runs
(or is asked for ``--help``); each ``main`` imports the rest.  ``annotate`` never imports vak for a
vak-tcn network (the lean start: tests/inference/test_lean_start.py).
"""

from __future__ import annotations

import argparse
import pathlib

from .. import settings
from .._cli_args import (
    MIN_CHUNK_SECONDS,
    Command,
    add_run_options,
    chunk_seconds,
    durations,
    errors_in_one_line,
    nonnegative_int,
    positive_int,
)

__all__ = ["ANNOTATE", "MIN_CHUNK_SECONDS", "PREDICT_CONFIG", "TUNE"]


def _add_annotate_arguments(p: argparse.ArgumentParser) -> None:
    errors_in_one_line(p)
    p.add_argument(
        "configfile",
        type=pathlib.Path,
        metavar="CONFIG|RESULTS_DIR",
        help="vak predict config (checkpoint, labelmap, standardizer), or a `vak train`/`learncurve` results "
        "directory (its model, as `vak-tcn predict-config RESULTS_DIR` writes its config)",
    )
    p.add_argument("audio", nargs="+", type=pathlib.Path, help="audio files and/or directories")
    add_run_options(p)
    p.add_argument("--recursive", action="store_true", help="search directories recursively")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="annotate over files under --out that no .annotate.json record vouches for (written by hand, by "
        "another program or an earlier version; default: refuse, naming them)",
    )
    p.add_argument(
        "--annot-format",
        default="generic-seq",
        help="format of the annotation files: generic-seq (default), simple-seq, aud-seq (crowsetta's), "
        "raven (a Raven selection table), textgrid (a Praat TextGrid)",
    )
    p.add_argument("--probabilities", action="store_true", help="also write per-frame class probabilities (.npz)")
    p.add_argument(
        "--post-processing",
        choices=settings.MODES,
        default=None,
        help="clean-up: auto (default): postprocess.json beside the checkpoint (tuned on validation data), as "
        "scored there (majority_vote/min_segment_dur written in [vak.predict] apply after it); tuned: the same, "
        "an error without the file; config: the config's only; none. Default: VAK_TCN_POST_PROCESSING, else the network table's "
        "post_processing, else auto (docs/postprocessing.md)",
    )
    p.add_argument("--no-post-processing", action="store_true", help="no clean-up (same as --post-processing none)")
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help="output directory (default: the config's output_dir, else .; for a results directory: .)",
    )
    p.add_argument("--workers", type=positive_int, default=None, help="annotate on a local dask cluster of N processes")
    p.add_argument("--scheduler", default=None, help="address of a dask.distributed scheduler to annotate on")
    p.add_argument("--channel", type=nonnegative_int, default=None, help="channel of multichannel audio (0-based)")
    p.add_argument(
        "--samplerate", type=positive_int, default=None, help="reject recordings at any other sample rate (Hz)"
    )
    p.add_argument(
        "--model-samplerate",
        type=positive_int,
        default=None,
        metavar="HZ",
        help="the sample rate the model was trained at, for a model that does not record it (no samplerate in "
        "reference_power.json beside its checkpoint): recordings at other rates are resampled to it (soxr)",
    )
    p.add_argument(
        "--chunk-seconds",
        type=chunk_seconds,
        default=60.0,
        help=f"audio per network call, in seconds (default 60, at least {MIN_CHUNK_SECONDS})",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch threads per process (default: torch's; 1 per worker with --workers/--scheduler)",
    )
    p.add_argument(
        "--precision",
        choices=settings.PRECISIONS,
        default="32",
        help="network precision: 32 (float32, default) or bf16 (bfloat16 where the hardware has it, "
        "else float32 with a warning); see docs/annotate.md",
    )
    p.add_argument(
        "--exact",
        action="store_true",
        help="vak's spectrogram exactly (float64, the audio read twice for log_spect), as vak predict computes "
        "it; default: float32 in one pass (VAK_TCN_ANNOTATE_EXACT=1 sets it too; see docs/annotate.md)",
    )
    p.add_argument(
        "--profile", action="store_true", help="print the seconds per hour of audio of each stage at the end"
    )


def _annotate(args: argparse.Namespace) -> int:
    if not args.configfile.exists():
        raise FileNotFoundError(f"config file not found: {args.configfile}")
    # no plugin loading: a vak-tcn network is read and built without vak (vak_tcn.models.trained), which
    # imports vak and loads the plugins itself for any other model
    from .annotate import Options, annotate_all
    from .annotator import cleanup_request

    options = Options(
        annot_format=args.annot_format,
        probabilities=args.probabilities,
        post_processing=not args.no_post_processing,
        cleanup=args.post_processing,
        channel=args.channel,
        model_samplerate=args.model_samplerate,
        chunk_seconds=args.chunk_seconds,
        precision=args.precision,
        threads=args.threads if args.threads else (1 if args.workers or args.scheduler else None),
        exact=True if args.exact else None,  # else VAK_TCN_ANNOTATE_EXACT, else float32
        profile=args.profile,
    )
    source, out = args.configfile, args.out
    from ..models.predict_config import results_model

    model = results_model(source, args.run, args.checkpoint, cleanup_request(options), print)
    if model is not None:
        source, out = model, out if out is not None else pathlib.Path.cwd()
    _, failed, _ = annotate_all(
        source,
        args.audio,
        out_dir=out,
        options=options,
        recursive=args.recursive,
        workers=args.workers,
        scheduler=args.scheduler,
        samplerate=args.samplerate,
        overwrite=args.overwrite,
    )
    return 1 if failed else 0


def _add_tune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results_dir", type=pathlib.Path, help="a `vak train` or `vak learncurve` results directory")
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="NAME",
        help="checkpoint file name (default: max-val-acc-checkpoint.pt, else checkpoint.pt)",
    )
    from ..models.cleanup.tuner import DEFAULT_GRID  # numpy, no torch

    for option, key in (("--min-segment-dur", "min_segment_dur"), ("--min-gap-dur", "min_gap_dur")):
        grid = ",".join(f"{s:g}" for s in DEFAULT_GRID[key])
        p.add_argument(option, default=None, metavar="S,S,...", help=f"grid of {key}, seconds (0: off; default {grid})")
    p.add_argument(
        "--majority-vote", choices=("both", "on", "off"), default="both", help="majority vote (default both)"
    )


def _tune(args: argparse.Namespace) -> int:
    # the options first: a bad one is refused in milliseconds, not after vak's import (issue 37)
    args.min_segment_dur = durations(args.min_segment_dur, "--min-segment-dur")
    args.min_gap_dur = durations(args.min_gap_dur, "--min-gap-dur")
    if not args.results_dir.is_dir():
        raise FileNotFoundError(f"results directory not found: {args.results_dir}")
    from ..plugins.manager import load_with_vak

    load_with_vak()
    from .tune import main_tune

    return main_tune(args)


def _add_predict_config_arguments(p: argparse.ArgumentParser) -> None:
    errors_in_one_line(p)
    p.add_argument("results_dir", type=pathlib.Path, help="a `vak train` or `vak learncurve` results directory")
    add_run_options(p)
    p.add_argument(
        "--out", type=pathlib.Path, default=None, metavar="FILE", help="write the config here (default: stdout)"
    )
    p.add_argument(
        "--output-dir",
        type=pathlib.Path,
        default=None,
        metavar="DIR",
        help="[vak.predict] output_dir: where vak predict writes its annotations (default: the current directory)",
    )
    p.add_argument(
        "--data-dir",
        type=pathlib.Path,
        default=None,
        metavar="DIR",
        help="[vak.prep] data_dir: the recordings vak prep/predict read (default: the training config's, "
        "else --output-dir)",
    )


def _predict_config(args: argparse.Namespace) -> int:
    import sys

    from .._atomic import write_text
    from ..models import predict_config

    if args.out is not None and args.out.exists():
        raise ValueError(f"--out {args.out} exists: not overwritten; remove it or choose another --out")
    run = predict_config.choose_run(args.results_dir, args.run, args.checkpoint)
    print(predict_config.checkpoint_line(run, args.checkpoint), file=sys.stderr)
    output_dir = (args.output_dir or pathlib.Path.cwd()).resolve()
    data_dir = args.data_dir.resolve() if args.data_dir is not None else None
    text, applied = predict_config.predict_config(run, output_dir, data_dir=data_dir)
    print(f"clean-up: {applied.describe()}", file=sys.stderr)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


#: ``vak-tcn annotate CONFIG AUDIO...``: annotate recordings of any length with a trained model
ANNOTATE = Command(_add_annotate_arguments, _annotate)
#: ``vak-tcn tune RESULTS_DIR``: tune the clean-up of trained models on their validation split
TUNE = Command(_add_tune_arguments, _tune)
#: ``vak-tcn predict-config RESULTS_DIR``: the stock vak predict config of a trained model
PREDICT_CONFIG = Command(_add_predict_config_arguments, _predict_config)
