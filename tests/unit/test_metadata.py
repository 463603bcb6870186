"""Container metadata: Docker answers parsing, the cache, source selection, enrichment."""

from __future__ import annotations

import os
import threading
import time

import pytest

from appliance.cli.compact import Colors, process_info
from appliance.errors import KubernetesError
from appliance.events.common import Clock
from appliance.events.process import ProcessTracker
from appliance.metadata import (
    CgroupSource,
    ContainerInfo,
    DockerSource,
    KubernetesSource,
    MetadataSource,
    create_source,
    detect,
    pod_block,
    with_pod,
)
from appliance.metadata import docker as dmod
from appliance.metadata.select import docker_candidates, in_kubernetes
from appliance.process.cache import ProcessCache
from appliance.sensors.wire import ExecMsg, ExitMsg

CID = "0f3a5c1e2b7d49a8c6e5f4d3b2a1908776655443322110ffeeddccbbaa998877"
CID2 = "aa" * 32

INSPECT = {
    "Id": CID,
    "Name": "/web",
    "Image": "sha256:" + "ab" * 32,
    "Config": {"Image": "nginx:1.27", "Labels": {"app": "web", "tier": "front"}},
    "State": {"StartedAt": "2026-11-23T17:29:37.2838368Z", "Pid": 4242},
}


# -- parsing the engine's answers -----------------------------------------------------------
@pytest.mark.parametrize(
    "text, want",
    [
        ("2026-11-23T17:29:37.283836804Z", "2026-11-23T17:29:37.283836804Z"),
        ("2026-11-23T17:29:37.2838368Z", "2026-11-23T17:29:37.283836800Z"),
        ("2026-11-23T17:29:37Z", "2026-11-23T17:29:37.000000000Z"),
        ("2026-11-23T19:29:37.5+02:00", "2026-11-23T17:29:37.500000000Z"),
        ("0001-01-01T00:00:00Z", ""),  # created, never started
        ("", ""),
        ("yesterday", ""),
    ],
)
def test_normalize_time(text, want):
    assert dmod.normalize_time(text) == want


def test_info_from_inspect():
    info = dmod.info_from_inspect(INSPECT)
    assert info == ContainerInfo(
        id=CID,
        name="web",
        image_name="nginx:1.27",
        image_id="sha256:" + "ab" * 32,
        labels={"app": "web", "tier": "front"},
        start_time="2026-11-23T17:29:37.283836800Z",
        pid=4242,
        runtime="docker",
    )
    assert info.short_id == CID[:31]


def test_info_from_inspect_created_not_started():
    d = {"Id": CID, "Name": "/job", "Image": "sha256:1", "Config": {"Image": "busybox"}}
    d["State"] = {"StartedAt": "0001-01-01T00:00:00Z", "Pid": 0}
    info = dmod.info_from_inspect(d)
    assert (info.name, info.start_time, info.pid, dict(info.labels)) == ("job", "", 0, {})


def test_info_from_summary():
    s = {"Id": CID, "Names": ["/db"], "Image": "postgres:16", "ImageID": "sha256:2"}
    info = dmod.info_from_summary(s)
    assert (info.name, info.image_name, info.image_id, info.pid) == (
        "db",
        "postgres:16",
        "sha256:2",
        0,
    )


def test_pod_block_outside_kubernetes():
    info = dmod.info_from_inspect(INSPECT)
    assert info.pod_block(7) == {
        "container": {
            "id": "docker://" + CID,  # the runtime's prefix, as Tetragon writes container ids
            "name": "web",
            "image": {"id": "sha256:" + "ab" * 32, "name": "nginx:1.27"},
            "start_time": "2026-11-23T17:29:37.283836800Z",
            "pid": 7,
        }
    }
    # protojson leaves out what is empty: no namespace, no pod name, no pid when unknown
    assert ContainerInfo(id=CID, name="x").pod_block() == {"container": {"id": CID, "name": "x"}}


def test_with_pod_keeps_tetragon_field_order():
    proc = {"exec_id": "e", "pid": 1, "auid": 0, "docker": CID[:31], "tid": 1}
    out = with_pod(proc, {"container": {"id": CID}})
    assert list(out) == ["exec_id", "pid", "auid", "pod", "docker", "tid"]
    assert "pod" not in proc


# -- the Docker cache ---------------------------------------------------------------------
class FakeAPI:
    """The few docker SDK APIClient calls the source makes."""

    def __init__(self, containers=None, events=()):
        self.by_id = {c["Id"]: c for c in (containers or [])}
        self.inspected: list[str] = []
        self._events = list(events)
        self.closed = threading.Event()

    def containers(self, all=False):
        return [
            {"Id": c["Id"], "Names": [c["Name"]], "Image": c["Config"]["Image"]}
            for c in self.by_id.values()
        ]

    def inspect_container(self, cid):
        self.inspected.append(cid)
        for full, c in self.by_id.items():
            if full.startswith(cid):
                return c
        err = type("NotFound", (Exception,), {})
        raise err(f"No such container: {cid}")

    def events(self, decode=True, filters=None):
        assert decode and filters["type"] == "container"
        assert set(filters["event"]) >= {"create", "start", "destroy"}
        api = self

        class Stream:
            def __iter__(self):
                yield from api._events
                api.closed.wait(5)

            def close(self):
                api.closed.set()

        return Stream()

    def close(self):
        pass


def _inspect(cid, name, image="debian:bookworm-slim", pid=100):
    return {
        "Id": cid,
        "Name": "/" + name,
        "Image": "sha256:" + "cd" * 32,
        "Config": {"Image": image, "Labels": {}},
        "State": {"StartedAt": "2026-11-23T10:00:00.1Z", "Pid": pid},
    }


def test_docker_source_lists_at_start_and_follows_events():
    api = FakeAPI(
        [_inspect(CID, "web")],
        events=[{"Type": "container", "Action": "create", "Actor": {"ID": CID2}}],
    )
    src = DockerSource("unix:///nowhere", client_factory=lambda url, t: api)
    # the event names a container the engine knows by the time it is inspected
    api.by_id[CID2] = _inspect(CID2, "job")
    src.start(wait_s=5)
    try:
        assert src.synced.is_set()
        assert src.container(CID[:31], 0).name == "web"
        assert src.container(CID, 0).name == "web"  # a full id works too
        deadline = time.monotonic() + 5
        while src.container(CID2[:31], 0) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert src.container(CID2[:31], 0).name == "job"
    finally:
        src.close()
    assert api.closed.is_set()


def test_docker_lookup_miss_returns_at_once_and_schedules_one_refresh():
    now = [1000.0]
    src = DockerSource("unix:///nowhere", clock=lambda: now[0])
    assert src.container(CID[:31], 0) is None
    assert src.container(CID[:31], 0) is None
    assert src._refresh.get_nowait() == CID[:31]
    assert src._refresh.empty()  # the second miss did not ask again
    now[0] += dmod.MISS_RETRY_S
    assert src.container(CID[:31], 0) is None
    assert src._refresh.get_nowait() == CID[:31]
    assert src.misses == 3
    assert src.container("", 0) is None


def test_docker_refresher_fills_the_cache_after_a_miss():
    api = FakeAPI([_inspect(CID, "late")])
    src = DockerSource("unix:///nowhere", client_factory=lambda url, t: api)
    t = threading.Thread(target=src._refresher, daemon=True)
    t.start()
    try:
        assert src.container(CID[:31], 0) is None
        deadline = time.monotonic() + 5
        while src.container(CID[:31], 0) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert src.container(CID[:31], 0).name == "late"
        # an id the engine does not know stays unknown, without error
        assert src.container(CID2[:31], 0) is None
    finally:
        src._refresh.put(None)
        t.join(2)
    assert not t.is_alive()


def test_docker_events_update_rename_and_destroy_with_grace():
    now = [0.0]
    api = FakeAPI([_inspect(CID, "web")])
    src = DockerSource("unix:///nowhere", client_factory=lambda u, t: api, clock=lambda: now[0])
    assert src.sync(api) == 1
    api.by_id[CID] = _inspect(CID, "web2")
    src.on_event(api, {"Type": "container", "Action": "rename", "Actor": {"ID": CID}})
    assert src.container(CID, 0).name == "web2"
    src.on_event(api, {"Type": "container", "Action": "destroy", "Actor": {"ID": CID}})
    # events read late from the ring buffer still find it for a while
    assert src.container(CID, 0).name == "web2"
    now[0] += dmod.DESTROYED_GRACE_S + 1
    assert src.expire() == 1
    assert len(src) == 0
    # other event types and events without an id are ignored
    src.on_event(api, {"Type": "network", "Action": "connect", "Actor": {"ID": CID}})
    src.on_event(api, {"Type": "container", "Action": "start", "Actor": {}})
    assert len(src) == 0


def test_docker_sync_skips_containers_gone_between_list_and_inspect():
    api = FakeAPI([_inspect(CID, "web")])
    real = api.inspect_container

    def inspect(cid):
        if cid == CID2:
            raise type("NotFound", (Exception,), {})("gone")
        return real(cid)

    api.inspect_container = inspect
    api.containers = lambda all=False: [{"Id": CID}, {"Id": CID2, "Names": ["/x"]}]
    src = DockerSource("unix:///nowhere")
    assert src.sync(api) == 1


def test_docker_source_without_engine_keeps_retrying_quietly():
    def factory(url, timeout):
        raise ConnectionError("connection refused")

    src = DockerSource("unix:///nowhere", client_factory=factory, retry_s=0.05)
    t0 = time.monotonic()
    src.start(wait_s=0.2)
    assert time.monotonic() - t0 < 2
    assert not src.connected
    assert src.container(CID, 0) is None
    src.close()


# -- selection ------------------------------------------------------------------------------
def _pinger(answering):
    calls = []

    def ping(url):
        calls.append(url)
        if url in answering:
            return True, "engine API 1.41"
        return False, "connection refused"

    ping.calls = calls
    return ping


def test_select_cgroup_and_kubernetes_explicit():
    ping = _pinger(set())
    sel = detect("cgroup", ping=ping, candidates=["unix:///a"])
    assert sel.kind == "cgroup" and not ping.calls
    sel = detect("kubernetes", ping=ping, candidates=["unix:///a"])
    assert sel.kind == "kubernetes"
    with pytest.raises(KubernetesError, match="needs the node name"):
        create_source(sel)


def test_select_auto_prefers_an_answering_docker_engine():
    ping = _pinger({"unix:///b"})
    sel = detect("auto", env={}, ping=ping, candidates=["unix:///a", "unix:///b", "unix:///c"])
    assert (sel.kind, sel.docker_url) == ("docker", "unix:///b")
    assert ping.calls == ["unix:///a", "unix:///b"]
    assert "no Docker engine at unix:///a (connection refused)" in sel.reasons
    assert "Docker engine answers at unix:///b" in sel.summary()


def test_select_auto_falls_back_to_cgroup():
    sel = detect("auto", env={}, ping=_pinger(set()), candidates=["unix:///a"])
    assert sel.kind == "cgroup"
    assert any("cgroup names only" in r for r in sel.reasons)
    assert isinstance(create_source(sel), CgroupSource)


def test_select_docker_explicit_without_engine_still_docker():
    sel = detect("docker", env={}, ping=_pinger(set()), candidates=["unix:///a"])
    assert (sel.kind, sel.docker_url) == ("docker", "unix:///a")
    assert "will keep trying unix:///a" in sel.reasons[-1]


def test_select_auto_in_kubernetes_uses_the_pods(tmp_path):
    token = tmp_path / "token"
    token.write_text("t")
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    sel = detect(
        "auto", env=env, ping=_pinger(set()), candidates=["unix:///a"], token_path=str(token)
    )
    assert sel.kind == "kubernetes" and sel.kubernetes
    assert "Kubernetes detected" in sel.reasons[0]
    assert detect("auto", env={}, ping=_pinger(set()), candidates=[], enable_k8s_api=True).kind == (
        "kubernetes"
    )
    assert in_kubernetes(env, str(tmp_path / "none"))[0] is False
    assert in_kubernetes({}, str(token)) == (False, "no KUBERNETES_SERVICE_HOST")


def test_select_rejects_unknown_values():
    with pytest.raises(ValueError, match="expected one of"):
        detect("podman", ping=_pinger(set()), candidates=[])


def test_docker_candidates(tmp_path):
    # a procfs whose pid 1 has our own root: no host socket through it
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "1" / "comm").write_text("init\n")
    os.symlink("/", proc / "1" / "root")
    assert docker_candidates({}, str(proc)) == ["unix:///var/run/docker.sock"]
    # pid 1 with another root (the host's, seen from a --pid=host container)
    os.remove(proc / "1" / "root")
    (proc / "1" / "root" / "run").mkdir(parents=True)
    (proc / "1" / "root" / "run" / "docker.sock").touch()
    got = docker_candidates({"DOCKER_HOST": "tcp://10.1.2.3:2375"}, str(proc))
    assert got == [
        "tcp://10.1.2.3:2375",
        "unix:///var/run/docker.sock",
        f"unix://{proc}/1/root/run/docker.sock",
    ]
    assert docker_candidates({"DOCKER_HOST": "unix:///var/run/docker.sock"}, "/nonexistent") == [
        "unix:///var/run/docker.sock"
    ]


def test_docker_candidates_through_the_daemons_root(tmp_path):
    # pid 1's root is not readable (or has no socket); the daemon's root has it
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "1" / "comm").write_text("init\n")
    for pid, comm in ((300, "containerd"), (412, "dockerd")):
        (proc / str(pid) / "root" / "var" / "run").mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
    (proc / "412" / "root" / "var" / "run" / "docker.sock").touch()
    assert docker_candidates({}, str(proc)) == [
        "unix:///var/run/docker.sock",
        f"unix://{proc}/412/root/var/run/docker.sock",
    ]


def test_kubernetes_source_needs_a_reachable_configuration(tmp_path):
    with pytest.raises(KubernetesError, match="needs the node name"):
        KubernetesSource("")
    src = KubernetesSource("node1", kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(KubernetesError, match="--k8s-kubeconfig-path"):
        src.start()


def test_cgroup_source_knows_ids_only():
    src = CgroupSource()
    assert src.container(CID[:31], 5) == ContainerInfo(id=CID[:31])
    assert src.container("", 5) is None
    assert pod_block(src, CID[:31], 5, 1) is None  # no names: no pod block


# -- enrichment of the events ---------------------------------------------------------------
class StaticSource(MetadataSource):
    kind = "static"

    def __init__(self, infos=()):
        self.infos = {i.short_id: i for i in infos}
        self.calls = []

    def container(self, container_id, cgroup_id):
        self.calls.append((container_id, cgroup_id))
        return self.infos.get(container_id[:31])


def _exec(pid, cgroup_name, ktime=1_000, ppid=1):
    return ExecMsg(
        pid=pid, tid=pid, ktime=ktime, ppid=ppid, uid=0, euid=0, gid=0, egid=0, auid=0,
        start_time=ktime, cgroup_id=77, pid_ns=0, mnt_ns=0, argv=["cat", "/etc/hostname"],
        binary="/usr/bin/cat", cwd="/", cgroup_name=cgroup_name, trunc_args=False,
        trunc_path=False,
    )  # fmt: skip


def test_exec_event_carries_the_container_name_and_image(tmp_path):
    info = ContainerInfo(id=CID, name="web", image_name="nginx:1.27", image_id="sha256:1", pid=50)
    src = StaticSource([info])
    tracker = ProcessTracker("node", ProcessCache(), Clock(), src, procfs=str(tmp_path))
    ev = tracker.on_exec(_exec(50, f"docker-{CID}.scope"))
    proc = ev["process_exec"]["process"]
    assert proc["docker"] == CID[:31]
    assert proc["pod"] == {
        "container": {
            "id": CID,
            "name": "web",
            "image": {"id": "sha256:1", "name": "nginx:1.27"},
            # the container's first process: its start stands for the container's until
            # the source knows that
            "start_time": proc["start_time"],
            "pid": 1,
        }
    }
    assert list(proc).index("pod") == list(proc).index("docker") - 1
    assert src.calls == [(CID[:31], 77)]
    assert process_info(Colors(False), ev, proc) == "web /usr/bin/cat"


def test_exec_event_takes_the_namespace_pid_from_the_kernel(tmp_path):
    """The pid in the container comes with the exec message: the process may be gone."""
    info = ContainerInfo(id=CID, name="web", start_time="2026-01-01T00:00:00.000000000Z", pid=9)
    tracker = ProcessTracker("node", ProcessCache(), Clock(), StaticSource([info]), str(tmp_path))
    msg = _exec(70, f"docker-{CID}.scope")
    msg.nspid = 7
    container = tracker.on_exec(msg)["process_exec"]["process"]["pod"]["container"]
    assert container["pid"] == 7
    assert container["start_time"] == "2026-01-01T00:00:00.000000000Z"


def test_docker_source_asks_again_for_a_container_not_yet_started():
    created = ContainerInfo(id=CID, name="web", runtime="docker")
    src = dmod.DockerSource(client_factory=lambda *_: None, clock=lambda: 100.0)
    src.put(created)
    assert src.container(CID, 0) is created  # the name already, the start time later
    assert src._refresh.get_nowait() == CID[:31]


def test_exec_outside_containers_and_with_cgroup_source_has_no_pod():
    tracker = ProcessTracker("node", ProcessCache(), Clock(), CgroupSource())
    proc = tracker.on_exec(_exec(60, "session-1.scope"))["process_exec"]["process"]
    assert "pod" not in proc and "docker" not in proc
    proc = tracker.on_exec(_exec(61, f"docker-{CID}.scope"))["process_exec"]["process"]
    assert "pod" not in proc and proc["docker"] == CID[:31]


def test_exit_event_gets_the_name_when_it_was_unknown_at_exec(tmp_path):
    src = StaticSource()
    tracker = ProcessTracker("node", ProcessCache(), Clock(), src, procfs=str(tmp_path))
    proc = tracker.on_exec(_exec(70, CID))["process_exec"]["process"]
    assert "pod" not in proc
    src.infos[CID[:31]] = ContainerInfo(id=CID, name="late")
    ev = tracker.on_exit(ExitMsg(pid=70, tid=70, ktime=2_000, exit_code=0, start_time=1_000))
    assert ev["process_exit"]["process"]["pod"]["container"]["name"] == "late"
    assert "pod" not in proc  # the exec event already sent is not changed


def test_ns_pid_comes_from_procfs(tmp_path):
    (tmp_path / "80").mkdir()
    (tmp_path / "80" / "status").write_text("Name:\tcat\nNSpid:\t80\t12\n")
    src = StaticSource([ContainerInfo(id=CID, name="web", pid=5)])
    assert pod_block(src, CID[:31], 0, 80, str(tmp_path))["container"]["pid"] == 12
    assert "pid" not in pod_block(src, CID[:31], 0, 81, str(tmp_path))["container"]


def test_compact_prefers_the_kubernetes_pod():
    c = Colors(False)
    proc = {
        "binary": "/usr/bin/ls",
        "pod": {"namespace": "default", "name": "p", "container": {"name": "c"}},
    }
    assert process_info(c, {}, proc) == "default/p /usr/bin/ls"
    assert process_info(c, {}, {"binary": "/usr/bin/ls"}) == "/usr/bin/ls"
    assert process_info(c, {}, {"binary": "/usr/bin/ls", "pod": {"container": {"id": "x"}}}) == (
        "/usr/bin/ls"
    )


def test_node_name_is_the_hosts_from_a_container(tmp_path):
    """pid 1 in another UTS namespace: its /etc/hostname names the node."""
    from appliance.nodename import host_name

    for pid, uts in (("1", "uts:[1]"), ("self", "uts:[2]")):
        (tmp_path / pid / "ns").mkdir(parents=True)
        (tmp_path / pid / "ns" / "uts").symlink_to(uts)
    (tmp_path / "1/root/etc").mkdir(parents=True)
    (tmp_path / "1/root/etc/hostname").write_text("build-host\n")
    assert host_name(str(tmp_path)) == ("build-host", f"{tmp_path}/1/root/etc/hostname")
    (tmp_path / "self/ns/uts").unlink()
    (tmp_path / "self/ns/uts").symlink_to("uts:[1]")  # the host's namespace: gethostname
    assert host_name(str(tmp_path))[1] == "host name"


def test_docker_source_keeps_the_first_process_start_until_the_engine_tells(tmp_path):
    created = ContainerInfo(id=CID, name="web", runtime="docker")
    src = dmod.DockerSource(client_factory=lambda *_: None, clock=lambda: 100.0)
    src.put(created)
    tracker = ProcessTracker("node", ProcessCache(), Clock(), src, procfs=str(tmp_path))
    first = _exec(80, f"docker-{CID}.scope")
    first.nspid = 1
    c1 = tracker.on_exec(first)["process_exec"]["process"]["pod"]["container"]
    second = _exec(81, f"docker-{CID}.scope", ktime=2_000)
    second.nspid = 2
    c2 = tracker.on_exec(second)["process_exec"]["process"]["pod"]["container"]
    assert c1["pid"] == 1 and c2["pid"] == 2
    assert c2["start_time"] == c1["start_time"]  # the container's, not the second process's
    src.put(ContainerInfo(id=CID, name="web", start_time="2026-01-01T00:00:00.000000000Z", pid=5))
    third = tracker.on_exec(_exec(82, f"docker-{CID}.scope"))["process_exec"]["process"]
    assert third["pod"]["container"]["start_time"] == "2026-01-01T00:00:00.000000000Z"


def test_node_name_through_the_engine_daemon_when_pid_1_is_closed(tmp_path):
    from appliance.nodename import host_name

    for pid, uts in (("self", "uts:[2]"), ("1042", "uts:[1]")):
        (tmp_path / pid / "ns").mkdir(parents=True)
        (tmp_path / pid / "ns" / "uts").symlink_to(uts)
    (tmp_path / "1").mkdir()  # pid 1's namespace links are not readable here
    (tmp_path / "1042/comm").write_text("dockerd\n")
    (tmp_path / "1042/root/etc").mkdir(parents=True)
    (tmp_path / "1042/root/etc/hostname").write_text("vm\n")
    assert host_name(str(tmp_path)) == ("vm", f"{tmp_path}/1042/root/etc/hostname")
