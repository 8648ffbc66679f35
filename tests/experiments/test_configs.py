"""Configs: the shipped examples and the template both parse with vak's own loader and build models."""

from __future__ import annotations

import pathlib

import pytest
import tomlkit
import vak
import vak.config

from vak_tcn import plugins
from vak_tcn.experiments import configs

plugins.load_plugins()

EXAMPLES = sorted((pathlib.Path(__file__).parents[2] / "configs").glob("*.toml"))


def parse_with_dataset(path: pathlib.Path, tmp_path: pathlib.Path):
    """vak needs [<command>.dataset] path (written by vak prep): add one, then parse everything."""
    doc = tomlkit.parse(path.read_text())
    for command in configs.COMMANDS:
        if command in doc["vak"]:
            doc["vak"][command]["dataset"]["path"] = str(tmp_path)
    out = tmp_path / path.name
    out.write_text(tomlkit.dumps(doc))
    return vak.config.Config.from_toml_path(out)


def build(model_config: dict, freqbins: int = 152):
    import vak.models

    return vak.models.get(
        model_config["name"],
        model_config,
        input_shape=(1, freqbins, 176),
        num_classes=4,
        labelmap={"background": 0, "a": 1, "b": 2, "c": 3},
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_configs_parse_and_build_their_model(path, tmp_path):
    assert {p.stem for p in EXAMPLES} >= {"TCN", "ConvTCN", "TweetyNetPlugin"}
    cfg = parse_with_dataset(path, tmp_path)
    assert cfg.learncurve.model.name == path.stem
    model = build(cfg.learncurve.model.asdict())
    assert type(model).__module__ == "vak_tcn.models.family"
    if path.stem != "TweetyNetPlugin":
        assert model.loss.name == "smoothed_cross_entropy"
        # the recommended configuration (docs/real-song.md): MS-TCN's loss, 3 stages of 6 layers x 32 channels
        assert model.loss.loss.similarity == "none" and model.loss.loss.tmse_weight == 0.15
        assert model.network.num_stages == 3 and len(model.network.refinement[0].layers) == 6
        assert model.network.receptive_field <= cfg.learncurve.dataset.params["window_size"]


@pytest.mark.parametrize("command", configs.COMMANDS)
def test_template_configs_parse_with_vak(command, tmp_path):
    training = command in ("train", "learncurve")
    doc = configs.vak_config(
        command=command,
        model="ConvTCN",
        data_dir=tmp_path,
        prep_output_dir=tmp_path / "prep",
        results_dir=tmp_path / "results" if training else None,
        output_dir=None if training else tmp_path / "out",
        checkpoint_path=None if training else tmp_path / "ckpt.pt",
        labelmap_path=None if training else tmp_path / "labelmap.json",
        labelset="abc",
        network={"num_layers": 4, "causal": False},
        loss={"tmse_weight": 0.15, "similarity": "gaussian"},
        metrics={"segmentation": {"tolerance": 0.004}},
        dataset_path=tmp_path,
        val_step=10 if training else None,
        ckpt_step=10 if training else None,
        annot_csv_filename="out.csv" if command == "predict" else None,
    )
    path = configs.write_config(doc, tmp_path / f"{command}.toml")
    assert (tmp_path / "prep").is_dir()  # vak requires output dirs to exist
    cfg = vak.config.Config.from_toml_path(path)
    table = getattr(cfg, command)
    assert table.model.name == "ConvTCN"
    assert table.model.network == {"num_layers": 4, "causal": False}
    assert table.dataset.params == {"window_size": 176}
    assert configs.dataset_path(path) == tmp_path
    build(table.model.asdict())


def test_template_rejects_keys_the_command_does_not_have(tmp_path):
    with pytest.raises(ValueError, match="labelmap_path"):
        configs.vak_config(
            command="train",
            model="TCN",
            data_dir=tmp_path,
            prep_output_dir=tmp_path,
            labelset="ab",
            labelmap_path=tmp_path / "labelmap.json",
        )
