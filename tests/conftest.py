from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from hypothesis import settings

# Property-based tests draw the same examples on every run (derandomised), so a CI failure
# reproduces locally; VAK_TCN_HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("deterministic", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("VAK_TCN_HYPOTHESIS_PROFILE", "deterministic"))

DATA = pathlib.Path(__file__).parent / "data"
REAL_BOUT = DATA / "bengalese-finch-bout"


def learncurve_kwargs(tmp_path: pathlib.Path, song_dir: pathlib.Path, **overrides) -> dict:
    """``configs.vak_config`` arguments of a tiny learncurve on the generated song (4 s train, 2 s val
    and test, one 3-s replicate, window 64), with ``overrides`` on top."""
    kwargs = dict(
        command="learncurve",
        model="TCN",
        data_dir=song_dir,
        prep_output_dir=tmp_path / "prep",
        results_dir=tmp_path / "results",
        labelset="abcd",
        train_dur=4,
        val_dur=2,
        test_dur=2,
        train_set_durs=[3],
        num_replicates=1,
        window_size=64,
        batch_size=8,
        val_step=10,
        ckpt_step=10,
    )
    kwargs.update(overrides)
    return kwargs


#: variables a test's in-process call can leave set: vak-tcn's, and Lightning's seed_everything's
LEAKY_VARIABLES = ("VAK_TCN_", "PL_GLOBAL_SEED", "PL_SEED_WORKERS")


@pytest.fixture(autouse=True)
def _restore_leaky_variables():
    """In-process ``vak_tcn.cli.main`` sets variables (``--seed`` -> VAK_TCN_SEED, ...), and
    monkeypatch restores only what it saw first: put them back as they were after every test,
    so no test changes the next one's seeds."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(LEAKY_VARIABLES)}
    yield
    for key in [k for k in os.environ if k.startswith(LEAKY_VARIABLES)]:
        del os.environ[key]
    os.environ.update(saved)


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


@pytest.fixture(scope="session")
def song_dir(tmp_path_factory) -> pathlib.Path:
    """A small synthetic annotated corpus (WAV + simple-seq CSV): 8 bouts of ~1-1.5 s."""
    from vak_tcn.experiments.corpus import make_corpus

    out = tmp_path_factory.mktemp("song")
    make_corpus(out, n_bouts=8, syllables_per_bout=(10, 14), n_types=4, seed=1)
    return out
