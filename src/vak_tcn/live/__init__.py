"""Live annotation with a causal TCN: :class:`Stream` (Python), ``vak-tcn live`` (:mod:`.run`:
the command; :mod:`.sources`: its audio; :mod:`.trigger`: ``--trigger``; :mod:`.session`: its
messages and signals) and ``vak-tcn bench-live`` (:mod:`.latency`).  See docs/live.md.

The names below are imported on first use, so that the CLI can build its parser without
importing torch.
"""

from __future__ import annotations

_EXPORTS = ("Event", "LiveSpectrogram", "Stream", "reference_power_of")
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from . import stream

        return getattr(stream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
