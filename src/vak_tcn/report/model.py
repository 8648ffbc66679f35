"""Predictions of a trained model on its test split, for ``vak-tcn report RESULTS_DIR``.

The one place the report loads a model: once (``run.load()``, the checkpoint found as ``vak-tcn tune``
finds it), in this process.  ``vak-tcn annotate``'s machinery
(:func:`vak_tcn.inference.annotate.annotate_all`) runs its network once over the audio files of the
prepared dataset's test split, with no clean-up (raw, with probabilities); the cleaned version, with
the clean-up the run reports (its ``_tfm`` columns: the one tuned on validation data,
``postprocess.json`` beside the checkpoint, when there is one, else the config's ``post_tfm_kwargs``),
is derived from the raw frame labels (:func:`~vak_tcn.inference.segments.of_frame_labels`), each
annotation with its record as annotate writes them.  A predict config for stock ``vak predict`` is
written beside them (the same model and clean-up).
"""

from __future__ import annotations

import pathlib
import tomllib

import numpy as np

from ..audio.annotations import write_annotation
from ..audio.read import find_audio
from ..inference import annotate, records, segments
from ..models import cleanup, results
from ..models.trained import TrainedModel, TrainedRun, find_runs
from ..plugins import vak_compat

__all__ = ["RAW", "CLEANED", "choose_run", "predict_split"]

RAW, CLEANED = "raw", "cleaned"


def choose_run(results_dir: pathlib.Path, run: str | None, checkpoint: str | None) -> TrainedRun:
    """The trained model of ``results_dir`` (``--run``: a part of its path, for learncurve's many)."""
    return results.choose(find_runs(results_dir, checkpoint), results_dir, run)


def _prep_table(prep: dict | None, model: TrainedModel, audio: list[pathlib.Path], out: pathlib.Path) -> dict:
    """``[vak.prep]`` of the predict config: the training config's, its spectrogram parameters the ones the
    dataset was prepared with (the model's), and the keys vak requires filled in when that config has
    none (a learncurve or train config of a dataset prepared by another config has no ``[vak.prep]``)."""
    prep = dict(prep or {})
    params = model.spect_params  # the dataset's (else the config's): these alone shape the spectrogram
    shaping = ("fft_size", "step_size", "thresh", "transform_type", "freq_cutoffs")
    spect = {k: v for k, v in (prep.get("spect_params") or {}).items() if k not in shaping}
    spect.update({"fft_size": params.fft_size, "step_size": params.step_size})
    for key, value in (("thresh", params.thresh), ("transform_type", params.transform_type)):
        if value is not None:
            spect[key] = value
    if params.freq_cutoffs is not None:
        spect["freq_cutoffs"] = list(params.freq_cutoffs)
    prep["spect_params"] = spect
    prep.setdefault("data_dir", str(audio[0].parent))
    prep.setdefault("output_dir", str(out))
    prep.setdefault("dataset_type", "frame classification")
    prep.setdefault("input_type", model.input_type or "spect")
    audio_format = vak_compat.dataset_metadata(model.dataset).get("audio_format")
    if audio_format:
        prep.setdefault("audio_format", audio_format)
    return prep


def _predict_config(
    run: TrainedRun, model: TrainedModel, audio: list[pathlib.Path], out: pathlib.Path
) -> tuple[str, cleanup.Settings]:
    """A vak predict config (TOML text) for ``run``'s checkpoint, written from its training config (the
    labelmap and standardizer are the ones the trained model, ``run.load()``, takes), and the clean-up it
    applies: the tuned one alone, else the config's ``post_tfm_kwargs``."""
    import tomlkit

    with open(run.config, "rb") as fh:
        tables = tomllib.load(fh).get("vak", {})
    command = "train" if "train" in tables else "learncurve"
    train = tables.get(command)
    if train is None:
        raise ValueError(f"{run.config}: no [vak.train] or [vak.learncurve] table")
    predict = {
        "checkpoint_path": str(run.checkpoint),
        "labelmap_path": str(model.labelmap_path),
        "output_dir": str(out),
        "batch_size": int(train.get("batch_size", 1)),
        "model": train["model"],
        "dataset": {"params": train.get("dataset", {}).get("params", {})},
    }
    if model.standardizer_path is not None:
        predict["frames_standardizer_path"] = str(model.standardizer_path)
    if "trainer" in train:
        predict["trainer"] = train["trainer"]
    stored = cleanup.settings_path(run.checkpoint)
    if stored.is_file():  # the tuned clean-up alone, as _tfm reports it
        predict["majority_vote"] = False
        applied = cleanup.read_settings(stored)
    else:  # the config's (its training table's post_tfm_kwargs), as vak's _tfm columns
        applied = cleanup.config_fixed_settings(run.config, (command,), doc={"vak": tables}) or cleanup.Settings()
        predict["majority_vote"] = applied.majority_vote
        if applied.min_segment_dur:
            predict["min_segment_dur"] = applied.min_segment_dur
    prep = _prep_table(tables.get("prep"), model, audio, out)
    return tomlkit.dumps({"vak": {"prep": prep, "predict": predict}}), applied


def split_audio(model: TrainedModel, split: str) -> list[pathlib.Path]:
    """The audio files of ``split`` of the prepared dataset ``model`` was trained on."""
    dataset = model.dataset
    audio = [pathlib.Path(source) for _, source in vak_compat.prepared_split_sources(dataset, split)]
    if not audio:
        raise ValueError(f"dataset {dataset} (of {model.checkpoint}) has no '{split}' split (see --split)")
    missing = [a for a in audio if not a.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: audio file of the '{split}' split of {dataset} not found")
    return audio


def predict_split(
    run: TrainedRun, split: str, out: pathlib.Path, echo=print, config_path: pathlib.Path | None = None
) -> tuple[pathlib.Path, dict]:
    """Annotate the audio of ``run``'s ``split``: ``(dataset, {version: annotations folder})``, raw first.
    The model is loaded once and its network run once; the cleaned annotations are the raw frame labels
    cleaned.  The equivalent stock vak predict config is written to ``config_path`` (default
    ``out/predict.toml``).  Resumable as ``vak-tcn annotate`` is (a rerun skips what is done)."""
    model = run.load()  # the config, dataset, labelmap and standardizer, by the trained model's rules
    dataset, audio = model.dataset, split_audio(model, split)
    config = pathlib.Path(config_path or out / "predict.toml")
    text, applied = _predict_config(run, model, audio, out)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    folders = {RAW: out / RAW, CLEANED: out / CLEANED}
    # the report's own model: raw here; the cleaned version is made from its labels below
    model.cleanup, model.cleanup_source = cleanup.Settings(), "none (raw: the report cleans the raw labels)"
    echo(f"{run.checkpoint}: predicting the {split} split ({len(audio)} files), {RAW}")
    options = annotate.Options(probabilities=True)
    _, failed, _ = annotate.annotate_all(model, audio, out_dir=folders[RAW], options=options, echo=echo)
    if failed:
        raise ValueError(f"{failed} file(s) of the {split} split of {dataset} could not be annotated (see above)")
    echo(f"{run.checkpoint}: {CLEANED}: the raw labels with the clean-up {applied.describe()}")
    _clean(model, audio, folders[RAW], folders[CLEANED], applied, options, echo)
    return dataset, folders


def _clean(
    model: TrainedModel,
    audio: list[pathlib.Path],
    raw: pathlib.Path,
    cleaned: pathlib.Path,
    settings: cleanup.Settings,
    options,
    echo,
) -> None:
    """Each recording's cleaned annotation in ``cleaned``: the argmax of its raw probabilities, cleaned,
    with a record (what made the raw annotation, with this clean-up); skipped when its record vouches
    for it; a file no record vouches for is refused, as annotate refuses it."""
    found = find_audio(audio)
    planned_raw = records.plan_outputs(found, raw, options)
    planned = records.plan_outputs(found, cleaned, annotate.Options())
    with records.output_lock(cleaned, echo):
        for (recording, raw_outputs, raw_record), (_, outputs, record) in zip(planned_raw, planned):
            entry = records.read_record(raw_record).get(raw_outputs["probabilities"].name) or {}
            made_with = {**entry.get("made_with", {}), "clean_up": settings.asdict()}
            state, details = records.resume_state(outputs, record, made_with)
            if state == "done":
                continue
            if state == "foreign":
                raise ValueError(
                    f"{details[0]} was not written by vak-tcn annotate or was changed since (no "
                    f"{records.RECORD_SUFFIX} record vouches for it): not overwritten; move it away or choose another --out"
                )
            with np.load(raw_outputs["probabilities"]) as npz:
                labels = npz["probabilities"].argmax(axis=0)
                times = npz["frame_times"]
            about = {"derived_from": str(raw_outputs["probabilities"])}
            records.write_record(record, outputs, made_with, "pending", about)
            found_segments = segments.of_frame_labels(model.labelmap, labels, times, settings)
            write_annotation(outputs["annotation"], "generic-seq", recording, *found_segments)
            records.write_record(record, outputs, made_with, "complete", about)
