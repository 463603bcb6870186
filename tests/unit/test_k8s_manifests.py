"""The Kubernetes manifests: one CRD definition, Tetragon's names and the settings we read."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
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
    files = {f for f in files if not f.startswith("rthooks/")}  # an overlay of its own
    assert set(k["resources"]) == files


# --- the rthooks overlay -----------------------------------------------------------------------
RTHOOKS = BASE / "rthooks"
KUBECTL = Path(os.environ.get("KUBE_TEST_CACHE", Path.home() / ".cache/k8s-test")) / "kubectl"


def rthooks_objects() -> dict[str, dict]:
    """The overlay's objects by kind, as `kubectl kustomize` builds them when kubectl is at
    hand (else as the kustomization lists them, with its namespace applied)."""
    kubectl = shutil.which("kubectl") or (str(KUBECTL) if KUBECTL.exists() else None)
    if kubectl:
        r = subprocess.run([kubectl, "kustomize", str(RTHOOKS)], capture_output=True, text=True)
        assert r.returncode == 0, f"kubectl kustomize {RTHOOKS}: {r.stderr}"
        docs = list(yaml.safe_load_all(r.stdout))
    else:
        k = yaml.safe_load((RTHOOKS / "kustomization.yaml").read_text())
        docs = [yaml.safe_load((RTHOOKS / f).read_text()) for f in k["resources"]]
        for d in docs:
            d["metadata"]["namespace"] = k["namespace"]
    return {d["kind"]: d for d in docs if d}


def test_rthooks_overlay_lists_its_manifests():
    k = yaml.safe_load((RTHOOKS / "kustomization.yaml").read_text())
    assert set(k["resources"]) == {p.name for p in RTHOOKS.glob("*.yaml")} - {"kustomization.yaml"}


def test_rthooks_daemonset_fields():
    objs = rthooks_objects()
    assert set(objs) == {"ConfigMap", "DaemonSet"}
    conf = objs["ConfigMap"]["data"]
    assert conf["interface"] == "oci-hooks" and conf["installDir"] == "/opt/tetragon"
    assert "kube-system" in conf["failAllowNamespaces"].split(",")
    ds = objs["DaemonSet"]
    assert ds["metadata"]["name"] == "tetragon-rthooks"
    assert ds["metadata"]["namespace"] == "kube-system"  # the agent's, as the base
    spec = ds["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["install-dir"]["hostPath"]["path"] == conf["installDir"]
    assert volumes["oci-hooks-dir"]["hostPath"]["path"] == "/usr/share/containers/oci/hooks.d"
    (init,) = spec["initContainers"]
    assert init["command"][:2] == ["tetragon-oci-hook-setup", "install"]
    assert "--fail-allow-namespaces=$(POD_NAMESPACE),$(FAIL_ALLOW_NAMESPACES)" in init["command"]
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert set(mounts) == {"install-dir", "oci-hooks-dir", "nri-bin-dir", "nri-conf-dir"}
    assert volumes["nri-bin-dir"]["hostPath"]["path"] == "/opt/nri/bin"  # containerd's fixed
    assert volumes["nri-conf-dir"]["hostPath"]["path"] == "/etc/nri"  # NRI v0.1 paths
    (logs,) = spec["containers"]
    assert logs["name"] == "export-logs"
    log_mount = {m["name"]: m["mountPath"] for m in logs["volumeMounts"]}["install-dir"]
    for interface, log in (("oci-hooks", "tetragon-oci-hook.log"),
                           ("nri-hook", "tetragon-nri-hook.log")):  # fmt: skip
        # the shell line, run with `tail` replaced by echo: which file it follows
        script = logs["command"][-1].replace("exec tail", "exec echo")
        r = subprocess.run(["sh", "-c", script], env={"INTERFACE": interface},
                           capture_output=True, text=True)  # fmt: skip
        assert r.stdout.split() == ["-n+1", "-F", f"{log_mount}/{log}"], r


def _expand(arg: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command and args."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), arg)


def test_rthooks_install_command_runs(tmp_path, interface="oci-hooks"):
    """The init container's command, with the env the kubelet gives it and the mounts mapped
    into a temporary node, installs a hook whose JSON file allows the agent's namespace."""
    objs = rthooks_objects()
    conf = {**objs["ConfigMap"]["data"], "interface": interface}
    (init,) = objs["DaemonSet"]["spec"]["template"]["spec"]["initContainers"]
    env = {"POD_NAMESPACE": "kube-system"}
    for e in init["env"]:
        ref = e["valueFrom"].get("configMapKeyRef")
        if ref:
            env[e["name"]] = conf[ref["key"]]
    mounts = {m["mountPath"]: tmp_path / m["name"] for m in init["volumeMounts"]}
    args = []
    for a in init["command"][1:]:
        a = _expand(a, env)
        for inside, outside in mounts.items():
            a = a.replace(f"={inside}", f"={outside}")
        args.append(a)
    assert "$(" not in " ".join(args), args
    setup = Path(sys.executable).parent / "tetragon-oci-hook-setup"
    r = subprocess.run([str(setup), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if interface == "nri-hook":
        return
    hooks_d = json.loads((tmp_path / "oci-hooks-dir" / "tetragon-oci-hook.json").read_text())
    assert hooks_d["hook"]["path"] == "/opt/tetragon/tetragon-oci-hook"  # the node's path
    assert hooks_d["stages"] == ["createRuntime"] and hooks_d["when"] == {"always": True}
    opts = json.loads((tmp_path / "install-dir" / "tetragon-oci-hook.json").read_text())
    assert "kube-system" in opts["fail-allow-namespaces"].split(",")
    assert opts["grpc-address"] == "unix:///var/run/tetragon/tetragon.sock"
    launcher = (tmp_path / "install-dir" / "tetragon-oci-hook").read_text()
    assert f"exec {conf['hostPython']} -I -S" in launcher and "'/opt/tetragon/lib'" in launcher


def test_rthooks_install_command_nri_hook(tmp_path):
    """interface nri-hook: the plugin in containerd's /opt/nri/bin (as the node sees it) and
    its entry, with the hook's options, in /etc/nri/conf.json."""
    test_rthooks_install_command_runs(tmp_path, "nri-hook")
    plugin = (tmp_path / "nri-bin-dir" / "tetragon-nri-hook").read_text()
    assert "'/opt/nri/bin/tetragon-nri-hook'" in plugin and "'/opt/tetragon/lib'" in plugin
    (entry,) = json.loads((tmp_path / "nri-conf-dir" / "conf.json").read_text())["plugins"]
    assert entry["type"] == "tetragon-nri-hook"
    assert "kube-system" in entry["conf"]["fail-allow-namespaces"].split(",")
    assert entry["conf"]["log-fname"] == "/opt/tetragon/tetragon-nri-hook.log"
