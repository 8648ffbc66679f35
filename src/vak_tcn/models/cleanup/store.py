"""The tuned clean-up stored beside a checkpoint: ``postprocess.json`` (docs/postprocessing.md).

:func:`write_settings` writes a tuning result (:class:`~.tuner.TuneResult`), :func:`read_settings` reads
its chosen setting back, :func:`stored_settings` finds it beside a checkpoint for a clean-up mode and
:func:`stored_validation_cer` reads one setting's recorded validation score.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import TYPE_CHECKING

from ... import _atomic
from .rules import Settings

if TYPE_CHECKING:
    from .tuner import TuneResult

__all__ = [
    "FILENAME",
    "FORMAT_VERSION",
    "READ_FORMATS",
    "read_settings",
    "settings_path",
    "stored_settings",
    "stored_validation_cer",
    "write_settings",
]

#: the file written next to a checkpoint
FILENAME = "postprocess.json"
#: 2: the ``choice`` table (rule, n_files, margin, ...); ``best`` is the chosen setting in both
FORMAT_VERSION = 2
#: the formats :func:`read_settings` reads (a file without ``format_version`` is 1)
READ_FORMATS = (1, 2)


def settings_path(checkpoint_path: str | pathlib.Path) -> pathlib.Path:
    """Where the tuned settings of a checkpoint live: ``postprocess.json`` beside it."""
    return pathlib.Path(checkpoint_path).with_name(FILENAME)


def write_settings(path: str | pathlib.Path, result: TuneResult, extra: dict | None = None) -> pathlib.Path:
    """Write a tuning result atomically as JSON: the chosen settings (``best``, the name format 1
    gave them), how they were chosen and how sure the choice is (``choice``: :meth:`~.tuner.TuneResult.choice`),
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
    from ..._params import reject_unknown

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
