"""Environment detection: Kubernetes, Docker or plain Linux, and the override."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.environment import detect


@pytest.fixture
def fs(tmp_path: Path):
    token = tmp_path / "sa" / "token"
    cgroups = tmp_path / "cgroup"
    cgroups.mkdir()
    self_cgroup = tmp_path / "self-cgroup"
    self_cgroup.write_text("0::/user.slice/session-1.scope\n")
    return token, cgroups, self_cgroup


def run(fs, environ=None, setting="auto", source="", answers=False):
    token, cgroups, self_cgroup = fs
    calls = []

    def ping(url):
        calls.append(url)
        return (True, "engine API 1.41") if answers else (False, "connection refused")

    env = detect(
        setting,
        source,
        environ=environ or {},
        token_path=str(token),
        cgroup_root=str(cgroups),
        proc_self_cgroup=str(self_cgroup),
        ping=ping,
        candidates=["unix:///run/test-docker.sock"],
    )
    return env, calls


def test_plain_linux(fs):
    env, calls = run(fs)
    assert (env.kind, env.metadata_source) == ("linux", "cgroup")
    text = env.describe()
    assert "no KUBERNETES_SERVICE_HOST" in text
    assert "no service account token" in text
    assert "no Docker engine at unix:///run/test-docker.sock" in text
    assert calls == ["unix:///run/test-docker.sock"]


def test_docker_engine_answers(fs):
    env, _ = run(fs, answers=True)
    assert (env.kind, env.metadata_source) == ("docker", "docker")
    assert env.docker_url == "unix:///run/test-docker.sock"
    assert "Docker engine answers at unix:///run/test-docker.sock" in env.describe()


def test_docker_cgroups_without_an_engine(fs):
    _, cgroups, _ = fs
    (cgroups / "system.slice" / ("docker-" + "a" * 64 + ".scope")).mkdir(parents=True)
    env, _ = run(fs)
    assert (env.kind, env.metadata_source) == ("docker", "cgroup")
    assert "Docker container cgroups present" in env.describe()


def test_inside_a_container(fs):
    _, _, self_cgroup = fs
    self_cgroup.write_text("0::/system.slice/docker-" + "b" * 64 + ".scope\n")
    env, _ = run(fs)
    assert env.kind == "docker"
    assert "runs in a Docker container" in env.describe()


def test_kubernetes_needs_the_token_and_the_service_host(fs):
    token, _, _ = fs
    env, _ = run(fs, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert env.kind != "kubernetes"
    token.parent.mkdir()
    token.write_text("secret")
    env, _ = run(fs)
    assert env.kind != "kubernetes"
    env, _ = run(fs, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, answers=True)
    assert env.kind == "kubernetes"
    # the pods of this node come from the API server
    assert env.metadata_source == "kubernetes"
    assert "KUBERNETES_SERVICE_HOST=10.0.0.1" in env.describe()


def test_the_setting_overrides_the_detection(fs):
    env, _ = run(fs, setting="cgroup", source="/etc/tetragon/tetragon.conf.d/metadata-source",
                 answers=True)  # fmt: skip
    assert (env.kind, env.metadata_source) == ("docker", "cgroup")
    assert (
        "metadata-source=cgroup set by /etc/tetragon/tetragon.conf.d/metadata-source "
        "overrides the detected docker" in env.describe()
    )
