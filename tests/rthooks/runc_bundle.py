"""A runc bundle with a static busybox root file system, optionally with the OCI hook."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

BUSYBOX = shutil.which("busybox") or ""
RUNC = shutil.which("runc") or ""


def missing() -> str:
    """Why runc containers cannot run here ('' when they can)."""
    if os.geteuid() != 0:
        return "runc containers need root"
    if not RUNC:
        return "runc is not installed"
    if (
        not BUSYBOX
        or b"statically linked" not in subprocess.run(["file", BUSYBOX], capture_output=True).stdout
    ):
        return "a static busybox is needed for the container's root file system"
    return ""


def make(
    path: str,
    name: str,
    hook_args: list[str] | None,
    annotations: dict,
    args: list[str] | None = None,
) -> str:
    """Bundle at ``path`` running ``busybox true``; ``hook_args`` is the createRuntime hook."""
    rootfs = os.path.join(path, "rootfs", "bin")
    os.makedirs(rootfs, exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(rootfs, "busybox"))
    cfg = os.path.join(path, "config.json")
    if os.path.exists(cfg):
        os.unlink(cfg)
    subprocess.run([RUNC, "spec"], cwd=path, capture_output=True, check=True)
    with open(cfg) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args or ["/bin/busybox", "true"]
    spec["root"]["readonly"] = True
    spec["annotations"] = annotations
    spec["linux"]["cgroupsPath"] = f"/rthooks-test/{name}"
    if hook_args:
        spec["hooks"] = {"createRuntime": [{"path": hook_args[0], "args": hook_args}]}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(spec, f)
    return path


def run(bundle: str, name: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """``runc run`` the bundle to completion; the container is deleted whatever happens."""
    try:
        return subprocess.run(
            [RUNC, "run", "--bundle", bundle, name],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    finally:
        subprocess.run([RUNC, "delete", "-f", name], capture_output=True)
        remove_parent_cgroups()


def remove_parent_cgroups() -> None:
    """runc leaves the (empty) /rthooks-test parent in each hierarchy; remove it."""
    for root in os.listdir("/sys/fs/cgroup"):
        d = os.path.join("/sys/fs/cgroup", root, "rthooks-test")
        if os.path.isdir(d):
            try:
                os.rmdir(d)
            except OSError:
                pass
