"""The agent's unix socket is root's, mode 600: a user without root cannot read events or
change policies, and `tetra` tells that user why instead of asking whether the agent runs."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import uuid

import pytest

from .policy_harness import arg_selector, policy_yaml

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creating a user needs root")


@pytest.fixture
def plain_user():
    """A throwaway account without privileges, removed even if the test fails."""
    name = "tgt" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def root_socket():
    """A listening unix socket made the way the agent makes its own (root, mode 600)."""
    top = tempfile.mkdtemp(prefix="tetragon-sock-")
    os.chmod(top, 0o755)  # the directory is searchable, the socket is not usable
    path = os.path.join(top, "tetragon.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        srv.bind(path)
    finally:
        os.umask(old)
    srv.listen(1)
    try:
        yield path
    finally:
        srv.close()
        shutil.rmtree(top, ignore_errors=True)


def test_socket_is_root_only(root_socket):
    st = os.stat(root_socket)
    assert st.st_uid == 0
    assert stat.S_IMODE(st.st_mode) == 0o600


def _as_user(name: str, fn) -> tuple[int, str]:
    """Run `fn` in a child that became `name` (the interpreter lives in root's home, so the
    child forks from this process instead of exec-ing Python again); its status and stderr."""
    import pwd

    pw = pwd.getpwnam(name)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to the user, run, report through the exit status
        status = 99
        try:
            os.dup2(wr, 2)
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            status = fn()
        except BaseException as e:  # noqa: BLE001 - anything escaping is the failure shown
            import traceback

            traceback.print_exception(e)
        finally:
            os._exit(status if isinstance(status, int) else 98)
    os.close(wr)
    with os.fdopen(rd) as f:
        err = f.read()
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st), err


@pytest.mark.parametrize(
    "argv",
    [["status"], ["getevents"], ["tracingpolicy", "list"], ["tracingpolicy", "delete", "x"]],
)
def test_plain_user_gets_a_clear_refusal(plain_user, root_socket, argv):
    r = _tetra_as_user(plain_user, root_socket, argv)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    assert "permission denied on " + root_socket in r.stderr, r.stderr
    assert "run tetra as root" in r.stderr


def test_kernel_refuses_plain_user(plain_user, root_socket):
    """The refusal is the kernel's (file mode), not something tetra decides."""

    def connect() -> int:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(root_socket)
        except PermissionError:
            return 7
        return 0

    code, err = _as_user(plain_user, connect)
    assert code == 7, err


# -- the real agent -----------------------------------------------------------------------

POLICY = policy_yaml("exposure-probe", "sys_lseek", ["int"], arg_selector(0, "Equal", -7331))


@pytest.fixture(scope="module")
def unix_agent():
    """The agent serving gRPC on a unix socket in a directory every user may enter."""
    from tests.integration.conftest import RunningAgent

    top = tempfile.mkdtemp(prefix="tetragon-exposure-")
    os.chmod(top, 0o755)
    sock = os.path.join(top, "run", "tetragon.sock")
    work = os.path.join(top, "work")
    os.mkdir(work)
    policy = os.path.join(top, "probe.yaml")
    with open(policy, "w") as f:
        f.write(POLICY)
    os.chmod(policy, 0o644)
    agent = None
    try:
        from pathlib import Path

        agent = RunningAgent(Path(work), ["--server-address", "unix://" + sock])
        yield agent, sock, policy
    finally:
        if agent is not None:
            agent.stop()
        shutil.rmtree(top, ignore_errors=True)


def _tetra_as_root(sock: str, *argv: str) -> subprocess.CompletedProcess:
    from tests.integration.conftest import ROOT, _clean_env

    return subprocess.run(
        [sys.executable, "-m", "appliance.cli.tetra", "--server-address", "unix://" + sock,
         *argv],
        capture_output=True, text=True, cwd=ROOT, env=_clean_env(), timeout=60,
    )  # fmt: skip


def test_real_agent_socket_and_export_file_are_root_only(unix_agent):
    agent, sock, _ = unix_agent
    for path in (sock, str(agent.export)):
        st = os.stat(path)
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600, (path, oct(st.st_mode))
    assert _tetra_as_root(sock, "status").returncode == 0


# Runs tetra as the user in a fresh interpreter: it starts as root (the interpreter and its
# library live in root's home), loads every module tetra's path needs with one call against
# no socket, then drops to the user and makes the call. A fork of the test process would
# inherit gRPC's threads and can deadlock.
AS_USER = r"""
import contextlib, io, os, sys
uid, gid, sock = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
argv = sys.argv[4:]
from appliance.cli import tetra
with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
    tetra.main(["--server-address", "unix://" + sock + ".none", *argv])
os.setgroups([])
os.setgid(gid)
os.setuid(uid)
sys.exit(tetra.main(["--server-address", "unix://" + sock, *argv]))
"""


def _tetra_as_user(name: str, sock: str, argv: list[str]) -> subprocess.CompletedProcess:
    import pwd

    from tests.integration.conftest import ROOT, _clean_env

    pw = pwd.getpwnam(name)
    return subprocess.run(
        [sys.executable, "-c", AS_USER, str(pw.pw_uid), str(pw.pw_gid), sock, *argv],
        capture_output=True, text=True, cwd=ROOT, env=_clean_env(), timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["getevents"],
        ["tracingpolicy", "list"],
        ["tracingpolicy", "add", "{policy}"],
        ["tracingpolicy", "delete", "exposure-probe"],
    ],
    ids=["status", "getevents", "list", "add", "delete"],
)
def test_plain_user_cannot_read_events_or_change_policies(plain_user, unix_agent, argv):
    agent, sock, policy = unix_agent
    r = _tetra_as_user(plain_user, sock, [a.format(policy=policy) for a in argv])
    err = r.stderr
    assert r.returncode != 0
    assert "Traceback" not in err, err
    assert f"permission denied on {sock}" in err and "run tetra as root" in err, err
    listed = _tetra_as_root(sock, "tracingpolicy", "list")
    assert listed.returncode == 0 and "exposure-probe" not in listed.stdout


def test_plain_user_cannot_read_the_export_file(plain_user, unix_agent):
    agent, _, _ = unix_agent
    path = str(agent.export)

    def read() -> int:
        try:
            open(path).read(1)
        except PermissionError:
            return 7
        return 0

    code, err = _as_user(plain_user, read)
    assert code == 7, err
