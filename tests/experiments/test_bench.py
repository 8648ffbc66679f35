"""`vak-tcn bench` at a tiny size, through the console script: its table, files and ratios."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.cli import run_cli

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


@pytest.mark.orchestration  # one process per model and precision: vak-tcn's own code, either vak
def test_bench_tiny_reports_every_model_in_two_precisions_with_float32_tweetynet_as_the_unit(tmp_path):
    from vak_tcn.nn.precision import bf16_supported

    out = tmp_path / "bench"
    proc = run_cli(
        ["vak-tcn", "bench", "--windows", "32", "--batch", "1", "--freqbins", "64", "--classes", "3",
         "--warmup", "0", "--repeats", "1", "--rounds", "2", "--skip-overheads", "--precision", "32", "bf16", "--profile",
         "--out", out],
        timeout=600,
    )  # fmt: skip
    df = pd.read_csv(out / "bench.csv")
    assert COLUMNS <= set(df.columns), sorted(df.columns)
    requested = df["precision_requested"].astype(str)
    assert list(zip(df["model"], requested)) == [
        (model, precision) for model in ("TweetyNet", "TCN", "ConvTCN") for precision in ("32", "bf16")
    ]  # the catalogue's models, display names, each in both precisions
    (unit,) = df.index[(df["model"] == "TweetyNet") & (requested == "32")]
    tweety = df.loc[unit]
    others = df.drop(index=unit)  # the TCNs in both precisions, and TweetyNet in bf16
    assert set(others["model"]) == {"TweetyNet", "TCN", "ConvTCN"}
    for _, row in others.iterrows():  # the unit is TweetyNet in float32, whatever the row's precision
        for what in ("train", "infer"):  # with 2 rounds, the ratio of the medians lies between the per-round ratios
            of_medians = row[f"{what}_frames_per_s"] / tweety[f"{what}_frames_per_s"]
            low, high = row[f"{what}_vs_tweetynet_min"], row[f"{what}_vs_tweetynet_max"]
            assert low * (1 - 1e-9) <= of_medians <= high * (1 + 1e-9), (row["model"], what)
            assert tweety[f"{what}_vs_tweetynet"] == 1.0 == tweety[f"{what}_vs_tweetynet_max"]
    assert (df["train_frames_per_s"] > 0).all() and (df["infer_frames_per_s"] > 0).all()
    assert (df["rounds"] == 2).all() and proc.stdout.count("round 2/2") == 6  # every model measured twice
    for what in ("train", "infer"):  # per-round ratios: min <= median <= max, the spread from them
        ratio = df[f"{what}_vs_tweetynet"]
        assert (df[f"{what}_vs_tweetynet_min"] <= ratio + 1e-12).all() and (
            ratio <= df[f"{what}_vs_tweetynet_max"] + 1e-12
        ).all()
        spread = (df[f"{what}_vs_tweetynet_max"] - df[f"{what}_vs_tweetynet_min"]) / ratio
        assert spread.to_numpy() == pytest.approx(df[f"{what}_vs_tweetynet_spread"].to_numpy())
    assert df.loc[df["model"] == "TCN", "receptive_field"].iloc[0] == 511  # default 8 layers, kernel 2
    bf16 = df[requested == "bf16"]
    assert df.loc[requested == "32", "label_agreement_vs_32"].isna().all()
    if bf16_supported("cpu"):
        assert (bf16["precision"].astype(str) == "bf16").all()
        assert ((bf16["label_agreement_vs_32"] > 0.9) & (bf16["label_agreement_vs_32"] <= 1)).all()
        assert "agree: frames whose label equals float32's" in proc.stdout
    else:  # measured in float32, and said so
        assert (bf16["precision"].astype(str) == "32").all() and "bf16 is not supported on cpu" in proc.stdout
    assert proc.stdout.count("profile of one inference call") == 6 and "Self CPU" in proc.stdout
    report = json.loads((out / "bench.json").read_text())
    assert report["settings"]["windows"] == [32] and len(report["results"]) == 6
    assert "TweetyNet" in proc.stdout and str(out / "bench.csv") in proc.stdout


def test_bench_bad_precision_is_named(tmp_path, capsys):
    from vak_tcn import cli

    status = cli.main(["bench", "--precision", "32", "bf61", "--out", str(tmp_path)])  # in-process
    stderr = capsys.readouterr().err
    assert status == 2
    assert "--precision: unknown precision 'bf61' (did you mean 'bf16'?)" in stderr, stderr


def test_bench_measures_multi_stage_tcns_and_tweetynet_once(monkeypatch, capsys):
    """--stages 1 3: each TCN model with 1 and 3 stages, TweetyNet (no stages) once; the row says its stages
    and the whole stack's receptive field.  One real measurement in process; the subprocesses faked."""
    import argparse
    import subprocess

    from vak_tcn.experiments import bench

    row = bench.measure_one("TCN", 16, 1, 64, 3, "cpu", 0, 1, stages=3)
    one = bench.measure_one("TCN", 16, 1, 64, 3, "cpu", 0, 1)
    assert (row["stages"], one["stages"]) == (3, 1)
    assert row["receptive_field"] == 511 + 2 * 2046 and one["receptive_field"] == 511  # MS-TCN's stage defaults
    assert row["params"] > one["params"]

    calls, real_run = [], subprocess.run

    def fake_run(cmd, **kwargs):
        if "--_one" not in cmd:  # platform's own subprocesses
            return real_run(cmd, **kwargs)
        model, stages = cmd[4], int(cmd[-2])
        calls.append((model, stages))
        fake = {**one, "model": model, "stages": stages, "precision": cmd[-4]}
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(fake) + "\n", stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        ["--windows", "16", "--stages", "1", "3", "3", "--skip-overheads", "--accelerator", "cpu", "--rounds", "1"]
    )
    bench.check_arguments(args)
    report = bench.run(args)
    assert calls == [("TweetyNet", 1), ("TCN", 1), ("TCN", 3), ("ConvTCN", 1), ("ConvTCN", 3)]
    assert [r["stages"] for r in report["results"]] == [1, 1, 3, 1, 3]
    assert "stg" in bench.format_table(report)
    # --stages 3 alone: TweetyNet (no stages, the unit of the ratios) is still measured, once
    calls.clear()
    args = parser.parse_args(
        ["--windows", "16", "--stages", "3", "--skip-overheads", "--accelerator", "cpu", "--rounds", "1"]
    )
    bench.check_arguments(args)
    report = bench.run(args)
    assert calls == [("TweetyNet", 1), ("TCN", 3), ("ConvTCN", 3)]
    assert [r["train_vs_tweetynet"] for r in report["results"]][0] == 1.0
    capsys.readouterr()


def test_bench_network_keys_reach_the_tcn_models_only(monkeypatch, capsys):
    """--network KEY=VALUE sets the TCN models' network table as a config would: the measured network is
    the one the keys describe (receptive field, parameters), the keys reach each TCN model's subprocess and
    not TweetyNet's, and the table names them."""
    import argparse
    import subprocess

    from vak_tcn.experiments import bench

    table = bench.parse_network_table(["num_layers=3", "causal=false", "stage_layers=2", "stage_channels=8"])
    assert table == {"num_layers": 3, "causal": False, "stage_layers": 2, "stage_channels": 8}
    row = bench.measure_one("TCN", 16, 1, 64, 3, "cpu", 0, 1, stages=2, network_table=table)
    # 3 layers of kernel 2: 1 + 2 * (1 + 2 + 4) = 15 frames; a 2-layer stage of kernel 3 adds 2 * (1 + 2)
    assert row["receptive_field"] == 15 + 6 and row["network"] == table

    sent, real_run = {}, subprocess.run

    def fake_run(cmd, **kwargs):
        if "--_one" not in cmd:
            return real_run(cmd, **kwargs)
        sent[cmd[4]] = json.loads(cmd[-1])
        fake = {**row, "model": cmd[4], "stages": int(cmd[-2]), "precision": cmd[-4]}
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(fake) + "\n", stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        ["--windows", "16", "--skip-overheads", "--accelerator", "cpu", "--rounds", "1", "--network", "num_layers=3"]
    )
    bench.check_arguments(args)
    report = bench.run(args)
    assert sent == {"TweetyNet": {"num_layers": 3}, "TCN": {"num_layers": 3}, "ConvTCN": {"num_layers": 3}}
    assert bench._build("TweetyNet", 3, 64, 1, {"num_layers": 3}).__class__.__name__ == "TweetyNet"  # not applied
    assert "TCN models' network table: num_layers = 3" in bench.format_table(report)
    capsys.readouterr()


@pytest.mark.parametrize(
    "items, message",
    [
        (["num_layers"], "--network: expected KEY=VALUE (a network-table key), got 'num_layers'"),
        (["causal=nope"], "--network causal=nope: 'nope' is not a TOML value"),
        (["stages=3"], "give the number of stages with --stages"),
        (["stage_layerz=3"], "--network: TCN: "),
    ],
)
def test_bench_bad_network_keys_are_named(tmp_path, capsys, items, message):
    from vak_tcn import cli

    assert cli.main(["bench", "--models", "TCN", "--network", *items, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    if items == ["stage_layerz=3"]:
        assert "stage_layerz" in err


def test_bench_bad_stages_is_named(tmp_path, capsys):
    from vak_tcn import cli

    assert cli.main(["bench", "--stages", "0", "--out", str(tmp_path)]) == 2
    assert "--stages must be at least 1, got 0" in capsys.readouterr().err


def test_bench_interleaves_the_models_and_gives_each_ratio_its_spread_over_rounds(monkeypatch, capsys):
    """--rounds 3: the models take turns (A B C A B C A B C); a row's timings are medians over its rounds,
    its ratios to TweetyNet are per round (that round's TweetyNet): min / median / max, and a ratio whose
    spread exceeds --spread-limit is flagged.  The subprocesses are faked with known timings: a burst of
    load halves TCN's speed in round 2 only."""
    import argparse
    import subprocess

    from vak_tcn.experiments import bench

    speeds = {  # (model, round) -> frames/s (train = infer here)
        ("TweetyNet", 0): 100.0, ("TCN", 0): 2000.0, ("ConvTCN", 0): 500.0,
        ("TweetyNet", 1): 100.0, ("TCN", 1): 1000.0, ("ConvTCN", 1): 500.0,
        ("TweetyNet", 2): 50.0, ("TCN", 2): 1000.0, ("ConvTCN", 2): 250.0,
    }  # fmt: skip
    calls = []
    real_run = subprocess.run

    def fake_run(cmd, **kwargs):
        if "--_one" not in cmd:
            return real_run(cmd, **kwargs)
        model = cmd[4]
        turn = sum(1 for m in calls if m == model)
        calls.append(model)
        speed = speeds[(model, turn)]
        row = {"model": model, "stages": 1, "window": 16, "batch": 1, "device": "cpu", "precision": "32",
               "label_agreement_vs_32": None, "profile": None, "params": 1, "receptive_field": None,
               "train_frames_per_s": speed, "infer_frames_per_s": speed, "peak_train_memory_mb": 10.0, "threads": 1}  # fmt: skip
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(row) + "\n", stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--windows", "16", "--skip-overheads", "--accelerator", "cpu", "--rounds", "3"])
    bench.check_arguments(args)
    report = bench.run(args)
    assert calls == ["TweetyNet", "TCN", "ConvTCN"] * 3  # interleaved, not each model's repeats in a row
    rows = {r["model"]: r for r in report["results"]}
    tcn, conv = rows["TCN"], rows["ConvTCN"]
    assert tcn["train_frames_per_s"] == 1000.0 and rows["TweetyNet"]["train_frames_per_s"] == 100.0  # medians
    # per-round TCN / TweetyNet: 20, 10, 20 -> median 20, min 10, max 20, spread 0.5 > 0.2: flagged
    assert (tcn["train_vs_tweetynet"], tcn["train_vs_tweetynet_min"], tcn["train_vs_tweetynet_max"]) == (
        20.0,
        10.0,
        20.0,
    )
    assert (
        tcn["train_vs_tweetynet_spread"] == pytest.approx(0.5)
        and tcn["unsteady"] == "train_vs_tweetynet,infer_vs_tweetynet"
    )
    # ConvTCN slowed with TweetyNet in round 3: 5, 5, 5 per round: steady, though its median speed fell
    assert conv["train_vs_tweetynet"] == 5.0 and conv["train_vs_tweetynet_spread"] == 0.0 and conv["unsteady"] == ""
    table = bench.format_table(report)
    assert "20.00 (10.00-20.00)!" in table and "5.00 (5.00-5.00) " in table and "! marks a spread over 20 %" in table
    capsys.readouterr()


def test_bench_bad_rounds_and_spread_limit_are_named(tmp_path, capsys):
    from vak_tcn import cli

    assert cli.main(["bench", "--rounds", "0", "--out", str(tmp_path)]) == 2
    assert "--rounds must be at least 1, got 0" in capsys.readouterr().err
    assert cli.main(["bench", "--spread-limit", "0", "--out", str(tmp_path)]) == 2
    assert "--spread-limit must be positive, got 0.0" in capsys.readouterr().err
