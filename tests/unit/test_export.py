"""Export: file rotation, event filters, the gRPC hub's bounded queues."""

from __future__ import annotations

import gzip
import os
import queue

import orjson
import pytest

from appliance.api.hub import EventHub
from appliance.errors import FilterError
from appliance.export.file import RotatingFile
from appliance.export.filters import EventFilter, compile_filter, parse_filter_list
from appliance.export.pipeline import JsonLinesSink, Pipeline


def ev(kind="process_exec", binary="/usr/bin/ls", pid=10, ns="", pod="", args="", parent=""):
    proc = {"pid": pid, "binary": binary, "arguments": args}
    if ns or pod:
        proc["pod"] = {"namespace": ns, "name": pod}
    body = {"process": proc}
    if parent:
        body["parent"] = {"binary": parent}
    return {kind: body, "node_name": "n", "time": "2024-01-01T00:00:00.000000001Z"}


def test_rotation_by_size_keeps_backups_and_mode(tmp_path):
    path = tmp_path / "tetragon.log"
    rf = RotatingFile(str(path), max_size_mb=1, max_backups=2, perm=0o640)
    line = b"x" * 1000
    for _ in range(5):
        rf.write_lines([line] * 600)  # 600 KB a batch: rotates every other batch
    rf.close()
    backups = sorted(p for p in os.listdir(tmp_path) if p != "tetragon.log")
    assert len(backups) == 2
    assert all(b.startswith("tetragon-") and b.endswith(".log") for b in backups)
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o640)
    assert os.path.getsize(path) <= 1024 * 1024


def test_rotations_within_one_millisecond_keep_every_backup(tmp_path):
    path = tmp_path / "tetragon.log"
    rf = RotatingFile(str(path), max_backups=5)
    for i in range(4):
        rf.write_lines([b"line %d" % i])
        rf.rotate()
    rf.close()
    backups = sorted(p for p in os.listdir(tmp_path) if p != "tetragon.log")
    assert len(backups) == 4
    # oldest first by name, as pruning assumes
    assert [(tmp_path / b).read_bytes() for b in backups] == [b"line %d\n" % i for i in range(4)]


def test_rotation_compresses(tmp_path):
    path = tmp_path / "e.log"
    rf = RotatingFile(str(path), max_size_mb=1, max_backups=5, compress=True)
    rf.write_lines([b"y" * 1000] * 1100)
    rf.close()
    gz = [p for p in os.listdir(tmp_path) if p.endswith(".log.gz")]
    assert len(gz) == 1
    with gzip.open(tmp_path / gz[0]) as f:
        assert f.read().count(b"\n") > 0


def test_default_file_mode_is_600(tmp_path):
    rf = RotatingFile(str(tmp_path / "a.log"))
    rf.close()
    assert oct(os.stat(tmp_path / "a.log").st_mode & 0o777) == oct(0o600)


def test_filters_fields_and_lists():
    assert compile_filter({"binary_regex": ["ls$"]})(ev())
    assert not compile_filter({"binary_regex": ["^/bin/cat$"]})(ev())
    assert compile_filter({"pid": [1, 10]})(ev())
    assert compile_filter({"event_set": ["PROCESS_EXIT"]})(ev("process_exit"))
    assert not compile_filter({"event_set": ["PROCESS_EXIT"]})(ev())
    assert compile_filter({"event_set": [5]})(ev("process_exit"))
    assert compile_filter({"namespace": ["kube-system"]})(ev(ns="kube-system", pod="p"))
    assert compile_filter({"pod_regex": ["^web-"]})(ev(ns="d", pod="web-1"))
    assert compile_filter({"arguments_regex": ["-la"]})(ev(args="-la /"))
    assert compile_filter({"parent_binary_regex": ["bash"]})(ev(parent="/bin/bash"))
    # all fields of one filter must match
    assert not compile_filter({"pid": [10], "binary_regex": ["cat"]})(ev())


def test_allow_and_deny():
    f = EventFilter(allow=[{"binary_regex": ["ls"]}, {"pid": [99]}], deny=[{"pid": [10]}])
    assert not f(ev())  # allowed by binary, denied by pid
    assert f(ev(binary="/bin/cat", pid=99))
    assert not f(ev(binary="/bin/cat", pid=5))
    assert EventFilter()(ev())  # no lists: everything passes


def test_bad_filters_are_named():
    with pytest.raises(FilterError, match="unknown filter field 'binary'"):
        compile_filter({"binary": ["x"]})
    with pytest.raises(FilterError, match="binary_regex: invalid regular expression"):
        compile_filter({"binary_regex": ["("]})
    with pytest.raises(FilterError, match="line 2"):
        parse_filter_list('{"pid": [1]}\n{not json')
    assert parse_filter_list('{"pid":[1]}\n\n{"event_set":["PROCESS_EXEC"]}') == [
        {"pid": [1]},
        {"event_set": ["PROCESS_EXEC"]},
    ]


def test_pipeline_counts_and_filters(tmp_path):
    p = Pipeline()
    rf = RotatingFile(str(tmp_path / "x.log"))
    p.set_sink("file", JsonLinesSink(rf))
    p.export_filter = EventFilter(deny=[{"binary_regex": ["cat"]}])
    p.emit(ev())
    p.emit(ev(binary="/bin/cat"))
    p.flush()
    p.close()
    lines = (tmp_path / "x.log").read_bytes().splitlines()
    assert [orjson.loads(x)["process_exec"]["process"]["binary"] for x in lines] == ["/usr/bin/ls"]
    assert p.events["process_exec"] == 2 and p.filtered == 1


def test_hub_drops_and_counts_when_a_client_is_slow():
    hub = EventHub(queue_size=3)
    fast = hub.subscribe(EventFilter([{"pid": [10]}]))
    for _ in range(5):
        hub.emit(ev())
    hub.emit(ev(pid=11))  # filtered out for this subscriber, not a drop
    assert fast.queue.qsize() == 3
    assert fast.dropped == 2 and hub.dropped == 2
    msg = fast.queue.get_nowait().message()
    assert msg.process_exec.process.pid.value == 10
    hub.unsubscribe(fast)
    assert hub.subscribers == []
    with pytest.raises(queue.Empty):
        EventHub().subscribe(EventFilter()).queue.get_nowait()


def test_field_filters_include_exclude_and_event_set():
    from appliance.export.fields import FieldFilter

    e = {"process_exec": {"process": {"exec_id": "a", "pid": 1, "binary": "/b"},
                          "parent": {"exec_id": "p"}}, "node_name": "n", "time": "t"}  # fmt: skip
    inc = FieldFilter({"fields": "process.exec_id,parent.exec_id", "action": "INCLUDE"})
    assert inc.apply(e)["process_exec"] == {"process": {"exec_id": "a"}, "parent": {"exec_id": "p"}}
    assert e["process_exec"]["process"]["pid"] == 1  # the shared event is untouched
    exc = FieldFilter({"fields": "process.pid", "action": "EXCLUDE"})
    assert "pid" not in exc.apply(e)["process_exec"]["process"]
    assert e["process_exec"]["process"]["pid"] == 1
    only_exit = FieldFilter({"fields": "process.pid", "event_set": ["PROCESS_EXIT"]})
    assert only_exit.apply(e) is e
    inverted = FieldFilter(
        {"fields": "process.execId", "event_set": ["PROCESS_EXIT"], "invert_event_set": True}
    )
    assert inverted.apply(e)["process_exec"] == {"process": {"exec_id": "a"}}
    with pytest.raises(FilterError):
        FieldFilter({"fields": "", "action": "INCLUDE"})


def test_export_rate_limit_drops_counts_and_reports(tmp_path):
    from appliance.export.fields import RateLimiter

    now = [0.0]
    p = Pipeline()
    p.rate_limiter = RateLimiter(3, clock=lambda: now[0])
    rf = RotatingFile(str(tmp_path / "r.log"))
    p.set_sink("file", JsonLinesSink(rf))
    hub = EventHub()
    sub = hub.subscribe(EventFilter())
    p.set_sink("grpc", hub)
    for _ in range(5):
        p.emit(ev())
    now[0] = 61
    p.tick()
    p.flush()
    assert sub.queue.qsize() == 5  # gRPC clients are not subject to the export limit
    p.close()
    lines = [orjson.loads(x) for x in (tmp_path / "r.log").read_bytes().splitlines()]
    assert sum("process_exec" in x for x in lines) == 3
    assert lines[-1]["rate_limit_info"] == {"number_of_dropped_process_events": "2"}
    assert p.rate_limited == 2


def test_pod_filter_matches_the_container_name_outside_kubernetes():
    """--pods web selects what compact lines show as `web` for a Docker container."""
    from appliance.export.filters import EventFilter

    docker_ev = {"process_exec": {"process": {"pod": {"container": {"name": "web"}}}}}
    k8s_ev = {"process_exec": {"process": {"pod": {"namespace": "default", "name": "xwing"}}}}
    host_ev = {"process_exec": {"process": {"binary": "/usr/bin/ls"}}}
    web = EventFilter([{"pod_regex": ["web"]}])
    assert web(docker_ev) and not web(k8s_ev) and not web(host_ev)
    assert EventFilter([{"pod_regex": ["xwing"]}])(k8s_ev)
    # a Docker container has no Kubernetes namespace: like a host process, namespace ""
    host = EventFilter([{"namespace": [""]}])
    assert host(docker_ev) and host(host_ev) and not host(k8s_ev)


def test_own_container_is_left_out_of_getevents(tmp_path, monkeypatch):
    from appliance.cli.own import own_container_filter
    from appliance.export.filters import EventFilter

    monkeypatch.delenv("TETRA_INCLUDE_OWN_CONTAINER", raising=False)
    cid = "0f3a5c1e2b7d49a8c6e5f4d3b2a1908776655443322110ffeeddccbbaa998877"
    cgroup = tmp_path / "cgroup"
    cgroup.write_text(f"1:cpu:/docker/{cid}\n0::/system.slice/docker-{cid}.scope\n")
    own = own_container_filter(False, str(cgroup))
    assert own == {"container_id": ["^" + cid[:31]]}
    view = EventFilter([], [own])
    assert not view({"process_exec": {"process": {"docker": cid[:31]}}})
    assert view({"process_exec": {"process": {"docker": "1" * 31}}})
    assert view({"process_exec": {"process": {}}})
    assert own_container_filter(True, str(cgroup)) is None  # --include-own-container
    cgroup.write_text("0::/user.slice/user-0.slice/session-1.scope\n")
    assert own_container_filter(False, str(cgroup)) is None  # on the host: nothing hidden
