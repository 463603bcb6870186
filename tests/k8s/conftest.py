"""Fixtures for tests that need a real Kubernetes cluster (marker `k8s`).

`cluster` uses $TETRAGON_TEST_KUBECONFIG when set, else starts one with cluster.sh in a
temporary directory and stops it at session end (also on failure)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLUSTER_SH = HERE / "cluster.sh"
CACHE = Path(os.environ.get("KUBE_TEST_CACHE", Path.home() / ".cache/k8s-test"))
BINARIES = ("kube-apiserver", "kubelet", "kube-scheduler", "kube-controller-manager", "kubectl")


@dataclass
class Cluster:
    """A running cluster: its kubeconfig, kubectl, and (when started here) its state dir."""

    kubeconfig: Path
    kubectl_bin: Path
    state_dir: Path | None
    node_name: str = os.environ.get("KUBE_NODE_NAME", "localhost")
    #: where the appliance's OCI hook is installed for this cluster's containerd (None when
    #: the cluster was not started here); its JSON file beside it turns it on and off
    hook_dir: Path | None = None

    def hook_config(self, **options) -> None:
        """Rewrite the hook's configuration (read at every container start)."""
        assert self.hook_dir is not None
        (self.hook_dir / "tetragon-oci-hook.json").write_text(json.dumps(options))

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; on failure the error names the command."""
        cmd = [str(self.kubectl_bin), f"--kubeconfig={self.kubeconfig}", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {r.stderr.strip()}")
        return r

    def token_secret(self, namespace: str, account: str, timeout: float = 30) -> str:
        """The name of a service account's token secret, once the token controller made it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            name = self.kubectl("-n", namespace, "get", "sa", account, "-o",
                                "jsonpath={.secrets[0].name}", check=False).stdout  # fmt: skip
            if name:
                return name
            time.sleep(0.5)
        raise AssertionError(f"no token secret for service account {namespace}/{account}")

    def apply(self, manifest: dict) -> None:
        """kubectl apply one object given as a dict."""
        self.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def run_pod(self, manifest: dict, phase: str = "Running", timeout: float = 90) -> dict:
        """Create a pod from a manifest dict and wait for phase; returns the pod object."""
        self.apply(manifest)
        meta = manifest["metadata"]
        return self.wait_pod_phase(meta.get("namespace", "default"), meta["name"], phase, timeout)

    def wait_pod_phase(self, namespace: str, name: str, phase: str, timeout: float = 90) -> dict:
        """Poll until the pod reaches phase; the error carries its last status."""
        deadline = time.monotonic() + timeout
        pod: dict = {}
        while time.monotonic() < deadline:
            r = self.kubectl("-n", namespace, "get", "pod", name, "-o", "json", check=False)
            if r.returncode == 0:
                pod = json.loads(r.stdout)
                if pod.get("status", {}).get("phase") == phase:
                    return pod
            time.sleep(0.5)
        raise AssertionError(f"pod {namespace}/{name} not {phase}: {pod.get('status')}")

    def delete_namespace(self, namespace: str, timeout: float = 120) -> None:
        """Delete a namespace and wait until it is gone."""
        self.kubectl(
            "delete",
            "namespace",
            namespace,
            "--ignore-not-found",
            "--wait=true",
            f"--timeout={int(timeout)}s",
            timeout=timeout + 10,
        )


def install_idle_hook(hook_dir: Path) -> None:
    """The appliance's hook as `tetragon-oci-hook-setup` installs it for this Python, idle
    (disable-grpc) until a test turns it on; also what a test that replaced it restores."""
    setup = Path(sys.executable).parent / "tetragon-oci-hook-setup"
    subprocess.run([str(setup), "install", "--interface=oci-hooks",
                    f"--local-install-dir={hook_dir}", f"--hooks-dir={hook_dir / 'hooks.d'}"],
                   check=True, capture_output=True)  # fmt: skip
    (hook_dir / "tetragon-oci-hook.json").write_text(json.dumps({"disable-grpc": True}))


def _start_reason() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "the test cluster needs root (run `make k8s-test`)"
    missing = [b for b in BINARIES if not (CACHE / b).exists()]
    if missing:
        return (
            f"Kubernetes binaries not built in {CACHE} ({', '.join(missing)}): "
            "run `make k8s-cluster-build`"
        )
    if shutil.which("containerd") is None:
        return "containerd is not installed: run `make k8s-cluster-build`"
    return None


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The session's cluster (see the module docstring)."""
    env_kc = os.environ.get("TETRAGON_TEST_KUBECONFIG")
    kubectl_bin = Path(shutil.which("kubectl") or CACHE / "kubectl")
    if (CACHE / "kubectl").exists():
        kubectl_bin = CACHE / "kubectl"
    if env_kc:
        yield Cluster(Path(env_kc), kubectl_bin, None)
        return
    reason = _start_reason()
    if reason:
        pytest.skip(reason)
    state = Path(tempfile.mkdtemp(prefix="k8s-cluster."))
    # every app container runs the appliance's hook at createRuntime; it stays idle
    # (disable-grpc) until a test turns it on through its JSON file
    hook_dir = state / "rthooks"
    install_idle_hook(hook_dir)
    hooks = {
        "createRuntime": [
            {
                "path": str(hook_dir / "tetragon-oci-hook"),
                "args": ["tetragon-oci-hook", "createRuntime"],
                "timeout": 10,
            }
        ]
    }
    (state / "hooks.json").write_text(json.dumps(hooks))  # fmt: skip
    t0 = time.monotonic()
    env = {**os.environ, "CLUSTER_OCI_HOOKS": str(state / "hooks.json")}
    r = subprocess.run(
        [str(CLUSTER_SH), "start", str(state)], capture_output=True, text=True, env=env
    )
    try:
        if r.returncode != 0:
            pytest.skip(f"test cluster did not start: {r.stderr.strip()[-800:]}")
        print(f"cluster started in {time.monotonic() - t0:.1f} s")
        yield Cluster(Path(r.stdout.strip().splitlines()[-1]), kubectl_bin, state,
                      hook_dir=hook_dir)  # fmt: skip
    finally:
        subprocess.run([str(CLUSTER_SH), "stop", str(state)], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/k8s carries the `k8s` marker."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.k8s)
