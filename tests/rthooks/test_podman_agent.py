"""podman 4.3 runs the hooks.d file that `tetragon-oci-hook-setup install --interface=oci-hooks`
wrote, against the real agent (real BPF): the container's processes are exec events that
carry the container the hook announced.

podman writes no name or image annotation into config.json (only `io.container.manager`,
`io.podman.annotations.*` and a few `io.kubernetes.cri-o.*` keys), so the hook sends the
container id from the OCI state; the name given here with `--annotation` under CRI-O's key
(`io.kubernetes.container.name`, as CRI-O itself sets it) travels the same path. The image
is Docker's local `debian:bookworm-slim`, loaded into a podman store private to the test,
which is removed afterwards with its containers.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import RunningAgent
from tests.rthooks.conftest import log_lines

pytestmark = [pytest.mark.rthooks]
PODMAN = shutil.which("podman") or ""
DOCKER = shutil.which("docker") or ""
IMAGE = "debian:bookworm-slim"
SETUP = os.path.join(os.path.dirname(sys.executable), "tetragon-oci-hook-setup")


def missing() -> str:
    """Why the test cannot run here ('' when it can)."""
    if os.geteuid() != 0:
        return "podman with a hooks dir and the agent's BPF programs need root"
    if not PODMAN:
        return "podman is not installed (Debian package podman)"
    if not DOCKER:
        return f"docker is not installed: the {IMAGE} image is taken from the Docker engine"
    r = subprocess.run([DOCKER, "image", "inspect", IMAGE], capture_output=True)
    if r.returncode != 0:
        return f"the Docker engine has no local {IMAGE} image (docker pull {IMAGE})"
    return ""


class Podman:
    """podman with its own store under a directory, and this VM's settings: a hard nofile
    limit below podman's default, no systemd cgroup manager and no journald."""

    def __init__(self, d: Path):
        self.d = d
        self.base = [PODMAN, "--root", str(d / "root"), "--runroot", str(d / "run"),
                     "--tmpdir", str(d / "tmp"), "--storage-driver", "vfs",
                     "--cgroup-manager", "cgroupfs", "--events-backend", "file"]  # fmt: skip

    def __call__(self, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=timeout, **kw
        )

    def load_from_docker(self) -> str:
        save = subprocess.Popen([DOCKER, "save", IMAGE], stdout=subprocess.PIPE)
        r = self("load", stdin=save.stdout)
        save.wait()
        assert r.returncode == 0, f"podman load of docker save {IMAGE}: {r.stderr}"
        return f"localhost/{IMAGE}"

    def clean(self) -> None:
        self("rm", "-a", "-f", timeout=60)
        self("system", "reset", "-f", timeout=60)
        shutil.rmtree(self.d, ignore_errors=True)


@pytest.mark.skipif(bool(missing()), reason=missing() or "ok")
def test_podman_container_processes_carry_the_container_the_hook_announced(tmp_path_factory):
    work = tmp_path_factory.mktemp("podman")
    podman = Podman(work / "store")
    agent = RunningAgent(tmp_path_factory.mktemp("agent"))
    name = f"rthooks-{secrets.token_hex(4)}"
    marker = f"mark-{secrets.token_hex(4)}"
    try:
        image = podman.load_from_docker()
        inst, hooks = work / "opt-tetragon", work / "hooks.d"
        r = subprocess.run([SETUP, "install", "--interface=oci-hooks",
                            f"--local-install-dir={inst}", f"--hooks-dir={hooks}",
                            f"--grpc-address={agent.address}", "--grpc-timeout=5s"],
                           capture_output=True, text=True)  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = podman("--hooks-dir", str(hooks), "run", "--name", name, "--network=none",
                   "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                   "--annotation", "io.kubernetes.container.name=web", image,
                   "/bin/sh", "-c", f"/bin/echo {marker}; /bin/echo {marker}-child")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert f"{marker}-child" in r.stdout
        cid = podman("inspect", "--format", "{{.Id}}", name).stdout.strip()
        assert len(cid) == 64, cid
        hook_log = log_lines(inst / "tetragon-oci-hook.log")
        assert hook_log[-1]["msg"] == "hook request to agent succeeded"
        assert hook_log[-1]["req-containerID"] == cid
        assert hook_log[-1]["req-cgroups"] == f"/libpod_parent/libpod-{cid}"

        def exec_of(args: str):
            def pred(e: dict) -> bool:
                p = e.get("process_exec", {}).get("process", {})
                return p.get("binary") == "/bin/echo" and p.get("arguments") == args

            return agent.wait_for(pred)

        for ev in (exec_of(marker), exec_of(f"{marker}-child")):
            proc = ev["process_exec"]["process"]
            container = proc["pod"]["container"]
            assert container["id"] == cid, json.dumps(proc)
            assert container["name"] == "web", json.dumps(proc)
            assert proc["docker"] == cid[:31]
    finally:
        agent.stop()
        podman.clean()
