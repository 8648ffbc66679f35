"""What the ``vak-tcn`` commands share on the command line: argparse types, options, one-line errors.

Each command's module (in the layer that owns the command: ``inference/command.py``,
``live/command.py``, ``report/command.py``, ...) builds its own arguments from these, so no
command module imports :mod:`vak_tcn.cli`, the top layer.  Pure Python (argparse, math), so
every layer can use it and importing it costs nothing.
"""

from __future__ import annotations

import argparse
import copy
import functools
import math
import sys
from collections.abc import Callable
from typing import NamedTuple

__all__ = [
    "MIN_CHUNK_SECONDS",
    "Command",
    "HelpWithDefaults",
    "add_option",
    "add_run_options",
    "add_seed",
    "chunk_seconds",
    "durations",
    "errors_in_one_line",
    "given_as",
    "int_at_least",
    "nonnegative_int",
    "positive_int",
]


class Command(NamedTuple):
    """One command of a module that holds several (``inference.command.TUNE``): what
    :mod:`vak_tcn.cli` needs of it, as a module holding one command gives it at its top level."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    main: Callable[[argparse.Namespace], int]


class HelpWithDefaults(argparse.HelpFormatter):
    """Every ``vak-tcn`` command's ``--help``: an option with a default says it, ``(default: X)``, unless its
    help already does (a help text that names its default in words, e.g. "(default: the one max-val-acc
    checkpoint)", is left alone).  ``None`` and ``False`` (a flag) are no default to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        default = action.default
        if (
            "default" in help.lower()
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
            or (not action.option_strings and action.nargs not in ("?", "*"))
        ):
            return help
        if isinstance(default, (list, tuple)):
            default = " ".join(map(str, default))
        shown = str(default).replace("%", "%%")
        return f"{help} (default: {shown})" if help else f"default: {shown}"

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None and self._get_help_string(action):  # no help text: its default all the same
            action = copy.copy(action)
            action.help = ""
            action.help = self._get_help_string(action)
        return super()._format_action(action)


class _Spelled(argparse.Action):
    """Store the value and the spelling it was given as (:func:`given_as`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        spellings = dict(getattr(namespace, "_given_as", {}))
        spellings[self.dest] = option_string
        namespace._given_as = spellings


class _OldSpelling(_Spelled):
    """:class:`_Spelled` for an old spelling, which says once what it is called now."""

    def __init__(self, *args, new: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        print(
            f"{parser.prog}: note: {option_string} is now {self.new} (the old spelling goes in the next release)",
            file=sys.stderr,
        )
        super().__call__(parser, namespace, values, option_string)


def add_option(parser, name: str, *old: str, **kwargs) -> argparse.Action:
    """``parser.add_argument(name, **kwargs)`` (a value-taking option) and its ``old`` spellings: they work
    for one release, hidden from ``--help`` and its usage line (docs say each rename).  A message about
    the option names it as given (:func:`given_as`): ``--rate 0`` is answered about ``--rate``; an old
    spelling says its new one on stderr."""
    action = parser.add_argument(name, action=_Spelled, **kwargs)
    if old:
        parser.add_argument(
            *old,
            action=functools.partial(_OldSpelling, new=name),
            dest=action.dest,
            nargs=action.nargs,
            const=action.const,
            type=action.type,
            choices=action.choices,
            metavar=action.metavar,
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )
    return action


def given_as(args: argparse.Namespace, dest: str, name: str) -> str:
    """The spelling the option ``dest`` was given as on the command line (an old one of
    :func:`add_option`), else ``name``, its spelling now."""
    return getattr(args, "_given_as", {}).get(dest) or name


def add_seed(parser: argparse.ArgumentParser, help: str, default: int | None = None) -> None:
    parser.add_argument("--seed", type=int, default=default, metavar="N", help=help)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """``--run`` and ``--checkpoint``: which trained model of a results directory (annotate, live, report,
    predict-config; :func:`vak_tcn.models.predict_config.choose_run`)."""
    p.add_argument(
        "--run",
        default=None,
        metavar="PART",
        help="results directory: the trained model whose checkpoint's path contains PART "
        "(learncurve's replicates, e.g. train_dur_60s/replicate_2)",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="NAME",
        help="results directory: the checkpoint file (default: the one max-val-acc checkpoint, else the only "
        ".pt, else checkpoint.pt: vak learncurve's rule)",
    )


def int_at_least(minimum: int, what: str):
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


positive_int = int_at_least(1, "a positive integer")
nonnegative_int = int_at_least(0, "an integer >= 0")


#: the shortest ``annotate --chunk-seconds`` (also :data:`vak_tcn.inference.options.MIN_CHUNK_SECONDS`, checked
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


def durations(text: str | None, option: str) -> list[float] | None:
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


def errors_in_one_line(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse's mistakes for this command as one line, exit status 2, without the usage block above
    it (``annotate`` has a dozen options: the line that matters would be the last of ten)."""

    def error(message: str):
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error
    return parser
