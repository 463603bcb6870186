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
