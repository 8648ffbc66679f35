"""A predict config that contradicts its checkpoint's training record is refused (issue 37, item 1):
causal and centred TCNs have the same weight shapes, so nothing else would notice."""

from __future__ import annotations

import json
import pathlib

import pytest
import soundfile

from helpers.cli import cli_in_process
from helpers.data import REAL_BOUT
from helpers.inference import make_predict_config

NETWORK = {"out_channels": 8, "num_layers": 3}


def record(config: pathlib.Path, **network_kwargs) -> None:
    """The provenance record a training run leaves (only its model's network keyword arguments)."""
    kwargs = {"num_classes": 4, "num_input_channels": 1, "num_freqbins": 152, "kernel_size": 2, "dropout": 0.2,
              **NETWORK, **network_kwargs}  # fmt: skip
    doc = {"schema": 1, "model": {"name": "TCN", "network_kwargs": kwargs}}
    (config.parent / "vak-tcn-provenance.json").write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def bout(tmp_path_factory) -> pathlib.Path:
    audio, rate = soundfile.read(REAL_BOUT / "bout_1.wav")
    path = tmp_path_factory.mktemp("bout") / "bout.wav"
    soundfile.write(path, audio[: rate * 2], rate)
    return path


def test_annotate_and_live_refuse_a_config_that_contradicts_the_checkpoints_record(tmp_path, bout, capsys):
    """A centred checkpoint under a config saying causal = true (and one that leaves the key out under a
    causal record): one line naming the key and both values, exit 2, nothing written."""
    config = make_predict_config(tmp_path / "causal", network={**NETWORK, "causal": True})
    record(config, causal=False)
    for argv in (
        ["annotate", config, bout, "--out", tmp_path / "out"],
        ["live", config, "--simulate", bout, "--speed", "0"],
    ):
        proc = cli_in_process(capsys, *argv)
        assert proc.returncode == 2, proc
        (line,) = proc.stderr.strip().splitlines()
        assert "[vak.predict.model.TCN.network] contradicts the trained model" in line
        assert "causal = true, the checkpoint was trained with causal = false" in line
        assert "vak-tcn-provenance.json" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

    default = make_predict_config(tmp_path / "default", network=NETWORK)  # causal left to the default (false)
    record(default, causal=True)
    proc = cli_in_process(capsys, "annotate", default, bout, "--out", tmp_path / "out2")
    assert proc.returncode == 2 and "causal = false (the default), the checkpoint was trained with causal = true" in (
        proc.stderr
    )


def test_a_config_that_agrees_with_the_record_runs(tmp_path, bout, capsys):
    """The same keys as trained (dropout may differ: it changes nothing at inference), or no record: runs."""
    config = make_predict_config(tmp_path / "agrees", network={**NETWORK, "causal": True, "dropout": 0.5})
    record(config, causal=True, dropout=0.2)
    assert cli_in_process(capsys, "annotate", config, bout, "--out", tmp_path / "out").returncode == 0
    unrecorded = make_predict_config(tmp_path / "none", network={**NETWORK, "causal": True})
    assert cli_in_process(capsys, "annotate", unrecorded, bout, "--out", tmp_path / "out2").returncode == 0


def test_stock_vak_eval_and_predict_refuse_a_network_table_that_contradicts_the_record(tmp_path):
    """vak eval and vak predict build the model from the config and load the checkpoint into it
    (vak's model factory, then the family's ``load_state_dict_from_path``): the same check, naming both."""
    from vak_tcn.plugins import vak_compat

    config = make_predict_config(tmp_path, network={**NETWORK, "causal": True})
    record(config, causal=False)
    table = {"name": "TCN", "network": {**NETWORK, "causal": True}, "optimizer": {}, "loss": {}, "metrics": {}}
    labelmap = json.loads((config.parent / "labelmap.json").read_text())
    with pytest.raises(ValueError, match=r"causal = true, the checkpoint was trained with causal = false"):
        vak_compat.load_model(table, labelmap, (1, 111, 176), config.parent / "checkpoint.pt")
    table["network"]["causal"] = False  # as trained: loads
    vak_compat.load_model(table, labelmap, (1, 111, 176), config.parent / "checkpoint.pt")
