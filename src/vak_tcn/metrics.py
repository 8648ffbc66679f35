"""Segmentation metrics: boundaries, R-value, over-segmentation, edit score, F1@k.

Usable on their own (NumPy only; nothing from vak, vocalpy or torch is imported)
to score any pair of annotations, and registered with vak through the plugin
hooks as the ``segmentation`` metric (:class:`SegmentationMetrics`), so every
``vak eval``/``vak learncurve`` run of a vak-tcn model reports them, raw and
post-processed.

Conventions
-----------
Boundaries
    The onsets and offsets of labelled segments, in seconds, sorted.  An offset
    equal to the next onset (within ``merge_tol``) counts once.
Boundary matching (the convention of :mod:`vocalpy.metrics.segmentation.ir`, vocalpy 0.10)
    Both arrays are rounded to ``decimals`` decimal places first (vocalpy's
    default: 3, i.e. 1 ms).  A predicted boundary ``h`` *can* match a reference
    boundary ``r`` if ``|r - h| <= tolerance`` -- **inclusive**, as vocalpy's
    code does (its docstring writes a strict inequality, its code uses ``<=``).
    Each boundary matches at most once.  vocalpy's matching is **greedy by
    distance, not optimal**: all candidate pairs are taken in order of
    increasing distance (ties: lower reference index, then lower predicted
    index) and a pair is kept if neither boundary is matched yet.  That is not
    always a maximum matching: reference ``[0, 1]``, predicted ``[0.6, 1.7]``,
    tolerance 0.7 gives 1 hit where 2 are possible.  The default
    (``matching="vocalpy"``) reproduces vocalpy's hit counts exactly;
    ``matching="optimal"`` gives the maximum one-to-one matching instead.
Empty inputs (vocalpy's convention, vocalpy issue #170)
    Both empty: precision = recall = F-score = 1 (the correct "no boundaries").
    Exactly one empty: precision = recall = F-score = 0.  No hits at all:
    F-score 0 (never NaN).
R-value and over-segmentation (Räsänen et al. 2009)
    ``OS = n_hyp / n_ref - 1`` (``= recall / precision - 1`` when there are hits);
    ``r1 = sqrt((1 - HR)^2 + OS^2)``, ``r2 = (-OS + HR - 1) / sqrt(2)``,
    ``R = 1 - (|r1| + |r2|) / 2`` with ``HR`` = recall.  vocalpy 0.10 has no
    R-value.  With no reference boundaries ``OS = n_hyp`` (0 if both empty).
Frames to segments
    A run of equal non-background frame labels is a segment.  Without
    ``frame_times`` it spans ``[start * frame_dur, end * frame_dur)`` (``end``
    exclusive).  With ``frame_times`` (bin centres), vak's convention
    (:func:`vak.transforms.frame_labels.functional.to_segments`): from
    ``frame_times[first] - frame_dur / 2`` to ``frame_times[last] + frame_dur / 2``,
    the first onset clipped at 0 and the last offset at ``frame_times[-1]``.
Segment scores (MS-TCN's evaluation code, ``eval.py`` of Farha & Gall 2019)
    Edit score ``(1 - levenshtein / max(len)) * 100`` over the sequences of
    segment labels.  F1@k: each predicted segment, in order, is matched to the
    same-label reference segment with the highest IoU (first one on ties); a
    hit if IoU >= k and that reference was not hit before.  Scores are 0-100
    (MS-TCN's scale).  Both sequences empty: 100 (MS-TCN would divide by zero);
    exactly one empty: F1 0, edit 0.

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
    "KEYS",
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

#: Keys of the dicts returned by :func:`segment_scores` and :func:`score_annotations`.
KEYS = ("precision", "recall", "fscore", "rvalue", "overseg", "edit", "f1_10", "f1_25", "f1_50")


# --------------------------------------------------------------------------- boundaries
def boundaries_from_segments(onsets, offsets, merge_tol: float = 1e-6) -> np.ndarray:
    """Sorted boundary times of segments; an offset equal to the next onset counts once.

    Parameters
    ----------
    onsets, offsets : array_like
        Segment onset and offset times, in seconds.
    merge_tol : float
        Consecutive boundary times (after sorting) closer than or as close as
        this are one boundary, e.g. the offset of a segment and the onset of
        the next one when there is no gap.  Default 1e-6 s, far below the
        1-ms rounding applied before matching.

    Returns
    -------
    numpy.ndarray
        1-D float array of boundary times, sorted, strictly increasing.

    Examples
    --------
    >>> boundaries_from_segments([0.1, 0.3], [0.3, 0.5]).tolist()
    [0.1, 0.3, 0.5]
    >>> boundaries_from_segments([0.1, 0.6], [0.3, 0.7]).tolist()
    [0.1, 0.3, 0.6, 0.7]
    >>> boundaries_from_segments([], []).size
    0
    """
    times = np.sort(
        np.concatenate([np.asarray(onsets, dtype=float).ravel(), np.asarray(offsets, dtype=float).ravel()])
    )
    if times.size < 2:
        return times
    keep = np.concatenate([[True], np.diff(times) > merge_tol])
    return times[keep]


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
    change = np.flatnonzero(y[1:] != y[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [y.size]])  # exclusive
    labels = y[starts]
    if background is not None:
        keep = labels != background
        starts, ends, labels = starts[keep], ends[keep], labels[keep]
    if frame_times is None:
        return starts * float(frame_dur), ends * float(frame_dur), labels
    frame_times = np.asarray(frame_times, dtype=float).ravel()
    if frame_times.size != y.size:
        raise ValueError(f"frame_times has {frame_times.size} values for {y.size} frames")
    onsets = frame_times[starts] - frame_dur / 2
    offsets = frame_times[ends - 1] + frame_dur / 2
    # vak clips the first onset at 0 and the last offset at the last frame's time
    np.maximum(onsets, 0.0, out=onsets)
    np.minimum(offsets, frame_times[-1], out=offsets)
    return onsets, offsets, labels


# --------------------------------------------------------------------------- matching
def _candidate_pairs(hyp: np.ndarray, ref: np.ndarray, tolerance: float):
    """All pairs ``|ref - hyp| <= tolerance``: ``(hyp_idx, ref_idx, dist)``, O((n + E) log n).

    The window of each predicted boundary in the sorted reference comes from
    two ``searchsorted`` calls, widened by a few ulps so that no pair is lost to
    the rounding of ``hyp -/+ tolerance``; the exact test is then
    ``np.abs(ref - hyp) <= tolerance``, the same float operation as vocalpy's.
    """
    if np.all(ref[1:] >= ref[:-1]):
        order_ref, ref_sorted = np.arange(ref.size), ref
    else:
        order_ref = np.argsort(ref, kind="stable")
        ref_sorted = ref[order_ref]
    scale = max(float(np.max(np.abs(hyp))), float(np.max(np.abs(ref)))) + tolerance
    slack = 8 * np.finfo(float).eps * scale
    lo = np.searchsorted(ref_sorted, hyp - tolerance - slack, side="left")
    hi = np.searchsorted(ref_sorted, hyp + tolerance + slack, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0)
    starts = np.cumsum(counts) - counts
    hyp_idx = np.repeat(np.arange(hyp.size), counts)
    ref_idx = order_ref[np.arange(total) - np.repeat(starts, counts) + np.repeat(lo, counts)]
    dist = np.abs(ref[ref_idx] - hyp[hyp_idx])
    ok = dist <= tolerance
    return hyp_idx[ok], ref_idx[ok], dist[ok]


def _greedy_matching(h: np.ndarray, r: np.ndarray, n_hyp: int, n_ref: int) -> int:
    """Size of the greedy matching over edges ``(h[e], r[e])`` listed in priority order.

    Greedy: take the edges in order, keep one if neither end is matched yet.
    The vectorised part uses the fact that, for a strict total order on the
    edges, this greedy matching is also what repeatedly taking all *locally
    dominant* edges gives (an edge that comes first among the still-available
    edges at both its ends: no earlier edge can take either end, so greedy keeps
    it; Preis 1999).  Each such round is a few NumPy operations; when rounds stop
    removing at least half of the remaining edges (long chains of edges that
    each depend on the previous one), the rest is finished by the plain
    sequential greedy pass over the remaining edges, in order -- same result.
    Isolated pairs (one hypothesis, one reference, no competitor), the usual
    case for song, would all be matched in the first round; the caller counts
    them beforehand.
    """
    n_edges = h.size
    alive = np.arange(n_edges)
    free_h = np.ones(n_hyp, dtype=bool)
    free_r = np.ones(n_ref, dtype=bool)
    n_matched = 0
    while alive.size:
        ha, ra = h[alive], r[alive]
        first_h = np.full(n_hyp, n_edges)
        first_r = np.full(n_ref, n_edges)
        np.minimum.at(first_h, ha, alive)
        np.minimum.at(first_r, ra, alive)
        dominant = (first_h[ha] == alive) & (first_r[ra] == alive)
        n_matched += int(dominant.sum())
        free_h[ha[dominant]] = False
        free_r[ra[dominant]] = False
        remaining = alive[free_h[ha] & free_r[ra]]
        slow = remaining.size > alive.size // 2
        alive = remaining
        if slow:
            break
    if alive.size:  # sequential greedy on what is left (edges already in priority order)
        fh, fr = free_h.tolist(), free_r.tolist()
        for i, j in zip(h[alive].tolist(), r[alive].tolist()):
            if fh[i] and fr[j]:
                fh[i] = fr[j] = False
                n_matched += 1
    return n_matched


def _n_hits(hyp: np.ndarray, ref: np.ndarray, tolerance: float, matching: str) -> int:
    h, r, d = _candidate_pairs(hyp, ref, tolerance)
    if h.size == 0:
        return 0
    # A pair whose two boundaries have no other candidate is matched under any
    # order (the usual case for song): count those directly, sort only the rest.
    isolated = (np.bincount(h, minlength=hyp.size)[h] == 1) & (np.bincount(r, minlength=ref.size)[r] == 1)
    n_isolated = int(isolated.sum())
    if n_isolated == h.size:
        return n_isolated
    h, r, d = h[~isolated], r[~isolated], d[~isolated]
    if matching == "vocalpy":
        # vocalpy: Python's stable sort by distance of the pairs np.where lists in
        # (reference index, hypothesis index) order -> key (distance, ref index, hyp index)
        order = np.lexsort((h, r, d))
    else:
        # Maximum matching.  Every reference boundary's window [r - tol, r + tol] has
        # the same width, so sorted by left end = sorted by right end.  Sweep the
        # predicted boundaries in increasing order; each takes the smallest free
        # reference boundary in its window.  This is maximum: let h be the smallest
        # predicted boundary with a free candidate and r the smallest such candidate;
        # take any maximum matching M of what is left.  If (h, r) in M, fine.  If
        # h-r' and h'-r are in M (r' >= r, h' >= h), swap to h-r, h'-r': r' <= h + tol
        # <= h' + tol and h' <= r + tol <= r' + tol, so |h' - r'| <= tol, same size.
        # If only one of h, r is matched in M, re-pair it with the other: same size.
        # If neither, M + (h, r) is larger, a contradiction.  Free references
        # smaller than r are below h - tol, out of reach of every later h.  By
        # induction the sweep is maximum.  The sweep is the greedy matching in
        # lexicographic order of (sorted position of h, sorted position of r).
        rank_h = np.empty(hyp.size, dtype=np.intp)
        rank_h[np.argsort(hyp, kind="stable")] = np.arange(hyp.size)
        rank_r = np.empty(ref.size, dtype=np.intp)
        rank_r[np.argsort(ref, kind="stable")] = np.arange(ref.size)
        order = np.lexsort((rank_r[r], rank_h[h]))
    return n_isolated + _greedy_matching(h[order], r[order], hyp.size, ref.size)


def boundary_precision_recall_fscore(
    hypothesis, reference, tolerance: float = 0.004, decimals: int | bool | None = 3, matching: str = "vocalpy"
) -> dict:
    """Boundary precision, recall and F-score with a tolerance window.

    Same numbers as
    :func:`vocalpy.metrics.segmentation.ir.precision_recall_fscore` (see the
    module docs for the convention), in O(n log n) instead of vocalpy's
    n_ref x n_hyp distance matrix and quadratic Python loop.

    Parameters
    ----------
    hypothesis : array_like
        Predicted boundary times (seconds).  Unlike vocalpy, need not be
        sorted or unique; a duplicate is a separate boundary.
    reference : array_like
        Reference (ground truth) boundary times.
    tolerance : float
        A predicted boundary can match a reference boundary at most this far
        away, inclusive (``|ref - hyp| <= tolerance``).  Default 0.004 s.
    decimals : int, None or False
        Round both arrays to this many decimals first, as vocalpy does; None
        means 3 (vocalpy's default), False no rounding.
    matching : {"vocalpy", "optimal"}
        ``"vocalpy"`` (default): vocalpy's greedy-by-distance one-to-one
        matching (hits equal vocalpy's).  ``"optimal"``: a maximum one-to-one
        matching (never fewer hits; usually the same number).

    Returns
    -------
    dict
        ``precision`` = n_hits / n_hyp, ``recall`` = n_hits / n_ref,
        ``fscore`` (harmonic mean; 0 when there are no hits), ``n_hits``,
        ``n_hyp``, ``n_ref``.  Both arrays empty: precision = recall =
        F-score = 1.0; exactly one empty: all three 0.0 (vocalpy's values).

    Examples
    --------
    >>> s = boundary_precision_recall_fscore([0.1, 0.204, 0.5], [0.1, 0.2, 0.3])
    >>> s["n_hits"], s["precision"], s["recall"]
    (2, 0.6666666666666666, 0.6666666666666666)

    The tolerance is inclusive; vocalpy's greedy matching is not always maximum:

    >>> boundary_precision_recall_fscore([0.6, 1.7], [0.0, 1.0], tolerance=0.7)["n_hits"]
    1
    >>> boundary_precision_recall_fscore([0.6, 1.7], [0.0, 1.0], tolerance=0.7, matching="optimal")["n_hits"]
    2
    >>> boundary_precision_recall_fscore([], [])["fscore"], boundary_precision_recall_fscore([0.1], [])["fscore"]
    (1.0, 0.0)
    """
    if matching not in ("vocalpy", "optimal"):
        raise ValueError(f'matching must be "vocalpy" or "optimal", got {matching!r}')
    if isinstance(tolerance, bool) or not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    tolerance = float(tolerance)
    hyp = np.asarray(hypothesis, dtype=float).ravel()
    ref = np.asarray(reference, dtype=float).ravel()
    if not (np.all(np.isfinite(hyp)) and np.all(np.isfinite(ref))):
        raise ValueError("boundary times must be finite")
    if decimals is None:
        decimals = 3
    if decimals is not False:
        hyp, ref = np.round(hyp, int(decimals)), np.round(ref, int(decimals))
    n_hyp, n_ref = int(hyp.size), int(ref.size)
    if n_hyp == 0 and n_ref == 0:
        return {"precision": 1.0, "recall": 1.0, "fscore": 1.0, "n_hits": 0, "n_hyp": 0, "n_ref": 0}
    n_hits = _n_hits(hyp, ref, tolerance, matching) if n_hyp and n_ref else 0
    precision = n_hits / n_hyp if n_hyp else 0.0
    recall = n_hits / n_ref if n_ref else 0.0
    fscore = 2 * precision * recall / (precision + recall) if n_hits else 0.0
    return {"precision": precision, "recall": recall, "fscore": fscore, "n_hits": n_hits, "n_hyp": n_hyp, "n_ref": n_ref}


# --------------------------------------------------------------------------- R-value
def over_segmentation(n_hyp: int, n_ref: int) -> float:
    """Over-segmentation ``n_hyp / n_ref - 1`` (Räsänen et al. 2009).

    0: as many predicted as reference boundaries; > 0: too many; -1: none
    predicted.  With no reference boundaries it is ``n_hyp`` (every predicted
    boundary is one too many; 0 when both are empty).

    Examples
    --------
    >>> over_segmentation(15, 10), over_segmentation(0, 10), over_segmentation(3, 0)
    (0.5, -1.0, 3.0)
    """
    if n_ref == 0:
        return float(n_hyp)
    return n_hyp / n_ref - 1.0


def r_value(precision: float, recall: float, overseg: float | None = None) -> float:
    """R-value of Räsänen, Laine & Altosaar (2009); 1 is perfect.

    ``OS = recall / precision - 1``, ``HR = recall``,
    ``r1 = sqrt((1 - HR)^2 + OS^2)``, ``r2 = (-OS + HR - 1) / sqrt(2)``,
    ``R = 1 - (|r1| + |r2|) / 2``.  (vocalpy 0.10 has no R-value.)

    Parameters
    ----------
    precision, recall : float
        Boundary precision and recall, 0-1.
    overseg : float, optional
        Over-segmentation computed from the counts
        (:func:`over_segmentation`); use it when you have the counts, since
        ``recall / precision`` cannot recover it when there are no hits.
        Without it, ``precision == recall == 0`` gives ``OS = -1`` (the limit
        of the common ``recall / (precision + eps) - 1``).

    Returns
    -------
    float

    Examples
    --------
    >>> r_value(1.0, 1.0)
    1.0
    >>> round(r_value(0.5, 1.0), 4)  # twice as many boundaries as the reference, all found
    0.1464
    >>> round(r_value(0.0, 0.0), 4)  # nothing found (OS = -1)
    0.2929
    """
    hr = float(recall)
    if overseg is None:
        if precision > 0:
            overseg = recall / precision - 1.0
        elif recall == 0:
            overseg = -1.0
        else:
            raise ValueError("precision 0 with recall > 0 is impossible for a one-to-one matching; pass overseg")
    os_ = float(overseg)
    r1 = np.sqrt((1.0 - hr) ** 2 + os_**2)
    r2 = (-os_ + hr - 1.0) / np.sqrt(2.0)
    return float(1.0 - (abs(r1) + abs(r2)) / 2.0)


# --------------------------------------------------------------------------- segment scores
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


def f1_at_k(pred_segments, ref_segments, overlap: float) -> float:
    """MS-TCN's segmental F1@k, 0-100.

    Parameters
    ----------
    pred_segments, ref_segments : tuple
        ``(onsets, offsets, labels)`` of predicted and reference segments.
    overlap : float
        IoU threshold ``k`` in (0, 1], e.g. 0.10, 0.25, 0.50.

    Returns
    -------
    float
        ``100 * 2 tp / (2 tp + fp + fn)``.  MS-TCN's rule (``f_score`` in its
        ``eval.py``): each predicted segment, in the given order, takes the
        reference segment of the same label with the highest IoU (the first one
        on ties); it is a hit (tp) if that IoU >= ``overlap`` and the reference
        was not hit before, else a false positive; unhit references are
        misses.  Both empty: 100.0; exactly one empty: 0.0.

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
    >>> ref = ([0.0, 1.0], [0.5, 1.5], ["a", "b"])
    >>> f1_at_k(([0.0, 1.2], [0.5, 1.5], ["a", "b"]), ref, 0.5)  # IoUs 1 and 0.6
    100.0
    >>> f1_at_k(([0.0, 1.3], [0.5, 1.5], ["a", "b"]), ref, 0.5)  # IoUs 1 and 0.4
    50.0
    """
    if not 0 < overlap <= 1:
        raise ValueError(f"overlap must be in (0, 1], got {overlap!r}")
    p_on, p_off, p_lbl = _as_segments(pred_segments)
    r_on, r_off, r_lbl = _as_segments(ref_segments)
    n_pred, n_ref = p_lbl.size, r_lbl.size
    if n_pred == 0 and n_ref == 0:
        return 100.0
    if n_pred == 0 or n_ref == 0:
        return 0.0
    pi, ri = _overlapping_pairs(p_on, p_off, r_on, r_off)
    same = p_lbl[pi] == r_lbl[ri]
    pi, ri = pi[same], ri[same]
    inter = np.minimum(p_off[pi], r_off[ri]) - np.maximum(p_on[pi], r_on[ri])
    union = np.maximum(p_off[pi], r_off[ri]) - np.minimum(p_on[pi], r_on[ri])
    iou = 1.0 * inter / union  # same float expression as MS-TCN
    order = np.lexsort((ri, -iou, pi))  # per prediction: highest IoU first, then lowest ref index
    pi, ri, iou = pi[order], ri[order], iou[order]
    best = np.concatenate([[True], pi[1:] != pi[:-1]]) if pi.size else np.zeros(0, dtype=bool)
    qualify = best & (iou >= overlap)
    tp = int(np.unique(ri[qualify]).size)
    fp, fn = n_pred - tp, n_ref - tp
    return 100.0 * 2 * tp / (2 * tp + fp + fn)


# --------------------------------------------------------------------------- all scores
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
        "rvalue": r_value(b["precision"], b["recall"], overseg=overseg),
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
    background=0,
    tolerance: float = 0.004,
    decimals: int | bool | None = 3,
    frame_times=None,
    ref_onsets=None,
    ref_offsets=None,
    ref_labels=None,
) -> dict[str, float]:
    """All segmentation scores of predicted frame labels against a reference.

    Parameters
    ----------
    pred_frame_labels : array_like
        Predicted label of each frame (e.g. a network's argmax).
    ref_frame_labels : array_like, optional
        Reference frame labels; used when ``ref_onsets`` is not given.
    frame_dur : float
        Frame duration in seconds (keyword only).
    background : int
        Label of unlabelled frames.
    tolerance : float
        Boundary tolerance in seconds (inclusive), default 0.004.
    decimals : int, None or False
        Rounding before boundary matching (vocalpy's; default 3).
    frame_times : array_like, optional
        Frame centre times; see :func:`frame_labels_to_segments`.
    ref_onsets, ref_offsets, ref_labels : array_like, optional
        Ground-truth segments (seconds; labels in the same coding as the
        frames).  When given they are the reference.

    Returns
    -------
    dict
        Keys ``precision, recall, fscore`` (0-1), ``rvalue`` (<= 1),
        ``overseg`` (>= -1), ``edit, f1_10, f1_25, f1_50`` (0-100); always
        finite (see the module docs for the empty cases).

    Examples
    --------
    >>> s = segment_scores(np.array([0, 1, 1, 0, 0, 1]), np.array([0, 1, 1, 1, 0, 0]), frame_dur=0.01)
    >>> s["precision"], s["recall"], s["edit"], s["f1_50"]
    (0.25, 0.5, 50.0, 66.66666666666667)
    >>> segment_scores(np.zeros(5, dtype=int), np.zeros(5, dtype=int), frame_dur=0.01)["fscore"]
    1.0
    """
    if frame_dur is None or not frame_dur > 0:
        raise ValueError(f"frame_dur must be a positive number of seconds, got {frame_dur!r}")
    pred = frame_labels_to_segments(pred_frame_labels, frame_dur, background, frame_times)
    if ref_onsets is not None:
        ref = _as_segments((ref_onsets, ref_offsets, ref_labels))
    elif ref_frame_labels is not None:
        ref = frame_labels_to_segments(ref_frame_labels, frame_dur, background, frame_times)
    else:
        raise ValueError("give the reference as ref_frame_labels or as ref_onsets, ref_offsets, ref_labels")
    return _scores(pred, ref, tolerance, decimals)


def score_annotations(hyp, ref, tolerance: float = 0.004, decimals: int | bool | None = 3) -> dict[str, float]:
    """Score two annotations (crowsetta ``Annotation`` or ``Sequence``) against each other.

    Uses ``.seq.onsets_s``, ``.seq.offsets_s`` and ``.seq.labels`` (or the
    attributes of a ``Sequence`` directly); labels are compared as strings.

    Returns
    -------
    dict
        The keys of :func:`segment_scores`.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> ref = NS(seq=NS(onsets_s=[0.1, 0.3], offsets_s=[0.2, 0.4], labels=["a", "b"]))
    >>> hyp = NS(seq=NS(onsets_s=[0.1, 0.301], offsets_s=[0.2, 0.4], labels=["a", "c"]))
    >>> s = score_annotations(hyp, ref)
    >>> s["fscore"], s["edit"], s["f1_50"]
    (1.0, 50.0, 50.0)
    """

    def seq(a):
        s = getattr(a, "seq", a)
        return (
            np.asarray(s.onsets_s, dtype=float),
            np.asarray(s.offsets_s, dtype=float),
            np.asarray(s.labels).astype(str),
        )

    return _scores(seq(hyp), seq(ref), tolerance, decimals)


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
