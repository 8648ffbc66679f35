"""``vak-tcn annotate`` without importing vak (7-8 s: lightning, torchmetrics): vak's file formats read by
vak-tcn's own readers (``vak_compat``), each compared with vak's; the network built without vak's factory,
compared with vak's; a fresh process that annotates and never imports vak or lightning."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import joblib
import numpy as np
import pytest
import soundfile
import tomlkit
import torch

from vak_tcn.models import trained
from vak_tcn.models.trained import TrainedModel, builds_without_vak
from vak_tcn.plugins import vak_compat, vak_files

from helpers.cli import cli_in_process, vak_env
from helpers.data import REAL_BOUT
from helpers.inference import make_predict_config, song, whole_file_reference

NETWORK = {"out_channels": 16, "num_layers": 4, "kernel_size": 3, "causal": False}


@pytest.fixture(scope="module")
def predict_config(tmp_path_factory) -> pathlib.Path:
    return make_predict_config(tmp_path_factory.mktemp("lean"), network=NETWORK)


def edited(config: pathlib.Path, path: pathlib.Path, edit) -> pathlib.Path:
    doc = tomlkit.parse(config.read_text())
    edit(doc["vak"])
    path.write_text(tomlkit.dumps(doc))
    return path


def vak_parsed(config: pathlib.Path):
    from vak_tcn.plugins.manager import load_plugins

    load_plugins()
    return vak_compat.load_config(config, unprepped_ok=True)


# ---------------------------------------------------------------- vak's formats, read without vak
def drop(table: str, *keys: str):
    def edit(doc):
        for key in keys:
            doc[table].pop(key, None)

    return edit


def set_key(table: str, key: str, value):
    def edit(doc):
        target = doc
        for part in table.split("."):
            target = target[part]
        target[key] = value

    return edit


VARIANTS = {
    "as written": lambda doc: None,
    "vak's defaults": drop("predict", "output_dir", "majority_vote", "min_segment_dur", "num_workers"),
    "no trainer keys, no standardizer": lambda doc: (
        doc["predict"]["trainer"].clear(),
        doc["predict"].pop("frames_standardizer_path"),
    ),
    "empty model table, gpu": lambda doc: (
        doc["predict"].__setitem__("model", {"TCN": tomlkit.table()}),
        doc["predict"]["trainer"].update({"accelerator": "gpu", "devices": [0]}),
    ),
    "no prep table": lambda doc: doc.pop("prep"),
    "no spect_params, no dataset path": lambda doc: (doc["prep"].pop("spect_params"), doc["predict"]["dataset"].pop("path", None)),
}  # fmt: skip


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_predict_config_read_without_vak_is_what_vaks_parser_reads(predict_config, tmp_path, variant):
    config = edited(predict_config, tmp_path / "predict.toml", VARIANTS[variant])
    lean, ours = vak_files.read_predict_config(config, unprepped_ok=True), vak_parsed(config)
    assert lean is not None
    got, want = lean.predict, ours.predict
    for key in (
        "checkpoint_path", "labelmap_path", "frames_standardizer_path", "output_dir", "batch_size", "num_workers",
        "annot_csv_filename", "min_segment_dur", "majority_vote", "save_net_outputs",
    ):  # fmt: skip
        assert getattr(got, key) == getattr(want, key), key
    assert got.model.asdict() == want.model.asdict()
    assert got.dataset.params == want.dataset.params and got.dataset.path == want.dataset.path
    assert (got.trainer.accelerator, got.trainer.devices) == (want.trainer.accelerator, want.trainer.devices)
    if ours.prep is None:
        assert lean.prep is None
    else:
        assert trained.SpectParams.from_vak(lean.prep.spect_params or {}) == trained.SpectParams.from_vak(
            ours.prep.spect_params or {}
        )


NOT_SURE = {
    "unknown key": set_key("predict", "batchsize", 8),
    "a float vak refuses": set_key("predict", "min_segment_dur", 1),
    "another command's table": lambda doc: doc.add("eval", tomlkit.table()),
    "a transform vak refuses": set_key("prep.spect_params", "transform_type", "log"),
    "two models": set_key("predict.model", "ConvTCN", {}),
    "accelerator auto": set_key("predict.trainer", "accelerator", "auto"),
}


@pytest.mark.parametrize("case", list(NOT_SURE))
def test_configs_the_reader_is_not_sure_of_are_left_to_vaks_parser(predict_config, tmp_path, case):
    config = edited(predict_config, tmp_path / "predict.toml", NOT_SURE[case])
    assert vak_files.read_predict_config(config, unprepped_ok=True) is None
    with pytest.raises((ValueError, KeyError, TypeError)):  # vak's parser says what is wrong
        vak_parsed(config)
    (tmp_path / "bad.toml").write_text("[vak.predict\n")
    assert vak_files.read_predict_config(tmp_path / "bad.toml") is None


def test_annotate_reports_vaks_own_error_for_a_bad_config(predict_config, tmp_path, capsys):
    config = edited(predict_config, tmp_path / "predict.toml", NOT_SURE["unknown key"])
    soundfile.write(tmp_path / "rec.wav", song(3200, 32000), 32000)  # never read
    capsys.readouterr()
    status = cli_in_process(capsys, "annotate", config, tmp_path / "rec.wav", "--out", tmp_path / "out")
    assert status.returncode == 2 and "batchsize" in status.stderr  # vak's parser: keys that are not valid


def test_saved_standardizer_read_without_vak_is_vaks(predict_config, tmp_path):
    path = predict_config.parent / "FramesStandardizer"
    ours, vaks = vak_files.read_frames_standardizer(path), joblib.load(path)
    assert type(vaks).__module__ == "vak.transforms.transforms"  # the file is vak's
    for key in ("mean_freqs", "std_freqs", "non_zero_std"):
        np.testing.assert_array_equal(getattr(ours, key), getattr(vaks, key))
    spect = np.random.default_rng(0).normal(size=(len(vaks.mean_freqs), 300))
    np.testing.assert_array_equal(ours(spect), vaks(spect))  # the same floats
    with pytest.raises(ValueError, match="number of rows"):
        ours(spect[:-1])
    # not vak's plain file: None, and vak's joblib.load is the reader that says why
    joblib.dump(vaks, tmp_path / "compressed", compress=3)
    joblib.dump({"mean_freqs": vaks.mean_freqs}, tmp_path / "dict")
    (tmp_path / "text").write_text("not a standardizer")
    for name in ("compressed", "dict", "text"):
        assert vak_files.read_frames_standardizer(tmp_path / name) is None, name


def test_vaks_constants_and_filter_known_without_vak_are_vaks():
    from vak.common import constants

    assert vak_compat.BACKGROUND_LABEL == constants.DEFAULT_BACKGROUND_LABEL
    assert sorted(vak_compat.AUDIO_FORMATS) == sorted(constants.AUDIO_FORMAT_FUNC_MAP)
    for rate, cutoffs in ((32000, (500, 10000)), (44100, (300.0, 8000.0)), (16000, (100, 7999))):
        for ours, vaks in zip(
            vak_files.bandpass_coefficients(*cutoffs, rate), vak_compat.butter_bandpass(*cutoffs, rate)
        ):
            np.testing.assert_array_equal(ours, vaks)


def test_which_models_are_built_without_vak():
    assert builds_without_vak("TCN") and builds_without_vak("ConvTCN")
    assert not builds_without_vak("TweetyNetPlugin")  # vak's network
    assert not builds_without_vak("TweetyNet") and not builds_without_vak("NoSuchModel")


@pytest.mark.parametrize(
    "model, network",
    [
        ("TCN", {**NETWORK, "seed": 3, "post_processing": "config"}),  # vak-tcn's keys taken out, as vak's build does
        ("TCN", {"out_channels": 8, "num_layers": 3, "causal": True}),
        ("ConvTCN", {"out_channels": 8, "num_layers": 2, "conv1_filters": 4, "conv2_filters": 4}),
    ],
)
def test_network_built_without_vak_is_vaks(tmp_path, monkeypatch, model, network):
    config = make_predict_config(tmp_path, model=model, network=network)
    lean = TrainedModel.from_predict_config(config)
    assert lean.built_without_vak and isinstance(lean.standardizer, vak_files.SavedFramesStandardizer)
    monkeypatch.setattr(trained, "builds_without_vak", lambda name: False)
    vaks = TrainedModel.from_predict_config(config)
    assert not vaks.built_without_vak
    net, reference = lean.load_network(), vaks.load_network()
    assert lean.model_config == vaks.model_config  # annotate's records name the same network table
    x = torch.from_numpy(np.random.default_rng(1).normal(size=(1, 1, lean.n_freqbins, 700)).astype(np.float32))
    with torch.inference_mode():
        np.testing.assert_array_equal(net(x).numpy(), reference(x).numpy())


def test_a_checkpoint_with_other_weights_is_one_line_without_vak_too(predict_config, tmp_path):
    config = edited(predict_config, tmp_path / "predict.toml", set_key("predict.model.TCN.network", "num_layers", 5))
    model = TrainedModel.from_predict_config(config)
    assert model.built_without_vak
    with pytest.raises(trained.ModelError, match="does not match the model the config builds.*Missing key"):
        model.load_network()


# ---------------------------------------------------------------- a fresh process
ANNOTATE_AND_LIST_MODULES = """
import json, sys
from vak_tcn.cli import main
status = [main(argv) for argv in json.loads(sys.argv[1])]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("vak", "lightning", "torchmetrics"))
print("MODULES " + json.dumps({"status": status, "heavy": heavy}))
"""


def run_annotate(*argvs, **env) -> tuple[dict, subprocess.CompletedProcess]:
    argv = [[str(a) for a in args] for args in argvs]
    proc = subprocess.run(
        [sys.executable, "-c", ANNOTATE_AND_LIST_MODULES, json.dumps(argv)],
        capture_output=True, text=True, env=vak_env(**env), timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("MODULES ")]
    return json.loads(line.removeprefix("MODULES ")), proc


def test_annotate_imports_neither_vak_nor_lightning_and_gives_vaks_segments(predict_config, tmp_path):
    """A fresh interpreter (the start-up hook on), the float32 default and ``--exact``, with probabilities:
    vak, lightning and torchmetrics never imported; ``--exact`` gives the segments of vak's own functions
    on the whole file to the float; float32 the same frame labels on the real bout."""
    bout = tmp_path / "bout_1.wav"
    shutil.copy(REAL_BOUT / "bout_1.wav", bout)
    samples, rate = soundfile.read(bout)
    common = ["annotate", predict_config, bout, "--chunk-seconds", 1, "--probabilities"]
    got, proc = run_annotate(
        [*common, "--out", tmp_path / "float32"], [*common, "--out", tmp_path / "exact", "--exact"]
    )
    assert got == {"status": [0, 0], "heavy": []}, proc.stderr[-3000:]
    labels, onsets, offsets, logits = whole_file_reference(predict_config, samples, rate)  # vak's functions
    assert len(labels) > 3
    import pandas as pd

    for kind in ("exact", "float32"):
        ours = pd.read_csv(tmp_path / kind / "bout_1.wav.annot.csv")
        with np.load(tmp_path / kind / "bout_1.wav.probabilities.npz") as npz:
            agreement = np.mean(npz["probabilities"].argmax(0) == logits.argmax(0))
        if kind == "exact":
            assert agreement == 1.0
            np.testing.assert_array_equal(ours["label"].astype(str), labels)
            np.testing.assert_allclose(ours["onset_s"], onsets, rtol=0, atol=1e-12)
            np.testing.assert_allclose(ours["offset_s"], offsets, rtol=0, atol=1e-12)
        else:
            assert agreement >= 0.999, agreement


def test_other_models_load_vak_and_the_plugins_even_with_the_start_up_hook_off(tmp_path):
    """A model vak builds (TweetyNetPlugin): read by vak's parser, vak-tcn's plugins loaded by annotate itself."""
    config = make_predict_config(tmp_path, model="TweetyNetPlugin", network={"hidden_size": 8})
    rate = soundfile.info(str(REAL_BOUT / "bout_1.wav")).samplerate  # the standardizer's
    soundfile.write(tmp_path / "rec.wav", song(rate // 2, rate), rate)
    got, proc = run_annotate(["annotate", config, tmp_path / "rec.wav", "--out", tmp_path / "out"], VAK_TCN_DISABLE="1")
    assert got["status"] == [0] and "vak" in got["heavy"], proc.stderr[-3000:]
    assert (tmp_path / "out" / "rec.wav.annot.csv").is_file()
