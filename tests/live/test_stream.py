"""vak_tcn.live: the stream equals offline causal inference; events; the causal normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from vak_tcn.live import LiveSpectrogram, Stream
from vak_tcn.live.stream import reference_power_of

from helpers.data import REAL_BOUT
from helpers.inference import SPECT_PARAMS, make_predict_config, song, whole_file_reference

RATE = 32000
SMALL_TCN = {"out_channels": 16, "num_layers": 4, "causal": True}  # live needs a causal TCN


def pushed(stream: Stream, samples: np.ndarray, rng: np.random.Generator, high: int):
    """Push ``samples`` in random block sizes (1 sample to ``high``); return the events."""
    events, start = [], 0
    while start < len(samples):
        n = int(rng.integers(1, high + 1))
        events += stream.push(samples[start : start + n])
        start += n
    return events + stream.finish()


def offline(config, samples: np.ndarray, rate: int):
    """The same causal network offline on vak's whole-file spectrogram: frame labels, logits."""
    labels, onsets, offsets, logits = whole_file_reference(config, samples, rate, post_processing=False)
    return logits.argmax(0), labels, onsets, offsets


@pytest.mark.parametrize(
    "model, network, bias",  # untrained weights, biased so that the bout gets some syllables
    [
        ("TCN", SMALL_TCN, [1.0, 0, 0, 0]),
        ("ConvTCN", {**SMALL_TCN, "conv1_filters": 4, "conv2_filters": 4}, None),
        ("TCN", {**SMALL_TCN, "lookahead": 6}, [1.0, 0, 0, 0]),  # read 6 frames late (issue 41)
        ("ConvTCN", {**SMALL_TCN, "conv1_filters": 4, "conv2_filters": 4, "lookahead": 3}, None),
    ],
    ids=["TCN", "ConvTCN", "TCN-lookahead6", "ConvTCN-lookahead3"],
)
def test_stream_equals_offline_causal_inference_on_the_real_bout(tmp_path, model, network, bias):
    """With the recording's own maximum as reference power (the offline normalisation), the live
    stream's syllables are offline annotation's (no post-processing), for random block sizes; a
    look-ahead's frames come that many frames late, and the stream says so in its latency."""
    config = make_predict_config(tmp_path, model=model, network=network, fc_bias=bias)
    samples, rate = soundfile.read(REAL_BOUT / "bout_1.wav")

    from vak_tcn.inference.spectrogram import SpectParams

    reference = reference_power_of(REAL_BOUT / "bout_1.wav", SpectParams.from_vak(SPECT_PARAMS))
    stream = Stream.from_config(config, rate, reference_power=reference)
    frames_late = network.get("lookahead", 0) + (4 if model == "ConvTCN" else 0)
    assert stream.latency_s == pytest.approx(frames_late * SPECT_PARAMS["step_size"] / rate)
    events = pushed(stream, samples, np.random.default_rng(0), high=rate)  # 1 sample to 1 s
    _, names, onsets, offsets = offline(config, samples, rate)
    got_labels, got_onsets, got_offsets = stream.annotation()
    assert len(names) > 3  # the case has syllables
    assert list(got_labels) == list(names)
    np.testing.assert_allclose(got_onsets, onsets, atol=2e-5)  # vak truncates its frame duration
    np.testing.assert_allclose(got_offsets, offsets, atol=2e-5)
    kinds = [e.kind for e in events]
    assert kinds == ["onset", "offset"] * len(names)
    assert [e.label for e in events if e.kind == "onset"] == list(names)
    assert all(0 < e.probability <= 1 for e in events)


def test_live_spectrogram_equals_vaks_with_the_files_maximum_and_converges_without():
    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.plugins import vak_compat

    params = SpectParams.from_vak(SPECT_PARAMS)
    samples = song(RATE * 2, RATE, seed=3)
    expected, _, _ = vak_compat.spectrogram(samples, RATE, params)
    # running maximum: once it has reached the file's maximum the frames agree exactly
    live = LiveSpectrogram(RATE, params)
    got = np.concatenate([live.push(samples[i : i + 777]) for i in range(0, len(samples), 777)], axis=1)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got[:, -1], expected[:, -1], atol=1e-9)
    # with the file's maximum as reference power every frame agrees
    file_peak = max(float(p.max()) for _, p in _power(params, samples))
    ref = LiveSpectrogram(RATE, params, reference_power=file_peak)
    got = np.concatenate([ref.push(samples[i : i + 1000]) for i in range(0, len(samples), 1000)], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-9)


def _power(params, samples):
    from vak_tcn.inference.spectrogram import StreamingSpectrogram, array_reader

    return StreamingSpectrogram(array_reader(samples), len(samples), RATE, params)._power_blocks()


def test_running_maximum_is_causal_and_silence_gives_no_nan():

    from vak_tcn.inference.spectrogram import SpectParams

    params = SpectParams.from_vak(SPECT_PARAMS)
    samples = np.concatenate([np.zeros(RATE // 4), song(RATE, RATE, seed=1)])
    live = LiveSpectrogram(RATE, params)
    first = live.push(samples[: RATE // 2])
    assert np.isfinite(first).all()
    peak_then = live.peak
    live.push(samples[RATE // 2 :])
    assert live.peak >= peak_then > 0
    # a frame is normalised by the maximum so far: pushing more audio never changes earlier frames
    again = LiveSpectrogram(RATE, params).push(samples[: RATE // 2])
    np.testing.assert_array_equal(first, again)


def test_a_centred_model_is_refused(tmp_path):
    config = make_predict_config(tmp_path, model="TCN", network={**SMALL_TCN, "causal": False})
    with pytest.raises(ValueError, match=r"bounded look-ahead: set causal = true .* lookahead = N"):
        Stream.from_config(config, 44100)  # the real bout's rate, which the standardizer was fitted at


def test_events_from_frame_labels():
    """Onsets and offsets at the frame boundaries vak's to_segments uses."""
    from vak_tcn.inference.spectrogram import SpectParams

    params = SpectParams(fft_size=512, step_size=64)
    stream = Stream.__new__(Stream)  # the event logic alone
    stream.labels, stream.background, stream._silent = {0: "background", 1: "a", 2: "b"}, 0, 0
    stream.samplerate, stream.params, stream.frame_dur = RATE, params, 64 / RATE
    stream.segments, stream._open, stream._last, stream._frame = [], None, None, 0
    stream.frame_labels, stream._cleaner = None, None
    labels = torch.tensor([0, 1, 1, 1, 0, 2, 2, 0])
    logits = torch.nn.functional.one_hot(labels, 3).T.float() * 5
    events = stream._events(logits)
    assert [(e.kind, e.label, e.frame) for e in events] == [
        ("onset", "a", 1), ("offset", "a", 3), ("onset", "b", 5), ("offset", "b", 6),
    ]  # fmt: skip
    centre = lambda f: (256 + 64 * f) / RATE  # noqa: E731
    assert events[0].time == pytest.approx(centre(1) - 32 / RATE) and events[1].time == pytest.approx(
        centre(3) + 32 / RATE
    )


def test_non_finite_samples_are_silence_and_reported_once_per_stretch(tmp_path):
    """A NaN/inf sample is replaced by 0 before the band-pass filter (whose state it would poison
    for good): the frames are those of the audio with zeros there.  Non-finite samples less than a
    second apart are one stretch, reported once, with its start, end and count, however the pushes
    cut it (1-sample pushes included): a run, two runs close together, or every other sample for a
    while (what integer PCM read as float32 gives, one line per sample before)."""
    config = make_predict_config(tmp_path, network=SMALL_TCN, fc_bias=[1.0, 0, 0, 0])
    samples, rate = soundfile.read(REAL_BOUT / "bout_1.wav", frames=4 * 44100)
    runs = [
        (0, 2),
        (100, 101),
        (50000, 50401),
        *[(i, i + 1) for i in range(100000, 100600, 2)],
        (len(samples) - 5, len(samples)),
    ]
    stretches = [(0, 101, 3), (50000, 50401, 401), (100000, 100599, 300), (len(samples) - 5, len(samples), 5)]
    bad, zeros = samples.copy(), samples.copy()
    for i, (a, b) in enumerate(runs):
        bad[a:b], zeros[a:b] = (np.nan, np.inf, -np.inf)[i % 3], 0.0
    got, reported, counts = [], [], []
    for audio, record in ((bad, reported), (zeros, [])):
        stream = Stream.from_config(config, rate, record_labels=True)
        rng, start = np.random.default_rng(1), 0
        while start < len(audio):
            n = int(rng.integers(1, 300))
            stream.push(audio[start : start + n])
            record += [(start + n, stretch) for stretch in stream.pop_nonfinite()]
            start += n
        stream.finish()
        record += [(len(audio), stretch) for stretch in stream.pop_nonfinite()]
        got.append(stream.frame_labels)
        counts.append((stream.nonfinite_samples, stream.nonfinite_stretches))
    assert got[0] == got[1] and len(got[0]) > 2700
    assert [stretch for _, stretch in reported] == [(a / rate, b / rate, n) for a, b, n in stretches]
    # each said once a second of finite samples has followed it (the last: at the end), by the push that
    # brings that second's last sample
    for (when, _), (_, b, _) in zip(reported[:3], stretches[:3]):
        assert b - 1 + rate < when < b - 1 + rate + 300
    assert counts == [(sum(n for _, _, n in stretches), len(stretches)), (0, 0)]
