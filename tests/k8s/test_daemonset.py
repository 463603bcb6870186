"""The kustomize base on a real cluster: the DaemonSet comes up Ready and shows pods.

`kubectl apply -k install/kubernetes` as a user runs it, with two differences this test
cluster needs: it has no kube-proxy, so the Service address Kubernetes gives pods for the
API server does not route (the DaemonSet, on the host network, is pointed at the API
server's own address instead), and its API server runs without the ServiceAccount
admission plugin, so the service account's token secret is mounted explicitly. The image
is the one `make image` builds, imported into the cluster's containerd.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

pytestmark = pytest.mark.k8s

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("TETRAGON_TEST_IMAGE", "tetragon-appliance:latest")


def _containerd_socket(cluster) -> str:
    sock = Path(cluster.kubeconfig).parents[1] / "containerd" / "containerd.sock"
    return str(sock) if sock.exists() else os.environ.get("TETRAGON_TEST_CONTAINERD", "")


@pytest.fixture(scope="module")
def deployed(cluster, tmp_path_factory):
    if (
        not shutil.which("docker")
        or subprocess.run(["docker", "info"], capture_output=True).returncode
    ):
        pytest.skip("no Docker engine to take the appliance image from (make image)")
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        pytest.skip(f"image {IMAGE} not built (make image)")
    sock = _containerd_socket(cluster)
    if not sock:
        pytest.skip("the cluster's containerd socket is unknown (TETRAGON_TEST_CONTAINERD)")
    save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
    subprocess.run(["ctr", "-a", sock, "-n", "k8s.io", "images", "import", "-"],
                   stdin=save.stdout, check=True, capture_output=True)  # fmt: skip
    save.wait()
    rendered = cluster.kubectl("kustomize", str(ROOT / "install" / "kubernetes")).stdout
    server = urlparse(yaml.safe_load(Path(cluster.kubeconfig).read_text())["clusters"][0][
        "cluster"]["server"])  # fmt: skip
    docs = []
    cluster.kubectl("apply", "-f", "-", input=rendered)  # the service account and its token
    secret = cluster.token_secret("kube-system", "tetragon")
    for doc in yaml.safe_load_all(rendered):
        if doc and doc["kind"] == "DaemonSet":
            spec = doc["spec"]["template"]["spec"]
            spec["volumes"].append({"name": "sa", "secret": {"secretName": secret}})
            for c in spec["containers"]:
                c["image"] = IMAGE
                c["volumeMounts"].append(
                    {"name": "sa", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
                )
                if c["name"] == "tetragon":
                    c["env"] += [
                        {"name": "KUBERNETES_SERVICE_HOST", "value": server.hostname},
                        {"name": "KUBERNETES_SERVICE_PORT", "value": str(server.port or 443)},
                    ]
        docs.append(doc)
    manifest = yaml.safe_dump_all(docs)
    cluster.kubectl("apply", "-f", "-", input=manifest)
    try:
        r = cluster.kubectl("-n", "kube-system", "rollout", "status", "ds/tetragon",
                            "--timeout=110s", check=False)  # fmt: skip
        if r.returncode:
            logs = cluster.kubectl("-n", "kube-system", "logs", "ds/tetragon", "-c", "tetragon",
                                   check=False)  # fmt: skip
            raise AssertionError(f"DaemonSet not ready: {r.stderr}\n{logs.stdout[-3000:]}")
        yield
    finally:
        cluster.kubectl("delete", "-f", "-", "--wait=true", "--timeout=60s", input=manifest,
                        check=False)  # fmt: skip


def test_daemonset_ready_and_tetra_shows_pod_processes(cluster, deployed):
    logs = cluster.kubectl("-n", "kube-system", "logs", "ds/tetragon", "-c", "tetragon").stdout
    assert "Enabling policy filtering" in logs
    assert "Initialization complete" in logs
    name = "dsprobe"
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": name, "image": "local/python:3",
                                 "imagePullPolicy": "Never", "command": ["sleep", "600"]}]},
    }  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    try:
        cluster.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
        stream = subprocess.Popen(
            [cluster.kubectl_bin, "exec", "-n", "kube-system", "ds/tetragon", "-c", "tetragon",
             "--", "tetra", "getevents", "-o", "compact"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
        )  # fmt: skip
        want = f"🚀 process default/{name} /usr/bin/python3 -c print(42)"
        seen = []
        deadline = time.monotonic() + 60
        try:
            os.set_blocking(stream.stdout.fileno(), False)
            buf = b""
            while time.monotonic() < deadline:
                cluster.kubectl("exec", name, "--", "python3", "-c", "print(42)")
                time.sleep(1)
                chunk = stream.stdout.read() or b""
                buf += chunk
                seen = buf.decode(errors="replace").splitlines()
                if any(want in ln for ln in seen):
                    break
        finally:
            stream.kill()
            stream.wait()
        assert any(want in ln for ln in seen), "\n".join(seen[-20:])
        out = cluster.kubectl("-n", "kube-system", "logs", "ds/tetragon", "-c", "export-stdout",
                              "--tail", "200").stdout  # fmt: skip
        events = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
        assert any("process_exec" in e for e in events)
    finally:
        cluster.kubectl("delete", "pod", name, "--wait=false", check=False)
