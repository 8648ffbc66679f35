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

The clean-up itself lives in :mod:`vak_tcn.models.postprocess` (vak's ``postprocess``,
vectorised, and the gap filling of tuned settings).  With gap filling on, a piece is cut only
after at least ``min_gap_dur`` of background, a gap that is never filled, so the pieces still
give the whole file's segments.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..models.postprocess import fill_gaps, postprocess
from ..models.trained import background_index, segments_drop_background
from ..plugins import vak_compat

__all__ = ["SegmentStream", "postprocess"]

#: frames a piece holds before it is cut
PIECE_FRAMES = 65536


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
    min_gap_dur : float or None
        Fill silent gaps shorter than this between two runs of one label first
        (:func:`vak_tcn.models.postprocess.fill_gaps`).
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
        min_gap_dur: float | None = None,
    ):
        _, self.to_segments, _ = vak_compat.frame_labels_functions()
        self.labelmap, self.times, self.frame_dur = labelmap, times, frame_dur
        self.majority_vote, self.min_segment_dur = bool(majority_vote), min_segment_dur
        self.min_gap_dur = min_gap_dur or None
        # background frames that must precede a cut: a gap that long is never filled
        self._gap_frames = 1
        if self.min_gap_dur and np.isfinite(frame_dur) and frame_dur > 0:
            self._gap_frames = int(np.ceil(self.min_gap_dur / frame_dur)) + 1
        # cut only where vak's to_segments leaves background out; clean up with vak predict's background
        self.has_background = segments_drop_background(labelmap)
        self.background = background_index(labelmap)
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
            # cut after a background frame (after enough background when gaps are filled),
            # keeping at least two frames on each side (vak's frame duration needs two frame times)
            bg = labels[1:-2] == self.background
            if self._gap_frames > 1:  # a run of _gap_frames background frames ends at the cut
                run = np.convolve(bg.astype(np.int64), np.ones(self._gap_frames, dtype=np.int64))[: bg.size]
                bg = run >= self._gap_frames
            bg = np.nonzero(bg)[0]
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
        if self.min_gap_dur:
            labels = fill_gaps(labels, self.frame_dur, self.min_gap_dur, self.background)
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
