"""runc alone, with the hook in config.json: the runtime runs it, the agent hears first."""

from __future__ import annotations

import pytest

from tests.rthooks import runc_bundle
from tests.rthooks.conftest import HOOK, log_lines

pytestmark = [
    pytest.mark.rthooks,
    pytest.mark.skipif(bool(runc_bundle.missing()), reason=runc_bundle.missing() or "ok"),
]

NAME = "rthooks-runc-test"


def test_runc_runs_hook_before_container(agent, tmp_path):
    sock, seen = agent
    logf = tmp_path / "hook.log"
    bundle = runc_bundle.make(
        str(tmp_path / "bundle"),
        NAME,
        [HOOK, f"--grpc-address={sock}", f"--log-fname={logf}", "createRuntime"],
        {"io.kubernetes.cri.container-name": "busy", "io.kubernetes.cri.image-name": "local/bb"},
    )
    r = runc_bundle.run(bundle, NAME)
    assert r.returncode == 0, r.stderr
    assert len(seen) == 1
    start = seen[0]
    assert start.cgroups_path == f"/rthooks-test/{NAME}"
    assert start.container_id == NAME and start.container_name == "busy"
    assert start.image == "local/bb"
    assert start.cgroup_id > 0, "the cgroup exists when createRuntime runs"
    assert log_lines(logf)[-1]["msg"] == "hook request to agent succeeded"


def test_runc_fails_container_when_agent_down(tmp_path):
    logf = tmp_path / "hook.log"
    bundle = runc_bundle.make(
        str(tmp_path / "bundle"),
        NAME,
        [
            HOOK,
            f"--grpc-address=unix://{tmp_path}/none.sock",
            f"--log-fname={logf}",
            "createRuntime",
        ],
        {"io.kubernetes.cri.sandbox-namespace": "default"},
    )
    r = runc_bundle.run(bundle, NAME)
    assert r.returncode != 0
    assert str(logf) in r.stderr
    assert log_lines(logf)[-1]["msg"] == "failing container"
