"""The controller and the agent, both real processes: configuration and policy files
changed on disk take effect in the running agent, bad ones leave the last good state.

The system configuration directories (/usr/lib, /usr/local/lib, /etc) are pointed at
temporary ones with APPLIANCE_SYSTEM_CONF_DIRS / APPLIANCE_SYSTEM_CONF_YAML, so the host's
own configuration is never read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import grpc
import pytest

from appliance.api import appliance_pb2, appliance_pb2_grpc
from appliance.api.tetragon import sensors_pb2, sensors_pb2_grpc

from .conftest import ROOT, RunningAgent, RunningController, system_conf_env

PY = os.path.realpath(sys.executable)
LSEEK = "import os; os.lseek(-1, 0, 0)"

LSEEK_POLICY = (ROOT / "tests" / "fixtures" / "lseek-sigkill.yaml").read_text()
# a second version that still kills lseek(-1): one more selector
LSEEK_POLICY_V2 = LSEEK_POLICY + textwrap.indent(
    textwrap.dedent(
        """\
        - matchArgs:
          - index: 0
            operator: Equal
            values:
            - "-2"
          matchActions:
          - action: Sigkill
        """
    ),
    "    ",
)
MALFORMED_POLICY = LSEEK_POLICY.replace("operator: Equal", "operator: Equalz")

# Forks a child every few milliseconds that calls lseek(-1); counts how each one ended.
FORK_LOOP = textwrap.dedent(
    """\
    import os, sys, time
    end = time.monotonic() + float(sys.argv[1])
    stop = sys.argv[2]
    killed = ebadf = other = 0
    while time.monotonic() < end and not os.path.exists(stop):
        pid = os.fork()
        if pid == 0:
            try:
                os.lseek(-1, 0, 0)
            except OSError:
                os._exit(9)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9:
            killed += 1
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 9:
            ebadf += 1
        else:
            other += 1
        time.sleep(0.002)
    print(killed, ebadf, other, flush=True)
    """
)


class Appliance:
    """An agent and a controller sharing a policy directory and a drop-in directory."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.conf = workdir / "conf.d"
        self.policies = workdir / "tetragon.tp.d"
        self.conf.mkdir()
        self.policies.mkdir()
        self.env = system_conf_env(workdir)
        self.marker = workdir / "restarted"
        restart = workdir / "restart-agent.sh"
        restart.write_text(f"#!/bin/sh\necho restart >> {self.marker}\n")
        restart.chmod(0o755)
        # the export file comes from a drop-in: a flag would take precedence over it
        self.write_conf("export-filename", str(workdir / "events.log"))
        self.agent = RunningAgent(
            workdir,
            [
                "--config-dir",
                str(self.conf),
                "--tracing-policy-dir",
                str(self.policies),
                "--policy-cache-dir",
                str(workdir / "cache"),
            ],
            export_flag=False,
            env=self.env,
        )
        self.controller = None
        try:
            self.controller = RunningController(
                self.agent,
                workdir,
                self.policies,
                self.conf,
                env=self.env,
                extra_args=["--agent-restart-cmd", str(restart)],
            )
        except BaseException:
            self.agent.stop()
            raise
        self.channel = grpc.insecure_channel(self.agent.address)
        self.stub = appliance_pb2_grpc.AgentStub(self.channel)
        self.sensors = sensors_pb2_grpc.FineGuidanceSensorsStub(self.channel)

    def restart_agent(self) -> None:
        """Stop the agent and start a new one on the same address (as a supervisor does)."""
        address = self.agent.address
        self.agent.stop()
        self.agent = RunningAgent(
            self.workdir,
            [
                "--config-dir",
                str(self.conf),
                "--tracing-policy-dir",
                str(self.policies),
                "--policy-cache-dir",
                str(self.workdir / "cache"),
                "--server-address",
                address,
            ],
            export_flag=False,
            env=self.env,
        )
        self.agent.address = address

    def write_conf(self, name: str, value: str) -> None:
        (self.conf / name).write_text(value + "\n")

    def remove_conf(self, name: str) -> None:
        (self.conf / name).unlink(missing_ok=True)

    def status(self) -> appliance_pb2.GetAgentStatusResponse:
        return self.stub.GetAgentStatus(appliance_pb2.GetAgentStatusRequest(), timeout=10)

    def setting(self, flag: str) -> str:
        for line in self.status().settings:
            if line.startswith(flag + "="):
                return line
        raise AssertionError(f"{flag} not in the agent's settings")

    def has_engine(self) -> bool:
        try:
            self.sensors.ListTracingPolicies(sensors_pb2.ListTracingPoliciesRequest(), timeout=10)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False
            raise
        return True

    def close(self) -> None:
        self.channel.close()
        if self.controller is not None:
            self.controller.stop()
        self.agent.stop()


@pytest.fixture(scope="module")
def appliance(tmp_path_factory):
    a = Appliance(tmp_path_factory.mktemp("appliance"))
    yield a
    a.close()


@pytest.fixture
def engine(appliance):
    """Skip when the agent has no policy engine (ListTracingPolicies is UNIMPLEMENTED)."""
    if not appliance.has_engine():
        pytest.skip("the agent has no tracing policy engine")
    return appliance


def run_marker(tag: str) -> str:
    """Run /bin/true with a unique argument; the argument."""
    arg = f"{tag}-{uuid.uuid4().hex[:8]}"
    subprocess.run(["/bin/true", arg], check=True)
    return arg


def file_has(path: Path, needle: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def lseek_child() -> int:
    """Run lseek(-1) in a fresh process: its return code (-9 when killed)."""
    return subprocess.run([PY, "-c", LSEEK], capture_output=True, timeout=30).returncode


def wait_enforced(timeout: float = 10) -> float:
    """Seconds until a fresh lseek(-1) process is killed."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if lseek_child() == -signal.SIGKILL:
            return time.monotonic() - t0
        time.sleep(0.01)
    raise AssertionError(f"lseek(-1) not killed within {timeout}s")


def wait_not_enforced(timeout: float = 10) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        out = subprocess.run([PY, "-c", LSEEK], capture_output=True, text=True, timeout=30)
        if out.returncode == 1 and "Bad file descriptor" in out.stderr:
            return
        time.sleep(0.05)
    raise AssertionError(f"lseek(-1) still killed after {timeout}s")


def counter(ctl: RunningController, name: str, kind: str) -> float:
    return ctl.metrics().get(f'tetragon_controller_{name}_total{{kind="{kind}"}}', 0.0)


# --- settings -------------------------------------------------------------------------


def test_controller_starts_with_the_agent(appliance):
    st = appliance.status()
    assert st.pid == appliance.agent.proc.pid
    assert st.start_time.seconds > 0
    text = appliance.controller.text()
    assert "environment " in text and "metadata source" in text
    assert f"watching {appliance.policies} (recursive)" in text
    assert f"watching {appliance.conf}" in text
    # the controller told the agent what the environment detection decided
    deadline = time.monotonic() + 10
    while "environment detection" not in appliance.setting("metadata-source"):
        assert time.monotonic() < deadline, appliance.setting("metadata-source")
        time.sleep(0.05)


def test_export_filename_moves_without_restart(appliance):
    agent, ctl = appliance.agent, appliance.controller
    pid = agent.proc.pid
    before = run_marker("before-move")
    assert file_has(agent.export, before)
    other = appliance.workdir / "moved" / "other.log"
    mark = ctl.mark()
    appliance.write_conf("export-filename", str(other))
    ctl.wait_log("applied live: export-filename", after=mark)
    after = run_marker("after-move")
    assert file_has(other, after), "the new export file does not receive events"
    assert after not in agent.export.read_text(errors="replace")
    assert agent.proc.poll() is None and appliance.status().pid == pid
    line = appliance.setting("export-filename")
    assert str(other) in line and "applied live from" in line
    assert str(appliance.conf / "export-filename") in line
    # and back
    mark = ctl.mark()
    appliance.write_conf("export-filename", str(agent.export))
    ctl.wait_log("applied live: export-filename", after=mark)
    again = run_marker("moved-back")
    assert file_has(agent.export, again)
    assert appliance.status().pid == pid


def test_rotation_settings_apply_live(appliance):
    agent, ctl = appliance.agent, appliance.controller
    pid = agent.proc.pid
    rotated = appliance.workdir / "rotation" / "tetragon.log"
    mark = ctl.mark()
    appliance.write_conf("export-file-max-backups", "2")
    appliance.write_conf("export-file-max-size-mb", "1")
    appliance.write_conf("export-filename", str(rotated))
    ctl.wait_log("applied live:", after=mark)
    deadline = time.monotonic() + 10
    while "export-file-max-size-mb=1 " not in " ".join(appliance.status().settings):
        assert time.monotonic() < deadline, "rotation settings not applied"
        time.sleep(0.1)
    # about 4 MB of events: long arguments make big exec and exit events
    arg = "x" * 3000
    backups: list[Path] = []
    for _ in range(60):
        subprocess.run(
            ["/bin/sh", "-c", f"for i in $(seq 50); do /bin/true {arg}; done"], check=True
        )
        backups = sorted(rotated.parent.glob("tetragon-*.log"))
        if len(backups) >= 2 and rotated.stat().st_size > 0:
            time.sleep(0.5)
            backups = sorted(rotated.parent.glob("tetragon-*.log"))
            if len(backups) == 2:
                break
    assert len(backups) == 2, f"expected 2 kept backups: {backups}"
    for b in backups:
        assert b.stat().st_size <= 1024 * 1024
    assert appliance.status().pid == pid
    mark = ctl.mark()
    for name in ("export-file-max-backups", "export-file-max-size-mb"):
        appliance.remove_conf(name)
    appliance.write_conf("export-filename", str(agent.export))
    ctl.wait_log("applied live:", after=mark)


def test_malformed_dropin_keeps_the_last_good_state(appliance):
    agent, ctl = appliance.agent, appliance.controller
    pid = agent.proc.pid
    errors0 = counter(ctl, "errors", "settings_invalid")
    for name, value, reason in (
        ("export-file-max-backups", "x", "expected an integer"),
        ("process-cache-size", "abc", "expected an integer"),
    ):
        mark = ctl.mark()
        appliance.write_conf(name, value)
        path = appliance.conf / name
        line = ctl.wait_log(f"invalid value '{value}' for {name}", after=mark)
        assert str(path) in line and reason in line
        assert "last good configuration keeps running" in line
        st = appliance.status()
        assert str(path) in st.last_config_error and name in st.last_config_error
        assert st.last_config_error_time.seconds > 0
        # the export keeps working with the previous settings
        marker = run_marker(f"after-bad-{name}")
        assert file_has(agent.export, marker)
        assert appliance.status().pid == pid
        appliance.remove_conf(name)
    assert counter(ctl, "errors", "settings_invalid") >= errors0 + 2
    mark = ctl.mark()
    appliance.write_conf("export-file-max-backups", "4")
    ctl.wait_log("applied live: export-file-max-backups", after=mark)
    assert "export-file-max-backups=4 " in appliance.setting("export-file-max-backups")
    appliance.remove_conf("export-file-max-backups")


def test_restart_required_setting_is_named_and_restarts(appliance):
    ctl = appliance.controller
    mark = ctl.mark()
    appliance.write_conf("process-cache-size", "4096")
    ctl.wait_log("cannot change while the agent runs: process-cache-size", after=mark)
    ctl.wait_log("agent restarted to apply process-cache-size", after=mark)
    assert appliance.marker.read_text().count("restart") >= 1
    # the running agent keeps its value until it restarts
    assert "process-cache-size=65536 " in appliance.setting("process-cache-size")
    assert counter(ctl, "applied", "restart") >= 1
    # back to the value the agent runs with: nothing to restart for
    mark = ctl.mark()
    appliance.remove_conf("process-cache-size")
    ctl.wait_log("applied live: process-cache-size", after=mark)


def test_log_level_changes_live(appliance):
    ctl = appliance.controller
    mark = ctl.mark()
    appliance.write_conf("log-level", "debug")
    ctl.wait_log("applied live: log-level", after=mark)
    assert appliance.status().log_level == "debug"
    mark = ctl.mark()
    appliance.remove_conf("log-level")
    ctl.wait_log("applied live: log-level", after=mark)
    assert appliance.status().log_level == "info"


def test_log_level_signals(appliance):
    """SIGRTMIN+20: debug, +21: trace, +22: back to the configured level."""
    agent = appliance.agent

    def level_after(sig: int) -> str:
        os.kill(agent.proc.pid, sig)
        deadline = time.monotonic() + 5
        want = {20: "debug", 21: "trace", 22: "info"}[sig - signal.SIGRTMIN]
        while time.monotonic() < deadline:
            level = appliance.status().log_level
            if level == want:
                return level
            time.sleep(0.05)
        return appliance.status().log_level

    assert level_after(signal.SIGRTMIN + 20) == "debug"
    assert level_after(signal.SIGRTMIN + 21) == "trace"
    assert level_after(signal.SIGRTMIN + 22) == "info"
    log = agent.log.read_text()
    assert "log level set to debug by signal" in log
    assert "log level set to trace by signal" in log
    assert agent.proc.poll() is None


# --- policies ---------------------------------------------------------------------------


def test_policy_file_drop_enforces_and_removal_lifts(engine):
    a = engine
    ctl = a.controller
    path = a.policies / "lseek-sigkill.yaml"
    mark = ctl.mark()
    t0 = time.monotonic()
    path.write_text(LSEEK_POLICY)
    took = wait_enforced()
    print(f"policy file write to enforcement: {(time.monotonic() - t0) * 1000:.0f} ms")
    assert took < 10
    ctl.wait_log("policy lseek-sigkill added", after=mark)
    names = [p.name for p in a.sensors.ListTracingPolicies(
        sensors_pb2.ListTracingPoliciesRequest(), timeout=10).policies]  # fmt: skip
    assert "lseek-sigkill" in names
    assert "lseek-sigkill" in [p.name for p in a.status().policies]
    mark = ctl.mark()
    path.unlink()
    ctl.wait_log("policy lseek-sigkill deleted", after=mark)
    wait_not_enforced()


def test_policy_file_in_a_subdirectory(engine):
    a = engine
    sub = a.policies / "team" / "nested"
    sub.mkdir(parents=True)
    path = sub / "lseek.yml"
    path.write_text(LSEEK_POLICY)
    wait_enforced()
    mark = a.controller.mark()
    path.unlink()
    a.controller.wait_log("policy lseek-sigkill deleted", after=mark)
    wait_not_enforced()
    sub.rmdir()
    sub.parent.rmdir()


def test_policy_replace_leaves_no_gap(engine):
    a = engine
    ctl = a.controller
    path = a.policies / "lseek-sigkill.yaml"
    path.write_text(LSEEK_POLICY)
    wait_enforced()
    stop = a.workdir / "stop-fork-loop"
    stop.unlink(missing_ok=True)
    loop = subprocess.Popen(
        [PY, "-c", FORK_LOOP, "60", str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(0.5)
        replaced0 = counter(ctl, "applied", "policy_replace")
        for version in (LSEEK_POLICY_V2, LSEEK_POLICY, LSEEK_POLICY_V2):
            mark = ctl.mark()
            path.write_text(version)
            ctl.wait_log("policy lseek-sigkill replaced", after=mark)
            time.sleep(0.3)
        assert counter(ctl, "applied", "policy_replace") >= replaced0 + 3
    finally:
        stop.touch()
        out, _ = loop.communicate(timeout=30)
    killed, ebadf, other = (int(x) for x in out.split())
    assert ebadf == 0, f"{ebadf} lseek(-1) calls were not killed during the swaps"
    assert other == 0
    assert killed > 100
    mark = ctl.mark()
    path.unlink()
    ctl.wait_log("policy lseek-sigkill deleted", after=mark)
    wait_not_enforced()


def test_malformed_policy_keeps_the_previous_version(engine):
    a = engine
    ctl = a.controller
    path = a.policies / "lseek-sigkill.yaml"
    path.write_text(LSEEK_POLICY)
    wait_enforced()
    errors0 = counter(ctl, "errors", "policy_invalid")
    mark = ctl.mark()
    path.write_text(MALFORMED_POLICY)
    line = ctl.wait_log("Equalz", after=mark)
    assert str(path) in line and "operator" in line
    ctl.wait_log("the policies of its last good version keep running", after=mark)
    assert counter(ctl, "errors", "policy_invalid") == errors0 + 1
    st = a.status()
    assert str(path) in st.last_config_error and "Equalz" in st.last_config_error
    # still enforced by the last good version
    assert lseek_child() == -signal.SIGKILL
    # a fixed file is applied again
    mark = ctl.mark()
    path.write_text(LSEEK_POLICY_V2)
    ctl.wait_log("policy lseek-sigkill replaced", after=mark)
    assert lseek_child() == -signal.SIGKILL
    mark = ctl.mark()
    path.unlink()
    ctl.wait_log("policy lseek-sigkill deleted", after=mark)
    wait_not_enforced()


def test_editor_write_patterns_apply_once(engine):
    """Temporary file + rename, swap and backup files, a file written in two parts."""
    a = engine
    ctl = a.controller
    path = a.policies / "lseek-sigkill.yaml"
    added0 = counter(ctl, "applied", "policy_add")
    replaced0 = counter(ctl, "applied", "policy_replace")
    invalid0 = counter(ctl, "errors", "policy_invalid")
    # vim: swap file, a probe file, a backup, the new content written elsewhere and renamed
    swap = a.policies / ".lseek-sigkill.yaml.swp"
    swap.write_bytes(b"\x00binary swap")
    (a.policies / "4913").write_text("")
    (a.policies / "4913").unlink()
    tmp = a.policies / ".lseek-sigkill.yaml.tmp"
    with open(tmp, "w") as f:
        half = len(LSEEK_POLICY) // 2
        f.write(LSEEK_POLICY[:half])
        f.flush()
        time.sleep(0.03)
        f.write(LSEEK_POLICY[half:])
    os.rename(tmp, path)
    (a.policies / "lseek-sigkill.yaml~").write_text("junk: [")
    wait_enforced()
    time.sleep(0.5)
    assert counter(ctl, "applied", "policy_add") == added0 + 1
    # a shell redirection: truncate, then two writes a moment apart
    with open(path, "w") as f:
        half = len(LSEEK_POLICY_V2) // 2
        f.write(LSEEK_POLICY_V2[:half])
        f.flush()
        time.sleep(0.05)
        f.write(LSEEK_POLICY_V2[half:])
    deadline = time.monotonic() + 10
    while counter(ctl, "applied", "policy_replace") < replaced0 + 1:
        assert time.monotonic() < deadline, "the rewritten file was not applied"
        time.sleep(0.05)
    time.sleep(0.5)
    assert counter(ctl, "applied", "policy_replace") == replaced0 + 1
    assert counter(ctl, "errors", "policy_invalid") == invalid0
    assert lseek_child() == -signal.SIGKILL
    for junk in (swap, a.policies / "lseek-sigkill.yaml~"):
        junk.unlink()
    mark = ctl.mark()
    path.unlink()
    ctl.wait_log("policy lseek-sigkill deleted", after=mark)
    wait_not_enforced()


def test_controller_restart_recognises_its_policies(engine, tmp_path):
    """A restarted controller neither adds twice nor forgets a file removed meanwhile."""
    a = engine
    path = a.policies / "lseek-sigkill.yaml"
    path.write_text(LSEEK_POLICY)
    wait_enforced()
    a.controller.stop()
    path.unlink()  # removed while no controller runs
    a.controller = RunningController(
        a.agent,
        a.workdir,
        a.policies,
        a.conf,
        env=a.env,
        extra_args=["--agent-restart-cmd", str(a.workdir / "restart-agent.sh")],
    )
    a.controller.wait_log("policy lseek-sigkill deleted", timeout=20)
    wait_not_enforced()


def test_a_restarted_agent_is_brought_up_to_date(engine):
    """The agent restarts (crash, supervisor): the controller sees the new process, sends
    the environment again and finds the policies the agent loaded from the directory."""
    a = engine
    ctl = a.controller
    path = a.policies / "lseek-sigkill.yaml"
    path.write_text(LSEEK_POLICY)
    wait_enforced()
    # enforcement starts inside the agent's call; the controller counts once it returns
    deadline = time.monotonic() + 10
    while counter(ctl, "applied", "policy_add") < 1:
        assert time.monotonic() < deadline, "the add was never counted"
        time.sleep(0.05)
    added = counter(ctl, "applied", "policy_add")
    old_pid = a.agent.proc.pid
    a.restart_agent()
    assert a.agent.proc.pid != old_pid
    ctl.wait_log(f"agent pid {a.agent.proc.pid}", timeout=30)
    wait_enforced()
    deadline = time.monotonic() + 10
    while "environment detection" not in a.setting("metadata-source"):
        assert time.monotonic() < deadline, a.setting("metadata-source")
        time.sleep(0.05)
    time.sleep(1.5)  # a full tick: nothing is added twice
    assert counter(ctl, "applied", "policy_add") == added
    mark = ctl.mark()
    path.unlink()
    ctl.wait_log("policy lseek-sigkill deleted", after=mark)
    wait_not_enforced()


# --- settings precedence, end to end ----------------------------------------------------


def test_settings_precedence_across_every_source(tmp_path):
    """Each setting is written in the first N sources; the last of them wins."""
    env = system_conf_env(tmp_path)
    usr_lib, usr_local_lib, etc_conf = (
        Path(d) for d in env["APPLIANCE_SYSTEM_CONF_DIRS"].split(":")
    )
    conf = tmp_path / "config-dir"
    conf.mkdir()
    # source -> (setting -> value) for the settings each source sets
    values = {
        "usr-lib": {
            "cluster-name": "1",
            "event-cache-retries": "1",
            "event-cache-retry-delay": "1",
            "data-cache-size": "1",
            "retprobes-cache-size": "1",
            "health-server-interval": "1",
            "netns-dir": "/run/one/",
            "k8s-kubeconfig-path": "/one/kubeconfig",
        },
        "usr-local-lib": {
            "cluster-name": "2",
            "event-cache-retries": "2",
            "event-cache-retry-delay": "2",
            "data-cache-size": "2",
            "retprobes-cache-size": "2",
            "health-server-interval": "2",
        },
        "yaml": {
            "cluster-name": "3",
            "event-cache-retries": "3",
            "event-cache-retry-delay": "3",
            "data-cache-size": "3",
            "retprobes-cache-size": "3",
        },
        "admin": {
            "cluster-name": "4",
            "event-cache-retries": "4",
            "event-cache-retry-delay": "4",
            "data-cache-size": "4",
        },
        "config-dir": {
            "cluster-name": "5",
            "event-cache-retries": "5",
            "event-cache-retry-delay": "5",
            "k8s-kubeconfig-path": "",  # an empty file clears it
        },
        "env": {"cluster-name": "6", "event-cache-retries": "6"},
        "flag": {"cluster-name": "7"},
    }
    dirs = {
        "usr-lib": usr_lib,
        "usr-local-lib": usr_local_lib,
        "admin": etc_conf,
        "config-dir": conf,
    }
    for source, settings in values.items():
        if source in dirs:
            for name, value in settings.items():
                (dirs[source] / name).write_text(value + "\n")
    yaml_file = Path(env["APPLIANCE_SYSTEM_CONF_YAML"])
    yaml_file.write_text("".join(f"{k}: '{v}'\n" for k, v in values["yaml"].items()))
    env.update({"TETRAGON_" + k.upper().replace("-", "_"): v for k, v in values["env"].items()})
    agent = RunningAgent(
        tmp_path,
        ["--config-dir", str(conf), "--cluster-name", values["flag"]["cluster-name"]],
        env=env,
    )
    try:
        channel = grpc.insecure_channel(agent.address)
        stub = appliance_pb2_grpc.AgentStub(channel)
        lines = stub.GetAgentStatus(appliance_pb2.GetAgentStatusRequest(), timeout=10).settings
        got = {ln.split("=", 1)[0]: ln.split("=", 1)[1] for ln in lines}
        expected = {
            "cluster-name": "7 (flag --cluster-name)",
            "event-cache-retries": "6 (env TETRAGON_EVENT_CACHE_RETRIES)",
            "event-cache-retry-delay": f"5 ({conf / 'event-cache-retry-delay'})",
            "data-cache-size": f"4 ({etc_conf / 'data-cache-size'})",
            "retprobes-cache-size": f"3 ({yaml_file})",
            "health-server-interval": f"2 ({usr_local_lib / 'health-server-interval'})",
            "netns-dir": f"/run/one/ ({usr_lib / 'netns-dir'})",
            "k8s-kubeconfig-path": f'"" (default (cleared by {conf / "k8s-kubeconfig-path"}))',
        }
        for flag, want in expected.items():
            assert got[flag] == want, flag
        # the agent logged the same at start
        log = agent.log.read_text()
        assert "setting cluster-name=7 (flag --cluster-name)" in log
        # a live change cannot override the agent's own flags and environment
        resp = stub.ApplySettings(
            appliance_pb2.ApplySettingsRequest(
                values={"cluster-name": "live", "event-cache-retries": "9"}, source="test"
            ),
            timeout=10,
        )
        assert sorted(resp.overridden) == ["cluster-name", "event-cache-retries"]
        assert not resp.error
        channel.close()
    finally:
        agent.stop()


def test_controller_rejects_unknown_flags():
    out = subprocess.run(
        [sys.executable, "-m", "controller.main", "--no-such-flag"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "no-such-flag" in out.stderr and "Traceback" not in out.stderr
