"""Prometheus metrics, read from the agent's own counters at scrape time.

Nothing on the event path touches prometheus_client: the collector reads the
plain counters (pipeline, hub, process cache, BPF maps) when scraped. prometheus_client
is imported only when the metrics server starts (2 MB of an agent that serves none).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from appliance.export.filters import EVENT_TYPES


def read_percpu_counters(lookup: Callable[[int], bytes | None], ncpus: int, n: int) -> list[int]:
    """Sum a BPF per-CPU array of u64 counters."""
    out = []
    for i in range(n):
        raw = lookup(i)
        out.append(sum(struct.unpack_from(f"<{ncpus}Q", raw)) if raw else 0)
    return out


class AgentCollector:
    def __init__(self, agent) -> None:
        self.agent = agent

    def collect(self) -> Iterable:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        a = self.agent
        ev = CounterMetricFamily("tetragon_events", "Events observed, by type", labels=["type"])
        for kind, n in a.pipeline.events.items():
            ev.add_metric([EVENT_TYPES.get(kind, (kind or "UNKNOWN", 0))[0]], n)
        yield ev
        lost = CounterMetricFamily(
            "tetragon_events_lost",
            "Events lost, by where they were lost",
            labels=["where"],
        )
        for where, n in a.lost_counts().items():
            lost.add_metric([where], n)
        yield lost
        err = CounterMetricFamily("tetragon_errors", "Errors, by type", labels=["type"])
        for kind, n in a.error_counts().items():
            err.add_metric([kind], n)
        yield err
        yield CounterMetricFamily(
            "tetragon_export_filtered_events",
            "Events not exported because of the export allow/deny lists",
            value=a.pipeline.filtered,
        )
        yield GaugeMetricFamily(
            "tetragon_process_cache_size", "Processes in the cache", value=len(a.cache)
        )
        yield CounterMetricFamily(
            "tetragon_process_cache_evicted",
            "Processes evicted from the full cache",
            value=a.cache.evicted,
        )
        yield CounterMetricFamily(
            "tetragon_process_cache_misses",
            "Events whose process was not in the cache",
            value=a.tracker.misses,
        )
        yield CounterMetricFamily(
            "tetragon_redacted_processes",
            "Processes whose arguments --redaction-filters masked",
            value=a.tracker.redacted,
        )
        yield GaugeMetricFamily(
            "tetragon_grpc_subscribers", "GetEvents streams", value=len(a.hub.subscribers)
        )
        yield CounterMetricFamily(
            "tetragon_grpc_subscribers_rejected",
            "GetEvents streams refused: the most streams at once were served",
            value=a.hub.rejected,
        )
        yield CounterMetricFamily(
            "tetragon_grpc_slow_subscribers_disconnected",
            "GetEvents streams ended because their queue stayed full (a client too slow)",
            value=a.hub.slow_disconnected,
        )
        yield from a.extra_metrics()


def serve(address: str, agent) -> None:
    from prometheus_client import start_http_server
    from prometheus_client.core import REGISTRY

    host, _, port = address.rpartition(":")
    REGISTRY.register(AgentCollector(agent))
    start_http_server(int(port), addr=host or "0.0.0.0")
