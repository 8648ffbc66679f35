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
first use, 7-8 s with lightning and torchmetrics).  The readers of vak's files that need no vak at
all, for commands that only run a trained model (``vak-tcn annotate``), are in :mod:`.vak_files`
(a predict config, a saved standardizer, vak's band-pass filter, cbin files); :data:`BACKGROUND_LABEL`
and :data:`AUDIO_FORMATS` are here, known without vak.  Each is compared with vak's own in
tests/inference/test_lean_start.py.
"""

from __future__ import annotations

import copy
import functools
import json
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
    formats (``vak-tcn annotate`` with a vak-tcn model: :mod:`.vak_files`) never pay for it."""
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
    into the dataset directory (None: no config there, or none with a prep table).  Read as TOML (vak is
    not imported): the table as written, which vak's defaults complete (``SpectParams.from_vak``)."""
    import tomllib

    for path in sorted(pathlib.Path(dataset_dir).glob("*.toml")):
        try:
            with open(path, "rb") as fh:
                prep = tomllib.load(fh).get("vak", {}).get("prep")
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


def check_config(
    path: str | pathlib.Path,
    placeholder_dataset: bool = False,
    check_data_dir: bool = False,
    command: str | None = None,
) -> None:
    """Check a vak TOML config as vak would run it; raise ValueError naming the file and the problem.

    The config is parsed by vak's own parser, and each command table's model is built
    (:func:`model_attributes`): unknown keys, models, losses and metric tables, bad values.

    With ``placeholder_dataset``, a command table with no ``dataset.path`` yet (before
    ``vak prep`` writes it) gets a placeholder, so the rest is checked before the prep; without it,
    such a table is refused: "run vak prep first" (after every other check).  ``check_data_dir``
    (``vak prep``): ``[vak.prep] data_dir`` must be a folder.  ``command`` (train, eval, ...): the config
    must have its table.
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
    if command not in (None, "prep") and command not in tables:
        kinds = [t for t in tables if t != "prep"]
        raise ValueError(
            f"{path} has no [vak.{command}] table"
            + (f" (it is a {kinds[0]} config)" if kinds else "")
            + f": vak {command} takes a {command} config (docs/config.md says which keys each command takes)"
        )
    original = copy.deepcopy(tables)
    unprepped = [
        name
        for name, table in tables.items()
        if isinstance(table, dict) and isinstance(table.get("dataset"), dict) and not table["dataset"].get("path")
    ]
    for name in unprepped:  # a placeholder: the rest is checked before the prep (or before saying "prep first")
        tables[name]["dataset"]["path"] = str(path.parent)
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
    except (ValueError, TypeError, KeyError) as e:  # vak's messages span lines: one, naming the table and fix
        raise ValueError(f"{path}: {config_error(e, original)}") from None
    if unprepped and not placeholder_dataset:
        raise ValueError(f"{path}: [vak.{unprepped[0]}.dataset] has no path yet: run `vak prep {path}` first")
    problem = data_dir_problem(path, tables) if check_data_dir else None
    if problem:
        raise ValueError(problem)


def data_dir_problem(path, tables: dict | None = None) -> str | None:
    """One line when ``[vak.prep] data_dir`` of the config at ``path`` is not a folder (``vak prep`` would
    stop with a traceback), naming the fix; None when it is one (or the config has none).  ``tables``: the
    config's ``vak`` tables when the caller has read them."""
    if tables is None:
        import tomllib

        try:
            with open(path, "rb") as fh:
                tables = tomllib.load(fh).get("vak", {})
        except (OSError, ValueError):
            return None
    prep = tables.get("prep") if isinstance(tables, dict) else None
    data_dir = prep.get("data_dir") if isinstance(prep, dict) else None
    if not isinstance(data_dir, str) or pathlib.Path(data_dir).expanduser().is_dir():
        return None
    where = "" if pathlib.Path(data_dir).is_absolute() else f" (from {pathlib.Path.cwd()})"
    what = "is a file, not a folder" if pathlib.Path(data_dir).expanduser().exists() else "not found"
    return (
        f"{path}: [vak.prep] data_dir {data_dir}: {what}{where}: set data_dir to the folder of the recordings "
        "and their annotations (a path relative to the folder you run vak in)"
    )


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


def source_column(df) -> str:
    """The column of a prepared dataset's table naming each row's source file: the audio (or the
    spectrogram file) ``vak prep`` made its frames from, else the frames file itself."""
    return next((c for c in ("audio_path", "spect_path") if c in df.columns), "frames_path")


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
    pairs = dict(zip(df["frames_path"], df[source_column(df)]))
    files = [(dataset_path / frames, str(source)) for frames, source in pairs.items()]
    return dataset_path, str(getattr(dataset, "input_type", "spect")), files


def prepared_split_sources(dataset_dir: str | pathlib.Path, split: str | None) -> list[tuple[pathlib.Path, str]]:
    """``[(frames file, source file)]`` of one split (None: all) of a prepared dataset, from its CSV."""
    dataset_dir = pathlib.Path(dataset_dir)
    df = read_prepared_dataset(dataset_dir, split)
    return [(dataset_dir / frames, str(source)) for frames, source in zip(df["frames_path"], df[source_column(df)])]


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


def load_config(path, unprepped_ok: bool = False, toml: dict | None = None):
    """A vak TOML config, parsed by vak's own parser.

    ``unprepped_ok``: accept a predict config that ``vak prep`` has not yet given a
    ``dataset.path`` (vak's parser requires one; ``vak-tcn annotate`` needs no dataset).
    ``toml``: the file's TOML document as ``tomllib.load`` gives it, when the caller has read it
    already (as for :func:`.vak_files.read_predict_config`): vak parses its ``vak`` table, a copy, and
    the file is not read again (without a ``vak`` table, vak reads the file and says so).
    """
    from vak.config import load

    if toml is not None and "vak" in toml:
        config_dict = copy.deepcopy(toml["vak"])  # vak's parser changes the tables it is given
    else:
        config_dict = load._load_toml_from_path(path)
    if unprepped_ok:
        dataset = config_dict.get("predict", {}).get("dataset")
        if isinstance(dataset, dict):
            dataset.setdefault("path", "")
    tables = copy.deepcopy(config_dict)
    try:
        return _vak().config.Config.from_config_dict(config_dict, None, path)
    except (TypeError, KeyError, ValueError) as e:  # vak's words, over lines: one line naming the table and fix
        raise ValueError(f"{path}: {config_error(e, tables)}") from None


def config_error(error: BaseException, tables: dict) -> str:
    """vak's config error ``error`` as one line naming the table, the key and the fix
    (:func:`.config_errors.explain`); ``tables``: the config's ``vak`` tables."""
    from vak.config.validators import VALID_KEYS

    from . import config_errors

    return config_errors.explain(error, tables, {t: list(keys) for t, keys in VALID_KEYS.items()})


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
