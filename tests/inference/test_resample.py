"""Recordings at another sample rate than the model's: resampled to it (soxr, streamed), said once per run,
kept in the record; a model that does not record its rate: one line on how to name it."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import soundfile

from helpers.cli import cli_in_process
from helpers.data import REAL_BOUT
from helpers.inference import SPECT_PARAMS, make_predict_config

NETWORK = {"out_channels": 16, "num_layers": 4, "kernel_size": 3, "causal": False}
RATES = (32000, 48000)  # the real bout is at 44.1 kHz


def resampled_copy(folder: pathlib.Path, rate: int) -> pathlib.Path:
    import soxr

    audio, source_rate = soundfile.read(REAL_BOUT / "bout_1.wav")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bout_{rate}.wav"
    soundfile.write(path, soxr.resample(audio, source_rate, rate, "HQ"), rate, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resample")
    config = make_predict_config(tmp, network=NETWORK)
    other = [resampled_copy(tmp / "other", rate) for rate in RATES]
    return {
        "tmp": tmp,
        "config": config,
        "other": other,
        "rate": soundfile.info(str(REAL_BOUT / "bout_1.wav")).samplerate,
    }


def with_recorded_rate(setup) -> None:
    """``reference_power.json`` beside the checkpoint, recording the training files' one rate (as training writes it)."""
    from vak_tcn.models.trained import reference_path

    checkpoint = setup["config"].parent / "checkpoint.pt"
    spect = {"fft_size": SPECT_PARAMS["fft_size"], "step_size": SPECT_PARAMS["step_size"]}
    spect["freq_cutoffs"] = [float(f) for f in SPECT_PARAMS["freq_cutoffs"]]
    doc = {"format_version": 1, "reference_power": 1.0, "samplerate": setup["rate"], "spect_params": spect}
    reference_path(checkpoint).write_text(json.dumps(doc))


def frame_labels(path: pathlib.Path) -> np.ndarray:
    with np.load(path) as npz:
        return npz["probabilities"].argmax(axis=0), npz["frame_times"]


def test_streamed_resampling_is_the_whole_recording_resampled():
    import soxr

    from vak_tcn.audio.resample import resampled_length, resampled_reader
    from vak_tcn.inference.spectrogram import array_reader

    x = np.random.default_rng(0).standard_normal(54321)
    for from_rate, to_rate in ((44100, 32000), (48000, 32000), (32000, 44100)):
        whole = soxr.resample(x, from_rate, to_rate, "HQ")
        assert len(whole) == resampled_length(len(x), from_rate, to_rate)
        for n in (1000, 4096, 100000):
            streamed = np.concatenate(list(resampled_reader(array_reader(x), len(x), from_rate, to_rate)(n)))
            np.testing.assert_array_equal(streamed, whole)


def test_unknown_model_rate_fails_in_one_line_naming_the_option(setup, capsys):
    """No rate recorded beside the checkpoint: a recording at another rate FAILS, the line saying how to fix it;
    ``--model-samplerate`` annotates it (resampled)."""
    out = setup["tmp"] / "unknown"
    proc = cli_in_process(capsys, "annotate", setup["config"], setup["other"][0], "--out", out)
    assert proc.returncode == 1
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    assert "frequency bins" in line and "--model-samplerate HZ" in line
    proc = cli_in_process(
        capsys, "annotate", setup["config"], setup["other"][0], "--out", out, "--model-samplerate", setup["rate"]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"1 recording(s) at 32000 Hz resampled to {setup['rate']} Hz (soxr" in proc.stdout


def test_other_rates_resampled_to_the_models(setup, capsys):
    """A model that records its rate: 32 and 48 kHz copies of a 44.1 kHz bout are annotated (said once, kept in
    the record), their frame labels those of the 32 kHz recording on >= 99 % of its frames; a rerun skips them;
    ``--model-samplerate`` against the recorded rate: one line, exit 2; ``--samplerate`` still rejects."""
    with_recorded_rate(setup)
    tmp, config, rate = setup["tmp"], setup["config"], setup["rate"]
    proc = cli_in_process(
        capsys, "annotate", config, REAL_BOUT / "bout_1.wav", "--out", tmp / "model-rate", "--probabilities"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resampled" not in proc.stdout
    out = tmp / "resampled"
    proc = cli_in_process(capsys, "annotate", config, tmp / "other", "--out", out, "--probabilities")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = [line for line in proc.stdout.splitlines() if "resampled to" in line]
    assert said == [
        f"1 recording(s) at 32000 Hz, 1 at 48000 Hz resampled to {rate} Hz (soxr {__import__('soxr').__version__}, HQ)"
    ]
    reference, times = frame_labels(tmp / "model-rate" / "bout_1.wav.probabilities.npz")
    for other in RATES:
        record = json.loads((out / f"bout_{other}.wav.annotate.json").read_text())
        for entry in record["outputs"].values():
            assert entry["made_with"]["resampled"] == {"from": other, "to": rate, "by": "soxr HQ"}
        labels, other_times = frame_labels(out / f"bout_{other}.wav.probabilities.npz")
        assert abs(len(labels) - len(reference)) <= 1
        n = min(len(labels), len(reference))
        np.testing.assert_allclose(other_times[:n], times[:n])  # seconds of the recording
        agreement = float(np.mean(labels[:n] == reference[:n]))
        assert agreement >= 0.99, (other, agreement)
    proc = cli_in_process(capsys, "annotate", config, tmp / "other", "--out", out, "--probabilities")
    assert proc.returncode == 0 and "2 recording(s) already annotated" in proc.stdout, proc.stdout
    proc = cli_in_process(capsys, "annotate", config, tmp / "other", "--out", out, "--model-samplerate", 48000)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"trained at {rate} Hz" in proc.stderr
    proc = cli_in_process(capsys, "annotate", config, tmp / "other", "--out", tmp / "strict", "--samplerate", 48000)
    assert proc.returncode == 1
    assert [line for line in proc.stdout.splitlines() if "FAILED" in line] == [
        f"FAILED {tmp / 'other' / 'bout_32000.wav'}: sample rate 32000 Hz, expected 48000 Hz"
    ]
