"""All segmentation scores of a prediction against a reference, in one dict.

NumPy only.  The conventions are in the docs of :mod:`vak_tcn.metrics`.
"""

from __future__ import annotations

import numpy as np

from .boundaries import boundaries_from_segments, boundary_precision_recall_fscore, over_segmentation, r_value
from .segments import _as_segments, f1_counts, f1_from_counts, frame_labels_to_segments, segmental_edit_score

__all__ = ["KEYS", "F1_THRESHOLDS", "segment_scores", "segment_scores_and_counts", "score_annotations"]

#: Keys of the dicts returned by :func:`segment_scores` and :func:`score_annotations`.
KEYS = ("precision", "recall", "fscore", "rvalue", "overseg", "edit", "f1_10", "f1_25", "f1_50")


#: the F1@k thresholds, as ``k`` in percent (the keys ``f1_10``, ``f1_25``, ``f1_50``)
F1_THRESHOLDS = (10, 25, 50)


def _scores_and_counts(pred, ref, tolerance, decimals) -> tuple[dict[str, float], dict[str, tuple[int, int, int]]]:
    """All scores from predicted and reference segments ``(onsets, offsets, labels)``, and the
    F1@k counts ``{"f1_10": (tp, fp, fn), ...}`` to pool over files."""
    b = boundary_precision_recall_fscore(
        boundaries_from_segments(pred[0], pred[1]), boundaries_from_segments(ref[0], ref[1]), tolerance, decimals
    )
    overseg = over_segmentation(b["n_hyp"], b["n_ref"])
    if b["n_hyp"] and b["n_ref"]:
        rvalue = r_value(b["precision"], b["recall"], overseg=overseg)
    else:  # vak 1.1's precision_recall_fscore_rval: both empty 1, exactly one empty 0
        rvalue = 1.0 if b["n_hyp"] == b["n_ref"] else 0.0
    scores = {
        "precision": b["precision"],
        "recall": b["recall"],
        "fscore": b["fscore"],
        "rvalue": rvalue,
        "overseg": overseg,
        "edit": segmental_edit_score(pred[2].tolist(), ref[2].tolist()),
    }
    counts = {f"f1_{k}": f1_counts(pred, ref, k / 100) for k in F1_THRESHOLDS}
    for key, (tp, fp, fn) in counts.items():
        scores[key] = f1_from_counts(tp, fp, fn)
    return {key: float(scores[key]) for key in KEYS}, counts


def _scores(pred, ref, tolerance, decimals) -> dict[str, float]:
    return _scores_and_counts(pred, ref, tolerance, decimals)[0]


def _frame_segments(pred_frame_labels, ref_frame_labels, frame_dur, background, frame_times, ref_segments):
    """Predicted and reference segments of :func:`segment_scores`'s arguments."""
    if frame_dur is None or not frame_dur > 0:
        raise ValueError(f"frame_dur must be a positive number of seconds, got {frame_dur!r}")
    pred = frame_labels_to_segments(pred_frame_labels, frame_dur, background, frame_times)
    if ref_segments[0] is not None:
        ref = _as_segments(ref_segments)
    elif ref_frame_labels is not None:
        ref = frame_labels_to_segments(ref_frame_labels, frame_dur, background, frame_times)
    else:
        raise ValueError("give the reference as ref_frame_labels or as ref_onsets, ref_offsets, ref_labels")
    return pred, ref


def segment_scores_and_counts(
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
) -> tuple[dict[str, float], dict[str, tuple[int, int, int]]]:
    """:func:`segment_scores` and the F1@k counts of the file, to pool over files.

    Returns
    -------
    scores : dict
        As :func:`segment_scores`.
    counts : dict
        ``{"f1_10": (tp, fp, fn), "f1_25": ..., "f1_50": ...}``
        (:func:`~vak_tcn.metrics.segments.f1_counts`).  Sum them over files and
        apply :func:`~vak_tcn.metrics.segments.f1_from_counts` for MS-TCN's
        dataset-level F1@k.

    Examples
    --------
    >>> one = segment_scores_and_counts(np.array([0, 1, 1, 0]), np.array([0, 1, 1, 0]), frame_dur=0.01)[1]
    >>> nine = segment_scores_and_counts(np.zeros(19, dtype=int), np.arange(19) % 2, frame_dur=0.01)[1]
    >>> one["f1_50"], nine["f1_50"]
    ((1, 0, 0), (0, 0, 9))
    """
    pred, ref = _frame_segments(
        pred_frame_labels, ref_frame_labels, frame_dur, background, frame_times, (ref_onsets, ref_offsets, ref_labels)
    )
    return _scores_and_counts(pred, ref, tolerance, decimals)


def segment_scores(pred_frame_labels, ref_frame_labels=None, **options) -> dict[str, float]:
    """All segmentation scores of predicted frame labels against a reference.

    The scores of :func:`segment_scores_and_counts`, which takes the same arguments (the
    keyword arguments below are keyword only).

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
    return segment_scores_and_counts(pred_frame_labels, ref_frame_labels, **options)[0]


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
