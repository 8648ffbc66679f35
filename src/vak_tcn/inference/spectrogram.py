"""vak's spectrogram, computed block by block from audio of any length.

vak's prep makes a spectrogram with
:func:`vak.prep.spectrogram_dataset.spect.spectrogram` on the whole file:

1. if ``freq_cutoffs``: a 5th-order Butterworth band-pass, applied with
   :func:`scipy.signal.lfilter` (causal, zero initial state);
2. :func:`matplotlib.mlab.specgram`: Hann window of ``fft_size`` samples, hop
   ``step_size``, no detrending, one-sided PSD scaled by ``1 / (fs * sum(window**2))``,
   frame ``f`` centred at ``(fft_size / 2 + f * step_size) / fs`` seconds;
3. ``transform_type``: ``log_spect`` divides by the **whole file's** maximum power (over all
   frequency bins) and takes ``log10``, then clamps below ``-thresh``;
   ``log_spect_plus_one`` is ``log10(power + 1)`` clamped below ``thresh``; no
   transform: power clamped below ``thresh``;
4. if ``freq_cutoffs``: keep the bins with ``low <= f < high``.

Here the filter runs on blocks with its state carried from block to block (exactly
``lfilter`` on the whole signal), frames are cut from the filtered samples as they arrive,
and the global maximum of ``log_spect`` is taken in a first pass over the audio (the audio is
read twice; nothing grows with its length).  The result equals vak's to float tolerance,
at block boundaries and at both ends (tests/inference/test_spectrogram.py).

A recording shorter than ``fft_size`` samples has one frame, its samples zero-padded to one
window, as matplotlib pads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from scipy import fft as sp_fft
from scipy import signal

from ..models.trained import SpectParams  # the trained model's spectrogram parameters
from ..plugins import vak_compat

__all__ = ["SpectParams", "StreamingSpectrogram", "array_reader", "frame_times", "n_frames", "transform"]

#: frames per spectrogram block (the windowed samples of a block take 8 * fft_size bytes a frame)
BLOCK_FRAMES = 4096


def n_frames(n_samples: int, params: SpectParams) -> int:
    """Number of spectrogram frames (time bins) vak gives ``n_samples`` of audio.

    Audio shorter than one FFT window gets one frame (matplotlib zero-pads it to a window).
    """
    if n_samples < params.fft_size:
        return 1 if n_samples > 0 else 0
    return (n_samples - params.fft_size) // params.step_size + 1


def frame_times(start: int, stop: int, samplerate: int, params: SpectParams) -> np.ndarray:
    """Times of frames ``start..stop-1`` in seconds, the same floats as matplotlib's (and vak's) ``t``."""
    return (params.fft_size / 2 + np.arange(start, stop, dtype=float) * params.step_size) / samplerate


def transform(power: np.ndarray, params: SpectParams, peak: float | np.ndarray | None) -> np.ndarray:
    """vak's ``transform_type`` and ``thresh`` applied to power ``(freq bins, frames)``.

    ``peak``: the maximum power ``log_spect`` divides by, a number (vak: the whole file's) or
    one per frame (broadcast over the frequency bins).
    """
    if params.transform_type == "log_spect":
        with np.errstate(divide="ignore", invalid="ignore"):
            spect = np.log10(power / peak)
        if params.thresh:
            spect[spect < -params.thresh] = -params.thresh
    elif params.transform_type == "log_spect_plus_one":
        spect = np.log10(power + 1)
        if params.thresh:
            spect[spect < params.thresh] = params.thresh
    else:
        spect = power
        if params.thresh:
            spect[spect < params.thresh] = params.thresh
    return np.ascontiguousarray(spect)


class StreamingSpectrogram:
    """vak's spectrogram of one recording, block by block.

    Parameters
    ----------
    read_blocks : callable
        ``read_blocks(n)`` returns an iterator over the recording's samples (1-D float64
        arrays of at most ``n`` samples, in order, the last one possibly shorter). It is called
        once per pass (twice for ``log_spect``).
    n_samples : int
        Length of the recording in samples.
    samplerate : int
    params : SpectParams
    block_frames : int
        Frames per block yielded.
    """

    def __init__(
        self,
        read_blocks: Callable[[int], Iterator[np.ndarray]],
        n_samples: int,
        samplerate: int,
        params: SpectParams,
        block_frames: int = BLOCK_FRAMES,
    ):
        self.read_blocks = read_blocks
        self.n_samples = int(n_samples)
        self.samplerate = int(samplerate)
        self.params = params
        self.block_frames = int(block_frames)
        self.n_frames = n_frames(self.n_samples, params)
        self.window = np.hanning(params.fft_size)  # matplotlib's window_hanning
        self.scale = 1.0 / (self.samplerate * (self.window**2).sum())
        freqs = np.fft.fftfreq(params.fft_size, 1 / samplerate)[: params.fft_size // 2 + 1]
        if params.fft_size % 2 == 0:
            freqs[-1] = -freqs[-1]
        keep = np.arange(len(freqs))[params._keep(freqs)]
        self.freqbins = freqs[keep]
        # the kept bins are contiguous: a slice, so cutting is a view
        self._keep = slice(int(keep[0]), int(keep[-1]) + 1) if len(keep) else slice(0, 0)
        # matplotlib's PSD scaling: one-sided bins (all but DC and, for even sizes, Nyquist) x 2, / (fs * sum(w**2))
        self._bin_scale = np.full(len(freqs), 2.0 * self.scale)
        self._bin_scale[0] = self.scale
        if params.fft_size % 2 == 0:
            self._bin_scale[-1] = self.scale
        self._max_power: float | None = None

    # ---------------------------------------------------------------- passes
    def _filtered(self) -> Iterator[np.ndarray]:
        """The (band-passed) samples, in blocks, the filter's state carried across blocks."""
        p = self.params
        if p.freq_cutoffs:
            b, a = vak_compat.butter_bandpass(p.freq_cutoffs[0], p.freq_cutoffs[1], self.samplerate)
            state = np.zeros(max(len(a), len(b)) - 1)
        hop = self.block_frames * p.step_size
        for block in self.read_blocks(hop):
            block = np.asarray(block, dtype=float)
            if p.freq_cutoffs:
                block, state = signal.lfilter(b, a, block, zi=state)
            yield block

    def _power_blocks(self, keep: slice = slice(None)) -> Iterator[tuple[int, np.ndarray]]:
        """``(first frame, power)`` with power ``(freq bins[keep], frames)``: matplotlib's PSD."""
        p = self.params
        if self.n_frames == 0:
            return
        carry = np.zeros(0)
        done = 0  # frames yielded
        for block in self._filtered():
            samples = np.concatenate([carry, block]) if carry.size else block
            offset = done * p.step_size  # sample index of samples[0]
            available = (len(samples) - p.fft_size) // p.step_size + 1 if len(samples) >= p.fft_size else 0
            available = min(available, self.n_frames - done)
            if available > 0:
                yield done, self._psd(samples, available, keep)
                done += available
            carry = samples[done * p.step_size - offset :]
            if done >= self.n_frames:
                break
        if done == 0 and self.n_frames == 1 and 0 < len(carry) == self.n_samples < p.fft_size:
            # shorter than one window: matplotlib zero-pads the (filtered) samples to one window
            yield 0, self._psd(np.concatenate([carry, np.zeros(p.fft_size - len(carry))]), 1, keep)
            done = 1
        if done != self.n_frames:
            raise ValueError(f"audio ended after {done} of {self.n_frames} frames (file shorter than its header says)")

    def _psd(self, samples: np.ndarray, count: int, keep: slice = slice(None)) -> np.ndarray:
        p = self.params
        windows = np.lib.stride_tricks.sliding_window_view(samples, p.fft_size)[:: p.step_size][:count]
        spec = sp_fft.rfft(windows * self.window, n=p.fft_size, axis=1, overwrite_x=True)[:, keep]
        power = np.square(spec.real)
        power += np.square(spec.imag)
        power *= self._bin_scale[keep]
        return power.T

    def max_power(self) -> float:
        """The whole recording's maximum power (a first pass over the audio); cached."""
        if self._max_power is None:
            peak = 0.0
            for _, power in self._power_blocks():
                peak = max(peak, float(power.max()))
            self._max_power = peak
        return self._max_power

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first frame, spectrogram block)``, blocks ``(freq bins, frames)`` as vak's spectrogram's columns."""
        p = self.params
        peak = self.max_power() if p.transform_type == "log_spect" else None
        for start, power in self._power_blocks(self._keep):
            # vak cuts the frequency bins after the transform, which acts per element: cut first
            yield start, transform(power, p, peak)

    def frame_times(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return frame_times(start, self.n_frames if stop is None else stop, self.samplerate, self.params)


def array_reader(samples: np.ndarray) -> Callable[[int], Iterator[np.ndarray]]:
    """``read_blocks`` for audio already in memory (tests, short files)."""

    def read_blocks(n: int) -> Iterator[np.ndarray]:
        for start in range(0, len(samples), n):
            yield samples[start : start + n]

    return read_blocks
