"""Fixtures that run the real agent as root and read the events it exports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
# a guest under QEMU's software emulation starts the agent much more slowly
START_TIMEOUT = 600 if os.environ.get("TETRAGON_VM_GUEST") else 60
# ... and every Python process in it (a tetra client, say) takes seconds to start
SLOW = 10 if os.environ.get("TETRAGON_VM_GUEST") else 1


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _need_root():
    if os.geteuid() != 0:
        pytest.skip(
            "integration tests load BPF programs: run them as root", allow_module_level=True
        )


@pytest.fixture(scope="session", autouse=True)
def _no_pins_left():
    """Nothing a test pinned under bpffs (tetragon-test-<pid>) outlives the session."""
    yield
    bpffs = "/sys/fs/bpf"
    mine = f"tetragon-test-{os.getpid()}"
    left = [d for d in os.listdir(bpffs) if d.startswith(mine)] if os.path.isdir(bpffs) else []
    assert not left, f"pins left under {bpffs}: {left}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_logged(args: list[str], logf, env: dict | None) -> subprocess.Popen:
    """``args`` from the repository root, output to ``logf``, ``env`` over a clean one."""
    return subprocess.Popen(
        args, cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT, env={**_clean_env(), **(env or {})}
    )


def stop_process(proc: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM, then SIGKILL if ``proc`` has not exited within ``grace`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RunningAgent:
    def __init__(
        self,
        workdir: Path,
        extra_args: list[str] = (),
        export_flag: bool = True,
        env: dict | None = None,
    ):
        """``export_flag=False`` leaves --export-filename to the configuration files (a
        flag would take precedence over them); ``env`` is added to the environment."""
        self.workdir = workdir
        self.export = workdir / "events.log"
        self.port = free_port()
        self.metrics_port = free_port()
        self.address = f"localhost:{self.port}"
        self.log = workdir / "agent.log"
        args = [
            sys.executable,
            "-m",
            "appliance.agent",
            *(["--export-filename", str(self.export)] if export_flag else []),
            "--server-address",
            self.address,
            "--metrics-server",
            f"127.0.0.1:{self.metrics_port}",
            "--tracing-policy-dir",
            str(workdir / "no-policies"),
            "--config-dir",
            str(workdir / "no-conf"),
            *extra_args,
        ]
        (workdir / "no-conf").mkdir(exist_ok=True)
        self._logf = open(self.log, "wb")
        self.proc = spawn_logged(args, self._logf, env)
        self._offset = 0
        self._events: list[dict] = []
        deadline = time.monotonic() + START_TIMEOUT
        while b"agent running" not in self.log.read_bytes():
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited early:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"agent did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def events(self) -> list[dict]:
        """All events exported so far (parsed incrementally)."""
        if self.export.exists():
            with open(self.export, "rb") as f:
                f.seek(self._offset)
                data = f.read()
            end = data.rfind(b"\n") + 1
            for line in data[:end].splitlines():
                self._events.append(orjson.loads(line))
            self._offset += end
        return self._events

    def wait_for(self, pred: Callable[[dict], bool], timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout * SLOW
        seen = 0
        while True:
            evs = self.events()
            for e in evs[seen:]:
                if pred(e):
                    return e
            seen = len(evs)
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching event within {timeout}s ({seen} events seen)")
            time.sleep(0.05)

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics") as r:
            return r.read().decode()

    def stop(self) -> int:
        stop_process(self.proc)
        self._logf.close()
        return self.proc.returncode


class RunningController:
    """The real ``tetragon-controller`` process, applying ``policy_dir`` and ``conf_dir``
    to ``agent``; ``env`` should point the system configuration directories elsewhere
    (see ``system_conf_env``) so the host's /etc is not read."""

    def __init__(
        self,
        agent: RunningAgent,
        workdir: Path,
        policy_dir: Path,
        conf_dir: Path,
        env: dict | None = None,
        extra_args: list[str] = (),
    ):
        self.workdir = workdir
        self.log = workdir / "controller.log"
        self.metrics_port = free_port()
        args = [
            sys.executable,
            "-m",
            "controller.main",
            "--server-address",
            agent.address,
            "--tracing-policy-dir",
            str(policy_dir),
            "--config-dir",
            str(conf_dir),
            "--state-file",
            str(workdir / "controller-state.json"),
            "--controller-metrics",
            f"127.0.0.1:{self.metrics_port}",
            *extra_args,
        ]
        self._logf = open(self.log, "wb")
        self.proc = spawn_logged(args, self._logf, env)
        self.wait_log(f"agent pid {agent.proc.pid}", timeout=60)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, needle: str, timeout: float = 10, after: int = 0) -> str:
        """Wait until ``needle`` is in the log past offset ``after``; the matching line."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()[after:]
            if needle in text:
                return next(ln for ln in text.splitlines() if needle in ln)
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in the controller log:\n{text[-3000:]}")
            time.sleep(0.05)

    def mark(self) -> int:
        """An offset in the log, for wait_log(after=...)."""
        return len(self.text())

    def metrics(self) -> dict[str, float]:
        import urllib.request

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def stop(self) -> int:
        stop_process(self.proc)
        self._logf.close()
        return self.proc.returncode


def system_conf_env(workdir: Path) -> dict:
    """Environment that makes the agent and the controller read their package and
    administrator drop-in directories and their YAML file under ``workdir``."""
    dirs = [workdir / "usr-lib", workdir / "usr-local-lib", workdir / "etc-conf.d"]
    for d in dirs:
        d.mkdir(exist_ok=True)
    return {
        "APPLIANCE_SYSTEM_CONF_DIRS": ":".join(str(d) for d in dirs),
        "APPLIANCE_SYSTEM_CONF_YAML": str(workdir / "tetragon.yaml"),
    }


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETRAGON_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def exec_of(binary: str, args_contains: str = "") -> Callable[[dict], bool]:
    def pred(e: dict) -> bool:
        p = e.get("process_exec", {}).get("process", {})
        return p.get("binary") == binary and args_contains in p.get("arguments", "")

    return pred


def exit_of(binary: str, args_contains: str = "") -> Callable[[dict], bool]:
    def pred(e: dict) -> bool:
        p = e.get("process_exit", {}).get("process", {})
        return p.get("binary") == binary and args_contains in p.get("arguments", "")

    return pred


@pytest.fixture(scope="module")
def early_process() -> Iterator[tuple[subprocess.Popen, str]]:
    """A shell started before the agent; it runs /bin/true when its FIFO is written."""
    d = tempfile.mkdtemp(prefix="tetragon-test-")
    fifo = os.path.join(d, "go")
    os.mkfifo(fifo)
    marker = f"procfs-child-{os.getpid()}"
    p = subprocess.Popen(["/bin/sh", "-c", f"read x < {fifo}; /bin/true {marker}; exit 0"])
    yield p, fifo, marker
    if p.poll() is None:
        p.kill()
        p.wait()
    os.unlink(fifo)
    os.rmdir(d)


@pytest.fixture(scope="module")
def agent(early_process, tmp_path_factory) -> Iterator[RunningAgent]:
    a = RunningAgent(tmp_path_factory.mktemp("agent"))
    yield a
    a.stop()


def start_policy_agent(tmp_path_factory) -> RunningAgent:
    d = tmp_path_factory.mktemp("policy-agent")
    return RunningAgent(d, ["--policy-cache-dir", str(d / "cache")])


def kernel_has_kprobes() -> bool:
    from appliance.bpf.features import KPROBE_EVENTS

    return any(os.path.exists(p) for p in KPROBE_EVENTS)


def kernel_function_traceable(fn: str) -> bool:
    """Whether ftrace lists ``fn`` (it exists and is not inlined), so a kprobe can attach."""
    try:
        with open("/sys/kernel/tracing/available_filter_functions") as f:
            return any(line.split()[0] == fn for line in f if line.strip())
    except OSError:
        return False


def expected_syscall_hook(name: str, with_return: bool = False) -> str:
    """How the engine attaches a syscall kprobe on this kernel, as `tracingpolicy list`
    shows it: fentry when trampolines load, else kprobe, else the syscall tracepoint."""
    from appliance.bpf.features import _try_load
    from appliance.bpf.paths import bpf_lib

    probes = os.path.join(bpf_lib(), "probes.bpf.o")
    if with_return:
        return "kretprobe" if kernel_has_kprobes() else f"syscalls/sys_exit_{name}"
    if _try_load(probes, "probe_fentry", ""):
        return f"fentry __x64_sys_{name}"
    if kernel_has_kprobes():
        return f"kprobe __x64_sys_{name}"
    return f"syscalls/sys_enter_{name}"


def first_streamed_exec(
    agent: RunningAgent, marker: str, run: Callable[[], object], fields: tuple[str, ...] = ()
):
    """The process of the first process_exec with ``marker`` in its arguments, from a
    GetEvents stream opened before ``run()``; ``fields``, if any, are the only ones asked
    for (an INCLUDE field filter)."""
    import threading

    import grpc

    from appliance.api.tetragon import events_pb2, sensors_pb2_grpc

    req = events_pb2.GetEventsRequest()
    allow = req.allow_list.add()
    allow.arguments_regex.append(marker)
    allow.event_set.append(events_pb2.PROCESS_EXEC)
    if fields:
        ff = req.field_filters.add()
        ff.fields.paths.extend(fields)
        ff.action = events_pb2.INCLUDE
    stub = sensors_pb2_grpc.FineGuidanceSensorsStub(grpc.insecure_channel(agent.address))
    stream = stub.GetEvents(req)
    got = []
    t = threading.Thread(target=lambda: got.append(next(iter(stream))), daemon=True)
    t.start()
    time.sleep(1.0)
    run()
    t.join(15)
    stream.cancel()
    assert got, "no event on the gRPC stream"
    return got[0].process_exec.process
