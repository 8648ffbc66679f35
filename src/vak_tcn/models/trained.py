"""One trained model: what a checkpoint needs to run, loaded once, with one set of rules.

:class:`TrainedModel` holds the network (in eval mode, folded for inference), the labelmap and
its background class, the frames standardizer, the spectrogram parameters, the frame duration,
the clean-up and the reference level recorded when training ended.  It is loaded from a stock
vak predict config (:meth:`TrainedModel.from_predict_config`: ``vak-tcn annotate``,
``vak-tcn live``) or from a training run's checkpoint and the config vak copied beside it
(:meth:`TrainedModel.from_run`: ``vak-tcn tune``).  The rules every consumer shares live here:

* :func:`background_index`: the background class (vak predict's rule), for the family, tune,
  annotate and live alike;
* :meth:`TrainedModel.check_samplerate`: whether audio at a sample rate gives the frequency
  bins the model takes (the same refusal in annotate and live);
* :func:`~.results.checkpoint_in`: the checkpoint of a training run that is used (vak learncurve's rule),
  for the family's post-training tuner and ``vak-tcn tune`` alike;
* :func:`training_reference`, :func:`write_reference`, :func:`read_reference`: the reference
  level for live use, ``reference_power.json`` beside the checkpoint (docs/live.md).

Its clean-up comes from :mod:`.cleanup` (a predict config's: :func:`~.cleanup.predict_cleanup`), the
check of its network table against the training run's record from :mod:`.record_check`.

This module imports nothing heavy at import time (NumPy only); torch when a model loads, and vak
only when it must: a predict config whose model is one of vak-tcn's own networks is read and built
without it (:func:`builds_without_vak`, :func:`vak_files.read_predict_config
<vak_tcn.plugins.vak_files.read_predict_config>`; ``vak-tcn annotate`` starts in seconds).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import pathlib
import tomllib
from typing import Any

import numpy as np

from ..audio.spect_params import SpectParams
from . import results
from .cleanup import Request, Settings, predict_cleanup, resolve_mode, stored_settings
from .record_check import network_defaults, record_contradictions

__all__ = [
    "REFERENCE_FILENAME",
    "ModelError",
    "SpectParams",
    "TrainedModel",
    "background_index",
    "builds_without_vak",
    "TrainedRun",
    "find_runs",
    "read_predict_config",
    "read_reference",
    "segments_drop_background",
    "training_reference",
    "write_reference",
]

logger = logging.getLogger(__name__)

#: beside a checkpoint: the reference level live normalises by (:func:`write_reference`)
REFERENCE_FILENAME = "reference_power.json"
REFERENCE_FORMAT = 1
#: training files whose maximum power goes into the reference (evenly spaced over the split)
REFERENCE_MAX_FILES = 200


class ModelError(ValueError):
    """The config's model cannot be loaded (a checkpoint that is not one, or does not match the
    labelmap or network table): no recording can be annotated, so the run stops."""


# ---------------------------------------------------------------- the shared rules
def background_index(labelmap: dict) -> int:
    """The background class of a labelmap: vak's background label's integer, else ``'unlabeled'``'s
    (labelmaps of vak < 1.0), else 0.  vak predict's rule; the one vak-tcn uses everywhere (the
    family's clean-up and metrics, ``vak-tcn tune``, ``annotate``, ``live``)."""
    from ..plugins import vak_compat

    return int(labelmap.get(vak_compat.background_label(), labelmap.get("unlabeled", 0)))


def segments_drop_background(labelmap: dict) -> bool:
    """Whether segments leave the background class out: vak's ``to_segments`` drops it only when the
    labelmap has vak's background label; otherwise every class makes segments (as vak predict
    writes them), while the clean-up still takes :func:`background_index` for background."""
    from ..plugins import vak_compat

    return vak_compat.background_label() in labelmap


def builds_without_vak(name: str) -> bool:
    """Whether a model of this name is built without vak's model factory (so without importing vak): one
    of vak-tcn's own networks (the catalogue's TCN and ConvTCN; ConvTCN's front end still imports vak's
    ``Conv2dTF``).  Other models (vak's TweetyNet, vak-tcn's TweetyNetPlugin, other plugins') are built
    by vak."""
    from . import catalogue

    try:
        return catalogue.get(name).network.startswith("vak_tcn.") and catalogue.get(name).name == name
    except KeyError:
        return False


def read_predict_config(config_path: str | pathlib.Path) -> tuple[Any, bool, dict]:
    """A predict config, parsed; whether its model is built without vak; and the ``[vak.predict]`` table
    as written (no defaults filled in).  The file is read once: without vak (7-8 s to import) when the
    config is plainly one vak accepts and its model one of vak-tcn's own networks
    (:func:`vak_files.read_predict_config <vak_tcn.plugins.vak_files.read_predict_config>`,
    :func:`builds_without_vak`); else by vak's parser (its checks, its errors) from the same document,
    vak-tcn's plugins loaded first (vak checks the model's name against its registry), as ``vak predict``
    reads it.  A predict config ``vak prep`` has not yet given a dataset path is accepted."""
    from ..plugins import vak_compat, vak_files

    try:
        with open(config_path, "rb") as fh:
            toml = tomllib.load(fh)  # the one read of the file
    except tomllib.TOMLDecodeError:
        toml = None  # vak's parser reads it and says what is wrong, in its words
    tables = (toml or {}).get("vak", {})
    tables = tables if isinstance(tables, dict) else {}
    if toml is not None and not isinstance(tables.get("predict"), dict):  # e.g. the training config: one line
        kinds = [t for t in tables if t != "prep"]
        raise ValueError(
            f"{config_path} has no [vak.predict] table{f' (it is a {kinds[0]} config)' if kinds else ''}: annotate "
            "(live, report) takes a vak predict config or a results directory (`vak-tcn predict-config RESULTS_DIR` "
            "writes one)"
        )
    written = tables.get("predict", {})
    cfg = vak_files.read_predict_config(config_path, unprepped_ok=True, toml=toml) if toml is not None else None
    if cfg is not None and builds_without_vak(cfg.predict.model.name):
        return cfg, True, written
    from ..plugins.manager import load_plugins

    load_plugins()  # the start-up hook on or off
    return vak_compat.load_config(config_path, unprepped_ok=True, toml=toml), False, written


# ---------------------------------------------------------------- the reference level for live use
def reference_path(checkpoint: str | pathlib.Path) -> pathlib.Path:
    """``reference_power.json`` beside a checkpoint (shared by a run's checkpoints, as it does not
    depend on the weights)."""
    return pathlib.Path(checkpoint).with_name(REFERENCE_FILENAME)


def training_reference(
    dataset_dir: str | pathlib.Path,
    spect_params: SpectParams | None = None,
    sources: list[str] | None = None,
    max_files: int = REFERENCE_MAX_FILES,
) -> dict:
    """The reference level of a prepared dataset's training files: the median over files of each
    file's maximum spectrogram power, the number vak's ``log_spect`` divides that file's power by
    (:func:`vak_tcn.plugins.vak_compat.spectrogram_max_power`, vak's own functions).

    ``spect_params``: the dataset's (from the config ``vak prep`` copied into it) when None.
    ``sources``: the audio files (default: the dataset's ``train`` split), at most ``max_files`` of
    them, evenly spaced, are read.  Returns the document :func:`write_reference` stores; ValueError
    when the dataset has no audio (prepared from spectrogram files) or no file has any power.
    """
    from ..plugins import vak_compat

    dataset_dir = pathlib.Path(dataset_dir)
    audio_format = vak_compat.dataset_metadata(dataset_dir).get("audio_format")
    if not audio_format:
        raise ValueError(f"dataset {dataset_dir} was prepared from spectrogram files: no audio to take a level from")
    if spect_params is None:
        found = vak_compat.dataset_spect_params(dataset_dir)
        if found is None:
            raise ValueError(f"dataset {dataset_dir}: no config with [vak.prep.spect_params] in it")
        spect_params = SpectParams.from_vak(found)
    if sources is None:
        sources = [source for _, source in vak_compat.prepared_split_sources(dataset_dir, "train")]
    sources = sorted({str(s) for s in sources})
    if len(sources) > max_files:
        sources = [sources[int(i)] for i in np.linspace(0, len(sources) - 1, max_files).round()]
    read = vak_compat.audio_formats()[audio_format]
    peaks, rates = [], set()
    for source in sources:
        audio, rate = read(source)
        audio = np.asarray(audio, dtype=float)
        peak = vak_compat.spectrogram_max_power(
            audio, int(rate), spect_params.fft_size, spect_params.step_size, spect_params.freq_cutoffs
        )
        if math.isfinite(peak) and peak > 0:  # a silent file has no level
            peaks.append(peak)
            rates.add(int(rate))
    if not peaks:
        raise ValueError(f"dataset {dataset_dir}: no training file with any power (all silent?)")
    peaks_db = 10 * np.log10(np.asarray(peaks) / np.median(peaks))
    return {
        "format_version": REFERENCE_FORMAT,
        "reference_power": float(np.median(peaks)),
        "statistic": "median over training files of each file's maximum spectrogram power (what vak's "
        "log_spect divides that file's power by)",
        "n_files": len(peaks),
        "files_db_range": [round(float(peaks_db.min()), 2), round(float(peaks_db.max()), 2)],
        "samplerate": rates.pop() if len(rates) == 1 else None,
        "spect_params": spect_params.power_key(),
        "dataset": str(dataset_dir),
        "split": "train",
    }


def write_reference(checkpoint: str | pathlib.Path, doc: dict, written_by: str) -> pathlib.Path:
    """Write ``doc`` (:func:`training_reference`) atomically to ``reference_power.json`` beside ``checkpoint``."""
    from .._atomic import write_text

    path = reference_path(checkpoint)
    write_text(path, json.dumps({**doc, "written_by": written_by}, indent=1) + "\n")
    return path


def read_reference(checkpoint: str | pathlib.Path | None) -> dict | None:
    """The reference document beside ``checkpoint`` (None: no file); ValueError naming an unusable one."""
    if not checkpoint:
        return None
    path = reference_path(checkpoint)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        power = float(doc["reference_power"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a reference level file ({type(e).__name__}: {e})") from None
    if not (math.isfinite(power) and power > 0):
        raise ValueError(f"{path}: reference_power must be a finite number > 0, got {doc['reference_power']!r}")
    return {**doc, "path": str(path)}


# ---------------------------------------------------------------- the trained model
@dataclasses.dataclass
class TrainedModel:
    """A trained model and everything it needs to run (see the module docs).

    The network is built once the number of frequency bins is known (from the standardizer, or
    from the audio's sample rate: :meth:`load_network`).
    """

    checkpoint: pathlib.Path
    labelmap: dict
    model_config: dict
    spect_params: SpectParams
    window_size: int = 1
    standardizer: Any = None
    standardizer_path: pathlib.Path | None = None
    #: the prepared dataset's frame duration (None: from the audio's sample rate, per recording)
    frame_dur: float | None = None
    cleanup: Settings = dataclasses.field(default_factory=Settings)
    cleanup_source: str = "none"
    input_type: str = "spect"
    #: the prepared dataset of a training run (None for a predict config's model)
    dataset: pathlib.Path | None = None
    #: the parsed ``[vak.predict]`` table (from a predict config) or vak's training table (from a run)
    table: Any = None
    #: the labelmap file (a run's: the one vak saved in the run, else the dataset's)
    labelmap_path: pathlib.Path | None = None
    #: read and built without importing vak (:func:`builds_without_vak`; a predict config's model only)
    built_without_vak: bool = False

    def __post_init__(self):
        self.checkpoint = pathlib.Path(self.checkpoint)
        self.background = background_index(self.labelmap)
        self.drops_background = segments_drop_background(self.labelmap)
        try:
            self.reference, self._reference_problem = read_reference(self.checkpoint), None
        except ValueError as e:  # a damaged file: live says so and falls back; tune writes it again
            self.reference, self._reference_problem = None, str(e)
        self.network = None
        self.n_freqbins = len(self.standardizer.mean_freqs) if self.standardizer is not None else None
        #: the sample rate the model was trained at (the training files' one rate, recorded in
        #: ``reference_power.json`` beside the checkpoint), where it is known; else None
        self.samplerate: int | None = None
        #: where :attr:`samplerate` is known from, in words
        self.samplerate_source = f"no {REFERENCE_FILENAME} beside {self.checkpoint} records it"
        if self.reference is not None and self.reference.get("samplerate"):
            self.samplerate = int(self.reference["samplerate"])
            self.samplerate_source = self.reference["path"]

    # ---- loading
    @classmethod
    def from_predict_config(cls, config_path: str | pathlib.Path, cleanup: Request | None = None) -> TrainedModel:
        """The model of a stock vak predict config: checkpoint, labelmap, frames standardizer,
        ``[vak.prep.spect_params]``, model table; the clean-up ``cleanup`` asks for, its mode resolved
        with the model's network table (:func:`~.cleanup.resolve_mode`, :func:`~.cleanup.predict_cleanup`;
        None: no clean-up).  FileNotFoundError
        for a missing file, :class:`ModelError` for a labelmap or standardizer that is not one."""
        from ..plugins import vak_compat, vak_files

        config_path = pathlib.Path(config_path)
        if not config_path.exists():
            raise FileNotFoundError(f"config file not found: {config_path}")
        cfg, lean, written = read_predict_config(config_path)
        if cfg.predict is None:
            raise ValueError(f"{config_path} has no [vak.predict] table: annotate takes a vak predict config")
        predict = cfg.predict
        spect_params = SpectParams.from_vak(cfg.prep.spect_params if cfg.prep else {})
        for key in ("checkpoint_path", "labelmap_path", "frames_standardizer_path"):
            path = getattr(predict, key)
            if path is not None and not pathlib.Path(path).is_file():
                raise FileNotFoundError(f"[vak.predict] {key}: file not found: {path}")
        try:
            labelmap = json.loads(pathlib.Path(predict.labelmap_path).read_text())
            if not isinstance(labelmap, dict) or not all(isinstance(v, int) for v in labelmap.values()):
                raise ValueError("not a JSON object of class names and numbers")
        except (OSError, ValueError) as e:
            raise ModelError(f"[vak.predict] labelmap_path {predict.labelmap_path}: not a labelmap ({e})") from None
        standardizer = None
        if predict.frames_standardizer_path:
            try:
                standardizer = vak_files.read_frames_standardizer(predict.frames_standardizer_path) if lean else None
                if standardizer is None:
                    standardizer = vak_compat.load_frames_standardizer(predict.frames_standardizer_path)
                len(standardizer.mean_freqs)
            except Exception as e:
                raise ModelError(
                    f"[vak.predict] frames_standardizer_path {predict.frames_standardizer_path}: not a saved "
                    f"FramesStandardizer ({_first_line(e)})"
                ) from None
        model_config = predict.model.asdict()
        table = model_config.get("network")
        mode, set_by = resolve_mode(cleanup, table) if cleanup is not None else ("none", "not asked for")
        cleanup, source = predict_cleanup(config_path, predict, mode, set_by, written)
        model = cls(
            checkpoint=pathlib.Path(predict.checkpoint_path),
            labelmap=labelmap,
            model_config=model_config,
            spect_params=spect_params,
            window_size=int(predict.dataset.params.get("window_size", 1) or 1),
            standardizer=standardizer,
            standardizer_path=predict.frames_standardizer_path,
            cleanup=cleanup,
            cleanup_source=source,
            table=predict,
            labelmap_path=pathlib.Path(predict.labelmap_path),
        )
        model.built_without_vak = lean
        model.check_against_record()
        return model

    @classmethod
    def from_run(cls, checkpoint: pathlib.Path, run_dir: pathlib.Path, config: pathlib.Path) -> TrainedModel:
        """The model of a training run: its checkpoint, the labelmap and frames standardizer vak saved in
        ``run_dir`` (the labelmap: else the dataset's), the model and dataset of the training table of
        ``config`` (the config vak copied into the results), the dataset's spectrogram parameters and
        frame duration, and the clean-up stored beside the checkpoint, if any.  The config is read once,
        without vak for one of vak-tcn's own networks (:func:`vak_files.read_training_config
        <vak_tcn.plugins.vak_files.read_training_config>`: vak accepted it when it trained), else by vak's
        parser, vak-tcn's plugins loaded."""
        from ..plugins import vak_compat, vak_files

        with open(config, "rb") as fh:
            doc = tomllib.load(fh)
        cfg = vak_files.read_training_config(config, toml=doc)
        lean = cfg is not None and builds_without_vak(cfg.model.name)
        if lean:
            section = cfg
        else:
            from ..plugins.manager import load_plugins

            load_plugins()
            cfg = vak_compat.load_config(config, toml=doc)
            section = cfg.train if getattr(cfg, "train", None) is not None else getattr(cfg, "learncurve", None)
        if section is None:
            raise ValueError(f"{config}: no [vak.train] or [vak.learncurve] table")
        if not section.dataset.path:
            command = cfg.command if lean else ("train" if cfg.train else "learncurve")
            raise ValueError(f"{config}: [vak.{command}.dataset] has no path")
        input_type = (getattr(cfg.prep, "input_type", "spect") if cfg.prep is not None else "spect") or "spect"
        dataset = pathlib.Path(section.dataset.path)
        if not (dataset / "metadata.json").is_file():
            raise FileNotFoundError(f"{config}: dataset {dataset} not found (no metadata.json)")
        labelmap_path = results.labelmap_path(run_dir, dataset)
        standardizer_path = results.standardizer_path(run_dir)
        standardizer = None
        if standardizer_path.is_file():
            standardizer = vak_files.read_frames_standardizer(standardizer_path) if lean else None
            if standardizer is None:
                standardizer = vak_compat.load_frames_standardizer(standardizer_path)
        spect = vak_compat.dataset_spect_params(dataset)
        if spect is None:
            spect = cfg.prep.spect_params if cfg.prep is not None else {}
        try:
            tuned = stored_settings(checkpoint, "auto")
        except (OSError, ValueError) as e:  # tune writes it again
            logger.warning(f"clean-up beside {checkpoint} not read: {e}")
            tuned = None
        return cls(
            checkpoint=pathlib.Path(checkpoint),
            labelmap=json.loads(labelmap_path.read_text()),
            model_config=section.model.asdict(),
            spect_params=SpectParams.from_vak(spect),
            window_size=int(section.dataset.params.get("window_size", 1) or 1),
            standardizer=standardizer,
            standardizer_path=standardizer_path if standardizer is not None else None,
            frame_dur=vak_compat.dataset_frame_dur(str(dataset)),
            cleanup=tuned[0] if tuned else Settings(),
            cleanup_source=f"tuned ({tuned[1]})" if tuned else "none",
            input_type=input_type,
            dataset=dataset,
            table=section,
            labelmap_path=labelmap_path,
            built_without_vak=lean,
        )

    def load_network(self, n_freqbins: int | None = None):
        """The network for ``n_freqbins`` frequency bins (default: the standardizer's), built with vak's
        model factory, the checkpoint's weights loaded, folded for inference, in eval mode, on the CPU.
        Built once; :class:`ModelError` in one line when the checkpoint does not load or match."""
        from ..nn.tcn import inference_copy
        from ..plugins import vak_compat

        n_freqbins = self.n_freqbins if n_freqbins is None else int(n_freqbins)
        if self.network is not None and n_freqbins == self.n_freqbins:
            return self.network
        try:
            if self.built_without_vak:
                network = self._network_without_vak(n_freqbins)
            else:
                from ..plugins.manager import load_plugins

                load_plugins()  # vak-tcn's models registered with vak (read_predict_config loaded them too)
                model = vak_compat.load_model(
                    self.model_config, self.labelmap, (1, n_freqbins, self.window_size), self.checkpoint
                )
                network = model.network
        except Exception as e:
            raise ModelError(self._model_error(e, n_freqbins)) from None
        self.network = inference_copy(network).eval()
        self.n_freqbins = n_freqbins
        return self.network

    def check_samplerate(self, samplerate: int, hint: str = "") -> int:
        """The number of frequency bins the config's spect_params give audio at ``samplerate``; a
        ValueError if the model takes another number (known from the standardizer or a loaded network),
        ``hint`` (how to fix it) at its end."""
        freqbins = self.spect_params.freqbins(samplerate)
        if self.n_freqbins is not None and len(freqbins) != self.n_freqbins:
            raise ValueError(
                f"sample rate {samplerate} Hz gives {len(freqbins)} frequency bins with the config's "
                f"spect_params; the model takes {self.n_freqbins} (wrong sample rate for this model?){hint}"
            )
        return len(freqbins)

    def _network_without_vak(self, n_freqbins: int):
        """The network vak's model factory builds for one of vak-tcn's models, and the checkpoint's
        weights, without vak: the catalogue's network class with the network table's arguments (vak-tcn's
        own keys, ``seed`` and ``post_processing``, taken out as the seeded network does) and vak's
        ``num_classes``/``num_input_channels``/``num_freqbins``; the checkpoint's ``network.`` weights
        (vak saves the Lightning module's ``state_dict``), every one of them (strict)."""
        import torch

        from .. import settings
        from . import catalogue

        # vak's factory writes these into the config's network table (so annotate's records name them)
        table = self.model_config.setdefault("network", {})
        table.update(num_classes=len(self.labelmap), num_input_channels=1, num_freqbins=n_freqbins)
        kwargs = dict(table)
        settings.pop_config(kwargs)
        network = catalogue.get(self.model_config["name"]).network_class()(**kwargs)
        state = torch.load(self.checkpoint, map_location="cpu")["state_dict"]
        network.load_state_dict({k.removeprefix("network."): v for k, v in state.items() if k.startswith("network.")})
        return network

    def _model_error(self, error: Exception, n_freqbins: int) -> str:
        """One line on why the checkpoint and the config's model do not load together."""
        import zipfile

        name, text = self.model_config.get("name"), str(error)
        if "loading state_dict" in text:  # torch's load_state_dict: the first mismatch says enough
            details = [line.strip() for line in text.splitlines()[1:] if line.strip()]
            detail = details[0] if details else _first_line(error)
            built = (
                f"{name} with [vak.predict.model.{name}.network], {len(self.labelmap)} classes from labelmap_path, "
                f"{n_freqbins} frequency bins"
            )
            return (
                f"[vak.predict] checkpoint_path {self.checkpoint} does not match the model the config builds "
                f"({built}): {_shorten(detail).rstrip('.')}; use the labelmap and network table it was trained with"
            )
        if (
            isinstance(error, (EOFError, zipfile.BadZipFile))
            or type(error).__name__ == "UnpicklingError"
            or any(hint in text for hint in ("PytorchStreamReader", "load key", "weights_only", "state_dict"))
        ):
            first = _first_line(error).split(". ")[0].rstrip(".")  # torch goes on about weights_only
            return f"[vak.predict] checkpoint_path {self.checkpoint}: not a checkpoint torch can load ({first})"
        return f"cannot build {name} from [vak.predict.model.{name}] with its checkpoint: {_first_line(error)}"

    # ---- the config against the record of the training run
    def check_against_record(self) -> None:
        """Refuse a network table that says something other than the network was trained with
        (:func:`~.record_check.record_contradictions`: the table's value of each key, else the network's default),
        in one :class:`ModelError` naming both values and the record."""
        name = self.model_config.get("name")
        defaults = network_defaults(name)
        if defaults is None:
            return  # a model outside vak-tcn's catalogue
        table = self.model_config.get("network") or {}
        found = record_contradictions(self.checkpoint, {**defaults, **table}, explicit=table)
        if found:
            record, said = found
            raise ModelError(
                f"[vak.predict.model.{name}.network] contradicts the trained model ({record}): {'; '.join(said)}; "
                "set the key(s) to the trained value(s)"
            )

    # ---- the reference level
    def reference_power(self, samplerate: int) -> tuple[float | None, str]:
        """The reference level recorded when training ended, for audio at ``samplerate``, and a line
        saying where it comes from; ``(None, why not)`` without a usable one (no file, or one recorded
        with other spectrogram parameters or another sample rate)."""
        doc = self.reference
        if doc is None:
            return None, self._reference_problem or f"no {REFERENCE_FILENAME} beside {self.checkpoint}"
        if doc.get("spect_params") != self.spect_params.power_key():
            return None, (
                f"{doc['path']} was recorded with spect_params {doc.get('spect_params')}, the config has "
                f"{self.spect_params.power_key()}"
            )
        if doc.get("samplerate") is not None and int(doc["samplerate"]) != int(samplerate):
            return None, f"{doc['path']} was recorded at {doc['samplerate']} Hz, the audio is at {samplerate} Hz"
        return float(doc["reference_power"]), (
            f"recorded when training ended ({doc['path']}: median maximum power of {doc.get('n_files', '?')} "
            "training files)"
        )


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return _shorten(f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__)


def _shorten(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- the trained models of a results directory
@dataclasses.dataclass(frozen=True)
class TrainedRun:
    """One trained model of a results directory: its checkpoint, its run (vak's ``results_path``:
    labelmap, standardizer) and the config vak copied into the results."""

    checkpoint: pathlib.Path
    run_dir: pathlib.Path
    config: pathlib.Path

    def load(self) -> TrainedModel:
        return TrainedModel.from_run(self.checkpoint, self.run_dir, self.config)


def find_runs(results_dir: pathlib.Path, checkpoint_name: str | None = None) -> list[TrainedRun]:
    """The trained models of a results directory (:func:`~.results.run_paths`: one per ``checkpoints``
    directory, each with the checkpoint the family tunes when training ends, or ``checkpoint_name``)."""
    return [TrainedRun(*paths) for paths in results.run_paths(results_dir, checkpoint_name)]
