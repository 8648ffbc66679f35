"""After training: the clean-up tuned on the validation split, the reference level for live use recorded.

One implementation, two callers, each saying what it did in its own words: the model family when
training ends (:meth:`FrameClassificationModel.on_fit_end
<vak_tcn.models.family.FrameClassificationModel.on_fit_end>`: predictions from vak's validation loader,
vak's log) and ``vak-tcn tune`` (:func:`vak_tcn.inference.tune.tune_run`: chunked inference over the
prepared validation split, the terminal).

* :func:`tune_and_write`: the clean-up tuned (:func:`~.cleanup.tune`) and ``postprocess.json`` written
  beside the checkpoint;
* :func:`record_reference`: ``reference_power.json`` beside the checkpoint
  (:func:`~.trained.training_reference`, :func:`~.trained.write_reference`);
* :func:`evaluated_checkpoint` and :func:`fixed_cleanup`: the checkpoint of a fit that vak evaluates,
  and the config's clean-up among the tuner's candidates, as the family finds them (``vak-tcn tune``
  finds both from the results directory: :func:`vak_tcn.models.trained.find_runs`,
  :func:`~.cleanup.config_fixed_settings`).
"""

from __future__ import annotations

import logging
import pathlib
import warnings
from collections.abc import Sequence

import numpy as np

from . import cleanup, results, trained

__all__ = ["evaluated_checkpoint", "fixed_cleanup", "record_reference", "tune_and_write"]

#: the family's messages go to vak's own logger, so they land in vak's log file too
vak_logger = logging.getLogger("vak").getChild("vak_tcn")


def tune_and_write(
    checkpoint: pathlib.Path,
    predictions: Sequence[np.ndarray],
    references: Sequence[np.ndarray],
    frame_durs: float | Sequence[float],
    *,
    background: int,
    fixed: cleanup.Settings | None,
    tuned_by: str,
    frame_dur: float | None,
    about: dict | None = None,
    settings: Sequence[cleanup.Settings] | None = None,
    rule: str = "one-se",
) -> tuple[cleanup.TuneResult, pathlib.Path]:
    """Tune the clean-up on the validation split's frame labels (:func:`~.cleanup.tune`: ``settings``, the
    default grid when None, with ``fixed``, the config's clean-up, among the candidates) and write
    ``postprocess.json`` atomically beside ``checkpoint``: the result, with the checkpoint's name,
    ``tuned_by``, ``about`` (what it was tuned on: config, dataset), the split, the number of files, the
    seconds of audio, ``frame_dur`` and the tuner's time.  The few-files warning is not issued: the
    caller says it, from ``TuneResult.warning``.  Returns the result and the file written."""
    with warnings.catch_warnings():  # the caller says it, with the result
        warnings.simplefilter("ignore", cleanup.TooFewFilesWarning)
        result = cleanup.tune(
            predictions, references, frame_durs, settings, background=background, fixed=fixed, rule=rule
        )
    extra = {
        "checkpoint": checkpoint.name,
        "tuned_by": tuned_by,
        **(about or {}),
        "split": "val",
        "n_files": result.n_files,
        "audio_s": round(result.audio_s, 3),
        "frame_dur": frame_dur,
        "tuner_seconds": round(result.seconds, 3),
    }
    return result, cleanup.write_settings(cleanup.settings_path(checkpoint), result, extra)


def record_reference(
    checkpoint: pathlib.Path,
    dataset: pathlib.Path,
    written_by: str,
    spect_params: trained.SpectParams | None = None,
    sources: list[str] | None = None,
) -> tuple[dict, pathlib.Path]:
    """The reference level for ``vak-tcn live`` of ``dataset``'s training files (``sources``: those audio
    files; :func:`~.trained.training_reference`), written beside ``checkpoint`` as ``reference_power.json``
    by ``written_by``.  Returns the document and the file; ValueError when the dataset has no audio level."""
    doc = trained.training_reference(dataset, spect_params, sources)
    return doc, trained.write_reference(checkpoint, doc, written_by)


def evaluated_checkpoint(trainer) -> pathlib.Path | None:
    """The checkpoint of a fit that vak evaluates (:func:`~.results.checkpoint_in` in the directories of
    the trainer's checkpoint callbacks)."""
    dirs = [pathlib.Path(cb.dirpath) for cb in trainer.checkpoint_callbacks if getattr(cb, "dirpath", None)]
    return next((c for c in map(results.checkpoint_in, dirs) if c is not None), None)


def fixed_cleanup(config_tfm, ckpt: pathlib.Path) -> cleanup.Settings | None:
    """The config's fixed clean-up of a fit, a candidate of the tuner: vak's post-processing of the model
    (``config_tfm``) if vak gave it one, else the ``post_tfm_kwargs`` of the config vak copied into the
    results (:func:`~.cleanup.config_fixed_settings`: ``[vak.learncurve]``, else ``[vak.eval]``).  vak's
    train and learncurve build the model without, so the config is where they are.  None, said in vak's
    log, without a config or with one whose clean-up is not one."""
    if config_tfm is not None and hasattr(config_tfm, "min_segment_dur"):
        return cleanup.vak_settings(config_tfm)
    run_dir = results.run_dir_of(ckpt)
    config = results.config_of(run_dir)
    if config is None:
        vak_logger.info(f"no config (*.toml) in {run_dir}: the config's clean-up is not among the candidates")
        return None
    try:
        return cleanup.config_fixed_settings(config)
    except ValueError as e:  # e.g. a [vak.eval] table vak train did not check
        vak_logger.warning(f"the config's clean-up is not among the candidates: {e}")
        return None
