"""Clean-up of predicted frame labels, and its settings tuned on validation data.

One concept, one module: the clean-up rules (:func:`postprocess`, vak's; :func:`fill_gaps`;
:func:`clean`, all of them in order), the file that stores tuned settings next to a checkpoint
(:func:`read_settings`, :func:`write_settings`) and the tuner (:func:`tune`) that picks them on
validation files.  NumPy only.  docs/postprocessing.md explains the choices.

Clean-up, in this order (:func:`clean`)
    1. **Gap filling** (``min_gap_dur``, DAS's ``fill_gaps``, vak issue #729): a run of
       background frames shorter than ``min_gap_dur`` (``frames * frame_dur < min_gap_dur``,
       vak's comparison) *between two runs of the same label* takes that label, joining the
       two into one segment.  A gap between two different labels is kept: filling it would
       merge two syllables into one and change the label sequence.  Gaps at the start or end
       of a file (one neighbour only) are never filled.
    2. **Minimum segment duration** (vak's ``min_segment_dur``): segments (runs of
       non-background frames, whatever their labels) shorter than it become background.
    3. **Majority vote** (vak's ``majority_vote``): every frame of a segment takes the
       segment's most frequent label (the smallest one on a tie, as ``scipy.stats.mode``).

    Steps 2 and 3 are vak's ``postprocess`` (same rules, same order); 0 or ``None`` turns a
    duration step off.

The tuner
    Predictions and references are run-length encoded once; each setting of the grid is then a
    handful of NumPy operations on the runs of all files at once (no per-file Python loop),
    tested to equal :func:`clean` frame by frame.  Objective: the character error rate (vak's
    ``levenshtein(pred, true) / len(true)`` on each file's sequence of segment labels, averaged
    over files as vak's validation does; a file with no reference segment divides by 1), ties
    broken by the boundary F-score (:func:`vak_tcn.metrics.boundary_precision_recall_fscore`,
    hits pooled over files), then by the simpler setting (less clean-up).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import pathlib
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .. import _atomic
from ..metrics import boundaries as _boundaries
from ..settings import MODES, check_mode  # the clean-up modes: the setting post_processing

__all__ = [
    "FILENAME",
    "Settings",
    "TuneResult",
    "DEFAULT_GRID",
    "postprocess",
    "fill_gaps",
    "clean",
    "grid",
    "tune",
    "read_settings",
    "write_settings",
    "settings_path",
    "MODES",
    "check_mode",
    "stored_settings",
    "then",
]

#: the file written next to a checkpoint
FILENAME = "postprocess.json"
FORMAT_VERSION = 1

#: the default grid, seconds (0: off); 10 x 5 x 2 = 100 settings
DEFAULT_GRID = {
    "min_segment_dur": (0.0, 0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.030, 0.050),
    "min_gap_dur": (0.0, 0.002, 0.004, 0.006, 0.010),
    "majority_vote": (False, True),
}


def stored_settings(checkpoint_path, mode: str, set_by: str = "") -> tuple[Settings, pathlib.Path] | None:
    """The tuned settings beside a checkpoint and their file, when ``mode`` uses them and the
    file exists; FileNotFoundError naming the checkpoint when ``mode`` is ``tuned`` and it does not.
    ``set_by`` says where the mode was set, for that message."""
    if mode not in ("auto", "tuned"):
        return None
    path = settings_path(checkpoint_path) if checkpoint_path else None
    if path is not None and path.is_file():
        return read_settings(path), path
    if mode == "tuned":
        where = f"beside {checkpoint_path}" if checkpoint_path else "(no checkpoint loaded)"
        raise FileNotFoundError(
            f"post_processing 'tuned'{f' ({set_by})' if set_by else ''}: no {FILENAME} {where}; it is "
            "written when vak train/learncurve ends, or by `vak-tcn tune RESULTS_DIR`"
        )
    return None


# ---------------------------------------------------------------- the rules, on one file's frames
def postprocess(
    frame_labels: np.ndarray,
    timebin_dur: float,
    background_label: int = 0,
    min_segment_dur: float | None = None,
    majority_vote: bool = False,
) -> np.ndarray:
    """vak's ``postprocess`` (no boundary labels), vectorised over segments; returns a new array.

    Segments are runs of non-background frames.  Those with ``frames * timebin_dur <
    min_segment_dur`` become background; then, with ``majority_vote``, every frame of a segment
    gets the segment's most frequent label (the smallest one on a tie).  vak's calls
    ``scipy.stats.mode`` once per segment (1.3 ms each); tests compare this with vak's.
    """
    labels = np.array(frame_labels, dtype=np.int64).ravel()
    foreground = labels != background_label
    if not foreground.any():
        return labels
    edges = np.diff(np.concatenate([[False], foreground, [False]]).astype(np.int8))
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    lengths = stops - starts
    if min_segment_dur is not None:
        short = lengths * timebin_dur < min_segment_dur  # vak's comparison, the same floats
        for start, stop in zip(starts[short], stops[short]):
            labels[start:stop] = background_label
        starts, stops, lengths = starts[~short], stops[~short], lengths[~short]
        if len(starts) == 0:
            return labels
    if majority_vote:
        segment = np.repeat(np.arange(len(starts)), lengths)
        index = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
        values, codes = np.unique(labels[index], return_inverse=True)
        counts = np.zeros((len(starts), len(values)), dtype=np.int64)
        np.add.at(counts, (segment, codes), 1)
        labels[index] = values[counts.argmax(axis=1)][segment]  # argmax: the first (smallest) of the ties
    return labels


def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, lengths, values)`` of the runs of equal values."""
    if labels.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), labels[:0]
    starts = np.flatnonzero(np.concatenate([[True], labels[1:] != labels[:-1]]))
    lengths = np.diff(np.append(starts, labels.size))
    return starts, lengths, labels[starts]


def fill_gaps(frame_labels: np.ndarray, frame_dur: float, min_gap_dur: float | None, background: int = 0) -> np.ndarray:
    """Fill short silent gaps between two runs of the same label; returns a new array.

    A run of ``background`` frames with ``frames * frame_dur < min_gap_dur`` whose neighbours
    on both sides are runs of one and the same label takes that label.

    Examples
    --------
    >>> fill_gaps(np.array([0, 1, 1, 0, 1, 0, 0, 2, 0, 2, 0]), frame_dur=1.0, min_gap_dur=2)
    array([0, 1, 1, 1, 1, 0, 0, 2, 2, 2, 0])
    """
    labels = np.array(frame_labels, dtype=np.int64).ravel()
    if not min_gap_dur:
        return labels
    starts, lengths, values = _runs(labels)
    if len(values) < 3:
        return labels
    inner = np.zeros(len(values), dtype=bool)
    inner[1:-1] = values[:-2] == values[2:]
    fill = inner & (values == background) & (lengths * frame_dur < min_gap_dur)
    for start, length, value in zip(starts[fill], lengths[fill], values[np.flatnonzero(fill) - 1]):
        labels[start : start + length] = value
    return labels


@dataclasses.dataclass(frozen=True)
class Settings:
    """One clean-up setting (durations in seconds; 0 turns a step off)."""

    min_segment_dur: float = 0.0
    min_gap_dur: float = 0.0
    majority_vote: bool = False

    def asdict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def is_off(self) -> bool:
        return not (self.min_segment_dur or self.min_gap_dur or self.majority_vote)

    def describe(self) -> str:
        if self.is_off:
            return "none"
        return (
            f"min_gap_dur={self.min_gap_dur:g} s, min_segment_dur={self.min_segment_dur:g} s, "
            f"majority_vote={str(self.majority_vote).lower()}"
        )


def then(first: Settings, second: Settings) -> Settings:
    """One setting that cleans as ``first`` and then ``second`` do (``second`` without gap filling).

    ``vak predict`` always applies the config's clean-up (vak's ``postprocess``) to what the model
    returns; when the model has applied tuned clean-up first, the result is this setting's: a
    segment too short for either minimum goes, and majority vote runs if either asks for it
    (removing a segment or voting within one changes no other segment).  Tested against the two
    applied in turn.
    """
    if second.min_gap_dur:
        raise ValueError("then(): the second setting must not fill gaps (vak's clean-up does not)")
    return Settings(
        min_segment_dur=max(first.min_segment_dur, second.min_segment_dur),
        min_gap_dur=first.min_gap_dur,
        majority_vote=first.majority_vote or second.majority_vote,
    )


def clean(frame_labels: np.ndarray, frame_dur: float, settings: Settings, background: int = 0) -> np.ndarray:
    """All clean-up steps of ``settings`` on one file's frame labels: gap filling, then vak's."""
    labels = fill_gaps(frame_labels, frame_dur, settings.min_gap_dur, background)
    if settings.min_segment_dur or settings.majority_vote:
        labels = postprocess(
            labels,
            timebin_dur=frame_dur,
            background_label=background,
            min_segment_dur=settings.min_segment_dur or None,
            majority_vote=settings.majority_vote,
        )
    return labels


# ---------------------------------------------------------------- stored settings
def settings_path(checkpoint_path: str | pathlib.Path) -> pathlib.Path:
    """Where the tuned settings of a checkpoint live: ``postprocess.json`` beside it."""
    return pathlib.Path(checkpoint_path).with_name(FILENAME)


def write_settings(path: str | pathlib.Path, result: TuneResult, extra: dict | None = None) -> pathlib.Path:
    """Write a tuning result (chosen settings, every setting's scores) atomically as JSON."""
    doc = {
        "format_version": FORMAT_VERSION,
        "objective": result.objective,
        "best": result.best.asdict(),
        "best_scores": result.best_scores,
        **(extra or {}),
        "settings_tried": [{**s.asdict(), **scores} for s, scores in zip(result.settings, result.scores)],
    }
    return _atomic.write_text(path, json.dumps(doc, indent=1) + "\n")


def read_settings(path: str | pathlib.Path) -> Settings:
    """The chosen settings of a ``postprocess.json``; errors name the file and the bad key."""
    path = pathlib.Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read tuned post-processing settings: {e}") from e
    best = doc.get("best") if isinstance(doc, dict) else None
    if not isinstance(best, dict):
        raise ValueError(f"{path}: no 'best' table of post-processing settings")
    from .._params import reject_unknown

    reject_unknown(best, [f.name for f in dataclasses.fields(Settings)], f"{path}: 'best'")
    try:
        return Settings(
            min_segment_dur=float(best.get("min_segment_dur") or 0.0),
            min_gap_dur=float(best.get("min_gap_dur") or 0.0),
            majority_vote=bool(best.get("majority_vote", False)),
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: bad value in 'best': {e}") from e


# ---------------------------------------------------------------- the tuner
def grid(
    min_segment_dur: Iterable[float] = DEFAULT_GRID["min_segment_dur"],
    min_gap_dur: Iterable[float] = DEFAULT_GRID["min_gap_dur"],
    majority_vote: Iterable[bool] = DEFAULT_GRID["majority_vote"],
) -> list[Settings]:
    """Every combination, as :class:`Settings`."""
    for name, values in (("min_segment_dur", min_segment_dur), ("min_gap_dur", min_gap_dur)):
        for v in values:
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name}: durations must be numbers >= 0 (seconds), got {v!r}")
    return [
        Settings(float(s), float(g), bool(m))
        for s, g, m in itertools.product(min_segment_dur, min_gap_dur, majority_vote)
    ]


@dataclasses.dataclass
class TuneResult:
    settings: list[Settings]
    scores: list[dict]  # per setting: character_error_rate, boundary_fscore, frame_error
    best_index: int
    seconds: float
    n_files: int
    n_frames: int
    audio_s: float
    objective: str = "character_error_rate, ties: boundary_fscore"

    @property
    def best(self) -> Settings:
        return self.settings[self.best_index]

    @property
    def best_scores(self) -> dict:
        return self.scores[self.best_index]

    def scores_of(self, settings: Settings) -> dict | None:
        return next((sc for s, sc in zip(self.settings, self.scores) if s == settings), None)


class _Runs:
    """The runs of equal labels of many files, concatenated (each file's runs contiguous)."""

    def __init__(self, label: np.ndarray, length: np.ndarray, file: np.ndarray):
        self.label, self.length, self.file = label, length, file

    @classmethod
    def of(cls, files: Sequence[np.ndarray]) -> _Runs:
        parts = [_runs(np.asarray(f, dtype=np.int64).ravel()) for f in files]
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
    """:func:`clean` on the runs of all files at once (``frame_dur``: one per file)."""
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


def tune(
    predictions: Sequence[np.ndarray],
    references: Sequence[np.ndarray],
    frame_durs: float | Sequence[float],
    settings: Sequence[Settings] | None = None,
    background: int = 0,
    tolerance: float = 0.004,
    progress: Callable[[int, int], None] | None = None,
) -> TuneResult:
    """Score every clean-up setting on validation files; pick the best.

    Parameters
    ----------
    predictions, references : sequences of 1-D integer arrays
        Predicted (argmax) and reference frame labels of each validation file.
    frame_durs : float or sequence of float
        Frame duration(s) in seconds.
    settings : sequence of Settings, optional
        The grid (default :func:`grid`: 100 settings).
    background : int
        The background class.
    tolerance : float
        Boundary F-score tolerance, seconds (the ``segmentation`` metric's default).

    Returns
    -------
    TuneResult
        ``scores[i]`` of ``settings[i]``: ``character_error_rate`` (mean over files, vak's),
        ``boundary_fscore`` (hits pooled over files; computed for the settings tied at the lowest
        character error rate only, None for the others), ``frame_error`` (fraction of frames,
        reported, not optimised).  The best: the
        lowest character error rate, then the highest boundary F-score, then the earliest in
        ``settings`` (:func:`grid` starts with clean-up off and grows).
    """
    t0 = time.perf_counter()
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not len(predictions):
        raise ValueError("no validation files to tune on")
    n_files = len(predictions)
    frame_dur = np.broadcast_to(np.asarray(frame_durs, dtype=float), (n_files,)).copy()
    predictions = [np.asarray(p, dtype=np.int64).ravel() for p in predictions]
    references = [np.asarray(r, dtype=np.int64).ravel() for r in references]
    for f, (p, r) in enumerate(zip(predictions, references)):
        if p.size != r.size:
            raise ValueError(f"file {f}: {p.size} predicted frames for {r.size} reference frames")
    settings = list(settings) if settings is not None else grid()
    ref_frames = np.concatenate(references)
    ref_segments = _file_segments(_Runs.of(references), n_files, background)
    ref_labels = [s[0] for s in ref_segments]
    ref_counts = np.array([max(len(s), 1) for s in ref_labels])
    ref_bounds = _file_boundaries(ref_segments, frame_dur)
    raw = _Runs.of(predictions)
    n_ref_bounds = sum(b.size for b in ref_bounds)
    distance_cache: dict[tuple[int, bytes], int] = {}
    scores, cleaned = [], []
    for k, s in enumerate(settings):
        runs = _clean_runs(raw, frame_dur, s, background)
        segs = _file_segments(runs, n_files, background)
        # a file whose cleaned label sequence was seen before reuses its distance
        keys = [(f, seg[0].tobytes()) for f, seg in enumerate(segs)]
        todo = [f for f, key in enumerate(keys) if key not in distance_cache]
        if todo:
            dist = _batched_levenshtein([segs[f][0] for f in todo], [ref_labels[f] for f in todo])
            distance_cache.update({keys[f]: int(d) for f, d in zip(todo, dist)})
        dist = np.array([distance_cache[key] for key in keys])
        frames = np.repeat(runs.label, runs.length)
        scores.append(
            {
                "character_error_rate": float(np.mean(dist / ref_counts)),
                "boundary_fscore": None,
                "frame_error": float(np.mean(frames != ref_frames)) if frames.size else 0.0,
            }
        )
        cleaned.append(segs)
        if progress is not None:
            progress(k + 1, len(settings))
    cer = np.array([sc["character_error_rate"] for sc in scores])
    # the tie-break, for the settings tied at the lowest character error rate
    for k in np.flatnonzero(cer == cer.min()):
        n_hits = n_hyp = 0
        for f, (_, on, off) in enumerate(cleaned[k]):
            bounds = _boundaries.boundaries_from_segments(on * frame_dur[f], off * frame_dur[f])
            n_hits += _boundaries.boundary_precision_recall_fscore(bounds, ref_bounds[f], tolerance=tolerance)["n_hits"]
            n_hyp += bounds.size
        precision = n_hits / n_hyp if n_hyp else float(n_ref_bounds == 0)
        recall = n_hits / n_ref_bounds if n_ref_bounds else float(n_hyp == 0)
        fscore = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[k]["boundary_fscore"] = float(fscore)
    fs = np.array([sc["boundary_fscore"] if sc["boundary_fscore"] is not None else -1.0 for sc in scores])
    best = int(np.lexsort((np.arange(len(scores)), -fs, cer))[0])
    n_frames = int(ref_frames.size)
    return TuneResult(
        settings=settings,
        scores=scores,
        best_index=best,
        seconds=time.perf_counter() - t0,
        n_files=n_files,
        n_frames=n_frames,
        audio_s=float(sum(len(r) * d for r, d in zip(references, frame_dur))),
    )
