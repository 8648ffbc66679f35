"""Everything that differs between the supported vak versions, in one place.

Supported: vak 1.0.x (Python 3.11) and vak 1.1.x (Python 3.12).  No other
module of vak-tcn may branch on vak's version; they ask this module instead.

Differences handled here:

* vak 1.1 added a boundary metric (``precision_recall_fscore_rval``) to its
  own TweetyNet definition; models registered through the plugin host get
  :func:`standard_metrics` on both versions, so eval CSVs have the same columns
  on 1.0 and 1.1.
* vak 1.1 puts ``frame_times`` in validation batches; vak 1.0 does not, so
  frame durations are read from the prepared dataset's metadata on both
  (:func:`dataset_frame_dur`).

Also here: every use of vak's internal API, so a change in vak is mended in one
place: the calls that write into vak's registries (:func:`register_family`,
:func:`register_model`), and what plugins need from vak's internals
(:func:`conv2d_tf`, :func:`read_annotations`, :data:`TIMEBINS_KEY`,
:func:`background_label`), and what :mod:`vak_tcn.inference` takes from vak (its config
parser, model factory, standardizer, spectrogram and frame-label functions, audio readers).
A prepared dataset (its ``metadata.json`` and CSV) is read here only (:func:`read_prepared_dataset`).

Importing this module does not import vak: each function imports what it uses (vak itself on
first use, 7-8 s with lightning and torchmetrics).  A few readers of vak's file formats need no vak
at all, for commands that only run a trained model (``vak-tcn annotate``): :func:`read_predict_config`
(a predict config, when it is one these readers are sure vak accepts, with vak's defaults),
:func:`read_frames_standardizer` (a saved ``FramesStandardizer``), :func:`bandpass_coefficients`
(vak's band-pass filter), :data:`BACKGROUND_LABEL` and :data:`AUDIO_FORMATS`; each is compared with
vak's own in tests/inference/test_lean_start.py.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import pathlib
import sys

SUPPORTED = ((1, 0), (1, 1))
#: vak's ``DEFAULT_BACKGROUND_LABEL`` in every supported version (tests/inference/test_lean_start.py
#: compares), known without importing vak
BACKGROUND_LABEL = "background"
#: the audio formats vak reads (the keys of its ``AUDIO_FORMAT_FUNC_MAP`` in every supported version;
#: compared in the same test): wav, flac and ogg through soundfile, cbin through evfuncs
AUDIO_FORMATS = ("cbin", "flac", "ogg", "wav")


@functools.cache
def _vak():
    """vak, imported on first use (7-8 s: lightning, torchmetrics), its version checked once.

    Importing this module does not import vak, so the code paths that only need vak's file
    formats (``vak-tcn annotate`` with a vak-tcn model: :func:`read_predict_config`,
    :func:`read_frames_standardizer`) never pay for it."""
    import vak
    import vak.models

    version = tuple(int(p) for p in vak.__version__.split(".")[:2])
    if version not in SUPPORTED:  # pragma: no cover - depends on the installation
        import warnings

        warnings.warn(
            f"vak-tcn supports vak 1.0.x and 1.1.x; found vak {vak.__version__}. Models may not work.",
            stacklevel=3,
        )
    return vak


def _registry():
    """vak's model registry."""
    from vak.models import registry

    _vak()
    return registry


def __getattr__(name: str):
    """vak's facts that used to be module attributes, computed (and vak imported) on first use:
    ``VAK_VERSION``, ``TIMEBINS_KEY`` (the key of frame times in frames files), ``vak``."""
    if name == "VAK_VERSION":
        return tuple(int(p) for p in _vak().__version__.split(".")[:2])
    if name == "TIMEBINS_KEY":
        _vak()
        from vak.common.constants import TIMEBINS_KEY

        return TIMEBINS_KEY
    if name == "vak":
        return _vak()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def base_family() -> type:
    """vak's frame classification family class."""
    return _vak().models.FrameClassificationModel


def standard_metrics() -> dict[str, type]:
    """The metrics vak's frame classification family computes by name."""
    return {
        "acc": _vak().metrics.Accuracy,
        "levenshtein": _vak().metrics.Levenshtein,
        "character_error_rate": _vak().metrics.CharacterErrorRate,
    }


def model_names() -> list[str]:
    """Names of all registered models, vak's and plugins'."""
    return list(_registry().MODEL_NAMES)


def register_family(family: type) -> None:
    """Make ``family`` a registered vak model family.

    vak keys its family registry by class name and dispatches commands on that
    name, so a family that vak must run as a frame classification model is
    named ``FrameClassificationModel`` like vak's own.  Such a family is stored
    under its qualified name, which vak never looks up.
    """
    families = _registry().MODEL_FAMILY_REGISTRY
    if family in families.values():
        return
    if family.__name__ not in families:
        _vak().models.model_family(family)
    else:
        families[f"{family.__module__}.{family.__qualname__}"] = family


def register_model(definition: type, family: type):
    """Register a model definition with vak under ``definition.__name__``.

    The model's factory rejects a config's metric tables that name no metric of the
    definition (vak itself ignores them, so a misspelt table silently meant defaults).
    """
    register_family(family)
    name = definition.__name__
    if name in _registry().MODEL_REGISTRY:
        raise ValueError(f"a model named '{name}' is already registered with vak; registered models: {model_names()}")
    factory = _vak().models.model(family=family)(definition)
    attributes_from_config = factory.attributes_from_config

    def checked_attributes_from_config(config: dict):
        check_metric_tables(name, definition, (config or {}).get("metrics"))
        return attributes_from_config(config)

    factory.attributes_from_config = checked_attributes_from_config  # vak builds every model through it
    return factory


def check_metric_tables(model: str, definition: type, tables) -> None:
    """Raise ValueError naming any metric table that ``definition`` has no metric for."""
    from .._params import reject_unknown

    reject_unknown(tables or {}, list(definition.metrics), f"metric table(s) for {model}", "metrics")


def model_attributes(name: str, tables: dict, num_freqbins: int = 257, num_classes: int = 3) -> tuple:
    """Build a registered model's network, loss, optimizer and metrics from a config's model tables,
    through the same factory vak uses at run time (with placeholder input and label sizes).

    For checking a config before the expensive steps: raises what ``vak train`` would raise.
    """
    from .._params import suggest

    if name not in _registry().MODEL_REGISTRY:
        raise ValueError(
            f"no model registered as {suggest(name, model_names())}; registered: {', '.join(model_names())}"
        )
    factory = _registry().MODEL_REGISTRY[name]
    check_metric_tables(name, factory.definition, tables.get("metrics"))
    config = {key: dict(tables.get(key) or {}) for key in ("network", "optimizer", "loss", "metrics")}
    network = factory.definition.network
    if isinstance(network, type):
        import inspect

        params = inspect.signature(network.__init__).parameters
        if "num_freqbins" in params and "num_input_channels" in params:
            config["network"].update(num_classes=num_classes, num_input_channels=1, num_freqbins=num_freqbins)
    return factory.attributes_from_config(config)


def dataset_metadata(dataset_dir: str | pathlib.Path) -> dict:
    """A prepared vak dataset's ``metadata.json`` (``dataset_csv_filename``, ``frame_dur``,
    ``input_type``, ``audio_format``, ...); FileNotFoundError if it is not one."""
    return json.loads((pathlib.Path(dataset_dir) / "metadata.json").read_text())


def dataset_csv_path(dataset_dir: str | pathlib.Path) -> pathlib.Path:
    """The CSV of a prepared vak dataset (one row per file: split, frames, labels, source)."""
    return pathlib.Path(dataset_dir) / dataset_metadata(dataset_dir)["dataset_csv_filename"]


def read_prepared_dataset(dataset_dir: str | pathlib.Path, split: str | None = None):
    """A prepared vak dataset's CSV as a DataFrame: every row, or one split's (the one reader)."""
    import pandas as pd

    df = pd.read_csv(dataset_csv_path(dataset_dir))
    return df if split is None else df[df["split"] == split]


@functools.lru_cache(maxsize=64)
def dataset_frame_dur(dataset_path: str) -> float | None:
    """Frame duration in seconds of a prepared vak dataset, from its metadata.json."""
    if not (pathlib.Path(dataset_path) / "metadata.json").exists():
        return None
    return float(dataset_metadata(dataset_path)["frame_dur"])


def dataset_spect_params(dataset_dir: str | pathlib.Path) -> dict | None:
    """The ``[vak.prep.spect_params]`` a dataset was prepared with: from the config ``vak prep`` copies
    into the dataset directory (None: no config there, or none with a prep table)."""
    from vak.config import load

    for path in sorted(pathlib.Path(dataset_dir).glob("*.toml")):
        try:
            prep = load._load_toml_from_path(path).get("prep")
        except Exception:  # not a vak config
            continue
        if isinstance(prep, dict):
            return dict(prep.get("spect_params") or {})
    return None


def conv2d_tf() -> type:
    """vak's ``Conv2dTF`` (TensorFlow-style SAME padding), the layer of TweetyNet's front end."""
    from vak.nn.modules import Conv2dTF

    return Conv2dTF


def read_annotations(dataset_df) -> list | None:
    """The annotations of a prepared dataset's rows, read with vak's own reader."""
    from vak.common import annotation

    return annotation.from_df(dataset_df)


def background_label() -> str:
    """The label vak gives unlabelled frames."""
    if "vak" not in sys.modules:  # the same label (tested); vak is not imported for it
        return BACKGROUND_LABEL
    return _vak().common.constants.DEFAULT_BACKGROUND_LABEL


def check_config(path: str | pathlib.Path, placeholder_dataset: bool = False) -> None:
    """Check a vak TOML config as vak would run it; raise ValueError naming the file and the problem.

    The config is parsed by vak's own parser, and each command table's model is built
    (:func:`model_attributes`): unknown keys, models, losses and metric tables, bad values.

    With ``placeholder_dataset``, a command table with no ``dataset.path`` yet (before
    ``vak prep`` writes it) gets a placeholder, so the rest is checked before the prep.
    """
    import tomlkit
    from vak.config.config import Config

    path = pathlib.Path(path)
    try:
        doc = tomlkit.parse(path.read_text()).unwrap()
    except Exception as e:
        raise ValueError(f"{path}: not a TOML file ({type(e).__name__}: {e})") from None
    tables = doc.get("vak")
    if not isinstance(tables, dict) or not tables:
        raise ValueError(f"{path}: not a vak config (no [vak.<command>] table)")
    if placeholder_dataset:
        for table in tables.values():
            if isinstance(table, dict) and isinstance(table.get("dataset"), dict):
                table["dataset"].setdefault("path", str(path.parent))
    from .._params import suggest

    try:
        models = {}
        for command, table in tables.items():
            if isinstance(table, dict) and "model" in table:
                if not isinstance(table["model"], dict) or len(table["model"]) != 1:
                    raise ValueError(f"[vak.{command}.model] needs exactly one model table, found {table['model']!r}")
                ((model, model_tables),) = table["model"].items()
                if model not in _registry().MODEL_REGISTRY:
                    raise ValueError(
                        f"[vak.{command}.model]: no model registered as {suggest(model, model_names())}; "
                        f"registered: {', '.join(model_names())}"
                    )
                models[command] = (model, model_tables or {})
        Config.from_config_dict(copy.deepcopy(tables), None, path)  # vak edits the dict it parses
        for command, (model, model_tables) in models.items():  # the model, built as vak builds it
            try:
                model_attributes(model, model_tables)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"[vak.{command}.model.{model}]: {e}") from None
    except (ValueError, TypeError, KeyError) as e:
        message = " ".join(str(e).split())  # vak's messages span lines
        raise ValueError(f"{path}: {message}") from None


def load_frames(frames_path: str | pathlib.Path, input_type: str = "spect"):
    """The frames (spectrogram or audio) of one file of a prepared dataset, read by vak's own reader."""
    from vak.datapipes.frame_classification import helper

    return helper.load_frames(pathlib.Path(frames_path), input_type)


def load_frame_times(frames_path: str | pathlib.Path):
    """The frame (time-bin centre) times of one spectrogram file of a prepared dataset, in seconds (vak's
    ``t`` array; the times vak predict gives segments by)."""
    import numpy as np

    with np.load(pathlib.Path(frames_path)) as spect:
        return np.asarray(spect["t"], dtype=float).ravel()


def dataset_sources(dataset) -> tuple[pathlib.Path, str, list[tuple[pathlib.Path, str]]] | None:
    """``(dataset directory, input type, [(frames file, source file)])`` of a vak training datapipe.

    The source is the audio (or spectrogram) file ``vak prep`` made the frames from; None when
    ``dataset`` is not one of vak's frame classification datapipes.
    """
    dataset_path = getattr(dataset, "dataset_path", None)
    df = getattr(dataset, "dataset_df", None)
    if dataset_path is None or df is None or "frames_path" not in getattr(df, "columns", ()):
        return None
    dataset_path = pathlib.Path(dataset_path)
    source_column = next((c for c in ("audio_path", "spect_path") if c in df.columns), "frames_path")
    pairs = dict(zip(df["frames_path"], df[source_column]))
    files = [(dataset_path / frames, str(source)) for frames, source in pairs.items()]
    return dataset_path, str(getattr(dataset, "input_type", "spect")), files


def prepared_split_sources(dataset_dir: str | pathlib.Path, split: str | None) -> list[tuple[pathlib.Path, str]]:
    """``[(frames file, source file)]`` of one split (None: all) of a prepared dataset, from its CSV."""
    dataset_dir = pathlib.Path(dataset_dir)
    df = read_prepared_dataset(dataset_dir, split)
    source_column = next((c for c in ("audio_path", "spect_path") if c in df.columns), "frames_path")
    return [(dataset_dir / frames, str(source)) for frames, source in zip(df["frames_path"], df[source_column])]


def prepared_split_frame_labels(dataset_dir: str | pathlib.Path, split: str) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """``[(frames file, frame labels file)]`` of one split of a prepared frame classification dataset.

    Only the CSV is read, and only the rows of ``split`` are returned (``vak-tcn tune`` reads the
    validation split alone).  Raises ValueError naming the dataset when the split has no rows or
    its rows have no frame labels.
    """
    from vak.datapipes.frame_classification.constants import MULTI_FRAME_LABELS_PATH_COL_NAME

    dataset_dir = pathlib.Path(dataset_dir)
    df = read_prepared_dataset(dataset_dir, split)
    if df.empty:
        raise ValueError(f"dataset {dataset_dir} has no '{split}' split")
    if MULTI_FRAME_LABELS_PATH_COL_NAME not in df.columns or df[MULTI_FRAME_LABELS_PATH_COL_NAME].isna().any():
        raise ValueError(f"dataset {dataset_dir}: the '{split}' split has no frame labels (an unannotated dataset?)")
    return [
        (dataset_dir / frames, dataset_dir / labels)
        for frames, labels in zip(df["frames_path"], df[MULTI_FRAME_LABELS_PATH_COL_NAME])
    ]


# ---------------------------------------------------------------- inference (vak_tcn.inference)
def butter_bandpass(lowcut: float, highcut: float, samplerate: int) -> tuple:
    """The ``(b, a)`` of the Butterworth band-pass vak's spectrogram applies (its own function)."""
    from vak.prep.spectrogram_dataset.spect import butter_bandpass as _butter_bandpass

    return _butter_bandpass(lowcut, highcut, samplerate)


def spectrogram(audio, samplerate: int, spect_params) -> tuple:
    """vak's whole-file spectrogram ``(spect, freqbins, timebins)`` (the reference of the streaming one)."""
    from vak.prep.spectrogram_dataset.spect import spectrogram as _spectrogram

    return _spectrogram(
        audio,
        samplerate,
        spect_params.fft_size,
        spect_params.step_size,
        spect_params.thresh,
        spect_params.transform_type,
        spect_params.freq_cutoffs,
    )


def spectrogram_max_power(audio, samplerate: int, fft_size: int, step_size: int, freq_cutoffs=None) -> float:
    """What vak's ``log_spect`` divides a file's power by: the maximum of its power spectrogram over
    every frequency bin (band-passed first when ``freq_cutoffs``), computed with vak's own functions."""
    from vak.prep.spectrogram_dataset.spect import butter_bandpass_filter
    from vak.prep.spectrogram_dataset.spect import spectrogram as _spectrogram

    if freq_cutoffs:  # vak filters, then cuts the bins after dividing by the maximum over all of them
        audio = butter_bandpass_filter(audio, freq_cutoffs[0], freq_cutoffs[1], samplerate)
    power, _, _ = _spectrogram(audio, samplerate, fft_size, step_size, None, None, None)
    return float(power.max()) if power.size else 0.0


def load_config(path, unprepped_ok: bool = False):
    """A vak TOML config, parsed by vak's own parser.

    ``unprepped_ok``: accept a predict config that ``vak prep`` has not yet given a
    ``dataset.path`` (vak's parser requires one; ``vak-tcn annotate`` needs no dataset).
    """
    from vak.config import load

    config_dict = load._load_toml_from_path(path)
    if unprepped_ok:
        dataset = config_dict.get("predict", {}).get("dataset")
        if isinstance(dataset, dict):
            dataset.setdefault("path", "")
    return _vak().config.Config.from_config_dict(config_dict, None, path)


def load_model(model_config: dict, labelmap: dict, input_shape: tuple, checkpoint_path):
    """A model through vak's factory (``vak.models.get``), with the checkpoint's weights loaded."""
    model = _vak().models.get(
        model_config["name"], model_config, num_classes=len(labelmap), input_shape=input_shape, labelmap=labelmap
    )
    model.load_state_dict_from_path(checkpoint_path)
    return model


def load_frames_standardizer(path):
    """vak's saved ``FramesStandardizer``."""
    import joblib

    return joblib.load(path)


def frame_labels_functions():
    """vak's ``postprocess``, ``to_segments`` and ``timebin_dur_from_vec``."""
    from vak.common.timebins import timebin_dur_from_vec
    from vak.transforms.frame_labels import postprocess, to_segments

    return postprocess, to_segments, timebin_dur_from_vec


def audio_formats() -> dict:
    """vak's audio formats and the functions it reads them with."""
    return dict(_vak().common.constants.AUDIO_FORMAT_FUNC_MAP)


# ---------------------------------------------------------------- vak's formats, read without vak
# ``vak-tcn annotate`` runs a trained model: it needs a predict config's values, the saved
# standardizer and vak's band-pass filter, not vak's training stack (importing vak takes 7-8 s).
# The readers below know vak's file formats and config layout (that is why they are here) and
# import nothing of vak; each is compared with vak's own in tests/inference/test_lean_start.py.


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
    :func:`load_frames_standardizer`, which imports vak and says what is wrong.
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
    models = table["model"]
    _check(isinstance(models, dict) and len(models) == 1)
    ((name, tables),) = models.items()
    _check(isinstance(tables, dict) and set(tables) <= set(_MODEL_TABLES))
    _check(all(isinstance(tables[key], dict) for key in tables))
    model = ModelTable(name, **{key: copy.deepcopy(tables.get(key, {})) for key in _MODEL_TABLES})
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


def read_predict_config(path, unprepped_ok: bool = False) -> PredictConfig | None:
    """A vak predict config's ``[vak.prep]`` and ``[vak.predict]`` as vak's parser reads them (vak's
    defaults for keys left out), parsed with ``tomllib``, without importing vak.

    Only for a config this reader is sure vak accepts: ``[vak.prep]`` and ``[vak.predict]`` tables
    alone, every key one of vak's (vak 1.0 and 1.1 have the same), each value of the type vak checks
    (``[vak.prep]``'s keys other than ``spect_params`` are ``vak prep``'s, not checked further).  Any
    other config gives None: read it with :func:`load_config`, vak's own parser, which says what is
    wrong (the errors are vak's).  The model's name is not checked against vak's registry either: the
    caller builds the model, through vak's factory if it is not one it knows.
    """
    import tomllib

    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
        tables = doc.get("vak")
        _check(isinstance(tables, dict) and "predict" in tables and set(tables) <= {"prep", "predict"})
        return PredictConfig(
            prep=_prep(tables["prep"]) if "prep" in tables else None,
            predict=_predict(tables["predict"], unprepped_ok),
        )
    except (_NotSure, OSError, ValueError, TypeError):  # tomllib.TOMLDecodeError is a ValueError
        return None
