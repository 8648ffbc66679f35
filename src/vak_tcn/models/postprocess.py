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
import json
import math
import pathlib
import time
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from .. import _atomic
from ..metrics import boundaries as _boundaries
from ..settings import MODES, check_mode  # the clean-up modes: the setting post_processing

__all__ = [
    "FILENAME",
    "Settings",
    "TuneResult",
    "TooFewFilesWarning",
    "DEFAULT_GRID",
    "RULES",
    "postprocess",
    "fill_gaps",
    "clean",
    "grid",
    "tune",
    "evaluate",
    "simplicity",
    "few_files_warning",
    "fixed_settings",
    "config_fixed_settings",
    "read_settings",
    "write_settings",
    "settings_path",
    "MODES",
    "check_mode",
    "stored_settings",
    "stored_validation_cer",
    "then",
]

#: the file written next to a checkpoint
FILENAME = "postprocess.json"
#: 2: the ``choice`` table (rule, n_files, margin, ...); ``best`` is the chosen setting in both
FORMAT_VERSION = 2
#: the formats :func:`read_settings` reads (a file without ``format_version`` is 1)
READ_FORMATS = (1, 2)

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


@dataclasses.dataclass(frozen=True)
class Request:
    """The clean-up a command asks for: ``cli``, its ``--post-processing`` mode (None: not given);
    ``off_by``, what turned clean-up off (``--no-post-processing``; None: on)."""

    cli: str | None = None
    off_by: str | None = None


def resolve_mode(request: Request, network_table: Mapping | None) -> tuple[str, str]:
    """The clean-up mode and where it was set: off (``request.off_by``), else the option, else
    ``VAK_TCN_POST_PROCESSING``, else the network table's ``post_processing``, else ``auto``
    (the one precedence, :func:`vak_tcn.settings.lookup`, which the model family uses too)."""
    from .. import settings

    if request.off_by:
        return "none", request.off_by
    table = (network_table or {}).get(settings.POST_PROCESSING.config_key)
    found = settings.lookup("post_processing", cli=request.cli, config=table)
    return found.value, "the network table" if found.source == "config" else found.where


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
    """Write a tuning result atomically as JSON: the chosen settings (``best``, the name format 1
    gave them), how they were chosen and how sure the choice is (``choice``: :meth:`TuneResult.choice`),
    ``extra``, and every setting's scores."""
    doc = {
        "format_version": FORMAT_VERSION,
        "objective": result.objective,
        "best": result.best.asdict(),
        "best_scores": result.best_scores,
        "choice": result.choice(),
        **(extra or {}),
        "settings_tried": [{**s.asdict(), **scores} for s, scores in zip(result.settings, result.scores)],
    }
    return _atomic.write_text(path, json.dumps(doc, indent=1) + "\n")


def read_settings(path: str | pathlib.Path) -> Settings:
    """The chosen settings of a ``postprocess.json`` (format 1 or 2: ``best`` in both); errors name
    the file and the bad key."""
    path = pathlib.Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read tuned post-processing settings: {e}") from e
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a table of tuned post-processing settings")
    version = doc.get("format_version", 1)
    if version not in READ_FORMATS or isinstance(version, bool):
        raise ValueError(
            f"{path}: 'format_version' {version!r} is not one this vak-tcn reads "
            f"({', '.join(map(str, READ_FORMATS))}); a newer vak-tcn wrote it, or re-tune with `vak-tcn tune`"
        )
    best = doc.get("best")
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


def stored_validation_cer(path: str | pathlib.Path, settings: Settings) -> float | None:
    """The validation character error rate a ``postprocess.json`` recorded for ``settings`` (its
    ``settings_tried``); None when that setting was not tried or the file does not say."""
    try:
        doc = json.loads(pathlib.Path(path).read_text())
        for tried in doc.get("settings_tried") or []:
            fields = {f.name: tried.get(f.name) for f in dataclasses.fields(Settings)}
            if Settings(float(fields["min_segment_dur"] or 0), float(fields["min_gap_dur"] or 0),
                        bool(fields["majority_vote"])) == settings:  # fmt: skip
                return float(tried["character_error_rate"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return None


# ---------------------------------------------------------------- the config's fixed clean-up
def vak_settings(source) -> Settings:
    """The clean-up of an object that carries vak's two attributes, ``min_segment_dur`` (None: off) and
    ``majority_vote``: vak's parsed ``[vak.predict]`` table, or the ``PostProcess`` transform vak builds
    from ``post_tfm_kwargs``."""
    return Settings(min_segment_dur=float(source.min_segment_dur or 0.0), majority_vote=bool(source.majority_vote))


def fixed_settings(post_tfm_kwargs: Mapping | None, where: str = "post_tfm_kwargs") -> Settings | None:
    """vak's ``post_tfm_kwargs`` (``min_segment_dur``, ``majority_vote``; vak's defaults: None, false)
    as :class:`Settings`; None when there are none (vak then evaluates without clean-up).  ``where``
    names the table in errors."""
    if not post_tfm_kwargs:
        return None
    if not isinstance(post_tfm_kwargs, Mapping):
        raise ValueError(
            f"{where}: an inline table {{majority_vote = ..., min_segment_dur = ...}}, got {post_tfm_kwargs!r}"
        )
    from .._params import reject_unknown

    reject_unknown(post_tfm_kwargs, ("min_segment_dur", "majority_vote"), f"key(s) in {where}", "keys")
    try:
        min_segment_dur = float(post_tfm_kwargs.get("min_segment_dur") or 0.0)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: min_segment_dur must be a number of seconds, got {post_tfm_kwargs['min_segment_dur']!r}"
        ) from None
    if not (math.isfinite(min_segment_dur) and min_segment_dur >= 0):
        raise ValueError(f"{where}: min_segment_dur must be >= 0 seconds, got {min_segment_dur!r}")
    majority_vote = post_tfm_kwargs.get("majority_vote", False)
    if not isinstance(majority_vote, bool):
        raise ValueError(f"{where}: majority_vote must be true or false, got {majority_vote!r}")
    return Settings(min_segment_dur=min_segment_dur, majority_vote=majority_vote)


#: the tables of a vak config whose ``post_tfm_kwargs`` are a training run's fixed clean-up, in order
CONFIG_TABLES = ("learncurve", "eval")


def config_fixed_settings(config_path: str | pathlib.Path) -> Settings | None:
    """The fixed clean-up of a vak config: the ``post_tfm_kwargs`` of ``[vak.learncurve]`` (the table
    learncurve evaluates each replicate with), else of ``[vak.eval]``; None when neither has them (a
    ``vak train`` config: vak's train table has no clean-up).  Errors name the file and the table."""
    path = pathlib.Path(config_path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: cannot read the config's post_tfm_kwargs: {e}") from e
    vak = doc.get("vak", {})
    for name in CONFIG_TABLES:
        table = vak.get(name) if isinstance(vak, dict) else None
        if isinstance(table, dict) and table.get("post_tfm_kwargs") is not None:
            return fixed_settings(table["post_tfm_kwargs"], f"{path}: [vak.{name}] post_tfm_kwargs")
    return None


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
    reference length, as :func:`tune`), ``file_character_error_rate`` (per file) and ``frame_error``."""
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
        The config's fixed clean-up (:func:`config_fixed_settings`): a candidate, first in simplicity.
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
