"""The docker source against the real Docker engine, through the standard-library client."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

from appliance.metadata.docker import DEFAULT_URL, DockerSource, ping
from appliance.metadata.engine_api import EngineClient, NotFound

IMAGE = "tetragon-appliance:latest"  # any local image with /usr/bin/sleep


def _engine_or_skip() -> None:
    ok, why = ping(DEFAULT_URL)
    if not ok:
        pytest.skip(f"no Docker engine at {DEFAULT_URL}: {why}")
    if not shutil.which("docker"):
        pytest.skip("the docker command is missing")
    r = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"image {IMAGE} is not present (make image builds it)")


def _wait(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_engine_client_reports_a_missing_container_as_not_found():
    _engine_or_skip()
    c = EngineClient(DEFAULT_URL)
    assert c.ping() and c.api_version
    with pytest.raises(NotFound) as e:
        c.inspect_container("no-such-container-" + uuid.uuid4().hex[:8])
    assert e.value.status_code == 404
    assert isinstance(c.containers(), list)


def test_docker_source_follows_a_container_started_after_it():
    _engine_or_skip()
    name = "mem-engine-test-" + uuid.uuid4().hex[:8]
    src = DockerSource(DEFAULT_URL, retry_s=0.2)
    src.start(wait_s=5)
    cid = ""
    try:
        assert src.connected and src.synced.is_set()
        cid = subprocess.run(
            ["docker", "run", "-d", "--rm", "--name", name, "--entrypoint", "sleep", IMAGE, "30"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # the create and start events fill the cache without a lookup
        assert _wait(lambda: (i := src._by_id.get(cid[:31])) is not None and i.has_started())
        info = src.container(cid, 0)
        assert info.name == name and info.image_name == IMAGE and info.runtime == "docker"
    finally:
        if cid:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        t0 = time.monotonic()
        src.close()  # the event stream is closed from this thread: no wait for an event
        assert time.monotonic() - t0 < 3
    assert not any(t.is_alive() for t in src._threads)
    assert os.path.exists("/var/run/docker.sock")
