"""Seeds in the grid and the demo, provenance in the summary, mean ± SD over repeats (no training)."""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pandas as pd
import pytest
import tomlkit

from vak_tcn import cli, settings
from vak_tcn.experiments import configs, demo, reproducibility, runner, summary
from vak_tcn.models import provenance, seeding
from vak_tcn.plugins import vak_compat

VERSIONS = {"vak-tcn": "0.1.0", "vak": "1.0.4", "torch": "2.7.0", "lightning": "2.5.0", "numpy": "2.1.0"}


def test_grid_runs_get_their_own_seeds_and_a_rerun_the_same():
    env = {"VAK_TCN_MAX_STEPS": "4"}
    a = reproducibility.run_env(env, 0, "TCN_CE")
    assert a == {"VAK_TCN_MAX_STEPS": "4", "VAK_TCN_SEED": str(seeding.derive_seed(0, "TCN_CE"))}
    assert reproducibility.run_env(env, 0, "TCN_CE") == a
    assert reproducibility.run_env(env, 0, "TCN_CE_rep2")["VAK_TCN_SEED"] != a["VAK_TCN_SEED"]
    assert reproducibility.run_env(env, 1, "TCN_CE")["VAK_TCN_SEED"] != a["VAK_TCN_SEED"]
    assert reproducibility.run_env(env, None, "TCN_CE") == env  # unseeded grid: the environment as given
    assert env == {"VAK_TCN_MAX_STEPS": "4"}


def fake_learncurve(
    results_root: pathlib.Path, config: pathlib.Path, seed: int | None, versions: dict, acc: list[float]
) -> pathlib.Path:
    """A vak learncurve results directory as vak + vak-tcn leave it: config copy, curve, records."""
    results = results_root / f"results_{len(list(results_root.glob('results_*')))}"
    results.mkdir(parents=True)
    shutil.copy(config, results / config.name)
    rows = []
    for rep, value in enumerate(acc, start=1):
        rows.append(
            {"train_dur": 40.0, "replicate_num": rep, "avg_val_acc_epoch": value, "avg_val_fscore_epoch": value}
        )
        replicate = results / "train_dur_40s" / f"replicate_{rep}"
        replicate.mkdir(parents=True)
        record = {
            "schema": 1,
            "versions": {**versions, "python": "3.11.7"},
            "seed": {"seed": seed, "effective_seed": None if seed is None else seeding.derive_seed(seed, 2 * rep - 2)},
            "dataset": {"train_dur": 40.0, "replicate_num": rep},
        }
        provenance.write_json(replicate / provenance.FILENAME, record)
    pd.DataFrame(rows).to_csv(results / "learning_curve.csv", index=False)
    return results


def write_config(tmp_path: pathlib.Path, name: str, model: str = "TCN") -> pathlib.Path:
    doc = configs.vak_config(
        command="learncurve",
        model=model,
        data_dir=tmp_path / "data",
        prep_output_dir=tmp_path / "prep",
        results_dir=tmp_path / "results" / name,
        labelset="ab",
        window_size=64,
    )
    return configs.write_config(doc, tmp_path / "configs" / f"{name}.toml", make_dirs=False)


def test_summary_carries_seed_and_versions_and_warns_on_mixed_versions(tmp_path):
    cfg = write_config(tmp_path, "TCN_CE")
    fake_learncurve(tmp_path / "results" / "TCN_CE", cfg, 11, VERSIONS, [0.9, 0.8])
    df = summary.summarize([tmp_path / "results"], tmp_path / "summary.csv")
    written = pd.read_csv(tmp_path / "summary.csv")
    assert list(written.columns) == summary.COLUMNS + reproducibility.PROVENANCE_COLUMNS
    assert set(written["seed"]) == {11} and set(written["vak_version"]) == {"1.0.4"}
    assert set(written["vak_tcn_version"]) == {"0.1.0"} and set(written["torch_version"]) == {"2.7.0"}
    assert len(df) == len(written) == 2 * 2 * 1  # 2 replicates x (frame error, F-score) x raw only

    # a run made with another vak: summarized, with a warning naming the versions
    other = write_config(tmp_path, "TCN_CE_rep2")
    fake_learncurve(tmp_path / "results" / "TCN_CE_rep2", other, 12, {**VERSIONS, "vak": "1.1.0"}, [0.7])
    with pytest.warns(reproducibility.MixedVersionsWarning, match=r"vak 1\.0\.4, 1\.1\.0"):
        df = summary.summarize([tmp_path / "results"], tmp_path / "summary.csv")
    assert set(zip(df["seed"], df["vak_version"])) == {(11, "1.0.4"), (12, "1.1.0")}


def test_summary_of_runs_without_records_has_empty_provenance_columns(tmp_path, recwarn):
    cfg = write_config(tmp_path, "TweetyNet_CE", model="TweetyNet")
    results = fake_learncurve(tmp_path / "results" / "TweetyNet_CE", cfg, None, VERSIONS, [0.9])
    for record in results.rglob(provenance.FILENAME):
        record.unlink()  # vak's own TweetyNet: no vak-tcn model, no record
    summary.summarize([tmp_path / "results"], tmp_path / "summary.csv")
    written = pd.read_csv(tmp_path / "summary.csv")
    assert written[reproducibility.PROVENANCE_COLUMNS].isna().all().all()
    assert not [w for w in recwarn if issubclass(w.category, reproducibility.MixedVersionsWarning)]


def test_overview_gives_mean_and_sd_over_seeds():
    rows = []
    for model, values in (("TCN", [2.0, 4.0, 6.0]), ("TweetyNet", [1.0, 1.0, 1.0])):
        for seed, value in enumerate(values):
            for post in ("raw", "fixed", "tuned"):
                rows.append(
                    {"Model": model, "Loss": "CE", "Metric": "Frame Error (%)", "Post-processing": post, "value": value}
                )
                rows.append(
                    {"Model": model, "Loss": "CE", "Metric": "F1@50 (%)", "Post-processing": post, "value": 50.0 + seed}
                )
    text = demo._overview(pd.DataFrame(rows))
    assert text.splitlines()[0].startswith("Mean ± SD over 3 runs per cell")
    tcn = next(line for line in text.splitlines() if line.startswith("TCN"))
    assert "4.0 ± 2.0" in tcn and "51.0 ± 1.0" in tcn
    assert text.splitlines()[1].split()[:4] == ["Frame", "Error", "Frame", "Error"]  # raw, then (fixed), (tuned)
    assert "Frame Error (fixed)" in text and "F1@50 (tuned)" in text
    assert "1.0 ± 0.0" in next(line for line in text.splitlines() if line.startswith("TweetyNet"))
    single = demo._overview(pd.DataFrame([r for r in rows if r["value"] in (2.0, 50.0)][:2]))
    assert single.startswith("Mean over replicates") and "±" not in single


def test_demo_repeat_writes_a_config_per_model_and_repeat(tmp_path):
    paths = demo.write_demo_configs(tmp_path, tmp_path / "corpus", "abcdef", 256, 30, "cpu", repeat=3)
    names = [p.stem for p in paths]
    assert len(paths) == 3 * len(demo.DEMO_RUNS) and len(set(names)) == len(names)
    first = [name for name, *_ in demo.DEMO_RUNS]
    assert names[: len(first)] == first  # the first repeat keeps the names of a plain demo
    assert {f"{name}_rep2" for name in first} | {f"{name}_rep3" for name in first} == set(names[len(first) :])
    results = {tomlkit.parse(p.read_text())["vak"]["learncurve"]["root_results_dir"] for p in paths}
    assert len(results) == len(paths)  # each run its own results directory


def test_demo_repeat_runs_seeded_and_reports_the_spread(tmp_path, monkeypatch, capsys):
    """The demo with --repeat 3, the training replaced by fake results (vak is tested elsewhere)."""
    monkeypatch.setattr(
        demo.corpus, "make_corpus", lambda out, **kw: (out.mkdir(parents=True), (out / "a.wav").touch())
    )
    seen = {}

    def fake_grid(config_paths, workers, env, seed):
        seen.update(seed=seed, env=env, n=len(config_paths))
        rng = np.random.default_rng(0)
        for path in config_paths:
            root = pathlib.Path(tomlkit.parse(path.read_text())["vak"]["learncurve"]["root_results_dir"])
            run_seed = int(reproducibility.run_env({}, seed, path.stem)["VAK_TCN_SEED"])
            fake_learncurve(root, path, run_seed, VERSIONS, [float(rng.uniform(0.8, 0.95))])

    monkeypatch.setattr(runner, "run_grid", fake_grid)
    out = demo.run_demo(tmp_path / "demo", steps=30, n_bouts=20, seed=5, repeat=3)
    assert seen == {"seed": 5, "env": {"VAK_TCN_MAX_STEPS": "30"}, "n": 3 * len(demo.DEMO_RUNS)}
    df = pd.read_csv(out["summary"])
    per_model = df[df["Metric"] == "Frame Error (%)"].groupby(["Model", "Loss"])["seed"].nunique()
    assert (per_model == 3).all()  # three seeds behind every model's numbers
    overview = (tmp_path / "demo" / "overview.txt").read_text()
    assert overview.startswith("Mean ± SD over 3 runs per cell") and "±" in overview.splitlines()[-1]
    assert (tmp_path / "demo" / "figures" / "loss.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["learncurve", "--seed", "-1", "CONFIG"], "--seed must be an integer in [0, 2**32 - 1], got -1"),
        (["train", "--seed", str(2**32), "CONFIG"], "--seed must be an integer"),
        (["grid", "--seed", "-2", "CONFIG"], "seed must be an integer in [0, 2**32 - 1], got -2"),
        (["demo", "--out", "OUT", "--repeat", "0"], "--repeat must be at least 1, got 0"),
    ],
)
def test_bad_seed_or_repeat_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    config = write_config(tmp_path, "TCN_CE")
    argv = [str(config) if a == "CONFIG" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_seed_option_sets_the_variable_for_the_vak_run(tmp_path, monkeypatch):
    config = write_config(tmp_path, "TCN_CE")
    monkeypatch.delenv("VAK_TCN_SEED", raising=False)
    seen = {}
    monkeypatch.setattr(cli, "_load", lambda: None)
    monkeypatch.setattr(vak_compat, "check_config", lambda *args, **kwargs: None)  # no prepared dataset here
    import vak.cli.cli

    monkeypatch.setattr(vak.cli.cli, "cli", lambda command, config_file: seen.update(seed=settings.resolve("seed")))
    assert cli.main(["learncurve", "--seed", "42", str(config)]) == 0
    assert seen == {"seed": 42}
    monkeypatch.delenv("VAK_TCN_SEED")
    assert cli.main(["train", str(config)]) == 0 and seen == {"seed": None}  # no --seed: as given
    assert "seed" not in vars(cli.build_parser().parse_args(["eval", str(config)]))


def test_prep_with_a_seed_splits_the_same_way(tmp_path, monkeypatch):
    """vak prep draws its train/val/test split with Python's random module."""
    import random

    import vak.cli.cli

    config = write_config(tmp_path, "TCN_CE")
    monkeypatch.setattr(cli, "_load", lambda: None)
    draws = []
    monkeypatch.setattr(vak.cli.cli, "cli", lambda command, config_file: draws.append(random.random()))
    for seed in ("3", "3", "4"):
        monkeypatch.delenv("VAK_TCN_SEED", raising=False)
        assert cli.main(["prep", "--seed", seed, str(config)]) == 0
    random.seed(3)
    assert draws[0] == draws[1] == random.random() and draws[2] != draws[0]


def test_record_fields_round_trip(tmp_path):
    path = tmp_path / provenance.FILENAME
    provenance.write_json(path, {"seed": {"seed": 1}})
    assert provenance.read(path) == {"seed": {"seed": 1}}
    assert provenance.read(tmp_path / "missing.json") is None
    path.write_text("{not json")
    assert provenance.read(path) is None
    assert json.loads(json.dumps(reproducibility.mixed_versions([tmp_path]))) == {}
