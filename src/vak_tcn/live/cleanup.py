"""Clean-up of a live stream's frame labels, frame by frame, with the fewest frames of delay.

:class:`OnlineCleanup` applies :func:`vak_tcn.models.cleanup.clean` (gap filling, then
``min_segment_dur``, then majority vote) to frame labels as they arrive and says what it can
as soon as it is certain:

* an **onset** once the syllable has lasted ``min_segment_dur`` (a shorter one would be
  removed), so onsets come ``min_segment_dur`` late (less one frame); its label is, with
  majority vote, the most frequent label *so far* (the offset carries the final one);
* an **offset** once ``min_gap_dur`` of background follows (a shorter gap before the same label
  would be filled), or when a different label starts; offsets come ``min_gap_dur`` late.

The segments it reports are exactly those of :func:`~vak_tcn.models.cleanup.clean` on
the whole label vector, split where the label changes (tested on random label sequences).
Pure Python: one frame costs a few dictionary and list operations.
"""

from __future__ import annotations

import dataclasses
import math

from ..models.cleanup import Settings

__all__ = ["OnlineCleanup"]


@dataclasses.dataclass
class _Segment:
    """An open segment: runs of non-background labels (filled gaps included)."""

    start: int
    runs: list[list] = dataclasses.field(default_factory=list)  # [label, first, last, first prob, last prob]
    counts: dict[int, int] = dataclasses.field(default_factory=dict)
    confirmed: bool = False

    def majority(self) -> int:
        """The most frequent label; the smallest of the most frequent on a tie, as vak's vote."""
        best = max(self.counts.values())
        return min(label for label, n in self.counts.items() if n == best)


class OnlineCleanup:
    """Frame labels in, ``(kind, label, frame, probability)`` events out (see the module docs).

    Parameters
    ----------
    settings : Settings
        The clean-up (durations in seconds).
    frame_dur : float
        Seconds per frame.
    background : int
        The background class.
    """

    def __init__(self, settings: Settings, frame_dur: float, background: int):
        self.settings, self.frame_dur, self.background = settings, float(frame_dur), int(background)
        self.frame = 0  # index of the next frame
        self.segments: list[tuple[int, int, int]] = []  # (label, first frame, last frame), closed
        self._seg: _Segment | None = None
        self._gap = 0  # frames of background after the open segment

    def _frames_to(self, threshold: float) -> int:
        """Frames ``n`` at which ``n * frame_dur < threshold`` (the clean-up's test) first fails."""
        n = max(math.floor(threshold / self.frame_dur) - 1, 0)
        while n * self.frame_dur < threshold:
            n += 1
        return n

    @property
    def onset_delay_frames(self) -> int:
        """Frames from a syllable's first frame to the push that reports its onset."""
        return max(self._frames_to(self.settings.min_segment_dur) - 1, 0)

    @property
    def offset_delay_frames(self) -> int:
        """Frames of background after a syllable before its offset is reported (1: the next frame)."""
        return max(self._frames_to(self.settings.min_gap_dur), 1)

    def push(self, label: int, probability: float) -> list[tuple[str, int, int, float]]:
        """One frame's label and its probability; the events it makes certain."""
        events: list[tuple[str, int, int, float]] = []
        t = self.frame
        self.frame += 1
        if label == self.background:
            if self._seg is not None:
                self._gap += 1
                if not self._gap * self.frame_dur < self.settings.min_gap_dur:  # too long to fill
                    events += self._close()
            return events
        if self._seg is not None and self._gap:
            run = self._seg.runs[-1]
            if run[0] == label:  # a short gap between two runs of one label: filled
                run[2] = t - 1
                self._seg.counts[label] += self._gap
                self._gap = 0
            else:
                events += self._close()
        if self._seg is None:
            self._seg = _Segment(start=t)
        self._add(label, t, probability, events)
        return events

    def finish(self) -> list[tuple[str, int, int, float]]:
        """End of the stream: the open segment's events (a gap at the end is never filled)."""
        return self._close() if self._seg is not None else []

    def _add(self, label: int, t: int, probability: float, events: list) -> None:
        seg = self._seg
        seg.counts[label] = seg.counts.get(label, 0) + 1
        if seg.runs and seg.runs[-1][0] == label and seg.runs[-1][2] == t - 1:
            seg.runs[-1][2], seg.runs[-1][4] = t, probability
        else:
            seg.runs.append([label, t, t, probability, probability])
            if seg.confirmed and not self.settings.majority_vote:  # a label change inside a kept segment
                self._label_change(seg.runs[-2], seg.runs[-1], events)
        if not seg.confirmed and not (t - seg.start + 1) * self.frame_dur < self.settings.min_segment_dur:
            seg.confirmed = True  # long enough: it stays, whatever follows
            if self.settings.majority_vote:
                first = seg.runs[0]
                events.append(("onset", seg.majority(), seg.start, first[3]))
            else:
                events.append(("onset", seg.runs[0][0], seg.runs[0][1], seg.runs[0][3]))
                for before, run in zip(seg.runs, seg.runs[1:]):
                    self._label_change(before, run, events)

    def _label_change(self, before: list, run: list, events: list) -> None:
        """Inside a kept segment without majority vote: ``before`` ends, ``run`` starts."""
        events += [("offset", before[0], before[2], before[4]), ("onset", run[0], run[1], run[3])]
        self.segments.append((before[0], before[1], before[2]))

    def _close(self) -> list[tuple[str, int, int, float]]:
        seg, self._seg, self._gap = self._seg, None, 0
        if not seg.confirmed:  # shorter than min_segment_dur: removed
            return []
        last = seg.runs[-1]
        label = seg.majority() if self.settings.majority_vote else last[0]
        first = seg.start if self.settings.majority_vote else last[1]
        self.segments.append((label, first, last[2]))
        return [("offset", label, last[2], last[4])]
