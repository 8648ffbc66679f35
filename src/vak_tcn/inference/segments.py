"""Frame labels -> segments in seconds, streamed, with vak's own functions.

vak's predict post-processes a file's whole frame-label vector
(:func:`vak.transforms.frame_labels.postprocess`: ``min_segment_dur``, majority vote) and
turns it into segments (:func:`vak.transforms.frame_labels.to_segments`).  Both act on runs
of non-background frames only, so a vector cut right after a background frame gives the same
segments piece by piece: :class:`SegmentStream` keeps the labels of the current piece, cuts
it at its last background frame once it is long, post-processes each piece and runs vak's
``to_segments`` on it with that piece's frame times (the same floats as the whole file's).
Memory is bounded by the piece length, not the file's; the result equals vak's on the whole
vector (tested).  A labelmap without a background class cannot be cut: the whole vector is
then kept.

:func:`postprocess` is vak's ``postprocess`` (same rules, same tie-break: the smallest of the
most frequent labels, as ``scipy.stats.mode``) computed for all segments at once: vak's calls
``scipy.stats.mode`` once per segment, 1.3 ms each here, which for song at ~10 segments/s
would cost more than the network (94 s for 2 h).  Tests compare it with vak's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..plugins import vak_compat

__all__ = ["SegmentStream", "postprocess"]

#: frames a piece holds before it is cut
PIECE_FRAMES = 65536


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
    gets the segment's most frequent label (the smallest one on a tie).
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


class SegmentStream:
    """Feed frame labels in order; collect ``(labels, onsets_s, offsets_s)``.

    Parameters
    ----------
    labelmap : dict
        vak's labelmap (label -> integer).
    times : callable
        ``times(start, stop)`` -> the frame times of frames ``start..stop-1``.
    frame_dur : float
        vak's frame duration (``timebin_dur_from_vec`` of the frame times).
    majority_vote : bool
    min_segment_dur : float or None
        vak's post-processing; none if both are off (``--no-post-processing``).
    piece_frames : int
    """

    def __init__(
        self,
        labelmap: dict,
        times: Callable[[int, int], np.ndarray],
        frame_dur: float,
        majority_vote: bool = False,
        min_segment_dur: float | None = None,
        piece_frames: int = PIECE_FRAMES,
    ):
        _, self.to_segments, _ = vak_compat.frame_labels_functions()
        self.labelmap, self.times, self.frame_dur = labelmap, times, frame_dur
        self.majority_vote, self.min_segment_dur = bool(majority_vote), min_segment_dur
        name = vak_compat.background_label()
        self.has_background = name in labelmap
        # vak's predict: the background's integer, else 'unlabeled', else 0
        self.background = labelmap.get(name, labelmap.get("unlabeled", 0))
        self.piece_frames = int(piece_frames)
        self._pieces: list[np.ndarray] = []
        self._len = 0
        self._start = 0  # first frame of the current piece
        self.labels: list[np.ndarray] = []
        self.onsets_s: list[np.ndarray] = []
        self.offsets_s: list[np.ndarray] = []

    def feed(self, frame_labels: np.ndarray) -> None:
        self._pieces.append(np.asarray(frame_labels))
        self._len += len(frame_labels)
        if self._len >= self.piece_frames and self.has_background:
            labels = np.concatenate(self._pieces)
            # cut after a background frame, keeping at least two frames on each side
            # (vak's frame duration needs two frame times)
            bg = np.nonzero(labels[1:-2] == self.background)[0]
            if len(bg):
                cut = int(bg[-1]) + 2  # labels[cut - 1] is background
                self._segments(labels[:cut], self._start)
                self._start += cut
                labels = labels[cut:]
            self._pieces, self._len = [labels], len(labels)

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._len:
            self._segments(np.concatenate(self._pieces), self._start)
        self._pieces, self._len = [], 0
        if not self.labels:
            return np.array([], dtype=str), np.array([], dtype=float), np.array([], dtype=float)
        return np.concatenate(self.labels), np.concatenate(self.onsets_s), np.concatenate(self.offsets_s)

    def _segments(self, labels: np.ndarray, start: int) -> None:
        if len(labels) < 2:  # vak's frame duration needs two frame times
            return
        labels = np.array(labels, dtype=np.int64)
        if self.majority_vote or self.min_segment_dur:
            labels = postprocess(
                labels,
                timebin_dur=self.frame_dur,
                min_segment_dur=self.min_segment_dur,
                majority_vote=self.majority_vote,
                background_label=self.background,
            )
        names, onsets, offsets = self.to_segments(
            labels, labelmap=self.labelmap, frame_times=self.times(start, start + len(labels))
        )
        if names is None:
            return
        self.labels.append(np.asarray(names))
        self.onsets_s.append(np.asarray(onsets, dtype=float))
        self.offsets_s.append(np.asarray(offsets, dtype=float))
