"""Pods from the API's JSON, workloads, label selectors, the event cache, the filter's C."""

from __future__ import annotations

import os

import pytest

from appliance.metadata.base import ContainerInfo, MetadataSource
from appliance.metadata.cgroupfs import CgroupResolver, cgroup_id, pod_container_candidates
from appliance.metadata.eventcache import EventCache
from appliance.metadata.pods import PodIndex, pod_from_api, workload_of
from appliance.policy.filter import FilterSpec, PolicyFilter, Selector, filter_spec, image_repo
from appliance.policy.manager import parse_policy

CID = "d77ece6b99c96b332bd79d56bd0bc6bc4e7a5c0dcd9693e3bdb68bc18098349d"
UID = "def4230b-4bc1-4ffc-b015-02912950fa50"


def api_pod(name="xwing", ns="default", labels=None, owners=None, cid=CID, uid=UID):
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": uid,
            "labels": labels if labels is not None else {"app": name},
            "ownerReferences": owners or [],
        },
        "status": {
            "qosClass": "BestEffort",
            "containerStatuses": [
                {
                    "name": "spaceship",
                    "containerID": f"containerd://{cid}" if cid else "",
                    "image": "docker.io/tgraf/netperf:latest",
                    "imageID": "docker.io/tgraf/netperf@sha256:8e86",
                    "state": {"running": {"startedAt": "2023-10-06T21:52:41Z"}},
                }
            ],
        },
    }


def test_pod_block_has_tetragons_fields_in_order():
    pod = pod_from_api(api_pod())
    info = pod.container_info(pod.containers[0])
    block = info.pod_block(49)
    assert list(block) == ["namespace", "name", "uid", "container", "pod_labels", "workload",
                           "workload_kind"]  # fmt: skip
    assert block["container"] == {
        "id": f"containerd://{CID}",
        "name": "spaceship",
        "image": {
            "id": "docker.io/tgraf/netperf@sha256:8e86",
            "name": "docker.io/tgraf/netperf:latest",
        },
        "start_time": "2023-10-06T21:52:41Z",
        "pid": 49,
    }  # fmt: skip
    assert block["pod_labels"] == {"app": "xwing"}
    assert (block["workload"], block["workload_kind"]) == ("xwing", "Pod")


@pytest.mark.parametrize(
    "owner,labels,want",
    [
        ({"kind": "ReplicaSet", "name": "web-5d7f8b9c6d", "controller": True},
         {"pod-template-hash": "5d7f8b9c6d"}, ("web", "Deployment")),
        ({"kind": "Job", "name": "backup-28311840", "controller": True}, {}, ("backup", "CronJob")),
        ({"kind": "Job", "name": "migrate", "controller": True}, {}, ("migrate", "Job")),
        ({"kind": "DaemonSet", "name": "tetragon", "controller": True}, {},
         ("tetragon", "DaemonSet")),
        ({"kind": "ReplicaSet", "name": "plain", "controller": True}, {}, ("plain", "ReplicaSet")),
    ],
)  # fmt: skip
def test_workload(owner, labels, want):
    assert workload_of("pod-x", labels, [owner]) == want


def test_index_prefix_lookup_and_deleted_pods_kept():
    idx = PodIndex(keep_deleted=1)
    pod = pod_from_api(api_pod())
    idx.upsert(pod)
    assert idx.find(CID[:31])[0] is pod
    assert idx.find(CID)[0] is pod
    assert idx.find("0" * 31) is None
    idx.delete(pod.uid)
    assert idx.pods() == []
    assert idx.find(CID[:31])[0] is pod  # late events still find it
    other = pod_from_api(api_pod("b", cid="e" * 64, uid="u2"))
    idx.upsert(other)
    idx.delete("u2")  # pushes the first one out of the deleted pods
    assert idx.find(CID[:31]) is None


def test_pod_without_labels_or_container_id():
    pod = pod_from_api(api_pod(labels={}, cid=""))
    idx = PodIndex()
    idx.upsert(pod)
    assert pod.labels == {}
    assert idx.find(CID[:31]) is None


def selector(**kw):
    from appliance.policy.model import LabelSelector

    return Selector.from_model(LabelSelector.model_validate(kw))


def test_label_selectors_as_kubernetes():
    pod = pod_from_api(api_pod(labels={"app": "web", "tier": "front"}))
    spec = FilterSpec("", selector(matchLabels={"app": "web"}))
    assert spec.matches_pod(pod)
    for expr, want in [
        ({"key": "tier", "operator": "In", "values": ["front", "x"]}, True),
        ({"key": "tier", "operator": "NotIn", "values": ["front"]}, False),
        ({"key": "missing", "operator": "NotIn", "values": ["a"]}, True),
        ({"key": "app", "operator": "Exists"}, True),
        ({"key": "app", "operator": "DoesNotExist"}, False),
        ({"key": "k8s:io.kubernetes.pod.namespace", "operator": "In", "values": ["default"]},
         True),
    ]:  # fmt: skip
        assert FilterSpec("", selector(matchExpressions=[expr])).matches_pod(pod) is want, expr
    assert not FilterSpec("test").matches_pod(pod)
    c = pod.containers[0]
    assert FilterSpec(containers=selector(matchLabels={"name": "spaceship"})).matches_container(c)
    assert FilterSpec(
        containers=selector(matchLabels={"repo": "docker.io/tgraf/netperf"})
    ).matches_container(c)
    assert image_repo("localhost:5000/a/b@sha256:1") == "localhost:5000/a/b"


def test_filter_spec_from_policies():
    with open(
        os.path.join(os.path.dirname(__file__), "..", "fixtures", "lseek-namespaced.yaml")
    ) as f:
        text = f.read()
    model = parse_policy(text.replace('name: "lseek-namespaced"', "name: x\n  namespace: test"))
    assert filter_spec(model) == FilterSpec("test")
    glob = parse_policy(text.replace("TracingPolicyNamespaced", "TracingPolicy"))
    assert filter_spec(glob) is None


class FakeMap:
    """Stands in for a BPF map only here, where the kernel is not the subject."""

    def __init__(self):
        self.keys: set[bytes] = set()

    def update(self, k, v):
        self.keys.add(k)

    def delete(self, k):
        self.keys.remove(k)


def test_policy_filter_follows_pods(tmp_path):
    root = tmp_path
    path = pod_container_candidates(str(root), UID, CID, "BestEffort")[0]
    os.makedirs(path)
    pods: list = []
    pf = PolicyFilter(lambda: pods, CgroupResolver(str(root)))
    pod = pod_from_api(api_pod())
    m = FakeMap()
    assert pf.add_policy(1, FilterSpec("default"), m) == 0
    pods.append(pod)
    pf.on_pod("ADDED", pod)
    assert pf.cgroups_of(1) == {cgroup_id(path): "default/xwing/spaceship"}
    assert len(m.keys) == 1
    pf.on_pod("DELETED", pod)
    assert pf.cgroups_of(1) == {} and not m.keys
    m2 = FakeMap()
    assert pf.add_policy(2, FilterSpec("other"), m2) == 0  # another namespace: nothing


class OneSource(MetadataSource):
    kind = "kubernetes"

    def __init__(self):
        self.known: dict[str, ContainerInfo] = {}

    def container(self, container_id, cgroup_id):
        return self.known.get(container_id)


def exec_event(pid: int, cid: str = CID[:31]) -> dict:
    proc = {"exec_id": f"e{pid}", "pid": pid, "binary": "/bin/true", "docker": cid}
    return {"process_exec": {"process": proc}, "node_name": "n", "time": "t"}


def test_event_cache_holds_in_order_and_completes_in_place():
    src = OneSource()
    out: list = []
    ec = EventCache(src, out.append, retries=3, delay_s=0.05, ns_pid=lambda pid: 7)
    ec.offer({"process_exec": {"process": {"pid": 1, "binary": "/sbin/init"}}})
    assert len(out) == 1  # a host process goes straight through
    e1, e2 = exec_event(10), exec_event(11)
    ec.offer(e1)
    ec.offer(e2)
    assert len(out) == 1 and len(ec) == 2
    pod = pod_from_api(api_pod())
    src.known[CID[:31]] = pod.container_info(pod.containers[0])
    ec.pod_changed()
    ec.tick()
    assert out[1:] == [e1, e2]
    p = e1["process_exec"]["process"]
    assert list(p) == ["exec_id", "pid", "binary", "pod", "docker"]
    assert p["pod"]["name"] == "xwing" and p["pod"]["container"]["pid"] == 7
    assert ec.completed == 2 and ec.sent_without_pod == 0


def test_event_cache_gives_up_after_its_retries():
    import time

    out: list = []
    ec = EventCache(OneSource(), out.append, retries=2, delay_s=0.05)
    ec.offer(exec_event(5))
    deadline = time.monotonic() + 2
    while not out and time.monotonic() < deadline:
        time.sleep(0.02)
        ec.tick()
    assert out and "pod" not in out[0]["process_exec"]["process"]
    assert ec.sent_without_pod == 1


def test_generated_filter_check_comes_first():
    from appliance.policy.emit import generate
    from appliance.policy.plan import AllFeatures, plan_policy

    with open(
        os.path.join(os.path.dirname(__file__), "..", "fixtures", "lseek-namespaced.yaml")
    ) as f:
        model = parse_policy(f.read())
    src = generate(plan_policy(model, AllFeatures()), policy_filter=True)
    assert "policy_filter SEC" in src
    body = src.split("int hook_0(", 1)[1].split("{", 1)[1]
    assert body.lstrip().startswith("u64 pf_cgroup = bpf_get_current_cgroup_id();")
    assert "policy_filter" not in generate(plan_policy(model, AllFeatures()))


def test_policy_yaml_for_a_namespaced_resource():
    import yaml

    from controller.kubernetes import policy_yaml

    obj = {
        "apiVersion": "cilium.io/v1alpha1",
        "kind": "TracingPolicyNamespaced",
        "metadata": {"name": "p", "namespace": "default", "uid": "1", "generation": 2},
        "spec": {"kprobes": [{"call": "x"}]},
    }
    doc = yaml.safe_load(policy_yaml(obj))
    assert doc["metadata"] == {"name": "p", "namespace": "default"}
    assert doc["spec"] == obj["spec"]
