"""The getting-started guide's Docker file-monitoring step, as written.

    docker run --name tetragon-container --rm --pull always \\
      --pid=host --cgroupns=host --privileged \\
      -v ${PWD}/file_monitoring.yaml:/etc/tetragon/tetragon.tp.d/file_monitoring.yaml \\
      -v /sys/kernel/btf/vmlinux:/var/lib/tetragon/btf <image>
    docker exec tetragon-container tetra getevents -o compact
    cat /etc/shadow

with this appliance's image (built locally, so no --pull) and the guide's policy file
(tests/fixtures/file_monitoring.yaml); the container has a name of its own.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from .test_image import IMAGE, docker, image, wait  # noqa: F401  (image: the fixture)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAT = shutil.which("cat") or "/usr/bin/cat"


@pytest.fixture
def container(image, tmp_path):  # noqa: F811
    name = f"tetragon-container-{uuid.uuid4().hex[:8]}"
    shutil.copy(FIXTURES / "file_monitoring.yaml", tmp_path / "file_monitoring.yaml")
    run = (
        f"docker run --name {name} --rm -d --pid=host --cgroupns=host --privileged "
        f"-v {tmp_path}/file_monitoring.yaml:/etc/tetragon/tetragon.tp.d/file_monitoring.yaml "
        f"-v /sys/kernel/btf/vmlinux:/var/lib/tetragon/btf {IMAGE}"
    )
    r = subprocess.run(run, shell=True, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    try:

        def loaded() -> bool:
            out = docker("exec", name, "tetra", "tracingpolicy", "list", check=False).stdout
            return "file-monitoring-filtered" in out and "enabled" in out

        wait(loaded, 240, "file_monitoring.yaml loaded from the bind mount", interval=1)
        yield name
    finally:
        docker("rm", "-f", name, check=False)


def test_cat_shadow_on_the_host_is_a_read_event(container):
    proc = subprocess.Popen(
        ["docker", "exec", container, "tetra", "getevents", "-o", "compact"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(ln.rstrip("\n") for ln in proc.stdout),
                     daemon=True).start()  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not any(ln.startswith("📚 read") and ln.endswith(f" {CAT} /etc/shadow")
                      for ln in lines):  # fmt: skip
            assert time.monotonic() < deadline, "\n".join(lines[-30:])
            subprocess.run([CAT, "/etc/shadow"], capture_output=True, check=True)
            time.sleep(1)
        listed = docker("exec", container, "tetra", "tracingpolicy", "list").stdout
        assert "security_mmap_file" in listed and "security_path_truncate" in listed
    finally:
        proc.terminate()
        proc.wait(10)
