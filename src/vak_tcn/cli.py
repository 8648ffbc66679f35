"""The ``vak-tcn`` command (also ``python -m vak_tcn``).

``vak-tcn prep|train|eval|predict|learncurve CONFIG`` runs the stock vak
command with plugins loaded explicitly, for environments that ignore ``.pth``
files (the start-up hook).  ``vak-tcn plugins`` lists what is registered.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

VAK_COMMANDS = ("prep", "train", "eval", "predict", "learncurve")


def _load():
    """Import vak and load plugins; return the plugin registry."""
    import vak  # noqa: F401  (the start-up hook, if active, loads plugins here)

    from . import plugins

    return plugins.load_plugins()


def _run_vak(args: argparse.Namespace) -> int:
    if not args.configfile.exists():
        print(f"vak-tcn: config file not found: {args.configfile}", file=sys.stderr)
        return 2
    _load()
    from vak.cli import cli

    cli.cli(command=args.command, config_file=args.configfile)
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from . import compat

    registry = _load()
    print(f"vak {'.'.join(map(str, compat.VAK_VERSION))}; entry-point group 'vak.plugins'")
    print("plugins:", ", ".join(f"{name} ({dist})" for name, dist in registry.plugins.items()) or "none")
    print("models:", ", ".join(compat.model_names()))
    print("  from plugins:", ", ".join(f"{m} [{p}]" for m, p in registry.models.items()) or "none")
    print("losses:", ", ".join(registry.losses) or "none")
    print("metrics:", ", ".join(registry.metrics) or "none")
    for error in registry.errors:
        print("error:", error)
    return 1 if registry.errors else 0


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
        p.set_defaults(func=_run_vak)
    p = sub.add_parser("plugins", help="list registered vak plugins, models, losses and metrics")
    p.set_defaults(func=_plugins)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
