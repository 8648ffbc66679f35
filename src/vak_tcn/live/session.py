"""How a ``vak-tcn live`` session talks and ends: one-line messages on standard error
(:func:`_say`), and the ways it ends before its input does: SIGINT, SIGTERM, SIGHUP
(:class:`_Signals`, raising :class:`_Stop` with the exit status) and standard output closed by
its reader (:func:`_silence_stdout`).  Used by :mod:`.run` and :mod:`.trigger`.
"""

from __future__ import annotations

import os
import signal
import sys


def _say(line: str) -> None:
    """One line on standard error; nothing if standard error is gone (the session must not end for that)."""
    try:
        print(f"vak-tcn live: {line}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


class _Stop(Exception):
    """The session ends before its input: a signal, or standard output closed by its reader."""

    def __init__(self, why: str, status: int):
        super().__init__(why)
        self.why, self.status = why, status


_SIGNALS = {
    signal.SIGINT: ("interrupted", 130),
    signal.SIGTERM: ("terminated (SIGTERM)", 143),
    signal.SIGHUP: ("hung up (SIGHUP)", 129),  # the terminal closed, an ssh session lost: as SIGTERM
}


class _Signals:
    """SIGINT, SIGTERM and SIGHUP end the session: :class:`_Stop` raised in the main thread, at once when
    it waits for audio, else after the block in hand (a block's processing is never cut in two);
    once the wrap-up has started (:attr:`stopping`), they are ignored, so that it finishes."""

    def __init__(self):
        self.busy, self.stopping, self.pending = False, False, None
        self._previous: dict = {}

    def _handler(self, signum, frame):
        if self.stopping or self.pending is not None:
            return
        self.pending = _Stop(*_SIGNALS[signum])
        if not self.busy:
            raise self.pending

    def __enter__(self) -> _Signals:
        try:
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)
        except ValueError:  # not the main thread (embedded): Ctrl-C stays a KeyboardInterrupt
            pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _silence_stdout() -> None:
    """Standard output's reader has gone: send what is left to /dev/null, so that Python's final
    flush does not print 'Exception ignored ... BrokenPipeError'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass
