"""tetragon-oci-hook as a runtime runs it: a process, OCI state on stdin, a real gRPC peer.
(Bad input, a hanging agent and an unwritable log with the agent down: test_bad_input.py.)"""

from __future__ import annotations

import json
import os

from tests.rthooks.conftest import CID, POD_UID, log_lines, make_bundle, run_hook

FAILCHECK_OK = (
    "failCheck determined that we should not fail this container, even if there was an error"
)


def _state(bundle: str) -> str:
    return json.dumps({"ociVersion": "1.0.2", "id": CID, "status": "creating", "bundle": bundle})


def test_success_reaches_sink_and_logs_docs_line(agent, tmp_path):
    sock, seen = agent
    bundle = make_bundle(tmp_path / "b")
    logf = tmp_path / "hook.log"
    r = run_hook([f"--grpc-address={sock}", f"--log-fname={logf}", "createRuntime"], _state(bundle))
    assert r.returncode == 0, r.stderr
    assert len(seen) == 1
    start = seen[0]
    assert (start.container_id, start.pod_uid, start.container_name, start.pod_namespace) == (
        CID,
        POD_UID,
        "test",
        "default",
    )
    last = log_lines(logf)[-1]
    assert last["msg"] == "hook request to agent succeeded" and last["level"] == "INFO"
    assert list(last)[:4] == ["time", "level", "msg", "hook"]
    assert last["hook"] == "createRuntime" and last["req-containerName"] == "test"
    assert last["req-cgroups"] == f"/kubepods/besteffort/pod{POD_UID}/{CID}"
    assert last["req-rootdir"] == os.path.join(bundle, "rootfs") and "start-time" in last


def test_agent_down_fail_allow(tmp_path):
    down = f"unix://{tmp_path}/absent.sock"
    logf = tmp_path / "hook.log"
    cases = [
        ("kube-system", [], 0),
        ("default", [], 1),
        ("team-a", ["--fail-allow-namespaces=kube-system,team-a"], 0),
        ("ci-7", ["--fail-allow-namespaces-regex=ci-[0-9]+"], 0),
        ("prod", ["--fail-allow-namespaces-regex=ci-[0-9]+"], 1),
    ]
    for ns, extra, rc in cases:
        bundle = make_bundle(tmp_path / ns, namespace=ns)
        args = [f"--grpc-address={down}", "--grpc-timeout=2s", f"--log-fname={logf}", *extra]
        r = run_hook([*args, "createRuntime"], _state(bundle))
        assert r.returncode == rc, (ns, r.stderr)
        assert "Traceback" not in r.stderr
        last = log_lines(logf)[-1]["msg"]
        assert last == (FAILCHECK_OK if rc == 0 else "failing container"), (ns, last)


def test_unwritable_log_file_falls_back_to_stderr(agent, tmp_path):
    sock, seen = agent
    bundle = make_bundle(tmp_path / "b")
    logf = "/proc/tetragon-oci-hook.log"
    r = run_hook([f"--grpc-address={sock}", f"--log-fname={logf}", "createRuntime"], _state(bundle))
    assert r.returncode == 0 and len(seen) == 1
    assert f"cannot write log file {logf}" in r.stderr
    assert "hook request to agent succeeded" in r.stderr and "Traceback" not in r.stderr


def test_other_stages_accepted(tmp_path):
    logf = tmp_path / "hook.log"
    for stage in ("createContainer", "poststop"):
        r = run_hook([f"--log-fname={logf}", stage], "")
        assert r.returncode == 0
    assert [x["msg"] for x in log_lines(logf)] == ["nothing to do", "nothing to do"]


def test_agent_error_status_fails_container(tmp_path):
    """A sink that raises: the agent answers with a gRPC error, the hook applies the check."""
    from appliance.api.hub import EventHub
    from appliance.api.server import Servicer, start_server

    def refuse(start):
        raise RuntimeError("policy filter not ready")

    sock = f"unix://{tmp_path}/err.sock"
    server = start_server(sock, Servicer(EventHub(), runtime_hook_sink=refuse), workers=2)
    try:
        logf = tmp_path / "hook.log"
        bundle = make_bundle(tmp_path / "b")
        r = run_hook(
            [f"--grpc-address={sock}", f"--log-fname={logf}", "createRuntime"], _state(bundle)
        )
        assert r.returncode == 1
        lines = log_lines(logf)
        assert lines[0]["msg"] == "hook request to the agent failed"
        assert "error status" in lines[0]["err"]
    finally:
        server.stop(0)
