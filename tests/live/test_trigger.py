"""vak_tcn.live.trigger.Trigger: a --fifo trigger never blocks the audio path, whoever reads (or not)."""

from __future__ import annotations

import json
import os
import threading

from vak_tcn.live.stream import Event
from vak_tcn.live.trigger import Trigger


def returns_at_once(fn, *args):
    """``fn(*args)`` in a thread: a call that blocks fails the test instead of hanging it."""
    result = []
    thread = threading.Thread(target=lambda: result.append(fn(*args)), daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive() and result, "the trigger blocked (or failed)"
    return result[0]


def test_a_fifo_reader_that_comes_and_goes_never_blocks_the_trigger(tmp_path):
    fifo = tmp_path / "stimulus.fifo"
    os.mkfifo(fifo)
    said: list[str] = []
    trigger = returns_at_once(lambda: Trigger("a", None, fifo, report=said.append))  # opens it: no reader
    onset = Event("onset", "a", 1.25, 100, 0.9)
    line = (json.dumps(onset.as_dict()) + "\n").encode()
    assert said == [f"--fifo {fifo}: no reader: events dropped until one opens it"]
    returns_at_once(trigger, onset)  # no reader: dropped
    returns_at_once(trigger, Event("onset", "b", 1.5, 120, 0.9))  # not the trigger's label
    returns_at_once(trigger, Event("offset", "a", 1.75, 140, 0.9))
    assert (trigger.fired, trigger.dropped) == (1, 1)
    for _ in range(2):  # a reader comes (it gets the next event), then goes (the next one is dropped)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        returns_at_once(trigger, onset)
        assert os.read(reader, 4096) == line
        os.close(reader)
        returns_at_once(trigger, onset)
    assert (trigger.fired, trigger.dropped) == (5, 3)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader that does not read: the pipe fills up

    def many():
        for _ in range(2000):
            trigger(onset)

    returns_at_once(many)
    assert trigger.fired == 2005 and 3 < trigger.dropped < 2005
    assert f"--fifo {fifo}: its reader does not read (pipe full): events dropped" in said
    os.close(reader)
    trigger.close()
    assert len(said) == len(set(said)) == 2  # each kind of trouble said once
