"""The ``vak-tcn`` command (also ``python -m vak_tcn``).

* ``vak-tcn prep|train|eval|predict|learncurve CONFIG``: the stock vak command with
  plugins loaded explicitly, for Python installations that ignore ``.pth`` files (``prep``,
  ``train`` and ``learncurve`` take ``--seed``: docs/reproducibility.md);
* ``vak-tcn init --data-dir DIR --annot-format FMT --labelset LABELS``: a lab's starter configs,
  ``train.toml`` and ``learncurve.toml``, of the recommended model (docs/config.md);
* ``vak-tcn plugins``: what is registered;
* ``vak-tcn annotate CONFIG|RESULTS_DIR AUDIO...``: annotate recordings of any length with a trained
  model, streaming, in bounded memory (docs/annotate.md); ``vak-tcn predict-config RESULTS_DIR``: the
  stock vak predict config of a trained model (docs/annotate.md);
* ``vak-tcn tune RESULTS_DIR``: tune the clean-up of trained models on their validation
  split; ``annotate`` uses the result (docs/postprocessing.md);
* ``vak-tcn live CONFIG|RESULTS_DIR``: annotate song as it arrives, with a causal TCN (docs/live.md);
  ``vak-tcn bench-live``: its latency;
* ``vak-tcn report ANNOTATIONS|RESULTS_DIR --out DIR``: an offline HTML review of annotations
  (against references when given), with a review queue (docs/report.md);
* ``vak-tcn demo``, ``configs``, ``grid``, ``summarize``, ``plot``, ``bench``: the poster's
  experiments (docs/experiments.md).

The three stacks meet only here: the plugin host (:mod:`vak_tcn.plugins`), the model library
(:mod:`vak_tcn.nn`, :mod:`vak_tcn.metrics`, :mod:`vak_tcn.models`) and the experiments
(:mod:`vak_tcn.experiments`).  Each command lives in the layer that owns it, as a module (or a
:class:`~vak_tcn._cli_args.Command` of a module) with ``add_arguments(parser)`` and ``main(args)``;
this module holds only the table of :data:`COMMANDS` (name -> where it lives, one line of help) and
the vak passthrough commands.  A command's module is imported when that command is parsed (run, or
asked for ``--help``), so ``vak-tcn --help`` imports none of them, nor torch, pandas or vak.
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
import types

from . import settings
from ._cli_args import Command, HelpWithDefaults, add_seed

VAK_COMMANDS = ("prep", "train", "eval", "predict", "learncurve")
#: vak commands that draw random numbers, so take ``--seed``: prep's split, training
SEEDED_COMMANDS = ("prep", "train", "learncurve")
#: vak commands that run inference, so take ``--precision`` (sets VAK_TCN_PRECISION)
PRECISION_COMMANDS = ("predict", "eval")
PRECISION_CHOICES = settings.PRECISIONS


def _load():
    """Import vak and load plugins; return the plugin registry."""
    from .plugins.manager import load_with_vak

    return load_with_vak()


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
            prep = args.command == "prep"
            vak_compat.check_config(args.configfile, placeholder_dataset=prep, command=args.command)
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
    except NotADirectoryError:  # vak prep's first check, a traceback: one line naming data_dir and the fix
        problem = vak_compat.data_dir_problem(args.configfile) if args.command == "prep" else None
        if problem is None:
            raise
        print(f"vak-tcn {args.command}: error: {problem}", file=sys.stderr)
        return 2
    return 0


def _vak_command(command: str) -> Command:
    """``vak-tcn COMMAND CONFIG``: the stock vak command, plugins loaded."""

    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("configfile", type=pathlib.Path, help="vak TOML config file")
        if command in SEEDED_COMMANDS:
            add_seed(p, "seed the run (sets VAK_TCN_SEED; see docs/reproducibility.md)")
        if command in PRECISION_COMMANDS:
            p.add_argument(
                "--precision",
                choices=PRECISION_CHOICES,
                default=None,
                help="network precision for vak-tcn models: 32 (float32) or bf16 where the hardware has it "
                "(sets VAK_TCN_PRECISION; default: that variable, else 32)",
            )

    return Command(add_arguments, _run_vak)


#: the vak passthrough commands by name (``VAK.prep``, ...)
VAK = types.SimpleNamespace(**{command: _vak_command(command) for command in VAK_COMMANDS})


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """``vak-tcn plugins`` takes none."""


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


#: ``vak-tcn plugins``: what is registered (here: it prints vak's version, which only this module and
#: vak_compat may name, tests/plugins/test_plugins.py)
PLUGINS = Command(_no_arguments, _plugins)

#: every command, in ``vak-tcn --help``'s order: name -> (where it lives, one line of help).  Where, as entry
#: points name objects: ``"module"``, whose ``add_arguments(parser)`` and ``main(args)`` are the command's, or
#: ``"module:NAME"``, a :class:`~vak_tcn._cli_args.Command` of a module that holds several.
COMMANDS: dict[str, tuple[str, str]] = {
    **{c: (f"vak_tcn.cli:VAK.{c}", f"run `vak {c} CONFIG` with vak plugins loaded") for c in VAK_COMMANDS},
    "init": (
        "vak_tcn.experiments.commands:INIT",
        "write a lab's starter configs (train.toml, learncurve.toml) of the recommended model for its song",
    ),
    "plugins": ("vak_tcn.cli:PLUGINS", "list registered vak plugins, models, losses and metrics"),
    "annotate": (
        "vak_tcn.inference.command:ANNOTATE",
        "annotate recordings of any length with a trained model (a vak predict config or a results directory); "
        "streaming, resumable",
    ),
    "predict-config": (
        "vak_tcn.inference.command:PREDICT_CONFIG",
        "write the stock `vak predict` config of a trained model of a vak train/learncurve results directory",
    ),
    "tune": (
        "vak_tcn.inference.command:TUNE",
        "tune post-processing (gap filling, min_segment_dur, majority vote) of trained models on validation data",
    ),
    "live": (
        "vak_tcn.live.command:LIVE",
        "annotate song as it arrives with a causal TCN: events as JSON lines, triggers (docs/live.md)",
    ),
    "demo": (
        "vak_tcn.experiments.commands:DEMO",
        "synthetic song -> vak prep -> learncurve of TweetyNet, TCN, ConvTCN -> summary + figures",
    ),
    "configs": (
        "vak_tcn.experiments.commands:CONFIGS",
        "write the poster's grid of learncurve configs (models x window sizes x losses)",
    ),
    "grid": (
        "vak_tcn.experiments.commands:GRID",
        "run many configs: vak prep once per dataset, then each run; resumable",
    ),
    "summarize": (
        "vak_tcn.experiments.commands:SUMMARIZE",
        "results directories -> one tidy CSV in the poster's schema",
    ),
    "plot": ("vak_tcn.experiments.commands:PLOT", "draw the poster's figures from a summary CSV (PNG + SVG)"),
    "bench-live": (
        "vak_tcn.live.command:BENCH_LIVE",
        "latency of live annotation with a causal TCN, per push and end to end",
    ),
    "bench": (
        "vak_tcn.experiments.commands:BENCH",
        "speed and memory of TweetyNet, TCN, ConvTCN; plugin overheads (table + JSON/CSV)",
    ),
    "report": (
        "vak_tcn.report.command",
        "an annotation review report in the browser: pages, scores, review queue",
    ),
}


def find_command(name: str):
    """The command ``name`` of :data:`COMMANDS` (its module imported): an object with ``add_arguments`` and
    ``main``."""
    module, _, attribute = COMMANDS[name][0].partition(":")
    found = importlib.import_module(module)
    for part in filter(None, attribute.split(".")):
        found = getattr(found, part)
    return found


class _CommandParser(argparse.ArgumentParser):
    """One command's parser, empty until the command is parsed (run) or its help or usage asked for:
    then its module is imported and adds the arguments and ``func``, its ``main``."""

    lazy_command: str | None = None

    def _add_command(self) -> None:
        if self.lazy_command is not None:
            command, self.lazy_command = find_command(self.lazy_command), None
            command.add_arguments(self)
            self.set_defaults(func=command.main)

    def parse_known_args(self, args=None, namespace=None):
        self._add_command()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._add_command()
        return super().format_usage()

    def format_help(self) -> str:
        self._add_command()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vak-tcn",
        description="TCN models, smoothing losses and segmentation metrics for vak.",
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"vak-tcn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_CommandParser)
    for name, (_, help) in COMMANDS.items():
        sub.add_parser(name, help=help, formatter_class=HelpWithDefaults).lazy_command = name
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
