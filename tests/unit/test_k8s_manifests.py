"""The Kubernetes manifests: one CRD definition, Tetragon's names and the settings we read."""

from __future__ import annotations

from pathlib import Path

import yaml

from appliance.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "install" / "kubernetes"


def test_the_manifests_carry_the_controllers_crds_unchanged():
    ours = sorted((ROOT / "appliance" / "k8s" / "crds").glob("*.yaml"))
    assert [p.name for p in ours] == sorted(p.name for p in (BASE / "crds").glob("*.yaml"))
    for p in ours:
        assert (BASE / "crds" / p.name).read_text() == p.read_text(), p.name


def test_crd_names_are_tetragons():
    names = {}
    for p in (BASE / "crds").glob("*.yaml"):
        doc = yaml.safe_load(p.read_text())
        n = doc["spec"]["names"]
        names[n["kind"]] = (n["plural"], n["shortNames"], n["categories"], doc["spec"]["scope"])
        assert doc["spec"]["group"] == "cilium.io"
        assert [v["name"] for v in doc["spec"]["versions"]] == ["v1alpha1"]
    assert names == {
        "TracingPolicy": ("tracingpolicies", ["tgtp"], ["tetragon"], "Cluster"),
        "TracingPolicyNamespaced": ("tracingpoliciesnamespaced", ["tgtpn"], ["tetragon"],
                                    "Namespaced"),
    }  # fmt: skip


def test_configmap_keys_are_settings_the_agent_takes():
    cm = yaml.safe_load((BASE / "configmap.yaml").read_text())
    fields = {name.replace("_", "-") for name in Settings.model_fields}
    unknown = set(cm["data"]) - fields
    assert not unknown
    assert cm["data"]["enable-policy-filter"] == "true"
    assert cm["data"]["server-address"] == "unix:///var/run/tetragon/tetragon.sock"


def test_kustomization_lists_every_manifest():
    k = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    files = {str(p.relative_to(BASE)) for p in BASE.rglob("*.yaml")} - {"kustomization.yaml"}
    assert set(k["resources"]) == files
