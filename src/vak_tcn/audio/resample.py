"""Audio at another sample rate than a model's, resampled to it as it is read (docs/annotate.md,
"Recordings at another sample rate").

One resampler, soxr (libsoxr's "HQ" quality: a linear-phase low-pass whose pass band reaches 95 % of
the lower Nyquist frequency, stop band attenuation above 140 dB), streamed: :func:`resampled_reader`
wraps a block reader (:func:`~vak_tcn.audio.read.block_reader`) and yields the resampled samples in
blocks, in bounded memory, the filter's state carried across blocks (the same samples as resampling
the whole recording at once).  The length of the resampled recording is known before it is read
(:func:`resampled_length`), so its number of frames, and the times of its frames in seconds of the
original recording, are known as for any recording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["QUALITY", "RESAMPLER", "resampled_length", "resampled_reader", "resampler"]

#: the resampler and its quality, as a record names them
RESAMPLER = "soxr"
QUALITY = "HQ"


def resampler() -> str:
    """The resampler, its version and quality, in words (``soxr 1.1.0, HQ``)."""
    import soxr

    return f"{RESAMPLER} {soxr.__version__}, {QUALITY}"


def resampled_length(n_samples: int, from_rate: int, to_rate: int) -> int:
    """The samples ``n_samples`` at ``from_rate`` give at ``to_rate``: ``n * to / from`` rounded half
    up, as soxr gives them (exact integer arithmetic)."""
    return (2 * int(n_samples) * int(to_rate) + int(from_rate)) // (2 * int(from_rate))


def resampled_reader(
    read_blocks: Callable[[int], Iterator[np.ndarray]], n_samples: int, from_rate: int, to_rate: int
) -> Callable[[int], Iterator[np.ndarray]]:
    """``read_blocks(n)`` for the recording that ``read_blocks`` reads (``n_samples`` at ``from_rate``),
    resampled to ``to_rate``: blocks of about ``n`` samples, exactly :func:`resampled_length` in all
    (soxr gives that many; a last sample more or less, with another soxr, is cut or padded with silence)."""
    import soxr

    total = resampled_length(n_samples, from_rate, to_rate)

    def read(n: int) -> Iterator[np.ndarray]:
        stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float64", quality=QUALITY)
        given, read_so_far = 0, 0
        source_block = max(1, int(round(n * from_rate / to_rate)))
        blocks = read_blocks(source_block)
        pending = next(blocks, None)
        while pending is not None:
            following = next(blocks, None)  # one block ahead: soxr must be told which is the last
            read_so_far += len(pending)
            last = following is None
            out = stream.resample_chunk(np.ascontiguousarray(pending, dtype=np.float64), last=last)
            out = out[: total - given]
            if len(out):
                given += len(out)
                yield out
            pending = following
        if read_so_far == 0:  # nothing read: soxr is never told the end
            return
        if given < total:
            yield np.zeros(total - given)

    return read
