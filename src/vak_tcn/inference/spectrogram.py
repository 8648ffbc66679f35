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

Two ways to compute it, block by block, in memory that does not grow with the recording:

* :class:`StreamingSpectrogram` (``vak-tcn annotate --exact``): vak's arithmetic, float64.  The
  filter runs on blocks with its state carried from block to block (exactly ``lfilter`` on the
  whole signal), frames are cut from the filtered samples as they arrive, and the global maximum
  of ``log_spect`` is taken in a first pass over the audio: the audio is read, filtered and
  transformed twice.  Equal to vak's to 1e-9, at block boundaries and at both ends
  (tests/inference/test_spectrogram.py).
* :class:`Float32Spectrogram` (the default): one pass, in float32.  The audio is read and
  band-passed once, as vak does it (float64: a float32 filter's rounding reaches the quiet bins,
  and is no faster); each block's FFT is float32, and ``log10`` of the kept bins' power,
  standardized, is kept (:class:`FrameStore`: in memory up to :data:`MEMORY_BYTES`, else in a
  temporary file) until the whole recording's maximum is known, then shifted by it.  Within float32
  rounding of vak's values (tested); docs/annotate.md gives its agreement with the exact path.

Both give the network's input blocks (:meth:`StreamingSpectrogram.network_blocks`): transformed,
standardized with the model's saved standardizer, float32, their FFTs computed on a pool of threads
(:mod:`vak_tcn.inference.pipeline`).

A recording shorter than ``fft_size`` samples has one frame, its samples zero-padded to one
window, as matplotlib pads it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator

import numpy as np
from scipy import fft as sp_fft

from ..audio.spect_params import SpectParams  # the trained model's spectrogram parameters
from ..plugins import vak_files
from .pipeline import Profile, ordered_map, prefetch

__all__ = [
    "Float32Spectrogram",
    "FrameStore",
    "SpectParams",
    "StreamingSpectrogram",
    "array_reader",
    "frame_times",
    "n_frames",
    "transform",
]

#: frames per spectrogram block (the windowed samples of a block take 8 * fft_size bytes a frame)
BLOCK_FRAMES = 4096
#: :class:`Float32Spectrogram` keeps the log power of a recording's kept bins in memory up to this many
#: bytes (64 MiB: 3.7 min at 2-ms frames and 152 bins), in a temporary file beyond (1.1 GB per hour of
#: audio at 2-ms frames and 152 bins)
MEMORY_BYTES = 64 * 2**20


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
    profile : Profile, optional
        Where the seconds of each stage are added up (``--profile``).
    """

    #: the precision of the arithmetic
    dtype = np.float64

    def __init__(
        self,
        read_blocks: Callable[[int], Iterator[np.ndarray]],
        n_samples: int,
        samplerate: int,
        params: SpectParams,
        block_frames: int = BLOCK_FRAMES,
        profile: Profile | None = None,
    ):
        self.profile = profile if profile is not None else Profile()
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
        from scipy import signal

        p = self.params
        if p.freq_cutoffs:  # vak's butter_bandpass, the same numbers (vak is not imported for them)
            b, a = vak_files.bandpass_coefficients(p.freq_cutoffs[0], p.freq_cutoffs[1], self.samplerate)
            state = np.zeros(max(len(a), len(b)) - 1)
        hop = self.block_frames * p.step_size
        for block in self.profile.timed("read", self.read_blocks(hop)):
            block = np.asarray(block, dtype=float)
            if p.freq_cutoffs:
                with self.profile("filter"):
                    block, state = signal.lfilter(b, a, block, zi=state)
            yield block

    def _frame_jobs(self, filtered: Iterator[np.ndarray] | None = None) -> Iterator[tuple[int, np.ndarray, int]]:
        """``(first frame, samples, frames)``: each block's samples (filtered), from which its frames are cut."""
        p = self.params
        if self.n_frames == 0:
            return
        carry = np.zeros(0, dtype=self.dtype)
        done = 0  # frames given
        for block in self._filtered() if filtered is None else filtered:
            samples = np.concatenate([carry, block]) if carry.size else block
            offset = done * p.step_size  # sample index of samples[0]
            available = (len(samples) - p.fft_size) // p.step_size + 1 if len(samples) >= p.fft_size else 0
            available = min(available, self.n_frames - done)
            if available > 0:
                yield done, samples, available
                done += available
            carry = samples[done * p.step_size - offset :]
            if done >= self.n_frames:
                break
        if done == 0 and self.n_frames == 1 and 0 < len(carry) == self.n_samples < p.fft_size:
            # shorter than one window: matplotlib zero-pads the (filtered) samples to one window
            yield 0, np.concatenate([carry, np.zeros(p.fft_size - len(carry), dtype=self.dtype)]), 1
            done = 1
        if done != self.n_frames:
            raise ValueError(f"audio ended after {done} of {self.n_frames} frames (file shorter than its header says)")

    def _jobs(self, threads: bool) -> Iterator[tuple[int, np.ndarray, int]]:
        """:meth:`_frame_jobs`, read and filtered ahead in a thread when ``threads``."""
        return self._frame_jobs(prefetch(self._filtered()) if threads else None)

    def _power_blocks(self, keep: slice = slice(None)) -> Iterator[tuple[int, np.ndarray]]:
        """``(first frame, power)`` with power ``(freq bins[keep], frames)``: matplotlib's PSD."""
        for start, samples, count in self._frame_jobs():
            yield start, self._psd(samples, count, keep)

    def _psd(self, samples: np.ndarray, count: int, keep: slice = slice(None)) -> np.ndarray:
        with self.profile("FFT"):
            p = self.params
            windows = np.lib.stride_tricks.sliding_window_view(samples, p.fft_size)[:: p.step_size][:count]
            spec = sp_fft.rfft(windows * self.window, n=p.fft_size, axis=1, overwrite_x=True)[:, keep]
            power = np.square(spec.real)
            power += np.square(spec.imag)
            power *= self._bin_scale[keep]
            return power.T

    def max_power(self, pool=None) -> float:
        """The whole recording's maximum power (a first pass over the audio); cached.  With ``pool`` (a
        ``concurrent.futures`` executor), the blocks' FFTs on its threads and the audio read ahead."""
        if self._max_power is None:
            peak = 0.0
            block_max = lambda job: float(self._psd(job[1], job[2]).max())  # noqa: E731
            for value in ordered_map(block_max, self._jobs(pool is not None), pool):
                peak = max(peak, value)
            self._max_power = peak
        return self._max_power

    def prepare(self, pool=None, standardizer=None) -> float | None:
        """What must be known before the first block: the maximum power for ``log_spect`` (None for the
        other transforms).  Here a pass over the audio; :class:`Float32Spectrogram` keeps its work (and
        standardizes it with ``standardizer``, as :meth:`network_blocks` will be given)."""
        return self.max_power(pool) if self.params.transform_type == "log_spect" else None

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first frame, spectrogram block)``, blocks ``(freq bins, frames)`` as vak's spectrogram's columns."""
        p = self.params
        peak = self.max_power() if p.transform_type == "log_spect" else None
        for start, power in self._power_blocks(self._keep):
            # vak cuts the frequency bins after the transform, which acts per element: cut first
            yield start, transform(power, p, peak)

    def network_blocks(self, standardizer=None, pool=None) -> Iterator[np.ndarray]:
        """The network's input, block by block: ``(freq bins, frames)`` float32, the spectrogram
        (:meth:`blocks`) standardized by ``standardizer`` (vak's saved one, applied as vak applies it).
        With ``pool``, the blocks' FFTs, transforms and standardization run on its threads (in order)."""
        p = self.params
        peak = self.prepare(pool)

        def job(item):
            _, samples, count = item
            power = self._psd(samples, count, self._keep)
            with self.profile("transform"):
                block = transform(power, p, peak)
                if standardizer is not None:
                    block = standardizer(block)
                return np.ascontiguousarray(block, dtype=np.float32)

        yield from ordered_map(job, self._jobs(pool is not None), pool)

    def frame_times(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return frame_times(start, self.n_frames if stop is None else stop, self.samplerate, self.params)


class FrameStore:
    """A recording's spectrogram blocks (2-D float32 arrays), written in order, read back by index: in
    memory up to ``memory_bytes``, else in an anonymous temporary file (``tempfile.TemporaryFile``, in
    ``TMPDIR``; gone when closed or when the process ends), read with ``os.pread`` (thread-safe, and not
    mapped into memory, so the process's resident memory does not grow with the recording)."""

    def __init__(self, n_bytes: int, memory_bytes: int = MEMORY_BYTES):
        self.blocks: list[tuple[int, tuple[int, ...], np.ndarray | None]] = []  # (offset, shape, array in memory)
        self.size = 0
        self.file = None if n_bytes <= memory_bytes else tempfile.TemporaryFile(prefix="vak-tcn-frames-")

    @property
    def in_memory(self) -> bool:
        return self.file is None

    def __len__(self) -> int:
        return len(self.blocks)

    def write(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self.file is None:
            self.blocks.append((self.size, block.shape, block))
        else:
            if block.size:
                self.file.write(memoryview(block).cast("B"))
            self.blocks.append((self.size, block.shape, None))
        self.size += block.nbytes

    def flush(self) -> None:
        """After the last :meth:`write`, before the first :meth:`read`."""
        if self.file is not None:
            self.file.flush()

    def read(self, index: int) -> np.ndarray:
        """Block ``index``, writable (the caller's to change)."""
        offset, shape, block = self.blocks[index]
        if block is not None:
            return block
        n_bytes = int(np.prod(shape)) * 4
        data = bytearray(os.pread(self.file.fileno(), n_bytes, offset)) if n_bytes else bytearray()
        if len(data) != n_bytes:
            raise OSError(f"temporary file {self.file.name}: read {len(data)} of {n_bytes} bytes")
        return np.frombuffer(data, dtype=np.float32).reshape(shape)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        self.file, self.blocks = None, []


def _standardizer_terms(standardizer, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` float32 columns ``(bins, 1)`` such that ``(x - mean) / std`` is vak's standardization
    (``vak.transforms.functional.standardize_spect``: rows whose standard deviation is 0 only centred)."""
    if standardizer is None:
        return np.zeros((n_bins, 1), dtype=np.float32), np.ones((n_bins, 1), dtype=np.float32)
    mean = np.asarray(standardizer.mean_freqs, dtype=np.float32).reshape(-1, 1)
    std = np.ones_like(mean)
    nonzero = np.asarray(standardizer.non_zero_std).ravel()
    std[nonzero, 0] = np.asarray(standardizer.std_freqs, dtype=np.float32)[nonzero]
    if len(mean) != n_bins:
        raise ValueError(f"the standardizer has {len(mean)} frequency bins, the spectrogram {n_bins}")
    return mean, std


class Float32Spectrogram(StreamingSpectrogram):
    """vak's spectrogram in float32, the audio read once (see the module docs).

    The same parameters as :class:`StreamingSpectrogram` (``read_blocks`` is called once).
    ``memory_bytes``: :class:`FrameStore`'s bound.  For ``log_spect``, :meth:`prepare` reads the whole
    recording: its maximum power, and each block's ``log10`` power, already standardized, kept;
    :meth:`network_blocks` then only subtracts the maximum's share (``log10(power / max)`` standardized
    is ``(log10(power) - mean) / std - log10(max) / std``; ``thresh`` clamps at ``(-thresh - mean) / std``).
    Call :meth:`close` (or use it as a context manager) to free what is kept.
    """

    dtype = np.float32

    def __init__(self, *args, memory_bytes: int = MEMORY_BYTES, **kwargs):
        super().__init__(*args, **kwargs)
        self.window = self.window.astype(np.float32)
        self._bin_scale = self._bin_scale.astype(np.float32)
        self.memory_bytes = int(memory_bytes)
        self.store: FrameStore | None = None
        self._standardizer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def _filtered(self) -> Iterator[np.ndarray]:
        """vak's filter in float64 (the same samples as the exact path's: in float32 its rounding errors
        reach the quiet bins, 60 dB below the loudest, and it is no faster), then float32."""
        for block in super()._filtered():
            yield block.astype(np.float32)

    def max_power(self, pool=None) -> float:
        """The whole recording's maximum power, in float32 (cached)."""
        if self._max_power is None:
            if self.params.transform_type == "log_spect":
                self.prepare(pool)
            else:
                super().max_power(pool)
        return self._max_power

    def prepare(self, pool=None, standardizer=None) -> float | None:
        """For ``log_spect``: one pass over the audio; the maximum power (returned), and each block's
        standardized ``log10`` power kept in :attr:`store` (for :meth:`network_blocks` with the same
        ``standardizer``).  None for the other transforms (nothing to keep)."""
        if self.params.transform_type != "log_spect":
            return None
        if self._max_power is not None:
            if standardizer is not self._standardizer or self.store is None:
                raise RuntimeError("prepare() ran already, with another standardizer, or its blocks were used")
            return self._max_power
        keep = self._keep
        mean, std = _standardizer_terms(standardizer, len(self.freqbins))

        def job(item):
            _, samples, count = item
            power = self._psd(samples, count)  # (all bins, frames): vak's maximum is over all of them
            with self.profile("transform"):
                peak = float(power.max())
                with np.errstate(divide="ignore", invalid="ignore"):
                    block = np.log10(power[keep])
                block -= mean
                block /= std
                return peak, block

        self.store = FrameStore(self.n_frames * len(self.freqbins) * 4, self.memory_bytes)
        peak = 0.0
        try:
            for block_peak, block in ordered_map(job, self._jobs(pool is not None), pool):
                peak = max(peak, block_peak)
                with self.profile("store"):
                    self.store.write(block)
            self.store.flush()
        except BaseException:
            self.close()
            raise
        self._max_power, self._standardizer = peak, standardizer
        return peak

    def network_blocks(self, standardizer=None, pool=None) -> Iterator[np.ndarray]:
        """As :meth:`StreamingSpectrogram.network_blocks`, in float32 (for ``log_spect``, from what
        :meth:`prepare` kept, which it runs first if it has not)."""
        p = self.params
        mean, std = _standardizer_terms(standardizer, len(self.freqbins))
        if p.transform_type != "log_spect":

            def job(item):
                _, samples, count = item
                power = self._psd(samples, count, self._keep)
                with self.profile("transform"):
                    block = transform(power, p, None).astype(np.float32, copy=False)
                    block -= mean
                    block /= std
                    return block

            yield from ordered_map(job, self._jobs(pool is not None), pool)
            return

        peak = self.prepare(pool, standardizer)
        store = self.store
        with np.errstate(divide="ignore"):
            shift = np.float32(np.log10(peak)) / std  # silence (peak 0): -inf everywhere (annotate skips it)
        floor = (np.float32(-p.thresh) - mean) / std if p.thresh else None

        def job(index):
            with self.profile("store"):
                block = store.read(index)
            with self.profile("transform"):
                with np.errstate(invalid="ignore"):
                    block -= shift
                if floor is not None:
                    np.maximum(block, floor, out=block)
                return block

        try:
            yield from ordered_map(job, range(len(store)), pool)
        finally:
            self.close()


def array_reader(samples: np.ndarray) -> Callable[[int], Iterator[np.ndarray]]:
    """``read_blocks`` for audio already in memory (tests, short files)."""

    def read_blocks(n: int) -> Iterator[np.ndarray]:
        for start in range(0, len(samples), n):
            yield samples[start : start + n]

    return read_blocks
