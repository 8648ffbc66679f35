"""Predictions of a trained model on its test split, for ``vak-tcn report RESULTS_DIR``.

The one place the report loads a model: once (``run.load()``, the checkpoint found as ``vak-tcn tune``
finds it), in this process.  ``vak-tcn annotate``'s machinery
(:func:`vak_tcn.inference.annotate.annotate_all`) runs its network once over the audio files of the
prepared dataset's test split, with no clean-up (raw, with probabilities); the cleaned version, with
the clean-up the run reports (its ``_tfm`` columns: the one tuned on validation data,
``postprocess.json`` beside the checkpoint, when there is one, else the config's ``post_tfm_kwargs``),
is derived from the raw frame labels (:func:`~vak_tcn.inference.segments.of_frame_labels`), each
annotation with its record as annotate writes them.  A predict config for stock ``vak predict`` is
written beside them (the same model and clean-up: :func:`vak_tcn.models.predict_config.predict_config`,
what ``vak-tcn predict-config`` writes).
"""

from __future__ import annotations

import pathlib

import numpy as np

from ..audio.annotations import write_annotation
from ..audio.read import find_audio
from ..inference import annotate, records, segments
from ..models import cleanup, predict_config
from ..models.trained import TrainedModel, TrainedRun
from ..plugins import vak_compat

__all__ = ["RAW", "CLEANED", "predict_split"]

RAW, CLEANED = "raw", "cleaned"


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
) -> tuple[pathlib.Path, dict, list[pathlib.Path]]:
    """Annotate the audio of ``run``'s ``split``: ``(dataset, {version: annotations folder}, the folders of
    its audio)``, raw first.  The model is loaded once and its network run once; the cleaned annotations
    are the raw frame labels cleaned.  The equivalent stock vak predict config is written to ``config_path`` (default
    ``out/predict.toml``).  Resumable as ``vak-tcn annotate`` is (a rerun skips what is done)."""
    model = run.load()  # the config, dataset, labelmap and standardizer, by the trained model's rules
    dataset, audio = model.dataset, split_audio(model, split)
    config = pathlib.Path(config_path or out / "predict.toml")
    text, applied = predict_config.predict_config(run, out, model=model, default_data_dir=audio[0].parent)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    folders = {RAW: out / RAW, CLEANED: out / CLEANED}
    # the report's own model: raw here; the cleaned version is made from its labels below
    model.cleanup, model.cleanup_source = cleanup.Settings(), "none (raw: the report cleans the raw labels)"
    echo(f"{run.checkpoint}: predicting the {split} split ({len(audio)} files), {RAW}")
    options = annotate.Options(probabilities=True)
    _, failed, _ = annotate.annotate_all(
        model, audio, out_dir=folders[RAW], options=options, echo=echo, overwrite=None
    )  # the report has no --overwrite
    if failed:
        raise ValueError(f"{failed} file(s) of the {split} split of {dataset} could not be annotated (see above)")
    echo(f"{run.checkpoint}: {CLEANED}: the raw labels with the clean-up {applied.describe()}")
    _clean(model, audio, folders[RAW], folders[CLEANED], applied, options, echo)
    return dataset, folders, sorted({a.parent for a in audio})


def _clean(
    model: TrainedModel,
    audio: list[pathlib.Path],
    raw: pathlib.Path,
    cleaned: pathlib.Path,
    settings: cleanup.Settings,
    options,
    echo,
) -> None:
    """Each recording's cleaned annotation in ``cleaned``: its raw frame labels (kept beside the raw
    probabilities) cleaned, with a record (what made the raw annotation, with this clean-up); skipped
    when its record vouches for it; a file no record vouches for is refused, as annotate refuses it."""
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
                raise records.foreign_refusal(details, cleaned, overwrite=None)
            with np.load(raw_outputs["probabilities"]) as npz:
                # the network's classes (its logits' argmax, as the raw annotation); an older file: the
                # probabilities' argmax, which differs only where their float32 softmax ties
                labels = npz["frame_labels"] if "frame_labels" in npz.files else npz["probabilities"].argmax(axis=0)
                times = npz["frame_times"]
            about = {"derived_from": str(raw_outputs["probabilities"])}
            records.write_record(record, outputs, made_with, "pending", about)
            found_segments = segments.of_frame_labels(model.labelmap, labels, times, settings)
            write_annotation(outputs["annotation"], "generic-seq", recording, *found_segments)
            records.write_record(record, outputs, made_with, "complete", about)
