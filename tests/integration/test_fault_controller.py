"""The controller killed under its supervisor: supervisord (as in the image) restarts it,
and nothing is applied to the agent twice.

Every policy the agent builds logs "policy <name> loaded in"; those lines are the count of
applies. The policies only post events for lseek(-7331), so they disturb no other process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, RunningAgent, _clean_env, system_conf_env
from .policy_harness import arg_selector, policy_yaml

SUPERVISORD = Path(sys.executable).parent / "supervisord"
SUPERVISORCTL = Path(sys.executable).parent / "supervisorctl"
POLICIES = 8


def policy(name: str) -> str:
    return policy_yaml(name, "sys_lseek", ["int"], arg_selector(0, "Equal", -7331))


class Supervised:
    """supervisord running the real controller with autorestart, as images/ configures."""

    def __init__(self, workdir: Path, agent: RunningAgent, policies: Path, conf: Path, env):
        self.workdir = workdir
        self.sock = workdir / "supervisor.sock"
        self.log = workdir / "controller.log"
        self.conf = workdir / "supervisord.conf"
        cmd = [
            sys.executable, "-m", "controller.main",
            "--server-address", agent.address,
            "--tracing-policy-dir", str(policies),
            "--config-dir", str(conf),
            "--state-file", str(workdir / "controller-state.json"),
            "--debounce-ms", "50",
        ]  # fmt: skip
        environment = ",".join(
            f'{k}="{v}"' for k, v in {**_clean_env(), **env}.items() if "%" not in v
        )
        self.conf.write_text(
            f"""\
[supervisord]
nodaemon=true
logfile={workdir / "supervisord.log"}
pidfile={workdir / "supervisord.pid"}
[unix_http_server]
file={self.sock}
chmod=0700
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{self.sock}
[program:tetragon-controller]
command={" ".join(cmd)}
directory={ROOT}
environment={environment}
autostart=true
autorestart=true
startsecs=1
startretries=100
stopsignal=TERM
stopwaitsecs=10
redirect_stderr=true
stdout_logfile={self.log}
stdout_logfile_maxbytes=0
"""
        )
        self.proc = subprocess.Popen(
            [str(SUPERVISORD), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def ctl(self, *args: str) -> str:
        r = subprocess.run(
            [str(SUPERVISORCTL), "-c", str(self.conf), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return r.stdout.strip()

    def controller_pid(self, timeout: float = 30) -> int:
        """The running controller's pid (waits for supervisord to have started one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.ctl("pid", "tetragon-controller")
            if out.isdigit() and int(out) > 0:
                return int(out)
            time.sleep(0.1)
        raise AssertionError(f"no controller running: {self.ctl('status')}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _applies(agent: RunningAgent) -> dict[str, int]:
    """How many times the agent built each policy."""
    counts: dict[str, int] = {}
    for m in re.finditer(r"policy (\S+) loaded in", agent.log.read_text(errors="replace")):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


@pytest.fixture
def appliance(tmp_path):
    if not SUPERVISORD.exists():
        pytest.skip(f"{SUPERVISORD} is missing: make setup installs supervisor")
    policies = tmp_path / "tetragon.tp.d"
    conf = tmp_path / "conf.d"
    policies.mkdir()
    conf.mkdir()
    env = system_conf_env(tmp_path)
    agent = RunningAgent(
        tmp_path,
        ["--tracing-policy-dir", str(policies), "--config-dir", str(conf)],
        env=env,
    )
    sup = None
    try:
        sup = Supervised(tmp_path, agent, policies, conf, env)
        yield agent, sup, policies
    finally:
        if sup is not None:
            sup.stop()
        agent.stop()
        shutil.rmtree(policies, ignore_errors=True)


def test_killed_controller_is_restarted_and_applies_nothing_twice(appliance):
    agent, sup, policies = appliance
    first = sup.controller_pid()
    _wait(lambda: f"agent pid {agent.proc.pid}" in sup.text(), 60, "the controller")
    names = [f"fault-ctl-{i}" for i in range(POLICIES)]
    # half the files, applied; then the rest written while the controller is killed
    for name in names[: POLICIES // 2]:
        (policies / f"{name}.yaml").write_text(policy(name))
    _wait(lambda: len(_applies(agent)) == POLICIES // 2, 60, "the first policies")
    os.kill(first, signal.SIGKILL)
    for name in names[POLICIES // 2 :]:
        (policies / f"{name}.yaml").write_text(policy(name))
    second = sup.controller_pid()
    _wait(lambda: second != first, 30, "supervisord to restart the controller")
    _wait(lambda: len(_applies(agent)) == POLICIES, 60, "the policies written meanwhile")
    # killed again in the middle of a burst of changes
    time.sleep(0.3)
    third_names = [f"fault-ctl-burst-{i}" for i in range(POLICIES)]
    for i, name in enumerate(third_names):
        (policies / f"{name}.yaml").write_text(policy(name))
        if i == POLICIES // 2:
            os.kill(sup.controller_pid(), signal.SIGKILL)
    _wait(lambda: len(_applies(agent)) == 2 * POLICIES, 60, "the burst")
    time.sleep(2.5)  # two ticks of the last controller: nothing applied again
    counts = _applies(agent)
    restarts = sup.text().count(f"agent pid {agent.proc.pid}")
    print(f"controller started {restarts} times; applies per policy: {sorted(counts.values())}")
    assert restarts >= 3, sup.text()[-3000:]
    twice = {n: c for n, c in counts.items() if c != 1}
    assert not twice, f"applied more than once: {twice}\n{sup.text()[-3000:]}"
    assert agent.proc.poll() is None
