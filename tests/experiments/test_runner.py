"""The grid runner's trust in its records: runs keyed by config identity, configs checked before prep."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time

import pandas as pd
import pytest
import tomlkit

from vak_tcn.experiments import configs
from vak_tcn.experiments import runner as grid

from helpers.cli import cli_in_process, console_script, vak_env
from helpers.data import learncurve_kwargs


def config(tmp_path, song_dir, path: pathlib.Path, lr: float = 0.001, **overrides) -> pathlib.Path:
    kwargs = learncurve_kwargs(
        tmp_path,
        song_dir,
        train_set_durs=[2],
        window_size=32,
        batch_size=4,
        val_step=2,
        ckpt_step=2,
        network={"out_channels": 4, "num_layers": 2},
        optimizer={"lr": lr},
    )
    kwargs.update(overrides)
    return configs.write_config(configs.vak_config(**kwargs), path)


def test_finished_record_is_trusted_only_for_the_same_config_content(tmp_path, song_dir):
    cfg = config(tmp_path, song_dir, tmp_path / "TCN.toml")
    run = grid.read_run(cfg)
    results = tmp_path / "results" / "results_1"
    results.mkdir(parents=True)
    grid._mark_done(run, results, started=None)
    assert grid.read_run(cfg).finished() is not None
    doc = tomlkit.parse(cfg.read_text())
    doc["vak"]["learncurve"]["dataset"]["path"] = str(tmp_path)  # what vak prep writes: same run
    cfg.write_text(tomlkit.dumps(doc))
    assert grid.read_run(cfg).finished() is not None
    doc["vak"]["learncurve"]["model"]["TCN"]["optimizer"]["lr"] = 0.1  # edited: a different run
    cfg.write_text(tomlkit.dumps(doc))
    assert grid.read_run(cfg).finished() is None
    other = tmp_path / "other" / "TCN.toml"  # same name and content elsewhere: a different run
    other.parent.mkdir()
    other.write_text(cfg.read_text())
    assert grid.read_run(other).state_file != grid.read_run(cfg).state_file


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"metrics": {"segmentaton": {"tolerance": 0.01}}}, "'segmentaton' (did you mean 'segmentation'?)"),
        ({"network": {"num_layer": 3}}, "'num_layer' (did you mean 'num_layers'?)"),
        ({"loss": {"name": "focall"}}, "no loss registered as 'focall'"),
        ({"model": "TNC"}, "no model registered as 'TNC' (did you mean 'TCN'?)"),
    ],
)
def test_grid_checks_every_config_before_any_prep(tmp_path, song_dir, change, expected, capsys):
    good = config(tmp_path, song_dir, tmp_path / "good.toml")
    bad = config(tmp_path, song_dir, tmp_path / "bad.toml", **change)
    proc = cli_in_process(capsys, "grid", good, bad)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "vak-tcn grid: error: 1 config(s) would fail; nothing was run:"
    assert len(lines) == 2 and str(bad) in lines[1] and expected in lines[1], lines
    assert not (tmp_path / "prep").exists() or not list((tmp_path / "prep").iterdir())  # no vak prep ran


def test_failed_run_reports_the_last_line_of_its_error(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(
        "\n==== 2026-11-25T11:00:00 vak learncurve /x/a.toml\nTraceback (most recent call last):\n  File x\n"
        "vak_tcn.models.family.NonFiniteError: 1 file(s) of the training set have non-finite values: a.wav\n"
        "\n==== 2026-11-25T11:01:00 vak learncurve ended (exit 1)\n"
    )
    assert grid.last_error(log).endswith("non-finite values: a.wav")


def _results_dir(tmp_path, acc: float) -> pathlib.Path:
    """A results directory as vak learncurve leaves it: its config and a one-row learning curve."""
    run = tmp_path / "results" / "results_1"
    run.mkdir(parents=True)
    configs.write_config(
        configs.vak_config(
            command="learncurve", model="TCN", data_dir=tmp_path, prep_output_dir=tmp_path, labelset="a"
        ),
        run / "TCN.toml",
        make_dirs=False,
    )
    pd.DataFrame({"train_dur": [30.0], "replicate_num": [1], "avg_val_acc_epoch": [acc]}).to_csv(
        run / "learning_curve.csv", index=False
    )
    return run


def test_summarize_refuses_nan_results_naming_the_file(tmp_path, capsys):
    run = _results_dir(tmp_path, acc=float("nan"))
    out = tmp_path / "summary.csv"
    out.write_text("previous summary\n")
    proc = cli_in_process(capsys, "summarize", tmp_path / "results", "--out", out)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(run / "learning_curve.csv") in proc.stderr and "avg_val_acc_epoch" in proc.stderr
    assert out.read_text() == "previous summary\n"


def test_summary_write_is_atomic(tmp_path, monkeypatch):
    """A write that fails half-way (full disk) leaves the previous summary whole, and no stray file."""
    from vak_tcn import cli

    _results_dir(tmp_path, acc=0.9)
    out = tmp_path / "summary.csv"
    assert cli.main(["summarize", str(tmp_path / "results"), "--out", str(out)]) == 0
    good = out.read_text()
    real_to_csv = pd.DataFrame.to_csv

    def full_disk(self, path_or_buf=None, **kw):
        part = real_to_csv(self, **kw)[:25]  # part of a row, then the disk is full
        if isinstance(path_or_buf, (str, pathlib.Path)):
            pathlib.Path(path_or_buf).write_text(part)
        else:
            path_or_buf.write(part)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    with pytest.raises(OSError, match="No space"):
        cli.main(["summarize", str(tmp_path / "results"), "--out", str(out)])
    assert out.read_text() == good and sorted(p.name for p in tmp_path.iterdir()) == ["results", "summary.csv"]


def test_plot_refuses_a_truncated_summary_naming_the_file(tmp_path, capsys):
    csv = tmp_path / "summary.csv"
    csv.write_text(
        "Model,Training set size (s),replicate_num,Window Size,Loss,variable,value,Post-processing,Metric\n"
        "TCN,30.0,1,176,CE,frame_error,10.0,False,Frame Error (%)\n"
        "TCN,30.0,1,176,CE,frame_err"  # the disk filled up here
    )
    proc = cli_in_process(capsys, "plot", csv, "--out", tmp_path / "figs")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(csv) in proc.stderr and "line 3" in proc.stderr


def running(pattern: str) -> bool:
    """A process whose command line holds ``pattern`` is running."""
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, timeout=60).returncode == 0


def wait_for(condition, seconds: float) -> bool:
    """Poll ``condition`` until it holds (True) or ``seconds`` pass (False): no fixed sleeps."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _interrupt_grid(tmp_path, cfg, *args) -> subprocess.CompletedProcess:
    """Start `vak-tcn grid`, press Ctrl-C (SIGINT to its process group, as a terminal does) once vak prep runs."""
    proc = subprocess.Popen(
        [console_script("vak-tcn"), "grid", str(cfg), *args],
        env=vak_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as from a terminal: a run started in the background (nohup, `&` in a script) inherits an
        # ignored SIGINT, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Ctrl-C once the run's `vak prep` process exists (the runner starts it as `python -m vak_tcn prep CONFIG`)
    assert wait_for(lambda: running(f"vak_tcn prep {cfg}"), 300), "vak prep never started"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
@pytest.mark.orchestration
def test_ctrl_c_of_grid_is_one_line_and_leaves_nothing_running(tmp_path, song_dir):
    cfg = config(tmp_path, song_dir, tmp_path / "TCN.toml")
    proc = _interrupt_grid(tmp_path, cfg)
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert proc.stderr.strip() == "vak-tcn grid: interrupted; rerun the same command to resume", proc.stderr[-3000:]
    assert wait_for(lambda: not running(str(cfg)), 30)  # no orphan vak process (the grid's children end with it)


@pytest.mark.slow
@pytest.mark.orchestration
def test_ctrl_c_with_a_scheduler_cancels_the_remote_runs_and_says_what_goes_on(tmp_path, song_dir):
    from distributed import Client, LocalCluster

    cfg = config(tmp_path, song_dir, tmp_path / "TCN.toml")
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        proc = _interrupt_grid(tmp_path, cfg, "--scheduler", cluster.scheduler_address)
        assert proc.returncode == 130, proc.stderr[-3000:]
        assert "cancelled the runs queued on the cluster" in proc.stdout + proc.stderr
        assert "goes on until it ends" in proc.stdout + proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == "vak-tcn grid: interrupted; rerun the same command to resume"
        # nothing left queued (the scheduler forgets the cancelled tasks within moments)
        assert wait_for(lambda: client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0, 30)


def test_train_run_killed_mid_training_is_redone_not_adopted(tmp_path):
    """vak train saves checkpoints while it trains: a run killed with its machine (no end line
    in its log) is not taken for finished, whatever checkpoints it left; one that ended is."""
    cfg = configs.write_config(
        configs.vak_config(command="train", model="TCN", data_dir=tmp_path, prep_output_dir=tmp_path, labelset="a"),
        tmp_path / "TCN.toml",
        make_dirs=False,
    )
    run = grid.read_run(cfg)
    results = tmp_path / "results_1"
    (results / "TCN" / "checkpoints").mkdir(parents=True)
    (results / "TCN" / "checkpoints" / "checkpoint.pt").write_bytes(b"saved at step 100 of 1600")
    log = run.state_file.with_suffix(".log")
    log.parent.mkdir(parents=True)
    log.write_text(
        f"\n==== 2026-12-07T19:51:00 vak prep {cfg}\n\n==== 2026-12-07T19:51:30 vak prep ended (exit 0)\n"
        f"\n==== 2026-12-07T19:52:00 vak train {cfg}\nEpoch 0:  40%|####      | 640/1600\n"
    )
    assert not grid._completed(run, results)
    with log.open("a") as fh:  # the rerun's prep ends well, after the killed training
        fh.write(f"\n==== 2026-12-07T20:25:00 vak prep {cfg}\n\n==== 2026-12-07T20:25:10 vak prep ended (exit 0)\n")
    assert not grid._completed(run, results)
    with log.open("a") as fh:  # the rerun's training fails
        fh.write(
            f"\n==== 2026-12-07T20:25:20 vak train {cfg}\n...\n\n==== 2026-12-07T20:26:00 vak train ended (exit 1)\n"
        )
    assert not grid._completed(run, results)
    with log.open("a") as fh:  # and the next one ends well
        fh.write(
            f"\n==== 2026-12-07T20:27:00 vak train {cfg}\n...\n\n==== 2026-12-07T20:45:00 vak train ended (exit 0)\n"
        )
    assert grid._completed(run, results)
    log.unlink()  # no log: no evidence it ended, so it is redone
    assert not grid._completed(run, results)
