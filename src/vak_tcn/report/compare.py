"""Prediction against reference: the scores of each file (the project's metric functions), the
differences segment by segment, and the frame confusion of labels.

Scores (:func:`file_scores`) come from :mod:`vak_tcn.metrics` and nothing else:
:func:`~vak_tcn.metrics.score_annotations` (boundary precision, recall, F-score, R-value,
over-segmentation, edit score, F1@k) and vak's character error rate, ``levenshtein(predicted
labels, reference labels) / len(reference labels)`` (a file without reference segments divides by
1, as vak-tcn's tuner does), with the Levenshtein distance of the edit score
(:func:`~vak_tcn.metrics.segmental_edit_score`: ``(1 - levenshtein / max(lengths)) * 100``).  The frame error is the fraction
of frames whose label differs, on the frame grid of :func:`frame_grid`.

Differences (:func:`diff`): predicted and reference segments are paired one to one, the pairs of
largest overlap (IoU) first; a reference segment left unpaired is **missed**, a predicted one
**extra**; a pair whose labels differ is a **wrong label**; a pair whose onsets or offsets differ by
more than the tolerance is **boundary** off; the others are **ok**.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np

from .. import metrics
from ..metrics.segments import _overlapping_pairs
from .data import Segments

__all__ = ["BACKGROUND", "Diff", "confusion", "diff", "file_scores", "frame_grid", "frame_labels", "label_scores"]

#: the name of frames outside every segment, in the confusion matrix
BACKGROUND = "-"
#: frame duration of the grid when no probabilities give the model's frames
DEFAULT_FRAME_DUR = 0.001


def frame_grid(duration: float, probabilities=None) -> np.ndarray:
    """Frame centre times: the model's frames (from its probabilities) when known, else every
    :data:`DEFAULT_FRAME_DUR` seconds."""
    if probabilities is not None and probabilities.frame_times.size:
        return np.asarray(probabilities.frame_times, dtype=float)
    return (np.arange(max(int(np.ceil(duration / DEFAULT_FRAME_DUR)), 1)) + 0.5) * DEFAULT_FRAME_DUR


def frame_labels(segments: Segments, times: np.ndarray) -> np.ndarray:
    """The label of each frame (its centre in ``[onset, offset)`` of a segment; :data:`BACKGROUND` else).
    Overlapping segments: the later one wins."""
    out = np.full(times.size, BACKGROUND, dtype=object)
    start = np.searchsorted(times, segments.onsets, side="left")
    stop = np.searchsorted(times, segments.offsets, side="left")
    for a, b, label in zip(start, stop, segments.labels):
        out[a:b] = label
    return out.astype(str)


def file_scores(predicted: Segments, reference: Segments, times: np.ndarray, tolerance: float) -> dict[str, float]:
    """Frame error, character error rate and :func:`vak_tcn.metrics.score_annotations` of one file."""
    scores = metrics.score_annotations(_sequence(predicted), _sequence(reference), tolerance=tolerance)
    # the edit score is (1 - levenshtein / max(lengths)) * 100 (metrics.segmental_edit_score): its distance,
    # not a second O(n m) levenshtein (8 s for an hour of song)
    distance = round((1 - scores["edit"] / 100) * max(len(predicted), len(reference)))
    frame_error = float(np.mean(frame_labels(predicted, times) != frame_labels(reference, times)))
    return {"frame_error": frame_error, "cer": distance / max(len(reference), 1), **scores}


def label_scores(pairs, tolerance: float) -> dict[str, dict[str, float]]:
    """Per label, over files: boundary precision, recall and F-score of that label's segments alone
    (:func:`vak_tcn.metrics.boundary_precision_recall_fscore` per file, hits and counts summed), and the
    segment counts.  ``pairs``: ``(predicted, reference)`` segments of each file."""
    totals: dict[str, list[int]] = {}
    for predicted, reference in pairs:
        for label in sorted({*predicted.labels.tolist(), *reference.labels.tolist()}):
            p, r = predicted.labels == label, reference.labels == label
            b = metrics.boundary_precision_recall_fscore(
                metrics.boundaries_from_segments(predicted.onsets[p], predicted.offsets[p]),
                metrics.boundaries_from_segments(reference.onsets[r], reference.offsets[r]),
                tolerance=tolerance,
            )
            t = totals.setdefault(label, [0, 0, 0, 0, 0])
            t[0] += b["n_hits"]
            t[1] += b["n_hyp"]
            t[2] += b["n_ref"]
            t[3] += int(p.sum())
            t[4] += int(r.sum())
    out = {}
    for label, (hits, n_hyp, n_ref, n_pred_seg, n_ref_seg) in totals.items():
        precision = hits / n_hyp if n_hyp else float(n_ref == 0)
        recall = hits / n_ref if n_ref else float(n_hyp == 0)
        fscore = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {
            "precision": precision,
            "recall": recall,
            "fscore": fscore,
            "n_predicted": n_pred_seg,
            "n_reference": n_ref_seg,
        }
    return out


def _sequence(segments: Segments) -> types.SimpleNamespace:
    """What :func:`vak_tcn.metrics.score_annotations` reads of a crowsetta sequence."""
    return types.SimpleNamespace(onsets_s=segments.onsets, offsets_s=segments.offsets, labels=segments.labels)


@dataclasses.dataclass(frozen=True)
class Diff:
    """Segment-by-segment differences of one file.

    ``predicted_kind[i]`` / ``reference_kind[j]``: ``ok``, ``boundary``, ``wrong label``, ``extra``
    (predicted only) or ``missed`` (reference only); ``partner``: the paired segment's index or -1.
    """

    predicted_kind: np.ndarray
    reference_kind: np.ndarray
    predicted_partner: np.ndarray
    reference_partner: np.ndarray

    def counts(self) -> dict[str, int]:
        kinds = [*self.reference_kind.tolist(), *self.predicted_kind[self.predicted_partner < 0].tolist()]
        return {kind: kinds.count(kind) for kind in KINDS}


#: the kinds of :class:`Diff`, the order a report lists them
KINDS = ("ok", "boundary", "wrong label", "missed", "extra")


def diff(predicted: Segments, reference: Segments, tolerance: float) -> Diff:
    """Pair predicted and reference segments (largest IoU first, one to one) and classify each."""
    n_p, n_r = len(predicted), len(reference)
    p_partner, r_partner = np.full(n_p, -1), np.full(n_r, -1)
    if n_p and n_r:
        pi, ri = _overlapping_pairs(predicted.onsets, predicted.offsets, reference.onsets, reference.offsets)
        inter = np.minimum(predicted.offsets[pi], reference.offsets[ri]) - np.maximum(
            predicted.onsets[pi], reference.onsets[ri]
        )
        union = np.maximum(predicted.offsets[pi], reference.offsets[ri]) - np.minimum(
            predicted.onsets[pi], reference.onsets[ri]
        )
        iou = inter / union
        for k in np.lexsort((ri, pi, -iou)):
            if p_partner[pi[k]] < 0 and r_partner[ri[k]] < 0:
                p_partner[pi[k]], r_partner[ri[k]] = ri[k], pi[k]
    p_kind = np.full(n_p, "extra", dtype=object)
    r_kind = np.full(n_r, "missed", dtype=object)
    for i in np.flatnonzero(p_partner >= 0):
        j = p_partner[i]
        if predicted.labels[i] != reference.labels[j]:
            kind = "wrong label"
        elif max(abs(predicted.onsets[i] - reference.onsets[j]), abs(predicted.offsets[i] - reference.offsets[j])) > (
            tolerance + 1e-9
        ):
            kind = "boundary"
        else:
            kind = "ok"
        p_kind[i] = r_kind[j] = kind
    return Diff(p_kind.astype(str), r_kind.astype(str), p_partner, r_partner)


def confusion(pairs_of_frames) -> tuple[list[str], np.ndarray]:
    """Frame confusion ``(labels, counts)``: ``counts[i, j]`` frames of reference label ``labels[i]``
    predicted as ``labels[j]``, summed over files (:data:`BACKGROUND` last).  ``pairs_of_frames``:
    ``(predicted frame labels, reference frame labels)`` of each file."""
    pairs_of_frames = list(pairs_of_frames)
    names = sorted({str(x) for p, r in pairs_of_frames for x in (*np.unique(p), *np.unique(r))} - {BACKGROUND})
    names.append(BACKGROUND)
    index = {name: k for k, name in enumerate(names)}
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    for p, r in pairs_of_frames:
        np.add.at(counts, (_codes(r, index), _codes(p, index)), 1)
    return names, counts


def _codes(frames: np.ndarray, index: dict[str, int]) -> np.ndarray:
    names, inverse = np.unique(frames, return_inverse=True)
    return np.array([index[str(x)] for x in names], dtype=np.int64)[inverse]
