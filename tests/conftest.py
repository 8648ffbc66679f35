"""The tests' fixtures: the synthetic song and the real bout prepared (and trained) once per session,
variables put back after every test, seconds per test file.  Functions and constants the tests share
are in ``tests/helpers/``."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest
from hypothesis import settings

from helpers.cli import LEAKY_VARIABLES, run_cli
from helpers.data import REAL_BOUT, REAL_BOUT_RUNS, REAL_BOUT_TRAIN_ENV, learncurve_kwargs, prep_once, real_bout_config

# Property-based tests draw the same examples on every run (derandomised), so a CI failure
# reproduces locally; VAK_TCN_HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("deterministic", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("VAK_TCN_HYPOTHESIS_PROFILE", "deterministic"))


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


@pytest.fixture(scope="session")
def song_dir(tmp_path_factory) -> pathlib.Path:
    """A small synthetic annotated corpus (WAV + simple-seq CSV): 8 bouts of ~1-1.5 s."""
    from vak_tcn.experiments.corpus import make_corpus

    out = tmp_path_factory.mktemp("song")
    make_corpus(out, n_bouts=8, syllables_per_bout=(10, 14), n_types=4, seed=1)
    return out


@pytest.fixture(scope="session")
def song_learncurve_dataset(tmp_path_factory, song_dir) -> pathlib.Path:
    """``song_dir`` prepared once by stock ``vak prep`` for ``learncurve_kwargs``' runs (one 3-s
    training subset, one replicate). Tests point ``dataset_path`` at it and must not change it."""
    kwargs = learncurve_kwargs(tmp_path_factory.getbasetemp(), song_dir)
    del kwargs["prep_output_dir"], kwargs["results_dir"]
    return prep_once(tmp_path_factory, "song-learncurve", **kwargs)


@pytest.fixture(scope="session")
def song_train_dataset(tmp_path_factory, song_dir) -> pathlib.Path:
    """``song_dir`` prepared once for ``vak train`` (learncurve_kwargs' splits: 4 s train, 2 s val and
    test). Tests point ``dataset_path`` at it; one that deletes or writes files copies it first."""
    return prep_once(
        tmp_path_factory, "song-train", command="train", model="TCN", data_dir=song_dir, labelset="abcd",
        train_dur=4, val_dur=2, test_dur=2,
    )  # fmt: skip


# ---- the real bout: prepared and trained once, shared by test_e2e.py and the tune tests --------


@pytest.fixture(scope="session")
def real_bout_train_dataset(tmp_path_factory) -> pathlib.Path:
    """The real bout prepared once for training (stock vak prep), shared by every model."""
    # vak 1.0 cannot train without a validation split (its early stopping watches val_acc),
    # and one file cannot be split: train on three copies (train, val and test splits)
    from vak_tcn.experiments import configs

    tmp_path = tmp_path_factory.mktemp("real-bout")
    train_data = tmp_path / "train-data"
    train_data.mkdir()
    for name in ("bout_1", "bout_2", "bout_3"):
        shutil.copy(REAL_BOUT / "bout_1.wav", train_data / f"{name}.wav")
        shutil.copy(REAL_BOUT / "bout_1.wav.not.mat", train_data / f"{name}.wav.not.mat")
    cfg = real_bout_config(tmp_path, "train", model="TCN", data_dir=train_data, train_dur=8, val_dur=8, test_dur=8)
    run_cli(["vak", "prep", cfg])
    return configs.dataset_path(cfg)


@pytest.fixture(scope="session")
def real_bout_trained(tmp_path_factory, real_bout_train_dataset):
    """``real_bout_trained(model)``: that model of REAL_BOUT_RUNS trained by stock ``vak train`` for 10
    steps on the real bout (and REAL_BOUT_TRAIN_ENV), once per session: ``{"run_dir", "checkpoint", "log"}``.
    Shared: a test that writes into the results copies them first."""
    runs = {model: (network, loss) for model, network, loss in REAL_BOUT_RUNS}
    trained = {}

    def train(model: str) -> dict:
        if model not in trained:
            network, loss = runs[model]
            tmp = tmp_path_factory.mktemp(f"real-bout-{model}")
            cfg = real_bout_config(
                tmp, "train", model=model, network=network, loss=loss, results_dir=tmp / "results",
                val_step=5, ckpt_step=5, dataset_path=real_bout_train_dataset,
            )  # fmt: skip
            proc = run_cli(["vak", "train", cfg], VAK_TCN_MAX_STEPS=10, **REAL_BOUT_TRAIN_ENV.get(model, {}))
            (run_dir,) = [p for p in (tmp / "results").iterdir() if p.is_dir()]
            checkpoint = run_dir / model / "checkpoints" / "checkpoint.pt"
            trained[model] = dict(run_dir=run_dir, checkpoint=checkpoint, log=proc.stdout + proc.stderr)
        return trained[model]

    return train


# ---- where the time goes: the sum of each test file's set-up, call and tear-down, printed last --------
_FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """Seconds per test file (set-up included: a session fixture counts where it is first used), the
    slowest 25 and the total, so that CI's log says where the time goes without a profiler."""
    if not _FILE_SECONDS:
        return
    total = sum(_FILE_SECONDS.values())
    terminalreporter.write_sep("=", f"seconds by test file (25 slowest of {len(_FILE_SECONDS)}; all: {total:.0f} s)")
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda item: -item[1])[:25]:
        terminalreporter.write_line(f"{seconds:8.1f} s {100 * seconds / total:5.1f} %  {path}")
