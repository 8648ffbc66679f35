"""The poster's experiments: corpus, grid configs, resumable grid runner, summary, figures."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time

import crowsetta
import numpy as np
import pandas as pd
import pytest
import tomlkit

from vak_tcn import settings
from vak_tcn.experiments import configs, corpus, plots, poster, summary
from vak_tcn.experiments import runner as grid
from vak_tcn.models import catalogue

from helpers.cli import console_script, run_cli, vak_env
from helpers.data import learncurve_kwargs

REPO = pathlib.Path(__file__).parents[2]
POSTER = REPO.parent / "shared" / "poster-results"  # the poster's results, beside the checkout


# ---- corpus -----------------------------------------------------------------------------


def test_corpus_is_reproducible_and_readable_by_crowsetta(tmp_path):
    a = corpus.make_corpus(tmp_path / "a", n_bouts=2, syllables_per_bout=(5, 8), seed=7)
    b = corpus.make_corpus(tmp_path / "b", n_bouts=2, syllables_per_bout=(5, 8), seed=7)
    for wa, wb in zip(a, b):
        assert wa.read_bytes() == wb.read_bytes()
        assert pathlib.Path(f"{wa}.csv").read_text() == pathlib.Path(f"{wb}.csv").read_text()
    annot = crowsetta.Transcriber(format="simple-seq").from_file(f"{a[0]}.csv").to_annot()
    seq = annot.seq
    assert 5 <= len(seq.labels) <= 8 and set(seq.labels) <= set("abcdef")
    assert np.all(seq.offsets_s > seq.onsets_s) and np.all(seq.onsets_s[1:] >= seq.offsets_s[:-1])


def test_corpus_gaps_default_and_short():
    """Default gaps: >= 8 ms (the demo's song, unchanged); SHORT_GAPS: >= 3 ms, many under 10 ms."""
    rep = corpus.make_repertoire(4, seed=0)

    def gaps(**kw):
        _, segments = corpus.make_bout(rep, 200, seed=3, **kw)
        return np.array([b[0] - a[1] for a, b in zip(segments, segments[1:])])

    default, short = gaps(), gaps(gaps=corpus.SHORT_GAPS)
    assert default.min() >= 0.008 - 1e-4 and 0.030 < default.mean() < 0.050
    assert short.min() >= 0.003 - 1e-4 and 0.2 < np.mean(short < 0.010) < 0.45


def test_corpus_progress_in_a_log_is_lines_not_carriage_returns(tmp_path, capsys):
    corpus.make_corpus(
        tmp_path, n_bouts=12, syllables_per_bout=(2, 3), progress=True
    )  # stdout captured: not a terminal
    assert capsys.readouterr().out == "corpus: 10/12 bouts\ncorpus: 12/12 bouts\n"


def test_corpus_syllable_pairs_share_pitch():
    rep = corpus.make_repertoire(6, seed=0)
    assert rep[0].f0 == rep[1].f0 and rep[2].f0 == rep[3].f0  # confusable pairs
    with pytest.raises(ValueError, match="n_types"):
        corpus.make_repertoire(0)


# ---- poster grid configs ----------------------------------------------------------------


def test_poster_grid_has_every_run_and_parses_with_vak(tmp_path):
    import vak.config

    paths = poster.poster_grid(tmp_path, data_dir=tmp_path / "data", labelset="iabcdefghjk")
    names = {p.stem for p in paths}
    # 3 models x 5 windows + 3 models x 2 losses + the stage experiment: 2 TCN models x (causal 2-4, centred 1-4)
    assert len(paths) == 15 + 6 + 2 * 7
    for model in [m.name for m in catalogue.MODELS]:
        for window in poster.WINDOW_SIZES:
            assert f"{model}_window{window}_CE" in names
        assert {f"{model}_window2000_CE-TMSE", f"{model}_window2000_CE-GS-TMSE"} <= names
    for model in ("TCN", "ConvTCN"):
        staged = {f"{model}_window2000_CE_stages{n}" for n in (2, 3, 4)}
        staged |= {f"{model}_window2000_CE_centred"} | {f"{model}_window2000_CE_centred_stages{n}" for n in (2, 3, 4)}
        assert staged <= names
    assert not any("stages" in n or "centred" in n for n in names if n.startswith("TweetyNet"))
    for path in paths:
        doc = tomlkit.parse(path.read_text())
        doc["vak"]["learncurve"]["dataset"]["path"] = str(tmp_path)
        path.write_text(tomlkit.dumps(doc))
        cfg = vak.config.Config.from_toml_path(path)
        lc = cfg.learncurve
        assert (lc.batch_size, lc.num_epochs, lc.val_step, lc.ckpt_step, lc.patience) == (16, 15, 1000, 500, 4)
        assert lc.post_tfm_kwargs == {"majority_vote": True, "min_segment_dur": 0.01}
        assert cfg.prep.train_set_durs == [1800] and cfg.prep.num_replicates == 5
        # the learning rate of the poster's training code (framenets/model.py: Adam(lr=0.003)), said so in the file
        assert lc.model.optimizer == {"lr": 0.003}
        assert "framenets/model.py" in path.read_text() and "lr = 0.001" in path.read_text()
        if lc.model.name != "TweetyNetPlugin":
            assert lc.model.network["out_channels"] == 64 and lc.model.network["num_layers"] == 8
            # the poster's causal TCN, but where the stage experiment says centred; its stages as named
            assert lc.model.network["causal"] is ("centred" not in path.stem)
            stages = int(path.stem.partition("_stages")[2] or 1)
            assert lc.model.network.get("stages", 1) == stages
        else:  # the poster's TweetyNet configs: [TweetyNet.network] hidden_size = 256
            assert lc.model.network == {"hidden_size": 256}


def test_poster_tweetynet_size_reaches_vaks_network():
    import vak.models

    from vak_tcn import plugins

    plugins.load_plugins()
    network = poster.poster_network("TweetyNetPlugin")
    model = vak.models.get(
        "TweetyNetPlugin",
        {"network": network, "optimizer": {"lr": poster.LEARNING_RATE}, "loss": {}, "metrics": {}},
        input_shape=(1, 152, 176),
        num_classes=12,
        labelmap={str(i): i for i in range(12)},
    )
    assert model.network.rnn.hidden_size == 256
    assert poster.poster_network("TCN") == poster.TCN_NETWORK


def test_committed_poster_grid_matches_generator(tmp_path):
    """configs/poster-grid/ is `vak-tcn configs` output: regenerate and compare."""
    committed = REPO / "configs" / "poster-grid"
    run_cli(
        [
            "vak-tcn",
            "configs",
            "--out",
            tmp_path,
            "--data-dir",
            "data/bfsongrepo/gy6or6",
            "--prep-dir",
            "data/prep/gy6or6",
            "--results-dir",
            "results/poster-grid",
        ]
    )
    fresh = sorted(p.name for p in tmp_path.glob("*.toml"))
    assert fresh == sorted(p.name for p in committed.glob("*.toml"))
    for name in fresh:
        assert (tmp_path / name).read_text() == (committed / name).read_text(), name


# ---- summary and figures on the poster's own results ---------------------------------------


@pytest.mark.skipif(not POSTER.exists(), reason="../shared/poster-results not present")
@pytest.mark.parametrize("name, figure", [("window-size", "window-size.png"), ("loss-function", "loss.png")])
def test_figures_render_from_the_posters_csvs(tmp_path, name, figure):
    csv = POSTER / f"summary-data-{name}-experiments.csv"
    run_cli(["vak-tcn", "plot", csv, "--out", tmp_path])
    for produced in (figure, figure.replace(".png", ".svg"), "post-processing.png"):
        assert (tmp_path / produced).stat().st_size > 10_000, produced
    assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_reports_a_bad_csv_clearly(tmp_path, capsys):
    from vak_tcn import cli

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    status = cli.main(["plot", str(bad), "--out", str(tmp_path)])  # in-process: a traceback would fail the test
    stderr = capsys.readouterr().err
    assert status == 2 and "bad.csv" in stderr and "Metric" in stderr, stderr


def test_summary_conversions():
    lc = pd.DataFrame(
        {
            "train_dur": [30.0],
            "replicate_num": [2],
            "avg_val_acc_epoch": [0.9],
            "avg_val_acc_tfm_epoch": [0.95],
            "avg_val_character_error_rate_epoch": [0.12],
            "avg_val_precision_epoch": [0.5],
            "avg_val_edit_epoch": [0.8],
            "avg_val_f1_50_epoch": [0.25],
            "avg_val_f1_50_macro_epoch": [0.5],
        }
    )
    df = summary.tidy(lc, {"Model": "TCN", "Window Size": 176, "Loss": "CE+gsTMSE"})
    values = dict(zip(df["variable"], df["value"]))
    assert values["frame_error"] == pytest.approx(10.0) and values["frame_error_tfm"] == pytest.approx(5.0)
    assert values["character_error_rate"] == pytest.approx(12.0) and values["precision"] == pytest.approx(50.0)
    # vak-tcn's columns are fractions, like vak's; the summary has the poster's percents
    assert values["edit"] == pytest.approx(80.0) and values["f1_50"] == pytest.approx(25.0)
    assert set(df[df["variable"] == "f1_50"]["Metric"]) == {"F1@50 (%)"}
    assert not any("macro" in v for v in values)  # the summary's F1@k is MS-TCN's pooled one
    assert set(df[df["variable"] == "frame_error_tfm"]["Post-processing"]) == {"fixed"}  # no tuned: _tfm is fixed


def test_summary_has_raw_fixed_and_tuned_clean_up():
    """vak-tcn's models log _tuned and _fixed beside vak's _tfm (= the tuned one): three variants."""
    lc = pd.DataFrame(
        {
            "train_dur": [30.0],
            "replicate_num": [1],
            "avg_val_character_error_rate_epoch": [0.30],
            "avg_val_character_error_rate_tfm_epoch": [0.02],
            "avg_val_character_error_rate_fixed_epoch": [0.05],
            "avg_val_character_error_rate_tuned_epoch": [0.02],
            "avg_val_acc_epoch": [0.9],
            "avg_val_acc_tfm_epoch": [0.97],  # tuned, no _fixed: the config had no post_tfm_kwargs
            "avg_val_acc_tuned_epoch": [0.97],
        }
    )
    df = summary.tidy(lc, {"Model": "TCN", "Window Size": 176, "Loss": "CE"})
    got = {(r["variable"], r["Post-processing"]): r["value"] for _, r in df.iterrows()}
    assert got == pytest.approx(
        {
            ("character_error_rate", "raw"): 30.0,
            ("character_error_rate_tfm", "fixed"): 5.0,
            ("character_error_rate_tuned", "tuned"): 2.0,
            ("frame_error", "raw"): 10.0,
            ("frame_error_tuned", "tuned"): 3.0,
        }
    )
    assert list(df.columns) == summary.COLUMNS
    assert poster.loss_label(None) == "CE" and poster.loss_label({"tmse_weight": 0}) == "CE"
    assert poster.loss_label({"tmse_weight": 0.15}) == "CE+TMSE"
    assert poster.loss_label({"tmse_weight": 0.15, "similarity": "gaussian"}) == "CE+gsTMSE"


# ---- the grid runner: local cluster, interruption, resume ----------------------------------


@pytest.mark.parametrize(
    "model, network, label",
    [
        ("TCN", {"causal": True}, "TCN"),  # the poster's
        ("TCN", None, "TCN centred"),  # the networks' default
        ("ConvTCN", {"causal": True, "stages": 3}, "ConvTCN 3-stage"),
        ("TCN", {"stages": 2, "stage_layers": 6}, "TCN centred 2-stage"),
        ("TCN", {"causal": False, "stages": 1}, "TCN centred"),
        ("TweetyNetPlugin", {"hidden_size": 256}, "TweetyNet"),
        ("TweetyNet", None, "TweetyNet"),  # vak's own model, not in the catalogue
    ],
)
def test_summary_names_each_tcn_variant(model, network, label):
    assert summary.variant_label(model, network) == label


def tiny_config(tmp_path, song_dir, name, model, results_dir) -> pathlib.Path:
    doc = configs.vak_config(
        **learncurve_kwargs(
            tmp_path,
            song_dir,
            model=model,
            results_dir=results_dir,
            val_step=5,
            ckpt_step=5,
            network={"out_channels": 8, "num_layers": 3},
            loss=poster.LOSSES["CE+gsTMSE"] if model == "TCN" else poster.LOSSES["CE"],
        )
    )
    return configs.write_config(doc, tmp_path / "configs" / name)


@pytest.mark.slow
@pytest.mark.orchestration
def test_grid_runs_resumes_after_interruption_and_summarizes(tmp_path, song_dir):
    """Two configs that share a file name and a results directory (one/TCN.toml, a TCN, and
    two/TCN.toml, a ConvTCN) on a 2-worker local cluster: two runs, each with its own record;
    killed and resumed; a lost record rebuilt from the results it finds; summary and figures."""
    results = tmp_path / "results" / "shared"
    a = tiny_config(tmp_path, song_dir, "one/TCN.toml", "TCN", results)
    b = tiny_config(tmp_path, song_dir, "two/TCN.toml", "ConvTCN", results)
    steps = {"VAK_TCN_MAX_STEPS": "10"}

    def curves():
        return sorted(results.glob("results_*/learning_curve.csv"))

    # 1. run A alone to completion
    run_cli(["vak-tcn", "grid", a, "--workers", "2"], **steps)
    (a_curve,) = curves()
    a_mtime = a_curve.stat().st_mtime

    # 2. run A + B on 2 workers; kill everything as soon as B has started training (vak made its
    # results directory, next to A's)
    proc = subprocess.Popen(
        [console_script("vak-tcn"), "grid", str(a), str(b), "--workers", "2"],
        env=vak_env(**steps),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 600
    while time.time() < deadline and len(list(results.glob("results_*/TCN.toml"))) < 2:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    (b_partial,) = [p for p in results.glob("results_*") if p != a_curve.parent]
    assert not (b_partial / "learning_curve.csv").exists()

    # 3. rerun: A is skipped untouched, B's partial results are kept aside and B is redone
    out = run_cli(["vak-tcn", "grid", a, b, "--workers", "2"], **steps).stdout
    assert "one/TCN.toml: already finished" in out and "two/TCN.toml: done in" in out, out
    assert a_curve in curves() and a_curve.stat().st_mtime == a_mtime
    assert (b_partial.parent / f"interrupted-{b_partial.name}").is_dir()
    both = curves()
    models = {tuple(tomlkit.parse((c.parent / "TCN.toml").read_text())["vak"]["learncurve"]["model"]) for c in both}
    assert len(both) == 2 and models == {("TCN",), ("ConvTCN",)}  # one file name, two runs
    records = sorted((results / ".vak-tcn").glob("TCN-*.json"))
    states = [json.loads(r.read_text()) for r in records]
    assert [s["status"] for s in states] == ["done", "done"]
    assert {pathlib.Path(s["results"]) for s in states} == {c.parent for c in both}
    # prep ran once for both configs: one dataset, written into both
    assert configs.dataset_path(a) == configs.dataset_path(b)
    assert len([p for p in (tmp_path / "prep").iterdir() if p.is_dir()]) == 1

    # 4. a lost record is rebuilt from the results it finds, and said so; nothing is trained again
    records[0].unlink()
    out = run_cli(["vak-tcn", "grid", a, b, "--workers", "2"], **steps).stdout
    assert out.count("TCN.toml: already finished") == 1, out
    assert out.count("TCN.toml: finished earlier (results found, run record rewritten)") == 1, out
    assert "None s" not in out
    assert curves() == both and len(list((results / ".vak-tcn").glob("TCN-*.json"))) == 2

    # 5. summary + figures from this real run
    csv = tmp_path / "summary.csv"
    run_cli(["vak-tcn", "summarize", tmp_path / "results", "--out", csv])
    df = pd.read_csv(csv)
    # no causal key: the networks' default, centred, which the summary names
    assert set(df["Model"]) == {"TCN centred", "ConvTCN centred"} and set(df["Loss"]) == {"CE+gsTMSE", "CE"}
    assert set(df["Window Size"]) == {64} and np.isfinite(df["value"]).all()
    assert {"Precision (%)", "F1@50 (%)", "Frame Error (%)"} <= set(df["Metric"])
    bounded = df["Metric"].isin(["Precision (%)", "Edit score (%)", "F1@10 (%)", "F1@50 (%)"])
    assert df[bounded]["value"].between(0, 100).all()  # percents of fractions, not percents of percents
    paths = plots.plot(csv, tmp_path / "figures")
    assert (tmp_path / "figures" / "loss.png").exists() and all(p.stat().st_size > 5000 for p in paths)


@pytest.mark.slow
@pytest.mark.orchestration
@pytest.mark.in_vak11  # the longest orchestration test: it balances the two environments' times
def test_demo_command_runs_the_whole_study_and_resumes(tmp_path):
    """README command 1, shortened: `vak-tcn demo` with few training steps."""
    out = tmp_path / "demo"
    args = ["vak-tcn", "demo", "--out", out, "--max-steps", "4"]
    text = run_cli(args).stdout
    for step in ("[1/4] generating synthetic song", "[2/4] 5 vak configs", "[3/4]", "[4/4]", "demo finished in"):
        assert step in text, step
    assert str(out / "summary.csv") in text and str(out / "figures") in text
    df = pd.read_csv(out / "summary.csv")
    # the TCNs are centred (the networks' default): the poster's single-stage TCN with both of its losses,
    # and the recommended configuration (3 stages, CE+TMSE) of each TCN model
    losses = df.groupby("Model")["Loss"].unique().map(frozenset).to_dict()
    assert losses == {
        "TweetyNet": {"CE"},
        "TCN centred": {"CE", "CE+gsTMSE"},
        "TCN centred 3-stage": {"CE+TMSE"},
        "ConvTCN centred 3-stage": {"CE+TMSE"},
    }
    assert set(df["Post-processing"]) == {"raw", "fixed", "tuned"} and np.isfinite(df["value"]).all()
    assert {"Frame Error (%)", "Precision (%)", "Recall (%)", "F1@50 (%)"} <= set(df["Metric"])
    overview = (out / "overview.txt").read_text()
    assert overview.startswith("Mean over replicates") and "TCN" in overview and "CE+gsTMSE" in overview
    assert "Character Error Rate (fixed)" in overview and "Character Error Rate (tuned)" in overview
    assert all((out / "figures" / f"{name}.png").stat().st_size > 5000 for name in ("loss", "post-processing"))
    # run again: corpus, configs and finished runs are reused, nothing is trained twice
    curves = sorted((out / "results").rglob("learning_curve.csv"))
    again = run_cli(args).stdout
    assert "using the synthetic song already" in again and "5 already finished" in again
    assert sorted((out / "results").rglob("learning_curve.csv")) == curves


def test_grid_runs_share_the_cores_instead_of_dasks_one_thread():
    assert settings.thread_env(1, environ={}, cpus=2) == {
        "OMP_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
    }
    assert set(settings.thread_env(2, environ={}, cpus=2).values()) == {"1"}
    assert set(settings.thread_env(3, environ={}, cpus=16).values()) == {"5"}
    assert settings.thread_env(1, environ={"MKL_NUM_THREADS": "7"}, cpus=2)["MKL_NUM_THREADS"] == "7"  # the user's wins


def test_heartbeat_says_what_each_run_is_doing(tmp_path):
    run = grid.Run(tmp_path / "TCN_CE.toml", "learncurve", tmp_path / "results", "key")
    assert grid.activity(run) is None  # no log yet
    log = run.state_file.with_suffix(".log")
    log.parent.mkdir(parents=True)
    log.write_text("\n==== 2026-11-25T11:00:00 vak prep /x/TCN_CE.toml\nprep output\n")
    assert grid.activity(run) == "TCN_CE: vak prep"
    with log.open("a") as fh:
        fh.write("\n==== 2026-11-25T11:01:00 vak prep ended (exit 0)\n")
    assert grid.activity(run) is None  # prep ended, learncurve not started: waiting, not running
    bars = "".join(
        f"\rEpoch 0:   {i // 25}%|▋         | {i}/2491 [00:{i:02d}<24:17,  1.59it/s, v_num=0]" for i in range(1, 60)
    )
    with log.open("a") as fh:
        fh.write(
            f"\n==== 2026-11-25T11:02:00 vak learncurve /x/TCN_CE.toml\n{bars}\rValidation DataLoader 0:  50%|█ | 3/6"
        )
    assert grid.activity(run) == "TCN_CE: vak learncurve, epoch 0, batch 59/2491"
    os.utime(log, (time.time() - 600, time.time() - 600))
    assert grid.activity(run) is None  # idle: not reported as running


def test_demo_rejects_too_few_bouts_naming_the_option(tmp_path, capsys):
    from vak_tcn import cli

    status = cli.main(["demo", "--out", str(tmp_path / "d"), "--bouts", "5"])  # in-process
    stderr = capsys.readouterr().err
    assert status == 2 and "--bouts must be at least 20" in stderr, stderr
    assert not (tmp_path / "d").exists()  # nothing written
