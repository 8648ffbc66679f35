"""Frame labels -> segments in seconds, streamed, with vak's rules.

vak's predict post-processes a file's whole frame-label vector
(:func:`vak.transforms.frame_labels.postprocess`: ``min_segment_dur``, majority vote) and
turns it into segments (:func:`vak.transforms.frame_labels.to_segments`).  Both act on runs
of non-background frames only, so a vector cut right after a background frame gives the same
segments piece by piece: :class:`SegmentStream` keeps the labels of the current piece, cuts
it at its last background frame once it is long, post-processes each piece and runs
``to_segments`` on it with that piece's frame times (the same floats as the whole file's).

:func:`to_segments` and :func:`frame_dur_from_times` are vak's ``to_segments`` and
``timebin_dur_from_vec``, the same operations on the same floats (compared with vak's on random
label vectors in tests/inference/test_segments.py), here so that annotating does not import vak
(7-8 s; docs/annotate.md).
Memory is bounded by the piece length, not the file's; the result equals vak's on the whole
vector (tested).  A labelmap without a background class cannot be cut: the whole vector is
then kept.

The clean-up itself lives in :mod:`vak_tcn.models.cleanup` (vak's ``postprocess``,
vectorised, and the gap filling of tuned settings).  With gap filling on, a piece is cut only
after at least ``min_gap_dur`` of background, a gap that is never filled, so the pieces still
give the whole file's segments.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..metrics.segments import runs, segment_times
from ..models.cleanup import fill_gaps, postprocess
from ..models.trained import background_index, segments_drop_background
from ..plugins import vak_compat

__all__ = ["SegmentStream", "frame_dur_from_times", "postprocess", "to_segments"]

#: frames a piece holds before it is cut
PIECE_FRAMES = 65536


def frame_dur_from_times(frame_times: np.ndarray, n_decimals_trunc: int = 5) -> float:
    """vak's frame duration from frame times (``vak.common.timebins.timebin_dur_from_vec``): the mean
    difference, rounded to ``n_decimals_trunc`` decimals, then truncated there."""
    timebin_dur = np.around(np.mean(np.diff(frame_times)), decimals=n_decimals_trunc)
    decade = 10**n_decimals_trunc
    return np.trunc(timebin_dur * decade) / decade


def to_segments(frame_labels: np.ndarray, labelmap: dict, frame_times: np.ndarray, n_decimals_trunc: int = 5):
    """vak's ``vak.transforms.frame_labels.to_segments``: ``(labels, onsets_s, offsets_s)`` of the runs
    of equal frame labels, the background's left out when the labelmap has vak's background label;
    ``(None, None, None)`` when no segment is left.  Onsets and offsets at frame edges (a frame time
    -/+ half :func:`frame_dur_from_times`), the first onset clipped at 0 and the last offset at the
    last frame time.  The label names are looked up in one step instead of one at a time."""
    frame_labels = np.asarray(frame_labels)
    if frame_labels.ndim == 2 and frame_labels.shape[1] == 1:
        frame_labels = frame_labels.ravel()
    if frame_labels.ndim != 1:
        raise ValueError(f"bad input shape {frame_labels.shape}")
    background = vak_compat.background_label()
    if background in labelmap:
        # all frames background (vak #383)
        unique = np.unique(frame_labels)
        if len(unique) == 1 and unique[0] == labelmap[background]:
            return None, None, None
    timebin_dur = frame_dur_from_times(frame_times, n_decimals_trunc)
    starts, lengths, labels = runs(frame_labels)
    if background in labelmap:
        keep = np.where(labels != labelmap[background])[0]
        labels, starts, lengths = labels[keep], starts[keep], lengths[keep]
    if len(labels) == 0:
        return None, None, None
    names = {v: k for k, v in labelmap.items()}
    codes = np.unique(labels)
    lookup = np.asarray([names[code] for code in codes.tolist()])  # a KeyError as vak's for a label not in it
    labels = lookup[np.searchsorted(codes, labels)]
    onsets_s, offsets_s = segment_times(np.asarray(frame_times), starts, starts + lengths, timebin_dur)
    return labels, onsets_s, offsets_s


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
        (:func:`vak_tcn.models.cleanup.fill_gaps`).
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
        self.to_segments = to_segments
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


def stream_for(labelmap: dict, frame_times: Callable, n_frames: int, cleanup) -> SegmentStream:
    """A :class:`SegmentStream` of a recording's ``n_frames`` frames (``frame_times(start, stop)``: their
    times, s) applying the clean-up ``cleanup`` (:class:`vak_tcn.models.cleanup.Settings`); its frame
    duration vak's, from the first 1000 frame times (NaN for fewer than two frames)."""
    frame_dur = float(frame_dur_from_times(frame_times(0, min(n_frames, 1000)))) if n_frames >= 2 else float("nan")
    return SegmentStream(
        labelmap, frame_times, frame_dur, cleanup.majority_vote, cleanup.min_segment_dur or None,
        min_gap_dur=cleanup.min_gap_dur or None,
    )  # fmt: skip


def of_frame_labels(labelmap: dict, frame_labels: np.ndarray, frame_times: np.ndarray, cleanup):
    """``(labels, onsets_s, offsets_s)`` of one recording's frame labels (class numbers) and frame times
    (seconds) under ``cleanup``: what annotate's stream makes of the same labels, for a whole vector."""
    frame_times = np.asarray(frame_times, dtype=float)
    stream = stream_for(labelmap, lambda a, b: frame_times[a:b], len(frame_times), cleanup)
    stream.feed(np.asarray(frame_labels))
    return stream.finish()
