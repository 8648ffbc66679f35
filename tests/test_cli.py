"""User mistakes at the ``vak-tcn`` command line: one line that names the problem, exit status 2.

The commands run in-process (``vak_tcn.cli.main``), not as the console script: a fresh interpreter
importing torch and vak per case proves nothing more here (the installed script itself is run by
the end-to-end tests).  An exception escaping ``main`` fails the test, so "no traceback" still holds.
"""

from __future__ import annotations

import os
import pathlib
import re
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
        (["--accelerator", "tpu"], "--accelerator"),  # gpu is cuda's other name (issue 39): no longer a mistake
    ],
)
def test_bench_rejects_options_that_measure_nothing(vak_tcn, tmp_path, args, expected):
    one_line_error(vak_tcn("bench", "--out", tmp_path / "b", *args), "vak-tcn bench: error:", expected)
    assert not (tmp_path / "b").exists()


def test_bench_on_cuda_without_a_gpu_is_one_line(vak_tcn, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    one_line_error(vak_tcn("bench", "--accelerator", "cuda", "--out", tmp_path), "--accelerator cuda", "no CUDA GPU")


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


# ---- issue 39: every mistake on the path from recordings to annotations is one line naming the fix
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "configs"


def toml_blocks(page: pathlib.Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", page.read_text(), re.S)


def test_docs_annotate_predict_config_loads_with_vaks_parser(tmp_path):
    """docs/annotate.md's predict config, as written: vak's parser takes it (it failed three times in a row:
    PrepConfig's dataset_type/input_type, audio_format, the trainer table), and its model builds."""
    from vak_tcn.plugins import vak_compat
    from vak_tcn.plugins.manager import load_plugins

    (block,) = [b for b in toml_blocks(DOCS / "annotate.md") if "[vak.predict]" in b]
    config = tmp_path / "predict.toml"
    config.write_text(block)
    load_plugins()
    cfg = vak_compat.load_config(config, unprepped_ok=True)
    assert cfg.predict.model.name == "TCN" and cfg.prep.audio_format == "wav"
    vak_compat.check_config(config, placeholder_dataset=True)


#: the predict config docs/annotate.md showed before, and its next two states as a user mended it
OLD_PREDICT_CONFIG = """[vak.prep]
data_dir = "recordings"
output_dir = "prep"
[vak.prep.spect_params]
fft_size = 512
step_size = 64
[vak.predict]
checkpoint_path = "checkpoint.pt"
labelmap_path = "labelmap.json"
frames_standardizer_path = "FramesStandardizer"
[vak.predict.dataset.params]
window_size = 176
[vak.predict.model.TCN.network]
num_layers = 8
"""


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            "",
            ["[vak.prep] lacks the required key(s) dataset_type, input_type", 'dataset_type = "frame classification"'],
        ),
        (
            'output_dir = "prep"\ndataset_type = "frame classification"\ninput_type = "spect"',
            ["[vak.prep] gives neither audio_format nor spect_format", 'add audio_format = "wav"'],
        ),
        (
            'output_dir = "prep"\ndataset_type = "frame classification"\ninput_type = "spect"\naudio_format = "wav"',
            ["[vak.predict] lacks the required key(s) trainer", "[vak.predict.trainer]", "accelerator"],
        ),
    ],
    ids=["prep-dataset-type", "prep-audio-format", "predict-trainer"],
)
def test_annotate_with_the_old_docs_predict_config_names_the_table_and_key(vak_tcn, tmp_path, edit, expected):
    """Each of the three failures of docs/annotate.md's old predict config (a 26-line traceback, a
    message naming no table, a KeyError traceback): one line naming the table, the key and what to write."""
    config = tmp_path / "predict.toml"
    config.write_text(OLD_PREDICT_CONFIG.replace('output_dir = "prep"', edit) if edit else OLD_PREDICT_CONFIG)
    (tmp_path / "recordings").mkdir()
    one_line_error(vak_tcn("annotate", config, tmp_path / "recordings", "--out", tmp_path / "o"), *expected)
    assert not (tmp_path / "o").exists()


def test_annotate_with_a_learncurve_config_says_it_takes_a_predict_config_or_a_results_dir(vak_tcn, tmp_path):
    """configs/TCN.toml (a learncurve config) given to annotate: a 29-line traceback (DatasetConfig
    missing 'path'); now one line, before vak is imported, naming what annotate takes."""
    config = tmp_path / "TCN.toml"
    config.write_text((CONFIGS / "TCN.toml").read_text())
    one_line_error(
        vak_tcn("annotate", config, tmp_path, "--out", tmp_path / "o"),
        "has no [vak.predict] table (it is a learncurve config)",
        "predict config or a results directory",
        "vak-tcn predict-config RESULTS_DIR",
    )


@pytest.mark.parametrize("command", ["learncurve", "train"])
def test_learncurve_or_train_before_vak_prep_says_run_vak_prep_first(vak_tcn, tmp_path, command):
    """The config's dataset has no path yet (vak prep writes it): was vak's `DatasetConfig ... missing
    'path'`; now one line naming the table and the command to run."""
    config = small_config(tmp_path, command=command)
    one_line_error(
        vak_tcn(command, config), f"[vak.{command}.dataset] has no path yet", f"run `vak prep {config}` first"
    )


def test_train_on_a_learncurve_config_names_the_table_it_needs(vak_tcn, tmp_path):
    config = small_config(tmp_path, command="learncurve")
    one_line_error(vak_tcn("train", config), "has no [vak.train] table (it is a learncurve config)")


def test_prep_with_a_data_dir_that_does_not_exist_names_data_dir_and_the_path(vak_tcn, tmp_path):
    """vak prep's NotADirectoryError traceback (22 lines): now one line naming data_dir and the fix."""
    missing = tmp_path / "no-such-folder"
    config = small_config(tmp_path, command="train", data_dir=missing)
    one_line_error(vak_tcn("prep", config), "[vak.prep] data_dir", str(missing), "not found", "set data_dir")


def test_learncurve_config_turned_into_train_names_the_key_to_delete(vak_tcn, tmp_path):
    """docs/config.md's "replace learncurve with train" on configs/TCN.toml: post_tfm_kwargs is not a
    train key.  The error names the key and the fix; the doc's instruction, followed, gives a config
    vak takes."""
    from vak_tcn.plugins import vak_compat

    text = (CONFIGS / "TCN.toml").read_text().replace("learncurve", "train")
    config = tmp_path / "train.toml"
    config.write_text(text)
    one_line_error(vak_tcn("prep", config), "[vak.train]: post_tfm_kwargs is not a train key", "delete it")
    page = (DOCS / "config.md").read_text()
    (instruction,) = re.findall(r"For `train`,\s+delete\s+([^.]*)\.", page)
    keys = re.findall(r"`(\w+)`", instruction)
    assert "post_tfm_kwargs" in keys, instruction
    config.write_text("\n".join(line for line in text.splitlines() if line.split("=")[0].strip() not in keys))
    vak_compat.check_config(config, placeholder_dataset=True)
