"""Bad input to tetragon-oci-hook and tetragon-nri-hook, each run as the runtime runs it (a
process, the request on stdin): every case is a clear log line naming what is wrong, then
the fail check (a `default` container fails, a `kube-system` one starts when its namespace
is known), never a hang and never a traceback on the runtime's stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.rthooks.conftest import CID, POD_UID, log_lines, make_bundle, run_hook

NRI_HOOK = os.path.join(os.path.dirname(sys.executable), "tetragon-nri-hook")
FAILCHECK_OK = (
    "failCheck determined that we should not fail this container, even if there was an error"
)
UNWRITABLE = "/proc/tetragon-hook-test/hook.log"  # no directory can be made under /proc


def _state(bundle: str) -> str:
    return json.dumps({"ociVersion": "1.0.2", "id": CID, "status": "creating", "bundle": bundle})


def _no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr


# --- tetragon-oci-hook -----------------------------------------------------------------------
OCI_CASES = {
    # name: (stdin maker, error in the log, namespace known to the fail check)
    "garbage-stdin": (lambda d: "{not json", "OCI state on stdin is not JSON", False),
    "empty-stdin": (lambda d: "", "empty OCI state on stdin", False),
    "state-not-object": (lambda d: "[1, 2]", "OCI state on stdin is not a JSON object", False),
    "no-config-json": (
        lambda d: _state(make_bundle(d / "nc", config=False)),
        "failed to find spec file: none of config.json, ../config.json, ../userdata/config.json in",
        False,
    ),
    "config-not-json": (lambda d: _state(_bad_config(d / "bj")), "failed to read spec file", False),
    "unknown-cgroup-layout": (
        lambda d: _state(make_bundle(d / "bc", cgroups="no-layout-here")),
        "Unknown cgroup path: no-layout-here",
        True,
    ),
    "bad-systemd-slice": (
        lambda d: _state(make_bundle(d / "bs", cgroups="kube--pods.slice:cri-containerd:x")),
        "failed to parse cgroup path",
        True,
    ),
}


def _bad_config(path) -> str:
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write("{truncated")
    return str(path)


@pytest.mark.parametrize("case", sorted(OCI_CASES))
def test_oci_hook_bad_input_fails_default(agent, tmp_path, case):
    sock, seen = agent
    make, err, _ = OCI_CASES[case]
    logf = tmp_path / "hook.log"
    r = run_hook([f"--grpc-address={sock}", f"--log-fname={logf}", "createRuntime"], make(tmp_path))
    assert r.returncode == 1, r.stderr
    _no_traceback(r)
    assert "failing container" in r.stderr and str(logf) in r.stderr, r.stderr
    lines = log_lines(logf)
    assert lines[-2]["msg"] == "hook request failed before reaching the agent"
    assert err in lines[-2]["err"], lines[-2]
    assert lines[-1]["msg"] == "failing container" and lines[-1]["hook"] == "createRuntime"
    assert seen == []


@pytest.mark.parametrize("case", sorted(c for c, v in OCI_CASES.items() if v[2]))
def test_oci_hook_bad_input_in_an_allowed_namespace_starts(agent, tmp_path, case):
    sock, _ = agent
    make, err, _ = OCI_CASES[case]
    logf = tmp_path / "hook.log"
    stdin = make(tmp_path)
    cfg = json.loads(stdin)["bundle"] + "/config.json"
    spec = json.loads(open(cfg).read())
    spec["annotations"]["io.kubernetes.cri.sandbox-namespace"] = "kube-system"
    with open(cfg, "w") as f:
        json.dump(spec, f)
    r = run_hook([f"--grpc-address={sock}", f"--log-fname={logf}", "createRuntime"], stdin)
    assert r.returncode == 0, r.stderr
    _no_traceback(r)
    lines = log_lines(logf)
    assert err in lines[-2]["err"] and lines[-1]["msg"] == FAILCHECK_OK


@pytest.mark.parametrize("ns,rc", [("default", 1), ("kube-system", 0)])
def test_oci_hook_hanging_agent_timeout_then_fail_check(hanging_agent, tmp_path, ns, rc):
    logf = tmp_path / "hook.log"
    bundle = make_bundle(tmp_path / "b", namespace=ns)
    t0 = time.monotonic()
    r = run_hook([f"--grpc-address={hanging_agent}", "--grpc-timeout=700ms",
                  f"--log-fname={logf}", "createRuntime"], _state(bundle))  # fmt: skip
    took = time.monotonic() - t0
    assert 0.6 < took < 10, took  # the peer would hang for 30 s
    assert r.returncode == rc, r.stderr
    _no_traceback(r)
    first, last = log_lines(logf)[0], log_lines(logf)[-1]
    assert first["msg"] == "hook request to the agent failed"
    assert "context deadline exceeded" in first["err"], first
    assert last["msg"] == ("failing container" if rc else FAILCHECK_OK)


@pytest.mark.parametrize("ns,rc", [("default", 1), ("kube-system", 0)])
def test_oci_hook_unwritable_log_agent_down(tmp_path, ns, rc):
    """The log cannot be written: one clear line on stderr, the log lines follow it there,
    and the fail check still decides."""
    bundle = make_bundle(tmp_path / "b", namespace=ns)
    r = run_hook([f"--grpc-address=unix://{tmp_path}/absent.sock", "--grpc-timeout=1s",
                  f"--log-fname={UNWRITABLE}", "createRuntime"], _state(bundle))  # fmt: skip
    assert r.returncode == rc, r.stderr
    _no_traceback(r)
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"tetragon-oci-hook: cannot write log file {UNWRITABLE}: "), first
    assert first.endswith("; logging to stderr"), first
    assert '"msg":"hook request to the agent failed"' in r.stderr
    assert ('"msg":"failing container"' if rc else FAILCHECK_OK) in r.stderr


# --- tetragon-nri-hook -----------------------------------------------------------------------
def nri_request(tmp_path, address: str, ns: str = "default", **over) -> dict:
    req = {
        "version": "0.1", "state": "create", "id": CID, "sandboxID": "s" * 64, "pid": 7,
        "spec": {"cgroupsPath": f"/kubepods/besteffort/pod{POD_UID}/{CID}",
                 "annotations": {"io.kubernetes.cri.container-name": "c",
                                 "io.kubernetes.cri.sandbox-namespace": ns}},
        "conf": {"grpc-address": address, "grpc-timeout": "1s",
                 "log-fname": str(tmp_path / "nri.log")},
    }  # fmt: skip
    req.update(over)
    return req


def run_nri(stdin: str, env: dict | None = None, timeout: float = 20):
    return subprocess.run([NRI_HOOK, "invoke"], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})  # fmt: skip


def _nri_failed(r: subprocess.CompletedProcess) -> str:
    """The error containerd 1.6 shows: the result's error field (exit 1)."""
    assert r.returncode == 1, (r.stdout, r.stderr)
    res = json.loads(r.stdout)
    assert res["plugin"] == "tetragon-nri-hook" and res["error"].startswith("failing container")
    return res["error"]


@pytest.mark.parametrize(
    "stdin,err",
    [("{not json", "NRI request on stdin is not JSON"), ("", "empty NRI request on stdin"),
     ("[]", "NRI request on stdin is not a JSON object")],
)  # fmt: skip
def test_nri_garbage_or_empty_stdin_fails(tmp_path, stdin, err):
    # the request (and its conf) is unreadable: the plugin takes its options from its entry
    # in the NRI configuration file (TETRAGON_NRI_CONF stands in for /etc/nri/conf.json)
    conf = tmp_path / "conf.json"
    conf.write_text(
        json.dumps(
            {
                "version": "0.1",
                "plugins": [
                    {"type": "tetragon-nri-hook", "conf": {"log-fname": str(tmp_path / "nri.log")}}
                ],
            }
        )
    )
    r = run_nri(stdin, env={"TETRAGON_NRI_CONF": str(conf)})
    _nri_failed(r)
    _no_traceback(r)
    lines = log_lines(tmp_path / "nri.log")
    assert err in lines[-2]["err"] and lines[-1]["msg"] == "failing container"


@pytest.mark.parametrize(
    "over,err",
    [({"spec": None}, "NRI request: spec is missing or not an object"),
     ({"spec": {"annotations": {"io.kubernetes.cri.sandbox-namespace": "default"}}},
      "NRI request: spec.cgroupsPath is empty"),
     ({"spec": {"cgroupsPath": "no-layout-here",
                "annotations": {"io.kubernetes.cri.sandbox-namespace": "default"}}},
      "Unknown cgroup path: no-layout-here")],
)  # fmt: skip
def test_nri_bad_request_fails_default(agent, tmp_path, over, err):
    sock, seen = agent
    r = run_nri(json.dumps(nri_request(tmp_path, sock, **over)))
    _nri_failed(r)
    _no_traceback(r)
    lines = log_lines(tmp_path / "nri.log")
    assert err in lines[-2]["err"] and lines[-1]["msg"] == "failing container"
    assert lines[-1]["hook"] == "nri-create" and seen == []


def test_nri_unknown_cgroup_layout_in_kube_system_starts(agent, tmp_path):
    sock, _ = agent
    spec = {"cgroupsPath": "no-layout-here",
            "annotations": {"io.kubernetes.cri.sandbox-namespace": "kube-system"}}  # fmt: skip
    r = run_nri(json.dumps(nri_request(tmp_path, sock, spec=spec)))
    assert r.returncode == 0 and "error" not in json.loads(r.stdout)
    assert log_lines(tmp_path / "nri.log")[-1]["msg"] == FAILCHECK_OK


@pytest.mark.parametrize("ns,rc", [("default", 1), ("kube-system", 0)])
def test_nri_hanging_agent_timeout_then_fail_check(hanging_agent, tmp_path, ns, rc):
    t0 = time.monotonic()
    r = run_nri(json.dumps(nri_request(tmp_path, hanging_agent, ns)))
    took = time.monotonic() - t0
    assert 0.9 < took < 10, took  # the peer would hang for 30 s
    if rc:
        _nri_failed(r)
    else:
        assert r.returncode == 0 and "error" not in json.loads(r.stdout)
    _no_traceback(r)
    first, last = log_lines(tmp_path / "nri.log")[0], log_lines(tmp_path / "nri.log")[-1]
    assert first["msg"] == "hook request to the agent failed"
    assert "context deadline exceeded" in first["err"]
    assert last["msg"] == ("failing container" if rc else FAILCHECK_OK)


@pytest.mark.parametrize("ns,rc", [("default", 1), ("kube-system", 0)])
def test_nri_unwritable_log_agent_down(tmp_path, ns, rc):
    req = nri_request(tmp_path, f"unix://{tmp_path}/absent.sock", ns)
    req["conf"]["log-fname"] = UNWRITABLE
    r = run_nri(json.dumps(req))
    _no_traceback(r)
    assert r.returncode == rc
    json.loads(r.stdout)  # stdout is still only the result
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"tetragon-nri-hook: cannot write log file {UNWRITABLE}: "), first
    assert ('"msg":"failing container"' if rc else FAILCHECK_OK) in r.stderr
