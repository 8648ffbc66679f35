"""Clean-up rules and the tuner: hand-computed gap filling, vak's postprocess, the tuner's choice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vak_tcn import metrics
from vak_tcn.models import postprocess as pp
from vak_tcn.models.postprocess import Settings


@pytest.mark.parametrize(
    "labels, min_gap_dur, expected",
    [
        # a 1-frame gap between two 1s is filled; the 2-frame one is not (2 * 1.0 < 2 is false)
        ([0, 1, 1, 0, 1, 0, 0, 1, 0], 2.0, [0, 1, 1, 1, 1, 0, 0, 1, 0]),
        # a gap between two different labels is kept
        ([1, 1, 0, 2, 2], 5.0, [1, 1, 0, 2, 2]),
        # gaps at the edges (one neighbour) are kept
        ([0, 0, 1, 1, 0], 5.0, [0, 0, 1, 1, 0]),
        # chained short gaps of one label: all filled; the 3-frame gap before the 2s is not
        ([3, 0, 3, 0, 0, 3, 0, 0, 0, 2], 3.0, [3, 3, 3, 3, 3, 3, 0, 0, 0, 2]),
        # 3-frame gap < 3.5: filled
        ([1, 0, 0, 0, 1], 3.5, [1, 1, 1, 1, 1]),
        # off
        ([1, 0, 1], 0.0, [1, 0, 1]),
        ([1, 0, 1], None, [1, 0, 1]),
    ],
)
def test_fill_gaps_hand_computed(labels, min_gap_dur, expected):
    out = pp.fill_gaps(np.array(labels), frame_dur=1.0, min_gap_dur=min_gap_dur)
    assert out.tolist() == expected
    assert np.array(labels).tolist() == labels  # input untouched


def test_fill_gaps_uses_vaks_comparison_in_seconds():
    labels = np.array([1, 0, 0, 0, 1])  # a 6 ms gap at 2 ms frames
    assert pp.fill_gaps(labels, 0.002, 0.006).tolist() == [1, 0, 0, 0, 1]  # 3 * 0.002 < 0.006 is false
    assert pp.fill_gaps(labels, 0.002, 0.0061).tolist() == [1, 1, 1, 1, 1]
    assert pp.fill_gaps(np.array([2, 0, 0, 0, 2]), 0.002, 0.0061, background=2).tolist() == [2, 0, 0, 0, 2]


def test_clean_fills_gaps_before_vaks_steps():
    # split syllable 1 1 _ 1 (4 ms with a 2 ms gap): gap filling first makes it 8 ms, kept by
    # min_segment_dur 6 ms; without gap filling both halves are removed
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 0, 2, 2, 1, 2, 0])
    out = pp.clean(labels, 0.002, Settings(min_segment_dur=0.006, min_gap_dur=0.003, majority_vote=True))
    assert out.tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 2, 2, 2, 2, 0]
    out = pp.clean(labels, 0.002, Settings(min_segment_dur=0.006, majority_vote=True))
    assert out.tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 0]


def test_postprocess_is_vaks():
    from vak_tcn.plugins import vak_compat

    vak_postprocess, _, _ = vak_compat.frame_labels_functions()
    rng = np.random.default_rng(3)
    for _ in range(20):
        labels = rng.choice(4, size=300, p=[0.4, 0.3, 0.2, 0.1])
        for mv, msd in ((True, None), (False, 0.006), (True, 0.006)):
            ours = pp.postprocess(labels, 0.002, 0, msd, mv)
            theirs = vak_postprocess(labels.copy(), timebin_dur=0.002, min_segment_dur=msd, majority_vote=mv)
            np.testing.assert_array_equal(ours, theirs)


def noisy_files(seed=0, n_files=12):
    rng = np.random.default_rng(seed)
    preds, refs = [], []
    for _ in range(n_files):
        n = int(rng.integers(100, 800))
        ref = np.zeros(n, dtype=np.int64)
        i = 3
        while i < n - 30:
            length = int(rng.integers(3, 25))
            ref[i : i + length] = rng.integers(1, 5)
            i += length + int(rng.integers(1, 12))
        pred = ref.copy()
        flip = rng.random(n) < 0.08
        pred[flip] = rng.integers(0, 5, flip.sum())
        preds.append(pred), refs.append(ref)
    preds.append(np.zeros(5, dtype=np.int64)), refs.append(np.zeros(5, dtype=np.int64))  # no segments at all
    return preds, refs


def test_tuner_scores_equal_frame_by_frame_clean_up_and_the_metrics_module():
    """The vectorised run-level tuner against clean() on each file and vak_tcn.metrics."""
    preds, refs = noisy_files()
    settings = pp.grid((0.0, 0.004, 0.010), (0.0, 0.003, 0.008), (False, True))
    result = pp.tune(preds, refs, 0.002, settings)
    assert result.settings == settings and result.n_files == len(preds)
    for s, scores in zip(result.settings, result.scores):
        cers, wrong = [], []
        for p, r in zip(preds, refs):
            cleaned = pp.clean(p, 0.002, s)
            hyp_labels = metrics.frame_labels_to_segments(cleaned, 0.002)[2]
            ref_labels = metrics.frame_labels_to_segments(r, 0.002)[2]
            cers.append(metrics.levenshtein(hyp_labels, ref_labels) / max(len(ref_labels), 1))
            wrong.append(cleaned != r)
        assert scores["character_error_rate"] == pytest.approx(np.mean(cers), abs=1e-12), s
        assert scores["frame_error"] == pytest.approx(np.mean(np.concatenate(wrong)), abs=1e-12), s


def test_batched_levenshtein_equals_metrics_levenshtein():
    rng = np.random.default_rng(1)
    a = [rng.integers(0, 4, int(rng.integers(0, 30))) for _ in range(150)]
    b = [rng.integers(0, 4, int(rng.integers(0, 30))) for _ in range(150)]
    expected = [metrics.levenshtein(x, y) for x, y in zip(a, b)]
    assert pp._batched_levenshtein(a, b, bucket=16).tolist() == expected


def test_tuner_picks_the_known_optimum():
    """References with 6 ms gaps and 8 ms syllables; predictions with 2 ms blips and 2 ms splits.

    Only min_segment_dur in (2, 8] ms removes the blips and keeps the syllables, and only
    min_gap_dur in (2, 6] ms joins the splits without joining syllables across the 6 ms gaps:
    CER 0 there alone.  The fixed min_segment_dur = 10 ms erases the 8 ms syllables.
    """
    fd = 0.002
    unit_ref = [0] * 5 + [1] * 4 + [0] * 3 + [1] * 10 + [0] * 3 + [2] * 12 + [0] * 5  # 8 ms 'a', 6 ms gaps
    unit_pred = [0] * 5 + [1] * 4 + [0] * 3 + [1] * 4 + [0] + [1] * 5 + [0] * 3 + [2] * 12 + [0, 3, 0, 0, 0]
    assert len(unit_ref) == len(unit_pred)
    refs = [np.array(unit_ref * k) for k in (1, 3, 5)]
    preds = [np.array(unit_pred * k) for k in (1, 3, 5)]
    settings = pp.grid((0.0, 0.004, 0.010), (0.0, 0.004, 0.010), (False, True))
    result = pp.tune(preds, refs, fd, settings)
    assert result.best == Settings(min_segment_dur=0.004, min_gap_dur=0.004, majority_vote=False)
    assert result.best_scores["character_error_rate"] == 0.0
    assert result.best_scores["frame_error"] == 0.0 and result.best_scores["boundary_fscore"] == 1.0
    zero = [s for s, sc in zip(result.settings, result.scores) if sc["character_error_rate"] == 0]
    assert set(zero) == {Settings(0.004, 0.004, False), Settings(0.004, 0.004, True)}  # tie: the simpler one
    assert result.scores_of(Settings())["character_error_rate"] > 0
    assert result.scores_of(Settings(0.010, 0.0, True))["character_error_rate"] > 0  # vak's fixed 10 ms
    assert result.scores_of(Settings(0.004, 0.010, False))["character_error_rate"] > 0  # fills the real gaps


def test_ties_broken_by_boundary_fscore():
    """A syllable followed by a 1-frame gap and a 2-frame tail of its label.  Removing the tail
    (min_segment_dur 5 ms) and joining it (min_gap_dur 3 ms) both give CER 0; joining moves the
    offset 6 ms (> the 4 ms tolerance): boundary F-score 0.5 against 1.0."""
    fd = 0.002
    ref = np.array([0] * 10 + [1] * 20 + [0] * 10)
    pred = np.array([0] * 10 + [1] * 20 + [0] + [1] * 2 + [0] * 7)
    join, remove = Settings(0.0, 0.003, False), Settings(0.005, 0.0, False)
    result = pp.tune([pred], [ref], fd, [join, remove])
    assert [sc["character_error_rate"] for sc in result.scores] == [0.0, 0.0]
    assert [sc["boundary_fscore"] for sc in result.scores] == [0.5, 1.0]
    assert result.best == remove
    same = pp.tune([ref], [ref], fd, [remove, Settings(0.004, 0.0, True)])
    assert same.best_index == 0  # equal CER and F-score: the first listed


def test_settings_file_round_trip_and_errors(tmp_path):
    preds, refs = noisy_files(n_files=3)
    result = pp.tune(preds, refs, 0.002, pp.grid((0.0, 0.01), (0.0, 0.004), (True,)))
    path = pp.write_settings(pp.settings_path(tmp_path / "checkpoint.pt"), result, {"split": "val"})
    assert path == tmp_path / "postprocess.json"
    doc = json.loads(path.read_text())
    assert doc["split"] == "val" and len(doc["settings_tried"]) == 4
    assert all("character_error_rate" in row and "min_gap_dur" in row for row in doc["settings_tried"])
    assert pp.read_settings(path) == result.best
    path.write_text(json.dumps({"best": {"min_segment_dur": 0.01, "min_gap": 0.004}}))
    with pytest.raises(ValueError, match="min_gap"):
        pp.read_settings(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="postprocess.json"):
        pp.read_settings(path)


def test_grid_rejects_bad_durations():
    assert len(pp.grid()) == 100
    with pytest.raises(ValueError, match="min_gap_dur"):
        pp.grid(min_gap_dur=(-0.001,))
    with pytest.raises(ValueError, match="reference frames"):
        pp.tune([np.zeros(3, int)], [np.zeros(4, int)], 0.002)
