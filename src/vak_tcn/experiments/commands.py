"""The poster's experiments as ``vak-tcn`` commands: ``demo``, ``configs``, ``grid``, ``summarize``,
``plot`` and ``bench`` (docs/experiments.md), and ``init``, a lab's starter configs (docs/config.md);
their options and what they run.

Light at import (no pandas, torch or vak): :mod:`vak_tcn.cli` imports it when one of them runs
(or is asked for ``--help``); each command's ``main`` imports the module that does the work.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from .. import settings
from .._cli_args import Command, add_option, add_seed, errors_in_one_line, given_as, positive_int

__all__ = ["BENCH", "CONFIGS", "DEMO", "GRID", "INIT", "PLOT", "SUMMARIZE"]


def _add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", type=pathlib.Path, default=None, help="output directory (default: $VAK_TCN_DEMO_OUT or demo-out)"
    )
    add_option(
        p,
        "--max-steps",
        "--steps",
        type=int,
        default=300,
        metavar="N",
        help="training steps per model run (sets VAK_TCN_MAX_STEPS, as grid's --max-steps; default 300)",
    )
    p.add_argument(
        "--bouts",
        type=int,
        default=45,
        help="synthetic bouts to generate (default 45, ~3.6 min of song; at least 20 for the 70 s of train/val/test splits)",
    )
    p.add_argument("--window-size", type=int, default=256, help="training window in frames (default 256)")
    add_seed(p, "seed of the synthetic song and of every training run (default 0)", default=0)
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


def _demo(args: argparse.Namespace) -> int:
    if args.max_steps < 1:  # named as given (--steps: its old spelling)
        raise ValueError(f"{given_as(args, 'max_steps', '--max-steps')} must be at least 1, got {args.max_steps}")
    from .demo import run_demo

    run_demo(
        args.out,
        steps=args.max_steps,
        n_bouts=args.bouts,
        window_size=args.window_size,
        seed=args.seed,
        repeat=args.repeat,
        short_gaps=args.short_gaps,
    )
    return 0


def _add_init_arguments(p: argparse.ArgumentParser) -> None:
    errors_in_one_line(p)
    p.description = (
        "Write train.toml ([vak.prep] + [vak.train]) and learncurve.toml ([vak.prep] + [vak.learncurve]) for "
        "your song from the recommended configuration (docs/real-song.md), each checked by vak's parser. "
        "Then: vak prep train.toml; vak train train.toml; vak-tcn annotate RESULTS_DIR recordings/ --out annotations/."
    )
    p.add_argument("--data-dir", type=pathlib.Path, required=True, help="audio + annotations of the training song")
    p.add_argument(
        "--audio-format",
        choices=["wav", "cbin"],
        default=None,
        help="audio files' format (default: the only one of wav, cbin in the data folder, said)",
    )
    p.add_argument("--annot-format", required=True, help="annotation format, one crowsetta knows (e.g. simple-seq)")
    p.add_argument("--labelset", required=True, help="the labels to keep, e.g. abcdefg (vak's labelset)")
    p.add_argument(
        "--model",
        choices=["ConvTCN", "TCN"],
        default="ConvTCN",
        help="ConvTCN (default): the lowest error for offline annotation; TCN: several times as fast (README)",
    )
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("."), help="folder for the configs (default: here)")
    p.add_argument(
        "--prep-dir", type=pathlib.Path, default=None, help="where vak prep writes the dataset (default: OUT/prep)"
    )
    p.add_argument(
        "--results-dir", type=pathlib.Path, default=None, help="root of vak's results (default: OUT/results/MODEL)"
    )
    p.add_argument(
        "--accelerator",
        choices=["gpu", "cpu"],
        default=None,
        help="trainer's accelerator (default: gpu where this machine has one, else cpu, said)",
    )
    from .starter import DEFAULT_MODEL, recommended_settings

    prep = recommended_settings(DEFAULT_MODEL)["prep"]
    for split in ("train", "val", "test"):
        p.add_argument(
            f"--{split}-dur",
            type=float,
            default=None,
            metavar="SECONDS",
            help=f"seconds of song in the {split} split (default: the recommended config's, {prep[f'{split}_dur']})"
            + ("; -1: all that validation and test leave" if split == "train" else ""),
        )
    p.add_argument("--force", action="store_true", help="overwrite configs already in OUT")
    p.add_argument(
        "--rename-annotations",
        action="store_true",
        help="rename annotation files named as Audacity names them (bird1_001.txt) to the names vak prep "
        "pairs with the recordings (bird1_001.wav.txt)",
    )


def _init(args: argparse.Namespace) -> int:
    from .starter import write_starter_configs

    write_starter_configs(
        args.out,
        data_dir=args.data_dir,
        labelset=args.labelset,
        annot_format=args.annot_format,
        audio_format=args.audio_format,
        model=args.model,
        prep_dir=args.prep_dir,
        results_dir=args.results_dir,
        accelerator=args.accelerator,
        train_dur=args.train_dur,
        val_dur=args.val_dur,
        test_dur=args.test_dur,
        force=args.force,
        rename_annotations=args.rename_annotations,
    )
    return 0


def _add_configs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=pathlib.Path, required=True, help="directory for the configs")
    p.add_argument(
        "--data-dir",
        type=pathlib.Path,
        default=pathlib.Path("data/bfsongrepo/gy6or6"),
        help="audio + annotations of one bird (default: BFSongRepo's gy6or6, the poster's, with its labelset)",
    )
    p.add_argument("--labelset", default="iabcdefghjk", help="labels to keep (default: BFSongRepo bird gy6or6's)")
    p.add_argument("--annot-format", default="notmat", help="crowsetta format of the annotations")
    p.add_argument("--audio-format", default="cbin", help="format of the audio files")
    p.add_argument(
        "--prep-dir", type=pathlib.Path, default=None, help="where vak prep writes the dataset (default OUT/prep)"
    )
    p.add_argument("--results-dir", type=pathlib.Path, default=None, help="root of results (default OUT/results)")
    p.add_argument(
        "--accelerator",
        default="gpu",
        choices=["gpu", "cuda", "cpu"],
        help="what the configs train on: gpu (or cuda, the same; written as gpu, vak's name) or cpu",
    )


def _configs(args: argparse.Namespace) -> int:
    from .poster import poster_grid

    paths = poster_grid(
        args.out,
        data_dir=args.data_dir,
        labelset=args.labelset,
        annot_format=args.annot_format,
        audio_format=args.audio_format,
        prep_dir=args.prep_dir,
        results_dir=args.results_dir,
        accelerator="gpu" if args.accelerator == "cuda" else args.accelerator,
    )
    print(f"wrote {len(paths)} configs to {args.out}")
    return 0


def _add_grid_arguments(p: argparse.ArgumentParser) -> None:
    errors_in_one_line(p)
    p.add_argument("configs", nargs="+", type=pathlib.Path, help="learncurve or train configs")
    p.add_argument(
        "--scheduler", default=None, help="address of a dask.distributed scheduler (default: a local cluster)"
    )
    p.add_argument("--workers", type=positive_int, default=None, help="local workers (default: one per GPU, else 1)")
    p.add_argument(
        "--max-steps", type=positive_int, default=None, help="cap training steps per run (sets VAK_TCN_MAX_STEPS)"
    )
    add_seed(p, "seed every run: each gets VAK_TCN_SEED derived from N and its config's name")


def _grid(args: argparse.Namespace) -> int:
    from .runner import run_grid

    env = settings.variables({"max_steps": args.max_steps})
    try:
        run_grid(args.configs, scheduler=args.scheduler, workers=args.workers, env=env, seed=args.seed)
    except RuntimeError as e:  # runs failed: each was reported with its error above
        print(f"vak-tcn grid: {e}", file=sys.stderr)
        return 1
    return 0


def _add_summarize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", type=pathlib.Path, help="directories searched for learning_curve.csv")
    p.add_argument("--out", type=pathlib.Path, required=True, help="CSV to write")


def _summarize(args: argparse.Namespace) -> int:
    from .summary import summarize

    df = summarize(args.results, args.out)
    print(f"wrote {len(df)} rows ({df['Model'].nunique()} model(s)) to {args.out}")
    return 0


def _add_plot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("csv", type=pathlib.Path)
    p.add_argument("--out", type=pathlib.Path, required=True, help="directory for the figures")


def _plot(args: argparse.Namespace) -> int:
    from .plots import plot

    for path in plot(args.csv, args.out):
        print(path)
    return 0


def _add_bench_arguments(p: argparse.ArgumentParser) -> None:
    from .bench import add_arguments

    add_arguments(p)


def _bench(args: argparse.Namespace) -> int:
    from .bench import main_bench

    return main_bench(args)


#: ``vak-tcn demo``: synthetic song -> vak prep -> learncurve of each model -> summary + figures
DEMO = Command(_add_demo_arguments, _demo)
#: ``vak-tcn configs --out DIR``: the poster's grid of learncurve configs
CONFIGS = Command(_add_configs_arguments, _configs)
#: ``vak-tcn init``: a lab's starter configs (train.toml, learncurve.toml) from the recommended configuration
INIT = Command(_add_init_arguments, _init)
#: ``vak-tcn grid CONFIG...``: run many configs, resumable
GRID = Command(_add_grid_arguments, _grid)
#: ``vak-tcn summarize RESULTS... --out CSV``: results directories -> one tidy CSV
SUMMARIZE = Command(_add_summarize_arguments, _summarize)
#: ``vak-tcn plot CSV --out DIR``: the poster's figures
PLOT = Command(_add_plot_arguments, _plot)
#: ``vak-tcn bench``: speed and memory of the models, plugin overheads
BENCH = Command(_add_bench_arguments, _bench)
