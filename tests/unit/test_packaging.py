"""The image, the supervisor and systemd configuration and the README agree with the code."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def test_readme_shows_the_commands_the_docker_tests_run():
    from tests.docker import test_image as t

    text = _section("Run in Docker")
    for cmd in (t.BUILD, t.RUN, t.STATUS, t.GETEVENTS, t.PROBE, t.STOP):
        assert cmd in text, f"README 'Run in Docker' lacks: {cmd}"
    assert "cp lseek-sigkill.yaml policies/" in text
    assert "echo /var/log/tetragon/other.log > conf.d/export-filename" in text


def test_readme_shows_the_install_commands_the_tests_run():
    text = _section("Run as a Linux service")
    for cmd in (
        "sudo ./install.sh",
        "sudo ./uninstall.sh",
        "./install.sh --prefix /tmp/tetragon-root",
        "/tmp/tetragon-root/usr/local/bin/tetra version --client",
        "./uninstall.sh --prefix /tmp/tetragon-root --purge",
    ):
        assert cmd in text, f"README 'Run as a Linux service' lacks: {cmd}"


def _stage(dockerfile: str, first: str, until: str) -> list[str]:
    """The instructions from the line starting with ``first`` up to ``until``."""
    text = re.sub(r"\\\n", " ", (ROOT / "images" / dockerfile).read_text())
    lines = [" ".join(ln.split()) for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    i = next(n for n, ln in enumerate(lines) if ln.startswith(first))
    j = next(n for n, ln in enumerate(lines) if n > i and ln.startswith(until))
    return lines[i : j + 1]


def test_the_image_builds_bpf_as_the_toolchain_image_does():
    # identical instructions: building one reuses the other's cached layers
    clang = _stage("Dockerfile.clang", "RUN apt-get", "RUN make")
    image = _stage("Dockerfile", "RUN apt-get", "RUN make")
    assert clang == image
    assert any("bpftool" in ln and "libbpf-dev" in ln for ln in clang)


def test_supervisord_runs_the_declared_commands():
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(ROOT / "images" / "supervisord.conf")
    programs = {s.split(":", 1)[1]: conf[s] for s in conf.sections() if s.startswith("program:")}
    assert set(programs) == {"tetragon", "tetragon-controller"}
    for name, prog in programs.items():
        # through the entrypoint, which adds the flags given after the image name
        assert prog["command"].split() == [
            "/usr/local/lib/tetragon/entrypoint.sh",
            "--supervised",
            f"/usr/local/bin/{name}",
        ]
        assert name in SCRIPTS
        assert prog["autorestart"] == "true"
        assert prog["stdout_logfile"] == "/dev/stdout" and prog["stderr_logfile"] == "/dev/stderr"


def test_the_image_installs_what_the_agent_looks_for(tmp_path, monkeypatch):
    from appliance.bpf import paths
    from appliance.settings import PACKAGE_DROPIN_DIRS

    text = (ROOT / "images" / "Dockerfile").read_text()
    copies = dict(re.findall(r"^COPY (?:--from=\S+ )?(\S+) (\S+)$", text, re.M))
    # Install the image's BPF objects and headers under a scratch root, hide the checkout:
    # the agent's own search must find them there.
    root = tmp_path / "root"
    for src, marker in (("/src/bpf/objs/", "process.bpf.o"), ("bpf/include/", "policy.h")):
        dest = root / copies[src].lstrip("/")
        dest.mkdir(parents=True)
        (dest / marker).write_bytes(b"")
    monkeypatch.setattr(paths, "INSTALLED_BPF", tuple(f"{root}{d}" for d in paths.INSTALLED_BPF))
    monkeypatch.setattr(paths, "CHECKOUT_BPF", tmp_path / "no-checkout")
    monkeypatch.delenv("TETRAGON_BPF_LIB", raising=False)
    monkeypatch.delenv("TETRAGON_BPF_INCLUDE", raising=False)
    assert paths.bpf_lib() == str(root / copies["/src/bpf/objs/"].lstrip("/")).rstrip("/")
    assert paths.include_dir() == str(root / copies["bpf/include/"].lstrip("/")).rstrip("/")
    assert "/usr/local/lib/tetragon/tetragon.conf.d" in PACKAGE_DROPIN_DIRS
    assert "COPY config/tetragon.conf.d/ /usr/local/lib/tetragon/tetragon.conf.d/" in text
    for cmd in SCRIPTS:
        if cmd not in ("tetragon-oci-hook", "tetragon-nri-hook"):
            assert cmd in text
    assert re.search(r'HEALTHCHECK .*"tetra".*"status"', text.replace("\\\n", " "))


def test_systemd_units_run_the_declared_commands():
    for name in ("tetragon", "tetragon-controller"):
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str
        unit.read(ROOT / "packaging" / "systemd" / f"{name}.service")
        exec_start = unit["Service"]["ExecStart"]
        assert exec_start.split()[0] == f"/usr/local/bin/{name}"
        assert name in SCRIPTS
        assert unit["Service"]["Restart"] == "always"
        assert unit["Install"]["WantedBy"] == "multi-user.target"
