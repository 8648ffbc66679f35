"""``vak-tcn live``'s triggers: :class:`Trigger` runs a command (``--exec``) and/or writes to a
FIFO (``--fifo``) at each onset of one label (``--trigger``), never blocking the audio path.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys
import time

from .. import settings
from .session import _say


class Trigger:
    """Runs a command and/or writes to a FIFO at each onset of one label, never blocking the audio path.

    * ``command`` (``--exec``): started, not waited for, in its own process group, with the event
      in ``$VAK_TCN_EVENT``, standard input from /dev/null (it must not read ``--stdin``'s audio)
      and its standard output on live's standard error (it must not mix with the events).  A
      command that cannot start (missing, not executable) or exits non-zero is reported (one line
      per kind of failure) and counted in :attr:`failed`; the session goes on.  :meth:`close`
      gives the commands still running ``grace`` seconds, then kills their process groups
      (SIGTERM, then SIGKILL half a second later), counted in :attr:`killed`.
    * ``fifo`` (``--fifo``): opened non-blocking and kept open.  An event nobody can read (no
      reader, the reader gone, or its pipe full because it does not read) is dropped and counted
      in :attr:`dropped`; the next reader to open the FIFO gets the next events.  A path that does
      not exist is created as a regular file (as before); one that cannot be opened at all (no such
      directory, no permission) is refused at the start.
    """

    def __init__(self, label: str, command: str | None, fifo: pathlib.Path | None, grace: float = 2.0, report=_say):
        if command is None and fifo is None:
            raise ValueError("--trigger needs --exec CMD or --fifo PATH")
        self.label, self.fifo, self.grace, self.report = label, fifo, float(grace), report
        self.command = shlex.split(command) if command is not None else None
        if self.command is not None and not self.command:
            raise ValueError("--exec: empty command")
        self.fired = self.failed = self.dropped = self.killed = 0
        self.running: list[subprocess.Popen] = []
        self._said: set[str] = set()
        self._fd: int | None = None
        if fifo is not None:
            self._open_fifo(at_start=True)

    def _say_once(self, line: str) -> None:
        if line not in self._said:
            self._said.add(line)
            self.report(line)

    def __call__(self, event) -> None:
        if event.kind != "onset" or event.label != self.label:
            return
        self.fired += 1
        line = json.dumps(event.as_dict())
        if self.command:
            self._run(line)
        if self.fifo is not None:
            self._write((line + "\n").encode())

    # --exec
    def _run(self, line: str) -> None:
        self._reap()
        try:
            proc = subprocess.Popen(
                self.command,
                env=settings.child_env({"VAK_TCN_EVENT": line}),
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else 2,
                start_new_session=True,  # its own process group: killed as a whole by close()
            )
        except OSError as e:  # missing, not executable, not a program
            self.failed += 1
            self._say_once(f"--exec {self.command[0]!r}: cannot run it: {e.strerror or e} (the session goes on)")
            return
        self.running.append(proc)

    def _reap(self) -> None:
        still = []
        for proc in self.running:
            status = proc.poll()
            if status is None:
                still.append(proc)
            elif status != 0:
                self.failed += 1
                how = f"exited with status {status}" if status > 0 else f"was killed by signal {-status}"
                self._say_once(f"--exec {self.command[0]!r} {how} (the session goes on)")
        self.running = still

    # --fifo
    def _open_fifo(self, at_start: bool = False) -> bool:
        try:  # O_NONBLOCK: a FIFO with no reader is ENXIO at once, instead of waiting for one
            self._fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND | os.O_CREAT, 0o644)
            return True
        except OSError as e:
            if e.errno == errno.ENXIO:
                self._say_once(f"--fifo {self.fifo}: no reader: events dropped until one opens it")
                return False
            if at_start:
                raise ValueError(f"--fifo {self.fifo}: {e.strerror or e}") from None
            self._say_once(f"--fifo {self.fifo}: {e.strerror or e}: events dropped")
            return False

    def _close_fifo(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass

    def _write(self, data: bytes) -> None:
        for _ in range(2):  # once more after the reader has gone: another may be waiting
            if self._fd is None and not self._open_fifo():
                break
            try:
                os.write(self._fd, data)  # a line < PIPE_BUF: written whole or not at all
                return
            except BlockingIOError:
                self._say_once(f"--fifo {self.fifo}: its reader does not read (pipe full): events dropped")
                break
            except BrokenPipeError:  # the reader has closed it
                self._close_fifo()
            except OSError as e:
                self._say_once(f"--fifo {self.fifo}: {e.strerror or e}: events dropped")
                self._close_fifo()
                break
        self.dropped += 1

    def close(self) -> None:
        """End of the session: the FIFO closed; commands still running get :attr:`grace` seconds, then
        their process groups are killed."""
        self._close_fifo()
        if not self.command:
            return
        self._reap()
        deadline = time.monotonic() + self.grace
        while self.running and time.monotonic() < deadline:
            time.sleep(0.01)
            self._reap()
        if not self.running:
            return
        hung, self.running = self.running, []
        for sig, wait in ((signal.SIGTERM, 0.5), (signal.SIGKILL, 5.0)):
            for proc in hung:
                try:
                    os.killpg(proc.pid, sig)  # the group: what the command started too
                except (ProcessLookupError, PermissionError):
                    pass
            until = time.monotonic() + wait
            for proc in hung:
                try:
                    proc.wait(timeout=max(0.0, until - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        self.killed = len(hung)
        self.report(
            f"{len(hung)} --exec command(s) still running {self.grace:g} s after the session ended: "
            "killed with their process groups (SIGTERM, then SIGKILL)"
        )

    def summary(self) -> str:
        notes = []
        if self.failed:
            notes.append(f"--exec failed {self.failed}x")
        if self.killed:
            notes.append(f"{self.killed} --exec command(s) killed at the end")
        if self.dropped:
            notes.append(f"{self.dropped} --fifo event(s) dropped, nobody reading")
        return f", trigger fired {self.fired}x" + (f" ({'; '.join(notes)})" if notes else "")


def _has_fileno(stream) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False
