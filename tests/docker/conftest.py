"""The Docker tests: build the appliance image and run it as the README shows.

They need a Docker engine that can run privileged containers; without one they are skipped,
saying why. ``make docker-test`` runs them.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "docker: builds and runs the appliance image")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/docker/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.docker)


def docker_problem() -> str:
    """Why the Docker tests cannot run here ("" when they can)."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        r = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return "the Docker engine does not answer (docker info timed out)"
    if r.returncode != 0 or not r.stdout.strip():
        why = (r.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker engine answers: {why}"
    return ""


@pytest.fixture(scope="session", autouse=True)
def _need_docker():
    problem = docker_problem()
    if problem:
        pytest.skip(f"Docker tests skipped: {problem}", allow_module_level=True)
