"""vak_tcn.metrics against independent references.

* boundary precision/recall/F-score and hit counts: vocalpy's own
  ``vocalpy.metrics.segmentation.ir`` (property-based, with hypothesis);
* maximum matching (``matching="optimal"``): scipy's maximum bipartite matching;
* frame labels -> segments: a plain loop and vak's ``to_segments``;
* Levenshtein: vak's implementation and MS-TCN's;
* edit score and F1@k: hand-computed cases and a port of MS-TCN's ``eval.py``;
* degenerate inputs: finite, defined values.
"""

from __future__ import annotations

import doctest
import math
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vak_tcn import metrics

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # non-vocalpy checks


def vocalpy_ir():
    """``vocalpy.metrics.segmentation.ir``, imported by the tests that compare with vocalpy alone, so the
    others run without it; vocalpy is a dependency of vak-tcn (pyproject.toml): missing, these tests fail."""
    import vocalpy.metrics.segmentation.ir as ir

    return ir


def vocalpy_scores(hyp, ref, tol, decimals=None):
    """vocalpy's precision, recall, F-score and hit count."""
    ir = vocalpy_ir()
    out = {}
    for name in ("precision", "recall", "fscore"):
        value, n_tp, _ = ir.precision_recall_fscore(hyp, ref, name, tolerance=tol, decimals=decimals)
        out[name], out["n_hits"] = value, n_tp
    return out


def vocalpy_unvalidated(hyp, ref, tol, decimals=None):
    """vocalpy's own algorithm on arrays it would refuse (duplicates, unsorted).

    vocalpy validates that boundaries are strictly increasing; with the check
    switched off its code (distance matrix, greedy by distance, ties by
    reference then hypothesis index) runs on any array.
    """
    with mock.patch.object(vocalpy_ir().validators, "is_valid_boundaries_array", lambda *a, **k: None):
        return vocalpy_scores(hyp, ref, tol, decimals)


def assert_same(ours, theirs):
    assert ours["n_hits"] == theirs["n_hits"]
    for name in ("precision", "recall", "fscore"):
        assert ours[name] == pytest.approx(theirs[name], abs=1e-12), name


# ------------------------------------------------------------------ boundaries vs vocalpy
# strictly increasing times on a 1-ms grid, as vocalpy requires; tolerances on the same grid
# put many pairs exactly at the tolerance (inclusive edge) and many boundaries in competition
ms_times = st.lists(st.integers(0, 300), max_size=40, unique=True).map(
    lambda ms: np.array(sorted(ms), dtype=float) / 1000
)


@SETTINGS
@given(hyp=ms_times, ref=ms_times, tol_ms=st.integers(0, 12), decimals=st.sampled_from([None, 3, 2]))
def test_boundary_scores_agree_with_vocalpy(hyp, ref, tol_ms, decimals):
    """Same hits, precision, recall, F-score as vocalpy, incl. tolerance edge, zero tolerance, empty arrays."""
    tol = tol_ms / 1000
    ours = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=tol, decimals=decimals)
    assert_same(ours, vocalpy_scores(hyp, ref, tol, decimals))
    assert (ours["n_hyp"], ours["n_ref"]) == (hyp.size, ref.size)
    # R-value from (precision, recall) equals the one from the counts whenever there are hits
    if ours["n_hits"]:
        os_counts = metrics.over_segmentation(ours["n_hyp"], ours["n_ref"])
        assert metrics.r_value(ours["precision"], ours["recall"]) == pytest.approx(
            metrics.r_value(ours["precision"], ours["recall"], overseg=os_counts)
        )


@SETTINGS
@given(
    hyp=st.lists(st.integers(0, 60), max_size=30),
    ref=st.lists(st.integers(0, 60), max_size=30),
    tol_ms=st.integers(0, 6),
)
def test_duplicates_and_unsorted_follow_vocalpys_algorithm(hyp, ref, tol_ms):
    """Duplicates / any order: vocalpy refuses them; its algorithm (validation off) gives our counts."""
    hyp, ref, tol = np.array(hyp, dtype=float) / 1000, np.array(ref, dtype=float) / 1000, tol_ms / 1000
    ours = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=tol)
    assert_same(ours, vocalpy_unvalidated(hyp, ref, tol))


@st.composite
def near_tolerance(draw):
    """Reference times and predictions a few ulps / sub-ms steps from +-tolerance, no rounding."""
    ref = np.array(draw(st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=25)))
    tol = draw(st.sampled_from([0.001, 0.002, 0.004, 0.005, 0.01, 0.1]))
    picks = draw(
        st.lists(
            st.tuples(
                st.integers(0, ref.size - 1),
                st.sampled_from([-1, 1]),
                st.integers(-3, 3),
                st.sampled_from([0.0, 1e-4, -1e-4, 1e-12]),
            )
        )
    )
    hyp = []
    for i, sign, ulps, step in picks:
        t = ref[i] + sign * tol + step
        for _ in range(abs(ulps)):
            t = np.nextafter(t, np.inf if ulps > 0 else -np.inf)
        hyp.append(t)
    return np.array(hyp, dtype=float), ref, tol


@SETTINGS
@given(near_tolerance())
def test_near_tolerance_without_rounding_agrees_with_vocalpy(case):
    """decimals=False: pairs within a few ulps of the tolerance are decided exactly as vocalpy does."""
    hyp, ref, tol = case
    ours = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=tol, decimals=False)
    assert_same(ours, vocalpy_unvalidated(hyp, ref, tol, decimals=False))


@SETTINGS
@given(hyp=ms_times, ref=ms_times, tol_ms=st.integers(0, 12))
def test_optimal_matching_is_maximum(hyp, ref, tol_ms):
    """matching="optimal" = scipy's maximum bipartite matching, never below vocalpy's greedy count."""
    csgraph = pytest.importorskip("scipy.sparse.csgraph")
    sparse = pytest.importorskip("scipy.sparse")
    tol = tol_ms / 1000
    opt = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=tol, matching="optimal")["n_hits"]
    greedy = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=tol)["n_hits"]
    expected = 0
    if hyp.size and ref.size:
        adj = sparse.csr_matrix(np.abs(np.round(hyp, 3)[:, None] - np.round(ref, 3)[None, :]) <= tol)
        expected = int((csgraph.maximum_bipartite_matching(adj, perm_type="column") >= 0).sum())
    assert opt == expected >= greedy


def test_greedy_by_distance_is_not_always_maximum():
    # vocalpy takes the closest pair (1.0, 0.6) first (distance 0.4); 0.0-0.6 (0.6) and
    # 1.0-1.7 (0.7) then lose a partner: 1 hit, where 0.0-0.6 and 1.0-1.7 give 2.
    hyp, ref = np.array([0.6, 1.7]), np.array([0.0, 1.0])
    assert metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=0.7)["n_hits"] == 1
    assert vocalpy_scores(hyp, ref, 0.7)["n_hits"] == 1
    assert metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=0.7, matching="optimal")["n_hits"] == 2


def test_tolerance_is_inclusive_and_ties_break_like_vocalpy():
    # 4 ms away, tolerance 4 ms: a hit (vocalpy's code uses <=)
    assert metrics.boundary_precision_recall_fscore([0.104], [0.1], tolerance=0.004)["n_hits"] == 1
    assert metrics.boundary_precision_recall_fscore([0.105], [0.1], tolerance=0.004)["n_hits"] == 0
    # 0.102 is 2 ms from both 0.100 and 0.104: the lower reference index wins, so 0.106
    # (2 ms from 0.104) still finds its partner -> 2 hits, as in vocalpy
    hyp, ref = np.array([0.102, 0.106]), np.array([0.100, 0.104])
    assert (
        metrics.boundary_precision_recall_fscore(hyp, ref)["n_hits"] == vocalpy_scores(hyp, ref, 0.004)["n_hits"] == 2
    )


@pytest.mark.parametrize(
    "hyp, ref, expected",
    [
        ([], [], (1.0, 1.0, 1.0)),  # both empty: perfect (vocalpy issue #170)
        ([0.1], [], (0.0, 0.0, 0.0)),
        ([], [0.1], (0.0, 0.0, 0.0)),
        ([0.5], [0.1], (0.0, 0.0, 0.0)),  # no hits: F-score 0, not NaN
    ],
)
def test_empty_and_hitless_inputs(hyp, ref, expected):
    ours = metrics.boundary_precision_recall_fscore(np.array(hyp, dtype=float), np.array(ref, dtype=float))
    assert (ours["precision"], ours["recall"], ours["fscore"]) == expected
    assert_same(ours, vocalpy_scores(np.array(hyp, dtype=float), np.array(ref, dtype=float), 0.004))


def test_boundary_input_errors():
    with pytest.raises(ValueError, match="tolerance"):
        metrics.boundary_precision_recall_fscore([0.1], [0.1], tolerance=-0.001)
    with pytest.raises(ValueError, match="matching"):
        metrics.boundary_precision_recall_fscore([0.1], [0.1], matching="hungarian")
    with pytest.raises(ValueError, match="finite"):
        metrics.boundary_precision_recall_fscore([np.nan], [0.1])


def test_long_competing_chains_are_exact():  # the speed of this case: benchmarks/bench_metrics.py
    # boundaries 4 ms apart alternating reference / prediction: every pair competes with its
    # neighbours (the worst case for the vectorised rounds; the sequential pass finishes it)
    n = 1500
    ref = np.arange(n) * 0.008
    hyp = ref + 0.004
    ours = metrics.boundary_precision_recall_fscore(hyp, ref)
    assert ours["n_hits"] == vocalpy_scores(hyp, ref, 0.004)["n_hits"]


# ------------------------------------------------------------------ boundaries from segments
def test_boundaries_count_shared_offset_onset_once():
    b = metrics.boundaries_from_segments([0.1, 0.3, 0.6], [0.3, 0.5, 0.7])
    assert b.tolist() == [0.1, 0.3, 0.5, 0.6, 0.7]
    # float noise from frame arithmetic: 0.1 + 0.2 vs 0.3
    assert metrics.boundaries_from_segments([0.1, 0.1 + 0.2], [0.3, 0.4]).size == 3
    # a gap of 2 ms is two boundaries; with merge_tol = 3 ms it is one
    assert metrics.boundaries_from_segments([0.0, 0.102], [0.1, 0.2]).size == 4
    assert metrics.boundaries_from_segments([0.0, 0.102], [0.1, 0.2], merge_tol=0.003).size == 3
    # unsorted segments give sorted boundaries
    assert metrics.boundaries_from_segments([0.5, 0.1], [0.6, 0.2]).tolist() == [0.1, 0.2, 0.5, 0.6]


# ------------------------------------------------------------------ frames -> segments
def loop_segments(y, frame_dur, background=0):
    """Reference implementation: walk the frames."""
    on, off, lbl = [], [], []
    start = 0
    for i in range(1, len(y) + 1):
        if i == len(y) or y[i] != y[start]:
            if y[start] != background:
                on.append(start * frame_dur)
                off.append(i * frame_dur)
                lbl.append(y[start])
            start = i
    return on, off, lbl


@FAST
@given(st.lists(st.integers(0, 3), max_size=80), st.sampled_from([0, 2]))
def test_frames_to_segments_agree_with_loop(labels, background):
    y = np.array(labels, dtype=int)
    on, off, lbl = metrics.frame_labels_to_segments(y, 0.0025, background=background)
    l_on, l_off, l_lbl = loop_segments(labels, 0.0025, background)
    assert lbl.tolist() == l_lbl
    assert on.tolist() == pytest.approx(l_on) and off.tolist() == pytest.approx(l_off)
    assert np.all(off > on)


@FAST
@given(st.lists(st.integers(0, 3), min_size=2, max_size=60), st.floats(0, 0.05))
def test_frames_to_segments_with_frame_times_agree_with_vak(labels, t0):
    """With bin-centre times: same onsets, offsets, labels as vak's frame_labels.to_segments."""
    from vak.transforms.frame_labels import functional as vak_frame_labels

    y = np.array(labels, dtype=int)
    frame_dur = 0.002  # vak re-estimates it from frame_times (rounded to 5 decimals)
    frame_times = t0 + (np.arange(y.size) + 0.5) * frame_dur
    labelmap = {"background": 0, "a": 1, "b": 2, "c": 3}  # vak's default background label
    on, off, lbl = metrics.frame_labels_to_segments(y, frame_dur, 0, frame_times)
    v_lbl, v_on, v_off = vak_frame_labels.to_segments(y, labelmap, frame_times)
    if v_lbl is None:  # vak returns None when there are no segments
        assert lbl.size == 0
        return
    inverse = {v: k for k, v in labelmap.items()}
    assert [inverse[i] for i in lbl.tolist()] == v_lbl.tolist()
    assert on == pytest.approx(v_on, abs=1e-9) and off == pytest.approx(v_off, abs=1e-9)


def test_frames_to_segments_edge_cases():
    on, off, lbl = metrics.frame_labels_to_segments(np.array([], dtype=int), 0.01)
    assert on.size == off.size == lbl.size == 0
    on, off, lbl = metrics.frame_labels_to_segments(np.array([4]), 0.01)
    assert (on.tolist(), off.tolist(), lbl.tolist()) == ([0.0], [0.01], [4])
    on, off, lbl = metrics.frame_labels_to_segments(np.array([1, 1, 1]), 0.01)  # one label throughout
    assert (on.tolist(), off.tolist(), lbl.tolist()) == ([0.0], [0.03], [1])
    on, off, lbl = metrics.frame_labels_to_segments(np.array([0, 1, 0]), 0.01, background=None)
    assert lbl.tolist() == [0, 1, 0]


# ------------------------------------------------------------------ MS-TCN's eval.py, ported
def mstcn_get_labels_start_end_time(frame_wise_labels, bg_class=(0,)):
    """MS-TCN eval.py: segments of a frame-label sequence (its last end is one frame short)."""
    labels, starts, ends = [], [], []
    last_label = frame_wise_labels[0]
    if frame_wise_labels[0] not in bg_class:
        labels.append(frame_wise_labels[0])
        starts.append(0)
    for i in range(len(frame_wise_labels)):
        if frame_wise_labels[i] != last_label:
            if frame_wise_labels[i] not in bg_class:
                labels.append(frame_wise_labels[i])
                starts.append(i)
            if last_label not in bg_class:
                ends.append(i)
            last_label = frame_wise_labels[i]
    if last_label not in bg_class:
        ends.append(i)
    return labels, starts, ends


def mstcn_levenstein(p, y):
    """MS-TCN eval.py: unnormalised Levenshtein distance."""
    D = np.zeros([len(p) + 1, len(y) + 1], np.float64)
    D[:, 0] = np.arange(len(p) + 1)
    D[0, :] = np.arange(len(y) + 1)
    for j in range(1, len(y) + 1):
        for i in range(1, len(p) + 1):
            if y[j - 1] == p[i - 1]:
                D[i, j] = D[i - 1, j - 1]
            else:
                D[i, j] = min(D[i - 1, j] + 1, D[i, j - 1] + 1, D[i - 1, j - 1] + 1)
    return D[-1, -1]


def mstcn_f_score(p_label, p_start, p_end, y_label, y_start, y_end, overlap):
    """MS-TCN eval.py f_score, on segments; returns F1 x 100 as its main() does."""
    tp, fp, fn = mstcn_f_score_counts(p_label, p_start, p_end, y_label, y_start, y_end, overlap)
    with np.errstate(invalid="ignore", divide="ignore"):  # per file, counts can be 0: NaN -> 0 below
        precision = np.float64(tp) / (tp + fp)
        recall = np.float64(tp) / (tp + fn)
        f1 = 2.0 * (precision * recall) / (precision + recall)
    return float(np.nan_to_num(f1) * 100)


@FAST
@given(
    pred=st.lists(st.integers(0, 3), min_size=1, max_size=60),
    ref=st.lists(st.integers(0, 3), min_size=1, max_size=60),
    overlap=st.sampled_from([0.1, 0.25, 0.5]),
)
def test_f1_and_edit_agree_with_mstcn(pred, ref, overlap):
    """Same F1@k and edit score as MS-TCN's eval.py, on the segments its helper extracts.

    A background frame is appended to both sequences: MS-TCN's helper ends a
    sequence-final segment one frame early (a one-frame final segment gets length 0).
    """
    pred, ref = pred + [0], ref + [0]
    p_lbl, p_start, p_end = mstcn_get_labels_start_end_time(pred)
    y_lbl, y_start, y_end = mstcn_get_labels_start_end_time(ref)
    assume(p_lbl or y_lbl)  # both empty: MS-TCN gives 0/0 (F1 0, edit NaN), we give 100
    ours = metrics.f1_at_k((p_start, p_end, p_lbl), (y_start, y_end, y_lbl), overlap)
    assert ours == pytest.approx(mstcn_f_score(p_lbl, p_start, p_end, y_lbl, y_start, y_end, overlap))
    edit = (1 - mstcn_levenstein(p_lbl, y_lbl) / max(len(p_lbl), len(y_lbl))) * 100
    assert metrics.segmental_edit_score(p_lbl, y_lbl) == pytest.approx(edit)
    # our frame->segment conversion gives MS-TCN's segments (last frame is background)
    on, off, lbl = metrics.frame_labels_to_segments(np.array(pred), 1.0)
    assert (on.tolist(), off.tolist(), lbl.tolist()) == (p_start, p_end, p_lbl)


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(1, 15), st.integers(1, 3)), max_size=12),
    st.lists(st.tuples(st.integers(0, 40), st.integers(1, 15), st.integers(1, 3)), min_size=1, max_size=12),
    st.sampled_from([0.1, 0.25, 0.5]),
)
def test_f1_on_arbitrary_segments_agrees_with_mstcn(pred, ref, overlap):
    """Overlapping, unsorted, touching segments (the dense path) too: MS-TCN's rule exactly."""
    p = ([s for s, _, _ in pred], [s + d for s, d, _ in pred], [lbl for _, _, lbl in pred])
    r = ([s for s, _, _ in ref], [s + d for s, d, _ in ref], [lbl for _, _, lbl in ref])
    expected = mstcn_f_score(p[2], p[0], p[1], r[2], r[0], r[1], overlap)
    assert metrics.f1_at_k(p, r, overlap) == pytest.approx(expected)


def test_f1_at_k_hand_computed():
    # reference: A [0,10), B [20,30), A [40,50)
    ref = ([0, 20, 40], [10, 30, 50], ["A", "B", "A"])
    # predictions, in order:
    #   p1 A [0,10)  IoU 1   with ref 1
    #   p2 B [26,30) IoU 4/10 = 0.4 with ref 2
    #   p3 A [40,42) IoU 2/10 = 0.2 with ref 3
    #   p4 A [47,50) IoU 3/10 = 0.3 with ref 3
    pred = ([0, 26, 40, 47], [10, 30, 42, 50], ["A", "B", "A", "A"])
    # k = 0.10: p1, p2, p3 hit; p4's best reference (ref 3) was already taken by p3, although
    #   p4 overlaps it more -- MS-TCN's rule is first come, not best IoU -> tp 3, fp 1, fn 0:
    #   F1 = 2*3 / (2*3 + 1 + 0) = 6/7
    assert metrics.f1_at_k(pred, ref, 0.10) == pytest.approx(600 / 7)
    # k = 0.25: p3 (0.2) misses, so p4 (0.3) gets ref 3 -> again tp 3, fp 1, fn 0: 6/7
    assert metrics.f1_at_k(pred, ref, 0.25) == pytest.approx(600 / 7)
    # k = 0.50: only p1 -> tp 1, fp 3, fn 2: F1 = 2 / (2 + 3 + 2) = 2/7
    assert metrics.f1_at_k(pred, ref, 0.50) == pytest.approx(200 / 7)
    # IoU exactly at the threshold counts (>=): p2 [25,30) has IoU 0.5
    assert metrics.f1_at_k(([25], [30], ["B"]), ([20], [30], ["B"]), 0.5) == 100.0
    # labels must match: the same interval with another label is a false positive and a miss
    assert metrics.f1_at_k(([0], [10], ["B"]), ([0], [10], ["A"]), 0.1) == 0.0
    # same for the frame-level pipeline: one reference syllable, prediction covers 3 of its 4 frames
    s = metrics.segment_scores(np.array([0, 1, 1, 1, 0, 0]), np.array([0, 1, 1, 1, 1, 0]), frame_dur=0.01)
    assert (s["f1_10"], s["f1_25"], s["f1_50"]) == (100.0, 100.0, 100.0)  # IoU 3/4


def test_f1_at_k_rejects_bad_threshold_and_shapes():
    with pytest.raises(ValueError, match="overlap"):
        metrics.f1_at_k(([0], [1], [1]), ([0], [1], [1]), 0)
    with pytest.raises(ValueError, match="onsets"):
        metrics.f1_at_k(([0, 1], [1], [1]), ([0], [1], [1]), 0.5)


def mstcn_f_score_counts(p_label, p_start, p_end, y_label, y_start, y_end, overlap):
    """MS-TCN eval.py ``f_score`` (github.com/yabufarha/ms-tcn): ``(tp, fp, fn)`` of one file."""
    tp, fp = 0, 0
    hits = np.zeros(len(y_label))
    for j in range(len(p_label)):
        if len(y_label) == 0:  # (MS-TCN would fail on argmax of an empty array)
            fp += 1
            continue
        intersection = np.minimum(p_end[j], y_end) - np.maximum(p_start[j], y_start)
        union = np.maximum(p_end[j], y_end) - np.minimum(p_start[j], y_start)
        IoU = (1.0 * intersection / union) * np.array([p_label[j] == y_label[x] for x in range(len(y_label))])
        idx = np.array(IoU).argmax()
        if IoU[idx] >= overlap and not hits[idx]:
            tp += 1
            hits[idx] = 1
        else:
            fp += 1
    fn = len(y_label) - sum(hits)
    return float(tp), float(fp), float(fn)


def mstcn_eval_f1(files, overlap):
    """MS-TCN eval.py ``main()``: tp/fp/fn summed over all files, then one F1 (x 100)."""
    tp, fp, fn = np.zeros(3)  # numpy floats, as MS-TCN's arrays: 0 / 0 is NaN, not an exception
    for recognized, ground_truth in files:
        p = mstcn_get_labels_start_end_time(recognized)
        y = mstcn_get_labels_start_end_time(ground_truth)
        tp1, fp1, fn1 = mstcn_f_score_counts(*p, *y, overlap)
        tp, fp, fn = tp + tp1, fp + fp1, fn + fn1
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / float(tp + fp)
        recall = tp / float(tp + fn)
        f1 = 2.0 * (precision * recall) / (precision + recall)
    return float(np.nan_to_num(f1) * 100)


def test_iou_exactly_at_k_counts_as_mstcn_does():
    """IoU 2/4 = 0.5 exactly: a hit in MS-TCN (integer frames); in seconds 0.02 / 0.04 is 0.4999..."""
    pred, ref = [0, 1, 1, 0, 0, 0], [0, 1, 1, 1, 1, 0]
    assert (0.03 - 0.01) / (0.05 - 0.01) < 0.5  # the float trap
    assert metrics.segment_scores(np.array(pred), np.array(ref), frame_dur=0.01)["f1_50"] == 100.0
    assert mstcn_eval_f1([(pred, ref)], 0.5) == 100.0
    # the same tie on segments given in seconds, and at k = 0.25 and 0.10
    assert metrics.f1_counts(([0.01], [0.03], [1]), ([0.01], [0.05], [1]), 0.5) == (1, 0, 0)
    assert metrics.f1_counts(([0.03], [0.04], [1]), ([0.01], [0.05], [1]), 0.25) == (1, 0, 0)  # 0.01 / 0.04
    assert metrics.f1_counts(([0.07], [0.08], [1]), ([0.0], [0.1], [1]), 0.1) == (1, 0, 0)  # 0.01 / 0.1
    # just below k is still a miss
    assert metrics.f1_counts(([0.0], [0.049], [1]), ([0.0], [0.1], [1]), 0.5) == (0, 1, 1)


def test_iou_ties_between_references_go_to_the_first_as_in_mstcn():
    # prediction [2, 6) overlaps references [0, 4) and [4, 8) equally (IoU 2/6 each, in seconds 1e-3 apart
    # in the float error only): MS-TCN's argmax takes the first; the second stays unhit
    frame_dur = 0.01
    ref = ([0 * frame_dur, 4 * frame_dur], [4 * frame_dur, 8 * frame_dur], [1, 1])
    pred = ([2 * frame_dur, 6 * frame_dur], [6 * frame_dur, 8 * frame_dur], [1, 1])
    # second prediction [6, 8): IoU 2/4 with ref 2 -> hit; first prediction hit ref 1 at k = 0.1
    assert metrics.f1_counts(pred, ref, 0.1) == mstcn_f_score_counts(
        [1, 1], [2, 6], [6, 8], [1, 1], [0, 4], [4, 8], 0.1
    )
    assert metrics.f1_counts(pred, ref, 0.1) == (2, 0, 0)


@FAST
@given(
    pred=st.lists(st.integers(0, 3), min_size=1, max_size=60),
    ref=st.lists(st.integers(0, 3), min_size=1, max_size=60),
    frame_dur=st.sampled_from([0.01, 0.002, 0.001, 1 / 3, 0.0027]),
)
def test_f1_from_frames_in_seconds_equals_mstcn_on_frame_indices(pred, ref, frame_dur):
    """Segments timed in seconds (float IoU) give MS-TCN's integer-frame counts, ties included."""
    n = max(len(pred), len(ref))
    pred, ref = pred + [0] * (n - len(pred) + 1), ref + [0] * (n - len(ref) + 1)
    p, y = mstcn_get_labels_start_end_time(pred), mstcn_get_labels_start_end_time(ref)
    _, counts = metrics.segment_scores_and_counts(np.array(pred), np.array(ref), frame_dur=frame_dur)
    for k in (10, 25, 50):
        assert counts[f"f1_{k}"] == mstcn_f_score_counts(*p, *y, k / 100), k


def test_pooled_f1_is_mstcns_not_the_mean_over_files():
    """The issue's case: one file with 1 segment scored exactly, one with 9 segments all missed."""
    exact = ([0, 1, 1, 0], [0, 1, 1, 0])
    missed = ([0] * 19, [i % 2 for i in range(19)])
    files = [exact, missed]
    per_file = [metrics.segment_scores_and_counts(np.array(p), np.array(y), frame_dur=0.01) for p, y in files]
    assert np.mean([scores["f1_50"] for scores, _ in per_file]) == 50.0  # macro mean
    tp, fp, fn = np.sum([counts["f1_50"] for _, counts in per_file], axis=0)
    assert (tp, fp, fn) == (1, 0, 9)
    assert metrics.f1_from_counts(tp, fp, fn) == pytest.approx(200 / 11)  # 18.18
    assert metrics.f1_from_counts(tp, fp, fn) == pytest.approx(mstcn_eval_f1(files, 0.5))
    assert metrics.SegmentationMetrics.pool({"f1_50": (tp, fp, fn)}) == {"f1_50": pytest.approx(2 / 11)}


@FAST
@given(
    files=st.lists(
        st.tuples(
            st.lists(st.integers(0, 3), min_size=1, max_size=40), st.lists(st.integers(0, 3), min_size=1, max_size=40)
        ),
        min_size=1,
        max_size=5,
    ),
    overlap=st.sampled_from([0.1, 0.25, 0.5]),
)
def test_pooled_f1_agrees_with_mstcn_eval_main(files, overlap):
    files = [(p + [0], y + [0]) for p, y in files]  # MS-TCN's helper: sequence-final segments one frame short
    total = np.zeros(3, dtype=int)
    for p, y in files:
        total += metrics.f1_counts(
            metrics.frame_labels_to_segments(np.array(p), 1.0),
            metrics.frame_labels_to_segments(np.array(y), 1.0),
            overlap,
        )
    assume(total.any())  # no segments anywhere: MS-TCN gives 0/0 -> 0, we give 100 (nothing to find, none found)
    assert metrics.f1_from_counts(*total) == pytest.approx(mstcn_eval_f1(files, overlap))


# ------------------------------------------------------------------ edit score, Levenshtein
def test_edit_score_hand_computed():
    assert metrics.segmental_edit_score("abcd", "abcd") == 100.0
    assert metrics.segmental_edit_score("abxd", "abcd") == 75.0  # 1 substitution / 4
    assert metrics.segmental_edit_score("ab", "abcd") == 50.0  # 2 deletions / max length 4
    assert metrics.segmental_edit_score("aab", "ab") == pytest.approx(100 * 2 / 3)  # a split syllable: 1 insertion / 3
    assert metrics.segmental_edit_score("ba", "ab") == 0.0  # 2 substitutions / 2
    assert metrics.segmental_edit_score([1, 2, 2], [1, 2]) == pytest.approx(100 * 2 / 3)  # integer labels
    assert metrics.segmental_edit_score("", "ab") == 0.0
    assert metrics.segmental_edit_score("", "") == 100.0


def test_levenshtein_agrees_with_vak_and_mstcn():
    from vak.metrics.distance.functional import levenshtein as vak_levenshtein

    rng = np.random.default_rng(0)
    for _ in range(200):
        a = "".join(rng.choice(list("abcd"), rng.integers(0, 12)))
        b = "".join(rng.choice(list("abcd"), rng.integers(0, 12)))
        d = metrics.levenshtein(a, b)
        assert d == vak_levenshtein(a, b) == mstcn_levenstein(list(a), list(b))


# ------------------------------------------------------------------ R-value, over-segmentation
def test_r_value_and_overseg_hand_computed():
    assert metrics.r_value(1.0, 1.0) == 1.0
    # P 0.8, R 0.8 -> OS 0, HR 0.8: r1 = 0.2, r2 = -0.2/sqrt2 -> R = 1 - (0.2 + 0.1414)/2
    assert metrics.r_value(0.8, 0.8) == pytest.approx(1 - (0.2 + 0.2 / math.sqrt(2)) / 2)
    # P 0.64, R 0.8 -> OS 0.25: r1 = sqrt(0.04 + 0.0625), r2 = (-0.25 + 0.8 - 1)/sqrt2
    assert metrics.r_value(0.64, 0.8) == pytest.approx(1 - (math.sqrt(0.1025) + 0.45 / math.sqrt(2)) / 2)
    assert metrics.r_value(0.64, 0.8, overseg=0.25) == pytest.approx(metrics.r_value(0.64, 0.8))
    assert metrics.r_value(0.0, 0.0) == pytest.approx(1 - math.sqrt(2) / 2)  # OS = -1
    with pytest.raises(ValueError, match="overseg"):
        metrics.r_value(0.0, 0.5)
    assert metrics.over_segmentation(15, 10) == pytest.approx(0.5)
    assert metrics.over_segmentation(0, 10) == -1.0
    assert metrics.over_segmentation(3, 0) == 3.0
    assert metrics.over_segmentation(0, 0) == 0.0


def vak11_boundary_scores(hyp, ref, tolerance=0.004):
    """vak 1.1's ``precision_recall_fscore_rval`` (the host's convention), where vak 1.1 is installed."""
    functional = pytest.importorskip("vak.metrics.boundary_detection.functional", reason="vak 1.1 only")
    torch = pytest.importorskip("torch")
    out = functional.precision_recall_fscore_rval(
        torch.tensor(hyp, dtype=torch.float64),
        torch.tensor(ref, dtype=torch.float64),
        ["precision", "recall", "fscore", "rval"],
        tolerance=tolerance,
    )
    return {("rvalue" if key == "rval" else key): float(val) for key, val in out.items()}


def as_seq(times):
    """A sequence of back-to-back segments whose boundaries are exactly ``times`` (none, or 2 or more)."""
    times = list(times)
    assert len(times) != 1
    return SimpleNamespace(onsets_s=times[:-1], offsets_s=times[1:], labels=[1 + i % 2 for i in range(len(times) - 1)])


SPURIOUS_12 = [0.1 * i for i in range(1, 13)]  # 12 boundaries, none in the reference


@pytest.mark.parametrize(
    "hyp, ref, expected",
    [
        # the case: 12 spurious boundaries, no reference: every score 0 (was R = -9.6)
        (SPURIOUS_12, [], {"precision": 0.0, "recall": 0.0, "fscore": 0.0, "rvalue": 0.0}),
        ([], [0.1, 0.2, 0.3], {"precision": 0.0, "recall": 0.0, "fscore": 0.0, "rvalue": 0.0}),  # nothing found
        ([], [], {"precision": 1.0, "recall": 1.0, "fscore": 1.0, "rvalue": 1.0}),  # both empty
        # hits: R-value as vak's (P 2/3, R 1: OS 0.5, r1 = 0.5, r2 = -0.5/sqrt2)
        (
            [0.1, 0.2, 0.3],
            [0.1, 0.3],
            {"precision": 2 / 3, "recall": 1.0, "rvalue": 1 - (0.5 + 0.5 / math.sqrt(2)) / 2},
        ),
    ],
)
def test_empty_sides_follow_vak_11(hyp, ref, expected):
    scores = metrics.score_annotations(as_seq(hyp), as_seq(ref))
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value), key


@pytest.mark.parametrize(
    "hyp, ref",
    [(SPURIOUS_12, []), ([], [0.1, 0.2, 0.3]), ([], []), ([0.1, 0.2, 0.3], [0.1, 0.3]), ([0.1, 0.25], [0.1, 0.2, 0.3])],
)
def test_boundary_scores_equal_vak_11s_precision_recall_fscore_rval(hyp, ref):
    theirs = vak11_boundary_scores(hyp, ref)
    b = metrics.boundary_precision_recall_fscore(hyp, ref, tolerance=0.004)
    ours = metrics.score_annotations(as_seq(hyp), as_seq(ref), tolerance=0.004)
    for key in ("precision", "recall", "fscore"):
        assert b[key] == pytest.approx(theirs[key], abs=1e-6), key
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key
    assert ours["rvalue"] == pytest.approx(theirs["rvalue"], abs=1e-5)


# ------------------------------------------------------------------ all scores, degenerate cases
PERFECT = {
    "precision": 1.0,
    "recall": 1.0,
    "fscore": 1.0,
    "rvalue": 1.0,
    "overseg": 0.0,
    "edit": 100.0,
    "f1_10": 100.0,
    "f1_25": 100.0,
    "f1_50": 100.0,
}


@pytest.mark.parametrize(
    "pred, ref, expected",
    [
        # prediction only background: no boundaries found, OS -1; R 0 (vak 1.1: one side empty)
        (
            [0, 0, 0, 0],
            [0, 1, 1, 0],
            {
                "precision": 0.0,
                "recall": 0.0,
                "fscore": 0.0,
                "overseg": -1.0,
                "rvalue": 0.0,
                "edit": 0.0,
                "f1_50": 0.0,
            },
        ),
        # reference has no segments: two spurious boundaries, OS = n_hyp = 2, R 0 (vak 1.1)
        (
            [0, 1, 1, 0],
            [0, 0, 0, 0],
            {"precision": 0.0, "recall": 0.0, "fscore": 0.0, "rvalue": 0.0, "overseg": 2.0, "edit": 0.0, "f1_50": 0.0},
        ),
        ([0, 0, 0, 0], [0, 0, 0, 0], PERFECT),  # neither has segments
        ([1], [1], PERFECT),  # a single frame
        ([0], [1], {"fscore": 0.0, "edit": 0.0, "f1_10": 0.0}),
        ([1], [2], {"fscore": 1.0, "edit": 0.0, "f1_10": 0.0}),  # same boundaries, wrong label
        ([2, 2, 2, 2], [2, 2, 2, 2], PERFECT),  # all frames one label
        ([], [], PERFECT),
    ],
)
def test_degenerate_inputs_give_finite_defined_values(pred, ref, expected):
    scores = metrics.segment_scores(np.array(pred, dtype=int), np.array(ref, dtype=int), frame_dur=0.002)
    assert tuple(scores) == metrics.KEYS
    assert all(isinstance(v, float) and math.isfinite(v) for v in scores.values()), scores
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value), key


def test_reference_segments_without_any_segment():
    scores = metrics.segment_scores(np.array([0, 0, 0]), frame_dur=0.01, ref_onsets=[], ref_offsets=[], ref_labels=[])
    assert scores == PERFECT


def test_perfect_prediction_scores_perfectly():
    y = np.array([0, 0, 1, 1, 1, 0, 2, 2, 0, 0, 3, 3])
    assert metrics.segment_scores(y, y, frame_dur=0.002) == PERFECT


def test_oversegmentation_shows_as_low_precision_high_recall():
    ref = np.array([0] * 5 + [1] * 20 + [0] * 5)
    pred = ref.copy()
    pred[[10, 15, 20]] = 0  # one syllable broken into four pieces: 8 boundaries for 2
    scores = metrics.segment_scores(pred, ref, frame_dur=0.002, tolerance=0.002)
    assert scores["recall"] == 1.0 and scores["precision"] == pytest.approx(2 / 8)
    assert scores["overseg"] == pytest.approx(3.0) and scores["edit"] == 25.0


def test_reference_from_annotation_times():
    frame_dur = 0.01
    pred = np.array([0, 1, 1, 1, 0, 0, 2, 2, 0, 0])  # segments 0.01-0.04 and 0.06-0.08
    exact = metrics.segment_scores(
        pred, frame_dur=frame_dur, ref_onsets=[0.01, 0.06], ref_offsets=[0.04, 0.08], ref_labels=[1, 2]
    )
    assert exact == PERFECT
    # reference onset 6 ms away from the predicted one: 3 of 4 boundaries within 4 ms
    shifted = metrics.segment_scores(
        pred, frame_dur=frame_dur, ref_onsets=[0.016, 0.06], ref_offsets=[0.04, 0.08], ref_labels=[1, 2]
    )
    assert shifted["recall"] == 0.75 and shifted["precision"] == 0.75
    # the reference segments take precedence over ref_frame_labels
    assert (
        metrics.segment_scores(
            pred,
            np.zeros(10, dtype=int),
            frame_dur=frame_dur,
            ref_onsets=[0.01, 0.06],
            ref_offsets=[0.04, 0.08],
            ref_labels=[1, 2],
        )
        == PERFECT
    )
    with pytest.raises(ValueError, match="reference"):
        metrics.segment_scores(pred, frame_dur=frame_dur)
    with pytest.raises(ValueError, match="frame_dur"):
        metrics.segment_scores(pred, pred, frame_dur=0)


def test_score_annotations_with_crowsetta():
    crowsetta = pytest.importorskip("crowsetta")

    def seq(onsets, offsets, labels):
        return crowsetta.Sequence.from_keyword(
            onsets_s=np.array(onsets), offsets_s=np.array(offsets), labels=np.array(labels)
        )

    ref = crowsetta.Annotation(annot_path="a.csv", notated_path="a.wav", seq=seq([0.1, 0.3], [0.2, 0.4], ["a", "b"]))
    hyp_seq = seq([0.102, 0.3, 0.5], [0.2, 0.4, 0.6], ["a", "b", "c"])
    hyp = crowsetta.Annotation(annot_path="b.csv", notated_path="a.wav", seq=hyp_seq)
    scores = metrics.score_annotations(hyp, ref)
    # 6 predicted boundaries, the 4 reference ones all found (0.102 is 2 ms off)
    assert scores["recall"] == 1.0 and scores["precision"] == pytest.approx(4 / 6)
    assert scores["overseg"] == pytest.approx(0.5)
    # segments: a, b hit; c spurious -> tp 2, fp 1, fn 0: F1 = 4/5; edit: one insertion in 3
    assert scores["f1_50"] == pytest.approx(80.0) and scores["edit"] == pytest.approx(100 * 2 / 3)
    assert metrics.score_annotations(hyp_seq, ref.seq) == scores  # a Sequence works too


def test_segmentation_metric_validates_tolerance():
    with pytest.raises(ValueError, match="tolerance"):
        metrics.SegmentationMetrics(tolerance=-1)
    with pytest.raises(ValueError, match="frame_dur"):
        metrics.SegmentationMetrics()(np.array([0, 1]), np.array([0, 1]), frame_dur=None)


def test_module_is_numpy_only():
    import subprocess
    import sys

    code = "import sys, vak_tcn.metrics; print(sorted(m for m in ('torch', 'vak', 'vocalpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "[]"


def test_docstring_examples_run():
    import importlib

    attempted = 0
    for name in ("", ".boundaries", ".segments", ".scores", ".segmentation"):
        result = doctest.testmod(importlib.import_module(f"vak_tcn.metrics{name}"))
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted > 20
