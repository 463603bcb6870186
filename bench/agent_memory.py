#!/usr/bin/env python3
"""The agent's memory and per-exec cost, each next to a baseline measured in the same run.

1. **Imports** (no root needed): what each package adds to a fresh interpreter, and the
   agent's whole import graph; the bare interpreter is the baseline.
2. **Idle** (root): the RSS of the agent with the base sensors and its defaults (plus an
   export file), a few seconds after start, split into anonymous memory, file pages and
   the BPF ring buffer mapping; the baseline is a bare interpreter of the same Python
   that sleeps. With ``--before-root`` the agent of another checkout is measured too.
3. **Exec storm** (root): ``--count`` fork + exec of /bin/true (default 100000). Printed:
   the agent's RSS after it caught up (and its peak), the agent's CPU time per exec, the
   BPF programs' run time per exec from ``kernel.bpf_stats_enabled`` (run_time_ns and
   run_cnt of the agent's programs), and as baselines the workload's own CPU per exec
   without the agent and the run time of an empty program on the same tracepoint. The
   sysctl is restored afterwards, also on failure.

    sudo .venv/bin/python bench/agent_memory.py [--count 100000] [--imports-only]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.exec_throughput import Agent, BenchError, Workload  # noqa: E402

PACKAGES = [
    "yaml",
    "pydantic",
    "grpc",
    "google.protobuf",
    "prometheus_client",
    "orjson",
    "appliance.policy.compiler",
    "appliance.api.server",
    "appliance.settings",
    "appliance.daemon",
]
#: what the agent imports before its first event (appliance.agent imports the rest lazily)
AGENT_GRAPH = "appliance.agent,appliance.daemon,appliance.policy.manager,appliance.metadata"

PROBE = """
import sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
base = rss()
t = time.perf_counter()
for m in filter(None, sys.argv[1].split(',')):
    __import__(m)
print(base, rss(), int((time.perf_counter() - t) * 1000))
"""
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
MB = 1024.0


# -- memory ----------------------------------------------------------------------------
def measure_import(modules: str) -> tuple[int, int, int]:
    """RSS in KiB before and after importing modules (comma-separated), and the ms."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, modules], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1]), int(out[2])


def memory(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile (KiB) and the BPF map mappings' Rss (``bpf_maps``):
    the ring buffer's data pages, mapped twice by libbpf so reads never wrap."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0])
    bpf, name = 0, ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and len(parts) >= 5:
                name = parts[5] if len(parts) > 5 else ""
            elif parts and parts[0] == "Rss:" and name == "anon_inode:bpf-map":
                bpf += int(parts[1])
    out["bpf_maps"] = bpf
    return out


def _fmt_mem(m: dict[str, int]) -> str:
    return (
        f"RSS {m['VmRSS'] / MB:5.1f} MB (anon {m['RssAnon'] / MB:4.1f}, file "
        f"{m['RssFile'] / MB:4.1f}, of which BPF ring buffer {m['bpf_maps'] / MB:3.1f})"
    )


def bare_interpreter_rss() -> dict[str, int]:
    """A sleeping interpreter of the same Python: the floor under any Python agent."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)
        return memory(p.pid)
    finally:
        p.kill()
        p.wait()


def print_imports() -> None:
    base, _, _ = measure_import("")
    print(f"{'bare interpreter':34} RSS {base / MB:6.1f} MB")
    for m in PACKAGES:
        before, after, ms = measure_import(m)
        print(f"{m:34} +{(after - before) / MB:6.1f} MB  total {after / MB:6.1f} MB  {ms:5d} ms")
    before, after, ms = measure_import(AGENT_GRAPH)
    print(f"{'agent import graph':34} +{(after - before) / MB:6.1f} MB  total {after / MB:6.1f} MB")


# -- BPF run time ----------------------------------------------------------------------
def prog_stats(pid: int) -> dict[int, tuple[int, int]]:
    """{prog id: (run_time_ns, run_cnt)} of the BPF programs process ``pid`` holds."""
    out = {}
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(f"{fd_dir}/{fd}") != "anon_inode:bpf-prog":
                continue
            info = dict(
                line.split(":", 1) for line in open(f"/proc/{pid}/fdinfo/{fd}") if ":" in line
            )
        except OSError:
            continue
        pid_ = int(info.get("prog_id", "0"))
        out[pid_] = (int(info.get("run_time_ns", "0")), int(info.get("run_cnt", "0")))
    return out


def prog_names(ids) -> dict[int, str]:
    """Program names from bpftool when it is installed (ids otherwise)."""
    names = {i: f"id {i}" for i in ids}
    if not shutil.which("bpftool"):
        return names
    import json

    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    with contextlib.suppress(ValueError):
        for p in json.loads(r.stdout or "[]"):
            if p.get("id") in names:
                names[p["id"]] = p.get("name", names[p["id"]])
    return names


class EmptyProgram:
    """``r0 = 0; exit`` as a raw tracepoint program on sched_process_exec: what any
    program on that hook costs before it does anything (the baseline of the BPF time)."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(ctypes.util.find_library("bpf") or "libbpf.so.1", use_errno=True)
        insns = (ctypes.c_uint64 * 2)(0x00000000000000B7, 0x0000000000000095)
        lib.bpf_prog_load.restype = ctypes.c_int
        lib.bpf_prog_load.argtypes = [
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_void_p,
        ]
        self.prog = lib.bpf_prog_load(17, b"bench_empty", b"GPL", insns, 2, None)  # RAW_TP
        if self.prog < 0:
            raise BenchError(f"cannot load the empty program: {os.strerror(-self.prog)}")
        lib.bpf_raw_tracepoint_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.link = lib.bpf_raw_tracepoint_open(b"sched_process_exec", self.prog)
        if self.link < 0:
            os.close(self.prog)
            raise BenchError(f"cannot attach the empty program: {os.strerror(-self.link)}")

    def stats(self) -> tuple[int, int]:
        info = dict(
            line.split(":", 1) for line in open(f"/proc/self/fdinfo/{self.prog}") if ":" in line
        )
        return int(info.get("run_time_ns", "0")), int(info.get("run_cnt", "0"))

    def close(self) -> None:
        os.close(self.link)
        os.close(self.prog)


@contextlib.contextmanager
def bpf_stats_enabled():
    """kernel.bpf_stats_enabled=1 for the block; the previous value restored after it."""
    with open(STATS_SYSCTL) as f:
        old = f.read().strip()
    with open(STATS_SYSCTL, "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open(STATS_SYSCTL, "w") as f:
            f.write(old)


# -- the agent -------------------------------------------------------------------------
def start_agent(root: str, python: str, workdir: str, timeout: float) -> Agent:
    """The agent of checkout ``root`` with its defaults, an export file and a free gRPC
    port (no metrics server: prometheus_client is not part of the default agent)."""
    a = Agent([python, "-m", "appliance.agent"], [], workdir, timeout)
    i = a.cmd.index("--metrics-server")
    del a.cmd[i : i + 2]
    a.cwd = root
    a.env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    a.start()
    return a


def idle(agent: Agent, settle: float) -> dict[str, int]:
    time.sleep(settle)
    return memory(agent.proc.pid)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench(args: argparse.Namespace) -> int:
    workdir = tempfile.mkdtemp(prefix="mem-bench-")
    agents: list[Agent] = []
    try:
        bare = bare_interpreter_rss()
        print(f"\nidle, after {args.settle:.0f} s (same run):")
        print(f"  {'bare interpreter (baseline)':34} {_fmt_mem(bare)}")
        if args.before_root:
            before = start_agent(
                args.before_root, args.before_python, args.tmpfs, args.startup_timeout
            )
            agents.append(before)
            m = idle(before, args.settle)
            print(f"  {'agent of ' + args.before_root:34} {_fmt_mem(m)}")
            before.cleanup()
            agents.remove(before)
        work = Workload(workdir, args.jobs)
        agent = start_agent(REPO, sys.executable, args.tmpfs, args.startup_timeout)
        agents.append(agent)
        m_idle = idle(agent, args.settle)
        print(f"  {'agent (this checkout)':34} {_fmt_mem(m_idle)}")
        print(
            f"  agent above the bare interpreter: {(m_idle['VmRSS'] - bare['VmRSS']) / MB:.1f} MB"
        )

        # the baseline storm: the workload's own CPU per exec, with the idle agent running
        # (it pays the agent's BPF programs, as the measured storm does)
        base_n = max(1000, args.count // 5)
        c0 = children_cpu()
        base_token = "mem-bench-" + uuid.uuid4().hex[:12]
        base = work.run(base_n, base_token)
        base_cpu = (children_cpu() - c0) / max(base.execs, 1)
        agent.drain(base_token, base.execs, args.drain_timeout)  # the agent caught up

        token = "mem-bench-" + uuid.uuid4().hex[:12]
        empty = None
        with bpf_stats_enabled():
            empty = EmptyProgram()
            try:
                s0, e0 = prog_stats(agent.proc.pid), empty.stats()
                cpu0 = agent.cpu_seconds()
                res = work.run(args.count, token)
                drain = agent.drain(token, res.execs, args.drain_timeout)
                cpu = agent.cpu_seconds() - cpu0
                s1, e1 = prog_stats(agent.proc.pid), empty.stats()
            finally:
                empty.close()
        exported = agent.count_execs(token)
        m_after = memory(agent.proc.pid)
        time.sleep(args.settle)
        m_later = memory(agent.proc.pid)

        et, ec = e1[0] - e0[0], e1[1] - e0[1]
        # every exec of the host during the storm (other jobs' too): the agent handled
        # them all, so they are the denominator of the per-exec figures
        n = max(ec, res.execs, 1)
        print(
            f"\nexec storm: {res.execs} execs in {res.seconds:.1f} s ({res.rate:.0f}/s), "
            f"caught up {drain:.1f} s after; exported {exported}/{res.execs}; "
            f"{ec} execs on the host meanwhile (the per-exec denominator)"
        )
        print(
            f"  {'agent after the storm':34} {_fmt_mem(m_after)}, "
            f"peak {m_after['VmHWM'] / MB:.1f} MB"
        )
        print(f"  {'agent ' + str(int(args.settle)) + ' s later':34} {_fmt_mem(m_later)}")
        print(f"  growth over idle: {(m_later['VmRSS'] - m_idle['VmRSS']) / MB:+.1f} MB")
        print("\nCPU per exec (same run):")
        print(f"  {'workload, fork+exec+exit (baseline)':40} {1e6 * base_cpu:7.1f} us")
        print(f"  {'agent process (all its threads)':40} {1e6 * cpu / n:7.1f} us")
        print("\nBPF run time per exec (kernel.bpf_stats_enabled, same run):")
        print(
            f"  {'empty program on sched_process_exec':40} {et / max(ec, 1):7.0f} ns per run, "
            f"{ec} runs (baseline)"
        )
        names = prog_names(s1)
        total = 0
        for pid_, (t1, c1) in sorted(s1.items()):
            t0_, c0_ = s0.get(pid_, (0, 0))
            dt, dc = t1 - t0_, c1 - c0_
            total += dt
            print(
                f"  {names[pid_]:40} {dt / max(dc, 1):7.0f} ns per run, {dc} runs, "
                f"{dt / n:7.0f} ns per exec"
            )
        print(
            f"  {'agent programs together':40} {total / n:7.0f} ns per exec "
            f"({total / max(et, 1):.1f}x the empty program's time)"
        )
        return 0
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    finally:
        for a in agents:
            a.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100000, help="execs of the storm (100000)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel exec loops")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds before measuring (5)")
    ap.add_argument("--imports-only", action="store_true", help="only the import split")
    ap.add_argument("--before-root", default="", help="another checkout to measure idle too")
    ap.add_argument(
        "--before-python",
        default="",
        help="its interpreter (default: BEFORE_ROOT/.venv/bin/python)",
    )
    ap.add_argument("--tmpfs", default="/dev/shm", help="directory for export files")
    ap.add_argument("--startup-timeout", type=float, default=60.0)
    ap.add_argument("--drain-timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    if args.before_root and not args.before_python:
        args.before_python = os.path.join(args.before_root, ".venv", "bin", "python")
    print("imports, each in a fresh interpreter:")
    print_imports()
    if args.imports_only:
        return 0
    if os.geteuid() != 0:
        print("\nthe idle and storm figures load BPF programs: run as root", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _raise_interrupt)
    return bench(args)


if __name__ == "__main__":
    raise SystemExit(main())
