"""No event without its pod: events of containers whose pod is not known yet wait here.

A container's first process often runs before the API server has told the agent which pod
the container belongs to (the kubelet reports the container id only after the runtime has
started it). Events whose process runs in a container that the metadata source does not
know yet are held, in order per container, and completed when the pod arrives: at once
when the source says a pod changed, else at every retry (``event-cache-retry-delay``
seconds, ``event-cache-retries`` times). An event that runs out of retries is sent without
its pod and counted. At most ``max_held`` events wait (the agent's ``event-queue-size``):
beyond that the oldest is sent at once without its pod, and counted as evicted, so a storm
of exec events in containers the API server never reports cannot grow the agent's memory.

Completing an event fills the ``pod`` block of its process dictionaries in place, so the
process cache, which holds the same dictionaries, is completed too and later events of that
process carry the pod without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from appliance.metadata.base import MetadataSource

Emit = Callable[[dict], None]
NsPid = Callable[[int], int | None]

#: event kinds whose body has a ``process`` block (and maybe a ``parent``)
_PROCESS_KEYS = ("process", "parent")


@dataclass
class _Held:
    event: dict
    procs: list[dict]  # the process dictionaries that miss their pod
    ns_pids: dict[int, int | None]
    since: float = 0.0  # when it was held (monotonic seconds)
    tries: int = 0


def _body(event: dict) -> dict | None:
    for key, value in event.items():
        if key not in ("node_name", "time", "aggregation_info", "cluster_name") and isinstance(
            value, dict
        ):
            return value
    return None


def set_pod_in_place(proc: dict, pod: dict) -> None:
    """Insert ``pod`` before ``docker`` (Tetragon's field order) keeping the same dict."""
    items = [(k, v) for k, v in proc.items() if k != "pod"]
    proc.clear()
    for k, v in items:
        if k == "docker":
            proc["pod"] = pod
        proc[k] = v
    proc.setdefault("pod", pod)


class EventCache:
    """Holds events until their pod is known; see the module docstring."""

    def __init__(
        self,
        source: MetadataSource,
        emit: Emit,
        retries: int = 15,
        delay_s: float = 2.0,
        ns_pid: NsPid | None = None,
        max_held: int = 10000,
    ) -> None:
        self.source = source
        self.max_held = max(1, max_held)
        self._n_held = 0
        self.evicted = 0  # held events sent without their pod because max_held were held
        self.emit = emit
        self.retries = max(0, retries)
        self.delay_s = max(0.05, delay_s)
        self.ns_pid = ns_pid or (lambda pid: None)
        self._held: OrderedDict[str, deque[_Held]] = OrderedDict()  # by container id
        self._next_try = 0.0
        self._wake = threading.Event()
        self.held_total = 0  # events that had to wait
        self.completed = 0  # held events that got their pod
        self.sent_without_pod = 0  # held events that ran out of retries
        self.completed_partial = 0  # ... and got the pod (not the container) from the cgroup
        self.waits_ms: deque[float] = deque(maxlen=4096)  # how long completed events waited

    # -- the event loop's side ---------------------------------------------------------
    def offer(self, event: dict) -> None:
        """Emit ``event`` now, or hold it while its container's pod is unknown."""
        body = _body(event)
        if body is None:
            self.emit(event)
            return
        missing = [
            p
            for p in (body.get(k) for k in _PROCESS_KEYS)
            if p and "docker" in p and "pod" not in p
        ]
        cid = missing[0]["docker"] if missing else ""
        if not missing or (cid not in self._held and self._complete(missing, {})):
            self.emit(event)
            return
        held = _Held(
            event, missing, {p.get("pid", 0): self.ns_pid(p.get("pid", 0)) for p in missing}
        )
        held.since = time.monotonic()
        self._held.setdefault(cid, deque()).append(held)
        self.held_total += 1
        self._n_held += 1
        if self._n_held > self.max_held:
            self._evict_oldest()
        if self._next_try == 0.0:
            self._next_try = time.monotonic() + self.delay_s

    def pod_changed(self, *_args) -> None:
        """A pod was added or changed (called from the watch thread): retry soon."""
        self._wake.set()

    def tick(self) -> None:
        """Retry held events when one is due or a pod changed; called from the event loop."""
        if not self._held:
            return
        now = time.monotonic()
        woken = self._wake.is_set()
        due = now >= self._next_try
        if not (woken or due):
            return
        self._wake.clear()
        for cid in list(self._held):
            q = self._held[cid]
            while q:
                h = q[0]
                if self._complete(h.procs, h.ns_pids):
                    self.completed += 1
                    self.waits_ms.append((now - h.since) * 1000)
                elif due and h.tries + 1 >= self.retries:
                    if self._complete(h.procs, h.ns_pids, partial=True):
                        self.completed_partial += 1
                    else:
                        self.sent_without_pod += 1
                else:
                    if due:
                        for x in q:
                            x.tries += 1
                    break
                q.popleft()
                self._n_held -= 1
                self.emit(h.event)
            if not q:
                del self._held[cid]
        if due:
            self._next_try = now + self.delay_s if self._held else 0.0

    def _evict_oldest(self) -> None:
        """Send the longest-waiting event as it is (the first container's first event)."""
        cid = next(iter(self._held))
        q = self._held[cid]
        h = q.popleft()
        if not q:
            del self._held[cid]
        self._n_held -= 1
        self.evicted += 1
        self.emit(h.event)

    def metrics(self):
        """Prometheus families: events held, completed, sent without pod, wait times."""
        import statistics

        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        fam = CounterMetricFamily(
            "tetragon_event_cache", "Events that waited for their pod, by outcome",
            labels=["outcome"],
        )  # fmt: skip
        fam.add_metric(["held"], self.held_total)
        fam.add_metric(["completed"], self.completed)
        fam.add_metric(["sent_without_pod"], self.sent_without_pod)
        fam.add_metric(["completed_pod_only"], self.completed_partial)
        fam.add_metric(["evicted"], self.evicted)
        waits = list(self.waits_ms)
        g = GaugeMetricFamily(
            "tetragon_event_cache_wait_ms", "Median and max wait of completed events (ms)",
            labels=["stat"],
        )  # fmt: skip
        g.add_metric(["median"], statistics.median(waits) if waits else 0.0)
        g.add_metric(["max"], max(waits) if waits else 0.0)
        size = GaugeMetricFamily("tetragon_event_cache_entries", "Events waiting now")
        size.add_metric([], len(self))
        return [fam, g, size]

    def flush(self) -> None:
        """Send everything held, as it is (the agent stops)."""
        for q in self._held.values():
            for h in q:
                self.emit(h.event)
        self._held.clear()
        self._n_held = 0

    def __len__(self) -> int:
        return self._n_held

    # -- completing ----------------------------------------------------------------------
    def _complete(
        self, procs: list[dict], ns_pids: dict[int, int | None], partial: bool = False
    ) -> bool:
        """Fill the pod of every process dict; False while the container is unknown.

        ``partial``: the last try, which settles for the pod found from the cgroup path
        (the container's name and image stay unknown) when the source can tell it.
        """
        blocks = []
        for p in procs:
            if "pod" in p:  # completed meanwhile through the process cache
                blocks.append(None)
                continue
            info = self.source.container(p["docker"], 0)
            if (info is None or info.pod is None) and partial:
                fallback = getattr(self.source, "pod_by_cgroup", None)
                info = fallback(p["docker"]) if fallback is not None else None
            if info is None or info.pod is None:
                return False
            pid = p.get("pid", 0)
            ns = ns_pids.get(pid) if pid in ns_pids else self.ns_pid(pid)
            blocks.append(info.pod_block(ns))
        for p, b in zip(procs, blocks, strict=True):
            if b is not None:
                set_pod_in_place(p, b)
        return True
