"""What a command that runs work in other processes (a dask cluster) needs, usable from every layer:
Ctrl-C handled by the command alone, and dask quiet while it stops on purpose."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def terminal_interrupts_ignored() -> Iterator[None]:
    """Processes started inside ignore SIGINT (inherited through exec): Ctrl-C at a terminal reaches
    the whole process group, and each dask worker would print a traceback; the command's own
    process handles it and closes the cluster, whose processes then stop."""
    if threading.current_thread() is not threading.main_thread():  # signals belong to the main thread
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def quiet_dask() -> None:
    """Silence dask's logs in this process: the work is over or stopped on purpose, and its warnings
    about closing (workers still busy, cancelled tasks, closed connections) would bury what matters."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


#: seconds to wait for a dask scheduler given with --scheduler
CONNECT_TIMEOUT_S = 10


def connect_scheduler(address: str):
    """A dask client of the scheduler at ``address``; ConnectionError, one line naming it, when it
    cannot be reached within :data:`CONNECT_TIMEOUT_S`."""
    from dask.distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as e:
        raise ConnectionError(
            f"cannot reach the dask scheduler at {address} within {CONNECT_TIMEOUT_S} s "
            f"({type(e).__name__}: {' '.join(str(e).split())[:200]})"
        ) from None
