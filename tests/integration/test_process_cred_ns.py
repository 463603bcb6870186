"""--enable-process-cred and --enable-process-ns add credentials, capabilities and
namespaces to every process, as Tetragon does."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from .conftest import RunningAgent, exec_of


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = RunningAgent(
        tmp_path_factory.mktemp("cred-agent"), ["--enable-process-cred", "--enable-process-ns"]
    )
    yield a
    a.stop()


def test_credentials_capabilities_and_namespaces(agent):
    marker = f"cred-{time.time_ns()}"
    subprocess.run(["/bin/true", marker], check=True)
    proc = agent.wait_for(exec_of("/bin/true", marker))["process_exec"]["process"]
    creds = proc["process_credentials"]
    assert creds["uid"] == 0 and creds["euid"] == 0 and creds["fsgid"] == 0
    assert "CAP_SYS_ADMIN" in proc["cap"]["effective"]
    ns = proc["ns"]
    for name in ("uts", "ipc", "mnt", "pid", "net", "cgroup", "user"):
        assert ns[name]["inum"] == os.stat(f"/proc/self/ns/{name}").st_ino, name
    # key order follows the API's field numbers: cap, ns, then tid, then credentials
    keys = list(proc)
    assert (
        keys.index("cap") < keys.index("ns") < keys.index("tid") < keys.index("process_credentials")
    )
