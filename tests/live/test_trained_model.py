"""One trained model, every consumer (vak_tcn.models.trained): the background rule the family, tune,
annotate and live share; the checkpoint the family and `vak-tcn tune` choose; the reference level
recorded when training ends (also with tuning off) and what live does with it by default."""

from __future__ import annotations

import json
import pathlib
import types

import numpy as np
import pandas as pd
import pytest
import soundfile

from vak_tcn.models import results, trained

from helpers.cli import cli_in_process
from helpers.data import REAL_BOUT
from helpers.inference import SPECT_PARAMS, make_predict_config, song, whole_file_reference, write_audio

RATE = 44100  # the real bout's, whose spectrogram the standardizer of make_predict_config is fitted on
SMALL_TCN = {"out_channels": 8, "num_layers": 3, "causal": True}  # live needs a causal TCN
#: 4 classes each, as the checkpoint make_predict_config saves: vak 1.x's, vak 0.x's, neither
LABELMAPS = [
    ({"background": 0, "a": 1, "b": 2, "c": 3}, 0),
    ({"a": 0, "b": 1, "c": 2, "unlabeled": 3}, 3),
    ({"a": 0, "b": 1, "c": 2, "d": 3}, 0),
]


def fake_dataset(tmp_path: pathlib.Path, frames: np.ndarray, rate: int = RATE) -> pathlib.Path:
    """A prepared-dataset folder as vak prep lays it out: metadata.json, the CSV, one val file (frames
    and frame labels), one train file's audio, and the prep config vak copies into the dataset."""
    from vak_tcn.experiments import configs

    dataset = tmp_path / "dataset"
    (dataset / "val").mkdir(parents=True)
    frame_dur = 64 / rate
    np.savez(
        dataset / "val" / "f.spect.npz", s=frames, t=(np.arange(frames.shape[-1]) + 0.5) * frame_dur
    )  # as vak prep
    np.save(dataset / "val" / "f.labels.npy", np.zeros(frames.shape[-1], dtype=np.int64))
    audio = write_audio(tmp_path / "train.wav", song(RATE, rate, seed=5), rate)
    pd.DataFrame(
        {
            "split": ["val", "train"],
            "frames_path": ["val/f.spect.npz", "train/g.spect.npz"],
            "multi_frame_labels_path": ["val/f.labels.npy", "train/g.labels.npy"],
            "audio_path": [str(tmp_path / "val.wav"), str(audio)],
        }
    ).to_csv(dataset / "dataset.csv", index=False)
    metadata = {"dataset_csv_filename": "dataset.csv", "frame_dur": frame_dur, "input_type": "spect"}
    (dataset / "metadata.json").write_text(json.dumps({**metadata, "audio_format": "wav", "spect_format": None}))
    doc = configs.vak_config(
        command="train", model="TCN", data_dir=tmp_path, prep_output_dir=tmp_path, labelset="abc",
        spect_params=SPECT_PARAMS,
    )  # fmt: skip
    configs.write_config(doc, dataset / "prep.toml", make_dirs=False)
    return dataset


@pytest.mark.parametrize("labelmap, expected", LABELMAPS)
def test_family_tune_annotate_and_live_take_one_background_class(tmp_path, labelmap, expected):
    """With and without vak 0.x's 'unlabeled': vak predict's rule, through each consumer's own code."""
    from vak_tcn.inference import annotate, records, segments, tune
    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.live import Stream
    from vak_tcn.plugins import vak_compat

    config = make_predict_config(tmp_path, network=SMALL_TCN)
    (config.parent / "labelmap.json").write_text(json.dumps(labelmap))
    assert trained.background_index(labelmap) == expected
    # annotate: a silent recording's probabilities are all background (its SegmentStream's class)
    silent = write_audio(tmp_path / "silent.wav", np.zeros(RATE // 2), RATE)
    options = annotate.Options(probabilities=True)
    annotator = annotate.Annotator(config, options)
    outputs = records.output_paths(pathlib.Path(silent.name), tmp_path / "out", options)
    annotator.annotate(silent, outputs)
    with np.load(outputs["probabilities"]) as npz:
        assert set(npz["probabilities"].argmax(axis=0)) == {expected}
    stream = segments.SegmentStream(annotator.labelmap, lambda a, b: np.arange(a, b) * 0.002, 0.002)
    assert annotator.model.background == stream.background == expected
    # live: events and the online clean-up
    live = Stream.from_config(config, RATE, post_processing="config")
    assert live.background == live._cleaner.background == expected
    # the family: what its metrics and its clean-up (tuned after training, in vak predict) get
    model = vak_compat.load_model(
        annotator.model_config, labelmap, (1, annotator.n_freqbins, 176), config.parent / "checkpoint.pt"
    )
    assert model._background_index() == model._context({})["background"] == expected
    # vak-tcn tune: what it tunes the clean-up with, from the validation split
    frames, _, _ = vak_compat.spectrogram(song(RATE, RATE), RATE, SpectParams.from_vak(SPECT_PARAMS))
    dataset = fake_dataset(tmp_path, frames)
    model = trained.TrainedModel(
        annotator.checkpoint_path, labelmap, annotator.model_config, annotator.spect_params, 176,
        annotator.standardizer, dataset=dataset, frame_dur=64 / RATE,
    )  # fmt: skip
    assert tune.validation_predictions(model, echo=lambda *a: None, device="cpu")["background"] == expected


@pytest.mark.parametrize(
    "names, chosen",
    [
        (["checkpoint.pt", "checkpoint-v1.pt", "max-val-acc-checkpoint.pt"], "max-val-acc-checkpoint.pt"),
        (["checkpoint.pt", "checkpoint-v1.pt"], "checkpoint.pt"),
        (["last.pt"], "last.pt"),  # vak evaluates a run's only checkpoint, whatever its name
    ],
)
def test_the_family_and_tune_choose_one_checkpoint(tmp_path, names, chosen):
    from vak_tcn.inference import tune
    from vak_tcn.models import family

    ckpt_dir = tmp_path / "results" / "TCN" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    (tmp_path / "results" / "train.toml").write_text("")
    for name in names:
        (ckpt_dir / name).write_bytes(b"")
    (run,) = tune.find_runs(tmp_path / "results")
    assert (
        run.checkpoint
        == family.checkpoint_vak_evaluates(ckpt_dir)
        == results.checkpoint_in(ckpt_dir)
        == ckpt_dir / chosen
    )


def test_training_end_records_the_reference_level_with_tuning_off(tmp_path, monkeypatch):
    """The family's on_fit_end writes reference_power.json beside the checkpoint vak evaluates, from the
    training files' audio: the median of each file's maximum power, as live measures a --reference."""
    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.live.stream import reference_power_of
    from vak_tcn.plugins import vak_compat

    config = make_predict_config(tmp_path, network=SMALL_TCN)
    labelmap = json.loads((config.parent / "labelmap.json").read_text())
    bins = len(SpectParams.from_vak(SPECT_PARAMS).freqbins(RATE))
    model = vak_compat.load_model(
        {"name": "TCN", "network": SMALL_TCN}, labelmap, (1, bins, 176), config.parent / "checkpoint.pt"
    )
    dataset = fake_dataset(tmp_path, np.zeros((152, 10)))
    louder = write_audio(tmp_path / "louder.wav", 3 * song(RATE, RATE, seed=6), RATE)
    sources = [str(tmp_path / "train.wav"), str(louder), str(tmp_path / "train.wav")]
    ckpt_dir = tmp_path / "results" / "TCN" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    (ckpt_dir / "max-val-acc-checkpoint.pt").write_bytes(b"")
    train_set = types.SimpleNamespace(
        dataset_path=dataset, input_type="spect",
        dataset_df=pd.DataFrame({"frames_path": ["a", "b", "c"], "audio_path": sources}),
    )  # fmt: skip
    trainer = types.SimpleNamespace(
        is_global_zero=True, checkpoint_callbacks=[types.SimpleNamespace(dirpath=str(ckpt_dir))],
        train_dataloader=types.SimpleNamespace(dataset=train_set),
    )  # fmt: skip
    monkeypatch.setattr(model, "_trainer", trainer, raising=False)
    monkeypatch.setenv("VAK_TCN_TUNE", "0")
    model.on_fit_end()
    assert not (ckpt_dir / "postprocess.json").exists()  # tuning off
    doc = json.loads((ckpt_dir / trained.REFERENCE_FILENAME).read_text())
    params = SpectParams.from_vak(SPECT_PARAMS)
    peaks = [reference_power_of(path, params) for path in sorted(set(sources))]
    assert doc["reference_power"] == pytest.approx(np.median(peaks), rel=1e-6)
    assert doc["n_files"] == 2 and doc["written_by"] == "vak-tcn, after training"
    assert doc["spect_params"] == params.power_key() and doc["samplerate"] == RATE


def test_live_without_reference_uses_the_level_recorded_when_training_ended(tmp_path, capsys):
    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.live import Stream
    from vak_tcn.live.stream import reference_power_of

    config = make_predict_config(tmp_path, network=SMALL_TCN, fc_bias=[1.0, 0, 0, 0])
    checkpoint = config.parent / "checkpoint.pt"
    audio = REAL_BOUT / "bout_1.wav"
    # a checkpoint without the file: the running maximum, with a warning
    assert Stream.from_config(config, RATE).spectrogram.reference_power is None
    proc = cli_in_process(capsys, "live", config, "--simulate", audio, "--speed", "0")
    assert proc.returncode == 0 and "warning: normalising by the running maximum" in proc.stderr
    level = reference_power_of(audio, SpectParams.from_vak(SPECT_PARAMS))  # as if training had recorded it
    doc = {"reference_power": level, "n_files": 3, "samplerate": RATE}
    trained.write_reference(checkpoint, {**doc, "spect_params": SpectParams.from_vak(SPECT_PARAMS).power_key()}, "test")
    stream = Stream.from_config(config, RATE)
    assert stream.spectrogram.reference_power == level and "recorded when training ended" in stream.reference_source
    proc = cli_in_process(capsys, "live", config, "--simulate", audio, "--speed", "0")
    assert proc.returncode == 0 and f"reference power {level:g}: recorded when training ended" in proc.stderr
    # its syllables are those of the same level given by hand, here offline annotation's
    given = Stream.from_config(config, RATE, reference_power=level)
    samples, _ = soundfile.read(audio)
    for s in (stream, given):
        s.push(samples)
        s.finish()
    names, _, _, _ = whole_file_reference(config, samples, RATE, post_processing=False)
    assert stream.segments == given.segments and list(stream.annotation()[0]) == list(names) and len(names) > 3
    # --reference and --reference-power win; another sample rate or other spect_params: not used
    proc = cli_in_process(capsys, "live", config, "--simulate", audio, "--speed", "0", "--reference-power", "0.2")
    assert "reference power 0.2 (--reference-power)" in proc.stderr and "recorded" not in proc.stderr
    proc = cli_in_process(capsys, "live", config, "--simulate", audio, "--speed", "0", "--calibration", audio)
    assert f"the maximum power of --calibration {audio}" in proc.stderr
    recorded = trained.TrainedModel.from_predict_config(config)
    assert recorded.reference_power(RATE)[0] == level
    assert recorded.reference_power(48000) == (
        None,
        f"{recorded.reference['path']} was recorded at {RATE} Hz, the audio is at 48000 Hz",
    )
    trained.write_reference(checkpoint, {**doc, "spect_params": SpectParams(fft_size=256).power_key()}, "test")
    stream = Stream.from_config(config, RATE)
    assert stream.spectrogram.reference_power is None and "spect_params" in stream.reference_source
