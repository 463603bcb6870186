"""The appliance image, built and run as the README's "Run in Docker" section shows.

One container named ``tetragon`` runs for the whole module; it is removed at the end,
whatever happens. The image is rebuilt only when its sources changed (images/build.sh
compares the hash it labels the image with).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "tetragon-appliance"
NAME = "tetragon"
PROBE_IMAGE = "debian:bookworm-slim"
HASH_LABEL = "org.tetragon-appliance.source-hash"
TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"

# the README's commands ("Run in Docker"), verbatim; tests/unit/test_packaging.py checks
# that the README still shows them
BUILD = "make image"
RUN = (
    "docker run --name tetragon --rm -d --pid=host --cgroupns=host --privileged \\\n"
    "  -v /sys/kernel/btf/vmlinux:/var/lib/tetragon/btf \\\n"
    "  -v $PWD/policies:/etc/tetragon/tetragon.tp.d \\\n"
    "  -v $PWD/conf.d:/etc/tetragon/tetragon.conf.d \\\n"
    "  tetragon-appliance"
)
STATUS = "docker exec tetragon supervisorctl status"
GETEVENTS = "docker exec tetragon tetra getevents -o compact"
PROBE = "docker run --rm debian:bookworm-slim /bin/sh -c 'cat /etc/hostname'"
STOP = "docker rm -f tetragon"

PY = os.path.realpath(sys.executable)
LSEEK = "import os; os.lseek(-1, 0, 0)"
LSEEK_POLICY = (ROOT / "tests" / "fixtures" / "lseek-sigkill.yaml").read_text()


def source_hash() -> str:
    return subprocess.run(
        [str(ROOT / "images/build.sh"), "--hash"], capture_output=True, text=True, check=True
    ).stdout.strip()


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r


def in_container(
    *args: str, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess:
    return docker("exec", NAME, *args, check=check, timeout=timeout)


def logs_tail(lines: int = 60) -> str:
    r = docker("logs", "--tail", str(lines), NAME, check=False, timeout=30)
    return r.stdout + r.stderr


def wait(cond: Callable[[], object], timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout}s; container log:\n{logs_tail()}")
        time.sleep(interval)


class EventStream:
    """``docker exec tetragon tetra getevents ...`` read line by line in a thread."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            ["docker", "exec", NAME, "tetra", "getevents", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))

    def find(self, pred: Callable[[str], bool], timeout: float) -> str | None:
        for line in self.seen:
            if pred(line):
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            self.seen.append(line)
            if pred(line):
                return line
        return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def supervised() -> dict[str, tuple[str, int]]:
    """supervisorctl status: program -> (state, pid)."""
    out = in_container("supervisorctl", "status", check=False).stdout
    progs = {}
    for line in out.splitlines():
        m = re.match(r"(\S+)\s+(\S+)(?:\s+pid (\d+))?", line)
        if m:
            progs[m.group(1)] = (m.group(2), int(m.group(3) or 0))
    return progs


def both_running() -> bool:
    progs = supervised()
    return all(progs.get(p, ("",))[0] == "RUNNING" for p in ("tetragon", "tetragon-controller"))


def agent_answers() -> bool:
    return in_container("tetra", "status", check=False, timeout=30).returncode == 0


def host_command_seen(stream: EventStream, timeout: float = 30) -> str:
    """Run a uniquely marked command on the host until its exec shows up in ``stream``."""
    marker = f"tetragon-docker-test-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        subprocess.run(["/bin/sh", "-c", f"true {marker}"], check=True)
        line = stream.find(lambda ln: marker in ln and "process" in ln, timeout=2)
        if line:
            return line
    raise AssertionError(f"no event for the host command within {timeout}s:\n{logs_tail()}")


def lseek_child() -> int:
    return subprocess.run([PY, "-c", LSEEK], capture_output=True, timeout=30).returncode


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def image() -> str:
    """The image, built with `make image` (skipped when its sources did not change)."""
    r = subprocess.run(
        BUILD.split(), cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False
    )
    assert r.returncode == 0, f"{BUILD} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return IMAGE


@pytest.fixture(scope="module")
def appliance(image, tmp_path_factory):
    """The appliance container, run exactly as the README shows, from a fresh directory."""
    if docker("container", "inspect", NAME, check=False).returncode == 0:
        pytest.skip(f"a container named {NAME} exists already; remove it to run these tests")
    work = tmp_path_factory.mktemp("appliance")
    (work / "policies").mkdir()
    (work / "conf.d").mkdir()
    try:
        r = subprocess.run(
            RUN,
            shell=True,
            cwd=work,
            env={**os.environ, "PWD": str(work)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, f"docker run failed:\n{r.stderr}"
        wait(both_running, 120, "agent and controller RUNNING under supervisord")
        wait(agent_answers, 120, "tetra status answering")
        yield work
    finally:
        subprocess.run(STOP.split(), capture_output=True, timeout=120)


# -- the image ------------------------------------------------------------------------------
def test_image_builds_and_is_reused(image):
    info = orjson.loads(docker("image", "inspect", image).stdout)[0]
    size_mb = info["Size"] / 1e6
    print(f"\nimage {image}: {size_mb:.0f} MB")
    assert size_mb < 1000, f"the image grew to {size_mb:.0f} MB"
    assert "tetra" in " ".join(info["Config"]["Healthcheck"]["Test"])
    assert "status" in info["Config"]["Healthcheck"]["Test"]
    # the image is labelled with the hash of its sources; a second build of unchanged
    # sources reuses it
    label = info["Config"]["Labels"][HASH_LABEL]
    r = subprocess.run(BUILD.split(), cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr
    if "is up to date" not in r.stdout:
        # rebuilt: only right when the sources changed since (work in progress elsewhere)
        assert source_hash() != label, r.stdout
    # tetra is on PATH; the BPF objects and default drop-ins are where the agent looks
    r = docker(
        "run", "--rm", "--entrypoint", "/bin/sh", image, "-c",
        "tetra version --client && ls /usr/local/lib/tetragon/bpf "
        "/usr/local/lib/tetragon/tetragon.conf.d && command -v clang supervisord",
    )  # fmt: skip
    assert "CLI version:" in r.stdout
    for name in ("process.bpf.o", "export-filename", "metadata-source", "/usr/bin/clang"):
        assert name in r.stdout


def test_toolchain_image_builds_the_bpf_objects(image):
    docker(
        "build", "-q", "-f", "images/Dockerfile.clang", "-t", "tetragon-clang", str(ROOT),
        timeout=1800,
    )  # fmt: skip
    r = docker("run", "--rm", "tetragon-clang", "sh", "-c", "ls bpf/objs && bpftool version")
    assert "process.bpf.o" in r.stdout and "bpftool" in r.stdout


# -- the running appliance ------------------------------------------------------------------
def test_supervisord_runs_agent_and_controller(appliance):
    r = docker("exec", *STATUS.split()[2:])
    progs = supervised()
    assert progs["tetragon"][0] == "RUNNING", r.stdout
    assert progs["tetragon-controller"][0] == "RUNNING", r.stdout
    # with --pid=host the container sees the host's processes: both are there
    ps = in_container("ps", "-e", "-o", "pid=,args=").stdout
    for prog in ("tetragon", "tetragon-controller"):
        assert re.search(rf"^\s*{progs[prog][1]}\s.*{prog}", ps, re.M), ps


def test_events_from_the_host_and_from_another_container(appliance):
    compact = EventStream("-o", "compact")
    full = EventStream()
    try:
        line = host_command_seen(compact)
        # a host process: the binary comes right after the event word, no container name
        assert re.match(r"🚀 process\s+/\S*sh -c", line), line
        host_command_seen(full)

        name = f"tetragon-probe-{uuid.uuid4().hex[:8]}"
        probe = PROBE.replace("--rm ", f"--rm --name {name} ")
        r = subprocess.run(probe, shell=True, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        short_id = r.stdout.strip()  # the container's host name: its id's first 12 chars
        assert re.fullmatch(r"[0-9a-f]{12}", short_id), r.stdout

        want = f"🚀 process {name} /usr/bin/cat /etc/hostname"
        line = compact.find(lambda ln: ln.startswith(want), timeout=30)
        assert line, f"no {want!r} line; compact output:\n" + "\n".join(compact.seen[-40:])

        def probe_exec(ln: str) -> bool:
            if '"process_exec"' not in ln or "/etc/hostname" not in ln:
                return False
            proc = orjson.loads(ln)["process_exec"]["process"]
            return proc.get("binary") == "/usr/bin/cat"

        line = full.find(probe_exec, timeout=30)
        assert line, "no process_exec event for cat in JSON"
        event = orjson.loads(line)
        proc = event["process_exec"]["process"]
        assert proc["docker"].startswith(short_id) and len(proc["docker"]) == 31
        container = proc["pod"]["container"]
        # the runtime's prefix and the full id, as Tetragon writes container ids
        assert container["id"].startswith("docker://" + proc["docker"])
        assert len(container["id"]) == len("docker://") + 64
        assert container["name"] == name
        assert container["image"]["name"] == PROBE_IMAGE
        assert container["image"]["id"].startswith("sha256:")
        assert re.fullmatch(TIME_RE, container.get("start_time", "")), container
        assert container["pid"] >= 1  # cat's pid inside the container
        assert "name" not in proc["pod"] and "namespace" not in proc["pod"]
        # the node is the host, not the appliance container
        assert event["node_name"] == socket.gethostname()
        # --pods matches the container's name, which the compact line shows
        assert run_probe_seen_with("--pods", name)
    finally:
        compact.close()
        full.close()


def run_probe_seen_with(*flags: str) -> bool:
    """The probe container, run again under its name, shows up in a filtered stream."""
    name = flags[-1]
    stream = EventStream("-o", "compact", *flags)
    try:
        time.sleep(1)
        probe = PROBE.replace("--rm ", f"--rm --name {name} ")
        subprocess.run(probe, shell=True, capture_output=True, text=True, timeout=120)
        want = f"🚀 process {name} /usr/bin/cat /etc/hostname"
        return stream.find(lambda ln: ln.startswith(want), timeout=30) is not None
    finally:
        stream.close()


def test_own_container_stays_out_of_the_default_view(appliance):
    """The healthcheck's `tetra status` (run in the appliance's container) is left out."""
    default = EventStream("-o", "compact")
    everything = EventStream("-o", "compact", "--include-own-container")
    try:
        time.sleep(1)
        in_container("tetra", "status")

        def own(ln: str) -> bool:  # tetra run inside the container, not `docker exec` itself
            return "tetra status" in ln and "docker exec" not in ln

        seen = everything.find(own, timeout=30)
        assert seen, "--include-own-container shows the appliance's processes"
        host_command_seen(default)  # the default stream is live and past that point
        assert not any(own(ln) for ln in default.seen), [ln for ln in default.seen if own(ln)]
    finally:
        default.close()
        everything.close()


def test_policy_file_drop_through_the_bind_mount(appliance):
    r = in_container("tetra", "tracingpolicy", "list", check=False)
    if r.returncode != 0:
        pytest.skip(f"the agent has no policy engine: {(r.stderr or r.stdout).strip()[:200]}")
    assert lseek_child() == 1, "lseek(-1) should fail with EBADF before the policy"
    src = appliance / "lseek-sigkill.yaml"
    src.write_text(LSEEK_POLICY)
    dest = appliance / "policies" / "lseek-sigkill.yaml"
    try:
        t0 = time.monotonic()
        shutil.copy(src, dest)  # cp lseek-sigkill.yaml policies/
        wait(lambda: lseek_child() == -signal.SIGKILL, 20, "lseek(-1) killed", interval=0.05)
        print(f"\npolicy enforced {time.monotonic() - t0:.2f}s after the file was written")
        listing = in_container("tetra", "tracingpolicy", "list").stdout
        assert "lseek-sigkill" in listing, listing
        dest.unlink()  # rm policies/lseek-sigkill.yaml
        wait(lambda: lseek_child() == 1, 20, "lseek(-1) no longer killed", interval=0.05)
        assert "lseek-sigkill" not in in_container("tetra", "tracingpolicy", "list").stdout
    finally:
        dest.unlink(missing_ok=True)


def test_dropin_through_the_bind_mount(appliance):
    """echo /var/log/tetragon/other.log > conf.d/export-filename: export moves, no restart."""
    before = supervised()["tetragon"][1]
    dropin = appliance / "conf.d" / "export-filename"
    try:
        dropin.write_text("/var/log/tetragon/other.log\n")
        stream = EventStream("-o", "compact")
        try:

            def exported() -> bool:
                host_command_seen(stream, timeout=10)
                r = in_container("test", "-s", "/var/log/tetragon/other.log", check=False)
                return r.returncode == 0

            wait(exported, 30, "events in /var/log/tetragon/other.log")
        finally:
            stream.close()
        assert supervised()["tetragon"][1] == before, "the agent was restarted"
    finally:
        dropin.unlink(missing_ok=True)


def test_healthcheck_reports_healthy(appliance):
    def healthy():
        r = docker("inspect", "-f", "{{.State.Health.Status}}", NAME, check=False)
        return r.stdout.strip() == "healthy"

    wait(healthy, 120, "docker health status healthy", interval=1)


def test_killed_agent_is_restarted_by_supervisord(appliance):
    old = supervised()["tetragon"][1]
    assert old > 0
    in_container("kill", "-9", str(old))

    def restarted():
        state, pid = supervised().get("tetragon", ("", 0))
        return state == "RUNNING" and pid not in (0, old)

    wait(restarted, 90, "a new agent process RUNNING")
    wait(agent_answers, 90, "tetra status answering after the restart")
    stream = EventStream("-o", "compact")
    try:
        host_command_seen(stream)  # events flow again
    finally:
        stream.close()
    assert supervised()["tetragon-controller"][0] == "RUNNING"


# -- the image run as Tetragon's is: flags after the image name, one-off commands ------------
FLAGS_RUN = (
    "docker run --name {name} --rm -d --pid=host --cgroupns=host --privileged "
    "-v /sys/kernel/btf/vmlinux:/var/lib/tetragon/btf "
    "tetragon-appliance /usr/bin/tetragon --export-filename /var/log/tetragon/flags.log"
)


def test_flags_after_the_image_name_configure_the_agent(image):
    name = f"tetragon-flags-{uuid.uuid4().hex[:8]}"
    r = subprocess.run(FLAGS_RUN.format(name=name), shell=True, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    try:

        def both() -> bool:
            out = docker("exec", name, "supervisorctl", "status", check=False).stdout
            return out.count("RUNNING") == 2

        wait(both, 120, "agent and controller RUNNING with the flags")
        ps = docker("exec", name, "ps", "-e", "-o", "args=").stdout
        for prog in ("tetragon", "tetragon-controller"):
            assert re.search(rf"/{prog} --export-filename /var/log/tetragon/flags.log", ps), ps

        def exported() -> bool:
            subprocess.run(["/bin/true"], check=True)
            r = docker("exec", name, "test", "-s", "/var/log/tetragon/flags.log", check=False)
            return r.returncode == 0

        wait(exported, 60, "events in the file the flag names", interval=1)
        # the packaged socket, mode 600, found by tetra without --server-address
        mode = docker("exec", name, "stat", "-c", "%a", "/var/run/tetragon/tetragon.sock").stdout
        assert mode.strip() == "600"
        assert docker("exec", name, "tetra", "status", check=False).returncode == 0
    finally:
        docker("rm", "-f", name, check=False)


def test_one_off_commands_run_and_exit(image):
    r = docker("run", "--rm", image, "tetra", "version", "--client")
    assert r.stdout.strip().startswith("CLI version: ")
    assert r.stdout.strip() != "CLI version: " + "0.1.0+unknown"
    r = docker("run", "--rm", image, "/usr/bin/tetragon", "--version")
    assert r.stdout.startswith("tetragon version ")
    label = orjson.loads(docker("image", "inspect", image).stdout)[0]["Config"]["Labels"]
    assert label["org.opencontainers.image.version"] in r.stdout
    # a mistyped flag stops the container at once, with a suggestion
    r = docker("run", "--rm", image, "/usr/bin/tetragon", "--export-filenam", "x", check=False)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "(did you mean --export-filename?)" in r.stderr
    for path in ("/usr/bin/tetragon", "/usr/bin/tetra"):
        assert docker("run", "--rm", image, "test", "-x", path, check=False).returncode == 0
