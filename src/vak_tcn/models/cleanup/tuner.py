"""The tuner: every clean-up setting of a grid scored on validation files, and one chosen.

Predictions and references are run-length encoded once; each setting of the grid is then a
handful of NumPy operations on the runs of all files at once (no per-file Python loop),
tested to equal :func:`~.rules.clean` frame by frame (:mod:`.scorer`).  Objective: the character error rate (vak's
``levenshtein(pred, true) / len(true)`` on each file's sequence of segment labels, averaged
over files as vak's validation does; a file with no reference segment divides by 1).

The choice (:func:`tune`, ``rule="one-se"``, the default): the **one-standard-error rule over
files**.  The setting with the lowest mean is the *lowest*; every setting whose mean exceeds
the lowest's by at most the standard error of their per-file differences (paired:
``sd(diff, ddof=1) / sqrt(n_files)``; 0 with one file), and that is worse than the lowest on no
more files than it is better on, is tied with it within noise (the config's fixed clean-up only when
no worse than no clean-up on validation, no clean-up only when no worse than the fixed one, a
grid setting only when no worse than both), and the *simplest* of those is chosen (:func:`simplicity`: the
config's fixed clean-up, then no clean-up, then fewer steps switched on, then less total
duration); among equally simple ones the lower mean, then the higher boundary F-score
(:func:`vak_tcn.metrics.boundary_precision_recall_fscore`, hits pooled over files), then the
earlier in the grid.  No clean-up and the config's fixed clean-up are always candidates, so
the choice falls back to them unless another setting is better by more than the noise.
``rule="best"`` is the earlier rule: the lowest mean, ties by boundary F-score, then grid order.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .rules import Settings
from .scorer import _Scorer

__all__ = [
    "DEFAULT_GRID",
    "FEW_FILES",
    "RULES",
    "SIMPLICITY",
    "TooFewFilesWarning",
    "TuneResult",
    "few_files_warning",
    "grid",
    "simplicity",
    "tune",
]

#: the tuner's rules for choosing among the settings (:func:`tune`)
RULES = {
    "one-se": "one-standard-error over files",
    "best": "lowest mean",
}
#: validation files at or below which the choice is flagged as unreliable (:func:`few_files_warning`)
FEW_FILES = 2
#: means closer than this are equal (floating-point rounding of the same per-file values)
_TIE = 1e-12

#: the default grid, seconds (0: off); 10 x 5 x 2 = 100 settings
DEFAULT_GRID = {
    "min_segment_dur": (0.0, 0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.030, 0.050),
    "min_gap_dur": (0.0, 0.002, 0.004, 0.006, 0.010),
    "majority_vote": (False, True),
}


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


class TooFewFilesWarning(UserWarning):
    """The clean-up was tuned on too few validation files to tell settings apart (:func:`few_files_warning`)."""


def few_files_warning(n_files: int) -> str | None:
    """The warning for a choice made on ``n_files`` <= :data:`FEW_FILES` validation files, naming the
    risk and the remedies; None for more files."""
    if n_files > FEW_FILES:
        return None
    return (
        f"clean-up tuned on {n_files} validation file{'' if n_files == 1 else 's'}: too few to tell settings "
        "apart; the choice may not generalise. Add validation data (a larger val_dur in [vak.prep], then "
        "vak prep again) or set post_processing = 'config' (in the model's network table, or "
        "VAK_TCN_POST_PROCESSING=config) to use the config's clean-up instead"
    )


#: :func:`simplicity` in words (recorded in ``postprocess.json``)
SIMPLICITY = (
    "the config's fixed clean-up; no clean-up; then fewer steps switched on (gap filling, minimum "
    "segment duration, majority vote); then smaller min_gap_dur + min_segment_dur"
)


def simplicity(settings: Settings, fixed: Settings | None = None) -> tuple[int, int, float]:
    """The tuner's order of preference, smaller first (:data:`SIMPLICITY`): the config's fixed clean-up
    ``fixed`` ``(0, 0, 0)`` (what the user asked for, and what vak alone would do: the tuner moves
    away from it only on evidence); no clean-up ``(1, 0, 0)``; any other setting ``(2, number of
    steps switched on, min_gap_dur + min_segment_dur)``.  Equal tuples are equally simple.

    Measured: with the demo's two validation files, no clean-up first kept TweetyNet's and the
    TCN's raw output where the config's clean-up was better on the test split (docs/postprocessing.md)."""
    if fixed is not None and settings == fixed:
        return (0, 0, 0.0)
    if settings.is_off:
        return (1, 0, 0.0)
    steps = bool(settings.min_gap_dur) + bool(settings.min_segment_dur) + bool(settings.majority_vote)
    return (2, steps, round(settings.min_gap_dur + settings.min_segment_dur, 9))


@dataclasses.dataclass
class TuneResult:
    """Every setting's validation scores, and the choice.

    ``best_index`` (:attr:`best`) is the **chosen** setting, whatever the rule (the name is the one
    ``postprocess.json`` has always used for it); ``lowest_index`` (:attr:`lowest`) the setting with
    the lowest mean character error rate (ties: boundary F-score, then grid order), the one the
    rule ``"best"`` chooses."""

    settings: list[Settings]
    scores: list[dict]  # per setting: character_error_rate, boundary_fscore, frame_error
    best_index: int
    seconds: float
    n_files: int
    n_frames: int
    audio_s: float
    objective: str = "character_error_rate, ties: boundary_fscore"
    lowest_index: int | None = None  # None: best_index
    rule: str = "best"
    fixed: Settings | None = None  # the config's fixed clean-up, a candidate
    file_cer: np.ndarray | None = None  # (settings, files): each file's character error rate
    se_from_lowest: np.ndarray | None = None  # per setting: SE of its per-file differences from the lowest
    n_within_noise: int = 1  # candidates within one SE of the lowest (itself included)
    warning: str | None = None  # few_files_warning, when it applies

    @property
    def best(self) -> Settings:
        return self.settings[self.best_index]

    @property
    def best_scores(self) -> dict:
        return self.scores[self.best_index]

    @property
    def lowest(self) -> Settings:
        return self.settings[self.best_index if self.lowest_index is None else self.lowest_index]

    @property
    def se(self) -> float:
        """The standard error the chosen setting was held to: of its per-file differences from the lowest."""
        return 0.0 if self.se_from_lowest is None else float(self.se_from_lowest[self.best_index])

    def scores_of(self, settings: Settings) -> dict | None:
        return next((sc for s, sc in zip(self.settings, self.scores) if s == settings), None)

    def se_of(self, settings: Settings | None) -> float | None:
        """The SE of the per-file differences between ``settings`` and the lowest (None: not tried)."""
        if settings is None or settings not in self.settings or self.se_from_lowest is None:
            return None
        return float(self.se_from_lowest[self.settings.index(settings)])

    def file_cer_of(self, settings: Settings | None) -> list[float] | None:
        """Each file's character error rate with ``settings`` (None: not tried)."""
        if settings is None or settings not in self.settings or self.file_cer is None:
            return None
        return self.file_cer[self.settings.index(settings)].tolist()

    def cer_of(self, settings: Settings | None) -> float | None:
        """The validation character error rate of ``settings`` (None: not tried, or ``settings`` None)."""
        scores = self.scores_of(settings) if settings is not None else None
        return None if scores is None else scores["character_error_rate"]

    def validation_cer(self) -> dict:
        """Validation character error rates: ``raw`` (no clean-up), ``fixed`` (the config's; None without
        one), ``chosen``, ``lowest``; and what tuning bought: ``gain_over_raw`` (raw - chosen) and
        ``gain_over_fixed`` (fixed - chosen; None without a fixed clean-up)."""
        raw, fixed, chosen = self.cer_of(Settings()), self.cer_of(self.fixed), self.best_scores["character_error_rate"]
        return {
            "raw": raw,
            "fixed": fixed,
            "chosen": chosen,
            "lowest": self.cer_of(self.lowest),
            "gain_over_raw": None if raw is None else raw - chosen,
            "gain_over_fixed": None if fixed is None else fixed - chosen,
        }

    def choice(self) -> dict:
        """How the setting was chosen and how sure that is: the ``choice`` table of ``postprocess.json``."""
        cer = self.validation_cer()
        lowest = self.lowest
        return {
            "rule": RULES.get(self.rule, self.rule),
            "simplicity": SIMPLICITY if self.rule == "one-se" else None,
            "n_files": self.n_files,
            "margin": cer["chosen"] - cer["lowest"],  # the chosen's validation CER minus the lowest's
            "se": self.se,
            "n_within_noise": self.n_within_noise,
            "lowest": None if lowest == self.best else {**lowest.asdict(), **self.scores_of(lowest)},
            "fixed": None if self.fixed is None else self.fixed.asdict(),
            "validation_cer": {key: cer[key] for key in ("raw", "fixed", "chosen", "lowest")},
            "se_from_lowest": {
                "raw": self.se_of(Settings()),
                "fixed": self.se_of(self.fixed),
                "chosen": self.se,
            },
            "gain": {"over_raw": cer["gain_over_raw"], "over_fixed": cer["gain_over_fixed"]},
            "file_cer": {
                "raw": self.file_cer_of(Settings()),
                "fixed": self.file_cer_of(self.fixed),
                "chosen": self.file_cer_of(self.best),
                "lowest": self.file_cer_of(lowest),
            },
            "warning": self.warning,
        }

    def how_chosen(self) -> str:
        """The rule, the number of files and, when the chosen setting is not the lowest mean, the lowest,
        the margin and the standard error it was within."""
        how = f"{RULES.get(self.rule, self.rule)} ({self.n_files} file{'' if self.n_files == 1 else 's'})"
        if self.lowest != self.best and self.cer_of(self.lowest) >= self.best_scores["character_error_rate"] - _TIE:
            return how + (
                f": the simplest of {self.n_within_noise} settings within one SE of the lowest mean, itself at the "
                f"lowest mean ({self.lowest.describe()} ties it, with a higher boundary F-score)"
            )
        if self.lowest != self.best:
            return how + (
                f": the simplest of {self.n_within_noise} settings within one SE of the lowest mean "
                f"({self.lowest.describe()}: {self.cer_of(self.lowest):.4f}, "
                f"{self.best_scores['character_error_rate'] - self.cer_of(self.lowest):.4f} lower, SE {self.se:.4f})"
            )
        if self.rule == "one-se":
            return how + ": the lowest mean" + (", the simplest within one SE" if self.n_within_noise > 1 else "")
        return how

    def summary(self) -> str:
        """One line: the chosen setting, the validation gain over raw and over the config's clean-up,
        and how it was chosen (:meth:`how_chosen`)."""
        cer = self.validation_cer()
        parts = [self.best.describe()]
        if cer["raw"] is not None:
            parts.append(
                f"validation character error rate raw {cer['raw']:.4f} -> {cer['chosen']:.4f} "
                f"(gain {cer['gain_over_raw']:.4f})"
            )
        if cer["fixed"] is not None:
            parts.append(
                f"config's ({self.fixed.describe()}) {cer['fixed']:.4f} -> {cer['chosen']:.4f} "
                f"(gain {cer['gain_over_fixed']:.4f})"
            )
        parts.append(self.how_chosen())
        return "; ".join(parts)


def _ordered(candidates, mean: np.ndarray, fscore: Callable[[int], float]) -> int:
    """The first of ``candidates`` (indices into the grid) by: lowest mean (equal within rounding),
    then the highest boundary F-score (computed for the ones tied on the mean only), then grid order."""
    candidates = sorted(candidates)
    low = min(mean[k] for k in candidates)
    tied = [k for k in candidates if mean[k] <= low + _TIE]
    if len(tied) == 1:
        return tied[0]
    return max(tied, key=lambda k: (fscore(k), -k))


def tune(
    predictions: Sequence[np.ndarray],
    references: Sequence[np.ndarray],
    frame_durs: float | Sequence[float],
    settings: Sequence[Settings] | None = None,
    background: int = 0,
    tolerance: float = 0.004,
    progress: Callable[[int, int], None] | None = None,
    fixed: Settings | None = None,
    rule: str = "one-se",
) -> TuneResult:
    """Score every clean-up setting on validation files; choose one.

    Parameters
    ----------
    predictions, references : sequences of 1-D integer arrays
        Predicted (argmax) and reference frame labels of each validation file.
    frame_durs : float or sequence of float
        Frame duration(s) in seconds.
    settings : sequence of Settings, optional
        The grid (default :func:`grid`: 100 settings).  No clean-up (``Settings()``) is added at
        the front when missing, and ``fixed`` at the end: both are always candidates.
    background : int
        The background class.
    tolerance : float
        Boundary F-score tolerance, seconds (the ``segmentation`` metric's default).
    fixed : Settings, optional
        The config's fixed clean-up (:func:`~.config.config_fixed_settings`): a candidate, first in simplicity.
    rule : str
        ``"one-se"`` (default): the one-standard-error rule over files.  Per file, the character
        error rate of every setting; the lowest: the lowest mean (ties: boundary F-score, then grid
        order); a setting is tied with it within noise when its mean exceeds the lowest's by at most
        ``se = sd(its per-file CER - the lowest's per-file CER, ddof=1) / sqrt(n_files)`` (0 for one
        file: exact ties only) and it is worse than the lowest on no more files than it is better on; the
        fixed clean-up must also have a mean no higher than no clean-up's, no clean-up one no higher
        than the fixed clean-up's, and a grid setting one no higher than both of theirs.
        Chosen: the simplest of those (:func:`simplicity`), then the lowest mean, then the highest
        boundary F-score, then the earliest in the grid.  ``"best"``: the lowest (the rule before).
        One or two files: a :class:`TooFewFilesWarning` (:func:`few_files_warning`), also in
        ``TuneResult.warning``.

    Returns
    -------
    TuneResult
        ``scores[i]`` of ``settings[i]``: ``character_error_rate`` (mean over files, vak's),
        ``boundary_fscore`` (hits pooled over files; computed for no clean-up, the fixed, the lowest,
        the chosen and the settings compared with them in tie-breaks, None for the others),
        ``frame_error`` (fraction of frames, reported, not optimised).  ``best`` is the chosen
        setting, ``lowest`` the lowest mean; ``file_cer`` every setting's per-file rates.
    """
    if rule not in RULES:
        raise ValueError(f"rule: one of {', '.join(map(repr, RULES))}, got {rule!r}")
    t0 = time.perf_counter()
    scorer = _Scorer(predictions, references, frame_durs, background, tolerance)
    settings = list(settings) if settings is not None else grid()
    if Settings() not in settings:  # no clean-up: always a candidate
        settings.insert(0, Settings())
    if fixed is not None and fixed not in settings:  # the config's: always a candidate
        settings.append(fixed)
    file_cer = np.zeros((len(settings), scorer.n_files))
    scores, cleaned = [], []
    for k, s in enumerate(settings):
        file_cer[k], frame_error, segs = scorer.score(s)
        scores.append(
            {"character_error_rate": float(np.mean(file_cer[k])), "boundary_fscore": None, "frame_error": frame_error}
        )
        cleaned.append(segs)
        if progress is not None:
            progress(k + 1, len(settings))
    mean = np.array([sc["character_error_rate"] for sc in scores])

    def fscore(k: int) -> float:
        if scores[k]["boundary_fscore"] is None:
            scores[k]["boundary_fscore"] = scorer.fscore(cleaned[k])
        return scores[k]["boundary_fscore"]

    lowest = _ordered(range(len(settings)), mean, fscore)
    n_files = scorer.n_files
    diff = file_cer - file_cer[lowest]
    se = diff.std(axis=1, ddof=1) / math.sqrt(n_files) if n_files > 1 else np.zeros(len(settings))
    raw = settings.index(Settings())
    keys = [simplicity(s, fixed) for s in settings]
    # a setting's own erratic errors must not excuse it: within noise needs it worse than the lowest on
    # no more files than it is better on (a sign test's balance), so a large SE from a few disastrous
    # files does not count, nor does a setting the lowest beats on one file and ties on the rest (with
    # two files the SE of the differences is then exactly their mean: "within noise" by construction)
    worse, better = np.sum(diff > _TIE, axis=1), np.sum(diff < -_TIE, axis=1)
    # and never worse on validation than what the user would get without tuning: the fixed clean-up
    # no worse than raw; raw no worse than the fixed clean-up (issue 37: raw within a wide SE was
    # chosen over a config's clean-up half its error); a grid setting no worse than either
    ceiling = {
        0: mean[raw],
        1: mean[settings.index(fixed)] if fixed is not None else math.inf,
        2: min(mean[k] for k in range(len(settings)) if keys[k][0] < 2),
    }
    within = [
        k
        for k in range(len(settings))
        if mean[k] - mean[lowest] <= se[k] + _TIE and worse[k] <= better[k] and mean[k] <= ceiling[keys[k][0]] + _TIE
    ]
    if rule == "best":
        chosen = lowest
    else:
        simplest = min(keys[k] for k in within)
        chosen = _ordered([k for k in within if keys[k] == simplest], mean, fscore)
    for k in {raw, chosen, lowest} | ({settings.index(fixed)} if fixed is not None else set()):
        fscore(k)  # reported beside the choice
    warning = few_files_warning(n_files)
    if warning:
        warnings.warn(warning, TooFewFilesWarning, stacklevel=2)
    objective = (
        "character_error_rate: one-standard-error over files, then the simplest; ties: lower mean, boundary_fscore"
        if rule == "one-se"
        else "character_error_rate, ties: boundary_fscore"
    )
    return TuneResult(
        settings=settings,
        scores=scores,
        best_index=chosen,
        seconds=time.perf_counter() - t0,
        n_files=n_files,
        n_frames=int(scorer.ref_frames.size),
        audio_s=scorer.audio_s,
        objective=objective,
        lowest_index=lowest,
        rule=rule,
        fixed=fixed,
        file_cer=file_cer,
        se_from_lowest=se,
        n_within_noise=len(within),
        warning=warning,
    )
