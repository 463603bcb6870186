"""The NRI v0.1 path on a real cluster: the cluster's containerd 1.6 (Debian's 1.6.20) runs
`/opt/nri/bin/tetragon-nri-hook invoke` for every container start, because
`/etc/nri/conf.json` lists it. containerd 1.6 needs no configuration for this: its CRI
plugin reads that fixed path at every StartContainer/RunPodSandbox (after the task is
created, before it is started) and appends /opt/nri/bin to its PATH once.

The two paths are fixed host paths, so the fixture backs up whatever is there, installs with
`tetragon-oci-hook-setup install --interface=nri-hook`, and always uninstalls and restores.
The cluster's OCI hook stays in containerd's base spec but idle (`disable-grpc`: it never
calls the agent), so the plugin alone puts each new container under the policy.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.test_identity import FIXTURES, apply_policy, node, wait_policy_loaded  # noqa: F401
from tests.k8s.test_runtime_hooks import RUNS, first_action_lseek, sleeper, start_outcome

pytestmark = pytest.mark.k8s
NRI_CONF = Path("/etc/nri/conf.json")
NRI_BIN = Path("/opt/nri/bin")
PLUGIN = NRI_BIN / "tetragon-nri-hook"
SETUP = Path(sys.executable).parent / "tetragon-oci-hook-setup"


class NriInstall:
    """The installed plugin: its log, and its options (rewritten through setup install)."""

    def __init__(self, work: Path):
        self.work = work
        self.log = work / "tetragon-nri-hook.log"

    def install(self, **options: str) -> None:
        args = [f"--{k}={v}" for k, v in options.items()]
        r = subprocess.run([str(SETUP), "install", "--interface=nri-hook",
                            f"--local-install-dir={self.work}", f"--log-fname={self.log}", *args],
                           capture_output=True, text=True)  # fmt: skip
        assert r.returncode == 0, r.stderr

    def lines(self, since: int = 0) -> list[dict]:
        if not self.log.exists():
            return []
        text = self.log.read_text()[since:]
        return [json.loads(ln) for ln in text.splitlines() if ln.strip()]

    def size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0


@contextlib.contextmanager
def host_nri_paths(backup: Path) -> Iterator[None]:
    """Whatever is in the host's fixed NRI paths is put back afterwards, and what was made
    meanwhile (the plugin, its conf.json entry, the directories) is removed, also on failure."""
    backup.mkdir(exist_ok=True)
    saved = {p: backup / p.name for p in (NRI_CONF, PLUGIN) if p.exists()}
    for p, b in saved.items():
        shutil.copy2(p, b)
    made = [d for d in (NRI_CONF.parent, NRI_BIN.parent, NRI_BIN) if not d.exists()]
    try:
        yield
    finally:
        subprocess.run([str(SETUP), "uninstall", "--interface=nri-hook"], capture_output=True)
        for p, b in saved.items():
            shutil.copy2(b, p)
        for d in reversed(made):
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def nri(cluster, tmp_path) -> Iterator[NriInstall]:
    """The plugin installed into the host's fixed NRI paths (see host_nri_paths)."""
    if cluster.hook_dir is None:
        pytest.skip("NRI is wired only into a cluster these tests started (host paths)")
    cluster.hook_config(**{"disable-grpc": True})
    with host_nri_paths(tmp_path / "nri-backup"):
        yield NriInstall(tmp_path)


def test_containerd_runs_the_nri_plugin_and_new_pods_are_enforced(cluster, node, nri):  # noqa: F811
    agent, _ = node
    nri.install(**{"grpc-address": agent.address, "grpc-timeout": "5s"})
    assert json.loads(NRI_CONF.read_text())["plugins"][-1]["type"] == "tetragon-nri-hook"
    text = (
        (FIXTURES / "lseek-namespaced.yaml")
        .read_text()
        .replace('name: "lseek-namespaced"', 'name: "lseek-nri"')
    )
    apply_policy(cluster, text)
    oci_log = cluster.hook_dir / "tetragon-oci-hook.log"
    oci_mark = oci_log.stat().st_size if oci_log.exists() else 0
    try:
        wait_policy_loaded(agent, "lseek-nri")
        tag = uuid.uuid4().hex[:4]
        names = [f"nri-{tag}-{i}" for i in range(RUNS)]
        codes = [first_action_lseek(cluster, n) for n in names]
        print(f"\nvia NRI {codes.count(137)} of {RUNS} killed")
        assert codes == [137] * RUNS, codes
    finally:
        cluster.kubectl("-n", "default", "delete", "tgtpn", "lseek-nri", "--ignore-not-found",
                        check=False)  # fmt: skip
    ok = [ln for ln in nri.lines() if ln["msg"] == "hook request to agent succeeded"]
    assert {ln["req-podName"] for ln in ok} >= set(names), ok[-3:]
    first = next(ln for ln in ok if ln["req-podName"] == names[0])
    assert first["hook"] == "nri-create" and first["req-containerName"] == "c"
    assert first["req-cgroups"].startswith("/kubepods/") and first["req-podNamespace"] == "default"
    # the OCI hook ran for these containers too, but never called the agent
    oci = [json.loads(ln) for ln in oci_log.read_text()[oci_mark:].splitlines() if ln.strip()]
    mine = [ln for ln in oci if ln.get("req-podName") in names]
    assert mine and all(ln["msg"] == "gRPC was disabled, so will not be contacting the agent"
                        for ln in mine), mine[:3]  # fmt: skip


def test_nri_agent_down_kube_system_starts_default_fails(cluster, nri, tmp_path):
    nri.install(**{"grpc-address": f"unix://{tmp_path}/no-agent.sock", "grpc-timeout": "2s"})
    tag = uuid.uuid4().hex[:4]
    pods = [("kube-system", f"nks-{tag}"), ("default", f"ndf-{tag}")]
    mark = nri.size()
    try:
        for ns, name in pods:
            cluster.apply(sleeper(name, ns))
        assert start_outcome(cluster, *pods[0]) == ("running", "")
        outcome, why = start_outcome(cluster, *pods[1])
        assert outcome == "failed"
        # containerd's own words around the plugin's Result.error
        assert "nri invoke" in why and "tetragon-nri-hook.log" in why, why
    finally:
        for ns, name in pods:
            cluster.kubectl("-n", ns, "delete", "pod", name, "--wait=false", check=False)
    by = {(ln.get("req-podNamespace"), ln["msg"]) for ln in nri.lines(mark)}
    assert ("kube-system", "failCheck determined that we should not fail this container, "
            "even if there was an error") in by  # fmt: skip
    assert ("default", "failing container") in by
