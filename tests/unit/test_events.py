"""Event building: ids, arguments, container ids, exits, the process tree, compact lines."""

from __future__ import annotations

import base64
import struct

from appliance.cli.compact import Colors, event_line
from appliance.events.common import Clock, container_id, exec_id, join_args, signal_name
from appliance.events.process import ProcessTracker
from appliance.process.cache import ProcessCache
from appliance.process.procfs import ProcInfo
from appliance.sensors import wire
from appliance.sensors.process import decode_exec, decode_exit


def test_exec_id_is_tetragons():
    eid = exec_id("node1", 1234, 42)
    assert base64.b64decode(eid) == b"node1:1234:42"


def test_join_args_quotes_spaces():
    assert join_args(["sh", "-c", "exit 3"]) == '-c "exit 3"'
    assert join_args(["ls"]) == ""


def test_container_id_from_cgroup_names():
    cid = "f" * 64
    assert container_id(f"docker-{cid}.scope") == cid[:31]
    assert container_id(cid) == cid[:31]
    assert container_id(f"cri-containerd-{cid}.scope") == cid[:31]
    assert container_id("user@0.service") == ""


def test_signal_names():
    assert signal_name(9) == "SIGKILL" and signal_name(15) == "SIGTERM"


def test_clock_formats_rfc3339_nanoseconds():
    c = Clock()
    c.offset = 0
    assert c.rfc3339(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


def _exec_msg(pid, ppid, ktime, argv, binary, cwd, cg=""):
    data = b"\0".join(a.encode() for a in argv) + b"\0"
    body = binary.encode() + b"\0"
    cwd_parts = [p for p in cwd.split("/") if p][::-1]
    cwd_raw = b"".join(p.encode() + b"\0" for p in cwd_parts)
    cgb = cg.encode() + b"\0"
    fixed = wire.EXEC.pack(ppid, 0, 0, 0, 0, 0xFFFFFFFF, ktime, 1, 2, 3, len(data), len(body),
                           len(cwd_raw), len(cgb), 0, len(cwd_parts), 0, 0, 0)  # fmt: skip
    extra = wire.EXEC_EXTRA.pack(0, 0, 0, 0, 0, 0, 1 << 21, 1 << 21, 0, *range(1, 11))
    payload = fixed + extra + data + body + cwd_raw + cgb
    hdr = wire.HEADER.pack(wire.MSG_EXEC, 0, 0, wire.HEADER.size + len(payload), pid, pid, ktime)
    return hdr + payload


def test_wire_decode_exec_roundtrip():
    raw = _exec_msg(
        7, 1, 99, ["sh", "-c", "exit 3"], "./sh", "/tmp/x", "docker-" + "a" * 64 + ".scope"
    )
    m = decode_exec(raw)
    assert (m.pid, m.ppid, m.ktime) == (7, 1, 99)
    assert m.argv == ["sh", "-c", "exit 3"]
    assert m.cwd == "/tmp/x"
    assert m.binary == "/tmp/x/sh"  # relative paths are made absolute with the cwd
    assert m.cgroup_name.startswith("docker-")


def test_tracker_parents_clone_exec_exit():
    clock = Clock()
    t = ProcessTracker("n", ProcessCache(16), clock)
    t.learn([ProcInfo(100, 1, 5_000, 0, 0xFFFFFFFF, "/usr/bin/bash", ["bash"], "/", "", False)])
    shell = t.cache.get(100).process
    assert "procFS" in shell["flags"] and "rootcwd" in shell["flags"]
    t.on_clone(wire.CloneMsg(200, 200, 10_000, 100, 10_000))
    ev = t.on_exec(decode_exec(_exec_msg(200, 100, 11_000, ["ls", "-l"], "/usr/bin/ls", "/")))
    proc = ev["process_exec"]["process"]
    assert proc["parent_exec_id"] == shell["exec_id"]
    assert ev["process_exec"]["parent"]["exec_id"] == shell["exec_id"]
    assert proc["flags"] == "execve rootcwd clone" and proc["arguments"] == "-l"
    out = t.on_exit(wire.ExitMsg(200, 200, 12_000, 9, 0))
    assert out["process_exit"]["signal"] == "SIGKILL" and "status" not in out["process_exit"]
    assert t.cache.get(200) is None
    t.on_clone(wire.CloneMsg(201, 201, 13_000, 100, 13_000))
    out = t.on_exit(wire.ExitMsg(201, 201, 14_000, 3 << 8, 0))
    assert out["process_exit"]["status"] == 3


def test_cache_is_bounded():
    c = ProcessCache(2)
    t = ProcessTracker("n", c, Clock())
    for pid in (1, 2, 3):
        t.learn([ProcInfo(pid, 0, pid, 0, 0, "/b", ["b"], "/", "", False)])
    assert len(c) == 2 and c.get(1) is None and c.evicted == 1


def test_compact_lines_match_the_docs():
    exec_ev = {"process_exec": {"process": {"binary": "/usr/bin/sh", "arguments": '-c "exit 3"'}}}
    exit_ev = {"process_exit": {"process": {"binary": "/usr/bin/sh", "arguments": '-c "exit 3"'},
                                "status": 3}}  # fmt: skip
    ls_exit = {"process_exit": {"process": {"binary": "/usr/bin/ls"}}}
    kill = {"process_exit": {"process": {"binary": "/usr/bin/sleep", "arguments": "30"},
                             "signal": "SIGKILL"}}  # fmt: skip
    assert event_line(exec_ev) == '🚀 process /usr/bin/sh -c "exit 3"'
    assert event_line(exit_ev) == '💥 exit    /usr/bin/sh -c "exit 3" 3'
    assert event_line(ls_exit) == "💥 exit    /usr/bin/ls  0"
    assert event_line(kill) == "💥 exit    /usr/bin/sleep 30 SIGKILL"
    args = [{"int_arg": -100}, {"string_arg": "/etc/passwd"}]
    kp = {
        "process_kprobe": {
            "process": {"binary": "/usr/bin/cat"},
            "function_name": "__x64_sys_openat",
            "args": args,
        }
    }
    assert event_line(kp) == "📬️ openat  /usr/bin/cat /etc/passwd"
    xwing = {"namespace": "default", "name": "xwing"}
    pod = {"process_exec": {"process": {"binary": "/usr/bin/curl", "arguments": "x", "pod": xwing}}}
    assert event_line(pod) == "🚀 process default/xwing /usr/bin/curl x"
    assert "\033[" in event_line(exec_ev, Colors(True))


def test_exit_message_layout():
    raw = wire.HEADER.pack(wire.MSG_EXIT, 0, 0, 40, 5, 6, 7) + wire.EXIT.pack(256, 0, 8)
    m = decode_exit(raw)
    assert (m.pid, m.tid, m.ktime, m.exit_code, m.start_time) == (5, 6, 7, 256, 8)
    assert struct.calcsize("<BBHIIIQ") == wire.HEADER.size == 24
