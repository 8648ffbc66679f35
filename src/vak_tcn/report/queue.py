"""The review queue: the predicted segments most worth a person's look, least certain first.

Every predicted segment (the reviewed version of each recording) gets a **certainty**, the product
of three factors, each between 0 and 1:

``probability``
    the mean probability of the segment's own label over its frames (``annotate --probabilities``;
    frames whose centre lies in ``[onset, offset)``); 1 without probabilities.
``duration``
    ``min(1, duration / (SHORT_FRACTION x median duration of its label))``, medians over every
    recording of the report: only segments shorter than half their label's median are penalised.
``transition``
    ``min(1, f_in / RARE_TRANSITION, f_out / RARE_TRANSITION)``: ``f_in`` is how often the previous
    segment's label is followed by this label, ``f_out`` how often this label is followed by the next
    segment's label (fractions of all transitions from that label, counted in the predicted
    sequences of every recording; consecutive segments of one recording, whatever the gap); a
    recording's first (last) segment has no ``f_in`` (``f_out``).  Transitions seen less than 5 % of
    the time are penalised.

The queue is the ``N`` segments of lowest certainty, in increasing certainty; ties by recording
name, then onset.  Each entry names its smallest factor as the reason.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["RARE_TRANSITION", "SHORT_FRACTION", "QueueEntry", "default_size", "review_queue"]

#: a transition taken less often than this from its label is rare
RARE_TRANSITION = 0.05
#: a segment shorter than this fraction of its label's median duration is short
SHORT_FRACTION = 0.5
#: the default queue: this fraction of all segments, within [MIN_QUEUE, MAX_QUEUE]
QUEUE_FRACTION, MIN_QUEUE, MAX_QUEUE = 0.02, 20, 300
REASONS = {"probability": "low probability", "duration": "short", "transition": "rare transition"}


@dataclasses.dataclass(frozen=True)
class QueueEntry:
    recording: int  # index into the report's recordings
    segment: int  # index into that recording's predicted segments
    certainty: float
    factors: dict  # probability, duration, transition

    @property
    def reason(self) -> str:
        return REASONS[min(self.factors, key=lambda k: (self.factors[k], list(REASONS).index(k)))]


def default_size(n_segments: int) -> int:
    """2 % of the segments, at least 20, at most 300 (the index, with its thumbnails, stays under 3 MB)."""
    return int(min(max(MIN_QUEUE, np.ceil(QUEUE_FRACTION * n_segments)), MAX_QUEUE))


def _transition_fractions(sequences: list[np.ndarray]) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], int] = {}
    for labels in sequences:
        for pair in zip(labels[:-1].tolist(), labels[1:].tolist()):
            counts[pair] = counts.get(pair, 0) + 1
    totals: dict[str, int] = {}
    for (a, _), n in counts.items():
        totals[a] = totals.get(a, 0) + n
    return {(a, b): n / totals[a] for (a, b), n in counts.items()}


def certainty_factors(recordings) -> list[dict[str, np.ndarray]]:
    """Per recording, the three factors of each predicted segment (see the module's docs)."""
    segments = [rec.predicted for rec in recordings]
    all_labels = np.concatenate([s.labels for s in segments]) if segments else np.array([], dtype=str)
    all_durations = np.concatenate([s.durations for s in segments]) if segments else np.array([])
    median = {label: float(np.median(all_durations[all_labels == label])) for label in np.unique(all_labels)}
    fraction = _transition_fractions([s.labels for s in segments])
    out = []
    for rec, seg in zip(recordings, segments):
        n = len(seg)
        if rec.probabilities is not None and n:
            probability = np.ones(n)
            for label in np.unique(seg.labels):
                mask = seg.labels == label
                probability[mask] = rec.probabilities.of_label(str(label), _subset(seg, mask))
        else:
            probability = np.ones(n)
        scale = np.array([SHORT_FRACTION * median[label] for label in seg.labels.tolist()])
        duration = np.minimum(1.0, np.divide(seg.durations, scale, out=np.ones(n), where=scale > 0))
        labels = seg.labels.tolist()
        f_in = np.array([1.0] + [fraction[(a, b)] for a, b in zip(labels[:-1], labels[1:])])[:n]
        f_out = np.array([fraction[(a, b)] for a, b in zip(labels[:-1], labels[1:])] + [1.0])[-n:] if n else f_in
        transition = np.minimum(1.0, np.minimum(f_in, f_out) / RARE_TRANSITION)
        out.append({"probability": probability, "duration": duration, "transition": transition})
    return out


def _subset(segments, mask):
    from .data import Segments

    return Segments(segments.onsets[mask], segments.offsets[mask], segments.labels[mask])


def review_queue(recordings, size: int | None = None) -> list[QueueEntry]:
    """The ``size`` least certain predicted segments over all ``recordings`` (default
    :func:`default_size`), least certain first; ties by recording name, then onset."""
    factors = certainty_factors(recordings)
    rows = []
    for r, (rec, f) in enumerate(zip(recordings, factors)):
        certainty = f["probability"] * f["duration"] * f["transition"]
        rows += [(float(certainty[i]), rec.name, float(rec.predicted.onsets[i]), r, i) for i in range(len(certainty))]
    if size is None:
        size = default_size(len(rows))
    rows.sort(key=lambda row: row[:3])
    return [
        QueueEntry(r, i, c, {key: float(factors[r][key][i]) for key in ("probability", "duration", "transition")})
        for c, _, _, r, i in rows[:size]
    ]
