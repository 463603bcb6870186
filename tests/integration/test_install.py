"""install.sh and uninstall.sh, into a throwaway root (--prefix): nothing touches the host."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from appliance import __version__

from .conftest import ROOT

COMMANDS = ("tetragon", "tetra", "tetragon-controller")


def run(*args, check=True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETRAGON_")}
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, env=env)
    if check:
        assert r.returncode == 0, f"{args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


def test_install_then_uninstall_into_a_prefix(tmp_path):
    prefix = tmp_path / "root"
    r = run(ROOT / "install.sh", "--prefix", prefix)
    assert r.stdout.rstrip().endswith("Tetragon installed successfully!"), r.stdout
    assert "copy" in r.stdout and "before enabling them" in r.stdout
    lib = prefix / "usr/local/lib/tetragon"
    bindir = prefix / "usr/local/bin"

    # the commands, linked into the venv, and the installed tetra runs
    for cmd in COMMANDS:
        link = bindir / cmd
        assert link.is_symlink() and os.readlink(link) == f"../lib/tetragon/venv/bin/{cmd}"
        assert link.resolve().is_file()
    r = run(bindir / "tetra", "version", "--client")
    assert r.stdout.strip() == f"CLI version: {__version__}"
    assert "usage: tetragon" in run(bindir / "tetragon", "--help").stdout
    # the venv holds a real install, not a link to the checkout
    r = run(
        lib / "venv/bin/python",
        "-I",
        "-c",
        "import appliance, controller; print(appliance.__file__)",
    )
    assert r.stdout.strip().startswith(str(lib / "venv"))

    # BPF objects and headers, default drop-ins identical to the shipped ones
    assert (lib / "bpf/process.bpf.o").is_file()
    assert (lib / "bpf/include/common.h").is_file()
    shipped = sorted(p.name for p in (ROOT / "config/tetragon.conf.d").iterdir())
    assert sorted(p.name for p in (lib / "tetragon.conf.d").iterdir()) == shipped
    for name in shipped:
        installed = (lib / "tetragon.conf.d" / name).read_text()
        assert installed == (ROOT / "config/tetragon.conf.d" / name).read_text()
    assert (prefix / "etc/tetragon/tetragon.conf.d").is_dir()
    assert (prefix / "etc/tetragon/tetragon.tp.d").is_dir()

    # the units where the docs remove them, naming the final paths (not the staging root)
    units = prefix / "usr/lib/systemd/system"
    agent_unit = (units / "tetragon.service").read_text()
    assert "ExecStart=/usr/local/bin/tetragon\n" in agent_unit
    assert "Description=Tetragon eBPF-based Security Observability" in agent_unit
    ctl_unit = (units / "tetragon-controller.service").read_text()
    assert "ExecStart=/usr/local/bin/tetragon-controller " in ctl_unit
    assert str(prefix) not in agent_unit + ctl_unit
    if shutil.which("systemd-analyze"):
        # unknown keys, bad values and commands that do not run are reported here: copies
        # pointing at the commands under the staging root
        check = tmp_path / "verify"
        check.mkdir()
        for unit in ("tetragon.service", "tetragon-controller.service"):
            text = (units / unit).read_text().replace("/usr/local/", f"{prefix}/usr/local/")
            (check / unit).write_text(text)
        r = run("systemd-analyze", "verify", check / "tetragon.service",
                check / "tetragon-controller.service", check=False)  # fmt: skip
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    # the packaged agent serves its API on the socket the docs name
    dropin = lib / "tetragon.conf.d/server-address"
    assert dropin.read_text().strip() == "unix:///var/run/tetragon/tetragon.sock"

    # an administrator's policy and someone else's command survive the uninstall
    policy = prefix / "etc/tetragon/tetragon.tp.d/mine.yaml"
    policy.write_text("kind: TracingPolicy\n")
    (bindir / "other").symlink_to("/bin/true")

    # installing again upgrades in place
    run(ROOT / "install.sh", "--prefix", prefix, "--no-systemd")
    assert run(bindir / "tetra", "version", "--client").returncode == 0
    assert policy.exists()

    r = run(ROOT / "uninstall.sh", "--prefix", prefix)
    assert not lib.exists()
    for cmd in COMMANDS:
        assert not (bindir / cmd).is_symlink()
    assert (bindir / "other").is_symlink()
    assert not (units / "tetragon.service").exists()
    assert not (units / "tetragon-controller.service").exists()
    assert policy.exists(), "uninstall without --purge keeps /etc/tetragon"
    assert "kept" in r.stdout

    run(ROOT / "uninstall.sh", "--prefix", prefix, "--purge")
    assert not (prefix / "etc/tetragon").exists()


def test_install_refuses_without_root_or_prefix(tmp_path):
    if os.geteuid() == 0:
        r = run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                ROOT / "install.sh", check=False)  # fmt: skip
    else:
        r = run(ROOT / "install.sh", check=False)
    assert r.returncode == 1
    assert "run as root" in r.stderr
    assert run(ROOT / "install.sh", "--bogus", check=False).returncode == 2
    assert "--prefix" in run(ROOT / "uninstall.sh", "--help").stdout


def test_scripts_are_posix_shell():
    for script in ("install.sh", "uninstall.sh", "images/build.sh", "images/entrypoint.sh",
                   "scripts/dist.sh"):  # fmt: skip
        path = Path(ROOT / script)
        assert path.read_text().startswith("#!/bin/sh\n")
        assert os.access(path, os.X_OK)
        run("sh", "-n", path)


def test_release_tarball_installs_as_the_docs_show(tmp_path):
    """make dist; tar -xvf tetragon-<version>-<arch>.tar.gz; cd ...; ./install.sh --prefix."""
    dist = tmp_path / "dist"
    r = subprocess.run(
        ["make", "-s", "dist", f"PY={ROOT / '.venv/bin/python'}"],
        cwd=ROOT,
        env={**os.environ, "DIST_DIR": str(dist)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (tarball,) = dist.glob("tetragon-*.tar.gz")
    m = re.fullmatch(r"tetragon-(.+)-(amd64|arm64|\w+)\.tar\.gz", tarball.name)
    assert m and m.group(1) == __version__, tarball.name
    work = tmp_path / "download"
    work.mkdir()
    run("tar", "-xvf", tarball, "-C", work)
    top = work / tarball.name.removesuffix(".tar.gz")
    for name in ("install.sh", "uninstall.sh", "bpf/objs/process.bpf.o", "appliance/_version.py"):
        assert (top / name).exists(), name
    prefix = tmp_path / "root"
    r = subprocess.run(
        ["./install.sh", "--prefix", str(prefix), "--no-systemd"],
        cwd=top,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("Tetragon installed successfully!")
    # installed from the tarball (no git there): the version it was built with
    out = run(prefix / "usr/local/bin/tetra", "version", "--client").stdout.strip()
    assert out == f"CLI version: {__version__}"
    _installed_agent_serves_tetra(prefix, tmp_path)
    run(top / "uninstall.sh", "--prefix", prefix, "--purge")


SOCKET = Path("/var/run/tetragon/tetragon.sock")


def _installed_agent_serves_tetra(prefix: Path, tmp_path: Path) -> None:
    """The guide's next step: `sudo tetra getevents -o compact`, no --server-address.

    The installed agent runs with the installed drop-ins (the socket the docs name); only
    what would clash with other agents on this machine is moved by flags (the export file,
    the metrics and health ports, the policy directories), and --bpf-lib names the staged
    objects (the installed agent looks for them where the install puts them without a
    prefix)."""
    import socket

    if SOCKET.exists():
        with socket.socket(socket.AF_UNIX) as s:
            if s.connect_ex(str(SOCKET)) == 0:
                pytest.skip(f"another agent serves {SOCKET}: the installed one cannot bind it")
    from .conftest import free_port

    lib = prefix / "usr/local/lib/tetragon"
    bindir = prefix / "usr/local/bin"
    (tmp_path / "tp").mkdir()
    agent = subprocess.Popen(
        [str(bindir / "tetragon"), "--config-dir", str(lib / "tetragon.conf.d"),
         "--bpf-lib", str(lib / "bpf"),
         "--export-filename", str(tmp_path / "events.log"),
         "--metrics-server", f"127.0.0.1:{free_port()}",
         "--health-server-address", f"127.0.0.1:{free_port()}",
         "--tracing-policy-dir", str(tmp_path / "tp"),
         "--policy-cache-dir", str(tmp_path / "cache")],
        stdout=open(tmp_path / "agent.log", "wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    getevents = None
    try:
        deadline = time.monotonic() + 120
        while b"agent running" not in (tmp_path / "agent.log").read_bytes():
            assert agent.poll() is None, (tmp_path / "agent.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.2)
        assert oct(SOCKET.stat().st_mode & 0o777) == "0o600"
        getevents = subprocess.Popen(
            [str(bindir / "tetra"), "getevents", "-o", "compact", "--color", "never"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        marker = f"installed-{os.getpid()}"
        deadline = time.monotonic() + 60
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(getevents.stdout), daemon=True).start()
        while not any(marker in ln and ln.startswith("🚀 process") for ln in lines):
            assert getevents.poll() is None, getevents.stderr.read()
            assert time.monotonic() < deadline, "".join(lines[-20:])
            subprocess.run(["/bin/echo", marker], capture_output=True)
            time.sleep(0.5)
    finally:
        if getevents is not None:
            getevents.terminate()
            getevents.wait(10)
        agent.terminate()
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
