"""Segmentation metrics: boundaries, R-value, over-segmentation, edit score, F1@k.

Modules: :mod:`.boundaries`, :mod:`.segments`, :mod:`.scores` (all scores in one dict) and
:mod:`.segmentation` (the metric class vak calls).

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
    Exactly one side without boundaries: R-value 0, like precision, recall and
    F-score; neither side: 1 (vak 1.1's ``precision_recall_fscore_rval``).
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
    hit if IoU >= k and that reference was not hit before.  IoUs within 1e-9
    count as equal (segments in seconds: IoU 0.02 / 0.04 reaches k = 0.5, as
    2 / 4 frames does in MS-TCN).  Scores are 0-100 (MS-TCN's scale; the vak
    metric reports fractions).  Both sequences empty: 100 (MS-TCN would divide
    by zero); exactly one empty: F1 0, edit 0.
F1@k over many files (MS-TCN's ``main()``)
    Sum each file's ``(tp, fp, fn)`` (:func:`f1_counts`,
    :func:`segment_scores_and_counts`), then :func:`f1_from_counts` once; the
    mean of per-file F1 is a different number (see docs/metrics.md).

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

from .boundaries import boundaries_from_segments, boundary_precision_recall_fscore, over_segmentation, r_value
from .scores import KEYS, score_annotations, segment_scores, segment_scores_and_counts
from .segmentation import SegmentationMetrics
from .segments import f1_at_k, f1_counts, f1_from_counts, frame_labels_to_segments, levenshtein, segmental_edit_score

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
    "f1_counts",
    "f1_from_counts",
    "segment_scores",
    "segment_scores_and_counts",
    "score_annotations",
    "SegmentationMetrics",
]
