"""Boundary precision, recall and F-score (vocalpy's convention), over-segmentation, R-value.

NumPy only.  The conventions are in the docs of :mod:`vak_tcn.metrics`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["boundaries_from_segments", "boundary_precision_recall_fscore", "over_segmentation", "r_value"]


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
    times = np.sort(np.concatenate([np.asarray(onsets, dtype=float).ravel(), np.asarray(offsets, dtype=float).ravel()]))
    if times.size < 2:
        return times
    keep = np.concatenate([[True], np.diff(times) > merge_tol])
    return times[keep]


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
        # Maximum matching: sweep the predicted boundaries in increasing order, each taking the
        # smallest free reference boundary in its window (the proof is in docs/metrics.md).
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
    return {
        "precision": precision,
        "recall": recall,
        "fscore": fscore,
        "n_hits": n_hits,
        "n_hyp": n_hyp,
        "n_ref": n_ref,
    }


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
