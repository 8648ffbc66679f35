"""What ``vak-tcn annotate`` does with each recording (:class:`Options`), and the checks of its values."""

from __future__ import annotations

import dataclasses
import math

from .. import settings
from ..audio.annotations import ANNOT_FORMATS

__all__ = ["MIN_CHUNK_SECONDS", "Options", "check_options", "resolved"]

#: the shortest ``--chunk-seconds``.  Every network call also computes the context its chunk needs
#: (a TCN's receptive field, up to hundreds of frames; 2048 frames each side for TweetyNet), so
#: shorter chunks only repeat that work, never change the result: at 0.05 s (25 frames at 2 ms) a
#: TCN with a 255-frame receptive field already computes 11 frames per frame it outputs; at
#: 0.0001 s every frame would recompute its whole context (a run that seems to hang).
MIN_CHUNK_SECONDS = 0.05


@dataclasses.dataclass(frozen=True)
class Options:
    """What ``vak-tcn annotate`` does with each recording."""

    annot_format: str = "generic-seq"
    probabilities: bool = False
    post_processing: bool = True  # False: no clean-up at all (--no-post-processing)
    cleanup: str | None = None  # auto | tuned | config | none; None: postprocess.resolve_mode
    channel: int | None = None
    chunk_seconds: float = 60.0
    samplerate: int | None = None  # required sample rate (else each file's own, checked against the model)
    #: the sample rate the model was trained at, where the model does not record it (``--model-samplerate``):
    #: recordings at another rate are resampled to it (else only those whose rate the model records are)
    model_samplerate: int | None = None
    threads: int | None = None  # torch's intra-op threads in each process (None: torch's default)
    precision: str = "32"  # "32" or "bf16" (vak_tcn.nn.precision)
    #: vak's float64 spectrogram, two passes (else float32, one pass: Float32Spectrogram); None: the setting
    #: ``annotate_exact`` (``VAK_TCN_ANNOTATE_EXACT``, default off), resolved once (:func:`resolved`)
    exact: bool | None = None
    profile: bool = False  # seconds per stage, in each Result (changes no output)


def resolved(options: Options) -> Options:
    """``options`` with the settings it leaves to vak_tcn.settings resolved (``exact``), so that every
    worker process annotates the same way."""
    return dataclasses.replace(options, exact=settings.resolve("annotate_exact", cli=options.exact, flag="--exact"))


def check_options(options: Options, workers: int | None = None) -> None:
    """ValueError for an option that cannot work (the command line checks these as it parses them)."""
    if options.annot_format not in ANNOT_FORMATS:
        raise ValueError(f"--annot-format {options.annot_format!r}: vak-tcn writes {', '.join(sorted(ANNOT_FORMATS))}")
    if not (math.isfinite(options.chunk_seconds) and options.chunk_seconds >= MIN_CHUNK_SECONDS):
        raise ValueError(
            f"--chunk-seconds must be a number of seconds >= {MIN_CHUNK_SECONDS}, got {options.chunk_seconds}"
        )
    for name, value in (("--workers", workers), ("--threads", options.threads)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
