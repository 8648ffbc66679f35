"""The Python API (``vak_tcn.load``): the same segments and probabilities as ``vak-tcn annotate`` for a
file and for an array of its samples; its mistakes named; imported only when first used."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile

import vak_tcn

from helpers.cli import cli_in_process, vak_env
from helpers.data import REAL_BOUT
from helpers.inference import make_predict_config, make_results_dir

NETWORK = {"out_channels": 16, "num_layers": 4, "kernel_size": 3, "causal": False}
POST_TFM = {"majority_vote": True, "min_segment_dur": 0.01}


@pytest.fixture(scope="module")
def predict_config(tmp_path_factory):
    return make_predict_config(tmp_path_factory.mktemp("api-model"), network=NETWORK, fc_bias=[0.0, 2.0, 1.5, 1.0])


def test_a_file_and_its_samples_give_annotates_segments_and_probabilities(predict_config, tmp_path, capsys):
    bout = REAL_BOUT / "bout_1.wav"
    proc = cli_in_process(capsys, "annotate", predict_config, bout, "--out", tmp_path / "cli", "--probabilities")
    assert proc.returncode == 0, proc.stderr
    written = pd.read_csv(tmp_path / "cli" / "bout_1.wav.annot.csv")
    model = vak_tcn.load(predict_config)
    assert model.labels == ["background", "a", "b", "c"]
    from_file, probs = model.annotate(bout, probabilities=True)
    samples, rate = soundfile.read(bout)
    from_array = model.annotate(samples, samplerate=rate)
    assert list(from_file.columns) == ["onset_s", "offset_s", "label"]
    assert len(from_file) == len(written) > 0
    for segments in (from_file, from_array):
        np.testing.assert_array_equal(segments["onset_s"], written["onset_s"])  # the same floats
        np.testing.assert_array_equal(segments["offset_s"], written["offset_s"])
        assert segments["label"].tolist() == written["label"].astype(str).tolist()
    with np.load(tmp_path / "cli" / "bout_1.wav.probabilities.npz") as npz:
        np.testing.assert_array_equal(probs.probabilities, npz["probabilities"])
        np.testing.assert_array_equal(probs.frame_times, npz["frame_times"])
    assert probs.labels == model.labels and probs.probabilities.shape == (4, len(probs.frame_times))


def test_mistakes_are_named(predict_config, tmp_path):
    model = vak_tcn.load(predict_config)
    with pytest.raises(ValueError, match="needs its samplerate"):
        model.annotate(np.zeros(1000))
    with pytest.raises(ValueError, match="samplerate is for an array"):
        model.annotate(REAL_BOUT / "bout_1.wav", samplerate=32000)
    with pytest.raises(FileNotFoundError, match="a results directory or a vak predict config"):
        vak_tcn.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="--run chooses a trained model of a results directory"):
        vak_tcn.load(predict_config, run="replicate_1")


def test_a_results_directory_gives_annotate_results_dirs_segments(tmp_path, capsys):
    """One of learncurve's replicates, by ``run``: the segments ``vak-tcn annotate RESULTS_DIR --run`` writes,
    with the clean-up of its predict config (here the config's post_tfm_kwargs)."""
    results = make_results_dir(tmp_path / "made", network=NETWORK, replicates=2, post_tfm_kwargs=POST_TFM)
    bout = REAL_BOUT / "bout_1.wav"
    out = tmp_path / "cli"
    proc = cli_in_process(capsys, "annotate", results, bout, "--run", "replicate_2", "--out", out)
    assert proc.returncode == 0, proc.stderr
    written = pd.read_csv(out / "bout_1.wav.annot.csv")
    model = vak_tcn.load(results, run="replicate_2")
    assert model.trained.cleanup.min_segment_dur == POST_TFM["min_segment_dur"]
    segments = model.annotate(bout)
    np.testing.assert_array_equal(segments["onset_s"], written["onset_s"])
    assert segments["label"].tolist() == written["label"].astype(str).tolist()
    with pytest.raises(ValueError, match="choose one with --run"):
        vak_tcn.load(results)


def test_importing_vak_tcn_does_not_import_the_api():
    """``import vak_tcn`` runs in every process (the start-up hook): the API is imported when first used."""
    code = "import sys, vak_tcn; print('vak_tcn.api' in sys.modules, vak_tcn.load.__module__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=vak_env(), timeout=300)
    assert proc.stdout.split() == ["False", "vak_tcn.api"], proc.stderr
