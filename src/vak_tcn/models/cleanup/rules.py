"""The clean-up rules, on one file's frame labels (NumPy only; docs/postprocessing.md).

Clean-up, in this order (:func:`clean`)
    1. **Gap filling** (``min_gap_dur``, DAS's ``fill_gaps``, vak issue #729): a run of
       background frames shorter than ``min_gap_dur`` (``frames * frame_dur < min_gap_dur``,
       vak's comparison) *between two runs of the same label* takes that label, joining the
       two into one segment.  A gap between two different labels is kept: filling it would
       merge two syllables into one and change the label sequence.  Gaps at the start or end
       of a file (one neighbour only) are never filled.
    2. **Minimum segment duration** (vak's ``min_segment_dur``): segments (runs of
       non-background frames, whatever their labels) shorter than it become background.
    3. **Majority vote** (vak's ``majority_vote``): every frame of a segment takes the
       segment's most frequent label (the smallest one on a tie, as ``scipy.stats.mode``).

    Steps 2 and 3 are vak's ``postprocess`` (same rules, same order); 0 or ``None`` turns a
    duration step off.

:class:`Settings` is one setting of the three; :func:`then` the one setting that cleans as two in
turn (tuned clean-up, then vak predict's own).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...metrics.segments import runs

__all__ = ["Settings", "clean", "fill_gaps", "postprocess", "then"]


def postprocess(
    frame_labels: np.ndarray,
    timebin_dur: float,
    background_label: int = 0,
    min_segment_dur: float | None = None,
    majority_vote: bool = False,
) -> np.ndarray:
    """vak's ``postprocess`` (no boundary labels), vectorised over segments; returns a new array.

    Segments are runs of non-background frames.  Those with ``frames * timebin_dur <
    min_segment_dur`` become background; then, with ``majority_vote``, every frame of a segment
    gets the segment's most frequent label (the smallest one on a tie).  vak's calls
    ``scipy.stats.mode`` once per segment (1.3 ms each); tests compare this with vak's.
    """
    labels = np.array(frame_labels, dtype=np.int64).ravel()
    foreground = labels != background_label
    if not foreground.any():
        return labels
    edges = np.diff(np.concatenate([[False], foreground, [False]]).astype(np.int8))
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    lengths = stops - starts
    if min_segment_dur is not None:
        short = lengths * timebin_dur < min_segment_dur  # vak's comparison, the same floats
        for start, stop in zip(starts[short], stops[short]):
            labels[start:stop] = background_label
        starts, stops, lengths = starts[~short], stops[~short], lengths[~short]
        if len(starts) == 0:
            return labels
    if majority_vote:
        segment = np.repeat(np.arange(len(starts)), lengths)
        index = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
        values, codes = np.unique(labels[index], return_inverse=True)
        counts = np.zeros((len(starts), len(values)), dtype=np.int64)
        np.add.at(counts, (segment, codes), 1)
        labels[index] = values[counts.argmax(axis=1)][segment]  # argmax: the first (smallest) of the ties
    return labels


def fill_gaps(frame_labels: np.ndarray, frame_dur: float, min_gap_dur: float | None, background: int = 0) -> np.ndarray:
    """Fill short silent gaps between two runs of the same label; returns a new array.

    A run of ``background`` frames with ``frames * frame_dur < min_gap_dur`` whose neighbours
    on both sides are runs of one and the same label takes that label.

    Examples
    --------
    >>> fill_gaps(np.array([0, 1, 1, 0, 1, 0, 0, 2, 0, 2, 0]), frame_dur=1.0, min_gap_dur=2)
    array([0, 1, 1, 1, 1, 0, 0, 2, 2, 2, 0])
    """
    labels = np.array(frame_labels, dtype=np.int64).ravel()
    if not min_gap_dur:
        return labels
    starts, lengths, values = runs(labels)
    if len(values) < 3:
        return labels
    inner = np.zeros(len(values), dtype=bool)
    inner[1:-1] = values[:-2] == values[2:]
    fill = inner & (values == background) & (lengths * frame_dur < min_gap_dur)
    for start, length, value in zip(starts[fill], lengths[fill], values[np.flatnonzero(fill) - 1]):
        labels[start : start + length] = value
    return labels


@dataclasses.dataclass(frozen=True)
class Settings:
    """One clean-up setting (durations in seconds; 0 turns a step off)."""

    min_segment_dur: float = 0.0
    min_gap_dur: float = 0.0
    majority_vote: bool = False

    def asdict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def is_off(self) -> bool:
        return not (self.min_segment_dur or self.min_gap_dur or self.majority_vote)

    def describe(self) -> str:
        if self.is_off:
            return "none"
        return (
            f"min_gap_dur={self.min_gap_dur:g} s, min_segment_dur={self.min_segment_dur:g} s, "
            f"majority_vote={str(self.majority_vote).lower()}"
        )


def then(first: Settings, second: Settings) -> Settings:
    """One setting that cleans as ``first`` and then ``second`` do (``second`` without gap filling).

    ``vak predict`` always applies the config's clean-up (vak's ``postprocess``) to what the model
    returns; when the model has applied tuned clean-up first, the result is this setting's: a
    segment too short for either minimum goes, and majority vote runs if either asks for it
    (removing a segment or voting within one changes no other segment).  Tested against the two
    applied in turn.
    """
    if second.min_gap_dur:
        raise ValueError("then(): the second setting must not fill gaps (vak's clean-up does not)")
    return Settings(
        min_segment_dur=max(first.min_segment_dur, second.min_segment_dur),
        min_gap_dur=first.min_gap_dur,
        majority_vote=first.majority_vote or second.majority_vote,
    )


def clean(frame_labels: np.ndarray, frame_dur: float, settings: Settings, background: int = 0) -> np.ndarray:
    """All clean-up steps of ``settings`` on one file's frame labels: gap filling, then vak's."""
    labels = fill_gaps(frame_labels, frame_dur, settings.min_gap_dur, background)
    if settings.min_segment_dur or settings.majority_vote:
        labels = postprocess(
            labels,
            timebin_dur=frame_dur,
            background_label=background,
            min_segment_dur=settings.min_segment_dur or None,
            majority_vote=settings.majority_vote,
        )
    return labels
