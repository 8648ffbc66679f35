"""vak's files, read without vak: the readers ``vak-tcn annotate`` needs to run a trained model.

Importing vak takes 7-8 s (lightning, torchmetrics); a command that only runs a trained model needs a
predict config's values, the saved standardizer, vak's band-pass filter and its cbin reader, not
vak's training stack.  The readers here know vak's file formats and config layout and import nothing
of vak (nor branch on its version: vak 1.0 and 1.1 write the same files):

* :func:`read_predict_config` (:class:`PredictConfig`, :class:`ModelTable`): a predict config, when
  it is one these readers are sure vak accepts, with vak's defaults; from its path or from the TOML
  document a caller already read;
* :func:`read_frames_standardizer` (:class:`SavedFramesStandardizer`): a saved ``FramesStandardizer``;
* :func:`bandpass_coefficients`: vak's band-pass filter; :func:`read_cbin`: a ``.cbin`` recording.

Each is compared with vak's own in tests/inference/test_lean_start.py.  What needs vak itself (its
parser, with its checks and errors, its factory, its registries) is in :mod:`.vak_compat`, which
imports this module, never the other way.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pathlib

__all__ = [
    "ModelTable",
    "PredictConfig",
    "SavedFramesStandardizer",
    "bandpass_coefficients",
    "read_cbin",
    "read_frames_standardizer",
    "read_predict_config",
    "read_training_config",
]


def bandpass_coefficients(lowcut: float, highcut: float, samplerate: int) -> tuple:
    """vak's band-pass (``vak.prep.spectrogram_dataset.spect.butter_bandpass``: a 5th-order
    Butterworth, cut-offs over the Nyquist frequency), computed here with scipy: ``(b, a)``, the same
    numbers as vak's."""
    from scipy.signal import butter

    nyq = 0.5 * samplerate
    return butter(5, [lowcut / nyq, highcut / nyq], btype="band")


def read_cbin(path):
    """``(samples, samplerate)`` of a ``.cbin`` file with the reader vak uses (evfuncs)."""
    from evfuncs import load_cbin

    return load_cbin(path)


class SavedFramesStandardizer:
    """A ``FramesStandardizer`` that vak saved (``joblib.dump``), read without vak
    (:func:`read_frames_standardizer`): the same attributes, and vak's ``__call__``
    (``vak.transforms.functional.standardize_spect``: the same operations, the same floats)."""

    mean_freqs = std_freqs = non_zero_std = None

    def __call__(self, spect):
        import numpy as np

        if not isinstance(spect, np.ndarray):
            raise TypeError(f"type of spect must be numpy.ndarray but was: {type(spect)}")
        if spect.shape[0] != self.mean_freqs.shape[0]:
            raise ValueError(
                f"number of rows in spects, {spect.shape[0]}, does not match number of elements in "
                f"self.mean_freqs, {self.mean_freqs.shape[0]}"
            )
        tfm = spect - self.mean_freqs[:, np.newaxis]
        tfm[self.non_zero_std, :] = tfm[self.non_zero_std, :] / self.std_freqs[self.non_zero_std, np.newaxis]
        return tfm


#: what a saved FramesStandardizer's pickle may name: vak's class (read as SavedFramesStandardizer)
#: and the NumPy and joblib machinery that stores its arrays
_STANDARDIZER_CLASS = ("vak.transforms.transforms", "FramesStandardizer")
_STANDARDIZER_MODULES = ("numpy", "joblib", "builtins", "copyreg", "_codecs")


def read_frames_standardizer(path) -> SavedFramesStandardizer | None:
    """vak's saved ``FramesStandardizer`` (the file ``vak train`` writes), read without importing vak.

    vak saves it with ``joblib.dump`` (uncompressed): a pickle of its class with three NumPy arrays
    in joblib's format.  Read with joblib's own unpickler, vak's class taken for
    :class:`SavedFramesStandardizer` (and nothing but NumPy's and joblib's classes allowed beside it).
    None when the file is not that (compressed, another class, another joblib): read it with
    :func:`vak_compat.load_frames_standardizer <.vak_compat.load_frames_standardizer>`, which imports vak
    and says what is wrong.
    """
    import pickle

    try:
        from joblib.numpy_pickle import NumpyUnpickler
    except ImportError:  # pragma: no cover - joblib is vak's dependency
        return None

    class Unpickler(NumpyUnpickler):
        def find_class(self, module, name):
            if (module, name) == _STANDARDIZER_CLASS:
                return SavedFramesStandardizer
            if module.split(".")[0] not in _STANDARDIZER_MODULES:
                raise pickle.UnpicklingError(f"{module}.{name} in a FramesStandardizer file")
            return super().find_class(module, name)

    try:
        with open(path, "rb") as fh:
            if fh.read(1) != b"\x80":  # compressed, or not a pickle of protocol >= 2
                return None
            fh.seek(0)
            standardizer = Unpickler(str(path), fh, ensure_native_byte_order=True).load()
    except Exception:
        return None
    if not isinstance(standardizer, SavedFramesStandardizer) or standardizer.mean_freqs is None:
        return None
    return standardizer


@dataclasses.dataclass(frozen=True)
class ModelTable:
    """``[vak.predict.model.NAME]`` as vak's ``ModelConfig`` holds it."""

    name: str
    network: dict
    optimizer: dict
    loss: dict
    metrics: dict

    def asdict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """The values of a vak predict config, as vak's parser gives them (:func:`read_predict_config`):
    ``prep.spect_params`` (a dict of the keys given), and ``predict`` with the attributes of vak's
    ``PredictConfig`` (``model``, ``dataset.params``, ``trainer.accelerator``, ...)."""

    prep: object | None
    predict: object


#: vak's tables and their keys (``vak.config``: the same in vak 1.0 and 1.1)
_PREDICT_KEYS = {
    "checkpoint_path", "labelmap_path", "model", "batch_size", "dataset", "trainer", "frames_standardizer_path",
    "num_workers", "annot_csv_filename", "output_dir", "min_segment_dur", "majority_vote", "save_net_outputs",
}  # fmt: skip
_PREDICT_REQUIRED = ("checkpoint_path", "labelmap_path", "model", "batch_size", "dataset", "trainer")
_MODEL_TABLES = ("network", "optimizer", "loss", "metrics")
_DATASET_KEYS = {"path", "splits_path", "name", "params"}
_TRAINER_KEYS = {"accelerator", "devices"}
_PREP_KEYS = {
    "data_dir", "output_dir", "dataset_type", "input_type", "audio_format", "spect_format", "spect_params",
    "annot_file", "annot_format", "labelset", "audio_dask_bag_kwargs", "train_dur", "val_dur", "test_dur",
    "train_set_durs", "num_replicates",
}  # fmt: skip
_PREP_REQUIRED = ("data_dir", "output_dir", "dataset_type", "input_type")
_SPECT_PARAMS_KEYS = {
    "fft_size", "step_size", "freq_cutoffs", "thresh", "transform_type", "spect_key", "freqbins_key",
    "timebins_key", "audio_path_key",
}  # fmt: skip
_TRANSFORM_TYPES = ("log_spect", "log_spect_plus_one")
_ACCELERATORS = ("cpu", "gpu", "tpu", "ipu")


class _NotSure(Exception):
    """The config is not one :func:`read_predict_config` is sure vak accepts as it reads it."""


def _is(value, *types) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def _check(condition: bool) -> None:
    if not condition:
        raise _NotSure


def _trainer(table: dict):
    """``[vak.predict.trainer]`` with vak's default accelerator and devices (``TrainerConfig``)."""
    import types

    _check(isinstance(table, dict) and set(table) <= _TRAINER_KEYS)
    accelerator = table.get("accelerator")
    if accelerator is None:  # vak's default: a GPU when torch sees one
        import torch

        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    _check(accelerator in _ACCELERATORS)
    devices = table.get("devices")
    if devices is not None:
        _check(_is(devices, int) or (isinstance(devices, list) and all(_is(d, int) for d in devices)))
    if accelerator == "cpu":
        devices = 1 if devices is None else devices
        _check(_is(devices, int) and devices >= 1)
    else:
        devices = [0] if devices is None else devices
        _check(devices == 1 or (isinstance(devices, list) and len(devices) == 1))
    return types.SimpleNamespace(accelerator=accelerator, devices=devices)


def _predict(table: dict, unprepped_ok: bool):
    import types

    _check(isinstance(table, dict) and set(table) <= _PREDICT_KEYS)
    _check(all(key in table for key in _PREDICT_REQUIRED))
    path = lambda value: pathlib.Path(value).expanduser()  # noqa: E731  (vak's expanded_user_path)
    for key in ("checkpoint_path", "labelmap_path", "frames_standardizer_path", "output_dir"):
        _check(key not in table or _is(table[key], str))
    model = _model_table(table["model"])
    dataset = table["dataset"]
    _check(isinstance(dataset, dict) and set(dataset) <= _DATASET_KEYS)
    _check("path" in dataset or unprepped_ok)
    _check(all(_is(dataset[key], str) for key in ("path", "splits_path", "name") if key in dataset))
    params = dataset.get("params", {})
    _check(params is None or isinstance(params, dict))
    _check(_is(table["batch_size"], int))
    _check(_is(table.get("num_workers", 2), int))
    _check(table.get("annot_csv_filename") is None or _is(table["annot_csv_filename"], str))
    _check(table.get("min_segment_dur") is None or _is(table["min_segment_dur"], float))
    _check(_is(table.get("majority_vote", True), bool) and _is(table.get("save_net_outputs", False), bool))
    standardizer = table.get("frames_standardizer_path")
    return types.SimpleNamespace(
        checkpoint_path=path(table["checkpoint_path"]),
        labelmap_path=path(table["labelmap_path"]),
        model=model,
        batch_size=table["batch_size"],
        dataset=types.SimpleNamespace(
            path=path(dataset.get("path", "")),
            splits_path=path(dataset["splits_path"]) if "splits_path" in dataset else None,
            name=dataset.get("name"),
            params=dict(params or {}),
        ),
        trainer=_trainer(table["trainer"]),
        frames_standardizer_path=None if standardizer is None else path(standardizer),
        num_workers=table.get("num_workers", 2),
        annot_csv_filename=table.get("annot_csv_filename"),
        output_dir=path(table.get("output_dir", os.getcwd())),
        min_segment_dur=table.get("min_segment_dur"),
        majority_vote=table.get("majority_vote", True),
        save_net_outputs=table.get("save_net_outputs", False),
    )


def _prep(table: dict):
    import types

    _check(isinstance(table, dict) and set(table) <= _PREP_KEYS)
    _check(all(key in table for key in _PREP_REQUIRED))
    spect = table.get("spect_params")
    if spect is not None:
        _check(isinstance(spect, dict) and set(spect) <= _SPECT_PARAMS_KEYS)
        _check(all(_is(spect[key], int) for key in ("fft_size", "step_size") if key in spect))
        _check(spect.get("thresh") is None or _is(spect["thresh"], int, float))
        _check(spect.get("transform_type") is None or spect["transform_type"] in _TRANSFORM_TYPES)
        cutoffs = spect.get("freq_cutoffs")
        if cutoffs is not None:
            _check(isinstance(cutoffs, list) and len(cutoffs) == 2 and all(_is(c, int, float) for c in cutoffs))
            _check(cutoffs[0] <= cutoffs[1])
        spect = dict(spect)
    return types.SimpleNamespace(spect_params=spect)


def read_predict_config(path, unprepped_ok: bool = False, toml: dict | None = None) -> PredictConfig | None:
    """A vak predict config's ``[vak.prep]`` and ``[vak.predict]`` as vak's parser reads them (vak's
    defaults for keys left out), parsed with ``tomllib``, without importing vak.

    Only for a config this reader is sure vak accepts: ``[vak.prep]`` and ``[vak.predict]`` tables
    alone, every key one of vak's (vak 1.0 and 1.1 have the same), each value of the type vak checks
    (``[vak.prep]``'s keys other than ``spect_params`` are ``vak prep``'s, not checked further).  Any
    other config gives None: read it with :func:`vak_compat.load_config <.vak_compat.load_config>`,
    vak's own parser, which says what is wrong (the errors are vak's).  The model's name is not
    checked against vak's registry either: the caller builds the model, through vak's factory if it
    is not one it knows.

    ``toml``: the file's TOML document as ``tomllib.load`` gives it (its top-level ``vak`` table
    included), when the caller has read it already: the file is not read again, and the document is
    not changed (``vak_compat.load_config`` takes the same document).
    """
    try:
        if toml is None:
            import tomllib

            with open(path, "rb") as fh:
                toml = tomllib.load(fh)
        _check(isinstance(toml, dict))
        tables = toml.get("vak")
        _check(isinstance(tables, dict) and "predict" in tables and set(tables) <= {"prep", "predict"})
        return PredictConfig(
            prep=_prep(tables["prep"]) if "prep" in tables else None,
            predict=_predict(tables["predict"], unprepped_ok),
        )
    except (_NotSure, OSError, ValueError, TypeError):  # tomllib.TOMLDecodeError is a ValueError
        return None


def _model_table(models) -> ModelTable:
    _check(isinstance(models, dict) and len(models) == 1)
    ((name, tables),) = models.items()
    _check(isinstance(tables, dict) and set(tables) <= set(_MODEL_TABLES))
    _check(all(isinstance(tables[key], dict) for key in tables))
    return ModelTable(name, **{key: copy.deepcopy(tables.get(key, {})) for key in _MODEL_TABLES})


def read_training_config(path, toml: dict | None = None):
    """The training table of a config vak copied into a results directory (``[vak.train]``, else
    ``[vak.learncurve]``), without importing vak: a namespace with ``command``, ``model`` (as vak's
    ``ModelConfig``: :class:`ModelTable`), ``dataset`` (``path``, ``params``), ``trainer`` (vak's
    defaults) and ``prep`` (``input_type``, ``spect_params``; None without a ``[vak.prep]`` table).

    vak has already accepted this config (it trained from it): only the keys read here are checked.
    None when the reader is not sure (read it with vak's parser). ``toml``: the document, when the caller
    has read the file already."""
    import types

    try:
        if toml is None:
            import tomllib

            with open(path, "rb") as fh:
                toml = tomllib.load(fh)
        tables = toml.get("vak") if isinstance(toml, dict) else None
        _check(isinstance(tables, dict))
        command = "train" if "train" in tables else "learncurve"
        table = tables.get(command)
        _check(isinstance(table, dict))
        dataset = table.get("dataset")
        _check(isinstance(dataset, dict) and _is(dataset.get("path"), str))
        params = dataset.get("params", {})
        _check(params is None or isinstance(params, dict))
        prep = tables.get("prep")
        _check(prep is None or isinstance(prep, dict))
        spect = None if prep is None else prep.get("spect_params")
        _check(spect is None or isinstance(spect, dict))
        return types.SimpleNamespace(
            command=command,
            model=_model_table(table.get("model")),
            dataset=types.SimpleNamespace(path=pathlib.Path(dataset["path"]).expanduser(), params=dict(params or {})),
            trainer=_trainer(table.get("trainer", {})),
            prep=None if prep is None else types.SimpleNamespace(
                input_type=prep.get("input_type", "spect"), spect_params=dict(spect or {})
            ),
        )  # fmt: skip
    except (_NotSure, OSError, ValueError, TypeError):
        return None
