"""``vak-tcn init``: a lab's starter configs from the package's recommended ones, checked by vak's parser."""

from __future__ import annotations

import pathlib

import pytest
import tomlkit

from vak_tcn.experiments import starter
from vak_tcn.plugins import vak_compat

from helpers.cli import cli_in_process
from helpers.data import audacity_copy

REPO_CONFIGS = pathlib.Path(__file__).parents[2] / "configs"


def read(path: pathlib.Path) -> dict:
    return tomlkit.parse(path.read_text()).unwrap()["vak"]


@pytest.mark.parametrize("model", starter.MODELS)
def test_package_copy_equals_the_repository_configs(model):
    """The wheel's recommended configs are the repository's configs/*.toml, byte for byte."""
    assert starter.recommended_text(model) == (REPO_CONFIGS / f"{model}.toml").read_text(encoding="utf-8")


def init(capsys, song_dir, out, *extra):
    return cli_in_process(
        capsys, "init", "--data-dir", song_dir, "--annot-format", "simple-seq", "--labelset", "abcd",
        "--out", out, "--accelerator", "cpu", *extra,
    )  # fmt: skip


@pytest.mark.parametrize("model", [None, "TCN"])
def test_init_writes_train_and_learncurve_configs_vak_parses(capsys, tmp_path, song_dir, model):
    out = tmp_path / "lab"
    result = init(capsys, song_dir, out, *(["--model", model] if model else []))
    assert result.returncode == 0, result.stderr
    model = model or "ConvTCN"  # the default: the recommended model for offline annotation
    assert "audio format: wav" in result.stdout  # inferred from the folder, and said
    assert f"{song_dir}: 8 .wav files" in result.stdout
    recommended = starter.recommended_settings(model)
    for name, command in (("train.toml", "train"), ("learncurve.toml", "learncurve")):
        path = out / name
        vak_compat.check_config(path, placeholder_dataset=True)  # vak's own parser, the model built
        config = read(path)
        assert set(config) == {"prep", command}
        prep, table = config["prep"], config[command]
        assert prep["data_dir"] == str(song_dir)
        assert (prep["audio_format"], prep["annot_format"], prep["labelset"]) == ("wav", "simple-seq", "abcd")
        assert prep["output_dir"] == str(out / "prep")
        assert table["root_results_dir"] == str(out / "results" / model)
        assert (out / "prep").is_dir() and (out / "results" / model).is_dir()  # vak wants them to exist
        assert table["model"] == recommended["learncurve"]["model"]  # network, optimizer, loss, metrics
        assert table["dataset"] == recommended["learncurve"]["dataset"]  # window 2000
        assert prep["spect_params"] == recommended["prep"]["spect_params"]
        assert table["trainer"] == {"accelerator": "cpu", "devices": 1}
        assert path.read_text().startswith("# Written by `vak-tcn init`")
    train, learncurve = read(out / "train.toml"), read(out / "learncurve.toml")
    assert "post_tfm_kwargs" not in train["train"] and "train_set_durs" not in train["prep"]
    assert "[vak.train.model." + model + ".network]" in (out / "train.toml").read_text()
    # the folder's 18 s are far less than the recommended splits: sized to it, and said
    assert "the folder's 18 s of audio is less than the recommended 2280 s" in result.stdout
    seconds = starter.audio_seconds(starter.audio_files(song_dir, "wav"), "wav")[0]
    share = round(0.15 * seconds, 1)
    for config in (train, learncurve):
        assert (config["prep"]["train_dur"], config["prep"]["val_dur"], config["prep"]["test_dur"]) == (
            -1,
            share,
            share,
        )
    assert learncurve["prep"]["train_set_durs"] == [int((seconds - 2 * share) / 2)]
    # and val_step below the training batches an epoch (window 2000 of 500 frames a second, batch 16)
    batches = ((seconds - 2 * share) * 500 - 1999) / 16
    assert train["train"]["val_step"] == int(batches / 2) == train["train"]["ckpt_step"]
    assert "train.toml: val_step = " in result.stdout and "val_check_interval" in result.stdout


def test_init_keeps_the_recommended_settings_where_the_folder_holds_enough_song(
    capsys, tmp_path, song_dir, monkeypatch
):
    """An hour of song: the recommended durations and steps, each fitting vak's training (learncurve's
    shortest subset, 60 s at 32 kHz, makes 1750 batches: more than val_step 1000; 30 s made 812)."""
    monkeypatch.setattr(starter, "audio_seconds", lambda files, fmt: (3600.0, 32000))
    result = init(capsys, song_dir, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "val_step" not in result.stdout and "less than" not in result.stdout
    recommended = starter.recommended_settings("ConvTCN")
    train, learncurve = read(tmp_path / "train.toml"), read(tmp_path / "learncurve.toml")
    for config, command in ((train, "train"), (learncurve, "learncurve")):
        for key in ("train_dur", "val_dur", "test_dur"):
            assert config["prep"][key] == recommended["prep"][key]
        for key in ("val_step", "ckpt_step"):
            assert config[command][key] == recommended["learncurve"][key]
    assert learncurve["prep"]["train_set_durs"] == recommended["prep"]["train_set_durs"]
    shortest = min(recommended["prep"]["train_set_durs"]) * 32000 / 64
    assert (shortest - 2000 + 1) / 16 > recommended["learncurve"]["val_step"]


def test_init_renames_audacitys_label_files_when_asked(capsys, tmp_path, song_dir):
    """vak prep pairs bout_000.wav with bout_000.wav.txt only (bout_000.txt fails after the
    spectrograms, in a traceback): refused in one line naming the flag, nothing changed; renamed with it."""
    folder = audacity_copy(song_dir, tmp_path / "audacity")
    before = sorted(p.name for p in folder.iterdir())
    args = ["--data-dir", folder, "--annot-format", "aud-seq", "--labelset", "abcd", "--out", tmp_path]
    refused(
        cli_in_process(capsys, "init", *args),
        "bout_000.wav.txt",
        "not bout_000.txt",
        "8 annotation files",
        "--rename-annotations",
    )
    assert sorted(p.name for p in folder.iterdir()) == before and not list(tmp_path.glob("*.toml"))
    result = cli_in_process(capsys, "init", *args, "--rename-annotations")
    assert result.returncode == 0, result.stderr
    assert (
        "renamed 8 annotation files to the names vak prep pairs (bout_000.txt -> bout_000.wav.txt, ...)"
        in result.stdout
    )
    assert sorted(p.name for p in folder.glob("*.txt")) == [f"bout_{i:03d}.wav.txt" for i in range(8)]


def test_init_refuses_recordings_without_annotation_files(capsys, tmp_path, song_dir):
    folder = audacity_copy(song_dir, tmp_path / "audacity", drop=("bout_003",))
    for txt in folder.glob("*.txt"):
        txt.rename(txt.with_name(txt.stem + ".wav.txt"))
    args = ["--data-dir", folder, "--annot-format", "aud-seq", "--labelset", "abcd", "--out", tmp_path]
    refused(
        cli_in_process(capsys, "init", *args),
        "no annotation file for 1 of 8 recordings",
        "(bout_003.wav)",
        "bout_003.wav.txt",
    )
    assert not list(tmp_path.glob("*.toml"))


def test_init_durations_and_results_dir(capsys, tmp_path, song_dir):
    """--train-dur below the recommended training subsets keeps those up to it; -1 is vak's "the rest"."""
    result = init(capsys, song_dir, tmp_path, "--train-dur", "100", "--val-dur", "4", "--results-dir", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "note: vak prep splits" in result.stdout  # 504 s asked of 18 s of audio: said, kept as asked
    learncurve = read(tmp_path / "learncurve.toml")
    assert learncurve["prep"]["train_set_durs"] == [60]
    assert (learncurve["prep"]["train_dur"], learncurve["prep"]["val_dur"]) == (100, 4)
    assert learncurve["learncurve"]["root_results_dir"] == str(tmp_path / "r")
    result = init(capsys, song_dir, tmp_path, "--train-dur", "-1", "--val-dur", "4", "--test-dur", "4", "--force")
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stdout
    assert read(tmp_path / "train.toml")["prep"]["train_dur"] == -1


def refused(result, *words):
    assert result.returncode == 2, result
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr


def test_init_refuses_an_existing_config_without_force(capsys, tmp_path, song_dir):
    (tmp_path / "train.toml").write_text("# mine\n")
    refused(init(capsys, song_dir, tmp_path), "train.toml", "--force")
    assert (tmp_path / "train.toml").read_text() == "# mine\n" and not (tmp_path / "learncurve.toml").exists()
    assert init(capsys, song_dir, tmp_path, "--force").returncode == 0
    assert "mine" not in (tmp_path / "train.toml").read_text()


@pytest.mark.parametrize(
    "change, words",
    [
        ({"--data-dir": "no-such-folder"}, ["data folder not found", "no-such-folder"]),
        ({"--model": "WaveNet"}, ["--model", "WaveNet"]),
        ({"--annot-format": "sharpie"}, ["'sharpie'", "crowsetta", "simple-seq"]),
        ({"--audio-format": "cbin"}, ["no .cbin files"]),
    ],
)
def test_init_refusals_are_one_line(capsys, tmp_path, song_dir, change, words):
    args = {"--data-dir": song_dir, "--annot-format": "simple-seq", "--labelset": "abcd", "--out": tmp_path}
    args.update({k: tmp_path / v if k == "--data-dir" else v for k, v in change.items()})
    refused(cli_in_process(capsys, "init", *[x for kv in args.items() for x in kv]), *words)
    assert not list(tmp_path.glob("*.toml"))


def test_a_config_vak_refuses_is_not_written(capsys, tmp_path, song_dir, monkeypatch):
    """The check is vak's parser: a recommended file it refused would stop init, naming the file."""
    text = starter.recommended_text("ConvTCN").replace("tmse_threshold = 4.0", "tmse_threshold = 4.0\nbogus = 1")
    monkeypatch.setattr(starter, "recommended_text", lambda model: text)
    refused(init(capsys, song_dir, tmp_path), "train.toml", "bogus")
    assert not list(tmp_path.glob("*.toml"))


def test_the_wheel_carries_the_recommended_configs():
    """hatch's wheel takes every file under its packages (a wheel built by `pip wheel .` lists
    vak_tcn/experiments/recommended/*.toml): the recommended configs must stay under one of them."""
    import tomllib

    pyproject = tomllib.loads((REPO_CONFIGS.parent / "pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "src/vak_tcn" in wheel["packages"] and not wheel.get("exclude") and not wheel.get("only-include")
    package = pathlib.Path(starter.__file__).parent / "recommended"
    assert sorted(p.name for p in package.glob("*.toml")) == sorted(f"{m}.toml" for m in starter.MODELS)
