"""vak-tcn's model family: frame classification with input-aware losses and any metric.

vak's :class:`vak.models.FrameClassificationModel` calls ``loss(logits, target)``
and computes only the metrics it knows by name (``loss``, ``acc``,
``levenshtein``, ``character_error_rate``).  This subclass

* passes the input spectrogram to losses that need it (GS-TMSE), in training
  and validation;
* runs every other metric in the model definition, e.g. the boundary and
  segment metrics registered through the plugin hooks, on the raw and on the
  post-processed predictions; metrics with ``score``/``pool`` methods (F1@k)
  are pooled over the validation files, as MS-TCN's evaluation does;
* stops at once, with :class:`NonFiniteError` naming the file(s) and the cause, on non-finite
  frames or loss (silent or NaN audio would otherwise train to NaN and exit 0): the training
  set's frames files are checked when training starts, each training loss and each validation
  file's frames as they come (the files read by :mod:`vak_tcn.models.dataset_files`, as the
  reference annotations the segment metrics score against are);
* honours ``VAK_TCN_MAX_STEPS`` (resolved when training starts), to bound
  smoke tests and demos by optimizer steps rather than epochs;
* writes ``vak-tcn-provenance.json`` into each training run's results directory
  (:mod:`vak_tcn.models.provenance`).  Seeding happens earlier, when vak builds the
  network (:mod:`vak_tcn.models.seeding`);
* predicts in sub-batches of windows (:func:`predict_in_batches`): vak hands
  ``predict_step`` all of a file's windows at once;
* tunes the clean-up of its predictions on the validation split when training ends, and
  writes ``postprocess.json`` beside the checkpoint vak evaluates (:meth:`on_fit_end`,
  :mod:`vak_tcn.models.after_training`, which ``vak-tcn tune`` uses too; ``VAK_TCN_TUNE=0`` turns
  it off); ``vak eval`` (and learncurve's evaluation) then report the
  tuned clean-up in the ``_tfm`` columns, the config's ``post_tfm_kwargs`` in ``_fixed`` and
  the tuned one again in ``_tuned``; ``vak predict`` applies it before vak's own clean-up
  (docs/postprocessing.md);
* records, when training ends, the reference level ``vak-tcn live`` normalises by without
  ``--calibration``: ``reference_power.json`` beside the checkpoint (:meth:`record_reference`, also
  with ``VAK_TCN_TUNE=0``; docs/live.md);
* predicts and evaluates in float32, or in bfloat16 with ``VAK_TCN_PRECISION=bf16``
  (:mod:`vak_tcn.nn.precision`; float32 with one warning where the hardware has no bf16).

Its settings (step cap, clean-up mode, tuning, precision, predict batch size) are declared in
:mod:`vak_tcn.settings` and resolved in the hooks vak calls, once each.

The class is deliberately named ``FrameClassificationModel``: vak's
``train``/``eval``/``predict``/``learncurve`` dispatch on the family's class
*name*, so this family runs through exactly vak's frame classification code.
"""

from __future__ import annotations

import copy
import logging
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from .. import settings
from ..plugins import vak_compat
from . import after_training, cleanup, results, trained
from .dataset_files import dataset_references, frame_times_of, frames_finite, nonfinite_sources, source_of
from .record_check import record_contradictions

logger = logging.getLogger(__name__)
#: messages a vak user must see go to vak's own logger, so they land in vak's log file too
vak_logger = logging.getLogger("vak").getChild("vak_tcn")


class NonFiniteError(RuntimeError):
    """Non-finite frames or loss: training would go on and report NaN results as numbers."""


#: why a prepared dataset's frames are NaN/inf, in the words a user can act on
NONFINITE_CAUSE = (
    "non-finite (NaN/inf) spectrogram values: silent audio (vak's log_spect divides by the file's "
    "peak power, 0 for silence) or NaN samples; remove or fix the file(s) and run vak prep again"
)


def _nonfinite_message(where: str, sources: list[str], dataset_path) -> str:
    shown = ", ".join(sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5 else "")
    return f"{len(sources)} file(s) of {where} (dataset {dataset_path}) have {NONFINITE_CAUSE}: {shown}"


def predict_in_batches(network: Callable, windows: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``network(windows)``, computed ``batch_size`` windows at a time and concatenated.

    Each window is independent, so the output is the whole batch's; the network's activations
    exist for ``batch_size`` windows at a time instead of for all of a file's.
    """
    if windows.shape[0] <= batch_size:
        return network(windows)
    return torch.cat([network(windows[i : i + batch_size]) for i in range(0, windows.shape[0], batch_size)])


def _multi_frame_labels(batch: Mapping) -> torch.Tensor:
    if "multi_frame_labels" not in batch:
        raise ValueError(
            "vak-tcn models predict one class per frame and need 'multi_frame_labels' in the "
            f"batch; this batch has {sorted(batch.keys())}. Prepare the dataset with "
            "vak prep (frame classification, multi-class labels)."
        )
    return batch["multi_frame_labels"]


def _windows_to_sequence(x: torch.Tensor) -> torch.Tensor:
    """(windows, ..., window) -> (1, ..., windows * window): concatenate windows in time."""
    dims = list(range(1, x.ndim - 1))
    return torch.flatten(x.permute(*dims, 0, x.ndim - 1), start_dim=x.ndim - 2).unsqueeze(0)


def _score_metric(
    metric: Callable, y_pred: np.ndarray, y_true: np.ndarray, **context
) -> tuple[dict[str, float], dict[str, Any]]:
    """A plugin metric's values for one file, and its counts to pool over the validation set.

    A metric with ``score`` and ``pool`` methods (vak-tcn's ``segmentation``)
    returns ``(values, counts)`` from ``score``; the family sums the counts
    over files and logs ``pool(summed counts)`` at the end of the epoch.  Any
    other metric is called and returns a value or a mapping of named values.
    """
    if callable(getattr(metric, "score", None)) and callable(getattr(metric, "pool", None)):
        values, counts = metric.score(y_pred, y_true, **context)
    else:
        values, counts = metric(y_pred, y_true, **context), {}
    if isinstance(values, Mapping):
        return {key: float(val) for key, val in values.items()}, dict(counts)
    return {"": float(values)}, dict(counts)


def _sequence_to_windows(x: torch.Tensor, n_windows: int) -> torch.Tensor:
    """(1, classes, windows * window) -> (windows, classes, window): :func:`_windows_to_sequence` undone."""
    classes = x.shape[1]
    return x[0].reshape(classes, n_windows, -1).permute(1, 0, 2)


#: the checkpoint of a training run that vak evaluates, and vak-tcn tunes: the one rule, in .results
checkpoint_vak_evaluates = results.checkpoint_in


class FrameClassificationModel(vak_compat.base_family()):
    """Frame classification family of vak-tcn (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .seeding import CONFIG_ATTR

        #: the network table's vak-tcn settings (``post_processing``), as the seeded network recorded them
        self._network_settings = getattr(self.network, CONFIG_ATTR, {})
        self._max_steps: int | None = None  # VAK_TCN_MAX_STEPS, resolved when training starts
        self._predict_batch_size: int | None = None  # VAK_TCN_PREDICT_BATCH_SIZE, resolved at the first predict_step
        self._checkpoint_path: pathlib.Path | None = None
        self._config_tfm = self.post_tfm  # vak's, from the config's post_tfm_kwargs (or None)
        self._fixed_tfm = None  # the config's clean-up, logged as _fixed in vak eval
        self._tuned_tfm: cleanup.Settings | None = None
        self._predict_cleanup: cleanup.Settings | None = None

    def load_state_dict_from_path(self, ckpt_path):
        """vak's, remembering the checkpoint: its ``postprocess.json`` is the tuned clean-up.  A network
        built from a config that contradicts the checkpoint's training record (``causal``, stages: keys
        that keep the weight shapes) is refused first, naming both values (stock ``vak eval``/``predict``;
        ``vak-tcn annotate`` and ``live`` check the same, :meth:`TrainedModel.check_against_record`)."""
        from .seeding import BUILD_ATTR

        resolved = (
            getattr(self.network, BUILD_ATTR, {}).get("network_kwargs") if not isinstance(self.network, dict) else None
        )
        found = record_contradictions(ckpt_path, resolved) if resolved else None
        if found:
            record, said = found
            raise ValueError(
                f"the model's network table contradicts the trained model ({record}): {'; '.join(said)}; set the "
                "key(s) in the config's network table to the trained value(s)"
            )
        super().load_state_dict_from_path(ckpt_path)
        self._checkpoint_path = pathlib.Path(ckpt_path)

    # ---- clean-up: tuned after training, used in eval and predict ---------------------------------
    def cleanup_mode(self) -> str:
        """``VAK_TCN_POST_PROCESSING``, else the network table's ``post_processing``, else ``auto``
        (:func:`vak_tcn.settings.resolve`; ``vak-tcn annotate``'s ``--post-processing`` comes first there)."""
        return settings.resolve("post_processing", config=self._network_settings.get("post_processing"))

    def _tuned_settings(self) -> tuple[cleanup.Settings, pathlib.Path] | None:
        """The tuned clean-up beside the loaded checkpoint, if the mode uses it and it exists."""
        return cleanup.stored_settings(self._checkpoint_path, self.cleanup_mode())

    def _set_eval_cleanup(self) -> None:
        """``vak eval``: ``_tfm`` is the tuned clean-up when there is one (the config's otherwise),
        ``_fixed`` the config's ``post_tfm_kwargs``, ``_tuned`` the tuned one."""
        mode = self.cleanup_mode()
        self.post_tfm, self._fixed_tfm, self._tuned_tfm = self._config_tfm, None, None
        if mode == "none":
            self.post_tfm = None
            return
        if mode == "config":
            return
        tuned = self._tuned_settings()
        self._fixed_tfm = self._config_tfm
        if tuned is not None:
            self._tuned_tfm = tuned[0]
            self.post_tfm = tuned[0]
            vak_logger.info(f"evaluating with tuned clean-up {tuned[0].describe()} from {tuned[1]}")

    def _apply_cleanup(self, tfm, y_pred: np.ndarray, context: Mapping) -> np.ndarray:
        """``y_pred`` (1, time) cleaned by vak's post_tfm or by tuned :class:`cleanup.Settings`."""
        if isinstance(tfm, cleanup.Settings):
            if context.get("frame_dur") is None:
                raise ValueError("tuned clean-up needs the dataset's frame duration; vak gave none")
            return np.atleast_2d(cleanup.clean(y_pred[0], context["frame_dur"], tfm, context["background"]))
        # copy: vak 1.0's post-processing edits its input in place (vak issue #821),
        # which would corrupt the raw predictions scored beside it
        return np.atleast_2d(tfm(np.copy(y_pred)))

    def on_fit_end(self) -> None:
        """Record the reference level for live use (:meth:`record_reference`), then tune the clean-up on
        the validation split (:meth:`tune_cleanup`) unless ``VAK_TCN_TUNE=0``."""
        trainer = self._trainer
        if trainer is None or not trainer.is_global_zero:
            return
        try:
            self.record_reference()
        except Exception as e:  # training is done and saved: say so, do not lose the run
            vak_logger.warning(
                f"reference level for live use not recorded ({type(e).__name__}: {e}); "
                "`vak-tcn tune RESULTS_DIR` records it"
            )
        if not settings.resolve("tune"):
            return
        try:
            self.tune_cleanup()
        except Exception as e:  # training is done and saved: say so, do not lose the run
            vak_logger.warning(f"clean-up not tuned after training ({type(e).__name__}: {e})")

    def record_reference(self) -> pathlib.Path | None:
        """Write ``reference_power.json`` beside the checkpoint: the level ``vak-tcn live`` normalises by
        without ``--calibration``, from the training files' audio (:func:`after_training.record_reference`)."""
        found = vak_compat.dataset_sources(self._train_dataset())
        ckpt = after_training.evaluated_checkpoint(self._trainer)
        if found is None or ckpt is None:
            vak_logger.info("no vak training set or no checkpoint saved: no reference level recorded for live use")
            return None
        dataset_path, _, files = found
        doc, path = after_training.record_reference(
            ckpt, dataset_path, "vak-tcn, after training", sources=[source for _, source in files]
        )
        low, high = doc["files_db_range"]
        vak_logger.info(
            f"reference level for vak-tcn live: {doc['reference_power']:.6g}, the median maximum power of "
            f"{doc['n_files']} training files (theirs {low:+.1f} to {high:+.1f} dB from it); -> {path}"
        )
        return path

    def tune_cleanup(self) -> pathlib.Path | None:
        """Run the checkpoint vak will evaluate over the validation split, tune the clean-up on it and write
        ``postprocess.json`` beside the checkpoint (:func:`after_training.tune_and_write`: the default grid,
        the config's clean-up among the candidates, the one-standard-error rule).  vak's log gets the choice
        and what it gains on validation over raw and over the config's clean-up, and a warning when there
        are one or two validation files."""
        loaders = self._trainer.val_dataloaders
        loader = loaders[0] if isinstance(loaders, (list, tuple)) and loaders else loaders
        if not loader:
            vak_logger.info("no validation split: the clean-up is not tuned")
            return None
        ckpt = after_training.evaluated_checkpoint(self._trainer)
        if ckpt is None:
            vak_logger.info("no checkpoint saved: the clean-up is not tuned")
            return None
        state = torch.load(ckpt, map_location=self.device, weights_only=False)["state_dict"]
        network = copy.deepcopy(self.network)
        network.load_state_dict({k.removeprefix("network."): v for k, v in state.items() if k.startswith("network.")})
        network.eval()
        predictions, references, frame_durs = [], [], []
        with torch.inference_mode():
            for batch in loader:
                _, _, target, y_pred = self._sequence_predictions(network, batch)
                predictions.append(y_pred[0])
                references.append(target.cpu().numpy()[0])
                frame_durs.append(self._context(batch)["frame_dur"])
        if any(d is None for d in frame_durs):
            raise ValueError("no frame duration for the validation files (not a vak-prepared dataset?)")
        result, path = after_training.tune_and_write(
            ckpt, predictions, references, frame_durs, background=self._background_index(),
            fixed=self._fixed_cleanup(ckpt), tuned_by="vak-tcn, after training", frame_dur=float(np.mean(frame_durs)),
        )  # fmt: skip
        vak_logger.info(
            f"clean-up tuned on {result.n_files} validation file{'' if result.n_files == 1 else 's'} in "
            f"{result.seconds:.2f} s: {result.summary()}; -> {path}"
        )
        if result.warning:
            vak_logger.warning(result.warning)
        return path

    def _fixed_cleanup(self, ckpt: pathlib.Path) -> cleanup.Settings | None:
        """The config's fixed clean-up, a candidate of the tuner (:func:`after_training.fixed_cleanup`)."""
        return after_training.fixed_cleanup(self._config_tfm, ckpt)

    def _sequence_predictions(self, network, batch: Mapping):
        """A validation batch (one file's windows) through ``network``: ``(class_logits (1, classes,
        time), frames (1, ..., time), target, argmax labels (1, time) as NumPy)``, padding removed."""
        frames = batch["frames"]
        if frames.ndim in (5, 4) and frames.shape[0] == 1:  # batch dim added by collate
            frames = torch.squeeze(frames, dim=0)
        elif frames.ndim not in (4, 3):
            raise ValueError(f"invalid shape for frames: {tuple(frames.shape)}")
        self._check_validation_frames(batch, frames)
        frames = frames.to(self.device)
        target = _multi_frame_labels(batch).to(self.device)
        class_logits = _windows_to_sequence(network(frames))  # (1, classes, time)
        frames_seq = _windows_to_sequence(frames)  # (1, channels, freqbins, time)
        if "padding_mask" in batch:
            mask = batch["padding_mask"]
            if mask.ndim == 2 and mask.shape[0] == 1:
                mask = torch.squeeze(mask, dim=0)
            class_logits = class_logits[..., mask]
            frames_seq = frames_seq[..., mask]
        return class_logits, frames_seq, target, torch.argmax(class_logits, dim=1).cpu().numpy()

    def training_step(self, batch: dict, batch_idx: int):
        frames = batch["frames"]
        target = _multi_frame_labels(batch)
        # MS-TCN: the loss of every stage's logits, summed (a network without stages: its output's)
        forward_stages = getattr(self.network, "forward_stages", None)
        stages = forward_stages(frames) if callable(forward_stages) else [self.network(frames)]
        loss = self._compute_loss(stages[0], target, frames)
        for logits in stages[1:]:
            loss = loss + self._compute_loss(logits, target, frames)
        if not torch.isfinite(loss):
            self._nonfinite_training_loss(loss, frames)
        self.log("train_loss", loss, on_step=True)
        return loss

    def _train_dataset(self):
        trainer = self._trainer  # None outside a fit (self.trainer would raise)
        return getattr(getattr(trainer, "train_dataloader", None), "dataset", None)

    def _check_training_frames(self) -> bool:
        """Raise :class:`NonFiniteError` naming the training files whose frames are NaN/inf;
        False if there is no vak training set to check."""
        found = vak_compat.dataset_sources(self._train_dataset())
        if found is None:
            return False
        dataset_path, input_type, files = found
        bad = nonfinite_sources(files, input_type)
        if bad:
            raise NonFiniteError(_nonfinite_message("the training set", bad, dataset_path))
        return True

    def _nonfinite_training_loss(self, loss: torch.Tensor, frames: torch.Tensor) -> None:
        files_finite = self._check_training_frames()  # names the files, if the data are the cause
        inputs = "finite input frames" if bool(torch.isfinite(frames).all()) else "non-finite input frames"
        raise NonFiniteError(
            f"training loss is {float(loss.detach())} at step {self.global_step} with {inputs}"
            + (", though every training frames file is finite" if files_finite else "")
            + ": the frames standardizer or the training diverged (try a lower learning rate)"
        )

    def _check_validation_frames(self, batch: Mapping, frames: torch.Tensor) -> None:
        """Raise :class:`NonFiniteError` naming a validation (or eval) file with NaN/inf frames."""
        if bool(torch.isfinite(frames).all()):
            return
        located = self._frames_file(batch)
        name = str(located[0]) if located else "a validation file (vak gave no path)"
        raw_finite = located is not None and frames_finite(str(located[0]), "spect", located[0].stat().st_mtime)
        if raw_finite:  # the standardizer, fitted on the training split, is the cause: name its bad files
            bad = nonfinite_sources(vak_compat.prepared_split_sources(located[1], "train"))
            if bad:
                raise NonFiniteError(_nonfinite_message("the training split", bad, located[1]))
            raise NonFiniteError(
                f"frames of {name} are finite on disk but non-finite after the frames standardizer: it was "
                f"fitted on training data with {NONFINITE_CAUSE}"
            )
        source = source_of(located) if located else None
        raise NonFiniteError(f"{source + ' (frames ' + name + ')' if source else name} has {NONFINITE_CAUSE}")

    def on_train_start(self) -> None:
        cap = self._max_steps = settings.resolve("max_steps")
        if cap is not None:  # a variable left set by a test or demo would silently cut real training
            variable = settings.MAX_STEPS.env
            vak_logger.warning(
                f"{variable}={cap}: training stops after {cap} optimizer steps, whatever num_epochs says "
                f"(unset {variable} for full training)"
            )
        # the receptive-field check of vak-tcn's networks, on the window vak trains with
        window_warning = getattr(self.network, "window_warning", None)
        dataset = getattr(getattr(self.trainer, "train_dataloader", None), "dataset", None)
        window = getattr(dataset, "window_size", None)
        if window_warning is not None and isinstance(window, int):
            warning = window_warning(window)
            if warning is not None:
                vak_logger.warning(warning)
        self._check_training_frames()  # bad audio stops the run before its first step

    def configure_callbacks(self):
        # vak-tcn-provenance.json in the run's results directory (vak_tcn.models.provenance)
        from .provenance import provenance_callback

        return [*super().configure_callbacks(), provenance_callback()]

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        cap = self._max_steps
        if cap is not None and self.global_step >= cap:
            logger.info(f"{settings.MAX_STEPS.env}={cap} reached: stopping training")
            self.trainer.should_stop = True

    def on_predict_start(self) -> None:
        self._use_inference_network()
        tuned = self._tuned_settings()
        self._predict_cleanup = None if tuned is None or tuned[0].is_off else tuned[0]
        if tuned is not None:
            vak_logger.info(
                f"tuned clean-up {tuned[0].describe()} from {tuned[1]}, then vak predict's own (the config's "
                "min_segment_dur and majority_vote, whose default is true: set majority_vote = false in "
                "[vak.predict] to apply the tuned clean-up alone)"
            )

    def _cleaned_logits(self, logits: torch.Tensor, batch: Mapping, settings: cleanup.Settings) -> torch.Tensor:
        """Logits of a file's windows whose argmax is the tuned clean-up of theirs: at each frame the
        clean-up relabels, its new label's logit becomes the frame's maximum + 1 (others untouched)."""
        located = self._frames_file(batch)
        frame_dur = vak_compat.dataset_frame_dur(str(located[1])) if located else None
        if frame_dur is None:
            raise ValueError("tuned clean-up in vak predict needs the prepared dataset's frame duration")
        seq = _windows_to_sequence(logits).clone()  # (1, classes, time)
        valid = torch.ones(seq.shape[-1], dtype=torch.bool, device=seq.device)
        if "padding_mask" in batch:  # a tensor on the model's device in vak predict
            valid = torch.as_tensor(batch["padding_mask"], device=seq.device).reshape(-1).bool()
        index = torch.nonzero(valid).flatten()
        labels = seq[0][:, index].argmax(dim=0).cpu().numpy()
        cleaned = cleanup.clean(labels, frame_dur, settings, self._background_index())
        changed = np.flatnonzero(cleaned != labels)
        if changed.size:
            frames = index[torch.as_tensor(changed, device=seq.device)]
            top = seq[0][:, frames].max(dim=0).values
            seq[0, torch.as_tensor(cleaned[changed], device=seq.device), frames] = top + 1
        return _sequence_to_windows(seq, logits.shape[0])

    def predict_step(self, batch: dict, batch_idx: int):
        """vak's ``predict_step``, with the file's windows run in sub-batches (:func:`predict_in_batches`)."""
        frames, frames_path = batch["frames"].to(self.device), batch["frames_path"]
        if isinstance(frames_path, list) and len(frames_path) == 1:
            frames_path = frames_path[0]
        if frames.ndim not in (5, 4):
            raise ValueError(f"invalid shape for `frames`: {frames.shape}")
        if frames.shape[0] == 1:
            frames = torch.squeeze(frames, dim=0)
        if self._predict_batch_size is None:  # vak gives the model no batch_size (vak-tcn predict exports it)
            self._predict_batch_size = settings.resolve("predict_batch_size")
        logits = predict_in_batches(self.network, frames, self._predict_batch_size)
        if self._predict_cleanup is not None:
            logits = self._cleaned_logits(logits, batch, self._predict_cleanup)
        return {frames_path: logits}

    def on_validation_start(self) -> None:
        if self.trainer is not None and self.trainer.state.fn == "validate":  # `vak eval`, not validation during fit
            self._use_inference_network()
            self._set_eval_cleanup()

    def _use_inference_network(self) -> None:
        """Predict/eval only: run a copy of the network with weight norm folded (faster, same outputs),
        in the precision ``VAK_TCN_PRECISION`` asks for (:mod:`vak_tcn.nn.precision`)."""
        from ..nn.precision import PrecisionNetwork, with_precision
        from ..nn.tcn import inference_copy

        if isinstance(self.network, PrecisionNetwork):  # already set up (a second predict/validate)
            return
        self.network = with_precision(inference_copy(self.network), settings.resolve("precision"), self.device.type)

    def _compute_loss(self, logits, target, frames, loss_fn=None):
        loss_fn = self.loss if loss_fn is None else loss_fn
        if getattr(loss_fn, "needs_inputs", False):
            return loss_fn(logits, target, inputs=frames)
        return loss_fn(logits, target)

    def _log(self, name: str, value) -> None:
        # the same call vak's family makes, so metric names match vak's exactly
        self.log(name, value, batch_size=1, on_step=True, sync_dist=True)

    def _background_index(self) -> int:
        return trained.background_index(self.labelmap)

    @staticmethod
    def _frames_file(batch: Mapping) -> tuple[pathlib.Path, pathlib.Path] | None:
        """(frames file, prepared dataset directory) of a validation batch, if known."""
        paths = batch.get("frames_path")
        if not paths:
            return None
        path = pathlib.Path(paths[0] if isinstance(paths, (list, tuple)) else paths)
        # prepared datasets keep frames in <dataset>/<split>/, metadata.json in <dataset>
        for parent in path.parents[:3]:
            if (parent / "metadata.json").exists():
                return path, parent
        return None

    def _context(self, batch: Mapping) -> dict[str, Any]:
        """What plugin metrics get besides the frame labels (see docs/plugins.md)."""
        frame_dur, reference, frame_times = None, None, None
        for tfm in (self.post_tfm, self._config_tfm):  # vak's PostProcess knows the frame duration
            if frame_dur is None and hasattr(tfm, "timebin_dur"):
                frame_dur = float(tfm.timebin_dur)
        located = self._frames_file(batch)
        if located is not None:
            path, dataset_dir = located
            if frame_dur is None:
                frame_dur = vak_compat.dataset_frame_dur(str(dataset_dir))
            frame_times = frame_times_of(path)
            segments = dataset_references(str(dataset_dir)).get(path.name)
            if segments is not None:
                onsets, offsets, labels = segments
                ints = np.array([self.labelmap.get(lbl, -1) for lbl in labels], dtype=int)
                reference = {"onsets_s": onsets, "offsets_s": offsets, "labels": ints}
        return {
            "frame_dur": frame_dur,
            "frame_times": frame_times,
            "background": self._background_index(),
            "reference": reference,
        }

    def validation_step(self, batch: dict, batch_idx: int):
        class_logits, frames_seq, target, y_pred = self._sequence_predictions(self.network, batch)
        y_true = target.cpu().numpy()
        context = self._context(batch)
        variants = {"": y_pred}  # raw, then each clean-up: suffix -> (1, time) labels
        for suffix, tfm in (("_tfm", self.post_tfm), ("_fixed", self._fixed_tfm), ("_tuned", self._tuned_tfm)):
            if tfm is not None:
                variants[suffix] = self._apply_cleanup(tfm, y_pred, context)
        true_str = self.to_labels_eval(y_true)
        standard = vak_compat.standard_metrics()

        for name, metric in self.metrics.items():
            if name == "loss":
                # validation loss is the training objective, inputs included, of the last stage (the
                # logits every metric scores; training sums it over stages: docs/models.md)
                self._log("val_loss", self._compute_loss(class_logits, target, frames_seq))
            elif name == "acc":
                for suffix, preds in variants.items():
                    self._log(f"val_acc{suffix}", metric(torch.from_numpy(preds).to(self.device), target))
            elif name in standard:  # levenshtein, character_error_rate: label strings
                for suffix, preds in variants.items():
                    self._log(f"val_{name}{suffix}", float(metric(self.to_labels_eval(preds), true_str)))
            else:  # plugin metrics: numpy frame labels in, named values out
                for suffix, preds in variants.items():
                    values, counts = _score_metric(metric, preds[0], y_true[0], **context)
                    for key, val in values.items():
                        self._log(f"val_{key or name}{suffix}", val)
                    self._accumulate_counts(name, suffix, counts)

    # ---- metrics pooled over the validation set (MS-TCN's F1@k) ----------------------------
    def on_validation_epoch_start(self) -> None:
        self._pooled_counts: dict[tuple[str, str, str], np.ndarray] = {}

    def _accumulate_counts(self, name: str, variant: str, counts: Mapping[str, Any]) -> None:
        """Add one file's counts of a pooled metric (see :func:`_score_metric`) to the epoch's sums."""
        if not hasattr(self, "_pooled_counts"):
            self._pooled_counts = {}
        for key, val in counts.items():
            total = self._pooled_counts.get((name, variant, key))
            val = np.asarray(val, dtype=np.int64)
            self._pooled_counts[(name, variant, key)] = val if total is None else total + val

    def on_validation_epoch_end(self) -> None:
        """Log pooled metrics once per epoch as ``val_<key><variant>_epoch``.

        The per-file values go through ``self.log(..., on_step=True)``, which
        Lightning also averages into ``val_<key>_epoch``; vak's eval writes
        every ``val_*_epoch`` value of ``trainer.validate`` as
        ``avg_val_*_epoch``.  A pooled value logged under that name directly
        (epoch level only) lands in the same columns of the eval CSV and
        ``learning_curve.csv`` as the per-file means do.
        """
        pooled = getattr(self, "_pooled_counts", {})
        self._pooled_counts = {}
        for (name, variant, key), total in sorted(pooled.items()):
            total = torch.as_tensor(total, dtype=torch.int64, device=self.device)
            if self._trainer is not None:  # summed over processes when there are several
                total = self._trainer.strategy.reduce(total, reduce_op="sum")
            counts = {key: tuple(int(c) for c in total.cpu().tolist())}
            for pooled_key, val in self.metrics[name].pool(counts).items():
                self.log(f"val_{pooled_key}{variant}_epoch", float(val), on_step=False, on_epoch=True)
