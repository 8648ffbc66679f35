"""End to end through the stock vak CLI, as a user runs it.

``vak prep`` and ``vak learncurve``/``train``/``eval``/``predict`` run as
subprocesses (the installed console scripts); vak finds the plugin models
through the start-up hook alone.  Training is bounded by steps
(``VAK_TCN_MAX_STEPS``), not epochs.
"""

from __future__ import annotations

import json
import math
import pathlib
import shutil
import subprocess

import crowsetta
import numpy as np
import pandas as pd
import pytest

from vak_tcn.experiments import configs
from vak_tcn.plugins import vak_compat

from helpers.cli import console_script, run_cli, vak_env
from helpers.data import (
    GS_TMSE,
    REAL_BOUT,
    REAL_BOUT_RUNS,
    REAL_BOUT_TRAIN_ENV,
    REAL_LABELS,
    SMALL_TCN,
    learncurve_kwargs,
    real_bout_config,
)

pytestmark = pytest.mark.slow

F1_COLUMNS = [
    "f1_10",
    "f1_25",
    "f1_50",
    "f1_10_macro",
    "f1_25_macro",
    "f1_50_macro",
]  # pooled (MS-TCN's), per-file mean
SEGMENT_COLUMNS = ["precision", "recall", "fscore", "rvalue", "overseg", "edit", *F1_COLUMNS]


def learncurve_config(tmp_path: pathlib.Path, song_dir: pathlib.Path, model: str, **overrides) -> pathlib.Path:
    kwargs = learncurve_kwargs(tmp_path, song_dir, model=model, **overrides)
    return configs.write_config(configs.vak_config(**kwargs), tmp_path / f"{model}.toml")


def read_learning_curve(results: pathlib.Path) -> pd.DataFrame:
    csvs = sorted(results.glob("**/learning_curve.csv"))
    assert len(csvs) == 1, csvs
    return pd.read_csv(csvs[0])


RF_WARNING = "receptive field ({rf} frames) exceeds the training window (64 frames)"


@pytest.mark.parametrize("model, num_layers, rf", [("TCN", 4, 31), ("ConvTCN", 6, 135)])
def test_stock_vak_learncurve_with_plugin_model_and_gs_tmse(
    tmp_path, song_dir, song_learncurve_dataset, model, num_layers, rf
):
    cfg = learncurve_config(
        tmp_path, song_dir, model, network={**SMALL_TCN, "num_layers": num_layers}, loss=GS_TMSE,
        dataset_path=song_learncurve_dataset,  # stock vak prep, run once for both models
    )  # fmt: skip
    proc = run_cli(["vak", "learncurve", cfg], VAK_TCN_MAX_STEPS=20)
    # window 64: the ConvTCN's receptive field (135 frames) does not fit, the TCN's (31) does
    logged = proc.stdout + proc.stderr
    assert (RF_WARNING.format(rf=rf) in logged) == (rf > 64), logged[-3000:]
    if rf > 64:  # also in vak's own log file, which vak writes into the results directory
        (log,) = (tmp_path / "results").glob("*/*.log")
        assert RF_WARNING.format(rf=rf) in log.read_text()
    df = read_learning_curve(tmp_path / "results")
    assert len(df) == 1
    for metric in ["acc", "loss", "levenshtein", "character_error_rate", *SEGMENT_COLUMNS]:
        for suffix in ("", "_tfm") if metric != "loss" else ("",):
            column = f"avg_val_{metric}{suffix}_epoch"
            assert column in df.columns, (column, list(df.columns))
            assert np.isfinite(df[column]).all(), (column, df[column])
    # one unit in the file: fractions, vak's, for vak's columns and vak-tcn's alike
    for metric in ["acc", "precision", "recall", "fscore", "edit", *F1_COLUMNS]:
        for suffix in ("", "_tfm", "_fixed", "_tuned"):
            assert 0.0 <= df[f"avg_val_{metric}{suffix}_epoch"].iloc[0] <= 1.0, metric
    # the clean-up was tuned on the replicate's validation split when training ended, and the test
    # split's _tfm columns report it; the config's fixed clean-up is under _fixed
    (tuned,) = (tmp_path / "results").rglob(f"replicate_1/{model}/checkpoints/postprocess.json")
    assert json.loads(tuned.read_text())["split"] == "val"
    for metric in ["acc", "character_error_rate", "fscore"]:
        row = df.iloc[0]
        assert row[f"avg_val_{metric}_tfm_epoch"] == row[f"avg_val_{metric}_tuned_epoch"], metric


def test_stock_tweetynet_unchanged_by_plugin(tmp_path, song_dir):
    """Installing vak-tcn changes nothing for vak's own models: same seed, same numbers."""
    small = {"hidden_size": 16, "conv1_filters": 8, "conv2_filters": 8}  # vak's network table: a small TweetyNet
    prep_cfg = learncurve_config(tmp_path, song_dir, "TweetyNet", train_set_durs=[1])
    run_cli(["vak", "prep", prep_cfg], VAK_TCN_DISABLE=1)
    dataset = configs.dataset_path(prep_cfg)
    # seed everything, then the stock CLI, exactly as `vak learncurve` runs it
    seeded = (
        "import sys, lightning, vak.models; lightning.seed_everything(0, workers=True);"
        "print('models:', sorted(vak.models.registry.MODEL_NAMES));"
        "from vak.__main__ import main; sys.argv = ['vak', 'learncurve', sys.argv[1]]; main()"
    )
    results = {}
    for disabled in ("1", "0"):
        run_dir = tmp_path / f"disabled{disabled}"
        cfg = learncurve_config(run_dir, song_dir, "TweetyNet", train_set_durs=[1], dataset_path=dataset, network=small)
        proc = run_cli(["python", "-c", seeded, cfg], VAK_TCN_DISABLE=disabled)
        # the comparison means something only if the plugins were loaded in one run and not the other
        (models,) = [line for line in proc.stdout.splitlines() if line.startswith("models:")]
        assert ("'TCN'" in models) == (disabled == "0"), models
        results[disabled] = read_learning_curve(run_dir / "results")
    with_plugin, without = results["0"], results["1"]
    assert list(with_plugin.columns) == list(without.columns)
    metric_columns = [c for c in without.columns if c.startswith("avg_")]  # paths differ, numbers must not
    assert "avg_val_acc_epoch" in metric_columns
    pd.testing.assert_frame_equal(with_plugin[metric_columns], without[metric_columns], check_exact=True)


TINY_NET = """
from vak_tcn.nn.tcn import FrameClassifier


class TinyNet(FrameClassifier):
    \"\"\"A throwaway network: spectrogram columns -> the shared TCN head.\"\"\"

    def __init__(self, num_classes, num_input_channels=1, num_freqbins=256, out_channels=8, num_layers=7,
                 kernel_size=2, dropout=0.0, causal=True):
        super().__init__()
        self._build_head(num_input_channels * num_freqbins, num_classes, out_channels, num_layers, kernel_size, dropout, causal)

    def features(self, x):
        return x.flatten(1, 2)
"""

# the one catalogue line, added before vak is imported; then the stock vak CLI
WITH_TINY_NET = (
    "import sys; from vak_tcn.models import catalogue;"
    "catalogue.MODELS += (catalogue.ModelEntry('TinyNet', 'tiny_net:TinyNet', 'a throwaway network'),);"
    "from vak.__main__ import main; sys.argv = ['vak', *sys.argv[1:]]; main()"
)


def test_a_new_network_is_one_file_plus_one_catalogue_line(tmp_path, song_dir, song_train_dataset):
    """docs/development.md's recipe: the network's file + its catalogue line, then stock `vak train`."""
    import os

    import torch

    site = tmp_path / "site"
    site.mkdir()
    (site / "tiny_net.py").write_text(TINY_NET)
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    cfg = learncurve_config(
        tmp_path,
        song_dir,
        "TinyNet",
        command="train",
        train_set_durs=None,
        num_replicates=None,
        val_step=3,
        ckpt_step=3,
        dataset_path=song_train_dataset,  # prepared by stock vak prep; prep knows no model
    )
    proc = run_cli(["python", "-c", WITH_TINY_NET, "train", cfg], PYTHONPATH=pythonpath, VAK_TCN_MAX_STEPS=6)
    assert RF_WARNING.format(rf=255) in proc.stdout + proc.stderr  # 7 layers, window 64
    (ckpt,) = (tmp_path / "results").glob("*/TinyNet/checkpoints/checkpoint.pt")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert state["global_step"] == 6  # trained, and stopped at the cap (checkpointed every 3 steps)
    assert any(key.startswith("network.tcn.") for key in state["state_dict"])


def test_vak_rejects_unregistered_model_listing_plugin_models(tmp_path, song_dir):
    import subprocess

    from helpers.cli import console_script, vak_env

    cfg = learncurve_config(tmp_path, song_dir, "NotAModel", dataset_path=tmp_path)
    proc = subprocess.run(
        [console_script("vak"), "learncurve", str(cfg)], capture_output=True, text=True, env=vak_env(), timeout=300
    )
    assert proc.returncode != 0
    assert "NotAModel" in proc.stderr and "'TCN'" in proc.stderr and "'ConvTCN'" in proc.stderr


@pytest.fixture(scope="module")
def real_bout_eval_and_predict_datasets(tmp_path_factory) -> dict[str, pathlib.Path]:
    """The real bout prepared once for ``vak eval`` and once for ``vak predict`` (what vak prep makes
    depends on the data, labels and spectrogram settings, not on the model), shared by the models."""
    tmp_path = tmp_path_factory.mktemp("real-bout-eval-predict")
    datasets = {}
    for command in ("eval", "predict"):
        cfg = real_bout_config(tmp_path, command, model="TCN", output_dir=tmp_path / command)
        run_cli(["vak", "prep", cfg])
        datasets[command] = configs.dataset_path(cfg)
    return datasets


@pytest.mark.parametrize("model, network, loss", REAL_BOUT_RUNS, ids=[r[0] for r in REAL_BOUT_RUNS])
def test_real_bout_train_eval_predict(
    tmp_path, real_bout_trained, real_bout_eval_and_predict_datasets, model, network, loss
):
    """One real Bengalese finch bout (.not.mat annotation): train a few steps, eval, predict."""
    common = dict(model=model, network=network, loss=loss)
    trained = real_bout_trained(model)  # stock vak train, 10 steps (shared with the tune tests)
    assert "VAK_TCN_MAX_STEPS=10: training stops after 10 optimizer steps" in trained["log"]
    run_dir, ckpt = trained["run_dir"], trained["checkpoint"]
    assert ckpt.exists(), sorted(run_dir.rglob("*"))
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert state["global_step"] == 10  # the cap, checkpointed
    # the stock run's provenance keeps every recorded setting as given (ConvTCN's run sets two more)
    from vak_tcn import settings
    from vak_tcn.models import provenance

    environment = provenance.read(run_dir / provenance.FILENAME)[settings.PROVENANCE_FIELD]
    given = {"VAK_TCN_MAX_STEPS": "10", "VAK_TCN_TUNE": None, "VAK_TCN_POST_PROCESSING": None}
    given.update(REAL_BOUT_TRAIN_ENV.get(model, {}))
    assert {k: environment[k] for k in given} == given
    assert set(environment) == {s.env for s in settings.DECLARED if s.recorded}
    if given["VAK_TCN_TUNE"] == "0":  # and the setting was obeyed
        assert not list(run_dir.rglob("postprocess.json")) and "clean-up tuned on" not in trained["log"]
    if model != "TweetyNetPlugin":
        assert any(".tcn.0.conv1." in key for key in state["state_dict"])
    artifacts = dict(labelmap_path=run_dir / "labelmap.json", frames_standardizer_path=run_dir / "FramesStandardizer")

    eval_cfg = real_bout_config(
        tmp_path, "eval", output_dir=tmp_path / "eval", checkpoint_path=ckpt,
        dataset_path=real_bout_eval_and_predict_datasets["eval"], **artifacts, **common,
    )  # fmt: skip
    run_cli(["vak", "eval", eval_cfg])
    (eval_csv,) = (tmp_path / "eval").glob(f"eval_{model}_*.csv")
    row = pd.read_csv(eval_csv).iloc[0]
    assert row["model_name"] == model and pathlib.Path(row["checkpoint_path"]) == ckpt
    for metric in ["acc", "character_error_rate", "precision", "recall", "fscore", "f1_50"]:
        for suffix in ("", "_tfm"):
            value = row[f"avg_val_{metric}{suffix}_epoch"]
            assert math.isfinite(value) and value >= 0, (metric, suffix, value)
    assert 0 <= row["avg_val_acc_epoch"] <= 1 and 0 <= row["avg_val_precision_epoch"] <= 1

    # 10 steps may teach a model no more than "everything is background"; vak 1.1 then writes an
    # empty table that crowsetta cannot read. The round trip below is about vak predict's output,
    # not the model's skill, so predict runs on a copy whose background class is switched off
    # (its output bias lowered): the trained weights then choose among the syllables
    labelmap = json.loads(artifacts["labelmap_path"].read_text())
    state["state_dict"]["network.fc.bias"][labelmap[vak_compat.background_label()]] -= 1e4
    no_background = tmp_path / "no-background.pt"
    torch.save(state, no_background)
    predict_cfg = real_bout_config(
        tmp_path, "predict", output_dir=tmp_path / "predict", annot_csv_filename="bout_1.annot.csv",
        checkpoint_path=no_background, dataset_path=real_bout_eval_and_predict_datasets["predict"], **artifacts,
        **common,
    )  # fmt: skip
    run_cli(["vak", "predict", predict_cfg])
    annot_csv = tmp_path / "predict" / "bout_1.annot.csv"
    assert annot_csv.exists(), sorted((tmp_path / "predict").rglob("*"))
    annots = crowsetta.Transcriber(format="generic-seq").from_file(annot_csv).to_annot()
    annots = annots if isinstance(annots, list) else [annots]
    assert len(annots) == 1 and pathlib.Path(annots[0].notated_path).name.startswith("bout_1.wav")
    seq = annots[0].seq
    assert len(seq.labels) >= 1  # the round trip has segments to carry, on every vak version
    assert np.all(np.diff(seq.onsets_s) >= 0) and np.all(seq.offsets_s > seq.onsets_s)
    assert seq.offsets_s.max(initial=0) <= 8.6  # the bout is 8.5 s long
    assert set(seq.labels) <= set(REAL_LABELS)


def test_silent_audio_stops_training_naming_the_file(tmp_path):
    """A silent file gives NaN spectrograms (vak's log_spect divides by its peak power, 0): the run
    must stop with the file named, not train to NaN and exit 0 with plausible-looking results."""
    import soundfile

    data = tmp_path / "data"
    data.mkdir()
    for name in ("bout_1", "bout_2", "silent_bout"):  # one file per split, whichever split gets the silent one
        shutil.copy(REAL_BOUT / "bout_1.wav.not.mat", data / f"{name}.wav.not.mat")
        shutil.copy(REAL_BOUT / "bout_1.wav", data / f"{name}.wav")
    audio, rate = soundfile.read(data / "silent_bout.wav", dtype="int16")
    soundfile.write(data / "silent_bout.wav", np.zeros_like(audio), rate)
    cfg = configs.write_config(
        configs.vak_config(
            **learncurve_kwargs(
                tmp_path,
                data,
                labelset=REAL_LABELS,
                annot_format="notmat",
                train_dur=8,
                val_dur=8,
                test_dur=8,
                train_set_durs=[8],
                window_size=176,
                batch_size=4,
                val_step=2,
                ckpt_step=2,
                network=SMALL_TCN,
            )
        ),
        tmp_path / "learncurve.toml",
    )
    run_cli(["vak", "prep", cfg])
    for command in ("vak", "vak-tcn"):
        proc = subprocess.run(
            [console_script(command), "learncurve", str(cfg)],
            capture_output=True,
            text=True,
            env=vak_env(VAK_TCN_MAX_STEPS=2),
            timeout=900,
        )
        assert proc.returncode != 0, proc.stderr[-3000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert "silent_bout.wav" in last and "non-finite" in last and "silent audio" in last, proc.stderr[-3000:]
        if command == "vak-tcn":  # the wrapper: that one line, no traceback
            assert last.startswith("vak-tcn learncurve: error:") and "Traceback" not in proc.stderr
    assert not list((tmp_path / "results").rglob("learning_curve.csv"))  # nothing NaN reaches a results table
