"""Runtime hooks on a real cluster: containerd runs `tetragon-oci-hook createRuntime` for
every container (installed by `tetragon-oci-hook-setup`), and the agent puts the container's
cgroup into the namespaced policy's filter before the container's first instruction.

A new pod whose very first action is `lseek(-1)` is killed every time with the hook; with
the hook idle (`disable-grpc`), the agent learns of the container only from the API server,
after the process has run, and the test reports how many slipped through.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.k8s.test_identity import FIXTURES, apply_policy, node, wait_policy_loaded  # noqa: F401

pytestmark = pytest.mark.k8s
RUNS = 20


def first_action_lseek(cluster, name: str) -> int:
    """Exit code of a new pod whose only process calls lseek(-1) and nothing else first."""
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "local/python:3",
                                 "imagePullPolicy": "Never",
                                 "command": ["python3", "-c", "import os; os.lseek(-1, 0, 0)"]}]},
    }  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = cluster.kubectl("get", "pod", name, "-o", "json", check=False).stdout
        st = json.loads(out or "{}").get("status", {})
        if st.get("phase") in ("Succeeded", "Failed"):
            cluster.kubectl("delete", "pod", name, "--wait=false", check=False)
            return st["containerStatuses"][0]["state"]["terminated"]["exitCode"]
        time.sleep(0.2)
    raise AssertionError(f"pod {name} did not finish")


def test_new_pods_are_enforced_from_their_first_instruction(cluster, node):  # noqa: F811
    if cluster.hook_dir is None:
        pytest.skip("the hook is wired only into a cluster these tests started")
    agent, _ = node
    text = (
        (FIXTURES / "lseek-namespaced.yaml")
        .read_text()
        .replace('name: "lseek-namespaced"', 'name: "lseek-first"')
    )
    apply_policy(cluster, text)
    try:
        wait_policy_loaded(agent, "lseek-first")
        tag = uuid.uuid4().hex[:4]
        cluster.hook_config(**{"grpc-address": agent.address, "grpc-timeout": "5s"})
        hooked = [first_action_lseek(cluster, f"h-{tag}-{i}") for i in range(RUNS)]
        cluster.hook_config(**{"disable-grpc": True})
        idle = [first_action_lseek(cluster, f"n-{tag}-{i}") for i in range(RUNS)]
        print(f"\nwith the hook {hooked.count(137)} of {RUNS} killed; without it "
              f"{RUNS - idle.count(137)} of {RUNS} slipped through")  # fmt: skip
        assert hooked == [137] * RUNS, hooked
        log = (cluster.hook_dir / "tetragon-oci-hook.log").read_text()
        assert '"msg":"hook request to agent succeeded","hook":"createRuntime"' in log
        assert '"req-containerName":"c"' in log and '"req-cgroups":"/kubepods/' in log
    finally:
        cluster.hook_config(**{"disable-grpc": True})
        cluster.kubectl("-n", "default", "delete", "tgtpn", "lseek-first", "--ignore-not-found",
                        check=False)  # fmt: skip


# --- the agent down: the fail check decides per namespace ------------------------------------
def sleeper(name: str, ns: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                 "automountServiceAccountToken": False,
                 "containers": [{"name": "c", "image": "local/python:3",
                                 "imagePullPolicy": "Never", "command": ["sleep", "600"]}]},
    }  # fmt: skip


def start_outcome(cluster, ns: str, name: str, timeout: float = 60) -> tuple[str, str]:
    """('running', '') once the container runs, or ('failed', why) when the runtime refused
    to start it (kubelet's StartError / RunContainerError message)."""
    deadline = time.monotonic() + timeout
    st: dict = {}
    while time.monotonic() < deadline:
        out = cluster.kubectl("-n", ns, "get", "pod", name, "-o", "json", check=False).stdout
        pod_status = json.loads(out or "{}").get("status", {})
        for st in pod_status.get("containerStatuses") or []:
            state = st.get("state", {})
            if "running" in state:
                return "running", ""
            bad = state.get("terminated") or state.get("waiting") or {}
            if "failing container" in bad.get("message", ""):
                return "failed", bad["message"]
        time.sleep(0.3)
    raise AssertionError(f"pod {ns}/{name} neither ran nor failed to start: {st}")


def wait_default_sa(cluster, ns: str, timeout: float = 30) -> None:
    """Pods are admitted only once the namespace's default service account exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.kubectl("-n", ns, "get", "sa", "default", check=False).returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"no default service account in {ns}")


@pytest.fixture
def agent_down(cluster, tmp_path):
    """The hook turned on against an agent socket nobody listens on; namespaces made here
    are deleted afterwards and the hook turned idle again, also when the test fails."""
    if cluster.hook_dir is None:
        pytest.skip("the hook is wired only into a cluster these tests started")
    made: list[str] = []
    pods: list[tuple[str, str]] = []
    base = {"grpc-address": f"unix://{tmp_path}/no-agent.sock", "grpc-timeout": "2s"}

    def configure(**options) -> None:
        cluster.hook_config(**base, **options)

    def namespace(name: str) -> str:
        cluster.kubectl("create", "namespace", name)
        made.append(name)
        wait_default_sa(cluster, name)
        return name

    def pod(ns: str, name: str) -> tuple[str, str]:
        cluster.apply(sleeper(name, ns))
        pods.append((ns, name))
        return start_outcome(cluster, ns, name)

    try:
        yield configure, namespace, pod
    finally:
        cluster.hook_config(**{"disable-grpc": True})
        for ns, name in pods:
            cluster.kubectl("-n", ns, "delete", "pod", name, "--wait=false", check=False)
        for ns in made:
            cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def hook_log_lines(cluster, since: int) -> list[dict]:
    text = (cluster.hook_dir / "tetragon-oci-hook.log").read_text()[since:]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def log_size(cluster) -> int:
    p = cluster.hook_dir / "tetragon-oci-hook.log"
    return p.stat().st_size if p.exists() else 0


def test_agent_down_kube_system_starts_default_fails(cluster, agent_down):
    configure, _, pod = agent_down
    configure()
    tag = uuid.uuid4().hex[:4]
    mark = log_size(cluster)
    assert pod("kube-system", f"ks-{tag}") == ("running", "")
    outcome, why = pod("default", f"df-{tag}")
    assert outcome == "failed"
    assert "failing container" in why and "tetragon-oci-hook.log" in why, why
    lines = hook_log_lines(cluster, mark)
    by_pod = {(ln.get("req-podNamespace"), ln["msg"]) for ln in lines}
    assert ("kube-system", "hook request to the agent failed") in by_pod
    assert ("kube-system", "failCheck determined that we should not fail this container, "
            "even if there was an error") in by_pod  # fmt: skip
    assert ("default", "failing container") in by_pod
    events = cluster.kubectl("-n", "default", "get", "events", "--field-selector",
                             f"involvedObject.name=df-{tag}", "-o", "json").stdout  # fmt: skip
    assert "failing container" in events


def test_agent_down_fail_allow_namespaces(cluster, agent_down):
    configure, namespace, pod = agent_down
    tag = uuid.uuid4().hex[:4]
    allowed, other = namespace(f"allow-{tag}"), namespace(f"other-{tag}")
    configure(**{"fail-allow-namespaces": f"kube-system,{allowed}"})
    assert pod(allowed, "a") == ("running", "")
    assert pod(other, "b")[0] == "failed"


def test_agent_down_fail_allow_namespaces_regex(cluster, agent_down):
    configure, namespace, pod = agent_down
    tag = uuid.uuid4().hex[:4]
    matched, other = namespace(f"rx-{tag}-ok"), namespace(f"norx-{tag}")
    configure(**{"fail-allow-namespaces-regex": r"rx-[0-9a-f]+-ok"})
    assert pod(matched, "a") == ("running", "")
    assert pod(other, "b")[0] == "failed"
    assert pod("kube-system", f"ks-{tag}") == ("running", "")
