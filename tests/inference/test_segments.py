"""Streamed segments equal vak's post-processing and segments of the whole frame-label vector."""

from __future__ import annotations

import numpy as np
import pytest

from vak_tcn.inference.segments import SegmentStream, frame_dur_from_times, postprocess, to_segments
from vak_tcn.inference.spectrogram import SpectParams, frame_times
from vak_tcn.plugins import vak_compat

LABELMAP = {"background": 0, "a": 1, "b": 2, "c": 3}
PARAMS = SpectParams(512, 64)
RATE = 32000


def runs(n: int, seed: int) -> np.ndarray:
    """Frame labels in runs of 1-60 frames, background half the time, a short file-start and -end."""
    rng = np.random.default_rng(seed)
    out = []
    while sum(map(len, out)) < n:
        label = 0 if rng.random() < 0.5 else int(rng.integers(1, 4))
        out.append(np.full(int(rng.integers(1, 60)), label))
    return np.concatenate(out)[:n]


def times(start, stop):
    return frame_times(start, stop, RATE, PARAMS)


def vak_whole(labels, majority_vote, min_segment_dur):
    postprocess, to_segments, timebin_dur_from_vec = vak_compat.frame_labels_functions()
    t = times(0, len(labels))
    labels = labels.copy()
    if majority_vote or min_segment_dur:
        labels = postprocess(
            labels,
            timebin_dur=timebin_dur_from_vec(t),
            min_segment_dur=min_segment_dur,
            majority_vote=majority_vote,
            background_label=0,
        )
    return to_segments(labels, labelmap=LABELMAP, frame_times=t)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("post", [(False, None), (True, None), (False, 0.02), (True, 0.02)])
def test_streamed_segments_equal_vak_on_the_whole_vector(seed, post):
    majority_vote, min_dur = post
    labels = runs(5000, seed)
    if seed % 2:  # a segment running into the file's end, another from its start
        labels[:7], labels[-9:] = 2, 3
    _, _, timebin_dur_from_vec = vak_compat.frame_labels_functions()
    stream = SegmentStream(
        LABELMAP, times, timebin_dur_from_vec(times(0, 1000)), majority_vote, min_dur, piece_frames=300
    )
    rng = np.random.default_rng(seed)
    for block in np.split(labels, np.sort(rng.choice(np.arange(1, len(labels)), 40, replace=False))):
        stream.feed(block)
    names, onsets, offsets = stream.finish()
    ref_names, ref_onsets, ref_offsets = vak_whole(labels, majority_vote, min_dur)
    np.testing.assert_array_equal(names, ref_names)
    np.testing.assert_array_equal(onsets, ref_onsets)  # exact: the same floats
    np.testing.assert_array_equal(offsets, ref_offsets)
    assert offsets.max() <= times(0, len(labels))[-1]  # vak clips the last offset to the last frame's time


def test_all_background_and_too_short_give_no_segments():
    stream = SegmentStream(LABELMAP, times, 0.002, True, 0.01, piece_frames=10)
    stream.feed(np.zeros(100, dtype=int))
    assert [len(x) for x in stream.finish()] == [0, 0, 0]
    stream = SegmentStream(LABELMAP, times, float("nan"))
    stream.feed(np.array([2]))  # one frame: vak's frame duration needs two
    assert [len(x) for x in stream.finish()] == [0, 0, 0]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("post", [(True, None), (False, 0.02), (True, 0.02), (True, 0.5)])
def test_postprocess_equals_vaks(seed, post):
    """Vectorised post-processing: vak's, ties included (many short segments, few labels)."""
    majority_vote, min_dur = post
    vak_postprocess, _, _ = vak_compat.frame_labels_functions()
    rng = np.random.default_rng(seed)
    labels = rng.choice(4, size=400, p=[0.3, 0.3, 0.2, 0.2]) if seed % 2 else runs(3000, seed)
    expected = vak_postprocess(
        labels.copy(), timebin_dur=0.002, min_segment_dur=min_dur, majority_vote=majority_vote, background_label=0
    )
    got = postprocess(labels, 0.002, 0, min_dur, majority_vote)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", range(4))
def test_streamed_gap_filling_equals_the_whole_vector(seed):
    """Tuned settings (gap filling first): pieces cut only after a gap that is never filled."""
    from vak_tcn.models.cleanup import Settings, clean

    labels = runs(5000, seed)
    for start in range(250, 5000, 290):  # short gaps between two runs of one label, near the cuts too
        labels[start : start + 30] = [0] * 3 + [2] * 10 + [0] * 5 + [2] * 10 + [0] * 2
    _, to_segments, timebin_dur_from_vec = vak_compat.frame_labels_functions()
    frame_dur = timebin_dur_from_vec(times(0, 1000))
    settings = Settings(min_segment_dur=0.01, min_gap_dur=0.03, majority_vote=bool(seed % 2))
    stream = SegmentStream(LABELMAP, times, frame_dur, settings.majority_vote, 0.01, piece_frames=300, min_gap_dur=0.03)
    for block in np.array_split(labels, 37):
        stream.feed(block)
    names, onsets, offsets = stream.finish()
    cleaned = clean(labels, frame_dur, settings)
    assert not np.array_equal(cleaned, clean(labels, frame_dur, Settings(0.01, 0.0, settings.majority_vote)))
    want = to_segments(cleaned, labelmap=LABELMAP, frame_times=times(0, len(labels)))
    assert list(names) == list(want[0])
    np.testing.assert_array_equal(onsets, want[1])
    np.testing.assert_array_equal(offsets, want[2])


@pytest.mark.parametrize("seed", range(12))
def test_to_segments_and_frame_duration_equal_vaks(seed):
    """vak-tcn's copies of vak's ``to_segments`` and ``timebin_dur_from_vec`` (annotate does not import vak):
    the same labels and the same floats, on label vectors and frame times of many kinds."""
    _, vak_to_segments, timebin_dur_from_vec = vak_compat.frame_labels_functions()
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 3000))
    labels = runs(n, seed) if seed % 3 else rng.integers(0, 4, n)
    if seed % 4 == 1:
        labels[:] = 0  # all background: no segment
    if seed % 4 == 2:
        labels[0], labels[-1] = 1, 3  # segments at both ends: clipped times
    labelmap = LABELMAP if seed % 5 else {"unlabeled": 0, "a": 1, "b": 2, "c": 3}  # no background label: all runs
    start = int(rng.integers(0, 10**6))
    t = times(start, start + n) if seed % 2 else np.cumsum(rng.uniform(0.0019, 0.0021, n))
    assert frame_dur_from_times(t) == timebin_dur_from_vec(t)
    got, want = to_segments(labels, labelmap, t), vak_to_segments(labels, labelmap=labelmap, frame_times=t)
    if want[0] is None:
        assert got == (None, None, None)
        return
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])  # the same floats
    np.testing.assert_array_equal(got[2], want[2])
