"""The Python API: a trained model in a notebook, the same machinery as ``vak-tcn annotate``.

>>> import vak_tcn
>>> model = vak_tcn.load("results/results_241207_101500")        # or a vak predict config
>>> segments = model.annotate("bout.wav")                        # a DataFrame: onset_s, offset_s, label
>>> segments, probs = model.annotate(samples, samplerate=32000, probabilities=True)

:func:`load` names a trained model by its results directory (``vak train`` or ``vak learncurve``:
``run`` picks one of learncurve's replicates, as ``--run`` does) or by a stock vak predict config, as
the commands do (:class:`~vak_tcn.models.trained.TrainedModel`).  :meth:`Model.annotate` runs the
model's one runtime (:class:`~vak_tcn.inference.annotator.Annotator`) on a file or on an array; an
array is written to a temporary WAV file first (float32, what the audio reader reads), so that it
goes through exactly the path a recording on disk takes.  docs/python-api.md.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile

import numpy as np

__all__ = ["Model", "Probabilities", "load"]


@dataclasses.dataclass(frozen=True)
class Probabilities:
    """Per-frame class probabilities of one recording: ``probabilities`` (classes, frames), float32;
    ``frame_times`` (s, vak's: each frame's centre); ``labels``, the class of each row."""

    probabilities: np.ndarray
    frame_times: np.ndarray
    labels: list[str]


class Model:
    """A trained model, loaded once (:func:`load`); :meth:`annotate` runs it."""

    def __init__(self, trained, options):
        from .inference.annotator import Annotator

        #: the :class:`~vak_tcn.models.trained.TrainedModel` (labelmap, clean-up, spectrogram parameters, ...)
        self.trained = trained
        self._annotator = Annotator(trained, options)

    @property
    def labels(self) -> list[str]:
        """The classes, in the order of the probabilities' rows."""
        return [name for name, _ in sorted(self.trained.labelmap.items(), key=lambda kv: kv[1])]

    @property
    def cleanup(self) -> str:
        """The clean-up applied, and where it comes from (one line)."""
        return f"{self.trained.cleanup.describe()}; from {self.trained.cleanup_source}"

    def annotate(
        self, audio, samplerate: int | None = None, *, probabilities: bool = False
    ):  # -> DataFrame | tuple[DataFrame, Probabilities]
        """The segments of one recording: a :class:`pandas.DataFrame` with ``onset_s``, ``offset_s`` and
        ``label``, one row per segment, in time order; with ``probabilities``, also its
        :class:`Probabilities`.

        ``audio``: a path to an audio file (any format ``vak-tcn annotate`` reads), or an array of
        samples (one channel, or ``(samples, channels)`` with the annotator's ``channel``) with its
        ``samplerate``.  ValueError for a recording that cannot be annotated (the message annotate
        writes for it)."""
        import pandas as pd

        from .audio.annotations import PROBABILITIES_SUFFIX

        with tempfile.TemporaryDirectory(prefix="vak-tcn-api-") as tmp:
            tmp = pathlib.Path(tmp)
            path = self._recording(audio, samplerate, tmp)
            outputs = {"annotation": tmp / "annotation.csv"}
            if probabilities:
                outputs["probabilities"] = tmp / f"annotation{PROBABILITIES_SUFFIX}"
            self._annotator.annotate(path, outputs)
            table = pd.read_csv(outputs["annotation"])
            segments = pd.DataFrame(
                {
                    "onset_s": table["onset_s"].astype(float).to_numpy(),
                    "offset_s": table["offset_s"].astype(float).to_numpy(),
                    "label": table["label"].astype(str).to_numpy(),
                }
            )
            if not probabilities:
                return segments
            with np.load(outputs["probabilities"]) as npz:
                probs = Probabilities(
                    np.asarray(npz["probabilities"]), np.asarray(npz["frame_times"]), [str(x) for x in npz["labels"]]
                )
        return segments, probs

    @staticmethod
    def _recording(audio, samplerate: int | None, tmp: pathlib.Path) -> pathlib.Path:
        if isinstance(audio, (str, pathlib.Path)):
            if samplerate is not None:
                raise ValueError("samplerate is for an array of samples; a file says its own")
            return pathlib.Path(audio)
        if samplerate is None:
            raise ValueError("an array of samples needs its samplerate (Hz)")
        import soundfile

        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim not in (1, 2) or samples.shape[0] == 0:
            raise ValueError(
                f"audio: an array of samples, (samples,) or (samples, channels); got shape {samples.shape}"
            )
        path = tmp / "recording.wav"
        soundfile.write(path, samples, int(samplerate), subtype="FLOAT")
        return path


def load(
    source: str | pathlib.Path,
    *,
    run: str | None = None,
    checkpoint: str | None = None,
    post_processing: str | None = None,
    channel: int | None = None,
    precision: str = "32",
) -> Model:
    """A trained model, ready to annotate.

    ``source``: a ``vak train`` or ``vak learncurve`` results directory (``run``: a part of the path of
    one of learncurve's replicates; ``checkpoint``: a checkpoint file name, default vak learncurve's
    rule), or a stock vak predict config.  ``post_processing``: the clean-up mode (``auto``, ``tuned``,
    ``config``, ``none``; default: the setting, else ``auto``), as ``--post-processing``; a results
    directory's clean-up is the one of the predict config ``vak-tcn predict-config`` writes for it (the
    tuned one alone, else its ``post_tfm_kwargs``), as ``vak-tcn annotate RESULTS_DIR`` applies it.  ``channel``:
    of multichannel audio.  ``precision``: ``32`` or ``bf16``."""
    from .inference.annotator import cleanup_request
    from .inference.options import Options
    from .models.predict_config import results_model
    from .models.trained import TrainedModel

    source = pathlib.Path(source)
    options = Options(cleanup=post_processing, channel=channel, precision=precision)
    if not source.exists():
        raise FileNotFoundError(f"not found: {source} (a results directory or a vak predict config)")
    # a results directory: its run's model with the clean-up of the predict config it gives (vak-tcn annotate's rule)
    trained = results_model(source, run, checkpoint, cleanup_request(options), lambda line: None)
    if trained is None:
        trained = TrainedModel.from_predict_config(source, cleanup_request(options))
    return Model(trained, options)
