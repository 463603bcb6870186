"""Quiet periods: act on a path once nothing has happened to it for a while.

Editors and tools write files in several steps: a temporary file renamed over the target
(vim, sed -i, kubectl's ConfigMap updates), a truncate then one or more writes (shell
redirections), a swap or backup file beside it. Each step is a file-system event. The
:class:`Debouncer` collects events by key (a path, or a whole configuration) and hands a
key out only after it has been quiet for ``quiet`` seconds, so a change is read once, when
the writer is done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class Debouncer:
    """Thread-safe: :meth:`touch` from watcher threads, :meth:`wait` from the worker."""

    def __init__(self, quiet: float = 0.15, clock: Callable[[], float] = time.monotonic):
        self.quiet = quiet
        self._clock = clock
        self._cond = threading.Condition()
        self._due: dict[Hashable, float] = {}  # key -> when it becomes ready
        self._first: dict[Hashable, float] = {}  # key -> time of its first pending event
        self._closed = False

    def touch(self, key: Hashable) -> None:
        """An event for ``key``: it becomes ready ``quiet`` seconds from now."""
        with self._cond:
            now = self._clock()
            self._due[key] = now + self.quiet
            self._first.setdefault(key, now)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._due)

    def ready(self) -> list[tuple[Hashable, float]]:
        """Keys quiet for long enough, with the time of their first event; removed."""
        with self._cond:
            return self._pop_ready(self._clock())

    def _pop_ready(self, now: float) -> list[tuple[Hashable, float]]:
        out = [(k, self._first[k]) for k, due in self._due.items() if due <= now]
        for k, _ in out:
            del self._due[k]
            del self._first[k]
        return out

    def wait(self, timeout: float | None = None) -> list[tuple[Hashable, float]]:
        """Block until some keys are ready (returned) or ``timeout`` passes (empty)."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._closed:
                now = self._clock()
                out = self._pop_ready(now)
                if out:
                    return out
                waits = [due - now for due in self._due.values()]
                if deadline is not None:
                    if now >= deadline:
                        return []
                    waits.append(deadline - now)
                self._cond.wait(min(waits) if waits else None)
            return []

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
