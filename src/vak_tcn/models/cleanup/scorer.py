"""Clean-up settings scored on many files at once (NumPy only): the tuner's engine, and :func:`evaluate`.

Predictions and references are run-length encoded once (:class:`_Runs`); each setting is then a
handful of NumPy operations on the runs of all files at once (:func:`_clean_runs`, tested to equal
:func:`~.rules.clean` frame by frame), and the character error rate of every file comes from one
batched edit distance (:func:`_batched_levenshtein`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...metrics import boundaries as _boundaries
from ...metrics.segments import runs as runs_of
from .rules import Settings

__all__ = ["evaluate"]


class _Runs:
    """The runs of equal labels of many files, concatenated (each file's runs contiguous)."""

    def __init__(self, label: np.ndarray, length: np.ndarray, file: np.ndarray):
        self.label, self.length, self.file = label, length, file

    @classmethod
    def of(cls, files: Sequence[np.ndarray]) -> _Runs:
        parts = [runs_of(np.asarray(f, dtype=np.int64).ravel()) for f in files]
        label = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int64)
        length = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
        file = np.repeat(np.arange(len(parts)), [len(p[0]) for p in parts])
        return cls(label.astype(np.int64), length.astype(np.int64), file)

    def merged(self, label: np.ndarray) -> _Runs:
        """Runs with new labels, neighbours of one file with equal labels joined."""
        if label.size == 0:
            return _Runs(label, self.length, self.file)
        new = np.ones(label.size, dtype=bool)
        new[1:] = (label[1:] != label[:-1]) | (self.file[1:] != self.file[:-1])
        idx = np.flatnonzero(new)
        return _Runs(label[idx], np.add.reduceat(self.length, idx), self.file[idx])


def _clean_runs(runs: _Runs, frame_dur: np.ndarray, settings: Settings, background: int) -> _Runs:
    """:func:`~.rules.clean` on the runs of all files at once (``frame_dur``: one per file)."""
    label, length, file = runs.label.copy(), runs.length, runs.file
    n = label.size
    if n == 0:
        return runs
    dur = length * frame_dur[file]
    if settings.min_gap_dur and n >= 3:
        inner = np.zeros(n, dtype=bool)
        inner[1:-1] = (label[:-2] == label[2:]) & (file[:-2] == file[2:])
        fill = np.flatnonzero(inner & (label == background) & (dur < settings.min_gap_dur))
        label[fill] = label[fill - 1]
        runs = runs.merged(label)
        label, length, file = runs.label.copy(), runs.length, runs.file
        dur = length * frame_dur[file]
        n = label.size
    if settings.min_segment_dur or settings.majority_vote:
        fg = label != background
        starts = fg.copy()
        starts[1:] &= ~(fg[:-1] & (file[1:] == file[:-1]))
        segment = np.cumsum(starts) - 1  # segment of each foreground run
        seg_fg = segment[fg]
        n_seg = int(starts.sum())
        if settings.min_segment_dur and n_seg:
            seg_len = np.bincount(seg_fg, weights=length[fg], minlength=n_seg)
            seg_file = file[starts]
            short = seg_len * frame_dur[seg_file] < settings.min_segment_dur
            drop = np.zeros(n, dtype=bool)
            drop[fg] = short[seg_fg]
            label[drop] = background
            fg &= ~drop
            seg_fg = segment[fg]
        if settings.majority_vote and seg_fg.size:
            n_labels = int(label.max()) + 1
            counts = np.bincount(seg_fg * n_labels + label[fg], weights=length[fg], minlength=n_seg * n_labels)
            winner = counts.reshape(n_seg, n_labels).argmax(axis=1)  # the smallest of the most frequent
            label[fg] = winner[seg_fg]
        runs = _Runs(label, length, file).merged(label)
    return runs


def _batched_levenshtein(pred: list[np.ndarray], ref: list[np.ndarray], bucket: int = 128) -> np.ndarray:
    """Edit distances of many pairs of integer sequences, one NumPy DP row for a bucket of pairs.

    The row update is :func:`vak_tcn.metrics.levenshtein`'s.  The distance is symmetric, so each
    pair iterates over its shorter sequence; pairs are sorted by that length and processed in
    buckets, so that one long file does not pad all the others.
    """
    pairs = [(p, r) if len(p) <= len(r) else (r, p) for p, r in zip(pred, ref)]
    out = np.zeros(len(pairs), dtype=np.int64)
    order = np.argsort([len(a) for a, _ in pairs], kind="stable")
    for lo in range(0, len(order), bucket):
        idx = order[lo : lo + bucket]
        n = np.array([len(pairs[i][0]) for i in idx])
        m = np.array([len(pairs[i][1]) for i in idx])
        max_n, max_m = int(n.max()), int(m.max())
        if max_n == 0:
            out[idx] = m
            continue
        a = np.full((len(idx), max_n), -1, dtype=np.int64)
        b = np.full((len(idx), max_m), -2, dtype=np.int64)
        for k, i in enumerate(idx):
            a[k, : n[k]] = pairs[i][0]
            b[k, : m[k]] = pairs[i][1]
        j = np.arange(max_m + 1)
        prev = np.broadcast_to(j, (len(idx), max_m + 1)).copy()
        cur = np.empty_like(prev)
        done = np.where(n == 0, m, 0)  # an empty sequence: the other one's length
        for i in range(1, max_n + 1):
            cur[:, 0] = i
            np.minimum(prev[:, 1:] + 1, prev[:, :-1] + (a[:, i - 1 : i] != b), out=cur[:, 1:])
            cur -= j
            np.minimum.accumulate(cur, axis=1, out=prev)
            prev += j
            finished = n == i  # rows sorted by n: those of length i are done now
            done[finished] = prev[finished, m[finished]]
        out[idx] = done
    return out


def _file_segments(runs: _Runs, n_files: int, background: int):
    """Per file: segment labels, onsets and offsets in frames."""
    start = np.cumsum(runs.length) - runs.length
    first = np.searchsorted(runs.file, np.arange(n_files))
    start = start - start[first[runs.file]]  # frames from each file's start
    fg = runs.label != background
    labels, onsets, offsets, file = runs.label[fg], start[fg], (start + runs.length)[fg], runs.file[fg]
    bounds = np.searchsorted(file, np.arange(n_files + 1))
    return [
        (labels[bounds[f] : bounds[f + 1]], onsets[bounds[f] : bounds[f + 1]], offsets[bounds[f] : bounds[f + 1]])
        for f in range(n_files)
    ]


def _file_boundaries(segments, frame_dur: np.ndarray) -> list[np.ndarray]:
    """Per file: boundaries in seconds (onsets and offsets, shared ones once)."""
    return [
        _boundaries.boundaries_from_segments(on * frame_dur[f], off * frame_dur[f])
        for f, (_, on, off) in enumerate(segments)
    ]


class _Scorer:
    """Validation files prepared once (references' segments and boundaries, predictions' runs);
    :meth:`score` one setting: per-file character error rates, the frame error, the cleaned segments;
    :meth:`fscore`: the boundary F-score of cleaned segments, hits pooled over files."""

    def __init__(self, predictions, references, frame_durs, background: int, tolerance: float):
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
        if not len(predictions):
            raise ValueError("no validation files to tune on")
        self.n_files = n_files = len(predictions)
        self.frame_dur = np.broadcast_to(np.asarray(frame_durs, dtype=float), (n_files,)).copy()
        predictions = [np.asarray(p, dtype=np.int64).ravel() for p in predictions]
        references = [np.asarray(r, dtype=np.int64).ravel() for r in references]
        for f, (p, r) in enumerate(zip(predictions, references)):
            if p.size != r.size:
                raise ValueError(f"file {f}: {p.size} predicted frames for {r.size} reference frames")
        self.background, self.tolerance = background, tolerance
        self.ref_frames = np.concatenate(references)
        ref_segments = _file_segments(_Runs.of(references), n_files, background)
        self.ref_labels = [s[0] for s in ref_segments]
        self.ref_counts = np.array([max(len(s), 1) for s in self.ref_labels])
        self.ref_bounds = _file_boundaries(ref_segments, self.frame_dur)
        self.n_ref_bounds = sum(b.size for b in self.ref_bounds)
        self.raw = _Runs.of(predictions)
        self.audio_s = float(sum(len(r) * d for r, d in zip(references, self.frame_dur)))
        self._distances: dict[tuple[int, bytes], int] = {}

    def score(self, settings: Settings) -> tuple[np.ndarray, float, list]:
        runs = _clean_runs(self.raw, self.frame_dur, settings, self.background)
        segs = _file_segments(runs, self.n_files, self.background)
        # a file whose cleaned label sequence was seen before reuses its distance
        keys = [(f, seg[0].tobytes()) for f, seg in enumerate(segs)]
        todo = [f for f, key in enumerate(keys) if key not in self._distances]
        if todo:
            dist = _batched_levenshtein([segs[f][0] for f in todo], [self.ref_labels[f] for f in todo])
            self._distances.update({keys[f]: int(d) for f, d in zip(todo, dist)})
        dist = np.array([self._distances[key] for key in keys])
        frames = np.repeat(runs.label, runs.length)
        frame_error = float(np.mean(frames != self.ref_frames)) if frames.size else 0.0
        return dist / self.ref_counts, frame_error, segs

    def fscore(self, segs) -> float:
        n_hits = n_hyp = 0
        for f, (_, on, off) in enumerate(segs):
            bounds = _boundaries.boundaries_from_segments(on * self.frame_dur[f], off * self.frame_dur[f])
            n_hits += _boundaries.boundary_precision_recall_fscore(
                bounds, self.ref_bounds[f], tolerance=self.tolerance
            )["n_hits"]
            n_hyp += bounds.size
        precision = n_hits / n_hyp if n_hyp else float(self.n_ref_bounds == 0)
        recall = n_hits / self.n_ref_bounds if self.n_ref_bounds else float(n_hyp == 0)
        return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0


def evaluate(
    predictions: Sequence[np.ndarray],
    references: Sequence[np.ndarray],
    frame_durs: float | Sequence[float],
    settings: Sequence[Settings],
    background: int = 0,
) -> list[dict]:
    """Each setting's scores on some files, no choice made (e.g. the test split, for settings chosen on
    validation): ``character_error_rate`` (vak's: the mean over files of each file's edit distance /
    reference length, as :func:`~.tuner.tune`), ``file_character_error_rate`` (per file) and ``frame_error``."""
    scorer = _Scorer(predictions, references, frame_durs, background, 0.0)
    out = []
    for s in settings:
        file_cer, frame_error, _ = scorer.score(s)
        out.append(
            {
                "character_error_rate": float(np.mean(file_cer)),
                "file_character_error_rate": file_cer.tolist(),
                "frame_error": frame_error,
            }
        )
    return out
