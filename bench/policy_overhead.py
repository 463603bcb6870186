"""Cost of a TracingPolicy on a hot syscall, against the physical floor, in one run.

Four configurations of the same lseek loop (about a million calls), interleaved
over several rounds because the machine is shared and noisy:

  none      no program on the hook
  floor     an empty BPF program on tracepoint syscalls/sys_enter_lseek: attaching
            anything to the hook costs this much on every call
  nomatch   the real agent with a policy whose selector never matches
  match     the real agent with a policy that matches (and posts) every call
  inmap     the real agent with an InMap selector of 10 000 values that never matches
            (one hash map lookup per call)

And, on a hot `read` loop of a file the policy does not select, the file-monitoring
policy (`security_file_permission`, Prefix on a path) against its own floor:

  read-none    no program on sys_enter_read
  read-floor   an empty BPF program on tracepoint syscalls/sys_enter_read
  read-perm    the agent with the file-monitoring policy; on a kernel without kprobes it
               runs on its equivalent (sys_enter_read & co, fd resolved to its file)
  read-quick   the agent with the getting-started guide's file_monitoring.yaml as
               published (three hooks, return values: sys_exit_read runs too)

The read rows are measured twice: the loop's time with kernel.bpf_stats off, then one more
loop per row with the statistics on (BPF_ENABLE_STATS, held only for that loop), which
gives each program's own run time per call (the statistics add their own clock reads to
every run, so these figures are higher than the programs' cost without them).

Prints each slowdown ratio against `none`, the policy's added cost as a multiple of
the floor's (target <= 1.25 for nomatch, <= 1.5 for inmap), events exported per second
and events lost
(every matching call must be exported or counted as lost), and policy load time cold
(clang) and cached (target < 300 ms).

Run as root: `sudo .venv/bin/python bench/policy_overhead.py`.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import stop_process  # noqa: E402
from tests.integration.policy_harness import arg_selector, policy_yaml  # noqa: E402

LOOP_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    int fd = atoi(argv[2]);
    int rd = argc > 3;
    char buf[1];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (rd)
        for (long i = 0; i < n; i++) { if (read(fd, buf, 1) < 0) return 1; }
    else
        for (long i = 0; i < n; i++) lseek(fd, 0, SEEK_SET);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%ld\n", (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec));
    return 0;
}
"""

EMPTY_C = r"""
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("tracepoint/syscalls/sys_enter_lseek")
int empty(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_read")
int empty_read(void *ctx) { return 0; }
"""

FILE_POLICY = policy_yaml(
    "bench-file-perm", "security_file_permission", ["file", "int"],
    arg_selector(0, "Prefix", "/etc/shadow"), syscall=False,
)  # fmt: skip


def lseek_policy(name: str, *fds: int, operator: str = "Equal", then: str = "") -> str:
    """The loop's lseek(fd) selected by its fd; ``then``: more keys of the selector."""
    selector = arg_selector(0, operator, *fds, then=then)
    return policy_yaml(name, "sys_lseek", ["int", "int64"], selector)


QUICKSTART = ROOT / "tests/fixtures/file_monitoring.yaml"
BPF_ENABLE_STATS, BPF_STATS_RUN_TIME, SYS_BPF = 32, 0, {"x86_64": 321, "aarch64": 280}


def enable_stats() -> int:
    """An fd that keeps kernel.bpf_stats on while it is open (the sysctl is left alone)."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint32 * 2)(BPF_STATS_RUN_TIME, 0)  # union bpf_attr.enable_stats
    fd = libc.syscall(SYS_BPF[os.uname().machine], BPF_ENABLE_STATS, ctypes.byref(attr), 8)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "BPF_ENABLE_STATS")
    return fd


def prog_ids() -> set[int]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    return {p["id"] for p in json.loads(out.stdout or "[]")}


def run_stats(ids: set[int], names: tuple[str, ...]) -> tuple[int, int]:
    """(run_time_ns, run_cnt) summed over the programs ``ids`` called one of ``names``."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    t = c = 0
    for p in json.loads(out.stdout or "[]"):
        if p["id"] in ids and p.get("name") in names:
            t += p.get("run_time_ns", 0)
            c += p.get("run_cnt", 0)
    return t, c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __init__(self, work: Path, policy: Path | None, cache: Path):
        self.export = work / f"events-{time.time_ns()}.log"
        self.metrics_port = free_port()
        self.port = free_port()
        self.log = open(work / "agent.log", "ab")
        args = [sys.executable, "-m", "appliance.agent", "--export-filename", str(self.export),
                "--server-address", f"127.0.0.1:{self.port}",
                "--metrics-server", f"127.0.0.1:{self.metrics_port}",
                "--tracing-policy-dir", str(work / "none"), "--config-dir", str(work / "none"),
                "--policy-cache-dir", str(cache), "--export-file-max-size-mb", "0",
                "--rb-size", str(64 << 20)]  # fmt: skip
        if policy:
            args += ["--tracing-policy", str(policy)]
        (work / "none").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self.log, stderr=self.log)
        log_path = work / "agent.log"
        deadline = time.monotonic() + 60
        while True:
            text = log_path.read_bytes()
            if text.count(b"agent running") > getattr(Agent, "_starts", 0):
                Agent._starts = text.count(b"agent running")
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"agent failed to start:\n{text[-2000:].decode()}")
            time.sleep(0.05)

    def metric(self, name: str) -> float:
        import urllib.request

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        total = 0.0
        for line in urllib.request.urlopen(url).read().decode().splitlines():
            if line.startswith(name):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        stop_process(self.proc, grace=20)
        self.log.close()


INMAP_VALUES = 10_000


def inmap_policy(fd: int) -> str:
    """A selector whose InMap list (10 000 fds, none of them the loop's) never matches."""
    fds = range(fd + 1000, fd + 1000 + INMAP_VALUES)
    return lseek_policy("bench-inmap", *fds, operator="InMap")


def run_loop(exe: str, n: int, fd: int, read: bool = False) -> float:
    cmd = [exe, str(n), str(fd)] + (["read"] if read else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         pass_fds=(fd,))  # fmt: skip
    return int(out.stdout) / n  # ns per call


def count_policy_events(path: Path, name: str) -> int:
    if not path.exists():
        return 0
    needle = f'"policy_name":"{name}"'.encode()
    with open(path, "rb") as f:
        return sum(1 for line in f if needle in line)


def _policy_hooks(log: Path, name: str) -> str:
    """How the agent attached a policy, from its "policy ... loaded" log line."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if f"policy {name} loaded" in line:
            return line.split("): ", 1)[-1][:120]
    return "attach method not logged"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 1
    from appliance.bpf.libbpf import BpfObject
    from appliance.daemon import ensure_tracefs

    ensure_tracefs()
    work = Path(tempfile.mkdtemp(prefix="tp-bench-"))
    cache = work / "cache"
    agent = None
    empty = None
    try:
        src = work / "loop.c"
        src.write_text(LOOP_C)
        exe = str(work / "loop")
        subprocess.run(["cc", "-O2", "-o", exe, str(src)], check=True)
        (work / "empty.bpf.c").write_text(EMPTY_C)
        subprocess.run(["clang", "-O2", "-g", "-target", "bpf", f"-I{ROOT}/bpf/include", "-c",
                        str(work / "empty.bpf.c"), "-o", str(work / "empty.bpf.o")],
                       check=True)  # fmt: skip
        target = open(work / "target", "w")
        fd = target.fileno()
        never = work / "never.yaml"
        never.write_text(lseek_policy("bench-never", fd + 1000))
        inmap = work / "inmap.yaml"
        inmap.write_text(inmap_policy(fd))
        every = work / "every.yaml"
        only_loop = f"matchBinaries:\n- operator: In\n  values:\n  - {exe}"
        every.write_text(lseek_policy("bench-every", fd, then=only_loop))
        file_perm = work / "file-perm.yaml"
        file_perm.write_text(FILE_POLICY)
        (work / "readme").write_bytes(b"x")
        rfile = open(work / "readme", "rb")
        rfd = rfile.fileno()

        # policy load time: cold (clang) then cached, through the agent's gRPC API
        agent = Agent(work, None, cache)
        import grpc

        from appliance.api.tetragon import sensors_pb2, sensors_pb2_grpc

        stub = sensors_pb2_grpc.FineGuidanceSensorsStub(
            grpc.insecure_channel(f"127.0.0.1:{agent.port}")
        )
        loads = []
        for i in range(4):
            t0 = time.monotonic()
            stub.AddTracingPolicy(sensors_pb2.AddTracingPolicyRequest(yaml=never.read_text()))
            loads.append((time.monotonic() - t0) * 1000)
            stub.DeleteTracingPolicy(sensors_pb2.DeleteTracingPolicyRequest(name="bench-never"))
            _ = i
        agent.stop()
        agent = None

        rows = ("none", "floor", "nomatch", "match", "inmap", "read-none", "read-floor",
                "read-perm", "read-quick")  # fmt: skip
        res: dict[str, list[float]] = {k: [] for k in rows}
        perm_hooks = ""
        exported = lost = 0
        match_secs = 0.0
        for _r in range(args.rounds):
            res["none"].append(run_loop(exe, args.calls, fd))
            empty = BpfObject.open(str(work / "empty.bpf.o"))
            empty.load()
            empty.attach("empty", "tracepoint", "syscalls/sys_enter_lseek")
            res["floor"].append(run_loop(exe, args.calls, fd))
            empty.close()
            empty = None
            res["read-none"].append(run_loop(exe, args.calls, rfd, read=True))
            empty = BpfObject.open(str(work / "empty.bpf.o"))
            empty.load()
            empty.attach("empty_read", "tracepoint", "syscalls/sys_enter_read")
            res["read-floor"].append(run_loop(exe, args.calls, rfd, read=True))
            empty.close()
            empty = None
            agent = Agent(work, file_perm, cache)
            res["read-perm"].append(run_loop(exe, args.calls, rfd, read=True))
            perm_hooks = perm_hooks or _policy_hooks(work / "agent.log", "bench-file-perm")
            agent.stop()
            agent = Agent(work, QUICKSTART, cache)
            res["read-quick"].append(run_loop(exe, args.calls, rfd, read=True))
            agent.stop()
            agent = Agent(work, never, cache)
            res["nomatch"].append(run_loop(exe, args.calls, fd))
            agent.stop()
            agent = Agent(work, inmap, cache)
            res["inmap"].append(run_loop(exe, args.calls, fd))
            agent.stop()
            agent = Agent(work, every, cache)
            ns = run_loop(exe, args.calls, fd)
            res["match"].append(ns)
            match_secs += ns * args.calls / 1e9
            time.sleep(2)  # let the agent drain what is queued
            deadline = time.monotonic() + 60
            while True:
                got = count_policy_events(agent.export, "bench-every")
                lost_now = agent.metric("tetragon_events_lost_total")
                if got + lost_now >= args.calls or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            exported += got
            lost += int(lost_now)
            agent.stop()
            agent = None

        # the programs' own run time per read, with the statistics on for one loop each
        in_kernel: dict[str, float] = {}
        progs_per_read: dict[str, float] = {"read-floor": 1.0}
        stats_fd = enable_stats()
        try:
            before = prog_ids()
            empty = BpfObject.open(str(work / "empty.bpf.o"))
            empty.load()
            empty.attach("empty_read", "tracepoint", "syscalls/sys_enter_read")
            ids = prog_ids() - before
            t0, c0 = run_stats(ids, ("empty_read",))
            run_loop(exe, args.calls, rfd, read=True)
            t1, c1 = run_stats(ids, ("empty_read",))
            in_kernel["read-floor"] = (t1 - t0) / max(1, c1 - c0)
            empty.close()
            empty = None
            for row, policy in (("read-perm", file_perm), ("read-quick", QUICKSTART)):
                before = prog_ids()
                agent = Agent(work, policy, cache)
                ids = prog_ids() - before
                # hook_0 is sys_enter_read; its return half (read-quick) runs on sys_exit_read
                t0, r0 = run_stats(ids, ("hook_0", "hook_0_ret"))
                c0 = run_stats(ids, ("hook_0",))[1]
                run_loop(exe, args.calls, rfd, read=True)
                t1, r1 = run_stats(ids, ("hook_0", "hook_0_ret"))
                c1 = run_stats(ids, ("hook_0",))[1]
                in_kernel[row] = (t1 - t0) / max(1, c1 - c0)
                progs_per_read[row] = (r1 - r0) / max(1, c1 - c0)
                agent.stop()
                agent = None
        finally:
            os.close(stats_fd)

        med = {k: statistics.median(v) for k, v in res.items()}
        floor_cost = med["floor"] - med["none"]
        print(f"lseek calls per run: {args.calls}, rounds: {args.rounds}")
        for k in rows:
            rounds = " ".join(f"{x:.0f}" for x in res[k])
            print(f"  {k:8s} {med[k]:7.1f} ns/call  ratio {med[k] / med['none']:.3f}  [{rounds}]")
        for k in ("nomatch", "match", "inmap"):
            mult = (med[k] - med["none"]) / floor_cost if floor_cost > 0 else float("nan")
            print(f"  {k} added cost = {mult:.2f} x the floor's")
        mult = (med["nomatch"] - med["none"]) / floor_cost if floor_cost > 0 else float("nan")
        verdict = "PASS" if mult <= 1.25 else "MISS"
        print(f"target: never-matching policy <= 1.25 x floor: {verdict}")
        rfloor = med["read-floor"] - med["read-none"]
        rmult = (med["read-perm"] - med["read-none"]) / rfloor if rfloor > 0 else float("nan")
        qmult = (med["read-quick"] - med["read-none"]) / rfloor if rfloor > 0 else float("nan")
        print(f"  read-perm added cost = {rmult:.2f} x the read floor's ({perm_hooks})")
        print(f"  read-quick added cost = {qmult:.2f} x the read floor's")
        kfloor = in_kernel["read-floor"]
        for row in ("read-floor", "read-perm", "read-quick"):
            # each program run carries the statistics' own cost: compare per program run
            n = progs_per_read[row]
            extra = in_kernel[row] - n * kfloor
            print(f"  {row} in-kernel run time {in_kernel[row]:.1f} ns/read in {n:.0f} "
                  f"program(s): +{extra:.1f} ns over as many empty ones, bpf_stats on")  # fmt: skip
        print(f"target: file monitoring on unselected reads <= 1.25 x floor: "
              f"{'PASS' if rmult <= 1.25 else 'MISS'}")  # fmt: skip
        mult = (med["inmap"] - med["none"]) / floor_cost if floor_cost > 0 else float("nan")
        verdict = "PASS" if mult <= 1.5 else "MISS"
        print(f"target: InMap of {INMAP_VALUES} values <= 1.5 x floor: {verdict}")
        total = args.calls * args.rounds
        missing = total - exported - lost
        print(f"matching calls {total}: exported {exported}, counted lost {lost}, "
              f"missing {missing} ({'PASS' if missing <= 0 else 'MISS'})")  # fmt: skip
        print(f"events exported per second: {exported / match_secs:.0f} (during the loop)")
        cached = statistics.median(loads[1:])
        verdict = "PASS" if cached < 300 else "MISS"
        print(f"policy load: cold {loads[0]:.0f} ms, cached {cached:.0f} ms "
              f"(target cached < 300 ms: {verdict})")  # fmt: skip
        target.close()
        rfile.close()
        return 0
    finally:
        if empty is not None:
            empty.close()
        if agent is not None:
            agent.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
