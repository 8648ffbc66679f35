"""Seeded networks (VAK_TCN_SEED, the network table's ``seed``) and the provenance helpers, in process."""

from __future__ import annotations

import inspect
import itertools
import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch
import vak  # noqa: F401  (loads the plugins through the start-up hook, or below)

from vak_tcn import plugins
from vak_tcn.models import provenance, seeding
from vak_tcn.nn.tcn import TCN

plugins.load_plugins()

LABELMAP = {"background": 0, "a": 1, "b": 2}


def build(name="TCN", **network):
    import vak.models

    config = {
        "network": {**({"out_channels": 8, "num_layers": 2} if name != "TweetyNetPlugin" else {}), **network},
        "optimizer": {"lr": 0.001},
        "loss": {},
        "metrics": {},
    }
    return vak.models.get(name, config, input_shape=(1, 64, 32), num_classes=3, labelmap=LABELMAP)


def weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.network.parameters()])


@pytest.fixture
def fresh_process(monkeypatch):
    """As in a new process: no network built yet, no seed variables set."""
    monkeypatch.setattr(seeding, "_builds", itertools.count())
    monkeypatch.delenv("VAK_TCN_SEED", raising=False)
    monkeypatch.delenv("VAK_TCN_DETERMINISTIC", raising=False)


def test_seeded_network_looks_like_the_network_to_vak():
    from vak.models import registry

    for name in ("TCN", "ConvTCN", "TweetyNetPlugin"):
        network = registry.MODEL_REGISTRY[name].definition.network
        original = network.__mro__[1]
        assert network.__name__ == original.__name__ and network.__qualname__ == original.__qualname__
        assert network.__module__ == original.__module__ and issubclass(network, original)
        # vak reads the signature for num_input_channels / num_freqbins
        assert inspect.signature(network.__init__) == inspect.signature(original.__init__)
    assert registry.MODEL_REGISTRY["TCN"].definition.network.__mro__[1] is TCN


@pytest.mark.parametrize("name", ["TCN", "TweetyNetPlugin"])
def test_same_seed_and_build_index_give_the_same_weights(fresh_process, monkeypatch, name):
    monkeypatch.setenv("VAK_TCN_SEED", "5")
    first, second = build(name), build(name)  # builds 0 and 1 of this process: replicates differ
    assert not torch.equal(weights(first), weights(second))
    monkeypatch.setattr(seeding, "_builds", itertools.count())  # a rerun, in a new process
    assert torch.equal(weights(build(name)), weights(first))
    assert torch.equal(weights(build(name)), weights(second))
    monkeypatch.setattr(seeding, "_builds", itertools.count())
    monkeypatch.setenv("VAK_TCN_SEED", "6")
    assert not torch.equal(weights(build(name)), weights(first))


def test_seed_also_seeds_what_follows_the_build(fresh_process, monkeypatch):
    """The sampler's shuffle and dropout draw from torch's generator after the build."""
    monkeypatch.setenv("VAK_TCN_SEED", "5")
    build()
    after = torch.rand(4)
    monkeypatch.setattr(seeding, "_builds", itertools.count())
    build()
    assert torch.equal(torch.rand(4), after)
    monkeypatch.setattr(seeding, "_builds", itertools.count())
    monkeypatch.setenv("VAK_TCN_SEED", "8")  # another seed: other draws after the build too
    build()
    assert not torch.equal(torch.rand(4), after)


def test_a_config_check_before_the_run_does_not_shift_its_seeds(fresh_process, monkeypatch, tmp_path):
    """`vak-tcn learncurve --seed 7` checks the config (building the network once) before vak runs:
    the run must get the weights and random state of `VAK_TCN_SEED=7 vak learncurve`."""
    from vak_tcn.plugins import vak_compat

    monkeypatch.setenv("VAK_TCN_SEED", "7")
    expected, after = weights(build()), torch.rand(4)
    monkeypatch.setattr(seeding, "_builds", itertools.count())
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    with seeding.side_effect_free_builds():
        vak_compat.model_attributes("TCN", {"network": {"out_channels": 8, "num_layers": 2}})
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(weights(build()), expected) and torch.equal(torch.rand(4), after)


def test_build_record(fresh_process, monkeypatch):
    monkeypatch.setenv("VAK_TCN_SEED", "5")
    build()
    model = build(dropout=0.1)
    record = getattr(model.network, seeding.BUILD_ATTR)
    assert record == {
        "seed": 5,
        "seed_source": "VAK_TCN_SEED",
        "build_index": 1,
        "effective_seed": seeding.derive_seed(5, 1),
        "deterministic": False,
        "network": "vak_tcn.nn.tcn.TCN",
        "network_kwargs": {
            "num_classes": 3,
            "num_input_channels": 1,
            "num_freqbins": 64,
            "out_channels": 8,
            "num_layers": 2,
            "kernel_size": 2,
            "dropout": 0.1,
            "causal": False,  # the default: centred
            "lookahead": None,  # the default: none
            "stages": 1,
            "stage_layers": 10,
            "stage_channels": 64,
            "stage_kernel_size": 3,
            "stage_dropout": 0.5,
        },
    }
    json.dumps(record)  # goes into the provenance record as is


def test_unseeded_by_default(fresh_process):
    model = build()
    record = getattr(model.network, seeding.BUILD_ATTR)
    assert record["seed"] is None and record["effective_seed"] is None and record["seed_source"] is None


def test_seed_from_the_network_table_and_the_variable_wins(fresh_process, monkeypatch):
    a = build(seed=3)
    assert getattr(a.network, seeding.BUILD_ATTR)["seed_source"] == "config"
    assert "seed" not in getattr(a.network, seeding.BUILD_ATTR)["network_kwargs"]  # not passed to the network
    monkeypatch.setattr(seeding, "_builds", itertools.count())
    monkeypatch.setenv("VAK_TCN_SEED", "3")
    b = build()
    assert torch.equal(weights(a), weights(b))
    monkeypatch.setattr(seeding, "_builds", itertools.count())
    c = build(seed=4)  # VAK_TCN_SEED=3 wins over the config's 4
    assert getattr(c.network, seeding.BUILD_ATTR)["seed"] == 3
    assert torch.equal(weights(c), weights(b))


@pytest.mark.parametrize("value", ["-1", "x", "1.5", str(2**32)])
def test_bad_seed_names_the_variable(fresh_process, monkeypatch, value):
    monkeypatch.setenv("VAK_TCN_SEED", value)
    with pytest.raises(ValueError, match="VAK_TCN_SEED must be an integer"):
        build()


def test_bad_seed_in_the_network_table_names_the_key(fresh_process):
    with pytest.raises(ValueError, match="network parameter 'seed' must be an integer"):
        build(seed="abc")


def test_deterministic_mode(fresh_process, monkeypatch):
    monkeypatch.setenv("VAK_TCN_DETERMINISTIC", "1")
    monkeypatch.setenv("VAK_TCN_SEED", "1")
    try:
        model = build()
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert getattr(model.network, seeding.BUILD_ATTR)["deterministic"] is True
    finally:
        torch.use_deterministic_algorithms(False)
    monkeypatch.setenv("VAK_TCN_DETERMINISTIC", "maybe")
    with pytest.raises(ValueError, match="VAK_TCN_DETERMINISTIC"):
        build()


def test_derive_seed_is_stable_and_spreads():
    assert seeding.derive_seed(0, 0) == seeding.derive_seed(0, 0)
    seeds = {seeding.derive_seed(s, n) for s in range(5) for n in range(5)}
    assert len(seeds) == 25 and all(0 <= s < 2**32 for s in seeds)
    assert seeding.derive_seed(1, "TCN_CE") != seeding.derive_seed(1, "TCN_CE_rep2")
    # stable across processes (a string key is hashed with SHA-256, not hash())
    code = "from vak_tcn.models.seeding import derive_seed; print(derive_seed(1, 'TCN_CE'))"
    env = {**os.environ, "PYTHONHASHSEED": "1", "VAK_TCN_DISABLE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=300)
    assert int(out.stdout) == seeding.derive_seed(1, "TCN_CE")


# ---- provenance helpers ----------------------------------------------------------------


def test_versions_and_git():
    import importlib.metadata
    import platform

    found = provenance.versions()
    assert found["vak"] == importlib.metadata.version("vak")
    assert found["torch"] == importlib.metadata.version("torch")
    assert found["python"] == platform.python_version()


def test_git_info_of_a_vak_tcn_checkout_clean_and_dirty(tmp_path):
    """What a run from a checkout records (tox tests an installed wheel, where git_info is None)."""
    package = tmp_path / "src" / "vak_tcn"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")

    def git(*args):
        cmd = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    commit = git("rev-parse", "HEAD")
    assert provenance.git_info.__wrapped__(str(package)) == {"commit": commit, "dirty": False}
    (tmp_path / "notes.txt").write_text("untracked, outside src")
    assert provenance.git_info.__wrapped__(str(package))["dirty"] is False
    (package / "__init__.py").write_text("x = 1\n")  # the code that ran differs from the commit
    assert provenance.git_info.__wrapped__(str(package)) == {"commit": commit, "dirty": True}


def test_git_info_is_null_outside_vak_tcns_checkout(tmp_path):
    package = tmp_path / "site-packages" / "vak_tcn"
    package.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=60)  # some other repository
    assert provenance.git_info.__wrapped__(str(package)) is None
    assert provenance.git_info.__wrapped__(str(tmp_path / "nowhere")) is None


def test_write_json_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / provenance.FILENAME
    provenance.write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    (tmp_path / "other").write_text("")
    assert path.stat().st_mode == (tmp_path / "other").stat().st_mode  # permissions like any file's
    (tmp_path / "other").unlink()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dumps", fail)
    with pytest.raises(OSError):
        provenance.write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}  # the old record survives
    assert [p.name for p in tmp_path.iterdir()] == [provenance.FILENAME]  # no temp file left


def test_model_info_reads_loss_and_metrics(fresh_process):
    import vak.models

    config = {
        "network": {"out_channels": 8, "num_layers": 2},
        "optimizer": {"lr": 0.01},
        "loss": {"tmse_weight": 0.2, "similarity": "gaussian"},
        "metrics": {"segmentation": {"tolerance": 0.01}},
    }
    model = vak.models.get("TCN", config, input_shape=(1, 64, 32), num_classes=3, labelmap=LABELMAP)
    info = provenance.model_info(model)
    assert info["network"] == "vak_tcn.nn.tcn.TCN" and info["network_kwargs"]["out_channels"] == 8
    assert info["loss"]["name"] == "smoothed_cross_entropy"
    assert info["loss"]["selected"]["tmse_weight"] == 0.2 and info["loss"]["selected"]["similarity"] == "gaussian"
    assert info["metrics"]["segmentation"]["tolerance"] == 0.01
    assert info["optimizer"]["lr"] == 0.01
    json.dumps(info)


def test_dataset_info(tmp_path):
    (tmp_path / "metadata.json").write_text(json.dumps({"dataset_csv_filename": "d.csv"}))
    (tmp_path / "d.csv").write_text("a,b\n")

    class Dataset:
        dataset_path = pathlib.Path(tmp_path)
        subset = "train-dur-4.0-replicate-2"

    info = provenance.dataset_info(Dataset())
    assert info["path"] == str(tmp_path) and info["csv"] == "d.csv"
    assert info["metadata_sha256"] == provenance.file_sha256(tmp_path / "metadata.json")
    assert len(info["csv_sha256"]) == 64
    assert (info["train_dur"], info["replicate_num"]) == (4.0, 2)
    assert provenance.dataset_info(object())["path"] is None
