"""The streaming spectrogram equals vak's whole-file spectrogram (vak's own function is the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from vak_tcn.inference.spectrogram import SpectParams, StreamingSpectrogram, array_reader, n_frames
from vak_tcn.plugins import vak_compat

from conftest import REAL_BOUT

PARAMS = {
    "vak-tcn default": SpectParams(512, 64, None, "log_spect", (500.0, 10000.0)),
    "log_spect + thresh": SpectParams(512, 64, 6.25, "log_spect", (500.0, 10000.0)),
    "plus_one, no filter": SpectParams(256, 32, 0.5, "log_spect_plus_one", None),
    "power, odd window": SpectParams(511, 100, 1e-9, None, (300.0, 8000.0)),
}


def song(n: int, rate: int = 32000, seed: int = 0) -> np.ndarray:
    """Noise plus chirps: every frequency band busy, levels varying."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    return 0.01 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * (2000 + 3000 * np.sin(3 * t)) * t) * (t % 0.5 < 0.2)


def random_reader(samples: np.ndarray, seed: int):
    """read_blocks that ignores the block size asked for: blocks of random sizes, 1 to 5000 samples."""

    def read_blocks(n: int):
        rng = np.random.default_rng(seed)
        start = 0
        while start < len(samples):
            size = int(rng.integers(1, 5000))
            yield samples[start : start + size]
            start += size

    return read_blocks


def streamed(reader, n_samples: int, rate: int, params: SpectParams, block_frames: int):
    spect = StreamingSpectrogram(reader, n_samples, rate, params, block_frames=block_frames)
    blocks = list(spect.blocks())
    starts = [start for start, _ in blocks]
    out = np.concatenate([b for _, b in blocks], axis=1) if blocks else np.zeros((len(spect.freqbins), 0))
    return out, spect, starts


def assert_equals_vak(samples: np.ndarray, rate: int, params: SpectParams, reader, block_frames: int):
    reference, freqbins, times = vak_compat.spectrogram(samples.copy(), rate, params)
    out, spect, starts = streamed(reader, len(samples), rate, params, block_frames)
    assert out.shape == reference.shape
    assert starts == sorted(starts) and (not starts or starts[0] == 0)
    np.testing.assert_allclose(out, reference, rtol=1e-9, atol=1e-9)
    # first and last frames, and the frames on each side of every block boundary
    for j in {0, out.shape[1] - 1, *starts, *(s - 1 for s in starts[1:])}:
        np.testing.assert_allclose(out[:, j], reference[:, j], rtol=1e-9, atol=1e-9, err_msg=f"frame {j}")
    np.testing.assert_array_equal(spect.frame_times(), times)  # the same floats, not just close
    np.testing.assert_allclose(spect.freqbins, freqbins)
    np.testing.assert_allclose(params.freqbins(rate), freqbins)


@pytest.mark.parametrize("name", list(PARAMS))
@pytest.mark.parametrize("block_frames", [1, 7, 333, 4096])
def test_generated_audio_equals_vak_at_block_boundaries(name, block_frames):
    params = PARAMS[name]
    samples = song(32000 * 2 + 123)
    assert_equals_vak(samples, 32000, params, array_reader(samples), block_frames)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_audio_read_in_random_blocks_equals_vak(seed):
    """Audio blocks of any size (not aligned with frames), spectrogram blocks of a random size."""
    rng = np.random.default_rng(seed)
    samples = song(int(rng.integers(20000, 90000)), seed=seed)
    params = PARAMS["log_spect + thresh"]
    assert_equals_vak(samples, 32000, params, random_reader(samples, seed), int(rng.integers(1, 600)))


@pytest.mark.parametrize("block_frames", [1, 50, 1000])
def test_real_bout_equals_vak(block_frames):
    samples, rate = soundfile.read(REAL_BOUT / "bout_1.wav")
    for params in (PARAMS["vak-tcn default"], PARAMS["log_spect + thresh"]):
        assert_equals_vak(samples, rate, params, random_reader(samples, block_frames), block_frames)


@pytest.mark.parametrize("extra", [0, 1, 63, 64, 65])
def test_file_ends_equal_vak(extra):
    """Lengths at and just past a whole number of hops: the last frame is vak's."""
    params = PARAMS["log_spect + thresh"]
    samples = song(params.fft_size + 5 * params.step_size + extra, seed=extra)
    assert n_frames(len(samples), params) == 6 + extra // params.step_size
    assert_equals_vak(samples, 32000, params, array_reader(samples), 2)


@pytest.mark.parametrize("n", [1, 100, 511])
def test_shorter_than_one_fft_window_is_one_zero_padded_frame(n):
    params = PARAMS["vak-tcn default"]
    assert n_frames(n, params) == 1 and n_frames(0, params) == 0
    samples = song(n)
    assert_equals_vak(samples, 32000, params, random_reader(samples, n), 3)


def test_audio_shorter_than_promised_is_an_error():
    params = PARAMS["vak-tcn default"]
    samples = song(10000)
    spect = StreamingSpectrogram(array_reader(samples[:5000]), len(samples), 32000, params)
    with pytest.raises(ValueError, match="audio ended after"):
        list(spect.blocks())
