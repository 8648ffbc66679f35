"""The ``vak-tcn`` command (also ``python -m vak_tcn``).

* ``vak-tcn prep|train|eval|predict|learncurve CONFIG``: the stock vak command with
  plugins loaded explicitly, for Python installations that ignore ``.pth`` files (``prep``,
  ``train`` and ``learncurve`` take ``--seed``: docs/reproducibility.md);
* ``vak-tcn plugins``: what is registered;
* ``vak-tcn annotate CONFIG AUDIO...``: annotate recordings of any length with a trained
  model, streaming, in bounded memory (docs/annotate.md);
* ``vak-tcn tune RESULTS_DIR``: tune the clean-up of trained models on their validation
  split; ``annotate`` uses the result (docs/postprocessing.md);
* ``vak-tcn live CONFIG``: annotate song as it arrives, with a causal TCN (docs/live.md);
* ``vak-tcn report ANNOTATIONS|RESULTS_DIR --out DIR``: an offline HTML review of annotations
  (against references when given), with a review queue (docs/report.md);
* ``vak-tcn demo``, ``configs``, ``grid``, ``summarize``, ``plot``, ``bench``: the poster's
  experiments (docs/experiments.md).

The three stacks meet only here: the plugin host (:mod:`vak_tcn.plugins`), the model library
(:mod:`vak_tcn.nn`, :mod:`vak_tcn.metrics`, :mod:`vak_tcn.models`) and the experiments
(:mod:`vak_tcn.experiments`).  Command modules are imported when their command runs, so
``vak-tcn --help`` imports neither torch nor pandas.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

from . import settings

VAK_COMMANDS = ("prep", "train", "eval", "predict", "learncurve")
#: vak commands that draw random numbers, so take ``--seed``: prep's split, training
SEEDED_COMMANDS = ("prep", "train", "learncurve")
#: vak commands that run inference, so take ``--precision`` (sets VAK_TCN_PRECISION)
PRECISION_COMMANDS = ("predict", "eval")
PRECISION_CHOICES = settings.PRECISIONS


def _add_seed(parser: argparse.ArgumentParser, help: str, default: int | None = None) -> None:
    parser.add_argument("--seed", type=int, default=default, metavar="N", help=help)


def _load():
    """Import vak and load plugins; return the plugin registry."""
    import vak  # noqa: F401  (the start-up hook, if active, loads plugins here)

    from .plugins.manager import load_plugins

    return load_plugins()


def _run_vak(args: argparse.Namespace) -> int:
    if not args.configfile.exists():
        print(f"vak-tcn: config file not found: {args.configfile}", file=sys.stderr)
        return 2
    from .models.seeding import apply_seed, side_effect_free_builds

    try:  # --seed, --precision: exported for vak, which runs here; the seeded network and the family resolve them
        if getattr(args, "seed", None) is not None:
            settings.export("seed", args.seed)
        seed = settings.resolve("seed")
        if args.command in PRECISION_COMMANDS:
            if getattr(args, "precision", None) is not None:
                settings.export("precision", args.precision)
            settings.resolve("precision")  # a bad VAK_TCN_PRECISION: one line now, not a traceback inside vak
    except ValueError as e:
        print(f"vak-tcn {args.command}: error: {e}", file=sys.stderr)
        return 2
    _load()
    from vak.cli import cli

    from .models.family import NonFiniteError
    from .plugins import vak_compat

    try:  # config mistakes: one line, before vak starts (vak itself answers with a traceback)
        with side_effect_free_builds():  # the check builds the network: it must not shift the run's seeds
            vak_compat.check_config(args.configfile, placeholder_dataset=args.command == "prep")
    except ValueError as e:
        print(f"vak-tcn {args.command}: error: {e}", file=sys.stderr)
        return 2
    if args.command == "prep" and seed is not None:  # vak prep splits the data with Python's random module
        apply_seed(seed)  # just before vak runs
    if args.command == "predict":  # vak does not give the model its batch_size: predict_step resolves it from here
        batch_size = getattr(vak_compat.load_config(args.configfile, unprepped_ok=True).predict, "batch_size", None)
        if batch_size:  # unless VAK_TCN_PREDICT_BATCH_SIZE is set
            settings.export("predict_batch_size", batch_size, what="[vak.predict] batch_size", overwrite=False)
    try:
        cli.cli(command=args.command, config_file=args.configfile)
    except NonFiniteError as e:  # bad audio: the files and the cause, no traceback
        print(f"vak-tcn {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from .plugins import vak_compat
    from .plugins.hookspecs import ENTRY_POINT_GROUP

    registry = _load()
    print(f"vak {'.'.join(map(str, vak_compat.VAK_VERSION))}; entry-point group '{ENTRY_POINT_GROUP}'")
    print("plugins:", ", ".join(f"{name} ({dist})" for name, dist in registry.plugins.items()) or "none")
    print("models:", ", ".join(vak_compat.model_names()))
    print("  from plugins:", ", ".join(f"{m} [{p}]" for m, p in registry.models.items()) or "none")
    print("losses:", ", ".join(registry.losses) or "none")
    print("metrics:", ", ".join(registry.metrics) or "none")
    for error in registry.errors:
        print("error:", error)
    return 1 if registry.errors else 0


def _demo(args: argparse.Namespace) -> int:
    from .experiments.demo import run_demo

    run_demo(
        args.out,
        steps=args.steps,
        n_bouts=args.bouts,
        window_size=args.window_size,
        seed=args.seed,
        repeat=args.repeat,
        short_gaps=args.short_gaps,
    )
    return 0


def _configs(args: argparse.Namespace) -> int:
    from .experiments.poster import poster_grid

    paths = poster_grid(
        args.out,
        data_dir=args.data_dir,
        labelset=args.labelset,
        annot_format=args.annot_format,
        audio_format=args.audio_format,
        prep_dir=args.prep_dir,
        results_dir=args.results_dir,
        accelerator=args.accelerator,
    )
    print(f"wrote {len(paths)} configs to {args.out}")
    return 0


def _grid(args: argparse.Namespace) -> int:
    from .experiments.runner import run_grid

    env = settings.variables({"max_steps": args.max_steps})
    try:
        run_grid(args.configs, scheduler=args.scheduler, workers=args.workers, env=env, seed=args.seed)
    except RuntimeError as e:  # runs failed: each was reported with its error above
        print(f"vak-tcn grid: {e}", file=sys.stderr)
        return 1
    return 0


def _summarize(args: argparse.Namespace) -> int:
    from .experiments.summary import summarize

    df = summarize(args.results, args.out)
    print(f"wrote {len(df)} rows ({df['Model'].nunique()} model(s)) to {args.out}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from .experiments.plots import plot

    for path in plot(args.csv, args.out):
        print(path)
    return 0


def _annotate(args: argparse.Namespace) -> int:
    if not args.configfile.exists():
        raise FileNotFoundError(f"config file not found: {args.configfile}")
    # no _load(): a vak-tcn network is read and built without vak (vak_tcn.models.trained), which
    # imports vak and loads the plugins itself for any other model
    from .inference.annotate import Options, annotate_all

    options = Options(
        annot_format=args.annot_format,
        probabilities=args.probabilities,
        post_processing=not args.no_post_processing,
        cleanup=args.post_processing,
        channel=args.channel,
        chunk_seconds=args.chunk_seconds,
        precision=args.precision,
        threads=args.threads if args.threads else (1 if args.workers or args.scheduler else None),
        exact=True if args.exact else None,  # else VAK_TCN_ANNOTATE_EXACT, else float32
        profile=args.profile,
    )
    _, failed, _ = annotate_all(
        args.configfile,
        args.audio,
        out_dir=args.out,
        options=options,
        recursive=args.recursive,
        workers=args.workers,
        scheduler=args.scheduler,
        samplerate=args.samplerate,
    )
    return 1 if failed else 0


def _durations(text: str | None, option: str) -> list[float] | None:
    """A grid option of ``vak-tcn tune``: comma-separated seconds >= 0 (None: the default grid)."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{option}: comma-separated durations in seconds, got {text!r}") from None
    if not values or any(not v >= 0 for v in values):
        raise ValueError(f"{option}: durations >= 0 in seconds, comma-separated; got {text!r}")
    return values


def _tune(args: argparse.Namespace) -> int:
    # the options first: a bad one is refused in milliseconds, not after vak's import (issue 37)
    args.min_segment_dur = _durations(args.min_segment_dur, "--min-segment-dur")
    args.min_gap_dur = _durations(args.min_gap_dur, "--min-gap-dur")
    if not args.results_dir.is_dir():
        raise FileNotFoundError(f"results directory not found: {args.results_dir}")
    _load()
    from .inference.tune import main_tune

    return main_tune(args)


def _live(args: argparse.Namespace) -> int:
    from .live.run import main_live

    return main_live(args)


def _bench_live(args: argparse.Namespace) -> int:
    from .live.latency import main_latency

    return main_latency(args)


def _bench(args: argparse.Namespace) -> int:
    from .experiments.bench import main_bench

    return main_bench(args)


def _report(args: argparse.Namespace) -> int:
    _load()
    from .report.command import main_report

    return main_report(args)


def _int_at_least(minimum: int, what: str):
    """argparse type: an integer >= ``minimum``; the message says ``what`` it must be."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


positive_int = _int_at_least(1, "a positive integer")
nonnegative_int = _int_at_least(0, "an integer >= 0")


#: the shortest ``annotate --chunk-seconds`` (also :data:`vak_tcn.inference.annotate.MIN_CHUNK_SECONDS`, checked
#: there for callers of the API).  Each network call also computes its chunk's context (a TCN's receptive field,
#: up to hundreds of frames; TweetyNet: 2048 frames each side), so shorter chunks only repeat that work and never
#: change the result; at 0.0001 s every frame recomputed its whole context, a run that seemed to hang.
MIN_CHUNK_SECONDS = 0.05


def chunk_seconds(text: str) -> float:
    """argparse type of ``--chunk-seconds``: a finite number of seconds >= :data:`MIN_CHUNK_SECONDS`."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= MIN_CHUNK_SECONDS):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds >= {MIN_CHUNK_SECONDS} (shorter chunks only repeat the network's "
            f"context, the result is the same), got {text!r}"
        )
    return value


def _errors_in_one_line(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse's mistakes for this command as one line, exit status 2, without the usage block above
    it (``annotate`` has a dozen options: the line that matters would be the last of ten)."""

    def error(message: str):
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vak-tcn",
        description="TCN models, smoothing losses and segmentation metrics for vak.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"vak-tcn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in VAK_COMMANDS:
        p = sub.add_parser(command, help=f"run `vak {command} CONFIG` with vak plugins loaded")
        p.add_argument("configfile", type=pathlib.Path, help="vak TOML config file")
        if command in SEEDED_COMMANDS:
            _add_seed(p, "seed the run (sets VAK_TCN_SEED; see docs/reproducibility.md)")
        if command in PRECISION_COMMANDS:
            p.add_argument(
                "--precision",
                choices=PRECISION_CHOICES,
                default=None,
                help="network precision for vak-tcn models: 32 (float32) or bf16 where the hardware has it "
                "(sets VAK_TCN_PRECISION; default: that variable, else 32)",
            )
        p.set_defaults(func=_run_vak)
    p = sub.add_parser("plugins", help="list registered vak plugins, models, losses and metrics")
    p.set_defaults(func=_plugins)

    p = _errors_in_one_line(
        sub.add_parser(
            "annotate",
            help="annotate recordings of any length with a trained model (a vak predict config); streaming, resumable",
        )
    )
    p.add_argument("configfile", type=pathlib.Path, help="vak predict config (checkpoint, labelmap, standardizer)")
    p.add_argument("audio", nargs="+", type=pathlib.Path, help="audio files and/or directories")
    p.add_argument("--recursive", action="store_true", help="search directories recursively")
    p.add_argument(
        "--annot-format",
        default="generic-seq",
        help="crowsetta format of the annotation files: generic-seq (default), simple-seq, aud-seq",
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
        "--out", type=pathlib.Path, default=None, help="output directory (default: the config's output_dir, else .)"
    )
    p.add_argument("--workers", type=positive_int, default=None, help="annotate on a local dask cluster of N processes")
    p.add_argument("--scheduler", default=None, help="address of a dask.distributed scheduler to annotate on")
    p.add_argument("--channel", type=nonnegative_int, default=None, help="channel of multichannel audio (0-based)")
    p.add_argument(
        "--samplerate", type=positive_int, default=None, help="reject recordings at any other sample rate (Hz)"
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
        choices=PRECISION_CHOICES,
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
    p.set_defaults(func=_annotate)

    p = sub.add_parser(
        "tune",
        help="tune post-processing (gap filling, min_segment_dur, majority vote) of trained models on validation data",
    )
    p.add_argument("results_dir", type=pathlib.Path, help="a `vak train` or `vak learncurve` results directory")
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="NAME",
        help="checkpoint file name (default: max-val-acc-checkpoint.pt, else checkpoint.pt)",
    )
    p.add_argument(
        "--min-segment-dur", default=None, metavar="S,S,...", help="grid of min_segment_dur, seconds (0: off)"
    )
    p.add_argument("--min-gap-dur", default=None, metavar="S,S,...", help="grid of min_gap_dur, seconds (0: off)")
    p.add_argument(
        "--majority-vote", choices=("both", "on", "off"), default="both", help="majority vote (default both)"
    )
    p.set_defaults(func=_tune)

    from .live.run import add_arguments as add_live_arguments

    p = sub.add_parser(
        "live", help="annotate song as it arrives with a causal TCN: events as JSON lines, triggers (docs/live.md)"
    )
    add_live_arguments(p)
    p.set_defaults(func=_live)

    p = sub.add_parser(
        "demo", help="synthetic song -> vak prep -> learncurve of TweetyNet, TCN, ConvTCN -> summary + figures"
    )
    p.add_argument(
        "--out", type=pathlib.Path, default=None, help="output directory (default: $VAK_TCN_DEMO_OUT or demo-out)"
    )
    p.add_argument("--steps", type=int, default=300, help="training steps per model (default 300)")
    p.add_argument(
        "--bouts",
        type=int,
        default=45,
        help="synthetic bouts to generate (default 45, ~3.6 min of song; at least 20 for the 70 s of train/val/test splits)",
    )
    p.add_argument("--window-size", type=int, default=256, help="training window in frames (default 256)")
    _add_seed(p, "seed of the synthetic song and of every training run (default 0)", default=0)
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run every model N times with different seeds; the overview gives mean ± SD (default 1)",
    )
    p.add_argument(
        "--short-gaps",
        action="store_true",
        help="synthetic song with short inter-syllable gaps (3 ms and up, about a third under 10 ms)",
    )
    p.set_defaults(func=_demo)

    p = sub.add_parser("configs", help="write the poster's grid of learncurve configs (models x window sizes x losses)")
    p.add_argument("--out", type=pathlib.Path, required=True, help="directory for the configs")
    p.add_argument(
        "--data-dir",
        type=pathlib.Path,
        default=pathlib.Path("data/bfsongrepo/bird1"),
        help="audio + annotations of one bird",
    )
    p.add_argument("--labelset", default="iabcdefghjk", help="labels to keep (default: BFSongRepo bird gy6or6's)")
    p.add_argument("--annot-format", default="notmat")
    p.add_argument("--audio-format", default="cbin")
    p.add_argument(
        "--prep-dir", type=pathlib.Path, default=None, help="where vak prep writes the dataset (default OUT/prep)"
    )
    p.add_argument("--results-dir", type=pathlib.Path, default=None, help="root of results (default OUT/results)")
    p.add_argument("--accelerator", default="gpu", choices=["gpu", "cpu"])
    p.set_defaults(func=_configs)

    p = _errors_in_one_line(
        sub.add_parser("grid", help="run many configs: vak prep once per dataset, then each run; resumable")
    )
    p.add_argument("configs", nargs="+", type=pathlib.Path, help="learncurve or train configs")
    p.add_argument(
        "--scheduler", default=None, help="address of a dask.distributed scheduler (default: a local cluster)"
    )
    p.add_argument("--workers", type=positive_int, default=None, help="local workers (default: one per GPU, else 1)")
    p.add_argument(
        "--max-steps", type=positive_int, default=None, help="cap training steps per run (sets VAK_TCN_MAX_STEPS)"
    )
    _add_seed(p, "seed every run: each gets VAK_TCN_SEED derived from N and its config's name")
    p.set_defaults(func=_grid)

    p = sub.add_parser("summarize", help="results directories -> one tidy CSV in the poster's schema")
    p.add_argument("results", nargs="+", type=pathlib.Path, help="directories searched for learning_curve.csv")
    p.add_argument("--out", type=pathlib.Path, required=True, help="CSV to write")
    p.set_defaults(func=_summarize)

    p = sub.add_parser("plot", help="draw the poster's figures from a summary CSV (PNG + SVG)")
    p.add_argument("csv", type=pathlib.Path)
    p.add_argument("--out", type=pathlib.Path, required=True, help="directory for the figures")
    p.set_defaults(func=_plot)

    from .live.latency import add_arguments as add_latency_arguments

    p = sub.add_parser("bench-live", help="latency of live annotation with a causal TCN, per push and end to end")
    add_latency_arguments(p)
    p.set_defaults(func=_bench_live)

    from .experiments.bench import add_arguments

    p = sub.add_parser("bench", help="speed and memory of TweetyNet, TCN, ConvTCN; plugin overheads (table + JSON/CSV)")
    add_arguments(p)
    p.set_defaults(func=_bench)

    from .report.command import add_arguments as add_report_arguments

    p = _errors_in_one_line(
        sub.add_parser("report", help="an annotation review report in the browser: pages, scores, review queue")
    )
    add_report_arguments(p)
    p.set_defaults(func=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings.check_variables()  # every VAK_TCN_* variable, before any work (issue 37)
    except ValueError as e:
        print(f"vak-tcn {args.command}: error: {e}", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        resume = "; rerun the same command to resume" if args.command in ("grid", "demo", "annotate") else ""
        print(f"\nvak-tcn {args.command}: interrupted{resume}", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, ConnectionError) as e:  # user errors: one clear line, no traceback
        if args.command in VAK_COMMANDS:
            raise
        print(f"vak-tcn {args.command}: error: {' '.join(str(e).splitlines()[:1])}", file=sys.stderr)
        for line in str(e).splitlines()[1:]:  # e.g. one line per bad config
            print(line, file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
