"""Enforcement that survives `kill -9` of the agent: pinned policy links.

Children calling lseek(-1) in a tight loop run while the agent is killed and
started again; with --release-pinned-bpf=false none of them may escape the
Sigkill policy. A test-private --bpf-dir is removed whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, RunningAgent
from tests.integration.policy_harness import arg_selector, policy_yaml

FIXTURE = ROOT / "tests" / "fixtures" / "lseek-sigkill.yaml"
BPFFS = "/sys/fs/bpf"

# forks children that call lseek(-1) until the stop file exists; SIGUSR1 prints the
# count so far ("mark <total> <alive>"), the end prints "<total> <alive>"
SPAWNER = r"""
import os, signal, sys
stop, total, alive = sys.argv[1], 0, 0
def mark(*_):
    print("mark", total, alive, flush=True)
signal.signal(signal.SIGUSR1, mark)
print("ready", flush=True)
while not os.path.exists(stop):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        try:
            os.lseek(-1, 0, 0)
        except OSError:
            pass
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    total += 1
    alive += os.WIFEXITED(status)
print(total, alive, flush=True)
"""


def _is_bpffs() -> bool:
    with open("/proc/self/mounts") as f:
        return any(ln.split()[1:3] == [BPFFS, "bpf"] for ln in f)


@pytest.fixture
def bpf_dir():
    """A private directory under bpffs, unpinned (and bpffs unmounted if this test
    mounted it) even when the test fails."""
    mounted_before = _is_bpffs()
    name = f"tetragon-test-{os.getpid()}"
    try:
        yield name
    finally:
        shutil.rmtree(os.path.join(BPFFS, name), ignore_errors=True)
        # an empty bpffs shows the kernel's preloaded iterators only
        preloaded = {"maps.debug", "progs.debug"}
        if not mounted_before and _is_bpffs() and set(os.listdir(BPFFS)) <= preloaded:
            subprocess.run(["umount", BPFFS], check=False)


def _agent(tmp: Path, name: str, bpf_dir: str, release: bool) -> RunningAgent:
    work = tmp / name
    work.mkdir()
    pdir = tmp / "policies"  # the lseek policy, unless a test changed the directory
    if not pdir.exists():
        pdir.mkdir()
        shutil.copy(FIXTURE, pdir / FIXTURE.name)
    return RunningAgent(
        work,
        [
            "--tracing-policy-dir", str(pdir), "--bpf-dir", bpf_dir,
            f"--release-pinned-bpf={'true' if release else 'false'}",
        ],
    )  # fmt: skip


def _kill9(agent: RunningAgent) -> None:
    agent.proc.send_signal(signal.SIGKILL)
    agent.proc.wait()
    agent.stop()


def _prog_ids_of(pid: int) -> set[int]:
    """BPF programs held by process `pid`, from their file descriptors."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("prog_id:"):
                ids.add(int(line.split()[1]))
    return ids


def _live_prog_ids() -> set[int]:
    r = subprocess.run(["bpftool", "-j", "prog", "list"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"bpftool prog list failed: {r.stderr.strip()}")
    return {p["id"] for p in json.loads(r.stdout)}


# children that must run while an agent is killed and its successor starts
MIN_TRIES = 1000
MAX_CYCLES = 20


def _mark(spawner: subprocess.Popen) -> tuple[int, int]:
    """(children so far, children not killed so far), from the spawner itself."""
    spawner.send_signal(signal.SIGUSR1)
    while True:
        line = spawner.stdout.readline()
        if not line:
            raise AssertionError("the children loop ended early")
        if line.startswith("mark "):
            total, alive = (int(x) for x in line.split()[1:])
            return total, alive


def _restart_under_load(tmp: Path, bpf_dir: str, release: bool, min_tries: int = 0):
    """kill -9 of an agent enforcing the lseek policy and a restart, with children
    running throughout; repeated until `min_tries` children ran between a kill and the
    end of its successor's start (at least once) -> (children, children not killed,
    children in the windows, escaped in the windows, cycles, the killed agents'
    programs, last agent)."""
    first = _agent(tmp, "agent0", bpf_dir, release)
    stop = tmp / "stop"
    spawner = subprocess.Popen(
        [sys.executable, "-c", SPAWNER, str(stop)], stdout=subprocess.PIPE, text=True
    )
    agent, cycles, in_window, escaped = first, 0, 0, 0
    try:
        assert spawner.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        progs = _prog_ids_of(first.proc.pid)
        while True:
            before = _mark(spawner)
            progs |= _prog_ids_of(agent.proc.pid)
            _kill9(agent)
            cycles += 1
            agent = _agent(tmp, f"agent{cycles}", bpf_dir, release)
            after = _mark(spawner)
            in_window += after[0] - before[0]
            escaped += after[1] - before[1]
            if in_window >= min_tries or cycles >= MAX_CYCLES:
                break
        time.sleep(0.5)
    except BaseException:
        agent.stop()
        raise
    finally:
        stop.touch()
        out, _ = spawner.communicate(timeout=30)
    total, alive = (int(x) for x in out.split()[-2:])
    return total, alive, in_window, escaped, cycles, progs, agent


def _lseek(fd: int) -> int:
    """Exit status of a child calling lseek(fd): -9 when killed, 1 on EBADF."""
    code = f"import os; os.lseek({fd}, 0, 0)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode


def test_kill9_restart_keeps_enforcement_with_pins(tmp_path, bpf_dir):
    """At least MIN_TRIES lseek(-1) children run while an agent is killed and the
    next one starts (as many kill -9 and restart cycles as that takes): none escapes."""
    run = _restart_under_load(tmp_path, bpf_dir, False, MIN_TRIES)
    total, alive, in_window, escaped, cycles, first_progs, second = run
    try:
        print(
            f"pinned: {alive} of {total} lseek(-1) children not killed; "
            f"{escaped} of {in_window} during {cycles} kill -9 and restart windows"
        )
        assert in_window >= MIN_TRIES, f"only {in_window} children ran in {cycles} windows"
        assert alive == 0, f"{alive} of {total} children escaped the Sigkill policy"
        log = second.log.read_text()
        assert "adopted pinned policy lseek-sigkill" in log, log
        progs = first_progs | _prog_ids_of(second.proc.pid)
    finally:
        assert second.stop() == 0
    # a clean stop with --release-pinned-bpf=false: still enforced with no agent running
    assert "left 1 policies pinned" in second.log.read_text()
    assert _lseek(-1) == -signal.SIGKILL
    # the next agent releases on exit: nothing pinned, no program left
    third = _agent(tmp_path, "third", bpf_dir, True)
    try:
        assert "adopted pinned policy lseek-sigkill" in third.log.read_text()
        progs |= _prog_ids_of(third.proc.pid)
    finally:
        assert third.stop() == 0
    assert not os.path.exists(os.path.join(BPFFS, bpf_dir)), os.listdir(
        os.path.join(BPFFS, bpf_dir)
    )
    left = progs & _live_prog_ids()
    assert first_progs and not left, f"programs left loaded: {sorted(left)}"
    assert _lseek(-1) == 1  # EBADF raised, not killed


def test_kill9_without_pins_leaves_nothing(tmp_path, bpf_dir):
    """The baseline: an agent releasing its pins pins nothing, so a kill -9 opens a
    window (measured, printed) and leaves nothing in the kernel."""
    total, alive, in_window, escaped, _, first_progs, second = _restart_under_load(
        tmp_path, bpf_dir, True
    )
    try:
        print(
            f"not pinned: {alive} of {total} lseek(-1) children not killed "
            f"({escaped} of {in_window} while the agent restarted)"
        )
        assert total > 50
        assert "adopted pinned" not in second.log.read_text()
    finally:
        assert second.stop() == 0
    root = os.path.join(BPFFS, bpf_dir)
    assert not os.path.exists(root) or not os.listdir(root)
    assert not first_progs & _live_prog_ids()


def test_changed_policy_replaces_pin_and_dropped_policy_is_unpinned(tmp_path, bpf_dir):
    first = _agent(tmp_path, "first", bpf_dir, False)
    _kill9(first)
    assert _lseek(-1) == -signal.SIGKILL  # held by the pin alone
    # the same policy, changed (-2 instead of -1): a new object replaces the pinned one
    changed = tmp_path / "policies" / FIXTURE.name
    changed.write_text(FIXTURE.read_text().replace('"-1"', '"-2"'))
    second = _agent(tmp_path, "second", bpf_dir, False)
    try:
        assert "replaced pinned policy lseek-sigkill" in second.log.read_text()
        assert _lseek(-1) == 1 and _lseek(-2) == -signal.SIGKILL
    finally:
        _kill9(second)
    # not loaded again at start (an empty policy directory): unpinned
    changed.unlink()
    third = _agent(tmp_path, "third", bpf_dir, True)
    try:
        assert "removed pinned policy lseek-sigkill" in third.log.read_text()
        assert _lseek(-2) == 1
    finally:
        assert third.stop() == 0
    root = os.path.join(BPFFS, bpf_dir)
    assert not os.path.exists(root), os.listdir(root)


def bin_policy(exe: Path) -> str:
    """The lseek(-1) Sigkill policy narrowed to one binary."""
    then = (
        f'matchBinaries:\n- operator: In\n  values:\n  - "{exe}"\nmatchActions:\n- action: Sigkill'
    )
    return policy_yaml(
        "lseek-sigkill-binary", "sys_lseek", ["int"], arg_selector(0, "Equal", -1, then=then)
    )


def _sensor_pins(bpf_dir: str) -> list[str]:
    d = os.path.join(BPFFS, bpf_dir, "sensors", "process")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_process_started_while_no_agent_runs_is_tracked(tmp_path, bpf_dir):
    """matchBinaries needs the process sensor's execve_map: pinned with it, a binary
    started after a kill -9 and before the next agent is known, and still after it."""
    exe = tmp_path / "fault-py"
    shutil.copy(os.path.realpath(sys.executable), exe)
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "bin.yaml").write_text(bin_policy(exe))

    def lseek_by(binary: Path) -> int:
        code = "import os; os.lseek(-1, 0, 0)"
        return subprocess.run([str(binary), "-c", code], capture_output=True).returncode

    first = _agent(tmp_path, "first", bpf_dir, False)
    assert lseek_by(exe) == -signal.SIGKILL
    assert len(_sensor_pins(bpf_dir)) == 1
    _kill9(first)
    # no agent runs: the pinned sensor still records the exec for the pinned policy
    assert lseek_by(exe) == -signal.SIGKILL
    assert _lseek(-1) == 1  # another binary: not selected
    # a process exec'd now lives on into the next agent
    waiter = subprocess.Popen(
        [str(exe), "-c", "import os, sys; sys.stdin.readline(); os.lseek(-1, 0, 0)"],
        stdin=subprocess.PIPE,
    )
    try:
        second = _agent(tmp_path, "second", bpf_dir, True)
        try:
            log = second.log.read_text()
            assert "shares the pinned execve_map" in log, log[-3000:]
            assert "took over from the pinned one" in log
            assert "adopted pinned policy lseek-sigkill-binary" in log
            waiter.stdin.write(b"\n")
            waiter.stdin.close()
            assert waiter.wait(10) == -signal.SIGKILL
            assert lseek_by(exe) == -signal.SIGKILL
        finally:
            assert second.stop() == 0
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert not os.path.exists(os.path.join(BPFFS, bpf_dir))
    assert lseek_by(exe) == 1


def test_tetra_debug_release_pinned_bpf_removes_every_pin(tmp_path, bpf_dir):
    """What a killed agent left pinned (a policy, the process sensor) is lifted by
    `tetra debug release-pinned-bpf`, with no agent running."""
    first = _agent(tmp_path, "first", bpf_dir, False)
    progs = _prog_ids_of(first.proc.pid)
    _kill9(first)
    root = os.path.join(BPFFS, bpf_dir)
    assert os.listdir(os.path.join(root, "policies")) and _sensor_pins(bpf_dir)
    assert _lseek(-1) == -signal.SIGKILL
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli.tetra", "debug", "release-pinned-bpf",
         "--bpf-dir", bpf_dir],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "released 1 pinned policies (lseek-sigkill) and the process sensor" in out.stdout
    assert not os.path.exists(root)
    assert _lseek(-1) == 1
    deadline = time.monotonic() + 5  # programs are freed once their links are gone
    while progs & _live_prog_ids():
        assert time.monotonic() < deadline, f"left loaded: {sorted(progs & _live_prog_ids())}"
        time.sleep(0.1)
