"""One file, two paths: stock ``vak prep`` + ``vak predict`` and ``vak-tcn annotate --exact`` (vak's float64
spectrogram; annotate imports no vak for a TCN), the same annotations, without and with tuned clean-up
(``postprocess.json`` beside the checkpoint); annotate's float32 default, the same frame labels; and both
again with ``--precision bf16``: frame labels against float32."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import tomlkit

from vak_tcn.models.cleanup import Settings
from vak_tcn.nn.precision import bf16_supported

from helpers.cli import run_cli
from helpers.data import REAL_BOUT
from helpers.inference import make_predict_config

pytestmark = pytest.mark.slow


def test_annotate_equals_stock_vak_predict_on_the_real_bout(tmp_path):
    """A causal TCN and a predict window longer than the bout (5862 frames): vak predict then sees
    the whole file in one window, padded only after its end, so a causal network's frames are
    whole-file inference, which annotate computes in chunks (1 s here: 8 seams)."""
    config = make_predict_config(
        tmp_path,
        network={"out_channels": 16, "num_layers": 4, "kernel_size": 3, "causal": True},
        data_dir=REAL_BOUT,
        annot_format="notmat",
        labelset="abc",
        window_size=6000,
        annot_csv_filename="vak-predict.annot.csv",
        output_dir=tmp_path / "vak-predict",
    )
    out = tmp_path / "vak-predict"
    out.mkdir(exist_ok=True)
    doc = tomlkit.parse(config.read_text())
    doc["vak"]["predict"]["save_net_outputs"] = True  # vak writes the file's logits (.output.npz)
    config.write_text(tomlkit.dumps(doc))
    run_cli(["vak", "prep", config])
    run_cli(["vak", "predict", config])
    run_cli(
        ["vak-tcn", "annotate", config, REAL_BOUT / "bout_1.wav", "--out", tmp_path / "annotate", "--chunk-seconds", 1,
         "--probabilities", "--exact"]
    )  # fmt: skip
    vak_df = pd.read_csv(tmp_path / "vak-predict" / "vak-predict.annot.csv")
    ours = pd.read_csv(tmp_path / "annotate" / "bout_1.wav.annot.csv")
    assert len(vak_df) > 10  # an untrained network: many segments, a demanding comparison
    np.testing.assert_array_equal(ours["label"].astype(str), vak_df["label"].astype(str))
    np.testing.assert_array_equal(ours["onset_s"], vak_df["onset_s"])  # the same floats
    np.testing.assert_array_equal(ours["offset_s"], vak_df["offset_s"])

    # the float32 default (one pass over the audio, float32 FFT): the same frame labels (>= 99.9 %, the rule that
    # made it the default; docs/annotate.md)
    run_cli(
        ["vak-tcn", "annotate", config, REAL_BOUT / "bout_1.wav", "--out", tmp_path / "float32", "--chunk-seconds", 1,
         "--probabilities"]
    )  # fmt: skip
    exact, float32 = (
        np.load(d / "bout_1.wav.probabilities.npz")["probabilities"]
        for d in (tmp_path / "annotate", tmp_path / "float32")
    )
    agreement = np.mean(exact.argmax(0) == float32.argmax(0))
    assert agreement >= 0.999 and np.abs(exact - float32).max() < 1e-3
    if agreement == 1.0:  # the same frame labels: the same segments, the same floats
        ours32 = pd.read_csv(tmp_path / "float32" / "bout_1.wav.annot.csv")
        for column in ("label", "onset_s", "offset_s"):
            np.testing.assert_array_equal(ours32[column].astype(str), vak_df[column].astype(str))

    # --precision bf16, through stock vak predict (VAK_TCN_PRECISION, set by vak-tcn predict) and annotate
    (output,) = out.glob("*.output.npz")
    shutil.move(output, tmp_path / "float32.output.npz")
    proc = run_cli(["vak-tcn", "predict", config, "--precision", "bf16"])
    with np.load(tmp_path / "float32.output.npz") as f32, np.load(output) as bf16:
        check_bf16(f32["arr_0"], bf16["arr_0"], proc.stderr)
    proc = run_cli(
        ["vak-tcn", "annotate", config, REAL_BOUT / "bout_1.wav", "--out", tmp_path / "bf16", "--chunk-seconds", 1,
         "--probabilities", "--precision", "bf16", "--exact"]
    )  # fmt: skip
    probabilities = [
        np.load(d / "bout_1.wav.probabilities.npz")["probabilities"] for d in (tmp_path / "annotate", tmp_path / "bf16")
    ]
    check_bf16(*probabilities, proc.stderr)

    # tuned clean-up beside the checkpoint: vak predict (the model cleans its logits, then vak's
    # majority vote) and annotate (the two as one setting) still give the same annotations
    tuned = Settings(min_segment_dur=0.006, min_gap_dur=0.01, majority_vote=False)
    (config.parent / "postprocess.json").write_text(json.dumps({"best": tuned.asdict()}))
    run_cli(["vak", "predict", config])
    proc = run_cli(
        ["vak-tcn", "annotate", config, REAL_BOUT / "bout_1.wav", "--out", tmp_path / "tuned", "--chunk-seconds", 1,
         "--exact"]
    )  # fmt: skip
    assert "from tuned (" in proc.stdout
    vak_tuned = pd.read_csv(out / "vak-predict.annot.csv")
    ours = pd.read_csv(tmp_path / "tuned" / "bout_1.wav.annot.csv")
    assert 0 < len(vak_tuned) < len(vak_df)  # the clean-up changed something
    np.testing.assert_array_equal(ours["label"].astype(str), vak_tuned["label"].astype(str))
    np.testing.assert_array_equal(ours["onset_s"], vak_tuned["onset_s"])
    np.testing.assert_array_equal(ours["offset_s"], vak_tuned["offset_s"])
    (config.parent / "postprocess.json").unlink()


FALLBACK = "no native bfloat16 support"


def check_bf16(float32: np.ndarray, bf16: np.ndarray, stderr: str) -> None:
    """Computed in bf16 (not float32's numbers, >= 99 % of its frame labels), or, without bf16
    hardware, float32 with one warning."""
    assert float32.shape == bf16.shape
    if bf16_supported("cpu"):
        assert FALLBACK not in stderr
        assert not np.array_equal(float32, bf16)
        assert np.mean(float32.argmax(0) == bf16.argmax(0)) >= 0.99
    else:
        assert stderr.count(FALLBACK) == 1
        np.testing.assert_array_equal(float32, bf16)
