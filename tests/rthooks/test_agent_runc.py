"""The real agent and runc: the hook announces the container, its execs carry its name."""

from __future__ import annotations

import secrets

import pytest

from tests.integration.conftest import RunningAgent
from tests.rthooks import runc_bundle
from tests.rthooks.conftest import HOOK, log_lines

pytestmark = [
    pytest.mark.rthooks,
    pytest.mark.skipif(bool(runc_bundle.missing()), reason=runc_bundle.missing() or "ok"),
]


def test_exec_events_carry_container_from_hook(tmp_path_factory):
    agent = RunningAgent(tmp_path_factory.mktemp("agent"))
    try:
        work = tmp_path_factory.mktemp("runc")
        name = secrets.token_hex(32)  # a 64-hex id, as runtimes name containers
        marker = f"rthooks-{secrets.token_hex(4)}"
        logf = work / "hook.log"
        bundle = runc_bundle.make(
            str(work / "bundle"),
            name,
            [HOOK, f"--grpc-address={agent.address}", f"--log-fname={logf}", "createRuntime"],
            {
                "io.kubernetes.cri.container-name": "busy",
                "io.kubernetes.cri.image-name": "local/bb",
            },
            args=["/bin/busybox", "echo", marker],
        )
        r = runc_bundle.run(bundle, name)
        assert r.returncode == 0, r.stderr
        assert log_lines(logf)[-1]["msg"] == "hook request to agent succeeded"
        ev = agent.wait_for(
            lambda e: marker in e.get("process_exec", {}).get("process", {}).get("arguments", "")
        )
        container = ev["process_exec"]["process"]["pod"]["container"]
        assert container["id"] == name[:31] or container["id"] == name
        assert container["name"] == "busy"
        assert container["image"]["name"] == "local/bb"
    finally:
        agent.stop()
