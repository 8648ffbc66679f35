"""Write stock vak 1.x TOML configs for vak-tcn's models (and vak's own).

One function, :func:`vak_config`, builds a config with a ``[vak.prep]`` table
and one command table (``train``, ``learncurve``, ``eval`` or ``predict``) from
keyword arguments, with the model's ``network``, ``optimizer``, ``loss`` and
``metrics`` tables under ``[vak.<command>.model.<NAME>]``.  The result is a
:class:`tomlkit.TOMLDocument` (comments and order kept), written with
:func:`write_config`.  The experiment grid, the demo and the tests all use it,
so every config vak-tcn writes comes from one template.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

import tomlkit

from .._atomic import write_text

COMMANDS = ("train", "learncurve", "eval", "predict")

#: spectrogram settings for 32 kHz song (2 ms frames, ~150 bins in 500 Hz-10 kHz)
DEFAULT_SPECT_PARAMS = {
    "fft_size": 512,
    "step_size": 64,
    "freq_cutoffs": [500, 10000],
    "transform_type": "log_spect",
}

#: keys of each command table that this template writes (a subset of vak's valid keys)
_COMMON_KEYS = {"batch_size", "num_workers", "frames_standardizer_path"}
_TRAINING_KEYS = {"root_results_dir", "num_epochs", "standardize_frames", "val_step", "ckpt_step", "patience"}
_COMMAND_KEYS = {
    "train": _COMMON_KEYS | _TRAINING_KEYS | {"checkpoint_path"},
    "learncurve": _COMMON_KEYS | _TRAINING_KEYS | {"post_tfm_kwargs"},
    "eval": _COMMON_KEYS | {"checkpoint_path", "labelmap_path", "output_dir", "post_tfm_kwargs"},
    "predict": _COMMON_KEYS
    | {"checkpoint_path", "labelmap_path", "output_dir", "annot_csv_filename", "majority_vote", "min_segment_dur"},
}

#: the SfN 2023 poster's post-processing
DEFAULT_POST_TFM = {"majority_vote": True, "min_segment_dur": 0.01}


def _table(values: Mapping[str, Any]) -> tomlkit.items.Table:
    table = tomlkit.table()
    for key, val in values.items():
        table[key] = val
    return table


def vak_config(
    *,
    command: str,
    model: str,
    data_dir: str | pathlib.Path,
    prep_output_dir: str | pathlib.Path,
    labelset: str,
    annot_format: str = "simple-seq",
    audio_format: str = "wav",
    results_dir: str | pathlib.Path | None = None,
    train_dur: float | None = None,
    val_dur: float | None = None,
    test_dur: float | None = None,
    train_set_durs: list[float] | None = None,
    num_replicates: int | None = None,
    spect_params: Mapping[str, Any] | None = None,
    window_size: int = 176,
    batch_size: int = 8,
    num_epochs: int = 1,
    val_step: int | None = None,
    ckpt_step: int | None = None,
    patience: int | None = 4,
    num_workers: int = 0,
    standardize_frames: bool = True,
    post_tfm_kwargs: Mapping[str, Any] | None = DEFAULT_POST_TFM,
    network: Mapping[str, Any] | None = None,
    optimizer: Mapping[str, Any] | None = None,
    loss: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    checkpoint_path: str | pathlib.Path | None = None,
    labelmap_path: str | pathlib.Path | None = None,
    frames_standardizer_path: str | pathlib.Path | None = None,
    output_dir: str | pathlib.Path | None = None,
    annot_csv_filename: str | None = None,
    dataset_path: str | pathlib.Path | None = None,
    accelerator: str = "cpu",
    devices: int = 1,
    header: str | None = None,
) -> tomlkit.TOMLDocument:
    """Build a stock vak config (``[vak.prep]`` + one command table).

    Arguments left as ``None`` are left out of the file, so vak's own
    defaults apply.  ``dataset_path`` may be given to reuse a prepared dataset
    (vak prep writes it into the config otherwise).
    """
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {COMMANDS}, got {command!r}")
    doc = tomlkit.document()
    if header:
        for line in header.strip().splitlines():
            doc.add(tomlkit.comment(line))
    prep = {
        "data_dir": str(data_dir),
        "output_dir": str(prep_output_dir),
        "dataset_type": "frame classification",
        "input_type": "spect",
        "audio_format": audio_format,
        "annot_format": annot_format,
        "labelset": labelset,
        "train_dur": train_dur,
        "val_dur": val_dur,
        "test_dur": test_dur,
        "train_set_durs": train_set_durs,
        "num_replicates": num_replicates,
    }
    prep_table = _table({k: v for k, v in prep.items() if v is not None})
    prep_table["spect_params"] = _table(dict(spect_params or DEFAULT_SPECT_PARAMS))
    vak_table = tomlkit.table(is_super_table=True)
    vak_table["prep"] = prep_table

    cmd = {
        "root_results_dir": str(results_dir) if results_dir is not None else None,
        "checkpoint_path": str(checkpoint_path) if checkpoint_path is not None else None,
        "labelmap_path": str(labelmap_path) if labelmap_path is not None else None,
        "frames_standardizer_path": str(frames_standardizer_path) if frames_standardizer_path is not None else None,
        "output_dir": str(output_dir) if output_dir is not None else None,
        "annot_csv_filename": annot_csv_filename,
        "batch_size": batch_size,
        "num_workers": num_workers,
    }
    if command in ("train", "learncurve"):
        cmd.update(
            num_epochs=num_epochs,
            standardize_frames=standardize_frames,
            val_step=val_step,
            ckpt_step=ckpt_step,
            patience=patience,
        )
    if command in ("eval", "learncurve") and post_tfm_kwargs:
        cmd["post_tfm_kwargs"] = dict(post_tfm_kwargs)
    if command == "predict" and post_tfm_kwargs:
        cmd.update(
            majority_vote=bool(post_tfm_kwargs.get("majority_vote", False)),
            min_segment_dur=post_tfm_kwargs.get("min_segment_dur"),
        )
    given = {k: v for k, v in cmd.items() if v is not None}
    misplaced = sorted(set(given) - _COMMAND_KEYS[command])
    if misplaced:
        raise ValueError(
            f"vak's [vak.{command}] table has no key(s) {misplaced}; valid: {sorted(_COMMAND_KEYS[command])}"
        )
    cmd_table = _table(given)
    dataset = {"params": {"window_size": window_size}}
    if dataset_path is not None:
        dataset["path"] = str(dataset_path)
    cmd_table["dataset"] = _table(dataset)
    model_table = tomlkit.table(is_super_table=True)
    for name, values in (("network", network), ("optimizer", optimizer), ("loss", loss), ("metrics", metrics)):
        if values:
            model_table[name] = _table(dict(values))
    models_table = tomlkit.table(is_super_table=True)
    models_table[model] = model_table if len(model_table) else tomlkit.table()
    cmd_table["model"] = models_table
    cmd_table["trainer"] = _table({"accelerator": accelerator, "devices": devices})
    vak_table[command] = cmd_table
    doc["vak"] = vak_table
    return doc


#: directories vak requires to exist before it runs
_OUTPUT_DIR_KEYS = ("output_dir", "root_results_dir")


def make_output_dirs(doc: tomlkit.TOMLDocument) -> None:
    """Create the output directories a config names, which vak requires to exist."""
    for table in doc.get("vak", {}).values():
        for key in _OUTPUT_DIR_KEYS:
            if key in table:
                pathlib.Path(str(table[key])).mkdir(parents=True, exist_ok=True)


def write_config(doc: tomlkit.TOMLDocument, path: str | pathlib.Path, make_dirs: bool = True) -> pathlib.Path:
    """Write a config to ``path`` (creating its parent); with ``make_dirs``, also the output
    directories vak expects (:func:`make_output_dirs`)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if make_dirs:
        make_output_dirs(doc)
    write_text(path, tomlkit.dumps(doc))  # atomic: a reader never sees half a config
    return path


def dataset_path(config_path: str | pathlib.Path) -> pathlib.Path | None:
    """The prepared dataset's path that ``vak prep`` wrote into a config, if any."""
    doc = tomlkit.parse(pathlib.Path(config_path).read_text())
    for command in COMMANDS:
        table = doc.get("vak", {}).get(command)
        if table is not None and "path" in table.get("dataset", {}):
            return pathlib.Path(str(table["dataset"]["path"]))
    return None
