"""Where ``vak-tcn live``'s audio comes from: blocks of samples of one channel, as float64.

* ``--simulate FILE``: :func:`_blocks_from_file`, a recording (annotate's block reader) played at
  real-time pace (``--speed``);
* ``--stdin``: :func:`_blocks_from_stdin`, raw interleaved PCM of ``--dtype`` (:data:`DTYPES`),
  whose first second is checked before any of it is used (:func:`dtype_problem`; a wrong
  ``--dtype`` raises :class:`_Refused`);
* ``--device``: :func:`_blocks_from_device`, a sound card through the optional ``sounddevice``
  package.

The command that picks one is :mod:`.run`.
"""

from __future__ import annotations

import pathlib
import queue
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np

DTYPES = ("int16", "int32", "float32")
SCALES = {"int16": 2**15, "int32": 2**31, "float32": 1.0}

# what --stdin's first second must look like for its --dtype (dtype_problem, docs/live.md)
FLOAT_LIMIT = 16.0  # float32 audio lies within +-1; beyond +-16 (24 dB over full scale) no sample is audio
FLOAT_FLOOR = 1e-9  # -180 dB: no audio is that quiet; integer PCM read as float32 gives such numbers (and NaN/huge)
BAD_SHARE = 0.01  # float32 audio: at most 1 % of the non-zero samples NaN, inf or beyond FLOAT_LIMIT


def _blocks_from_file(path: pathlib.Path, info, size: int, speed: float, channel: int) -> Iterator[np.ndarray]:
    """``--simulate``: the file in blocks of ``size`` samples (annotate's reader), at ``speed`` x real time."""
    from ..audio.read import block_reader

    start = time.perf_counter()
    done = 0
    for block in block_reader(path, info, channel, check_finite=False)(size):
        if speed > 0:  # real-time pace: wait until this block would have been recorded
            delay = start + (done + len(block)) / info.samplerate / speed - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        done += len(block)
        yield block


class _Refused(Exception):
    """A mistake found once the session reads its input (``--stdin``'s first second): one line, exit 2,
    nothing else (no summary, no annotation: the session has not started)."""


def _as_float32(data: bytes) -> tuple[float, float, float] | None:
    """Bytes read as float32: ``(share of the non-zero values that are NaN, inf or beyond FLOAT_LIMIT,
    median magnitude of the finite non-zero ones, largest magnitude within FLOAT_LIMIT)``; None when
    every value is 0."""
    x = np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)
    with np.errstate(invalid="ignore"):  # signalling NaNs
        x = x[x != 0].astype(np.float64)  # NaN is not 0: kept
    if not x.size:
        return None
    magnitude = np.abs(x)
    finite = np.isfinite(magnitude)
    within = finite & (np.nan_to_num(magnitude, nan=np.inf) <= FLOAT_LIMIT)
    return (
        1.0 - float(within.mean()),
        float(np.median(magnitude[finite])) if finite.any() else 0.0,
        float(magnitude[within].max()) if within.any() else 0.0,
    )


def dtype_problem(data: bytes, dtype: str) -> str | None:
    """What is wrong with ``data``, the first second of ``--stdin``, for ``--dtype``; None if it can be
    audio of that dtype (digital silence can be anything: None).

    * ``float32``: audio lies within +-1.  Not float32 audio if more than :data:`BAD_SHARE` of its
      non-zero samples are NaN, inf or beyond +-:data:`FLOAT_LIMIT`, or if they are mostly (median)
      below :data:`FLOAT_FLOOR`: what integer PCM read as float32 gives (an int16 sample is half of a
      float's bits: the negative ones make NaN or huge numbers, the positive ones tiny ones).
    * ``int16``, ``int32``: any value is possible, but not these bytes being float32 audio by the
      rule above (and not silence): then each float's upper half reads as a sample near half of full
      scale, its lower half as random bits, loud white noise.  Integer audio read as float32 never
      passes that rule.
    """
    reading = _as_float32(data)
    if dtype == "float32":
        if reading is None:
            return None
        bad, median, _ = reading
        if bad > BAD_SHARE:
            what = f"{100 * bad:.0f} % of its non-zero samples are NaN, inf or beyond +-{FLOAT_LIMIT:g}"
        elif median < FLOAT_FLOOR:
            what = f"its non-zero samples are mostly below {FLOAT_FLOOR:g} (-180 dB: no audio is that quiet)"
        else:
            return None
        return (
            f"{what}, as integer PCM read as float32 gives (float32 audio lies within +-1): give the --dtype "
            "it was written in, e.g. --dtype int16 for arecord -f S16_LE (int32: S32_LE)"
        )
    if reading is None or reading[0] > BAD_SHARE or reading[1] < FLOAT_FLOOR:
        return None
    x = np.frombuffer(data[: len(data) // np.dtype(dtype).itemsize * np.dtype(dtype).itemsize], dtype=dtype)
    rms = float(np.sqrt(np.mean((x.astype(np.float64) / SCALES[dtype]) ** 2)))
    return (
        f"read as {dtype} it is white noise at {20 * np.log10(rms):.1f} dB full scale (RMS), while its bytes read "
        f"as float32 are audio within +-{reading[2]:.3g}: give --dtype float32 (arecord -f FLOAT_LE)"
    )


def _blocks_from_stdin(
    size: int, dtype: str, channels: int, channel: int, rate: int, checked: Callable[[], None]
) -> Iterator[np.ndarray]:
    """``--stdin``: blocks of ``size`` samples of ``channel``.

    The first second is read whole and checked (:func:`dtype_problem`: a :class:`_Refused` for a
    wrong ``--dtype``) before any of it is yielded; then ``checked()`` is called.  A second of
    digital silence (zero bytes: silence in every dtype) cannot be judged: it is yielded, and the
    next second is read and checked, until one holds a non-zero byte or the input ends."""
    itemsize = np.dtype(dtype).itemsize * channels
    second, want = rate * itemsize, size * itemsize

    def samples(data: bytes) -> np.ndarray:
        return np.frombuffer(data, dtype=dtype).reshape(-1, channels)[:, channel].astype(np.float64) / SCALES[dtype]

    carry, judged = b"", False
    while True:
        if judged:
            chunk = sys.stdin.buffer.read(want - len(carry))  # blocks until a whole hop, or the end of input
            ended = len(chunk) < want - len(carry)
        else:
            chunk = sys.stdin.buffer.read(second)  # a second (less: the whole input)
            ended = len(chunk) < second
            if ended or chunk.count(0) < len(chunk):
                problem = dtype_problem(chunk, dtype)
                if problem is not None:
                    raise _Refused(
                        f"--dtype {dtype}: the first second on standard input does not look like {dtype} PCM: {problem}"
                    )
                judged = True
                checked()
        data = carry + chunk
        whole = len(data) // want * want
        for start in range(0, whole, want):
            yield samples(data[start : start + want])
        carry = data[whole:]
        if ended:
            if len(carry) >= itemsize:
                yield samples(carry[: len(carry) // itemsize * itemsize])
            return


def _blocks_from_device(device, rate: int, size: int, channels: int, channel: int) -> Iterator[np.ndarray]:
    try:  # now, not at the first block: a missing package is a mistake before the session, not an end of it
        import sounddevice
    except ImportError:
        raise ValueError('--device needs the sounddevice package: pip install "vak-tcn[live]"') from None

    def blocks_of_device() -> Iterator[np.ndarray]:
        blocks: queue.Queue = queue.Queue()
        with sounddevice.InputStream(
            device=None if device == "default" else device,
            samplerate=rate,
            channels=channels,
            blocksize=size,
            dtype="float32",
            callback=lambda data, frames, t, status: blocks.put(data[:, channel].astype(np.float64).copy()),
        ):
            while True:
                yield blocks.get()

    return blocks_of_device()
