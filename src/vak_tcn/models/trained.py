"""One trained model: what a checkpoint needs to run, loaded once, with one set of rules.

:class:`TrainedModel` holds the network (in eval mode, folded for inference), the labelmap and
its background class, the frames standardizer, the spectrogram parameters, the frame duration,
the clean-up and the reference level recorded when training ended.  It is loaded from a stock
vak predict config (:meth:`TrainedModel.from_predict_config`: ``vak-tcn annotate``,
``vak-tcn live``) or from a training run's checkpoint and the config vak copied beside it
(:meth:`TrainedModel.from_run`: ``vak-tcn tune``).  The rules every consumer shares live here:

* :func:`background_index`: the background class (vak predict's rule), for the family, tune,
  annotate and live alike;
* :func:`checkpoint_in`: the checkpoint of a training run that is used (vak learncurve's rule),
  for the family's post-training tuner and ``vak-tcn tune`` alike;
* :func:`training_reference`, :func:`write_reference`, :func:`read_reference`: the reference
  level for live use, ``reference_power.json`` beside the checkpoint (docs/live.md).

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
from typing import Any

import numpy as np

from . import postprocess

__all__ = [
    "REFERENCE_FILENAME",
    "ModelError",
    "SpectParams",
    "TrainedModel",
    "background_index",
    "builds_without_vak",
    "checkpoint_in",
    "read_predict_config",
    "config_above",
    "read_reference",
    "record_contradictions",
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
#: the training run's record (:mod:`.provenance`'s ``FILENAME``; not imported: provenance imports more)
_PROVENANCE = "vak-tcn-provenance.json"
#: network keys not compared with the record: sizes vak sets from the data, dropout (nothing at
#: inference), vak-tcn's own keys that are not the network's
_UNCHECKED_NETWORK_KEYS = frozenset(
    {"num_classes", "num_input_channels", "num_freqbins", "dropout", "stage_dropout", "rnn_dropout", "seed",
     "post_processing"}
)  # fmt: skip


def _network_defaults(name: str | None) -> dict | None:
    """The keyword defaults of a catalogue model's network (its refinement stages' too); None for a
    model outside the catalogue."""
    import inspect

    from . import catalogue

    try:
        cls = catalogue.get(name).network_class()
    except (KeyError, ImportError, AttributeError):
        return None
    parameters = inspect.signature(cls.__init__).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        from ..nn.stages import STAGE_DEFAULTS

        defaults.update(STAGE_DEFAULTS)
    return defaults


def record_contradictions(
    checkpoint: str | pathlib.Path, resolved: dict, explicit: dict | None = None
) -> tuple[pathlib.Path, list[str]] | None:
    """What a network's keyword arguments ``resolved`` say other than the training run's record.

    Causal and centred TCNs (and other keys that keep the weight shapes) load each other's checkpoints,
    so a config saying ``causal = true`` would run a centred checkpoint as causal.  The training run's
    provenance record (``vak-tcn-provenance.json``, beside the checkpoint or up to two folders above it:
    vak's ``<run>/<model>/checkpoints/``) keeps the resolved network keyword arguments; each key both
    have with different values is one line naming both (``(the default)`` when ``explicit``, the keys a
    config wrote, is given and lacks it).  Keys that change nothing at inference (dropout) and the sizes
    vak sets from the data are not compared.  ``(record, lines)``, or None: no record (a model trained
    elsewhere), an unreadable one, or nothing contradicts it."""
    checkpoint = pathlib.Path(checkpoint)
    record = next((d / _PROVENANCE for d in list(checkpoint.parents)[:3] if (d / _PROVENANCE).is_file()), None)
    if record is None:
        return None
    try:
        trained = json.loads(record.read_text())["model"]["network_kwargs"] or {}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an unreadable record says nothing
    said = []
    for key, value in sorted(trained.items()):
        if key in _UNCHECKED_NETWORK_KEYS or key not in resolved:
            continue
        if _jsonable(resolved[key]) != _jsonable(value):
            default = "" if explicit is None or key in explicit else " (the default)"
            said.append(
                f"{key} = {_toml(resolved[key])}{default}, the checkpoint was trained with {key} = {_toml(value)}"
            )
    return (record, said) if said else None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def _toml(value: Any) -> str:
    return json.dumps(_jsonable(value))


class ModelError(ValueError):
    """The config's model cannot be loaded (a checkpoint that is not one, or does not match the
    labelmap or network table): no recording can be annotated, so the run stops."""


# ---------------------------------------------------------------- spectrogram parameters
@dataclasses.dataclass(frozen=True)
class SpectParams:
    """The ``[vak.prep.spect_params]`` that shape a spectrogram (vak's defaults)."""

    fft_size: int = 512
    step_size: int = 64
    thresh: float | None = None
    transform_type: str | None = None
    freq_cutoffs: tuple[float, float] | None = None

    @classmethod
    def from_vak(cls, spect_params) -> SpectParams:
        """From vak's ``SpectParamsConfig`` (or a dict with its keys)."""
        get = spect_params.get if isinstance(spect_params, dict) else lambda k, d=None: getattr(spect_params, k, d)
        cutoffs = get("freq_cutoffs", None)
        return cls(
            fft_size=int(get("fft_size", 512)),
            step_size=int(get("step_size", 64)),
            thresh=None if get("thresh", None) is None else float(get("thresh")),
            transform_type=get("transform_type", None),
            freq_cutoffs=None if cutoffs is None else (float(cutoffs[0]), float(cutoffs[1])),
        )

    def freqbins(self, samplerate: int) -> np.ndarray:
        """Centre frequencies of the bins vak keeps at this sample rate."""
        freqs = np.fft.fftfreq(self.fft_size, 1 / samplerate)[: self.fft_size // 2 + 1]
        if self.fft_size % 2 == 0:
            freqs[-1] = -freqs[-1]  # matplotlib makes the Nyquist bin positive
        return freqs[self._keep(freqs)]

    def _keep(self, freqs: np.ndarray) -> np.ndarray | slice:
        if not self.freq_cutoffs:
            return slice(None)
        return np.nonzero((freqs >= self.freq_cutoffs[0]) & (freqs < self.freq_cutoffs[1]))[0]

    def power_key(self) -> dict:
        """What a spectrogram's power depends on (``thresh`` and ``transform_type`` act after it)."""
        return {
            "fft_size": self.fft_size,
            "step_size": self.step_size,
            "freq_cutoffs": None if self.freq_cutoffs is None else list(self.freq_cutoffs),
        }


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


def read_predict_config(config_path: str | pathlib.Path) -> tuple[Any, bool]:
    """A predict config, parsed, and whether its model is built without vak: read without vak (7-8 s to
    import) when the config is plainly one vak accepts and its model one of vak-tcn's own networks
    (:func:`vak_files.read_predict_config <vak_tcn.plugins.vak_files.read_predict_config>`,
    :func:`builds_without_vak`); else by vak's parser (its checks, its errors), vak-tcn's plugins loaded
    first (vak checks the model's name against its registry), as ``vak predict`` reads it.  A predict
    config ``vak prep`` has not yet given a dataset path is accepted."""
    from ..plugins import vak_compat, vak_files

    cfg = vak_files.read_predict_config(config_path, unprepped_ok=True)
    if cfg is not None and builds_without_vak(cfg.predict.model.name):
        return cfg, True
    from ..plugins.manager import load_plugins

    load_plugins()  # the start-up hook on or off
    return vak_compat.load_config(config_path, unprepped_ok=True), False


def checkpoint_in(ckpt_dir: str | pathlib.Path, name: str | None = None) -> pathlib.Path | None:
    """The checkpoint of a training run (its ``checkpoints`` directory) that is used: ``name`` when
    given; else the max-val-acc one if there is exactly one, else the only ``.pt`` file, else
    ``checkpoint.pt`` (vak learncurve's rule, vak's file names; where vak would stop, this falls back
    to ``checkpoint.pt``).  None if there is none.  The family's post-training tuner and
    ``vak-tcn tune`` both choose by it."""
    ckpt_dir = pathlib.Path(ckpt_dir)
    if name:
        return ckpt_dir / name if (ckpt_dir / name).is_file() else None
    paths = sorted(ckpt_dir.glob("*.pt"))
    best = [p for p in paths if "max-val-acc" in p.name]
    if len(best) == 1:
        return best[0]
    if len(paths) == 1:
        return paths[0]
    last = ckpt_dir / "checkpoint.pt"
    return last if last.is_file() else None


def config_above(path: pathlib.Path, root: pathlib.Path) -> pathlib.Path | None:
    """The nearest ``*.toml`` in ``path`` or a folder above it, up to ``root`` (the config vak copied
    into a results directory)."""
    for parent in [path, *path.parents]:
        tomls = sorted(parent.glob("*.toml"))
        if tomls:
            return tomls[0]
        if parent == root:
            break
    return None


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
    cleanup: postprocess.Settings = dataclasses.field(default_factory=postprocess.Settings)
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

    # ---- loading
    @classmethod
    def from_predict_config(
        cls, config_path: str | pathlib.Path, cleanup: postprocess.Request | None = None
    ) -> TrainedModel:
        """The model of a stock vak predict config: checkpoint, labelmap, frames standardizer,
        ``[vak.prep.spect_params]``, model table; the clean-up ``cleanup`` asks for, its mode resolved
        with the model's network table (:func:`postprocess.resolve_mode`, :func:`predict_cleanup`;
        None: no clean-up).  FileNotFoundError
        for a missing file, :class:`ModelError` for a labelmap or standardizer that is not one."""
        from ..plugins import vak_compat, vak_files

        config_path = pathlib.Path(config_path)
        if not config_path.exists():
            raise FileNotFoundError(f"config file not found: {config_path}")
        cfg, lean = read_predict_config(config_path)
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
        mode, set_by = postprocess.resolve_mode(cleanup, table) if cleanup is not None else ("none", "not asked for")
        cleanup, source = predict_cleanup(config_path, predict, mode, set_by)
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
        frame duration, and the clean-up stored beside the checkpoint, if any."""
        from ..plugins import vak_compat

        cfg = vak_compat.load_config(config)
        section = cfg.train if getattr(cfg, "train", None) is not None else getattr(cfg, "learncurve", None)
        if section is None:
            raise ValueError(f"{config}: no [vak.train] or [vak.learncurve] table")
        if not section.dataset.path:
            raise ValueError(f"{config}: [vak.{'train' if cfg.train else 'learncurve'}.dataset] has no path")
        input_type = (getattr(cfg.prep, "input_type", "spect") if cfg.prep is not None else "spect") or "spect"
        dataset = pathlib.Path(section.dataset.path)
        if not (dataset / "metadata.json").is_file():
            raise FileNotFoundError(f"{config}: dataset {dataset} not found (no metadata.json)")
        labelmap_path = run_dir / "labelmap.json"
        if not labelmap_path.is_file():
            labelmap_path = dataset / "labelmap.json"
        standardizer_path = run_dir / "FramesStandardizer"
        standardizer = vak_compat.load_frames_standardizer(standardizer_path) if standardizer_path.is_file() else None
        spect = vak_compat.dataset_spect_params(dataset)
        if spect is None:
            spect = cfg.prep.spect_params if cfg.prep is not None else {}
        try:
            tuned = postprocess.stored_settings(checkpoint, "auto")
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
            cleanup=tuned[0] if tuned else postprocess.Settings(),
            cleanup_source=f"tuned ({tuned[1]})" if tuned else "none",
            input_type=input_type,
            dataset=dataset,
            table=section,
            labelmap_path=labelmap_path,
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
        (:func:`record_contradictions`: the table's value of each key, else the network's default),
        in one :class:`ModelError` naming both values and the record."""
        name = self.model_config.get("name")
        defaults = _network_defaults(name)
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


# ---------------------------------------------------------------- clean-up of a predict config's model
def predict_cleanup(config_path: pathlib.Path, predict, mode: str, set_by: str) -> tuple[postprocess.Settings, str]:
    """The clean-up to apply in ``mode`` and a line saying where it comes from (docs/postprocessing.md).

    ``auto``: ``postprocess.json`` beside the checkpoint (tuned after training, or by ``vak-tcn
    tune``) when there is one: exactly the setting chosen and scored on validation.  A clean-up key
    the user wrote in ``[vak.predict]`` (``majority_vote``, ``min_segment_dur``) still applies after
    it, as ``vak predict`` applies it after the model (:func:`postprocess.then`), and the line gives
    both settings' validation character error rates; keys left out add nothing (vak predict's own
    default, ``majority_vote = true``, is said in the line when it would change the tuned setting).
    Without the file: the config's (vak's defaults for keys it leaves out), as vak predict.
    ``tuned``: as ``auto``, an error without the file.  ``config``: the config's alone.  ``none``: none.
    """
    if mode == "none":
        return postprocess.Settings(), f"none ({set_by})"
    import tomllib

    with open(config_path, "rb") as fh:
        table = tomllib.load(fh).get("vak", {}).get("predict", {})
    explicit = [key for key in ("majority_vote", "min_segment_dur") if key in table]
    from_config = postprocess.vak_settings(predict)
    config_source = (
        f"the config's ({', '.join(explicit)} in [vak.predict] of {config_path})" if explicit else "vak's defaults"
    )
    tuned = postprocess.stored_settings(predict.checkpoint_path, mode, set_by)
    if tuned is None:
        if mode == "auto":
            return from_config, f"{config_source} (no {postprocess.FILENAME} beside the checkpoint)"
        return from_config, f"{config_source} ({mode} mode, set by {set_by})"
    settings, path = tuned
    if not explicit:
        source = f"tuned ({path})"
        if postprocess.then(settings, from_config) != settings:  # what stock vak predict adds to it
            source += (
                f"; stock vak predict would add its default {from_config.describe()}: set majority_vote = false in "
                "[vak.predict] for it to apply the tuned clean-up alone"
            )
        return settings, source
    applied = postprocess.then(settings, postprocess.vak_settings(predict))
    if applied == settings:
        return settings, f"tuned ({path}); {config_source} add nothing to it"

    def cer(s: postprocess.Settings) -> str:
        value = postprocess.stored_validation_cer(path, s)
        return "not scored" if value is None else f"{value:.4f}"

    return applied, (
        f"tuned ({path}), then {config_source}: validation character error rate {cer(applied)} against "
        f"{cer(settings)} for the tuned clean-up alone ({settings.describe()}); remove the key(s) or set "
        "majority_vote = false to apply it alone"
    )


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return _shorten(f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__)


def _shorten(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
