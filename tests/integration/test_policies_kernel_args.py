"""Kernel-object arguments (dentry, perf_event, bpf_map, sockaddr) and Override together
with return. They hook kernel functions: these tests need kprobes (the tests/vm kernels)."""

from __future__ import annotations

import base64
import ctypes
import errno
import os
import socket
import textwrap

import pytest

from .policy_harness import Policy, agent_fixture, wait_policy_event
from .test_policies_kernel_hooks import _fentry_ok, needs_kprobes

pytestmark = needs_kprobes
LIBC = ctypes.CDLL(None, use_errno=True)
SYS_BPF, SYS_PERF_EVENT_OPEN = 321, 298  # x86_64


agent = agent_fixture()


def _kernel_has(symbol: str) -> bool:
    with open("/proc/kallsyms") as f:
        return any(line.split()[2] == symbol for line in f if len(line.split()) >= 3)


def test_dentry_follow_link(agent, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("x")
    link = tmp_path / "followed-link"
    link.symlink_to(target)
    # Tetragon's security_inode_follow_link.yaml, with a selector on the link's name
    with Policy(agent, tmp_path, textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "follow-symlink"
    spec:
      kprobes:
      - call: "security_inode_follow_link"
        syscall: false
        args:
        - index: 0
          type: "dentry"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Postfix"
            values:
            - "/followed-link"
    """)):  # fmt: skip
        link.read_text()
        ev = wait_policy_event(agent, "follow-symlink")
        # a dentry gives the path within its mount: the tail of the link's path
        path = ev["args"][0]["path_arg"]["path"]
        assert path.endswith("/followed-link") and str(link).endswith(path)


class PerfEventAttr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32),
                ("config", ctypes.c_uint64), ("rest", ctypes.c_uint8 * 112)]  # fmt: skip


class MapCreateAttr(ctypes.Structure):
    _fields_ = [("map_type", ctypes.c_uint32), ("key_size", ctypes.c_uint32),
                ("value_size", ctypes.c_uint32), ("max_entries", ctypes.c_uint32),
                ("map_flags", ctypes.c_uint32), ("inner_map_fd", ctypes.c_uint32),
                ("numa_node", ctypes.c_uint32), ("map_name", ctypes.c_char * 16),
                ("rest", ctypes.c_uint8 * 64)]  # fmt: skip


def test_perf_event_and_bpf_map(agent, tmp_path):
    map_hook = next((s for s in ("security_bpf_map_alloc", "security_bpf_map_create")
                     if _kernel_has(s)), None)  # fmt: skip
    if map_hook is None or not _kernel_has("security_perf_event_alloc"):
        pytest.skip("no security_perf_event_alloc / security_bpf_map_* in this kernel")
    # the hooks of Tetragon's bpf.yaml (its map hook is renamed security_bpf_map_create
    # from Linux 6.9)
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "bpf-objects"
    spec:
      kprobes:
      - call: "security_perf_event_alloc"
        syscall: false
        args:
        - index: 0
          type: "perf_event"
      - call: "{map_hook}"
        syscall: false
        args:
        - index: 0
          type: "bpf_map"
    """)):  # fmt: skip
        attr = PerfEventAttr(type=1, size=128, config=1)  # PERF_TYPE_SOFTWARE, TASK_CLOCK
        fd = LIBC.syscall(SYS_PERF_EVENT_OPEN, ctypes.byref(attr), 0, -1, -1, 0)
        assert fd >= 0, os.strerror(ctypes.get_errno())
        os.close(fd)
        mattr = MapCreateAttr(map_type=1, key_size=4, value_size=8, max_entries=7,
                              map_name=b"breadth_map")  # fmt: skip
        mfd = LIBC.syscall(SYS_BPF, 0, ctypes.byref(mattr), ctypes.sizeof(mattr))
        assert mfd >= 0, os.strerror(ctypes.get_errno())
        os.close(mfd)
        pe = wait_policy_event(agent, "bpf-objects", lambda e: "perf_event_arg" in e["args"][0]
                    and e["process"]["pid"] == os.getpid())  # fmt: skip
        pe = pe["args"][0]["perf_event_arg"]
        assert pe["Type"] == "PERF_TYPE_SOFTWARE" and pe["Config"] == "1"
        bm = wait_policy_event(agent, "bpf-objects", lambda e: "bpf_map_arg" in e["args"][0]
                    and e["args"][0]["bpf_map_arg"]["MapName"] == "breadth_map")  # fmt: skip
        assert bm["args"][0]["bpf_map_arg"] == {
            "MapType": "BPF_MAP_TYPE_HASH", "KeySize": 4, "ValueSize": 8, "MaxEntries": 7,
            "MapName": "breadth_map",
        }  # fmt: skip


def test_sockaddr_inet_and_unix(agent, tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    upath = str(tmp_path / "s.sock")
    usrv = socket.socket(socket.AF_UNIX)
    usrv.bind(upath)
    usrv.listen()
    # Tetragon's security-socket-connect.yaml, with the address selectors of
    # security-socket-connect-block-others.yaml
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "security-socket-connect"
    spec:
      kprobes:
      - call: "security_socket_connect"
        syscall: false
        args:
        - index: 0
          type: "socket"
        - index: 1
          type: "sockaddr"
        - index: 2
          type: "int"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Protocol"
            values:
            - "IPPROTO_TCP"
          - index: 1
            operator: "Family"
            values:
            - "AF_INET"
            - "AF_INET6"
          - index: 1
            operator: "SAddr"
            values:
            - "127.0.0.1"
          - index: 1
            operator: "SPort"
            values:
            - {port}
        - matchArgs:
          - index: 1
            operator: "Family"
            values:
            - "AF_UNIX"
    """)):  # fmt: skip
        socket.create_connection(("127.0.0.1", port)).close()
        u = socket.socket(socket.AF_UNIX)
        u.connect(upath)
        u.close()
        ev = wait_policy_event(
            agent, "security-socket-connect", lambda e: "sockaddr_arg" in e["args"][1]
        )
        assert ev["args"][1]["sockaddr_arg"] == {"family": "AF_INET", "addr": "127.0.0.1",
                                                  "port": port}  # fmt: skip
        assert ev["args"][0]["sock_arg"]["protocol"] == "IPPROTO_TCP"
        assert ev["args"][2]["int_arg"] == 16  # sizeof(struct sockaddr_in)

        def unix_path(e):
            return e["args"][1].get("sockaddrun_arg", {}).get("path")

        un = wait_policy_event(agent, "security-socket-connect", lambda e: unix_path(e) == upath)
        assert un["args"][1]["sockaddrun_arg"] == {"family": "AF_UNIX", "path": upath}
    srv.close()
    usrv.close()


def test_override_with_return(agent, tmp_path):
    if not _fentry_ok():
        pytest.skip("fmod_ret programs do not load on this kernel")
    denied, allowed = tmp_path / "denied.txt", tmp_path / "allowed.txt"
    denied.write_text("x")
    allowed.write_text("y")
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "override-return"
    spec:
      kprobes:
      - call: "security_file_open"
        syscall: false
        return: true
        args:
        - index: 0
          type: "file"
        returnArg:
          index: 0
          type: "int"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Equal"
            values:
            - "{denied}"
          matchActions:
          - action: Override
            argError: -1
        - matchArgs:
          - index: 0
            operator: "Equal"
            values:
            - "{allowed}"
    """)):  # fmt: skip
        with pytest.raises(PermissionError) as exc:
            open(denied).close()
        assert exc.value.errno == errno.EPERM
        assert allowed.read_text() == "y"

        def path(e):
            return e["args"][0]["file_arg"]["path"]

        ev = wait_policy_event(agent, "override-return", lambda e: path(e) == str(denied))
        assert ev["action"] == "KPROBE_ACTION_OVERRIDE" and ev["return"] == {"int_arg": -1}
        ok = wait_policy_event(agent, "override-return", lambda e: path(e) == str(allowed))
        assert ok["action"] == "KPROBE_ACTION_POST" and ok["return"] == {"int_arg": 0}
    open(denied).close()


def test_iov_iter_tty_write(agent, tmp_path):
    master, slave = os.openpty()
    name = os.ttyname(slave)
    # Tetragon's tty.yaml, with a selector on this test's terminal
    try:
        with Policy(agent, tmp_path, textwrap.dedent(f"""
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata:
          name: "tty"
        spec:
          kprobes:
          - call: "tty_write"
            syscall: false
            args:
            - index: 0
              type: "kiocb"
            - index: 1
              type: "iov_iter"
              maxData: true
            selectors:
            - matchArgs:
              - index: 0
                operator: "Equal"
                values:
                - "{name}"
        """)):  # fmt: skip
            os.write(slave, b"typed on a terminal")
            ev = wait_policy_event(agent, "tty")
    finally:
        os.close(slave)
        os.close(master)
    assert ev["args"][0]["file_arg"]["path"] == name
    assert base64.b64decode(ev["args"][1]["bytes_arg"]) == b"typed on a terminal"


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]  # fmt: skip


def test_capability_sets(agent, tmp_path):
    # the kernel_cap_t + CapabilityMask of Tetragon's deny-privileged-containers.yml (there
    # on the capset LSM hook, here on security_capset), and a cred's cap_effective
    with Policy(agent, tmp_path, textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "cap-sets"
    spec:
      kprobes:
      - call: "security_capset"
        syscall: false
        args:
        - index: 0
          type: "cap_effective"
        - index: 2
          type: "kernel_cap_t"
        selectors:
        - matchArgs:
          - operator: CapabilityMask
            index: 2
            values:
            - "CAP_SYS_ADMIN"
    """)):  # fmt: skip
        hdr, data = CapHeader(0x20080522, 0), (CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3
        assert LIBC.syscall(125, ctypes.byref(hdr), data) == 0  # capget
        assert LIBC.syscall(126, ctypes.byref(hdr), data) == 0  # capset: the same sets
        ev = wait_policy_event(agent, "cap-sets", lambda e: e["process"]["pid"] == os.getpid())
    eff = data[0].effective | data[1].effective << 32
    assert ev["args"][1] == {"kernel_cap_t_arg": f"{eff:016x}"}
    assert ev["args"][0] == {"cap_effective_arg": f"{eff:016x}"}  # the new cred's set
