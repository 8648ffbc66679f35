"""One file, two paths: stock ``vak prep`` + ``vak predict`` and ``vak-tcn annotate``, the same annotations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import REAL_BOUT, run_cli
from helpers_inference import make_predict_config

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
    (tmp_path / "vak-predict").mkdir(exist_ok=True)
    run_cli(["vak", "prep", config])
    run_cli(["vak", "predict", config])
    run_cli(
        ["vak-tcn", "annotate", config, REAL_BOUT / "bout_1.wav", "--out", tmp_path / "annotate", "--chunk-seconds", 1]
    )
    vak_df = pd.read_csv(tmp_path / "vak-predict" / "vak-predict.annot.csv")
    ours = pd.read_csv(tmp_path / "annotate" / "bout_1.wav.annot.csv")
    assert len(vak_df) > 10  # an untrained network: many segments, a demanding comparison
    np.testing.assert_array_equal(ours["label"].astype(str), vak_df["label"].astype(str))
    np.testing.assert_array_equal(ours["onset_s"], vak_df["onset_s"])  # the same floats
    np.testing.assert_array_equal(ours["offset_s"], vak_df["offset_s"])
