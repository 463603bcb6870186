"""The hook as tetragon-oci-hook-setup installs it, run by real runtimes.

runc gets the hook the way CRI-O/podman (from the hooks.d file) and containerd (from the base
runtime spec written by ``patch-containerd-conf add-oci-hook``) hand it over; podman runs the
installed hooks.d file itself with ``--hooks-dir``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.rthooks import runc_bundle
from tests.rthooks.conftest import log_lines

pytestmark = [pytest.mark.rthooks]

SETUP = os.path.join(os.path.dirname(sys.executable), "tetragon-oci-hook-setup")
NAME = "rthooks-setup-test"
PODMAN = shutil.which("podman") or ""


def install(tmp_path, sock: str) -> tuple[str, str]:
    """(installed hook, hooks dir) after ``install --interface=oci-hooks`` into tmp_path."""
    inst, hooks = tmp_path / "opt-tetragon", tmp_path / "hooks.d"
    subprocess.run(
        [
            SETUP,
            "install",
            "--interface=oci-hooks",
            f"--local-install-dir={inst}",
            f"--hooks-dir={hooks}",
            f"--grpc-address={sock}",
            "--grpc-timeout=5s",
        ],
        check=True,
        capture_output=True,
    )
    return str(inst / "tetragon-oci-hook"), str(hooks)


def hook_from_hooks_d(hooks_dir: str) -> dict:
    with open(os.path.join(hooks_dir, "tetragon-oci-hook.json")) as f:
        entry = json.load(f)
    assert entry["stages"] == ["createRuntime"] and entry["when"] == {"always": True}
    return entry["hook"]


def hook_from_base_spec(tmp_path, hook: str) -> dict:
    conf, spec = tmp_path / "config.toml", tmp_path / "base-spec.json"
    conf.write_text('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n')
    subprocess.run(
        [
            SETUP,
            "patch-containerd-conf",
            "add-oci-hook",
            f"--config-file={conf}",
            f"--output={tmp_path / 'new.toml'}",
            f"--runtime-spec={spec}",
            f"--hook-path={hook}",
        ],
        check=True,
        capture_output=True,
    )
    (entry,) = json.loads(spec.read_text())["hooks"]["createRuntime"]
    return entry


@pytest.mark.skipif(bool(runc_bundle.missing()), reason=runc_bundle.missing() or "ok")
@pytest.mark.parametrize("source", ["hooks.d", "base-spec"])
def test_runc_runs_the_installed_hook(agent, tmp_path, source):
    sock, seen = agent
    hook, hooks_dir = install(tmp_path, sock)
    entry = (
        hook_from_hooks_d(hooks_dir)
        if source == "hooks.d"
        else (hook_from_base_spec(tmp_path, hook))
    )
    assert entry["path"] == hook
    bundle = runc_bundle.make(
        str(tmp_path / "bundle"),
        NAME,
        entry["args"],
        {"io.kubernetes.cri.container-name": "busy", "io.kubernetes.cri.image-name": "local/bb"},
    )
    r = runc_bundle.run(bundle, NAME)
    assert r.returncode == 0, r.stderr
    assert [s.container_name for s in seen] == ["busy"]
    assert seen[0].cgroup_id > 0, "the cgroup exists when createRuntime runs"
    logf = os.path.join(os.path.dirname(hook), "tetragon-oci-hook.log")
    assert log_lines(logf)[-1]["msg"] == "hook request to agent succeeded"


def podman_missing() -> str:
    if os.geteuid() != 0:
        return "podman with a hooks dir is run as root here"
    if not PODMAN:
        return "podman is not installed (Debian package podman)"
    return runc_bundle.missing()


@pytest.mark.skipif(bool(podman_missing()), reason=podman_missing() or "ok")
def test_podman_runs_the_hooks_d_file(agent, tmp_path):
    sock, seen = agent
    hook, hooks_dir = install(tmp_path, sock)
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(runc_bundle.BUSYBOX, rootfs / "bin" / "busybox")
    name = "rthooks-podman-test"
    try:
        r = subprocess.run(
            [
                PODMAN,
                "--hooks-dir",
                hooks_dir,
                # hard nofile/nproc limits below podman's defaults, no systemd cgroup
                # manager and no journald on this VM: settings that let podman run at all
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "run",
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
                "--rm",
                "--name",
                name,
                "--network=none",
                "--rootfs",
                str(rootfs),
                "/bin/busybox",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        subprocess.run([PODMAN, "rm", "-f", name], capture_output=True)
    assert r.returncode == 0, r.stderr
    assert len(seen) == 1 and seen[0].cgroup_id > 0
    logf = os.path.join(os.path.dirname(hook), "tetragon-oci-hook.log")
    assert log_lines(logf)[-1]["msg"] == "hook request to agent succeeded"
