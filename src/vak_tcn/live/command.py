"""The ``vak-tcn live`` and ``vak-tcn bench-live`` commands (docs/live.md).

:mod:`vak_tcn.cli` imports this module when one of the two runs (or is asked for ``--help``);
their options and what they run are in :mod:`.run` (``live``) and :mod:`.latency` (``bench-live``),
imported then.
"""

from __future__ import annotations

import argparse

from .._cli_args import Command

__all__ = ["BENCH_LIVE", "LIVE"]


def _add_live_arguments(parser: argparse.ArgumentParser) -> None:
    from .run import add_arguments

    add_arguments(parser)


def _live(args: argparse.Namespace) -> int:
    from .run import main_live

    return main_live(args)


def _add_bench_live_arguments(parser: argparse.ArgumentParser) -> None:
    from .latency import add_arguments

    add_arguments(parser)


def _bench_live(args: argparse.Namespace) -> int:
    from .latency import main_latency

    return main_latency(args)


#: ``vak-tcn live CONFIG``: annotate song as it arrives, with a causal TCN
LIVE = Command(_add_live_arguments, _live)
#: ``vak-tcn bench-live``: the latency of live annotation
BENCH_LIVE = Command(_add_bench_live_arguments, _bench_live)
