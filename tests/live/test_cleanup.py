"""Online clean-up of live frame labels = offline clean-up of the whole vector, at a known delay."""

from __future__ import annotations

import numpy as np
import pytest

from vak_tcn.live.cleanup import OnlineCleanup
from vak_tcn.models import cleanup as postprocess

FRAME = 0.002


def segments_of(labels: np.ndarray, background: int = 0) -> list[tuple[int, int, int]]:
    """(label, first frame, last frame) of each run of a non-background label: vak's to_segments."""
    starts = np.flatnonzero(np.concatenate([[True], labels[1:] != labels[:-1]]))
    stops = np.append(starts[1:], labels.size) - 1
    return [(int(labels[a]), int(a), int(b)) for a, b in zip(starts, stops) if labels[a] != background]


def stream(labels: np.ndarray, settings: postprocess.Settings):
    """Push every frame; return the cleaner and each event with the frame whose push returned it."""
    cleaner = OnlineCleanup(settings, FRAME, background=0)
    events = []
    for t, label in enumerate(labels):
        events += [(t, e) for e in cleaner.push(int(label), 0.5)]
    events += [(len(labels), e) for e in cleaner.finish()]
    return cleaner, events


@pytest.mark.parametrize("settings", postprocess.grid((0, 0.004, 0.01), (0, 0.004, 0.006, 0.01), (False, True)))
def test_online_clean_up_gives_the_offline_segments(settings):
    rng = np.random.default_rng(0)
    for _ in range(100):
        labels = np.repeat(rng.integers(0, 3, 40), rng.integers(1, 8, 40))
        cleaner, events = stream(labels, settings)
        expected = segments_of(postprocess.clean(labels, FRAME, settings))
        assert sorted(cleaner.segments, key=lambda s: s[1]) == expected
        onsets = [e for _, e in events if e[0] == "onset"]
        offsets = [e for _, e in events if e[0] == "offset"]
        assert [e[2] for e in onsets] == [s[1] for s in expected]
        assert [(e[1], e[2]) for e in offsets] == [(s[0], s[2]) for s in expected]


def test_hand_computed_delays_and_labels():
    """min_segment_dur 10 ms (5 frames), gaps under 6 ms (3 frames) filled, majority vote:
    'aa_aab' then 4 frames of background -> one 'a' from frame 0 to 5."""
    settings = postprocess.Settings(min_segment_dur=0.010, min_gap_dur=0.006, majority_vote=True)
    labels = np.array([1, 1, 0, 1, 1, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0])
    cleaner, events = stream(labels, settings)
    assert cleaner.onset_delay_frames == 4 and cleaner.offset_delay_frames == 3
    # onset: at the 5th frame of the segment (the gap counts), with the majority so far;
    # offset: when the 3rd background frame rules out a fill; the 2-frame 'b' never shows
    assert events == [(4, ("onset", 1, 0, 0.5)), (8, ("offset", 1, 5, 0.5))]
    assert cleaner.segments == [(1, 0, 5)]


def test_no_clean_up_is_the_raw_runs_at_once():
    labels = np.array([0, 1, 1, 2, 0, 0, 1])
    cleaner, events = stream(labels, postprocess.Settings())
    assert cleaner.onset_delay_frames == 0 and cleaner.offset_delay_frames == 1
    assert [(t, e[0], e[1]) for t, e in events] == [
        (1, "onset", 1),
        (3, "offset", 1),
        (3, "onset", 2),
        (4, "offset", 2),
        (6, "onset", 1),
        (7, "offset", 1),
    ]
