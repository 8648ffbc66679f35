"""The threads of ``vak-tcn annotate`` (:mod:`vak_tcn.inference.pipeline`): order kept, errors where they
belong, no thread left behind when the consumer stops, bounded queues."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from vak_tcn.inference.pipeline import STAGES, Consumer, Profile, ordered_map, prefetch


def live_threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_prefetch_gives_every_item_in_order_and_raises_the_producers_error_there():
    assert list(prefetch(range(100), depth=3)) == list(range(100))

    def broken():
        yield from range(5)
        raise ValueError("bad block")

    got = []
    with pytest.raises(ValueError, match="bad block"):
        for item in prefetch(broken()):
            got.append(item)
    assert got == list(range(5))
    assert not live_threads("vak-tcn-prefetch")


def test_prefetch_stops_its_producer_when_the_consumer_stops():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    items = prefetch(endless(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # the consumer stops early (an error, Ctrl-C)
    assert not live_threads("vak-tcn-prefetch")
    assert len(produced) <= 3 + 2 + 1  # bounded: what was taken, what the queue held, one in hand


def test_ordered_map_keeps_order_with_uneven_work_and_bounds_the_work_ahead():
    started = []

    def work(i):
        started.append(i)
        time.sleep(0.002 * (i % 3))
        return i * i

    with ThreadPoolExecutor(2) as pool:
        results = ordered_map(work, range(40), pool, depth=4)
        assert next(results) == 0
        assert len(started) <= 4 + 1  # at most depth submitted before the first result was taken
        assert list(results) == [i * i for i in range(1, 40)]
    assert list(ordered_map(lambda i: -i, range(5), None)) == [0, -1, -2, -3, -4]  # no pool: here


def test_ordered_map_raises_the_first_error_in_order():
    def work(i):
        if i == 7:
            raise RuntimeError("block 7")
        return i

    with ThreadPoolExecutor(2) as pool:
        got = []
        with pytest.raises(RuntimeError, match="block 7"):
            for item in ordered_map(work, range(20), pool):
                got.append(item)
    assert got == list(range(7))


def test_consumer_consumes_in_order_and_its_error_comes_back():
    seen = []
    with Consumer(seen.append, depth=2) as sink:
        for i in range(50):
            sink.put(i)
    assert seen == list(range(50))
    assert not live_threads("vak-tcn-consumer")

    def fail(item):
        if item == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with Consumer(fail) as sink:
            for i in range(100):
                sink.put(i)
    assert not live_threads("vak-tcn-consumer")


def test_consumer_stops_when_the_producer_fails():
    seen = []
    with pytest.raises(KeyError):
        with Consumer(lambda item: (time.sleep(0.01), seen.append(item))) as sink:
            for i in range(10):
                sink.put(i)
            raise KeyError("network")
    assert not live_threads("vak-tcn-consumer") and len(seen) < 10


def test_profile_adds_up_stages_and_prints_seconds_per_hour():
    profile = Profile()
    with profile("FFT"):
        time.sleep(0.01)
    assert list(profile.timed("read", iter([1, 2, 3]))) == [1, 2, 3]
    profile.add("network", 1.5)
    profile.audio_seconds, profile.wall_seconds = 1800.0, 2.0
    other = Profile()
    other.add("network", 0.5)
    other.audio_seconds, other.wall_seconds = 1800.0, 1.0
    profile.merge(other)
    table = profile.table()
    assert [line.split()[0] for line in table.splitlines()[2 : 2 + len(STAGES)]] == list(STAGES)
    assert "network         2.00" in table  # 2 s for an hour of audio
    assert "(1200x real time" in table  # 3600 s of audio in 3 s
    assert "spectrogram pass" in table and "network pass" in table
    assert profile.seconds["FFT"] >= 0.01
