"""Start-up failures end with one short message saying what to do, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import yaml

from .conftest import ROOT, RunningAgent, _clean_env, free_port


def run_agent(*args: str, user: str | None = None, timeout: float = 60):
    cmd = [sys.executable, "-m", "appliance.agent", "--config-dir", "/nonexistent-ok", *args]
    cmd = [c for c in cmd if c not in ("--config-dir", "/nonexistent-ok")]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=_clean_env()
    )


def assert_clean_error(out, *needles: str):
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr
    for n in needles:
        assert n in out.stderr, out.stderr


def test_malformed_btf_path(tmp_path):
    bad = tmp_path / "not-btf"
    bad.write_text("hello")
    out = run_agent("--btf", str(bad), "--server-address", f"localhost:{free_port()}")
    assert_clean_error(out, "not a BTF file", str(bad))
    out = run_agent("--btf", "/no/such/btf", "--server-address", f"localhost:{free_port()}")
    assert_clean_error(out, "no such file", "/no/such/btf")


def test_missing_bpf_object(tmp_path):
    out = run_agent("--bpf-lib", str(tmp_path), "--server-address", f"localhost:{free_port()}")
    assert_clean_error(out, "process.bpf.o not found", "--bpf-lib")


def test_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run_agent("--server-address", f"127.0.0.1:{port}")
    assert_clean_error(out, "cannot listen on", "--server-address")


def test_not_root():
    if subprocess.run(["which", "setpriv"], capture_output=True).returncode != 0:
        pytest.skip("setpriv not installed")
    out = run_agent("--server-address", f"localhost:{free_port()}", user="65534")
    if "Permission denied" in out.stderr and "must run as root" not in out.stderr:
        pytest.skip("the Python interpreter is not readable by an unprivileged user here")
    assert_clean_error(out, "must run as root", "sudo")


def test_invalid_setting_value():
    out = run_agent("--process-cache-size", "many")
    assert_clean_error(out, "process-cache-size", "many")


def test_unix_socket_mode(tmp_path):
    sock = tmp_path / "tetragon.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.agent", "--server-address", f"unix://{sock}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_clean_env(),
    )
    try:
        import time

        deadline = time.monotonic() + 60
        while not sock.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert oct(os.stat(sock).st_mode & 0o777) == oct(0o600)
        out = subprocess.run(
            [sys.executable, "-m", "appliance.cli.tetra", "--server-address", f"unix://{sock}",
             "status"],
            capture_output=True, text=True, cwd=ROOT, env=_clean_env(),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
    finally:
        proc.terminate()
        proc.wait(15)


def test_generate_docs_prints_the_settings_and_exits():
    out = run_agent("--generate-docs")
    assert out.returncode == 0, out.stderr
    docs = yaml.safe_load(out.stdout)
    names = {o["name"] for o in docs["options"]}
    assert {"export-filename", "redaction-filters", "btf"} <= names
    assert "starting tetragon" not in out.stderr


def test_settings_without_effect_are_warned_about(tmp_path):
    agent = RunningAgent(tmp_path, ["--enable-cri", "--cluster-name", "prod"])
    try:
        log = agent.log.read_text()
    finally:
        agent.stop()
    assert "setting enable-cri=true is accepted for compatibility" in log
    assert "setting cluster-name=prod is accepted for compatibility" in log
    assert log.count("is accepted for compatibility") == 2
