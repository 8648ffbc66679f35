"""A trained model named by its results directory: the run chosen, its model with the clean-up of the
stock vak predict config it is equivalent to, and that config written.

``vak-tcn annotate``, ``live`` and ``report`` take a ``vak train``/``vak learncurve`` results directory
where they take a predict config; ``vak-tcn predict-config RESULTS_DIR`` writes the config.  One rule,
here, for all four:

* the run (:func:`choose_run`): the only trained model of the directory, or the one ``--run`` names (a
  part of its path, for learncurve's replicates); its checkpoint by :func:`~.results.checkpoint_in`
  (``--checkpoint NAME``, else vak learncurve's rule), said in one line (:func:`checkpoint_line`);
* the config (:func:`predict_config`): the training config's model table, batch size, trainer and
  dataset parameters, the labelmap and frames standardizer vak saved in the run, the spectrogram
  parameters the dataset was prepared with, and the clean-up the run reports: the tuned one
  (``postprocess.json`` beside the checkpoint) alone (``majority_vote = false``), else the training
  table's ``post_tfm_kwargs``;
* the model (:func:`load_run`): :meth:`TrainedModel.from_run <.trained.TrainedModel.from_run>`, its
  clean-up what that config gives in the mode asked for (:func:`~.cleanup.predict_cleanup`, the rule of
  ``vak-tcn annotate CONFIG``), so that ``annotate RESULTS_DIR`` and ``annotate`` of the written config
  write the same annotations.
"""

from __future__ import annotations

import pathlib
import tomllib
import types

from . import cleanup, results
from .trained import TrainedModel, TrainedRun, find_runs

__all__ = [
    "CHECKPOINT_RULE",
    "checkpoint_line",
    "choose_run",
    "load_run",
    "predict_config",
    "predict_tables",
    "results_model",
]

#: how the checkpoint of a run is chosen (:func:`~.results.checkpoint_in`), said once
CHECKPOINT_RULE = (
    "--checkpoint NAME, else the one max-val-acc checkpoint, else the only .pt file, else checkpoint.pt: "
    "vak learncurve's rule"
)


def choose_run(results_dir: pathlib.Path, run: str | None = None, checkpoint: str | None = None) -> TrainedRun:
    """The trained model of ``results_dir`` (``run``: a part of its path, for learncurve's many;
    ``checkpoint``: the checkpoint's file name).  One-line errors: FileNotFoundError without one,
    ValueError naming them all when several match or none does."""
    return results.choose(find_runs(results_dir, checkpoint), results_dir, run)


def checkpoint_line(run: TrainedRun, checkpoint: str | None = None) -> str:
    """One line: the checkpoint used, and why (the rule said once)."""
    name = run.checkpoint.name
    if checkpoint:
        why = "--checkpoint"
    elif "max-val-acc" in name:
        why = "the max-val-acc checkpoint"
    elif len(list(run.checkpoint.parent.glob("*.pt"))) == 1:
        why = "the only checkpoint"
    else:
        why = "the last checkpoint"
    return f"checkpoint: {run.checkpoint} ({why}; rule: {CHECKPOINT_RULE})"


def _training(run: TrainedRun) -> tuple[dict, str, dict]:
    """The config vak copied into the results (its ``vak`` tables), its training command and table."""
    with open(run.config, "rb") as fh:
        tables = tomllib.load(fh).get("vak", {})
    command = "train" if "train" in tables else "learncurve"
    train = tables.get(command)
    if not isinstance(train, dict):
        raise ValueError(f"{run.config}: no [vak.train] or [vak.learncurve] table")
    return tables, command, train


def _clean_up(run: TrainedRun, tables: dict, command: str, predict: dict) -> cleanup.Settings:
    """The clean-up the run reports, written into ``predict``: the tuned one alone, else the config's
    (its training table's ``post_tfm_kwargs``, as vak's ``_tfm`` columns)."""
    stored = cleanup.settings_path(run.checkpoint)
    if stored.is_file():
        predict["majority_vote"] = False
        return cleanup.read_settings(stored)
    applied = cleanup.config_fixed_settings(run.config, (command,), doc={"vak": tables}) or cleanup.Settings()
    predict["majority_vote"] = applied.majority_vote
    if applied.min_segment_dur:
        predict["min_segment_dur"] = applied.min_segment_dur
    return applied


def _prep_table(
    prep: dict | None, model: TrainedModel, output_dir: pathlib.Path, data_dir: pathlib.Path | None, default_data_dir
) -> dict:
    """``[vak.prep]`` of the predict config: the training config's, its spectrogram parameters the ones the
    dataset was prepared with (the model's), and the keys vak requires filled in when that config has
    none (a learncurve or train config of a dataset prepared by another config has no ``[vak.prep]``)."""
    from ..plugins import vak_compat

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
    if data_dir is not None:
        prep["data_dir"] = str(data_dir)
    prep.setdefault("data_dir", str(default_data_dir if default_data_dir is not None else output_dir))
    prep.setdefault("output_dir", str(output_dir))
    prep.setdefault("dataset_type", "frame classification")
    prep.setdefault("input_type", model.input_type or "spect")
    audio_format = vak_compat.dataset_metadata(model.dataset).get("audio_format") if model.dataset else None
    if audio_format:
        prep.setdefault("audio_format", audio_format)
    return prep


def predict_tables(
    run: TrainedRun,
    output_dir: pathlib.Path,
    model: TrainedModel | None = None,
    data_dir: pathlib.Path | None = None,
    default_data_dir: pathlib.Path | None = None,
) -> tuple[dict, cleanup.Settings]:
    """The equivalent stock vak predict config of ``run`` as tables (``{"vak": {"prep", "predict"}}``),
    and the clean-up it applies (see the module docs).  ``model``: ``run.load()`` when the caller has
    it.  ``output_dir``: ``[vak.predict] output_dir`` (and ``[vak.prep]``'s when the training config has
    none); ``data_dir``: ``[vak.prep] data_dir``, the recordings ``vak prep`` reads (default: the training
    config's, else ``default_data_dir``, else ``output_dir``)."""
    model = model if model is not None else run.load()
    tables, command, train = _training(run)
    predict = {
        "checkpoint_path": str(run.checkpoint),
        "labelmap_path": str(model.labelmap_path),
        "output_dir": str(output_dir),
        "batch_size": int(train.get("batch_size", 1)),
        "model": train["model"],
        "dataset": {"params": train.get("dataset", {}).get("params", {})},
    }
    if model.standardizer_path is not None:
        predict["frames_standardizer_path"] = str(model.standardizer_path)
    if "trainer" in train:
        predict["trainer"] = train["trainer"]
    applied = _clean_up(run, tables, command, predict)
    prep = _prep_table(tables.get("prep"), model, pathlib.Path(output_dir), data_dir, default_data_dir)
    return {"vak": {"prep": prep, "predict": predict}}, applied


def predict_config(run: TrainedRun, output_dir: pathlib.Path, **kwargs) -> tuple[str, cleanup.Settings]:
    """:func:`predict_tables` as the TOML text of the config, and the clean-up it applies."""
    import tomlkit

    doc, applied = predict_tables(run, output_dir, **kwargs)
    return tomlkit.dumps(doc), applied


def load_run(run: TrainedRun, request: cleanup.Request | None = None) -> TrainedModel:
    """The model of ``run`` with the clean-up its predict config gives in the mode ``request`` asks for
    (None: none), as ``vak-tcn annotate`` of that config applies it."""
    model = run.load()
    if request is None:
        model.cleanup, model.cleanup_source = cleanup.Settings(), "none (not asked for)"
        return model
    tables, command, _ = _training(run)
    written: dict = {}
    _clean_up(run, tables, command, written)
    parsed = types.SimpleNamespace(  # as vak's parser reads [vak.predict]: min_segment_dur None when left out
        checkpoint_path=str(run.checkpoint),
        majority_vote=written["majority_vote"],
        min_segment_dur=written.get("min_segment_dur"),
    )
    mode, set_by = cleanup.resolve_mode(request, model.model_config.get("network"))
    where = f"the predict config of {run.checkpoint} (`vak-tcn predict-config`)"
    model.cleanup, model.cleanup_source = cleanup.predict_cleanup(where, parsed, mode, set_by, written)
    return model


def results_model(
    source: pathlib.Path, run: str | None, checkpoint: str | None, request: cleanup.Request | None, say
) -> TrainedModel | None:
    """The model of ``source`` when it is a results directory (:func:`choose_run` with ``run`` and
    ``checkpoint``, :func:`load_run` with ``request``; :func:`checkpoint_line` said with ``say``), else None:
    ``source`` is a predict config, and ``--run``/``--checkpoint`` are refused in one line."""
    source = pathlib.Path(source)
    if not source.is_dir():
        for option, value in (("--run", run), ("--checkpoint", checkpoint)):
            if value is not None:
                raise ValueError(f"{option} chooses a trained model of a results directory; {source} is not one")
        return None
    chosen = choose_run(source, run, checkpoint)
    say(checkpoint_line(chosen, checkpoint))
    return load_run(chosen, request)
