"""The getting-started guide's policy steps, run as the guide writes them.

The policies are the guide's own files (tests/fixtures: file_monitoring.yaml,
file_monitoring_enforce.yaml, network_egress_cluster.yaml), loaded unchanged where the
host allows it; the output is read from `tetra getevents -o compact`, as the guide does.
On a kernel without kprobes the kernel functions attach to their equivalents (with a
warning naming them); on the tests/vm kernels the same tests see the functions themselves.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, SLOW, RunningAgent, _clean_env, kernel_has_kprobes
from .test_policies import tetra
from .test_policies_kernel_hooks import _fentry_ok

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FILE_FUNCTIONS = ("security_file_permission", "security_mmap_file", "security_path_truncate")
ON_EQUIVALENTS = not (kernel_has_kprobes() or _fentry_ok())
CAT = shutil.which("cat") or "/usr/bin/cat"
# not the checkout's venv: `tetra getevents` leaves the appliance's own processes out
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"


class Compact:
    """`tetra getevents -o compact` running beside the test; lines are collected as they
    come."""

    def __init__(self, agent) -> None:
        cmd = [sys.executable, "-m", "appliance.cli.tetra", "--server-address", agent.address,
               "getevents", "-o", "compact", "--color", "never"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, cwd=ROOT, env=_clean_env())  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        # the stream is open before the step runs: an exec of our own shows up in it
        marker = f"stream-open-{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + 60 * SLOW
        while not any(marker in ln for ln in self.lines):
            assert time.monotonic() < deadline, "tetra getevents shows no events"
            subprocess.run(["/bin/echo", marker], capture_output=True)
            time.sleep(0.5)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait(self, pattern: str, timeout: float = 15, after: int = 0) -> str:
        """The first line from index ``after`` on that matches ``pattern``."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if rx.search(line):
                    return line
            time.sleep(0.1)
        tail = "\n".join(self.lines[-30:])
        raise AssertionError(f"no compact line like {pattern!r} within {timeout}s:\n{tail}")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_agent(tmp_path_factory) -> RunningAgent:
    """A policy agent whose export file is not rotated: the tests read it from the start,
    and a busy machine's exec events alone would reach the rotation size."""
    d = tmp_path_factory.mktemp("policy-agent")
    return RunningAgent(
        d, ["--policy-cache-dir", str(d / "cache"), "--export-file-max-size-mb", "0"]
    )


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = start_agent(tmp_path_factory)
    yield a
    a.stop()


@pytest.fixture
def compact(agent):
    c = Compact(agent)
    yield c
    c.close()


class Loaded:
    """A policy file added with `tetra tracingpolicy add`, deleted on exit."""

    def __init__(self, agent, path: Path) -> None:
        self.agent = agent
        self.path = path
        self.name = yaml.safe_load(path.read_text())["metadata"]["name"]

    def __enter__(self) -> Loaded:
        self.mark = self.agent.log.stat().st_size
        tetra(self.agent, "tracingpolicy", "add", str(self.path))
        return self

    def __exit__(self, *exc) -> None:
        tetra(self.agent, "tracingpolicy", "delete", self.name, check=False)

    def log_since_add(self) -> str:
        with open(self.agent.log, "rb") as f:
            f.seek(self.mark)
            return f.read().decode(errors="replace")


def _hooks_listed(agent, name: str) -> str:
    return next(
        ln for ln in tetra(agent, "tracingpolicy", "list").stdout.splitlines() if name in ln
    )


def test_file_monitoring_loads_as_published(agent):
    with Loaded(agent, FIXTURES / "file_monitoring.yaml") as p:
        listed = tetra(agent, "tracingpolicy", "list", "-o", "json").stdout
        if ON_EQUIVALENTS:
            log = p.log_since_add()
            for fn in FILE_FUNCTIONS:
                # a warning naming the equivalent, and the listing saying what it attaches
                assert re.search(rf"WARN.*{fn} cannot be hooked on this kernel.*equivalent", log)
                assert f"{fn}: equivalent on syscalls/sys_enter_" in listed
            assert "sys_enter_{mmap}" in listed and "sys_enter_{truncate,ftruncate}" in listed
        else:
            for fn in FILE_FUNCTIONS:
                assert re.search(rf"{fn}: (kprobe|fentry) ", listed), listed
            assert "equivalent on" not in listed


def test_cat_shadow_is_a_read_event(agent, compact):
    with Loaded(agent, FIXTURES / "file_monitoring.yaml"):
        out = subprocess.run([CAT, "/etc/shadow"], capture_output=True)
        assert out.returncode == 0
        compact.wait(rf"^📚 read +{re.escape(CAT)} /etc/shadow$")
        compact.wait(rf"^💥 exit +{re.escape(CAT)} /etc/shadow 0$")


def test_mmap_of_a_sensitive_file_is_an_mmap_event(agent, compact):
    with Loaded(agent, FIXTURES / "file_monitoring.yaml"):
        # selector 1 of security_mmap_file: PROT_READ only, MAP_SHARED
        code = (
            "import mmap, os; fd = os.open('/etc/shadow', os.O_RDONLY); "
            "m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ); m.close()"
        )
        subprocess.run([PYTHON, "-c", code], check=True)
        compact.wait(rf"^📝 mmap-r +{re.escape(PYTHON)}\S* /etc/shadow$")
        assert mmap.PROT_READ == 1 and mmap.MAP_SHARED == 1  # the policy's values


def test_truncate_and_ftruncate_are_truncate_events(agent, compact):
    name = f"tetragon-gs-{uuid.uuid4().hex[:8]}.log"
    target = Path("/var/log") / name  # a truncate under /var/log is selected
    target.write_text("x" * 10)
    try:
        with Loaded(agent, FIXTURES / "file_monitoring.yaml"):
            subprocess.run(["truncate", "-s", "0", str(target)], check=True)
            compact.wait(rf"^📝 truncate +\S*/truncate {re.escape(str(target))}$")
            # a relative name is reported after the working directory
            n = len(compact.lines)
            subprocess.run(["truncate", "-s", "1", name], check=True, cwd="/var/log")
            compact.wait(rf"^📝 truncate +\S*/truncate {re.escape(str(target))}$", after=n)
            code = f"import os; f = open({str(target)!r}, 'r+'); os.ftruncate(f.fileno(), 0)"
            subprocess.run([PYTHON, "-c", code], check=True)
            compact.wait(rf"^📝 truncate +{re.escape(PYTHON)}\S* {re.escape(str(target))}$")
    finally:
        target.unlink(missing_ok=True)


def test_enforce_policy_kills_cat_with_137(agent, compact, tmp_path):
    published = FIXTURES / "file_monitoring_enforce.yaml"
    # as published it is namespaced: without Kubernetes there is no namespace to apply to
    out = tetra(agent, "tracingpolicy", "add", str(published), check=False)
    assert out.returncode != 0 and "TracingPolicyNamespaced" in out.stderr + out.stdout
    # the guide's Docker flow loads it on the host: the same selectors and actions,
    # cluster-wide, but each selector narrowed to a copy of cat (this kernel is shared:
    # the policy kills writers under /etc and /var/log too)
    cat = tmp_path / "cat"
    shutil.copy(CAT, cat)
    doc = yaml.safe_load(published.read_text())
    doc["kind"] = "TracingPolicy"
    for kp in doc["spec"]["kprobes"]:
        for sel in kp["selectors"]:
            sel["matchBinaries"] = [{"operator": "In", "values": [str(cat)]}]
    host = tmp_path / "file_monitoring_enforce.yaml"
    host.write_text(yaml.safe_dump(doc, sort_keys=False))
    with Loaded(agent, host):
        r = subprocess.run(["/bin/sh", "-c", f"{cat} /etc/shadow >/dev/null; echo $?"],
                           capture_output=True, text=True)  # fmt: skip
        assert r.stdout.strip() == "137", r
        compact.wait(rf"^📚 read +{re.escape(str(cat))} /etc/shadow$")
        compact.wait(rf"^💥 exit +{re.escape(str(cat))} /etc/shadow SIGKILL$")
        # files the policy does not name are not affected
        ok = subprocess.run([str(cat), "/etc/hostname"], capture_output=True)
        assert ok.returncode == 0


HTTP_SERVER = """
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"landed")
    def log_message(self, *a): pass
socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer((sys.argv[1], 80), H) as s:
    print("ready", flush=True)
    s.serve_forever()
"""


@pytest.fixture
def netns():
    """A network namespace of the test's own with 192.0.2.1 on its loopback device (no veth:
    the tests/vm guests' kernels have no veth module); removed after."""
    name = f"tetra-gs-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (["link", "set", "lo", "up"], ["addr", "add", "192.0.2.1/32", "dev", "lo"]):
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _server(netns: str, addr: str) -> subprocess.Popen:
    srv = subprocess.Popen(["ip", "netns", "exec", netns, PYTHON, "-c", HTTP_SERVER,
                            addr], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert srv.stdout.readline().strip() == "ready"
    return srv


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_outside_the_cidrs_is_a_connect_event(agent, compact, tmp_path, netns):
    # the guide's Docker flow: PODCIDR and SERVICECIDR set to 127.0.0.1/32, then envsubst
    text = (FIXTURES / "network_egress_cluster.yaml").read_text()
    subst = tmp_path / "network_egress_cluster_subst.yaml"
    subst.write_text(text.replace("${PODCIDR}", "127.0.0.1/32")
                     .replace("${SERVICECIDR}", "127.0.0.1/32"))  # fmt: skip
    servers = [_server(netns, "192.0.2.1"), _server(netns, "127.0.0.1")]
    try:
        with Loaded(agent, subst):
            curl = shutil.which("curl")

            def run_curl(url: str) -> subprocess.CompletedProcess:
                cmd = ["ip", "netns", "exec", netns, curl, "-s", url]
                return subprocess.run(cmd, capture_output=True, text=True, timeout=30)

            local = run_curl("http://127.0.0.1/")
            assert local.stdout == "landed", local
            remote = run_curl("http://192.0.2.1/")
            assert remote.stdout == "landed", remote
            compact.wait(rf"^🔌 connect +{re.escape(curl)} "
                         r"tcp \d+\.\d+\.\d+\.\d+:\d+ -> 192\.0\.2\.1:80$")  # fmt: skip
            compact.wait(rf"^💥 exit +{re.escape(curl)} -s http://192\.0\.2\.1/ 0$")
            # the loopback curl ran first: its connect, had it been posted, is in by now
            assert not [ln for ln in compact.lines if "🔌" in ln and "127.0.0.1" in ln]
    finally:
        for s in servers:
            s.terminate()
            s.wait(10)
