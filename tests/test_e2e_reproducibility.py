"""Seeded runs and provenance through the stock vak CLI (issue 17).

One ``vak prep``, then two ``vak learncurve`` runs of a small TCN (two replicates each, 20
steps): seed 7 through ``VAK_TCN_SEED`` and seed 7 again through ``vak-tcn learncurve --seed``, each
in its own process.  The same seed gives identical learning curves; every replicate's results
directory has a provenance record; the summary CSV carries seed and versions.  That another seed
gives other weights and other random draws after the build is in tests/models/test_seeding.py
(in process: a seed reaches the network through the same ``VAK_TCN_SEED`` read either way).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import pathlib
import platform

import pandas as pd
import pytest

from vak_tcn.experiments import configs, summary
from vak_tcn.models import provenance, seeding

from helpers.cli import run_cli
from helpers.data import learncurve_kwargs

pytestmark = pytest.mark.slow

SMALL_TCN = {"out_channels": 8, "num_layers": 3, "dropout": 0.2}


def learncurve(tmp_path: pathlib.Path, song_dir: pathlib.Path, name: str, **overrides) -> pathlib.Path:
    kwargs = learncurve_kwargs(
        tmp_path,
        song_dir,
        results_dir=tmp_path / name / "results",
        num_replicates=2,
        network=SMALL_TCN,
        loss={"tmse_weight": 0.15, "similarity": "gaussian", "sigma": 1.0, "normalize": "none"},
    )
    kwargs.update(overrides)
    return configs.write_config(configs.vak_config(**kwargs), tmp_path / name / "TCN.toml")


def curve(results: pathlib.Path) -> pd.DataFrame:
    (csv,) = results.glob("*/learning_curve.csv")
    df = pd.read_csv(csv)
    return df[[c for c in df.columns if c.startswith("avg_") or c in ("train_dur", "replicate_num")]]


def test_same_seed_same_learning_curve_and_provenance_in_every_results_dir(tmp_path, song_dir):
    prep_cfg = learncurve(tmp_path, song_dir, "prep-only")
    run_cli(["vak", "prep", prep_cfg])
    dataset = configs.dataset_path(prep_cfg)
    runs = {name: learncurve(tmp_path, song_dir, name, dataset_path=dataset) for name in ("a", "b")}
    run_cli(["vak", "learncurve", runs["a"]], VAK_TCN_SEED=7, VAK_TCN_MAX_STEPS=20)
    run_cli(["vak-tcn", "learncurve", "--seed", "7", runs["b"]], VAK_TCN_MAX_STEPS=20)
    a, b = (curve(tmp_path / name / "results") for name in ("a", "b"))

    assert len(a) == 2 and sorted(a["replicate_num"]) == [1, 2]
    assert "avg_val_acc_epoch" in a.columns and "avg_val_fscore_epoch" in a.columns
    pd.testing.assert_frame_equal(a, b, check_exact=True)  # same seed: bit-identical
    assert a.loc[0, "avg_val_loss_epoch"] != a.loc[1, "avg_val_loss_epoch"]  # replicates differ

    # a provenance record in every replicate's results directory
    for name, seed in (("a", 7), ("b", 7)):
        records = sorted((tmp_path / name / "results").glob(f"*/train_dur_*/replicate_*/{provenance.FILENAME}"))
        assert len(records) == 2, records
        effective = set()
        for path in records:
            record = json.loads(path.read_text())
            replicate_dir = path.parent
            assert (replicate_dir / "TCN" / "checkpoints").is_dir()
            assert record["schema"] == 1 and record["status"] == "finished"
            assert record["results_dir"] == str(replicate_dir)
            assert record["seed"]["seed"] == seed
            assert record["seed"]["seed_source"] == "VAK_TCN_SEED"
            assert isinstance(record["seed"]["effective_seed"], int)
            effective.add(record["seed"]["effective_seed"])
            assert record["versions"] == {
                **{d: importlib.metadata.version(d) for d in ("vak-tcn", "vak", "torch", "lightning", "numpy")},
                "python": platform.python_version(),
            }
            # the checkout vak-tcn runs from, as this process sees it: None for an installed wheel
            # (as tox installs it); both branches of git_info are tested in tests/models/test_seeding.py
            assert record["git"] == provenance.git_info()
            model = record["model"]
            assert model["name"] == "TCN" and model["network"] == "vak_tcn.nn.tcn.TCN"
            assert {k: model["network_kwargs"][k] for k in SMALL_TCN} == SMALL_TCN
            assert model["network_kwargs"]["num_classes"] == 5  # 4 labels + background
            assert model["loss"]["selected"]["tmse_weight"] == 0.15
            assert model["loss"]["selected"]["similarity"] == "gaussian"
            assert model["metrics"]["segmentation"]["tolerance"] == 0.004
            assert model["optimizer"]["lr"] == 0.001
            data = record["dataset"]
            assert data["path"] == str(dataset)
            assert data["metadata_sha256"] == provenance.file_sha256(dataset / "metadata.json")
            assert data["csv_sha256"] == provenance.file_sha256(dataset / data["csv"])
            assert data["train_dur"] == 3.0
            assert f"replicate_{data['replicate_num']}" == replicate_dir.name
            assert record["machine"]["cpu_cores"] >= 1 and record["machine"]["cpu"]
            started = datetime.datetime.fromisoformat(record["started"])
            assert datetime.datetime.fromisoformat(record["ended"]) >= started
            assert record["global_step"] == 20
            assert record["environment"]["VAK_TCN_SEED"] == str(seed)
            assert record["environment"]["VAK_TCN_MAX_STEPS"] == "20"
            assert "learncurve" in record["command"] and record["command"][-1] == str(runs[name])
        assert len(effective) == 2  # replicates are seeded differently
        # the documented rule: build 0 trains replicate 1, build 1 evaluates it, build 2 trains replicate 2
        builds = {
            json.loads(p.read_text())["dataset"]["replicate_num"]: json.loads(p.read_text())["seed"] for p in records
        }
        assert {rep: seed_info["build_index"] for rep, seed_info in builds.items()} == {1: 0, 2: 2}
        assert builds[2]["effective_seed"] == seeding.derive_seed(seed, 2)
        (log,) = (tmp_path / name / "results").glob("*/learncurve_*.log")  # vak's own log says it too
        assert f"network 2 of this process seeded with {seeding.derive_seed(seed, 2)}" in log.read_text()
        assert not list((tmp_path / name).rglob("*.tmp"))  # atomic writes leave nothing behind

    # the summary carries seed and versions
    df = summary.summarize([tmp_path / name / "results" for name in "ab"], tmp_path / "summary.csv")
    written = pd.read_csv(tmp_path / "summary.csv")
    assert sorted(written["seed"].unique()) == [7]
    assert set(written["vak_tcn_version"]) == {importlib.metadata.version("vak-tcn")}
    assert set(written["vak_version"]) == {importlib.metadata.version("vak")}
    assert set(written["torch_version"]) == {importlib.metadata.version("torch")}
    assert len(df) == len(written)
