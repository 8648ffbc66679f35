"""Threads for ``vak-tcn annotate``: the stages of one recording overlap, and a stage's blocks share the cores.

Reading and filtering are sequential (the band-pass filter carries its state from block to block);
the FFT of a block, its transform and standardization do not depend on other blocks.  So the
audio is read and filtered in one thread (:func:`prefetch`), the blocks' FFTs run on a small pool of
threads (:func:`ordered_map`), and the network runs in the calling thread on what they give, in
order.  NumPy, scipy's FFT and filters, libsndfile and torch release the GIL while they compute, so
the threads run at once on several cores.  Queues between stages are bounded (a few blocks), so
memory does not grow with the recording.

:class:`Profile` adds up the seconds spent in each stage (``vak-tcn annotate --profile``).
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator

__all__ = ["PASSES", "STAGES", "Consumer", "Profile", "cpu_count", "ordered_map", "prefetch"]

#: the stages ``--profile`` reports, in the order of the work
STAGES = ("read", "filter", "FFT", "transform", "store", "network", "clean-up", "write")
#: the passes over a recording whose wall time ``--profile`` reports: before the network can start (for
#: ``log_spect``, the whole recording's maximum power), and the network's
PASSES = ("spectrogram pass", "network pass")
_DONE = object()


def cpu_count() -> int:
    """Cores this process may run on (its CPU affinity where the system says, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Profile:
    """Seconds spent in each stage (:data:`STAGES`), added up over threads and recordings.

    With stages in several threads at once, the stages' seconds add up to more than the wall time:
    each is the time its stage's work took, waiting for a core included (not waiting for another stage).
    """

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES + PASSES, 0.0)
        self.audio_seconds = 0.0
        self.wall_seconds = 0.0
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    @contextlib.contextmanager
    def __call__(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0)

    def timed(self, stage: str, iterator: Iterable) -> Iterator:
        """``iterator``'s items, the time each takes to come charged to ``stage`` (a reader)."""
        iterator = iter(iterator)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.add(stage, time.perf_counter() - t0)
                return
            self.add(stage, time.perf_counter() - t0)
            yield item

    def merge(self, other: Profile) -> None:
        with self._lock:
            for stage, seconds in other.seconds.items():
                self.seconds[stage] += seconds
            self.audio_seconds += other.audio_seconds
            self.wall_seconds += other.wall_seconds

    def table(self) -> str:
        """Seconds per hour of audio for each stage, and the wall time (what ``--profile`` prints)."""
        hours = self.audio_seconds / 3600
        per_hour = (lambda s: s / hours) if hours > 0 else (lambda s: float("nan"))
        lines = [f"profile: {self.audio_seconds:.1f} s of audio; seconds per hour of audio", f"{'stage':<11}{'s/h':>9}"]
        for stage in STAGES:
            lines.append(f"{stage:<11}{per_hour(self.seconds[stage]):>9.2f}")
        total = sum(self.seconds[stage] for stage in STAGES)
        lines.append(f"{'sum':<11}{per_hour(total):>9.2f}  (stages overlap in threads: more than the wall time)")
        for name in PASSES:
            lines.append(f"{name:<17}{per_hour(self.seconds[name]):>9.2f}  (wall)")
        x = self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else float("inf")
        lines.append(f"{'wall':<17}{per_hour(self.wall_seconds):>9.2f}  ({x:.0f}x real time, recordings only)")
        return "\n".join(lines)


def prefetch(iterable: Iterable, depth: int = 2) -> Iterator:
    """``iterable``'s items, produced ahead in a thread (at most ``depth`` waiting).

    An exception in the producer is raised here, at the item where it happened; when the consumer
    stops early (an error, Ctrl-C, ``close()``), the producer stops at its next item.
    """
    items: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in iterable:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as e:  # handed to the consumer
            put((False, e))

    thread = threading.Thread(target=produce, name="vak-tcn-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = items.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def ordered_map(fn: Callable, iterable: Iterable, pool, depth: int | None = None) -> Iterator:
    """``fn(item)`` for each item, computed on ``pool`` (a ``concurrent.futures`` executor, or None: here),
    given back in order; at most ``depth`` (default: twice the pool's workers) computed ahead."""
    if pool is None:
        for item in iterable:
            yield fn(item)
        return
    depth = depth or 2 * getattr(pool, "_max_workers", 2)
    pending: collections.deque = collections.deque()
    try:
        for item in iterable:
            pending.append(pool.submit(fn, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        for future in pending:  # let running ones finish before the caller goes on (and frees what they use)
            with contextlib.suppress(BaseException):
                future.result()


class Consumer:
    """``fn(item)`` for each item :meth:`put`, in order, in a thread (at most ``depth`` waiting).

    A context manager: leaving it without an error waits for the last item and raises the thread's
    error, if any; leaving it with an error stops the thread (items not yet taken are dropped).  An
    error in ``fn`` also comes back at the next :meth:`put`.
    """

    def __init__(self, fn: Callable, depth: int = 2):
        self.fn = fn
        self.items: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._consume, name="vak-tcn-consumer", daemon=True)
        self.thread.start()

    def _consume(self) -> None:
        while True:
            item = self.items.get()
            if item is _DONE or self.stop.is_set():
                return
            try:
                self.fn(item)
            except BaseException as e:
                self.error = e
                self.stop.set()
                return

    def put(self, item) -> None:
        while True:
            if self.error is not None:
                raise self.error
            if self.stop.is_set():
                raise RuntimeError("consumer stopped")
            try:
                self.items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait until every item is consumed; raise the consumer's error, if any."""
        while self.thread.is_alive():
            try:
                self.items.put(_DONE, timeout=0.1)
                break
            except queue.Full:
                continue
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self.stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self.items.get_nowait()
        with contextlib.suppress(queue.Full):
            self.items.put_nowait(_DONE)
        self.thread.join()

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
