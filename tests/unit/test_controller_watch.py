"""watchdog watches on directories that appear, vanish and come back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from controller.main import Watches, WatchSpec, build_parser


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, spec: WatchSpec, paths: list[str]) -> None:
        with self.lock:
            self.seen.extend((spec.kind, p) for p in paths)

    def settle(self, quiet: float = 0.3, timeout: float = 5) -> int:
        """Wait until no event arrived for `quiet` seconds (one write is several events)."""
        deadline = time.monotonic() + timeout
        n = -1
        while time.monotonic() < deadline:
            with self.lock:
                now = len(self.seen)
            if now == n:
                return n
            n = now
            time.sleep(quiet)
        return n

    def wait(self, path: Path, timeout: float = 5) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(p == str(path) for _, p in self.seen):
                    return True
            time.sleep(0.02)
        return False


@pytest.fixture
def watches():
    events = Events()
    w = Watches(events)
    yield w, events
    w.close()


def test_a_directory_created_later_is_watched(watches, tmp_path):
    w, events = watches
    d = tmp_path / "tp.d"
    spec = WatchSpec(str(d), True, "policy")
    assert w.want([spec]) == []
    d.mkdir()
    assert w.refresh() == [spec]
    (d / "sub").mkdir()
    f = d / "sub" / "a.yaml"
    f.write_text("x")
    assert events.wait(f)
    # replaced by another directory of the same name: watched again
    for p in (f, d / "sub"):
        p.unlink() if p.is_file() else p.rmdir()
    d.rmdir()
    d.mkdir()
    deadline = time.monotonic() + 5
    while w.refresh() != [spec]:  # once the deletion event has arrived
        assert time.monotonic() < deadline, "the new directory is not watched"
        time.sleep(0.02)
    g = d / "b.yaml"
    g.write_text("y")
    assert events.wait(g)


def test_names_filter_and_reads_are_ignored(watches, tmp_path):
    w, events = watches
    w.want([WatchSpec(str(tmp_path), False, "config", frozenset({"tetragon.yaml"}))])
    other = tmp_path / "events.log"
    other.write_text("x")
    wanted = tmp_path / "tetragon.yaml"
    wanted.write_text("a: b\n")
    assert events.wait(wanted)
    assert all(p != str(other) for _, p in events.seen)
    n = events.settle()
    wanted.read_text()  # opening for reading is not a change
    time.sleep(0.3)
    assert len(events.seen) == n


def test_controller_flags():
    opts, rest = build_parser().parse_known_args(
        ["--debounce-ms", "50", "--tracing-policy-dir", "/p", "--agent-restart-cmd", "x y"]
    )
    assert opts.debounce_ms == 50 and opts.agent_restart_cmd == "x y"
    assert rest == ["--tracing-policy-dir", "/p"]
    assert build_parser().parse_args([]).agent_restart_cmd is None
