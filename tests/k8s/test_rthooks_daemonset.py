"""The rthooks overlay on a real cluster: `kubectl kustomize install/kubernetes/rthooks` with
the appliance image imported into the cluster's containerd. The tetragon-rthooks DaemonSet
comes up, its init container installs the hook on the node (a launcher for the node's
Python 3 with the hook's modules copied beside it), containerd runs that hook for a new pod,
and the export-logs container streams the hook's log.

Two settings differ from the overlay's defaults, because the node is this machine: the
install dir and the hooks.d directory are the test cluster's own hook directory (the one its
containerd's base runtime spec names), not /opt/tetragon and /usr/share/containers/oci/hooks.d,
and the hook talks to the agent the tests run on the node. Afterwards the cluster's idle hook
is put back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.k8s.conftest import install_idle_hook
from tests.k8s.test_identity import node  # noqa: F401
from tests.k8s.test_runtime_hooks import sleeper, start_outcome

pytestmark = pytest.mark.k8s
ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("TETRAGON_TEST_IMAGE", "tetragon-appliance:latest")
HOST_PYTHON = "/usr/bin/python3"


def _skip_reason(cluster) -> str:
    if cluster.hook_dir is None:
        return "the hook is wired only into a cluster these tests started"
    if not shutil.which("docker") or subprocess.run(["docker", "info"],
                                                    capture_output=True).returncode:  # fmt: skip
        return "no Docker engine to take the appliance image from (make image)"
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        return f"image {IMAGE} not built (make image, or TETRAGON_TEST_IMAGE)"
    if not os.access(HOST_PYTHON, os.X_OK):
        return f"the node has no {HOST_PYTHON} to run the installed hook"
    return ""


def rendered(cluster, hook_dir: Path, grpc_address: str) -> str:
    """The overlay, pointed at this node's hook directory and agent."""
    docs = []
    out = cluster.kubectl("kustomize", str(ROOT / "install" / "kubernetes" / "rthooks")).stdout
    for doc in yaml.safe_load_all(out):
        if not doc:
            continue
        if doc["kind"] == "ConfigMap":
            doc["data"].update(installDir=str(hook_dir), grpcAddress=grpc_address,
                               hostPython=HOST_PYTHON)  # fmt: skip
        if doc["kind"] == "DaemonSet":
            spec = doc["spec"]["template"]["spec"]
            for c in spec["initContainers"] + spec["containers"]:
                c["image"] = IMAGE
            for v in spec["volumes"]:
                path = {"install-dir": hook_dir, "oci-hooks-dir": hook_dir / "hooks.d"}
                v["hostPath"]["path"] = str(path[v["name"]])
        docs.append(doc)
    return yaml.safe_dump_all(docs)


@pytest.fixture
def rthooks(cluster, node):  # noqa: F811
    reason = _skip_reason(cluster)
    if reason:
        pytest.skip(reason)
    agent, _ = node
    sock = Path(cluster.kubeconfig).parents[1] / "containerd" / "containerd.sock"
    save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
    subprocess.run(["ctr", "-a", str(sock), "-n", "k8s.io", "images", "import", "-"],
                   stdin=save.stdout, check=True, capture_output=True)  # fmt: skip
    save.wait()
    manifest = rendered(cluster, cluster.hook_dir, agent.address)
    try:
        cluster.kubectl("apply", "-f", "-", input=manifest)
        r = cluster.kubectl("-n", "kube-system", "rollout", "status", "ds/tetragon-rthooks",
                            "--timeout=110s", check=False)  # fmt: skip
        if r.returncode:
            logs = cluster.kubectl("-n", "kube-system", "logs", "ds/tetragon-rthooks", "-c",
                                   "install-hook", check=False)  # fmt: skip
            raise AssertionError(f"DaemonSet not ready: {r.stderr}\n{logs.stdout[-3000:]}")
        yield agent
    finally:
        cluster.kubectl("delete", "-f", "-", "--wait=true", "--timeout=60s", input=manifest,
                        check=False)  # fmt: skip
        install_idle_hook(cluster.hook_dir)
        shutil.rmtree(cluster.hook_dir / "lib", ignore_errors=True)


def test_rthooks_daemonset_installs_the_hook_and_streams_its_log(cluster, rthooks):
    hook_dir = cluster.hook_dir
    launcher = (hook_dir / "tetragon-oci-hook").read_text()
    assert HOST_PYTHON in launcher and str(hook_dir / "lib") in launcher, launcher
    assert (hook_dir / "lib" / "appliance" / "rthooks" / "oci_hook.py").exists()
    conf = json.loads((hook_dir / "tetragon-oci-hook.json").read_text())
    assert conf["grpc-address"] == rthooks.address
    assert conf["fail-allow-namespaces"].split(",")[0] == "kube-system"
    entry = json.loads((hook_dir / "hooks.d" / "tetragon-oci-hook.json").read_text())
    assert entry["hook"]["path"] == str(hook_dir / "tetragon-oci-hook")
    install = cluster.kubectl("-n", "kube-system", "logs", "ds/tetragon-rthooks", "-c",
                              "install-hook").stderr  # fmt: skip
    name = f"rth-{uuid.uuid4().hex[:4]}"
    cluster.apply(sleeper(name, "default"))
    try:
        assert start_outcome(cluster, "default", name) == ("running", "")
        deadline = time.monotonic() + 30
        lines: list[dict] = []
        while time.monotonic() < deadline:
            out = cluster.kubectl("-n", "kube-system", "logs", "ds/tetragon-rthooks", "-c",
                                  "export-logs", "--tail", "200").stdout  # fmt: skip
            lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
            if any(ln.get("req-podName") == name and ln["msg"] == "hook request to agent "
                   "succeeded" for ln in lines):  # fmt: skip
                break
            time.sleep(1)
        mine = [ln for ln in lines if ln.get("req-podName") == name]
        assert [ln["msg"] for ln in mine] == ["hook request to agent succeeded"], (
            install, lines[-5:])  # fmt: skip
        assert mine[0]["hook"] == "createRuntime" and mine[0]["req-containerName"] == "c"
    finally:
        cluster.kubectl("delete", "pod", name, "--wait=false", check=False)
