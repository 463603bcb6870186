"""Every queue and cache the agent grows under load has a bound, and what a full one drops
is counted where an operator sees it (the agent's metrics)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from appliance.api.hub import EventHub, TooManySubscribers
from appliance.daemon import Agent
from appliance.export.filters import EventFilter
from appliance.metadata.base import MetadataSource
from appliance.metadata.eventcache import EventCache
from appliance.metrics import AgentCollector
from appliance.process.cache import Entry
from appliance.settings import Settings


def ev(pid: int = 10, cid: str = "") -> dict:
    proc = {"exec_id": f"e{pid}", "pid": pid, "binary": "/bin/true"}
    if cid:
        proc["docker"] = cid
    return {"process_exec": {"process": proc}, "node_name": "n", "time": "t"}


def scrape(agent: Agent) -> str:
    reg = CollectorRegistry()
    reg.register(AgentCollector(agent))
    return generate_latest(reg).decode()


def test_hub_refuses_streams_beyond_its_bound_and_counts_them():
    hub = EventHub(max_subscribers=2)
    a = hub.subscribe(EventFilter())
    hub.subscribe(EventFilter())
    with pytest.raises(TooManySubscribers, match="2 GetEvents streams"):
        hub.subscribe(EventFilter())
    assert hub.rejected == 1 and len(hub.subscribers) == 2
    hub.unsubscribe(a)
    hub.subscribe(EventFilter())  # a slot freed by a client that left
    assert hub.rejected == 1


def test_hub_disconnects_a_client_whose_queue_stays_full_and_others_keep_receiving():
    now = [100.0]
    hub = EventHub(queue_size=2, slow_client_s=5.0, clock=lambda: now[0])
    cancelled: list[bool] = []
    slow = hub.subscribe(EventFilter())
    slow.cancel = lambda: cancelled.append(True)
    fast = hub.subscribe(EventFilter())
    got = []

    def emit(i: int) -> None:  # the fast client reads each event at once
        hub.emit(ev(i))
        got.append(fast.queue.get_nowait().event["process_exec"]["process"]["pid"])

    for i in range(4):  # the slow client reads nothing: 2 queued, 2 dropped
        emit(i)
    assert slow.dropped == 2 and hub.dropped == 2 and not cancelled
    now[0] += 4.9
    emit(4)
    assert not cancelled  # full for less than slow_client_s
    now[0] += 0.2
    emit(5)
    assert cancelled == [True] and hub.slow_disconnected == 1
    assert slow.closed and hub.subscribers == [fast]
    emit(6)  # the disconnected client is offered nothing more
    assert slow.dropped == 4 and slow.queue.qsize() == 2
    assert got == list(range(7)) and fast.dropped == 0


def test_hub_forgives_a_client_that_catches_up():
    now = [0.0]  # a clock that starts at zero
    hub = EventHub(queue_size=2, slow_client_s=5.0, clock=lambda: now[0])
    sub = hub.subscribe(EventFilter())
    for i in range(3):
        hub.emit(ev(i))  # the third is dropped: the spell starts at 0.0
    assert sub.full_since == 0.0
    sub.queue.get_nowait()
    hub.emit(ev(3))  # queued, but the queue is still full: not caught up
    assert sub.full_since == 0.0
    sub.queue.get_nowait()
    sub.queue.get_nowait()
    hub.emit(ev(4))  # queued with the queue at half: the spell ends
    assert sub.full_since is None
    now[0] += 60
    hub.emit(ev(5))
    hub.emit(ev(6))  # full again: a new spell, not 60 s of one
    assert hub.slow_disconnected == 0 and not sub.closed and sub.full_since == 60.0
    now[0] += 5
    hub.emit(ev(7))
    assert hub.slow_disconnected == 1 and sub.closed


class NoPods(MetadataSource):
    kind = "kubernetes"

    def container(self, container_id, cgroup_id):
        return None


def test_event_cache_sends_the_oldest_without_its_pod_beyond_its_bound():
    out: list = []
    ec = EventCache(NoPods(), out.append, retries=100, delay_s=60, max_held=3)
    for pid in range(5):
        ec.offer(ev(pid, cid=f"c{pid % 2}"))
    assert len(ec) == 3 and ec.evicted == 2
    assert [e["process_exec"]["process"]["pid"] for e in out] == [0, 2]  # oldest first
    fam = {s.labels["outcome"]: s.value for f in ec.metrics()[:1] for s in f.samples}
    assert fam["evicted"] == 2
    ec.flush()
    assert len(ec) == 0 and len(out) == 5


def test_agent_metrics_show_each_bound_filled():
    agent = Agent(Settings(process_cache_size=2, event_queue_size=1))
    for pid in (1, 2, 3):
        agent.cache.put(pid, Entry({"exec_id": str(pid), "pid": pid}, 0, "", False, 0))
    sub = agent.hub.subscribe(EventFilter())
    agent.hub.max_subscribers = 1
    with pytest.raises(TooManySubscribers):
        agent.hub.subscribe(EventFilter())
    agent.hub.emit(ev(1))
    agent.hub.emit(ev(2))
    assert sub.dropped == 1
    text = scrape(agent)
    assert "tetragon_process_cache_size 2.0" in text
    assert "tetragon_process_cache_evicted_total 1.0" in text
    assert 'tetragon_events_lost_total{where="grpc_queue"} 1.0' in text
    assert "tetragon_grpc_subscribers_rejected_total 1.0" in text
    assert "tetragon_grpc_slow_subscribers_disconnected_total 0.0" in text
