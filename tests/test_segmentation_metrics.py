"""Segmentation metrics against independent references: vocalpy, vak, hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vak_tcn import metrics

# vocalpy requires strictly increasing boundary times (as boundaries_from_segments gives)
times = st.lists(st.integers(0, 400), max_size=40, unique=True).map(lambda ms: sorted(m / 1000 for m in ms))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hyp=times, ref=times, tol_ms=st.integers(0, 12))
def test_boundary_scores_agree_with_vocalpy(hyp, ref, tol_ms):
    """Same hits, precision, recall and F-score as vocalpy, incl. exact-tolerance, zero-tolerance and empty cases."""
    from vocalpy.metrics.segmentation import ir

    hyp, ref, tol = np.array(hyp, dtype=float), np.array(ref, dtype=float), tol_ms / 1000
    ours = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=tol)
    for name in ("precision", "recall", "fscore"):
        value, n_tp, _ = ir.precision_recall_fscore(hyp, ref, name, tolerance=tol)
        assert ours[name] == pytest.approx(value, abs=1e-12), name
        assert ours["n_hits"] == n_tp


def test_boundary_scores_match_vocalpy_where_greedy_is_not_optimal():
    # greedy-by-distance takes (1.0, 0.6) first and leaves 0.0 and 1.7 unmatched; an optimal
    # matching would find 2 hits. vocalpy's rule (and ours) gives 1.
    from vocalpy.metrics.segmentation import ir

    hyp, ref = np.array([0.6, 1.7]), np.array([0.0, 1.0])
    ours = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=0.7)
    _, n_tp, _ = ir.precision_recall_fscore(hyp, ref, "precision", tolerance=0.7)
    assert ours["n_hits"] == n_tp == 1


def test_boundaries_count_shared_offset_onset_once():
    b = metrics.boundaries_from_segments([0.1, 0.3, 0.6], [0.3, 0.5, 0.7])
    assert b.tolist() == [0.1, 0.3, 0.5, 0.6, 0.7]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=2, max_size=60))
def test_frames_to_segments_agree_with_vak(labels):
    """Given the frame times, the same onsets, offsets and labels as vak's own to_segments."""
    from vak.transforms.frame_labels import functional as vakF

    y = np.array(labels)
    frame_dur = 0.002
    frame_times = (np.arange(y.size) + 0.5) * frame_dur + 0.008  # vak's spectrogram bin centres are offset
    labelmap = {"background": 0, "a": 1, "b": 2, "c": 3}
    on, off, lbl = metrics.frame_labels_to_segments(y, frame_dur, 0, frame_times)
    v_lbl, v_on, v_off = vakF.to_segments(y, labelmap, frame_times)
    if v_lbl is None:
        assert lbl.size == 0
        return
    inverse = {v: k for k, v in labelmap.items()}
    assert [inverse[i] for i in lbl] == list(v_lbl)
    assert on == pytest.approx(v_on) and off == pytest.approx(v_off)


def test_levenshtein_agrees_with_vak():
    from vak.metrics.distance.functional import levenshtein

    rng = np.random.default_rng(0)
    for _ in range(200):
        a = "".join(rng.choice(list("abcd"), rng.integers(0, 12)))
        b = "".join(rng.choice(list("abcd"), rng.integers(0, 12)))
        assert metrics.levenshtein(a, b) == levenshtein(a, b)


def test_edit_score_hand_computed():
    assert metrics.segmental_edit_score("abcd", "abcd") == 100.0
    assert metrics.segmental_edit_score("abxd", "abcd") == 75.0  # one substitution in 4
    assert metrics.segmental_edit_score("ab", "abcd") == 50.0  # two deletions, max length 4
    assert metrics.segmental_edit_score("", "") == 100.0
    assert metrics.segmental_edit_score("", "ab") == 0.0


def test_f1_at_k_hand_computed():
    ref = (np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.5, 2.5]), np.array([1, 2, 1]))
    # pred 1: same as ref 1 (IoU 1); pred 2: label 2, 1.25-1.5 -> IoU 0.25/0.5 = 0.5;
    # pred 3: label 1, 2.4-3.0 -> IoU with ref 3 = 0.1/0.6 = 1/6; pred 4: duplicate of ref 1 (already hit)
    pred = (np.array([0.0, 1.25, 2.4, 0.0]), np.array([0.5, 1.5, 3.0, 0.5]), np.array([1, 2, 1, 1]))
    # k=0.10: hits 1,2,3 -> tp 3, fp 1, fn 0 -> P 0.75 R 1 -> F1 = 85.714...
    assert metrics.f1_at_k(pred, ref, 0.10) == pytest.approx(200 * 0.75 / 1.75)
    # k=0.25: hits 1,2 (IoU 0.5) -> tp 2, fp 2, fn 1 -> P 0.5 R 2/3 -> F1 = 57.142...
    assert metrics.f1_at_k(pred, ref, 0.25) == pytest.approx(200 * (0.5 * 2 / 3) / (0.5 + 2 / 3))
    # k=0.50: same as 0.25 (IoU 0.5 >= 0.5)
    assert metrics.f1_at_k(pred, ref, 0.50) == pytest.approx(200 * (0.5 * 2 / 3) / (0.5 + 2 / 3))
    # labels must match: relabel pred 2 -> no hit there
    pred_wrong = (pred[0], pred[1], np.array([1, 1, 1, 1]))
    assert metrics.f1_at_k(pred_wrong, ref, 0.25) == pytest.approx(200 * 0.25 * (1 / 3) / (0.25 + 1 / 3))


def test_r_value_and_overseg_hand_computed():
    assert metrics.r_value(1.0, 1.0) == 1.0
    # HR 0.8, OS 0.25: r1 = sqrt(0.04 + 0.0625) = 0.3202, r2 = (-0.25 + 0.8 - 1)/sqrt2 = -0.3182
    expected = 1 - (math.sqrt(0.1025) + 0.45 / math.sqrt(2)) / 2
    assert metrics.r_value(0.64, 0.8, overseg=0.25) == pytest.approx(expected)
    assert metrics.r_value(0.64, 0.8) == pytest.approx(expected)  # OS = recall / precision - 1 = 0.25
    assert metrics.over_segmentation(15, 10) == pytest.approx(0.5)
    assert metrics.over_segmentation(3, 0) == 3.0


@pytest.mark.parametrize(
    "pred, ref",
    [
        ([0, 0, 0, 0], [0, 1, 1, 0]),  # model predicts only background
        ([0, 1, 1, 0], [0, 0, 0, 0]),  # reference has no segments
        ([0, 0, 0, 0], [0, 0, 0, 0]),  # neither has segments
        ([1], [1]),  # a single frame
        ([2, 2, 2, 2], [2, 2, 2, 2]),  # all frames one label
        ([], []),
    ],
)
def test_degenerate_inputs_give_finite_defined_values(pred, ref):
    scores = metrics.segment_scores(np.array(pred, dtype=int), np.array(ref, dtype=int), frame_dur=0.002)
    assert set(scores) == set(metrics.KEYS)
    assert all(math.isfinite(v) for v in scores.values()), scores
    if pred == ref:
        assert scores["fscore"] == 1.0 and scores["edit"] == 100.0 and scores["f1_50"] == 100.0


def test_perfect_prediction_scores_perfectly():
    y = np.array([0, 0, 1, 1, 1, 0, 2, 2, 0, 0, 3, 0])
    scores = metrics.segment_scores(y, y, frame_dur=0.002)
    assert scores == {"precision": 1.0, "recall": 1.0, "fscore": 1.0, "rvalue": 1.0, "overseg": 0.0,
                      "edit": 100.0, "f1_10": 100.0, "f1_25": 100.0, "f1_50": 100.0}


def test_oversegmentation_shows_as_low_precision_high_recall():
    ref = np.array([0] * 5 + [1] * 20 + [0] * 5)
    pred = ref.copy()
    pred[[10, 15, 20]] = 0  # a syllable broken into four pieces
    scores = metrics.segment_scores(pred, ref, frame_dur=0.002, tolerance=0.002)
    assert scores["recall"] == 1.0 and scores["precision"] == pytest.approx(2 / 8)
    assert scores["overseg"] == pytest.approx(3.0) and scores["edit"] == 25.0


def test_reference_from_annotation_times():
    frame_dur = 0.01
    pred = np.array([0, 1, 1, 1, 0, 0, 2, 2, 0, 0])  # segments 0.01-0.04 and 0.06-0.08
    exact = metrics.segment_scores(pred, frame_dur=frame_dur, ref_onsets=[0.01, 0.06], ref_offsets=[0.04, 0.08], ref_labels=[1, 2])
    assert exact["fscore"] == 1.0
    shifted = metrics.segment_scores(pred, frame_dur=frame_dur, ref_onsets=[0.016, 0.06], ref_offsets=[0.04, 0.08], ref_labels=[1, 2], tolerance=0.004)
    assert shifted["recall"] == 0.75


def test_score_annotations_with_crowsetta():
    import crowsetta

    def annot(onsets, offsets, labels):
        seq = crowsetta.Sequence.from_keyword(onsets_s=np.array(onsets), offsets_s=np.array(offsets), labels=np.array(labels))
        return crowsetta.Annotation(annot_path="a.csv", notated_path="a.wav", seq=seq)

    ref = annot([0.1, 0.3], [0.2, 0.4], ["a", "b"])
    hyp = annot([0.102, 0.3, 0.5], [0.2, 0.4, 0.6], ["a", "b", "c"])
    scores = metrics.score_annotations(hyp, ref)
    assert scores["recall"] == 1.0 and scores["precision"] == pytest.approx(4 / 6)
    assert scores["f1_50"] == pytest.approx(200 * (2 / 3) / (2 / 3 + 1))


def test_segmentation_metric_validates_tolerance():
    with pytest.raises(ValueError, match="tolerance"):
        metrics.SegmentationMetrics(tolerance=-1)
    with pytest.raises(ValueError, match="frame_dur"):
        metrics.SegmentationMetrics()(np.array([0, 1]), np.array([0, 1]), frame_dur=None)


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(metrics)
    assert result.attempted > 5 and result.failed == 0
