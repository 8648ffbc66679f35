"""The command lines of the tests: ``vak`` and ``vak-tcn`` as subprocesses (the installed console
scripts) or ``vak_tcn.cli.main`` in process, with vak-tcn's variables kept out of the way."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

#: variables a test's in-process call can leave set: vak-tcn's, and Lightning's seed_everything's
LEAKY_VARIABLES = ("VAK_TCN_", "PL_GLOBAL_SEED", "PL_SEED_WORKERS")


def vak_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_VARIABLES)}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def console_script(name: str) -> str:
    """The console script installed next to this interpreter (as a user runs it)."""
    script = pathlib.Path(sys.executable).parent / name
    if script.exists():
        return str(script)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"console script {name!r} not found next to {sys.executable} or on PATH")
    return found


def run_cli(args: list[str], cwd: pathlib.Path | None = None, timeout: int = 900, **env) -> subprocess.CompletedProcess:
    """Run a console script (``vak``, ``vak-tcn``); fail with its output if it fails."""
    cmd = [console_script(args[0]), *map(str, args[1:])]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=vak_env(**env), cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-6000:]}"
        )
    return proc


def cli_in_process(capsys, *args) -> subprocess.CompletedProcess:
    """``vak-tcn ARGS`` in this process (``vak_tcn.cli.main``), for mistakes caught before anything runs,
    where a fresh interpreter proves nothing more: its exit status (argparse's ``SystemExit`` too) and
    what it printed, this command's alone.  An exception escaping ``main`` fails the test, so a
    traceback cannot pass for a clean error."""
    from vak_tcn import cli

    argv = [*map(str, args)]
    capsys.readouterr()  # only this command's output
    try:
        status = cli.main(argv)
    except SystemExit as e:  # argparse's errors
        status = e.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(argv, status, out.out, out.err)
