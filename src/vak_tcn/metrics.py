"""Segmentation metrics: boundaries, R-value, over-segmentation, edit score, F1@k.

Usable on their own (NumPy only) to score any pair of annotations, and
registered with vak through the plugin hooks as the ``segmentation`` metric
(:class:`SegmentationMetrics`), so every ``vak eval``/``vak learncurve`` run of a
vak-tcn model reports them, raw and post-processed.

Conventions
-----------
Boundaries
    The onsets and offsets of labelled segments, in seconds.  An offset equal
    to the next onset (within ``merge_tol``) counts once.
Matching (same as :func:`vocalpy.metrics.segmentation.ir.precision_recall_fscore`)
    A predicted boundary matches a reference boundary if
    ``|ref - hyp| <= tolerance`` (inclusive), after rounding both to
    ``decimals`` decimal places (vocalpy's default: 3, i.e. 1 ms).  Each
    boundary matches at most once: candidate pairs are taken greedily in
    order of increasing distance (ties: lower reference index, then lower
    predicted index), which is vocalpy's rule.  Both empty: precision =
    recall = F-score = 1; exactly one empty: 0.
Frames to segments (vak's convention, ``vak.transforms.frame_labels.to_segments``)
    A run of equal non-background frame labels is a segment from
    ``frame_times[first] - frame_dur / 2`` to ``frame_times[last] + frame_dur / 2``,
    clipped to ``[0, frame_times[-1]]`` as vak does; without ``frame_times``,
    frame ``j`` is centred at ``(j + 0.5) * frame_dur``.
Segment scores (MS-TCN's evaluation code)
    Edit score ``(1 - levenshtein / max(len)) * 100`` over the sequences of
    segment labels; F1@k: each predicted segment is matched to the same-label
    reference segment with the highest IoU, a hit if IoU >= k and that
    reference is not already matched.  Scores are 0-100.  Both sequences empty:
    100.

Examples
--------
>>> import numpy as np
>>> from vak_tcn import metrics
>>> ref = np.array([0.100, 0.250, 0.300, 0.420])
>>> hyp = np.array([0.102, 0.249, 0.350, 0.421, 0.500])
>>> scores = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=0.004)
>>> scores["n_hits"], round(scores["precision"], 2), round(scores["recall"], 2)
(3, 0.6, 0.75)
>>> metrics.segment_scores(np.array([0, 1, 1, 0, 2, 2, 2, 0]), np.array([0, 1, 1, 0, 0, 2, 2, 0]), frame_dur=0.01)["f1_50"]
100.0
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "boundaries_from_segments",
    "frame_labels_to_segments",
    "boundary_precision_recall_fscore",
    "r_value",
    "over_segmentation",
    "levenshtein",
    "segmental_edit_score",
    "f1_at_k",
    "segment_scores",
    "score_annotations",
    "SegmentationMetrics",
]

KEYS = ("precision", "recall", "fscore", "rvalue", "overseg", "edit", "f1_10", "f1_25", "f1_50")


def boundaries_from_segments(onsets, offsets, merge_tol: float = 1e-6) -> np.ndarray:
    """Sorted boundary times of segments; an offset equal to the next onset counts once.

    >>> boundaries_from_segments([0.1, 0.3], [0.3, 0.5]).tolist()
    [0.1, 0.3, 0.5]
    """
    times = np.sort(np.concatenate([np.asarray(onsets, dtype=float).ravel(), np.asarray(offsets, dtype=float).ravel()]))
    if times.size < 2:
        return times
    keep = np.concatenate([[True], np.diff(times) > merge_tol])
    return times[keep]


def frame_labels_to_segments(frame_labels, frame_dur: float, background: int = 0, frame_times=None):
    """``(onsets_s, offsets_s, labels)`` of the runs of non-background frame labels.

    >>> on, off, lbl = frame_labels_to_segments(np.array([0, 3, 3, 0, 1, 0]), frame_dur=0.5)
    >>> on.tolist(), off.tolist(), lbl.tolist()
    ([0.5, 2.0], [1.5, 2.5], [3, 1])
    """
    y = np.asarray(frame_labels).ravel()
    if y.size == 0:
        empty = np.zeros(0)
        return empty, empty.copy(), np.zeros(0, dtype=y.dtype)
    starts = np.flatnonzero(np.concatenate([[True], y[1:] != y[:-1]]))
    lasts = np.concatenate([starts[1:] - 1, [y.size - 1]])
    labels = y[starts]
    keep = labels != background
    starts, lasts, labels = starts[keep], lasts[keep], labels[keep]
    if frame_times is None:
        frame_times = (np.arange(y.size) + 0.5) * frame_dur
    frame_times = np.asarray(frame_times, dtype=float).ravel()
    onsets = frame_times[starts] - frame_dur / 2
    offsets = frame_times[lasts] + frame_dur / 2
    # vak clips the first onset at 0 and the last offset at the last frame's time
    np.maximum(onsets, 0.0, out=onsets)
    np.minimum(offsets, frame_times[-1], out=offsets)
    return onsets, offsets, labels


def _match(hyp: np.ndarray, ref: np.ndarray, tolerance: float) -> int:
    """Number of one-to-one matches under vocalpy's greedy-by-distance rule.

    Vectorised: candidate pairs come from ``searchsorted`` on the sorted
    reference (O(n log n)).  A pair whose reference and hypothesis have no
    other candidate is matched outright (the usual case, all in NumPy); only
    boundaries that compete for each other go through the sequential greedy
    pass.  Original indices are kept, so tie-breaking equals vocalpy's.
    """
    order_ref = np.argsort(ref, kind="stable")
    ref_sorted = ref[order_ref]
    lo = np.searchsorted(ref_sorted, hyp - tolerance, side="left")
    hi = np.searchsorted(ref_sorted, hyp + tolerance, side="right")
    counts = hi - lo
    if counts.sum() == 0:
        return 0
    hyp_idx = np.repeat(np.arange(hyp.size), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    ref_idx = order_ref[np.repeat(lo, counts) + offsets]
    diffs = np.abs(ref[ref_idx] - hyp[hyp_idx])
    ok = diffs <= tolerance  # searchsorted bounds are inclusive up to float error: recheck exactly
    hyp_idx, ref_idx, diffs = hyp_idx[ok], ref_idx[ok], diffs[ok]
    ref_deg = np.bincount(ref_idx, minlength=ref.size)
    hyp_deg = np.bincount(hyp_idx, minlength=hyp.size)
    lonely = (ref_deg[ref_idx] == 1) & (hyp_deg[hyp_idx] == 1)
    n = int(lonely.sum())
    contested = ~lonely
    if contested.any():
        h, r, d = hyp_idx[contested], ref_idx[contested], diffs[contested]
        order = np.lexsort((h, r, d))  # by distance, then reference index, then hypothesis index
        used_ref, used_hyp = set(), set()
        for i in order.tolist():
            if r[i] not in used_ref and h[i] not in used_hyp:
                used_ref.add(r[i])
                used_hyp.add(h[i])
        n += len(used_ref)
    return n


def boundary_precision_recall_fscore(hypothesis, reference, tolerance: float = 0.004, decimals: int | None = 3) -> dict:
    """Boundary precision, recall and F-score with a tolerance window (see module docs).

    Returns a dict with ``precision``, ``recall``, ``fscore``, ``n_hits``,
    ``n_hyp``, ``n_ref``.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    hyp = np.asarray(hypothesis, dtype=float).ravel()
    ref = np.asarray(reference, dtype=float).ravel()
    if decimals is not None and decimals is not False:
        hyp, ref = np.round(hyp, decimals), np.round(ref, decimals)
    n_hyp, n_ref = hyp.size, ref.size
    if n_hyp == 0 and n_ref == 0:
        return {"precision": 1.0, "recall": 1.0, "fscore": 1.0, "n_hits": 0, "n_hyp": 0, "n_ref": 0}
    n_hits = _match(hyp, ref, tolerance) if n_hyp and n_ref else 0
    precision = n_hits / n_hyp if n_hyp else 0.0
    recall = n_hits / n_ref if n_ref else 0.0
    fscore = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "fscore": fscore, "n_hits": n_hits, "n_hyp": n_hyp, "n_ref": n_ref}


def over_segmentation(n_hyp: int, n_ref: int) -> float:
    """``n_hyp / n_ref - 1``; with no reference boundaries, ``n_hyp`` (each one is extra)."""
    if n_ref == 0:
        return float(n_hyp)
    return n_hyp / n_ref - 1.0


def r_value(hit_rate: float, overseg: float) -> float:
    """R-value of Räsänen et al. (2009) from hit rate (recall, 0-1) and over-segmentation.

    ``r1 = sqrt((1 - HR)^2 + OS^2)``, ``r2 = (-OS + HR - 1) / sqrt(2)``,
    ``R = 1 - (|r1| + |r2|) / 2``.  1 is perfect.

    >>> r_value(1.0, 0.0)
    1.0
    """
    r1 = np.sqrt((1.0 - hit_rate) ** 2 + overseg**2)
    r2 = (-overseg + hit_rate - 1.0) / np.sqrt(2.0)
    return float(1.0 - (abs(r1) + abs(r2)) / 2.0)


def levenshtein(a, b) -> int:
    """Edit distance between two sequences (rows of the DP table vectorised).

    Each row's insertion chain ``cur[j] = min(cur[j], cur[j-1] + 1)`` is a
    running minimum of ``cur[k] - k`` plus ``j``, so a row is one
    ``np.minimum.accumulate``: O(len(a)) NumPy steps of O(len(b)).

    >>> levenshtein("kitten", "sitting")
    3
    """
    a, b = np.asarray(list(a)), np.asarray(list(b))
    if a.size == 0 or b.size == 0:
        return int(max(a.size, b.size))
    j = np.arange(b.size + 1)
    prev = j.copy()
    for i in range(1, a.size + 1):
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (a[i - 1] != b))
        cur = np.minimum.accumulate(cur - j) + j
        prev = cur
    return int(prev[-1])


def segmental_edit_score(pred_labels, ref_labels) -> float:
    """MS-TCN's edit score, 0-100, on sequences of segment labels.

    >>> segmental_edit_score("abc", "abd")
    66.66666666666667
    """
    pred, ref = list(pred_labels), list(ref_labels)
    n = max(len(pred), len(ref))
    if n == 0:
        return 100.0
    return (1.0 - levenshtein(pred, ref) / n) * 100.0


def f1_at_k(pred_segments, ref_segments, overlap: float) -> float:
    """MS-TCN's F1@k (0-100); segments are ``(onsets, offsets, labels)``."""
    p_on, p_off, p_lbl = (np.asarray(v) for v in pred_segments)
    r_on, r_off, r_lbl = (np.asarray(v) for v in ref_segments)
    if p_lbl.size == 0 and r_lbl.size == 0:
        return 100.0
    if p_lbl.size == 0 or r_lbl.size == 0:
        return 0.0
    inter = np.minimum(p_off[:, None], r_off[None, :]) - np.maximum(p_on[:, None], r_on[None, :])
    union = np.maximum(p_off[:, None], r_off[None, :]) - np.minimum(p_on[:, None], r_on[None, :])
    iou = np.where(p_lbl[:, None] == r_lbl[None, :], inter / np.where(union > 0, union, 1.0), 0.0)
    best = iou.argmax(axis=1)
    best_iou = iou[np.arange(p_lbl.size), best]
    hits = np.zeros(r_lbl.size, dtype=bool)
    tp = 0
    for j in np.flatnonzero(best_iou >= overlap).tolist():  # sequential: a reference matches once
        if not hits[best[j]]:
            hits[best[j]] = True
            tp += 1
    fp = p_lbl.size - tp
    fn = r_lbl.size - tp
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 0.0 if precision + recall == 0 else 200.0 * precision * recall / (precision + recall)


def _scores(pred, ref, tolerance, decimals) -> dict[str, float]:
    """All scores from predicted and reference segments ``(onsets, offsets, labels)``."""
    b = boundary_precision_recall_fscore(
        boundaries_from_segments(pred[0], pred[1]), boundaries_from_segments(ref[0], ref[1]), tolerance, decimals
    )
    overseg = over_segmentation(b["n_hyp"], b["n_ref"])
    scores = {
        "precision": b["precision"],
        "recall": b["recall"],
        "fscore": b["fscore"],
        "rvalue": r_value(b["recall"], overseg),
        "overseg": overseg,
        "edit": segmental_edit_score(pred[2].tolist(), ref[2].tolist()),
    }
    for k in (10, 25, 50):
        scores[f"f1_{k}"] = f1_at_k(pred, ref, k / 100)
    return {key: float(scores[key]) for key in KEYS}


def segment_scores(
    pred_frame_labels,
    ref_frame_labels=None,
    *,
    frame_dur: float,
    background: int = 0,
    tolerance: float = 0.004,
    decimals: int | None = 3,
    frame_times=None,
    ref_onsets=None,
    ref_offsets=None,
    ref_labels=None,
) -> dict[str, float]:
    """All segmentation scores of predicted frame labels against a reference.

    The reference is the ground-truth segments (``ref_onsets``,
    ``ref_offsets``, ``ref_labels``, in seconds and the same integer labels as
    the frames) when given, else ``ref_frame_labels``.  Returns a dict with
    keys ``precision, recall, fscore`` (0-1), ``rvalue``, ``overseg``,
    ``edit, f1_10, f1_25, f1_50`` (0-100); always finite.
    """
    if frame_dur is None or not frame_dur > 0:
        raise ValueError(f"frame_dur must be a positive number of seconds, got {frame_dur!r}")
    pred = frame_labels_to_segments(pred_frame_labels, frame_dur, background, frame_times)
    if ref_onsets is not None:
        ref = (np.asarray(ref_onsets, float), np.asarray(ref_offsets, float), np.asarray(ref_labels))
    elif ref_frame_labels is not None:
        ref = frame_labels_to_segments(ref_frame_labels, frame_dur, background, frame_times)
    else:
        raise ValueError("give the reference as ref_frame_labels or as ref_onsets, ref_offsets, ref_labels")
    return _scores(pred, ref, tolerance, decimals)


def score_annotations(hyp, ref, tolerance: float = 0.004, decimals: int | None = 3) -> dict[str, float]:
    """Score two annotations (crowsetta ``Annotation`` or ``Sequence``) against each other.

    Labels are compared as strings.  Returns the same keys as
    :func:`segment_scores`.
    """

    def seq(a):
        s = getattr(a, "seq", a)
        return np.asarray(s.onsets_s, float), np.asarray(s.offsets_s, float), np.asarray(s.labels).astype(str)

    h, r = seq(hyp), seq(ref)
    return _scores(h, r, tolerance, decimals)


class SegmentationMetrics:
    """The ``segmentation`` metric vak-tcn registers with vak.

    Configure it in a vak config's metrics table::

        [vak.learncurve.model.TCN.metrics.segmentation]
        tolerance = 0.004   # seconds, +/-

    vak-tcn's model family calls it once per validation file (see
    docs/plugins.md); it logs ``val_precision``, ``val_recall``, ... (and
    ``_tfm`` variants), i.e. ``avg_val_precision_epoch`` ... in eval CSVs.
    """

    def __init__(self, tolerance: float = 0.004, decimals: int | None = 3):
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
            raise ValueError(f"metrics.segmentation parameter 'tolerance' must be a number >= 0 (seconds), got {tolerance!r}")
        self.tolerance = float(tolerance)
        self.decimals = decimals

    def __call__(self, y_pred, y_true, *, frame_dur, background=0, reference=None, frame_times=None, **context) -> dict:
        ref = {}
        if reference is not None:
            ref = {"ref_onsets": reference["onsets_s"], "ref_offsets": reference["offsets_s"], "ref_labels": reference["labels"]}
        return segment_scores(
            y_pred,
            y_true,
            frame_dur=frame_dur,
            background=background,
            tolerance=self.tolerance,
            decimals=self.decimals,
            frame_times=frame_times,
            **ref,
        )
