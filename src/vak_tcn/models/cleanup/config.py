"""The clean-up a config and a command ask for (docs/postprocessing.md).

* :class:`Request` and :func:`resolve_mode`: the clean-up mode a command asks for, where it was set;
* :func:`vak_settings`, :func:`fixed_settings`, :func:`config_fixed_settings`: vak's clean-up
  (``post_tfm_kwargs``, a parsed ``[vak.predict]`` table, vak's ``PostProcess``) as
  :class:`~.rules.Settings`; :func:`config_fixed_settings` is the one reader of a config file's
  ``post_tfm_kwargs``;
* :func:`predict_cleanup`: the clean-up of a predict config's model in a mode, and where it comes from.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import tomllib
from collections.abc import Mapping, Sequence

from .rules import Settings, then
from .store import FILENAME, stored_settings, stored_validation_cer

__all__ = [
    "CONFIG_TABLES",
    "Request",
    "config_fixed_settings",
    "fixed_settings",
    "predict_cleanup",
    "resolve_mode",
    "vak_settings",
]


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
    from ... import settings

    if request.off_by:
        return "none", request.off_by
    table = (network_table or {}).get(settings.POST_PROCESSING.config_key)
    found = settings.lookup("post_processing", cli=request.cli, config=table)
    return found.value, "the network table" if found.source == "config" else found.where


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
    from ..._params import reject_unknown

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


def config_fixed_settings(
    config_path: str | pathlib.Path, tables: Sequence[str] = CONFIG_TABLES, doc: Mapping | None = None
) -> Settings | None:
    """The fixed clean-up of a vak config: the ``post_tfm_kwargs`` of ``[vak.learncurve]`` (the table
    learncurve evaluates each replicate with), else of ``[vak.eval]``; None when neither has them (a
    ``vak train`` config: vak's train table has no clean-up).  Errors name the file and the table.
    ``tables``: other tables to look in, in order (``vak-tcn report``: the training table alone).
    ``doc``: the config's TOML document when the caller has read it (the file is not read again)."""
    path = pathlib.Path(config_path)
    try:
        if doc is None:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: cannot read the config's post_tfm_kwargs: {e}") from e
    vak = doc.get("vak", {})
    for name in tables:
        table = vak.get(name) if isinstance(vak, dict) else None
        if isinstance(table, dict) and table.get("post_tfm_kwargs") is not None:
            return fixed_settings(table["post_tfm_kwargs"], f"{path}: [vak.{name}] post_tfm_kwargs")
    return None


def predict_cleanup(
    config_path: str | pathlib.Path, predict, mode: str, set_by: str, table: Mapping
) -> tuple[Settings, str]:
    """The clean-up to apply in ``mode`` and a line saying where it comes from (docs/postprocessing.md).

    ``predict`` is the parsed ``[vak.predict]`` table, ``table`` the same table as written (its keys say
    which clean-up keys the user wrote); ``config_path`` names the config in the line.

    ``auto``: ``postprocess.json`` beside the checkpoint (tuned after training, or by ``vak-tcn
    tune``) when there is one: exactly the setting chosen and scored on validation.  A clean-up key
    the user wrote in ``[vak.predict]`` (``majority_vote``, ``min_segment_dur``) still applies after
    it, as ``vak predict`` applies it after the model (:func:`~.rules.then`), and the line gives
    both settings' validation character error rates; keys left out add nothing (vak predict's own
    default, ``majority_vote = true``, is said in the line when it would change the tuned setting).
    Without the file: the config's (vak's defaults for keys it leaves out), as vak predict.
    ``tuned``: as ``auto``, an error without the file.  ``config``: the config's alone.  ``none``: none.
    """
    if mode == "none":
        return Settings(), f"none ({set_by})"
    explicit = [key for key in ("majority_vote", "min_segment_dur") if key in table]
    from_config = vak_settings(predict)
    config_source = (
        f"the config's ({', '.join(explicit)} in [vak.predict] of {config_path})" if explicit else "vak's defaults"
    )
    tuned = stored_settings(predict.checkpoint_path, mode, set_by)
    if tuned is None:
        if mode == "auto":
            return from_config, f"{config_source} (no {FILENAME} beside the checkpoint)"
        return from_config, f"{config_source} ({mode} mode, set by {set_by})"
    settings, path = tuned
    if not explicit:
        source = f"tuned ({path})"
        if then(settings, from_config) != settings:  # what stock vak predict adds to it
            source += (
                f"; stock vak predict would add its default {from_config.describe()}: set majority_vote = false in "
                "[vak.predict] for it to apply the tuned clean-up alone"
            )
        return settings, source
    applied = then(settings, vak_settings(predict))
    if applied == settings:
        return settings, f"tuned ({path}); {config_source} add nothing to it"

    def cer(s: Settings) -> str:
        value = stored_validation_cer(path, s)
        return "not scored" if value is None else f"{value:.4f}"

    return applied, (
        f"tuned ({path}), then {config_source}: validation character error rate {cer(applied)} against "
        f"{cer(settings)} for the tuned clean-up alone ({settings.describe()}); remove the key(s) or set "
        "majority_vote = false to apply it alone"
    )
