"""The agent observes real processes on this kernel: exec, exit, signals, procfs."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import orjson

from .conftest import SLOW, exec_of, exit_of, first_streamed_exec


def test_exec_has_real_binary_and_shell_parent(agent):
    marker = f"lifecycle-{time.time_ns()}"
    subprocess.run(["/bin/sh", "-c", f"/bin/true {marker}; exit 0"], check=True)
    child = agent.wait_for(exec_of("/bin/true", marker))["process_exec"]
    shell = agent.wait_for(exec_of("/bin/sh", marker))["process_exec"]["process"]
    proc = child["process"]
    assert proc["binary"] == "/bin/true"
    assert proc["arguments"] == marker
    assert proc["parent_exec_id"] == shell["exec_id"]
    assert child["parent"]["exec_id"] == shell["exec_id"]
    assert "execve" in proc["flags"] and "clone" in proc["flags"]
    assert proc["cwd"] == os.getcwd()
    assert proc["uid"] == 0 and proc["pid"] > 0 and proc["tid"] == proc["pid"]
    assert proc["start_time"].endswith("Z") and "T" in proc["start_time"]


def test_exit_status(agent):
    rc = subprocess.run(["/bin/sh", "-c", "exit 3"]).returncode
    assert rc == 3
    ev = agent.wait_for(exit_of("/bin/sh", '-c "exit 3"'))["process_exit"]
    assert ev["status"] == 3
    assert "signal" not in ev


def test_sigkill_reported(agent):
    p = subprocess.Popen(["/bin/sleep", "31.5"])
    agent.wait_for(exec_of("/bin/sleep", "31.5"))
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    ev = agent.wait_for(exit_of("/bin/sleep", "31.5"))["process_exit"]
    assert ev["signal"] == "SIGKILL"
    assert ev["process"]["pid"] == p.pid


def test_process_started_before_agent_is_a_procfs_parent(agent, early_process):
    proc, fifo, marker = early_process
    with open(fifo, "w") as f:
        f.write("go\n")
    proc.wait(10)
    ev = agent.wait_for(exec_of("/bin/true", marker))["process_exec"]
    parent = ev["parent"]
    assert parent["pid"] == proc.pid
    assert "procFS" in parent["flags"]
    assert parent["binary"] == "/usr/bin/dash" or parent["binary"].endswith("sh")
    assert ev["process"]["parent_exec_id"] == parent["exec_id"]


def test_exec_ids_unique_and_export_is_json_lines(agent):
    for i in range(20):
        subprocess.run(["/bin/true", f"uniq-{i}"])
    agent.wait_for(exit_of("/bin/true", "uniq-19"))
    ids = [e["process_exec"]["process"]["exec_id"] for e in agent.events() if "process_exec" in e]
    assert len(ids) == len(set(ids))
    with open(agent.export, "rb") as f:
        lines = f.read().splitlines()
    assert lines
    for line in lines:
        ev = orjson.loads(line)
        assert "node_name" in ev and "time" in ev


def test_tetra_getevents_compact_and_json(agent):
    marker = f"tetra-{time.time_ns()}"
    cmd = ["tetra", "--server-address", agent.address, "getevents", "-o", "compact"]
    started, exited = f"🚀 process /bin/true {marker}", f"💥 exit    /bin/true {marker} 0"
    again = ["/bin/sh", "-c", f"/bin/true {marker}; exit 0"]
    with subprocess.Popen(_tetra(cmd), stdout=subprocess.PIPE, text=True) as t:
        try:
            lines = _read_until(t, exited, again=again)
            if started not in lines:  # the stream began between one run's exec and exit
                lines += _read_until(t, exited, again=again)
        finally:
            t.kill()
    assert started in lines
    assert exited in lines

    # JSON output from the gRPC stream, with Tetragon's field names
    cmd = ["tetra", "--server-address", agent.address, "getevents", "--processes", "true"]
    with subprocess.Popen(_tetra(cmd), stdout=subprocess.PIPE, text=True) as t:
        try:
            again = ["/bin/true", marker + "-json"]
            line = _read_until(t, marker + "-json", again=again, kind="process_exec")[-1]
        finally:
            t.kill()
    ev = orjson.loads(line)
    assert ev["process_exec"]["process"]["binary"] == "/bin/true"
    assert isinstance(ev["process_exec"]["process"]["pid"], int)


def test_tetra_getevents_upstream_flags(agent):
    """Upstream tetra's flags: --process with a comma list, -f/-F field filters, --host."""
    marker = f"flags-{time.time_ns()}"
    cmd = ["tetra", "--server-address", agent.address, "getevents", "--process", "nope,true"]
    cmd += ["-f", "process.binary,process.arguments,process.exec_id", "-F", "process.exec_id"]
    with subprocess.Popen(_tetra(cmd), stdout=subprocess.PIPE, text=True) as t:
        try:
            line = _read_until(t, marker, again=["/bin/true", marker], kind="process_exec")[-1]
        finally:
            t.kill()
    ev = orjson.loads(line)
    assert ev["process_exec"] == {"process": {"binary": "/bin/true", "arguments": marker}}
    agent.wait_for(exec_of("/bin/true", marker))
    out = subprocess.run(
        _tetra(["tetra", "getevents", "--host", "-F", "parent", "--process", "true"]),
        input=agent.export.read_bytes(),
        capture_output=True,
    )
    events = [orjson.loads(x) for x in out.stdout.splitlines()]
    mine = [
        e for e in events if e.get("process_exec", {}).get("process", {}).get("arguments") == marker
    ]
    assert mine and all("parent" not in e.get("process_exec", {"parent": 0}) for e in mine)


def test_tetra_reads_json_from_stdin(agent):
    agent.wait_for(exec_of("/bin/true"))
    data = agent.export.read_bytes()
    out = subprocess.run(
        _tetra(["tetra", "getevents", "-o", "compact"]), input=data, capture_output=True
    )
    assert out.returncode == 0
    assert "🚀 process /bin/true" in out.stdout.decode()


def test_tetra_status_and_version(agent):
    out = subprocess.run(
        _tetra(["tetra", "--server-address", agent.address, "status"]),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "running" in out.stdout
    out = subprocess.run(
        _tetra(["tetra", "--server-address", agent.address, "version"]),
        capture_output=True,
        text=True,
    )
    assert "Server version:" in out.stdout


def test_metrics_count_events(agent):
    subprocess.run(["/bin/true", "metrics"])
    agent.wait_for(exit_of("/bin/true", "metrics"))
    m = agent.metrics()
    assert 'tetragon_events_total{type="PROCESS_EXEC"}' in m
    assert 'tetragon_events_lost_total{where="ring_buffer"} 0.0' in m
    assert "tetragon_process_cache_size" in m


def _tetra(cmd: list[str]) -> list[str]:
    import sys

    return [sys.executable, "-m", "appliance.cli.tetra", *cmd[1:]]


def _read_until(
    proc: subprocess.Popen,
    needle: str,
    timeout: float = 10,
    again: list[str] | None = None,
    kind: str = "",
) -> list[str]:
    """Lines of ``proc`` up to the one holding ``needle`` (and, with ``kind``, a JSON event
    of that kind). With ``again``, that command is run every second until then: the client
    may subscribe later than it was given time to (a slow guest), and a process run before
    that is never streamed, or only its exit is."""
    import select

    lines: list[str] = []
    deadline = time.monotonic() + timeout * SLOW
    next_run = 0.0
    while time.monotonic() < deadline:
        if again and time.monotonic() >= next_run:
            subprocess.run(again)
            next_run = time.monotonic() + 1.0
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if needle in line and (not kind or kind in orjson.loads(line)):
                return lines
    raise AssertionError(f"{needle!r} not seen; got {lines[-5:]}")


def test_tetra_probe_reports_kernel_features():
    out = subprocess.run(_tetra(["tetra", "probe"]), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert lines["ring_buffer"] == "yes"
    assert lines["send_signal"] == "yes"
    for key in ("kprobes", "fentry", "fmod_ret", "bpf_lsm", "override_return"):
        assert lines[key] in ("yes", "no")


def test_get_events_honours_allow_and_deny_lists(agent):
    """A client built from the v1 API asks for exits of one pid only, deny-listing nothing
    it wants: only that process's exit arrives."""
    import threading

    import grpc

    from appliance.api.tetragon import events_pb2, sensors_pb2_grpc

    target = subprocess.Popen(["/bin/sleep", "2.25"])
    req = events_pb2.GetEventsRequest()
    allow = req.allow_list.add()
    allow.pid.append(target.pid)
    allow.event_set.append(events_pb2.PROCESS_EXIT)
    deny = req.deny_list.add()
    deny.binary_regex.append("^/usr/bin/never$")
    stub = sensors_pb2_grpc.FineGuidanceSensorsStub(grpc.insecure_channel(agent.address))
    got = []
    stream = stub.GetEvents(req)

    def read():
        for resp in stream:
            got.append(resp)
            return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    subprocess.run(["/bin/true", "noise"])
    target.wait()
    t.join(15)
    stream.cancel()
    assert len(got) == 1
    assert got[0].WhichOneof("event") == "process_exit"
    assert got[0].process_exit.process.pid.value == target.pid
    assert got[0].process_exit.process.binary == "/bin/sleep"


def test_get_events_field_filters(agent):
    """GetEventsRequest.field_filters: only the requested fields of exec events arrive."""
    marker = f"fields-{time.time_ns()}"
    proc = first_streamed_exec(
        agent,
        marker,
        lambda: subprocess.run(["/bin/true", marker]),
        fields=("process.binary", "process.arguments"),
    )
    assert proc.binary == "/bin/true" and proc.arguments == marker
    assert proc.exec_id == "" and not proc.HasField("pid")
