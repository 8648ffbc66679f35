"""`vak-tcn bench` at a tiny size, through the console script: its table, files and ratios."""

from __future__ import annotations

import json

import pandas as pd

from conftest import run_cli

COLUMNS = {
    "model",
    "window",
    "batch",
    "params",
    "receptive_field",
    "train_frames_per_s",
    "infer_frames_per_s",
    "peak_train_memory_mb",
    "x_real_time",
    "train_vs_tweetynet",
    "infer_vs_tweetynet",
}


def test_bench_tiny_reports_every_model_with_tweetynet_as_the_unit(tmp_path):
    out = tmp_path / "bench"
    proc = run_cli(
        ["vak-tcn", "bench", "--windows", "32", "--batch", "1", "--freqbins", "64", "--classes", "3",
         "--warmup", "0", "--repeats", "1", "--skip-overheads", "--out", out],
        timeout=600,
    )  # fmt: skip
    df = pd.read_csv(out / "bench.csv")
    assert COLUMNS <= set(df.columns), sorted(df.columns)
    assert list(df["model"]) == ["TweetyNet", "TCN", "ConvTCN"]  # the catalogue's models, display names
    tweety = df[df["model"] == "TweetyNet"].iloc[0]
    assert tweety["train_vs_tweetynet"] == 1.0 and tweety["infer_vs_tweetynet"] == 1.0
    assert (df["train_frames_per_s"] > 0).all() and (df["infer_frames_per_s"] > 0).all()
    assert df.loc[df["model"] == "TCN", "receptive_field"].iloc[0] == 511  # default 8 layers, kernel 2
    report = json.loads((out / "bench.json").read_text())
    assert report["settings"]["windows"] == [32] and len(report["results"]) == 3
    assert "TweetyNet" in proc.stdout and str(out / "bench.csv") in proc.stdout
