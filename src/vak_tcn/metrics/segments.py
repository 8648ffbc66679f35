"""Frame labels to segments; segment scores: edit score and F1@k (MS-TCN's evaluation).

NumPy only.  The conventions are in the docs of :mod:`vak_tcn.metrics`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "frame_labels_to_segments",
    "runs",
    "segment_times",
    "levenshtein",
    "segmental_edit_score",
    "f1_counts",
    "f1_from_counts",
    "f1_at_k",
]


def frame_labels_to_segments(frame_labels, frame_dur: float, background=0, frame_times=None):
    """Segments ``(onsets_s, offsets_s, labels)`` from a vector of frame labels.

    Every run of equal frame labels that are not ``background`` is a segment.
    Vectorised: run starts come from ``np.flatnonzero`` on the label changes.

    Parameters
    ----------
    frame_labels : array_like
        1-D vector of (integer) labels, one per frame.
    frame_dur : float
        Duration of a frame, in seconds.
    background : int, optional
        The label of unlabelled frames (default 0); ``None``: every run is a segment.
    frame_times : array_like, optional
        Times of the frame (bin) centres, as vak stores them.  Without it a
        segment from frame ``start`` up to frame ``end`` (exclusive) spans
        ``start * frame_dur`` to ``end * frame_dur``; with it, vak's convention:
        bin centre -/+ ``frame_dur / 2``, first onset clipped at 0, last offset
        at ``frame_times[-1]`` (as
        :func:`vak.transforms.frame_labels.functional.to_segments` does).

    Returns
    -------
    onsets_s, offsets_s : numpy.ndarray
        Float arrays, seconds.
    labels : numpy.ndarray
        The label of each segment, same dtype as ``frame_labels``.

    Examples
    --------
    >>> on, off, lbl = frame_labels_to_segments(np.array([0, 3, 3, 0, 1, 1]), frame_dur=0.5)
    >>> on.tolist(), off.tolist(), lbl.tolist()
    ([0.5, 2.0], [1.5, 3.0], [3, 1])
    >>> frame_labels_to_segments(np.zeros(4, dtype=int), frame_dur=0.5)[0].size
    0
    """
    y = np.asarray(frame_labels).ravel()
    if y.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=y.dtype)
    starts, lengths, labels = runs(y)
    ends = starts + lengths  # exclusive
    if background is not None:
        keep = labels != background
        starts, ends, labels = starts[keep], ends[keep], labels[keep]
    if frame_times is None:
        return starts * float(frame_dur), ends * float(frame_dur), labels
    frame_times = np.asarray(frame_times, dtype=float).ravel()
    if frame_times.size != y.size:
        raise ValueError(f"frame_times has {frame_times.size} values for {y.size} frames")
    return (*segment_times(frame_times, starts, ends, frame_dur), labels)


def runs(labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, lengths, values)`` of the runs of equal values of a 1-D vector: labels to segments,
    the one core that the metrics (:func:`frame_labels_to_segments`), annotation's segments
    (:func:`vak_tcn.inference.segments.to_segments`) and the clean-up and its tuner
    (:mod:`vak_tcn.models.cleanup`) share.

    >>> [a.tolist() for a in runs(np.array([0, 3, 3, 0, 1, 1]))]
    [[0, 1, 3, 4], [1, 2, 1, 2], [0, 3, 0, 1]]
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), labels[:0]
    starts = np.flatnonzero(np.concatenate([[True], labels[1:] != labels[:-1]]))
    lengths = np.diff(np.append(starts, labels.size))
    return starts, lengths, labels[starts]


def segment_times(frame_times: np.ndarray, starts, ends, frame_dur: float) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and offsets (s) of the segments from frame ``starts`` up to ``ends`` (exclusive), vak's
    convention (:func:`vak.transforms.frame_labels.functional.to_segments`): frame time -/+ ``frame_dur / 2``,
    the first onset clipped at 0 and the last offset at the last frame time."""
    onsets = frame_times[starts] - frame_dur / 2
    offsets = frame_times[np.asarray(ends) - 1] + frame_dur / 2
    np.maximum(onsets, 0.0, out=onsets)
    np.minimum(offsets, frame_times[-1], out=offsets)
    return onsets, offsets


def _codes(a, b) -> tuple[np.ndarray, np.ndarray]:
    """The two sequences as integer codes of their (hashable) items."""
    table: dict = {}
    ca = np.fromiter((table.setdefault(x, len(table)) for x in a), dtype=np.int64)
    cb = np.fromiter((table.setdefault(x, len(table)) for x in b), dtype=np.int64)
    return ca, cb


def levenshtein(a, b) -> int:
    """Edit distance between two sequences (insertions, deletions, substitutions cost 1).

    O(len(a) * len(b)) dynamic programme, one NumPy row at a time: a row's
    insertion chain ``cur[j] = min(cur[j], cur[j - 1] + 1)`` is the running
    minimum of ``cur[k] - k`` plus ``j``, i.e. one ``np.minimum.accumulate``.
    Items are compared with ``==`` after mapping to codes, so strings, ints or
    any hashable labels work.

    Examples
    --------
    >>> levenshtein("kitten", "sitting")
    3
    >>> levenshtein([1, 2, 3], [])
    3
    """
    a, b = _codes(list(a), list(b))
    if a.size == 0 or b.size == 0:
        return int(max(a.size, b.size))
    j = np.arange(b.size + 1)
    prev = j.copy()
    for i in range(1, a.size + 1):
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (a[i - 1] != b))
        prev = np.minimum.accumulate(cur - j) + j
    return int(prev[-1])


def segmental_edit_score(pred_labels, ref_labels) -> float:
    """MS-TCN's segmental edit score, 0-100, on the sequences of segment labels.

    ``(1 - levenshtein(pred, ref) / max(len(pred), len(ref))) * 100``; both
    empty: 100 (MS-TCN divides by zero there).

    Examples
    --------
    >>> segmental_edit_score("abc", "abd")
    66.66666666666667
    >>> segmental_edit_score([], [])
    100.0
    """
    pred, ref = list(pred_labels), list(ref_labels)
    n = max(len(pred), len(ref))
    if n == 0:
        return 100.0
    return (1.0 - levenshtein(pred, ref) / n) * 100.0


def _as_segments(segments):
    on, off, lbl = segments
    on = np.asarray(on, dtype=float).ravel()
    off = np.asarray(off, dtype=float).ravel()
    lbl = np.asarray(lbl).ravel()
    if not on.size == off.size == lbl.size:
        raise ValueError(f"segments need as many onsets, offsets and labels, got {on.size}, {off.size}, {lbl.size}")
    return on, off, lbl


def _overlapping_pairs(p_on, p_off, r_on, r_off):
    """Pairs ``(pred, ref)`` with positive overlap.

    Reference segments that do not overlap each other (sorted by onset, their
    offsets are sorted too) give each predicted segment a contiguous run of
    candidates: two ``searchsorted`` calls.  Otherwise all pairs are tested.
    """
    order = np.argsort(r_on, kind="stable")
    on_s, off_s = r_on[order], r_off[order]
    if np.all(np.diff(off_s) >= 0):
        lo = np.searchsorted(off_s, p_on, side="right")  # first with offset > pred onset
        hi = np.searchsorted(on_s, p_off, side="left")  # those with onset < pred offset
        counts = np.maximum(hi - lo, 0)
        total = int(counts.sum())
        starts = np.cumsum(counts) - counts
        pi = np.repeat(np.arange(p_on.size), counts)
        ri = order[np.arange(total) - np.repeat(starts, counts) + np.repeat(lo, counts)]
    else:
        pi, ri = np.nonzero((p_on[:, None] < r_off[None, :]) & (r_on[None, :] < p_off[:, None]))
    inter = np.minimum(p_off[pi], r_off[ri]) - np.maximum(p_on[pi], r_on[ri])
    keep = inter > 0
    return pi[keep], ri[keep]


#: IoU values this close below a threshold ``k`` count as reaching it.  IoUs computed from
#: times in seconds carry float error (``0.02 / 0.04`` from frame times is 0.4999...); on
#: integer frames two distinct IoUs ``a / b`` differ from ``k`` by at least ``1 / (10 b)``, so
#: below 10^8 frames per segment union the tolerance never merges distinct values.
IOU_TOL = 1e-9


def f1_counts(pred_segments, ref_segments, overlap: float) -> tuple[int, int, int]:
    """MS-TCN's segment counts ``(tp, fp, fn)`` at IoU threshold ``overlap``.

    The rule of ``f_score`` in MS-TCN's ``eval.py`` (Farha & Gall 2019): each
    predicted segment, in the given order, takes the reference segment of the
    same label with the highest IoU (the first one on ties); it is a hit (tp) if
    that IoU >= ``overlap`` and the reference was not hit before, else a false
    positive (fp); unhit references are misses (fn).  IoUs within
    :data:`IOU_TOL` of each other are ties, and an IoU within :data:`IOU_TOL`
    below ``overlap`` reaches it, so segments timed in seconds give the counts
    MS-TCN gets on integer frames.

    Sum the counts over files and pass them to :func:`f1_from_counts` for
    MS-TCN's dataset-level F1@k; :func:`f1_at_k` is the F1 of one file.

    Parameters
    ----------
    pred_segments, ref_segments : tuple
        ``(onsets, offsets, labels)`` of predicted and reference segments
        (frame indices or seconds).
    overlap : float
        IoU threshold ``k`` in (0, 1], e.g. 0.10, 0.25, 0.50.

    Returns
    -------
    tuple of int
        ``(tp, fp, fn)``; ``tp + fp`` is the number of predicted segments,
        ``tp + fn`` the number of reference segments.

    Notes
    -----
    Only same-label references that overlap a prediction can reach a positive
    IoU, so candidates come from ``searchsorted``; the sequential "not hit
    before" rule means the tp count is the number of distinct best references
    among the predictions whose best IoU reaches ``overlap``.  MS-TCN's
    frame-label helper makes the last segment of a sequence one frame short;
    here segments are taken as given.

    Examples
    --------
    >>> ref = ([0, 10], [5, 15], ["a", "b"])
    >>> f1_counts(([0, 13], [5, 15], ["a", "b"]), ref, 0.5)  # IoUs 1 and 0.4
    (1, 1, 1)
    >>> f1_counts(([0.01], [0.03], [1]), ([0.01], [0.05], [1]), 0.5)  # IoU 0.02 / 0.04 in floats
    (1, 0, 0)
    """
    if not 0 < overlap <= 1:
        raise ValueError(f"overlap must be in (0, 1], got {overlap!r}")
    p_on, p_off, p_lbl = _as_segments(pred_segments)
    r_on, r_off, r_lbl = _as_segments(ref_segments)
    n_pred, n_ref = p_lbl.size, r_lbl.size
    if n_pred == 0 or n_ref == 0:
        return 0, n_pred, n_ref
    pi, ri = _overlapping_pairs(p_on, p_off, r_on, r_off)
    same = p_lbl[pi] == r_lbl[ri]
    pi, ri = pi[same], ri[same]
    if pi.size == 0:
        return 0, n_pred, n_ref
    inter = np.minimum(p_off[pi], r_off[ri]) - np.maximum(p_on[pi], r_on[ri])
    union = np.maximum(p_off[pi], r_off[ri]) - np.minimum(p_on[pi], r_on[ri])
    iou = 1.0 * inter / union  # same float expression as MS-TCN
    order = np.lexsort((ri, pi))  # grouped by prediction, references in index order
    pi, ri, iou = pi[order], ri[order], iou[order]
    first = np.flatnonzero(np.concatenate([[True], pi[1:] != pi[:-1]]))
    group_max = np.repeat(np.maximum.reduceat(iou, first), np.diff(np.append(first, pi.size)))
    near_best = iou >= group_max - IOU_TOL  # ties: the lowest reference index wins, as argmax does
    _, chosen = np.unique(pi[near_best], return_index=True)
    best_ri, best_iou = ri[near_best][chosen], iou[near_best][chosen]
    tp = int(np.unique(best_ri[best_iou >= overlap - IOU_TOL]).size)
    return tp, n_pred - tp, n_ref - tp


def f1_from_counts(tp: float, fp: float, fn: float) -> float:
    """F1, 0-100, from segment counts: MS-TCN's ``main()`` in ``eval.py`` on summed counts.

    ``precision = tp / (tp + fp)``, ``recall = tp / (tp + fn)``, F1 their
    harmonic mean, i.e. ``100 * 2 tp / (2 tp + fp + fn)``; 0 when ``tp`` is 0
    (MS-TCN's ``nan_to_num``), except that no segments at all (all counts 0,
    nothing to find and nothing predicted) give 100.

    Examples
    --------
    >>> f1_from_counts(1 + 0, 0 + 0, 0 + 9)  # one file scored exactly + one with 9 segments missed
    18.181818181818183
    >>> f1_from_counts(0, 0, 0), f1_from_counts(0, 3, 0)
    (100.0, 0.0)
    """
    if tp < 0 or fp < 0 or fn < 0:
        raise ValueError(f"counts must be >= 0, got tp={tp}, fp={fp}, fn={fn}")
    if tp == 0:
        return 100.0 if fp == 0 and fn == 0 else 0.0
    return 100.0 * 2 * tp / (2 * tp + fp + fn)


def f1_at_k(pred_segments, ref_segments, overlap: float) -> float:
    """MS-TCN's segmental F1@k of one file, 0-100.

    Parameters
    ----------
    pred_segments, ref_segments : tuple
        ``(onsets, offsets, labels)`` of predicted and reference segments.
    overlap : float
        IoU threshold ``k`` in (0, 1], e.g. 0.10, 0.25, 0.50.

    Returns
    -------
    float
        :func:`f1_from_counts` of :func:`f1_counts` (see there for MS-TCN's
        rule): ``100 * 2 tp / (2 tp + fp + fn)``.  Both empty: 100.0; exactly
        one empty: 0.0.

    Examples
    --------
    >>> ref = ([0.0, 1.0], [0.5, 1.5], ["a", "b"])
    >>> f1_at_k(([0.0, 1.2], [0.5, 1.5], ["a", "b"]), ref, 0.5)  # IoUs 1 and 0.6
    100.0
    >>> f1_at_k(([0.0, 1.3], [0.5, 1.5], ["a", "b"]), ref, 0.5)  # IoUs 1 and 0.4
    50.0
    """
    return f1_from_counts(*f1_counts(pred_segments, ref_segments, overlap))
