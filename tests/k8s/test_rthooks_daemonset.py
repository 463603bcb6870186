"""The rthooks overlay on a real cluster: `kubectl kustomize install/kubernetes/rthooks` with
the appliance image imported into the cluster's containerd. The tetragon-rthooks DaemonSet
comes up, its init container installs the hook on the node (a launcher for the node's
Python 3 with the hook's modules copied beside it), containerd runs that hook for a new pod,
and the export-logs container streams the hook's log.

Settings differ from the overlay's defaults because the node is this machine: with
interface oci-hooks the install dir and the hooks.d directory are the test cluster's own hook
directory (the one its containerd's base runtime spec names), and the cluster's idle hook is
put back afterwards; with nri-hook the install dir is temporary and the NRI paths are
containerd's fixed /opt/nri/bin and /etc/nri (backed up and restored). Either way the hook
talks to the agent the tests run on the node.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.k8s.conftest import install_idle_hook
from tests.k8s.test_identity import node  # noqa: F401
from tests.k8s.test_runtime_hooks import sleeper, start_outcome
from tests.k8s.test_runtime_hooks_nri import NRI_CONF, PLUGIN, host_nri_paths

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


def rendered(cluster, hook_dir: Path, grpc_address: str, interface: str) -> str:
    """The overlay, pointed at this node's hook directory and agent. For nri-hook the NRI
    paths stay containerd's fixed ones; otherwise they point under hook_dir, so that the
    DaemonSet creates nothing in the host's /opt/nri or /etc/nri."""
    docs = []
    out = cluster.kubectl("kustomize", str(ROOT / "install" / "kubernetes" / "rthooks")).stdout
    for doc in yaml.safe_load_all(out):
        if not doc:
            continue
        if doc["kind"] == "ConfigMap":
            doc["data"].update(installDir=str(hook_dir), grpcAddress=grpc_address,
                               hostPython=HOST_PYTHON, interface=interface)  # fmt: skip
        if doc["kind"] == "DaemonSet":
            spec = doc["spec"]["template"]["spec"]
            for c in spec["initContainers"] + spec["containers"]:
                c["image"] = IMAGE
            path = {"install-dir": hook_dir, "oci-hooks-dir": hook_dir / "hooks.d"}
            if interface != "nri-hook":
                path.update({"nri-bin-dir": hook_dir / "nri-bin",
                             "nri-conf-dir": hook_dir / "nri-conf"})  # fmt: skip
            for v in spec["volumes"]:
                if v["name"] in path:
                    v["hostPath"]["path"] = str(path[v["name"]])
        docs.append(doc)
    return yaml.safe_dump_all(docs)


@pytest.fixture(scope="module")
def imported(cluster) -> None:
    reason = _skip_reason(cluster)
    if reason:
        pytest.skip(reason)
    sock = Path(cluster.kubeconfig).parents[1] / "containerd" / "containerd.sock"
    save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
    subprocess.run(["ctr", "-a", str(sock), "-n", "k8s.io", "images", "import", "-"],
                   stdin=save.stdout, check=True, capture_output=True)  # fmt: skip
    save.wait()


@contextlib.contextmanager
def deployed(cluster, manifest: str) -> Iterator[None]:
    """The DaemonSet applied and rolled out; deleted afterwards, also on failure."""
    try:
        cluster.kubectl("apply", "-f", "-", input=manifest)
        r = cluster.kubectl("-n", "kube-system", "rollout", "status", "ds/tetragon-rthooks",
                            "--timeout=110s", check=False)  # fmt: skip
        if r.returncode:
            logs = cluster.kubectl("-n", "kube-system", "logs", "ds/tetragon-rthooks", "-c",
                                   "install-hook", check=False)  # fmt: skip
            raise AssertionError(f"DaemonSet not ready: {r.stderr}\n{logs.stdout[-3000:]}")
        yield
    finally:
        cluster.kubectl("delete", "-f", "-", "--wait=true", "--timeout=60s", input=manifest,
                        check=False)  # fmt: skip
        # its pods go after the DaemonSet: wait, so that nothing of theirs outlives the test
        cluster.kubectl("-n", "kube-system", "wait", "--for=delete", "pod", "-l",
                        "app.kubernetes.io/name=tetragon-rthooks", "--timeout=60s",
                        check=False, timeout=90)  # fmt: skip


@pytest.fixture
def rthooks(cluster, node, imported):  # noqa: F811
    """interface oci-hooks, installed over the cluster's own hook (put back afterwards)."""
    agent, _ = node
    try:
        with deployed(cluster, rendered(cluster, cluster.hook_dir, agent.address, "oci-hooks")):
            yield agent
    finally:
        install_idle_hook(cluster.hook_dir)
        for d in ("lib", "nri-bin", "nri-conf"):
            shutil.rmtree(cluster.hook_dir / d, ignore_errors=True)


def export_logs_for(cluster, pod: str, timeout: float = 30) -> list[dict]:
    """The export-logs container's JSON lines about pod, once one says the agent answered."""
    deadline = time.monotonic() + timeout
    lines: list[dict] = []
    while time.monotonic() < deadline:
        out = cluster.kubectl("-n", "kube-system", "logs", "ds/tetragon-rthooks", "-c",
                              "export-logs", "--tail", "200").stdout  # fmt: skip
        lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
        mine = [ln for ln in lines if ln.get("req-podName") == pod]
        if any(ln["msg"] == "hook request to agent succeeded" for ln in mine):
            return mine
        time.sleep(1)
    raise AssertionError(f"no line for {pod} in export-logs: {lines[-5:]}")


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
    name = f"rth-{uuid.uuid4().hex[:4]}"
    cluster.apply(sleeper(name, "default"))
    try:
        assert start_outcome(cluster, "default", name) == ("running", "")
        mine = export_logs_for(cluster, name)
        assert [ln["msg"] for ln in mine] == ["hook request to agent succeeded"], mine
        assert mine[0]["hook"] == "createRuntime" and mine[0]["req-containerName"] == "c"
    finally:
        cluster.kubectl("delete", "pod", name, "--wait=false", check=False)


def test_rthooks_daemonset_nri_hook(cluster, node, imported, tmp_path):  # noqa: F811
    """interface nri-hook: the plugin lands in containerd's /opt/nri/bin and /etc/nri/conf.json
    (backed up and restored), containerd runs it for a new pod, export-logs streams its log."""
    agent, _ = node
    cluster.hook_config(**{"disable-grpc": True})
    install_dir = tmp_path / "install"
    manifest = rendered(cluster, install_dir, agent.address, "nri-hook")
    with host_nri_paths(tmp_path / "nri-backup"), deployed(cluster, manifest):
        (entry,) = [p for p in json.loads(NRI_CONF.read_text())["plugins"]
                    if p["type"] == "tetragon-nri-hook"]  # fmt: skip
        assert entry["conf"]["grpc-address"] == agent.address
        assert entry["conf"]["log-fname"] == str(install_dir / "tetragon-nri-hook.log")
        assert HOST_PYTHON in PLUGIN.read_text()
        name = f"rthn-{uuid.uuid4().hex[:4]}"
        cluster.apply(sleeper(name, "default"))
        try:
            assert start_outcome(cluster, "default", name) == ("running", "")
            mine = export_logs_for(cluster, name)
            assert [ln["msg"] for ln in mine] == ["hook request to agent succeeded"], mine
            assert mine[0]["hook"] == "nri-create" and mine[0]["req-containerName"] == "c"
        finally:
            cluster.kubectl("delete", "pod", name, "--wait=false", check=False)
