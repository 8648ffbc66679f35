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


@pytest.fixture(scope="session")
def song_dir(tmp_path_factory) -> pathlib.Path:
    """A small synthetic annotated corpus (WAV + simple-seq CSV): 8 bouts of ~1-1.5 s."""
    from vak_tcn.experiments.corpus import make_corpus

    out = tmp_path_factory.mktemp("song")
    make_corpus(out, n_bouts=8, syllables_per_bout=(10, 14), n_types=4, seed=1)
    return out


def prep_once(tmp_path_factory, name: str, **kwargs) -> pathlib.Path:
    """One stock ``vak prep`` of a config made of ``configs.vak_config(**kwargs)``; the dataset's path."""
    from vak_tcn.experiments import configs

    tmp = tmp_path_factory.mktemp(name)
    cfg = configs.write_config(configs.vak_config(prep_output_dir=tmp / "prep", **kwargs), tmp / "prep.toml")
    run_cli(["vak", "prep", cfg])
    dataset = configs.dataset_path(cfg)
    assert dataset is not None and dataset.is_dir()  # vak prep wrote the dataset into the config
    return dataset


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

REAL_LABELS = "abcdefghijkn"
SMALL_TCN = {"out_channels": 16, "num_layers": 4}
GS_TMSE = {"tmse_weight": 0.15, "similarity": "gaussian", "sigma": 1.0, "normalize": "none"}
#: every model through every stock command, each with another network / loss variant
REAL_BOUT_RUNS = [
    ("TCN", SMALL_TCN, GS_TMSE),
    ("ConvTCN", {**SMALL_TCN, "causal": False, "conv1_filters": 8, "conv2_filters": 8},
     {"tmse_weight": 0.15, "similarity": "none"}),
    ("TweetyNetPlugin", {"hidden_size": 16, "conv1_filters": 8, "conv2_filters": 8},
     {**GS_TMSE, "normalize": "dim"}),
]  # fmt: skip
#: settings of a model's `vak train` in real_bout_trained, beyond the step cap: ConvTCN's run also proves
#: that a stock run records VAK_TCN_TUNE and VAK_TCN_POST_PROCESSING in its provenance (tests/test_e2e.py).
#: Not the TCN's: the tune tests use the clean-up its training tunes. POST_PROCESSING changes nothing in
#: training (eval and predict, in their own processes, do not inherit it)
REAL_BOUT_TRAIN_ENV = {"ConvTCN": {"VAK_TCN_TUNE": "0", "VAK_TCN_POST_PROCESSING": "config"}}


def real_bout_config(tmp_path: pathlib.Path, command: str, **kwargs) -> pathlib.Path:
    """A stock vak config for the real bout (.not.mat annotation), ``command``'s table."""
    from vak_tcn.experiments import configs

    kwargs = {"data_dir": REAL_BOUT, "prep_output_dir": tmp_path / f"prep-{command}", **kwargs}
    return configs.write_config(
        configs.vak_config(
            command=command, labelset=REAL_LABELS, annot_format="notmat", window_size=176, batch_size=4, **kwargs
        ),
        tmp_path / f"{command}.toml",
    )


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
