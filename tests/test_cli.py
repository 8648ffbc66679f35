"""User mistakes at the ``vak-tcn`` command line: one line that names the problem, exit status 2.

The commands run in-process (``vak_tcn.cli.main``), not as the console script: a fresh interpreter
importing torch and vak per case proves nothing more here (the installed script itself is run by
the end-to-end tests).  An exception escaping ``main`` fails the test, so "no traceback" still holds.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from vak_tcn.experiments import configs

from helpers.cli import LEAKY_VARIABLES, cli_in_process


@pytest.fixture
def vak_tcn(capsys, monkeypatch):
    """``vak_tcn(*args)``: run ``vak-tcn ARGS`` in-process; its exit status and what it printed."""

    def run(*args) -> subprocess.CompletedProcess:
        for key in [k for k in os.environ if k.startswith(LEAKY_VARIABLES)]:
            monkeypatch.delenv(key)  # as the console script got them: none of the caller's
        return cli_in_process(capsys, *args)

    return run


def one_line_error(proc: subprocess.CompletedProcess, *expected: str, status: int = 2) -> str:
    """The command failed with ``status`` and one line on stderr holding every ``expected`` text."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == status and len(lines) == 1, (proc.returncode, proc.stderr[-3000:])
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def small_config(tmp_path, command="train", **overrides):
    kwargs = dict(
        command=command,
        model="TCN",
        data_dir=tmp_path,
        prep_output_dir=tmp_path / "prep",
        results_dir=tmp_path / "results",
        labelset="abc",
        train_dur=4,
        val_dur=2,
        network={"out_channels": 8, "num_layers": 2},
    )
    kwargs.update(overrides)
    return configs.write_config(configs.vak_config(**kwargs), tmp_path / f"{command}.toml")


def test_vak_command_with_bad_config_key_is_one_line(vak_tcn, tmp_path):
    cfg = small_config(tmp_path, dataset_path=tmp_path)
    text = cfg.read_text().replace("[vak.train]\n", "[vak.train]\nnum_epoch = 3\n")
    cfg.write_text(text)
    one_line_error(vak_tcn("train", cfg), "vak-tcn train: error:", str(cfg), "num_epoch")


def test_vak_command_with_misspelt_metric_table_is_one_line(vak_tcn, tmp_path):
    cfg = small_config(tmp_path, dataset_path=tmp_path, metrics={"segmentaton": {"tolerance": 0.01}})
    one_line_error(vak_tcn("train", cfg), "segmentaton", "did you mean 'segmentation'")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--windows", "0"], "--windows"),
        (["--repeats", "0"], "--repeats"),
        (["--batch", "0"], "--batch"),
        (["--warmup", "-1"], "--warmup"),
        (["--device", "tpu"], "--device"),  # gpu is cuda's other name (issue 39): no longer a mistake
    ],
)
def test_bench_rejects_options_that_measure_nothing(vak_tcn, tmp_path, args, expected):
    one_line_error(vak_tcn("bench", "--out", tmp_path / "b", *args), "vak-tcn bench: error:", expected)
    assert not (tmp_path / "b").exists()


def test_bench_on_cuda_without_a_gpu_is_one_line(vak_tcn, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    one_line_error(vak_tcn("bench", "--device", "cuda", "--out", tmp_path), "--device cuda", "no CUDA GPU")


def test_grid_max_steps_zero_is_rejected(vak_tcn, tmp_path):
    proc = vak_tcn("grid", tmp_path / "x.toml", "--max-steps", "0")
    assert proc.returncode == 2 and "--max-steps: must be a positive integer, got '0'" in proc.stderr


@pytest.mark.parametrize("content", ["", "Model,value\nTCN,1\n", "\x00\x01binary"])
def test_grid_on_a_file_that_is_not_a_config_names_it(vak_tcn, tmp_path, content):
    bad = tmp_path / "notes.csv"
    bad.write_text(content)
    one_line_error(vak_tcn("grid", bad), "vak-tcn grid: error:", str(bad))


@pytest.mark.parametrize("content", ["", "\x00\x01\x02", 'just some words\nwith a quote "\n'])
def test_plot_on_an_empty_or_non_csv_file_names_it(vak_tcn, tmp_path, content):
    bad = tmp_path / "summary.csv"
    bad.write_text(content)
    one_line_error(vak_tcn("plot", bad, "--out", tmp_path / "figs"), "vak-tcn plot: error:", str(bad))
    assert not (tmp_path / "figs").exists() or not list((tmp_path / "figs").iterdir())


def test_unreachable_scheduler_is_one_line_quickly(vak_tcn, tmp_path):
    cfg = small_config(tmp_path, command="learncurve", train_set_durs=[2], num_replicates=1, test_dur=1)
    started = time.time()
    proc = vak_tcn("grid", cfg, "--scheduler", "tcp://127.0.0.1:9")
    one_line_error(proc, "cannot reach the dask scheduler at tcp://127.0.0.1:9")
    assert time.time() - started < 60
