"""Pod identity on a real cluster: the agent and the controller run on the node (as root),
the pods run in the cluster's containerd, the policies come from TracingPolicy objects.

The namespaced-policy demo of Tetragon's docs, step by step: an existing pod in ``default``
is killed on ``lseek(-1)`` once the TracingPolicyNamespaced is applied with ``kubectl apply
-n default``, a new pod there too, while a pod in ``test`` and a host process get EBADF.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import RunningAgent, RunningController, system_conf_env

pytestmark = pytest.mark.k8s

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LSEEK = "import os\ntry:\n    os.lseek(-1, 0, 0)\nexcept OSError as e:\n    print('errno', e.errno)"


@pytest.fixture(scope="module")
def node(cluster, tmp_path_factory):
    """The agent (pod source, policy filter) and the controller (CRDs) for this cluster."""
    work = tmp_path_factory.mktemp("k8s-agent")
    agent = RunningAgent(
        work,
        [
            "--metadata-source", "kubernetes",
            "--k8s-kubeconfig-path", str(cluster.kubeconfig),
            "--node-name", cluster.node_name,
            "--enable-policy-filter",
            "--event-cache-retry-delay", "1",
        ],
    )  # fmt: skip
    env = system_conf_env(work)
    (work / "policies").mkdir()
    (work / "conf").mkdir()
    ctl = RunningController(
        agent,
        work,
        work / "policies",
        work / "conf",
        env=env,
        extra_args=[
            "--k8s-kubeconfig-path", str(cluster.kubeconfig), "--metadata-source", "kubernetes",
        ],
    )  # fmt: skip
    ctl.wait_log("Initialization complete", timeout=30)
    yield agent, ctl
    ctl.stop()
    agent.stop()


def sh_pod(cluster, name: str, ns: str = "default", labels: dict | None = None, cmd=None):
    """A pod running python3 (the image's) with ``cmd``, or sleeping; waits until it runs."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": name,
                    "image": "local/python:3",
                    "imagePullPolicy": "Never",
                    "command": cmd or ["sleep", "600"],
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    if cmd is None:
        cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
    return name


def lseek_in(cluster, pod: str, ns: str = "default") -> subprocess.CompletedProcess:
    return cluster.kubectl(
        "-n", ns, "exec", pod, "--", "python3", "-c", LSEEK, check=False
    )  # fmt: skip


def apply_policy(cluster, text: str, ns: str | None = "default") -> None:
    args = ["apply", "-f", "-"] + (["-n", ns] if ns else [])
    cluster.kubectl(*args, input=text)


def wait_policy_loaded(agent: RunningAgent, name: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if f"policy {name} loaded" in agent.log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"policy {name} not loaded:\n{agent.log.read_text()[-2000:]}")


@pytest.fixture
def test_ns(cluster):
    ns = f"test-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    yield ns
    cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_docs_lseek_namespaced_demo(cluster, node, test_ns):
    agent, ctl = node
    sh_pod(cluster, "test")
    try:
        assert "errno 9" in lseek_in(cluster, "test").stdout  # no policy yet: EBADF
        apply_policy(cluster, (FIXTURES / "lseek-namespaced.yaml").read_text())
        wait_policy_loaded(agent, "lseek-namespaced")
        r = lseek_in(cluster, "test")
        assert r.returncode == 137, r  # killed: the process got SIGKILL
        # a new pod in default is killed too
        sh_pod(cluster, "test2")
        assert lseek_in(cluster, "test2").returncode == 137
        # ... the same in another namespace gets EBADF, and so does a host process
        sh_pod(cluster, "test", ns=test_ns)
        r = lseek_in(cluster, "test", ns=test_ns)
        assert r.returncode == 0 and "errno 9" in r.stdout
        host = subprocess.run(["python3", "-c", LSEEK], capture_output=True, text=True)
        assert host.returncode == 0 and "errno 9" in host.stdout
        # deleting the resource lifts enforcement
        cluster.kubectl("-n", "default", "delete", "tgtpn", "lseek-namespaced")
        ctl.wait_log("TracingPolicyNamespaced default/lseek-namespaced deleted", timeout=20)
        time.sleep(0.5)
        assert "errno 9" in lseek_in(cluster, "test").stdout
    finally:
        cluster.kubectl("-n", "default", "delete", "tgtpn", "lseek-namespaced",
                        "--ignore-not-found", check=False)  # fmt: skip
        cluster.kubectl("-n", "default", "delete", "pod", "test", "test2", "--wait=false",
                        "--ignore-not-found", check=False)  # fmt: skip


def test_pod_selector_kills_only_the_labelled_pod(cluster, node):
    agent, _ = node
    sh_pod(cluster, "labelled", labels={"app": "victim"})
    sh_pod(cluster, "other", labels={"app": "bystander"})
    text = (FIXTURES / "lseek-namespaced.yaml").read_text()
    text = text.replace("kind: TracingPolicyNamespaced", "kind: TracingPolicy")
    text = text.replace('name: "lseek-namespaced"', 'name: "lseek-victims"')
    text = text.replace(
        "spec:\n", "spec:\n  podSelector:\n    matchLabels:\n      app: victim\n", 1
    )
    try:
        apply_policy(cluster, text, ns=None)
        wait_policy_loaded(agent, "lseek-victims")
        assert lseek_in(cluster, "labelled").returncode == 137
        r = lseek_in(cluster, "other")
        assert r.returncode == 0 and "errno 9" in r.stdout
    finally:
        cluster.kubectl("delete", "tgtp", "lseek-victims", "--ignore-not-found", check=False)
        cluster.kubectl("-n", "default", "delete", "pod", "labelled", "other", "--wait=false",
                        check=False)  # fmt: skip


def test_exec_events_carry_the_pod_block_and_workload(cluster, node):
    agent, _ = node
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web", "tier": "front"}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {
                            "name": "srv",
                            "image": "local/python:3",
                            "imagePullPolicy": "Never",
                            "command": ["sleep", "600"],
                        }
                    ],
                },
            },
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(dep))
    try:
        cluster.kubectl("-n", "default", "rollout", "status", "deploy/web", "--timeout=60s")
        cluster.kubectl("-n", "default", "exec", "deploy/web", "--", "python3", "-c", "1")
        ev = agent.wait_for(
            lambda e: (
                e.get("process_exec", {}).get("process", {}).get("binary") == "/usr/bin/python3"
                and e["process_exec"]["process"].get("pod", {}).get("workload") == "web"
            ),
            timeout=20,
        )
        pod = ev["process_exec"]["process"]["pod"]
        assert pod["namespace"] == "default" and pod["name"].startswith("web-")
        assert pod["workload_kind"] == "Deployment"
        assert pod["pod_labels"]["app"] == "web" and pod["pod_labels"]["tier"] == "front"
        assert pod["container"]["id"].startswith("containerd://")
        assert pod["container"]["name"] == "srv"
        assert pod["container"]["image"]["name"].endswith("local/python:3")
        assert pod["container"]["start_time"] and pod["container"]["pid"] > 1
        assert ev["process_exec"]["process"]["docker"] == pod["container"]["id"][13:44]
        compact = subprocess.run(
            [str(Path(__file__).resolve().parents[2] / ".venv/bin/tetra"), "getevents", "-o",
             "compact"], input=agent.export.read_bytes(), capture_output=True,
        ).stdout.decode()  # fmt: skip
        assert f"🚀 process default/{pod['name']} /usr/bin/python3 -c 1" in compact
    finally:
        cluster.kubectl("-n", "default", "delete", "deploy", "web", "--wait=false", check=False)


def test_a_pod_whose_only_process_exits_at_once_gets_its_pod(cluster, node):
    agent, _ = node
    name = f"short-{uuid.uuid4().hex[:6]}"
    sh_pod(cluster, name, cmd=["/bin/true"])
    try:
        ev = agent.wait_for(
            lambda e: (
                e.get("process_exec", {}).get("process", {}).get("binary") == "/bin/true"
                and "docker" in e["process_exec"]["process"]
            ),
            timeout=40,
        )
        pod = ev["process_exec"]["process"].get("pod")
        assert pod is not None and pod["name"] == name, ev
        ex = agent.wait_for(
            lambda e: (
                e.get("process_exit", {}).get("process", {}).get("exec_id")
                == ev["process_exec"]["process"]["exec_id"]
            ),
            timeout=40,
        )
        assert ex["process_exit"]["process"]["pod"]["name"] == name
    finally:
        cluster.kubectl("-n", "default", "delete", "pod", name, "--wait=false", check=False)


def test_a_refused_policy_is_an_event_on_the_object(cluster, node):
    agent, ctl = node
    bad = (FIXTURES / "lseek-namespaced.yaml").read_text()
    bad = bad.replace('name: "lseek-namespaced"', 'name: "broken"')
    bad = bad.replace('call: "__x64_sys_lseek"', 'call: "no_such_function_here"')
    bad = bad.replace("syscall: true", "syscall: false")
    mark = ctl.mark()
    try:
        apply_policy(cluster, bad)
        ctl.wait_log("TracingPolicyNamespaced default/broken refused by the agent", 30, mark)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            out = cluster.kubectl(
                "-n", "default", "get", "events", "--field-selector",
                "involvedObject.name=broken,reason=PolicyRejected", "-o", "json",
            ).stdout  # fmt: skip
            items = json.loads(out)["items"]
            if items:
                assert "no_such_function_here" in items[0]["message"]
                break
            time.sleep(0.5)
        else:
            raise AssertionError("no PolicyRejected event on the object")
        assert agent.proc.poll() is None
    finally:
        cluster.kubectl("-n", "default", "delete", "tgtpn", "broken", "--ignore-not-found",
                        check=False)  # fmt: skip


def test_api_server_away_and_back(cluster, node):
    """The watches resume from a fresh listing: nothing lost, nothing applied twice."""
    if cluster.state_dir is None:
        pytest.skip("the API server can be restarted only on a cluster these tests started")
    agent, ctl = node
    cluster_sh = Path(__file__).resolve().parent / "cluster.sh"
    text = (FIXTURES / "lseek-namespaced.yaml").read_text()
    text = text.replace('name: "lseek-namespaced"', 'name: "lseek-survives"')
    sh_pod(cluster, "survivor")
    try:
        apply_policy(cluster, text)
        ctl.wait_log("TracingPolicyNamespaced default/lseek-survives added", timeout=30)
        mark = ctl.mark()
        subprocess.run([str(cluster_sh), "api-restart", str(cluster.state_dir), "5"], check=True,
                       capture_output=True)  # fmt: skip
        assert lseek_in(cluster, "survivor").returncode == 137  # enforcement never stopped
        # the policy watch follows again: a policy created after the restart is applied
        apply_policy(cluster, text.replace("lseek-survives", "lseek-after"))
        ctl.wait_log("TracingPolicyNamespaced default/lseek-after added", timeout=60, after=mark)
        # a pod started after the API came back still gets its pod block and the policy
        sh_pod(cluster, "newcomer")
        assert lseek_in(cluster, "newcomer").returncode == 137
        time.sleep(2)
        log = ctl.text()[mark:]
        assert "lseek-survives added" not in log  # not applied a second time
        assert agent.log.read_text().count("policy lseek-survives loaded") == 1
        assert "Traceback" not in ctl.text() and "Traceback" not in agent.log.read_text()
    finally:
        cluster.kubectl("-n", "default", "delete", "tgtpn", "lseek-survives", "lseek-after",
                        "--ignore-not-found", check=False)  # fmt: skip
        cluster.kubectl("-n", "default", "delete", "pod", "survivor", "newcomer",
                        "--wait=false", "--ignore-not-found", check=False)  # fmt: skip


def test_crds_not_creatable_without_rights_are_reported(cluster, tmp_path, caplog):
    """A service account without rights on CRDs: a warning that says what to grant, no
    traceback, and the controller goes on with the CRDs the manifests installed."""
    import base64
    import logging

    import yaml

    from appliance.metadata.kubernetes import api_client
    from controller.kubernetes import ensure_crds

    cluster.kubectl("-n", "default", "create", "serviceaccount", "nobody", check=False)
    secret = cluster.token_secret("default", "nobody")
    token = base64.b64decode(
        cluster.kubectl(
            "-n", "default", "get", "secret", secret, "-o", "jsonpath={.data.token}"
        ).stdout  # fmt: skip
    ).decode()
    kc = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    kc["users"] = [{"name": "admin", "user": {"token": token}}]
    path = tmp_path / "nobody.kubeconfig"
    path.write_text(yaml.safe_dump(kc))
    try:
        with caplog.at_level(logging.WARNING, logger="tetragon.controller.k8s"):
            assert ensure_crds(api_client(str(path))) is False
        text = caplog.text
        assert "customresourcedefinitions" in text and "403" in text
        assert "kubectl apply -k install/kubernetes" in text or "manifests" in text
    finally:
        cluster.kubectl("-n", "default", "delete", "serviceaccount", "nobody", check=False)
