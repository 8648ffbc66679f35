"""All segmentation scores of a prediction against a reference, in one dict.

NumPy only.  The conventions are in the docs of :mod:`vak_tcn.metrics`.
"""

from __future__ import annotations

import numpy as np

from .boundaries import boundaries_from_segments, boundary_precision_recall_fscore, over_segmentation, r_value
from .segments import _as_segments, f1_at_k, frame_labels_to_segments, segmental_edit_score

__all__ = ["KEYS", "segment_scores", "score_annotations"]

#: Keys of the dicts returned by :func:`segment_scores` and :func:`score_annotations`.
KEYS = ("precision", "recall", "fscore", "rvalue", "overseg", "edit", "f1_10", "f1_25", "f1_50")


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
