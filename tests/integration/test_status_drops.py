"""`tetra status` prints every drop counter the agent keeps, read from the running agent."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from .conftest import RunningAgent, exec_of

pytestmark = pytest.mark.integration

#: the counters `tetra status` prints whatever the configuration (no Kubernetes cache)
ALWAYS = (
    "ring_buffer",
    "grpc_queue",
    "export_rate_limit",
    "export_file",
    "policy_ring_buffer",
    "grpc_subscribers_rejected",
    "grpc_slow_subscribers_disconnected",
    "process_cache_evicted",
)


def _status(agent: RunningAgent) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli.tetra", "--server-address", agent.address, "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    drops = out.stdout.partition("Drops:\n")[2].partition("Errors:\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^  (\w+) +(\d+)$", drops, re.M)}


def test_status_shows_a_process_cache_eviction(tmp_path):
    """A process cache of 4 entries cannot hold the host's processes: the procfs scan at
    start and the execs after it evict, and `tetra status` shows the count next to every
    other drop counter."""
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(8)]
    agent = RunningAgent(tmp_path, ["--process-cache-size", "4"])
    try:
        for _ in range(10):
            subprocess.run(["/bin/true", "status-drops"], check=True)
        agent.wait_for(exec_of("/bin/true", "status-drops"))
        time.sleep(0.5)
        drops = _status(agent)
        assert set(ALWAYS) <= set(drops), drops
        assert drops["process_cache_evicted"] >= 8 + 10 - 4, drops
        metrics = agent.metrics()
        m = re.search(r"^tetragon_process_cache_evicted_total (\S+)$", metrics, re.M)
        assert m and float(m[1]) >= drops["process_cache_evicted"], metrics
        assert drops["ring_buffer"] == 0, drops
    finally:
        agent.stop()
        for p in sleepers:
            p.kill()
            p.wait()
