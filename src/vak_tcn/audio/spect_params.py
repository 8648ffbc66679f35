"""The spectrogram parameters of a trained model: vak's ``[vak.prep.spect_params]``."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["SpectParams"]


@dataclasses.dataclass(frozen=True)
class SpectParams:
    """The ``[vak.prep.spect_params]`` that shape a spectrogram (vak's defaults)."""

    fft_size: int = 512
    step_size: int = 64
    thresh: float | None = None
    transform_type: str | None = None
    freq_cutoffs: tuple[float, float] | None = None

    @classmethod
    def from_vak(cls, spect_params) -> SpectParams:
        """From vak's ``SpectParamsConfig`` (or a dict with its keys)."""
        get = spect_params.get if isinstance(spect_params, dict) else lambda k, d=None: getattr(spect_params, k, d)
        cutoffs = get("freq_cutoffs", None)
        return cls(
            fft_size=int(get("fft_size", 512)),
            step_size=int(get("step_size", 64)),
            thresh=None if get("thresh", None) is None else float(get("thresh")),
            transform_type=get("transform_type", None),
            freq_cutoffs=None if cutoffs is None else (float(cutoffs[0]), float(cutoffs[1])),
        )

    def freqbins(self, samplerate: int) -> np.ndarray:
        """Centre frequencies of the bins vak keeps at this sample rate."""
        freqs = np.fft.fftfreq(self.fft_size, 1 / samplerate)[: self.fft_size // 2 + 1]
        if self.fft_size % 2 == 0:
            freqs[-1] = -freqs[-1]  # matplotlib makes the Nyquist bin positive
        return freqs[self._keep(freqs)]

    def _keep(self, freqs: np.ndarray) -> np.ndarray | slice:
        if not self.freq_cutoffs:
            return slice(None)
        return np.nonzero((freqs >= self.freq_cutoffs[0]) & (freqs < self.freq_cutoffs[1]))[0]

    def power_key(self) -> dict:
        """What a spectrogram's power depends on (``thresh`` and ``transform_type`` act after it)."""
        return {
            "fft_size": self.fft_size,
            "step_size": self.step_size,
            "freq_cutoffs": None if self.freq_cutoffs is None else list(self.freq_cutoffs),
        }
