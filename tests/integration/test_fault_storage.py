"""Storage faults: an export directory that fills up, a policy cache that cannot be written.

The export directory is a 200 KB tmpfs mounted by the test (unmounted whatever happens):
the agent keeps running while it is full, counts the failed writes and the events lost,
keeps the file made of whole JSON lines, and writes again once space returns.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import orjson
import pytest

from .conftest import ROOT, RunningAgent
from .policy_harness import arg_selector, policy_yaml

FIXTURE = ROOT / "tests" / "fixtures" / "lseek-sigkill.yaml"


def _metric(text: str, name: str, labels: str) -> float:
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "export"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k,mode=0755", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def _execs(n: int, tag: str) -> None:
    for _ in range(n):
        subprocess.run(["/bin/true", tag], check=True)


def _lines(path: Path) -> list[dict]:
    """Every line of the export file, each parsed (a half-written line fails here)."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "the export file ends in a partial line"
    return [orjson.loads(ln) for ln in data.splitlines()]


def test_full_export_directory_is_survived_counted_and_recovered(tmp_path, small_tmpfs):
    export = small_tmpfs / "tetragon.log"
    # most of the 200 KB taken, so a few hundred events fill the rest
    filler = small_tmpfs / "filler"
    filler.write_bytes(b"\0" * 150 * 1024)
    agent = RunningAgent(tmp_path, ["--export-filename", str(export)])
    try:
        deadline = time.monotonic() + 60
        while _metric(agent.metrics(), "tetragon_errors_total", 'type="export_file_write"') < 3:
            assert time.monotonic() < deadline, "the export file never filled up"
            assert agent.proc.poll() is None, agent.log.read_text()[-3000:]
            _execs(20, "fill")
        metrics = agent.metrics()
        failed = _metric(metrics, "tetragon_errors_total", 'type="export_file_write"')
        lost = _metric(metrics, "tetragon_events_lost_total", 'where="export_file"')
        assert lost >= failed >= 3
        before = _lines(export)  # whole lines only
        log = agent.log.read_text()
        # once per outage (a smaller batch may fit in between and end one), not per batch
        outages = log.count("cannot write the export file")
        assert 1 <= outages <= log.count("export file writable again") + 1, log[-3000:]
        assert "No space left on device" in log
        # the agent still serves: the API answers, events still flow to it
        assert agent.proc.poll() is None
        # space returns: the next events are written
        filler.unlink()
        tag = f"after-{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + 30
        while not any(
            tag in e.get("process_exec", {}).get("process", {}).get("arguments", "")
            for e in _lines(export)[len(before) :]
        ):
            assert time.monotonic() < deadline, "no event written after space returned"
            _execs(1, tag)
            time.sleep(0.2)
        assert "export file writable again" in agent.log.read_text()
        print(f"export tmpfs full: {int(failed)} failed writes, {int(lost)} events lost")
    finally:
        agent.stop()
    assert agent.proc.returncode == 0


# posts an event for lseek(-7331): loaded, it disturbs no other process
POST_POLICY = policy_yaml("fault-cache", "sys_lseek", ["int"], arg_selector(0, "Equal", -7331))


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory even root cannot write: a read-only bind mount of itself."""
    d = tmp_path / "cache"
    d.mkdir()
    r = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(d), str(d)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount: {r.stderr.strip()}")
    try:
        yield d
    finally:
        if subprocess.run(["umount", str(d)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(d)], check=False)


def test_unwritable_policy_cache_is_named_and_policies_still_load(tmp_path, read_only_dir):
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "fault-cache.yaml").write_text(POST_POLICY)
    agent = RunningAgent(
        tmp_path,
        ["--tracing-policy-dir", str(pdir), "--policy-cache-dir", str(read_only_dir)],
    )
    try:
        assert agent.proc.poll() is None
        log = agent.log.read_text()
        assert "policy fault-cache loaded in" in log, log[-3000:]
        line = next(ln for ln in log.splitlines() if "policy cache" in ln)
        assert str(read_only_dir) in line and "Read-only file system" in line, line
        subprocess.run(
            ["python3", "-c", "import os\ntry: os.lseek(-7331, 0, 0)\nexcept OSError: pass"],
            check=True,
        )
        agent.wait_for(lambda e: "process_kprobe" in e, timeout=10)
        assert os.listdir(read_only_dir) == []
    finally:
        agent.stop()
    assert agent.proc.returncode == 0
