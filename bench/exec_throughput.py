#!/usr/bin/env python3
"""Exec throughput without and with the agent, in the same run.

The workload forks and execs /bin/true many times, as fast as the host allows,
from a small C helper compiled at run time (a Python fallback with
os.posix_spawn is used when there is no C compiler). Baseline runs and runs
with the agent are interleaved, round after round, because the host is shared
and noisy; the report gives the per-round figures, the median ratio of the
agent run's time to the baseline run's time, and the events lost: messages the
kernel could not queue on the ring buffer and execs of the run that are
missing from the export file.

Run as root from anywhere (the agent is started from the repository root):

    python3 bench/exec_throughput.py [--count 20000] [--jobs N] [--rounds 3]

Exit status: 0 when the benchmark ran (the targets are printed as PASS/MISS and
never fail the run, the host is too noisy for that); 1 when something broke
(the agent did not start, the workload failed); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import gzip
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRUE = "/bin/true"
TARGET_RATIO = 1.05
TARGET_LOST = 0

HELPER_C = r"""
/* fork + execv(BINARY) + waitpid, COUNT times in JOBS parallel loops.
 * Prints "<execs that exited 0> <elapsed ns>". On SIGTERM it kills its loops
 * and, as child subreaper, reaps them and their orphaned children. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static long loop(long n, char *const argv[])
{
	long ok = 0;
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			break;
		}
		if (pid == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	}
	return ok;
}

int main(int argc, char **argv)
{
	/* the token is in the environment: only the children's argv carries it */
	char *token = getenv("EXEC_BENCH_TOKEN");
	if (argc != 4 || !token) {
		fprintf(stderr, "usage: EXEC_BENCH_TOKEN=T %s COUNT JOBS BINARY\n", argv[0]);
		return 2;
	}
	long count = atol(argv[1]);
	long jobs = atol(argv[2]);
	char *const child_argv[] = {argv[3], token, NULL};
	int fds[2];
	struct timespec t0, t1;
	struct sigaction sa;

	if (jobs < 1)
		jobs = 1;
	pid_t *workers = calloc(jobs, sizeof(pid_t));
	if (!workers || pipe(fds) < 0) {
		perror("setup");
		return 1;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term; /* no SA_RESTART: read() below returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long j = 0; j < jobs && !stop; j++) {
		long n = count / jobs + (j < count % jobs ? 1 : 0);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			stop = 1;
			break;
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			close(fds[0]);
			long ok = stop ? 0 : loop(n, child_argv);
			if (write(fds[1], &ok, sizeof(ok)) != sizeof(ok))
				_exit(1);
			_exit(0);
		}
		workers[j] = pid;
	}
	close(fds[1]);
	long total = 0, ok;
	while (!stop && read(fds[0], &ok, sizeof(ok)) == sizeof(ok))
		total += ok;
	if (stop)
		for (long j = 0; j < jobs; j++)
			if (workers[j] > 0)
				kill(workers[j], SIGKILL);
	while (wait(NULL) > 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (stop)
		return 1;
	long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	printf("%ld %lld\n", total, ns);
	return 0;
}
"""


class BenchError(Exception):
    """Something broke: the benchmark cannot give a figure."""


# -- the workload --------------------------------------------------------------------
@dataclass
class RunResult:
    execs: int  # execs that succeeded
    seconds: float

    @property
    def rate(self) -> float:
        return self.execs / self.seconds if self.seconds > 0 else 0.0


class Workload:
    """Runs COUNT fork+exec of /bin/true in JOBS loops; each run has its own token."""

    def __init__(self, workdir: str, jobs: int, force_python: bool = False):
        self.jobs = jobs
        self.helper: str | None = None
        if not force_python:
            self.helper = _compile_helper(workdir)
        self.kind = "C helper (fork+execv+waitpid)" if self.helper else "Python os.posix_spawn"

    def run(self, count: int, token: str) -> RunResult:
        if self.helper:
            return self._run_helper(count, token)
        return self._run_python(count, token)

    def _run_helper(self, count: int, token: str) -> RunResult:
        p = subprocess.Popen(
            [self.helper, str(count), str(self.jobs), TRUE],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "EXEC_BENCH_TOKEN": token},
            start_new_session=True,  # the helper and its loops: one process group
        )
        try:
            out, err = p.communicate()
        except BaseException:
            # interrupted: the helper kills its loops and reaps them on SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)  # its own process group
                p.wait()
            raise
        if p.returncode != 0:
            raise BenchError(f"workload helper failed ({p.returncode}): {err.strip()}")
        ok, ns = out.split()
        return RunResult(int(ok), int(ns) / 1e9)

    def _run_python(self, count: int, token: str) -> RunResult:
        ok = [0] * self.jobs
        errors: list[BaseException] = []

        def loop(j: int, n: int) -> None:
            try:
                for _ in range(n):
                    pid = os.posix_spawn(TRUE, [TRUE, token], os.environ)
                    _, st = os.waitpid(pid, 0)
                    if os.waitstatus_to_exitcode(st) == 0:
                        ok[j] += 1
            except BaseException as e:  # reported after the join
                errors.append(e)

        threads = [
            threading.Thread(
                target=loop, args=(j, count // self.jobs + (j < count % self.jobs)), daemon=True
            )
            for j in range(self.jobs)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        dt = time.perf_counter() - t0
        if errors:
            raise BenchError(f"workload failed: {errors[0]}")
        return RunResult(sum(ok), dt)


def _compile_helper(workdir: str) -> str | None:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc or not shutil.which(cc):
        print("no C compiler found: falling back to os.posix_spawn (slower workload)")
        return None
    src = os.path.join(workdir, "exec_loop.c")
    exe = os.path.join(workdir, "exec_loop")
    with open(src, "w") as f:
        f.write(HELPER_C)
    r = subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"compiling the helper failed, falling back to os.posix_spawn:\n{r.stderr}")
        return None
    return exe


# -- the agent -----------------------------------------------------------------------
@dataclass
class AgentRun:
    result: RunResult
    startup_s: float
    drain_s: float
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    exported: int = 0  # process_exec events of this run in the export file
    cpu_s: float = 0.0  # the agent's CPU time (user + system) from the run's start to caught up

    @property
    def ring_lost(self) -> int:
        return int(self.metrics.get("tetragon_events_lost_total", {}).get("ring_buffer", 0))

    @property
    def grpc_lost(self) -> int:
        return int(self.metrics.get("tetragon_events_lost_total", {}).get("grpc_queue", 0))

    @property
    def missing(self) -> int:
        return max(0, self.result.execs - self.exported)

    @property
    def lost(self) -> int:
        # the ring buffer count covers every message of the host (exec, fork, exit),
        # the missing count only this run's execs; they overlap when ours were dropped
        return max(self.ring_lost + self.grpc_lost, self.missing)


class Agent:
    """One agent process, started for one measured run and stopped by its PID."""

    def __init__(self, cmd: list[str], extra: list[str], workdir: str, timeout: float):
        self.dir = tempfile.mkdtemp(prefix="exec-bench-", dir=workdir)
        self.export = os.path.join(self.dir, "events.json")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.grpc_port, self.metrics_port = _free_port(), _free_port()
        self.cmd = [
            *cmd,
            "--export-filename",
            self.export,
            "--export-file-max-backups",
            "0",  # keep every rotated file: they are all counted
            "--server-address",
            f"localhost:{self.grpc_port}",
            "--metrics-server",
            f"localhost:{self.metrics_port}",
            *extra,
        ]
        self.timeout = timeout
        self.cwd = REPO  # the checkout whose agent runs (bench/agent_memory.py compares two)
        self.env: dict[str, str] | None = None
        self.proc: subprocess.Popen | None = None
        self._counted: dict[str, tuple[tuple, int]] = {}

    def start(self) -> float:
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is handled by us
            )
        healthy_at = None
        while True:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"the agent exited with status {self.proc.returncode} while starting:\n"
                    + self.log_tail()
                )
            if "agent running" in self._read_log():
                return time.monotonic() - t0
            # an agent that logs differently: its gRPC health check is the sign
            if healthy_at is None and _grpc_healthy(self.grpc_port):
                healthy_at = time.monotonic()
            if healthy_at is not None and time.monotonic() - healthy_at > 5:
                return time.monotonic() - t0
            if time.monotonic() - t0 > self.timeout:
                raise BenchError(
                    f"the agent did not start within {self.timeout:.0f} s:\n" + self.log_tail()
                )
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the agent process (all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metrics(self) -> dict[str, dict[str, float]]:
        url = f"http://localhost:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            return _parse_metrics(r.read().decode())

    def drain(self, token: str, execs: int, timeout: float, quiet: float = 3.0) -> float:
        """Wait until the agent has caught up with the run: the exec and exit events of
        its `execs` processes are all exported, or none came for `quiet` seconds (some
        were lost), or `timeout` passed. Other processes of the host do not matter."""
        t0 = time.monotonic()
        last, last_change = -1, t0
        while True:
            now = time.monotonic()
            n = self._token_count(token.encode())
            if n >= 2 * execs or now - t0 > timeout:
                return now - t0
            if n != last:
                last, last_change = n, now
            elif now - last_change > quiet:
                return last_change - t0
            time.sleep(0.1)

    def _token_count(self, tok: bytes) -> int:
        """Occurrences of the run's token in the export files: one per exec and per exit
        event of the run's processes (their parent, the workload, does not carry it)."""
        n = 0
        for path in glob.glob(os.path.join(self.dir, "events*")):
            try:
                st = os.stat(path)
            except OSError:
                continue  # rotated away between glob and stat
            key = (path, st.st_size, st.st_mtime_ns)
            cached = self._counted.get(path)
            if cached is not None and cached[0] == key:
                n += cached[1]
                continue
            opener = gzip.open if path.endswith(".gz") else open
            try:
                with opener(path, "rb") as f:
                    c = f.read().count(tok)
            except (OSError, EOFError):
                continue
            self._counted[path] = (key, c)
            n += c
        return n

    def stop(self) -> None:
        """SIGTERM to the agent's PID, SIGKILL if it does not stop."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            p.wait()
            raise BenchError("the agent did not stop on SIGTERM within 30 s") from None

    def count_execs(self, token: str) -> int:
        """process_exec events of /bin/true run with this run's token, all export files."""
        tok = token.encode()
        n = 0
        for path in glob.glob(os.path.join(self.dir, "events*")):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                for line in f:
                    if tok not in line or b'"process_exec"' not in line:
                        continue
                    proc = json.loads(line)["process_exec"]["process"]
                    if proc.get("binary") == TRUE and proc.get("arguments") == token:
                        n += 1
        return n

    def _read_log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self._read_log().splitlines()[-lines:])

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _grpc_healthy(port: int) -> bool:
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    try:
        import grpc

        from appliance.api.tetragon import sensors_pb2_grpc, tetragon_pb2
    except ImportError:
        return False
    try:
        with grpc.insecure_channel(f"localhost:{port}") as ch:
            stub = sensors_pb2_grpc.FineGuidanceSensorsStub(ch)
            stub.GetHealth(tetragon_pb2.GetHealthStatusRequest(), timeout=0.5)
        return True
    except grpc.RpcError:
        return False


_METRIC_RE = re.compile(r'^(\w+)\{\w+="([^"]*)"\}\s+(\S+)$')


def _parse_metrics(text: str) -> dict[str, dict[str, float]]:
    """Single-label samples only: {name: {label value: value}}."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        m = _METRIC_RE.match(line)
        if m:
            out.setdefault(m.group(1), {})[m.group(2)] = float(m.group(3))
    return out


def _bpf_link_holders() -> dict[int, str]:
    """Processes holding BPF links (other agents, tracers): {pid: command line}."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if not any(os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:bpf_link" for fd in fds):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out[int(pid)] = cmd
    return out


# -- the benchmark -------------------------------------------------------------------
def _token() -> str:
    return "exec-bench-" + uuid.uuid4().hex[:12]


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def bench(args: argparse.Namespace) -> int:
    agent_cmd = shlex.split(args.agent_cmd)
    agent_extra = shlex.split(args.agent_args)
    print(
        f"exec throughput: {args.count} execs of {TRUE} per run, {args.jobs} parallel "
        f"loop(s), {args.rounds} round(s) of baseline + agent"
    )
    print(f"agent: {shlex.join(agent_cmd + agent_extra)} (from {REPO})")
    workdir = tempfile.mkdtemp(prefix="exec-bench-")
    baselines: list[RunResult] = []
    runs: list[AgentRun] = []
    agent: Agent | None = None
    try:
        work = Workload(workdir, args.jobs, force_python=args.python_workload)
        print(f"workload: {work.kind}; export files in {args.tmpfs}")
        work.run(min(args.count, 1000), _token())  # warm the caches
        others = _bpf_link_holders()
        if others:
            print(
                f"note: {len(others)} other process(es) hold BPF links (other agents or "
                "tracers); both runs of each round pay for them:"
            )
            for pid, cmd in sorted(others.items()):
                print(f"  {pid} {cmd[:100]}")
        for rnd in range(1, args.rounds + 1):
            base = work.run(args.count, _token())
            baselines.append(base)

            agent = Agent(agent_cmd, agent_extra, args.tmpfs, args.startup_timeout)
            startup = agent.start()
            token = _token()
            cpu0 = agent.cpu_seconds()
            res = work.run(args.count, token)
            drain = agent.drain(token, res.execs, args.drain_timeout)
            cpu = agent.cpu_seconds() - cpu0
            metrics = agent.metrics()
            agent.stop()
            run = AgentRun(res, startup, drain, metrics, agent.count_execs(token), cpu)
            agent.cleanup()
            agent = None
            runs.append(run)

            print(
                f"round {rnd}: baseline {base.seconds:6.3f} s {base.rate:8.0f} execs/s | "
                f"agent {res.seconds:6.3f} s {res.rate:8.0f} execs/s | "
                f"ratio {res.seconds / base.seconds:5.3f} | "
                f"start {startup:4.1f} s, caught up {drain:4.1f} s after"
            )
            print(
                f"         agent CPU {cpu:6.2f} s ({1e6 * cpu / max(res.execs, 1):4.0f} us per "
                f"exec) | exported {run.exported}/{res.execs}, ring buffer lost {run.ring_lost}"
            )
            if base.execs != args.count or res.execs != args.count:
                print(f"  warning: {base.execs} and {res.execs} of {args.count} execs succeeded")
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    finally:
        if agent is not None:
            agent.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)

    ratios = [r.result.seconds / b.seconds for r, b in zip(runs, baselines, strict=True)]
    ratio = statistics.median(ratios)
    base_rate = statistics.median(b.rate for b in baselines)
    agent_rate = statistics.median(r.result.rate for r in runs)
    ring = sum(r.ring_lost for r in runs)
    grpc_q = sum(r.grpc_lost for r in runs)
    missing = sum(r.missing for r in runs)
    lost = sum(r.lost for r in runs)
    print()
    print(f"baseline: {base_rate:.0f} execs/s (median)")
    print(f"agent:    {agent_rate:.0f} execs/s (median)")
    cpu_per_exec = statistics.median(r.cpu_s / max(r.result.execs, 1) for r in runs)
    print(f"agent CPU: {1e6 * cpu_per_exec:.0f} us per exec (median)")
    print(f"ratio (agent time / baseline time): {' '.join(f'{x:.3f}' for x in ratios)}")
    print(f"median ratio: {ratio:.3f}")
    extra = f", grpc queue {grpc_q}" if grpc_q else ""
    print(f"events lost: {lost} (ring buffer {ring}, missing from export {missing}{extra})")
    print(f"target ratio <= {TARGET_RATIO}: {'PASS' if ratio <= TARGET_RATIO else 'MISS'}")
    print(f"target {TARGET_LOST} lost: {'PASS' if lost <= TARGET_LOST else 'MISS'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        ncpu = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        ncpu = os.cpu_count() or 1
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=20000, help="execs per run (default 20000)")
    ap.add_argument(
        "--jobs", type=int, default=ncpu, help=f"parallel exec loops (default: CPUs, {ncpu})"
    )
    ap.add_argument("--rounds", type=int, default=3, help="baseline + agent rounds (default 3)")
    ap.add_argument(
        "--agent-cmd",
        default=f"{shlex.quote(sys.executable)} -m appliance.agent",
        help="command that starts the agent, run from the repository root "
        "(default: python3 -m appliance.agent)",
    )
    ap.add_argument("--agent-args", default="", help="extra agent arguments, one string")
    ap.add_argument(
        "--tmpfs", default="/dev/shm", help="directory for the export files (default /dev/shm)"
    )
    ap.add_argument("--startup-timeout", type=float, default=60.0, help="seconds (default 60)")
    ap.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the agent to catch up after a run (default 120)",
    )
    ap.add_argument(
        "--python-workload", action="store_true", help="use os.posix_spawn, not the C helper"
    )
    args = ap.parse_args(argv)
    if args.count < 1 or args.jobs < 1 or args.rounds < 1:
        ap.error("--count, --jobs and --rounds must be at least 1")
    if os.geteuid() != 0:
        print("error: the agent loads BPF programs: run as root", file=sys.stderr)
        return 1
    if not os.path.isdir(args.tmpfs):
        ap.error(f"--tmpfs {args.tmpfs} is not a directory")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
