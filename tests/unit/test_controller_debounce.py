"""The controller's quiet periods (no file system, a fake clock)."""

from __future__ import annotations

import threading
import time

from controller.debounce import Debouncer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_ready_after_its_quiet_period():
    clock = Clock()
    d = Debouncer(0.15, clock)
    d.touch("a")
    assert d.ready() == []
    clock.now += 0.149
    assert d.ready() == []
    clock.now += 0.002
    assert d.ready() == [("a", 100.0)]
    assert d.ready() == [] and d.pending() == 0


def test_events_extend_the_quiet_period_and_keep_the_first_time():
    clock = Clock()
    d = Debouncer(0.15, clock)
    d.touch("a")
    for _ in range(5):  # a writer that keeps writing every 100 ms
        clock.now += 0.1
        d.touch("a")
        assert d.ready() == []
    clock.now += 0.15
    assert d.ready() == [("a", 100.0)]


def test_keys_are_independent():
    clock = Clock()
    d = Debouncer(0.15, clock)
    d.touch("a")
    clock.now += 0.1
    d.touch("b")
    clock.now += 0.06
    assert d.ready() == [("a", 100.0)]
    clock.now += 0.1
    assert d.ready() == [("b", 100.1)]


def test_wait_returns_ready_keys_or_times_out():
    d = Debouncer(0.05)
    t0 = time.monotonic()
    assert d.wait(timeout=0.05) == []
    assert time.monotonic() - t0 >= 0.04
    threading.Timer(0.02, d.touch, args=("x",)).start()
    t0 = time.monotonic()
    got = d.wait(timeout=2)
    assert [k for k, _ in got] == ["x"]
    assert 0.06 <= time.monotonic() - t0 < 1.5


def test_close_wakes_a_waiter():
    d = Debouncer(10)
    threading.Timer(0.05, d.close).start()
    t0 = time.monotonic()
    assert d.wait() == []
    assert time.monotonic() - t0 < 2
