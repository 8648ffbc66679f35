"""A trained model named by its results directory: ``vak-tcn predict-config RESULTS_DIR`` writes the stock vak
predict config vak's parser reads, and ``vak-tcn annotate RESULTS_DIR`` (``live``) writes what ``annotate`` of
that config writes; ``--run`` picks one of learncurve's replicates, ``--checkpoint`` one checkpoint; mistakes
are one line.  A fake results directory (tests.helpers.inference.make_results_dir: untrained seeded weights,
no training)."""

from __future__ import annotations

import json
import pathlib
import tomllib

import pytest

from helpers.cli import cli_in_process
from helpers.data import REAL_BOUT
from helpers.inference import make_results_dir

NETWORK = {"out_channels": 8, "num_layers": 3, "causal": True}  # causal: live takes it too
AUDIO = REAL_BOUT / "bout_1.wav"
POST_TFM = {"majority_vote": True, "min_segment_dur": 0.01}
TUNED = {"min_segment_dur": 0.005, "min_gap_dur": 0.004, "majority_vote": True}


@pytest.fixture
def learncurve(tmp_path) -> pathlib.Path:
    """A learncurve results directory of two replicates (different weights), its config's post_tfm_kwargs."""
    return make_results_dir(tmp_path / "made", network=NETWORK, replicates=2, post_tfm_kwargs=POST_TFM)


def annotations(folder: pathlib.Path) -> dict[str, str]:
    """Each annotation file's text, its own path (a column of generic-seq) left out."""
    return {p.name: p.read_text().replace(str(folder), "OUT") for p in sorted(folder.glob("*.annot.csv"))}


@pytest.mark.parametrize("tuned", [False, True], ids=["post_tfm_kwargs", "tuned"])
def test_annotate_results_dir_is_annotate_of_the_config_predict_config_writes(learncurve, tmp_path, capsys, tuned):
    from vak_tcn.plugins import vak_compat
    from vak_tcn.plugins.manager import load_plugins

    chosen = learncurve / "train_dur_4s" / "replicate_2" / "TCN" / "checkpoints" / "checkpoint.pt"
    if tuned:
        (chosen.parent / "postprocess.json").write_text(json.dumps({"best": TUNED}))
    config = tmp_path / "predict.toml"
    args = ("--run", "replicate_2", "--output-dir", tmp_path / "vak-out", "--data-dir", REAL_BOUT)
    proc = cli_in_process(capsys, "predict-config", learncurve, *args, "--out", config)
    assert proc.returncode == 0, proc.stderr
    assert f"checkpoint: {chosen} (the only checkpoint; rule: --checkpoint NAME" in proc.stderr
    # stock vak's parser reads it; it names the run's files and the clean-up the run reports
    load_plugins()
    predict = vak_compat.load_config(config, unprepped_ok=True).predict
    assert predict.checkpoint_path == chosen and predict.labelmap_path == chosen.parents[2] / "labelmap.json"
    assert predict.frames_standardizer_path == chosen.parents[2] / "FramesStandardizer"
    assert predict.model.name == "TCN" and predict.model.network == NETWORK
    assert predict.output_dir == tmp_path / "vak-out"
    assert (predict.majority_vote, predict.min_segment_dur) == ((False, None) if tuned else (True, 0.01))
    assert tomllib.loads(config.read_text())["vak"]["prep"]["data_dir"] == str(REAL_BOUT)
    # annotate of the config = annotate of the results directory
    proc = cli_in_process(capsys, "annotate", config, AUDIO, "--out", tmp_path / "from-config")
    assert proc.returncode == 0, proc.stderr
    cleanup_line = [line for line in proc.stdout.splitlines() if line.startswith("clean-up:")]
    proc = cli_in_process(capsys, "annotate", learncurve, AUDIO, "--run", "replicate_2", "--out", tmp_path / "from-dir")
    assert proc.returncode == 0, proc.stderr
    assert f"checkpoint: {chosen} (" in proc.stdout
    expected = "min_gap_dur=0.004 s, min_segment_dur=0.005 s" if tuned else "min_gap_dur=0 s, min_segment_dur=0.01 s"
    assert cleanup_line[0].startswith(f"clean-up: {expected}") and f"clean-up: {expected}" in proc.stdout
    written = annotations(tmp_path / "from-dir")
    assert written and written == annotations(tmp_path / "from-config")
    record = json.loads(next((tmp_path / "from-dir").glob("*.annotate.json")).read_text())
    assert str(chosen) in json.dumps(record)
    # --no-post-processing still turns it off
    proc = cli_in_process(
        capsys, "annotate", learncurve, AUDIO, "--run", "replicate_2", "--no-post-processing", "--out", tmp_path / "raw"
    )
    assert proc.returncode == 0 and "clean-up: none" in proc.stdout


def test_run_picks_one_replicate_and_checkpoint_one_file(learncurve, tmp_path, capsys):
    """Each replicate's own weights: its annotations are those of its own predict config."""
    first = learncurve / "train_dur_4s" / "replicate_1" / "TCN" / "checkpoints"
    (first / "max-val-acc-checkpoint.pt").write_bytes((first / "checkpoint.pt").read_bytes())
    proc = cli_in_process(capsys, "predict-config", learncurve, "--run", "replicate_1")
    assert proc.returncode == 0, proc.stderr
    doc = tomllib.loads(proc.stdout)  # stdout by default
    assert doc["vak"]["predict"]["checkpoint_path"] == str(first / "max-val-acc-checkpoint.pt")
    assert "(the max-val-acc checkpoint; rule:" in proc.stderr
    proc = cli_in_process(capsys, "predict-config", learncurve, "--run", "replicate_1", "--checkpoint", "checkpoint.pt")
    assert tomllib.loads(proc.stdout)["vak"]["predict"]["checkpoint_path"] == str(first / "checkpoint.pt")
    assert "(--checkpoint; rule:" in proc.stderr
    out = {}
    for run in ("replicate_1", "replicate_2"):
        proc = cli_in_process(capsys, "annotate", learncurve, AUDIO, "--run", run, "--out", tmp_path / run)
        assert proc.returncode == 0, proc.stderr
        out[run] = annotations(tmp_path / run)
    assert out["replicate_1"] != out["replicate_2"]  # two models, not one


def one_line_error(proc, command: str, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vak-tcn {command}: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    "command, extra",
    [
        ("predict-config", ()),
        ("annotate", (AUDIO,)),
        ("live", ("--simulate", AUDIO, "--speed", "0")),
        ("report", ("--out", "REPORT")),
    ],
)
def test_results_dir_mistakes_are_one_line(learncurve, tmp_path, capsys, command, extra):
    extra = [tmp_path / "report" if a == "REPORT" else a for a in extra]
    proc = cli_in_process(capsys, command, learncurve, *extra)
    one_line_error(proc, command, "holds 2 trained models: choose one with --run (e.g. --run train_dur_4s/replicate_2")
    proc = cli_in_process(capsys, command, learncurve, *extra, "--run", "replicate_9")
    one_line_error(proc, command, "--run 'replicate_9': no checkpoint(s)", "train_dur_4s/replicate_1/TCN/checkpoints/")
    proc = cli_in_process(capsys, command, learncurve, *extra, "--run", "replicate_1", "--checkpoint", "nope.pt")
    one_line_error(proc, command, "no checkpoint (nope.pt) under")
    empty = tmp_path / "empty"
    (empty / "TCN" / "checkpoints").mkdir(parents=True)
    proc = cli_in_process(capsys, command, empty, *extra)
    if command != "report":  # report takes a folder without checkpoints for one of annotations
        one_line_error(proc, command, "no checkpoint (*.pt) under")


def test_run_and_checkpoint_need_a_results_directory(learncurve, tmp_path, capsys):
    config = tmp_path / "predict.toml"
    assert cli_in_process(capsys, "predict-config", learncurve, "--run", "replicate_1", "--out", config).returncode == 0
    for command, extra in (("annotate", (AUDIO,)), ("live", ("--simulate", AUDIO))):
        proc = cli_in_process(capsys, command, config, *extra, "--run", "replicate_1")
        one_line_error(proc, command, "--run chooses a trained model of a results directory")
    proc = cli_in_process(capsys, "predict-config", learncurve, "--run", "replicate_1", "--out", config)
    one_line_error(proc, "predict-config", f"--out {config} exists: not overwritten")


def test_live_results_dir_is_live_of_its_predict_config(learncurve, tmp_path, capsys):
    """The same events and annotation, the clean-up (auto) of the config included."""
    config = tmp_path / "predict.toml"
    assert cli_in_process(capsys, "predict-config", learncurve, "--run", "replicate_2", "--out", config).returncode == 0
    events = {}
    for name, source in (("config", [config]), ("dir", [learncurve, "--run", "replicate_2"])):
        proc = cli_in_process(
            capsys, "live", *source, "--simulate", AUDIO, "--speed", "0", "--post-processing", "auto",
            "--annot-out", tmp_path / f"{name}.csv",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        events[name] = proc.stdout
    assert "checkpoint: " in proc.stderr and "replicate_2" in proc.stderr
    assert events["dir"] == events["config"] and events["dir"].strip()
    written = {name: (tmp_path / f"{name}.csv").read_text().replace(f"{name}.csv", "") for name in events}
    assert written["dir"] == written["config"]
