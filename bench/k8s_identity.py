"""Kubernetes identity on a real cluster: how fast, how complete, how cheap.

(a) apply-to-enforcement: a pod calls lseek(-1) every 2 ms; the time from `kubectl apply` of
    a namespaced Sigkill policy to the pod's process being killed (median and max of N).
(b) 50 new pods whose first process execs at once: the share of their exec events that
    carry the `pod` block, and the delay the event cache added (median, max).
(c) the hot-syscall cost of a namespaced policy for a host process (outside its namespace)
    against no program and an empty program on the same tracepoint (the floor), measured
    in one run with interleaved rounds; target: added cost <= 1.25x the floor's.

Needs root and a running cluster: TETRAGON_TEST_KUBECONFIG=<kubeconfig> (see tests/k8s).
Run: `sudo TETRAGON_TEST_KUBECONFIG=... .venv/bin/python bench/k8s_identity.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.policy_overhead import EMPTY_C, LOOP_C  # noqa: E402
from tests.integration.conftest import RunningAgent, RunningController, system_conf_env  # noqa: E402
from tests.k8s.conftest import Cluster  # noqa: E402

POLICY = (ROOT / "tests" / "fixtures" / "lseek-namespaced.yaml").read_text()
LOOPER = (
    "import os, time\n"
    "while True:\n"
    "    try:\n        os.lseek(-1, 0, 0)\n    except OSError:\n        pass\n"
    "    time.sleep(0.002)\n"
)


def pod(name: str, cmd: list[str], ns: str = "default", labels=None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"bench": "k8s"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {"name": "c", "image": "local/python:3", "imagePullPolicy": "Never",
                 "command": cmd}
            ],
        },
    }  # fmt: skip


def host_pid_of(agent: RunningAgent, pod_name: str, timeout: float = 30) -> int:
    ev = agent.wait_for(
        lambda e: (
            e.get("process_exec", {}).get("process", {}).get("pod", {}).get("name") == pod_name
        ),
        timeout=timeout,
    )
    return ev["process_exec"]["process"]["pid"]


def bench_apply(cluster: Cluster, agent: RunningAgent, rounds: int) -> list[float]:
    out = []
    for i in range(rounds):
        name = f"loop-{i}"
        cluster.kubectl("apply", "-f", "-", input=json.dumps(pod(name, ["python3", "-c", LOOPER])))
        cluster.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
        pid = host_pid_of(agent, name)
        t0 = time.monotonic()
        cluster.kubectl("apply", "-n", "default", "-f", "-", input=POLICY)
        while os.path.exists(f"/proc/{pid}") and time.monotonic() - t0 < 30:
            time.sleep(0.002)
        out.append(time.monotonic() - t0)
        cluster.kubectl("-n", "default", "delete", "tgtpn", "lseek-namespaced")
        cluster.kubectl("delete", "pod", name, "--wait=false")
        time.sleep(1.0)  # the delete reaches the agent before the next apply
    return out


def bench_burst(cluster: Cluster, agent: RunningAgent, n: int) -> tuple[int, int, str]:
    names = [f"burst-{i}" for i in range(n)]
    items = [pod(nm, ["python3", "-c", "pass"], labels={"burst": "1"}) for nm in names]
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                          "items": items}))  # fmt: skip
    deadline = time.monotonic() + 180
    found: dict[str, dict] = {}
    while time.monotonic() < deadline and len(found) < n:
        for e in agent.events():
            p = e.get("process_exec", {}).get("process", {})
            if p.get("binary") == "/usr/bin/python3" and p.get("arguments") == "-c pass":
                found[p["exec_id"]] = p
        time.sleep(0.5)
    with_pod = sum(
        1 for p in found.values() if p.get("pod", {}).get("name", "").startswith("burst-")
    )
    waits = [ln for ln in agent.metrics().splitlines() if ln.startswith("tetragon_event_cache")]
    cluster.kubectl("delete", "pod", "-l", "burst=1", "--wait=false")
    return len(found), with_pod, "\n".join(waits)


def prog_stats(name: str) -> tuple[int, int]:
    """(run_time_ns, run_cnt) of the newest loaded program called ``name``."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    progs = [p for p in json.loads(out.stdout or "[]") if p.get("name") == name]
    if not progs:
        return 0, 0
    p = max(progs, key=lambda p: p["id"])
    return p.get("run_time_ns", 0), p.get("run_cnt", 0)


def bench_cost(agent_policy_loaded, work: Path, calls: int, rounds: int) -> dict[str, float]:
    exe = work / "loop"
    (work / "loop.c").write_text(LOOP_C)
    subprocess.run(["cc", "-O2", "-o", str(exe), str(work / "loop.c")], check=True)
    fd = os.open("/dev/null", os.O_RDONLY)
    from appliance.bpf.libbpf import BpfObject
    from appliance.policy.compiler import include_dir

    (work / "empty.bpf.c").write_text(EMPTY_C)
    obj_path = work / "empty.bpf.o"
    subprocess.run(
        ["clang", "-O2", "-g", "-target", "bpf", "-I", include_dir(), "-c",
         str(work / "empty.bpf.c"), "-o", str(obj_path)], check=True,
    )  # fmt: skip

    def loop() -> float:
        r = subprocess.run([str(exe), str(calls), str(fd)], capture_output=True, text=True,
                           pass_fds=(fd,))  # fmt: skip
        return int(r.stdout) / calls

    res: dict[str, list[float]] = {
        "none": [], "floor": [], "namespaced": [], "floor_prog": [], "namespaced_prog": []
    }  # fmt: skip
    stats = Path("/proc/sys/kernel/bpf_stats_enabled")
    was = stats.read_text().strip()
    stats.write_text("1")
    try:
        for _ in range(rounds):
            res["none"].append(loop())
            obj = BpfObject.open(str(obj_path))
            obj.load()
            obj.attach("empty")
            t0, c0 = prog_stats("empty")
            res["floor"].append(loop())
            t1, c1 = prog_stats("empty")
            res["floor_prog"].append((t1 - t0) / max(1, c1 - c0))
            obj.close()
            with agent_policy_loaded():
                t0, c0 = prog_stats("hook_0")
                res["namespaced"].append(loop())
                t1, c1 = prog_stats("hook_0")
                res["namespaced_prog"].append((t1 - t0) / max(1, c1 - c0))
    finally:
        stats.write_text(was)
    return {k: statistics.median(v) for k, v in res.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--applies", type=int, default=10)
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    kc = os.environ.get("TETRAGON_TEST_KUBECONFIG")
    if not kc:
        print("set TETRAGON_TEST_KUBECONFIG to a running test cluster (see tests/k8s)")
        return 2
    kubectl = os.environ.get("KUBECTL") or str(Path(kc).parents[1] / "kubectl")
    cluster = Cluster(Path(kc), Path(kubectl), None)
    work = Path(tempfile.mkdtemp(prefix="bench-k8s-"))
    agent = RunningAgent(work, ["--metadata-source", "kubernetes", "--k8s-kubeconfig-path", kc,
                                "--node-name", "localhost", "--enable-policy-filter"])  # fmt: skip
    (work / "p").mkdir()
    (work / "c").mkdir()
    ctl = RunningController(agent, work, work / "p", work / "c", env=system_conf_env(work),
                            extra_args=["--k8s-kubeconfig-path", kc,
                                        "--metadata-source", "kubernetes"])  # fmt: skip
    try:
        ctl.wait_log("Initialization complete", timeout=30)
        lat = bench_apply(cluster, agent, a.applies)
        print(f"(a) apply -> enforcement over {len(lat)} applies: median "
              f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms "
              f"(target median < 1000 ms)")  # fmt: skip
        seen, with_pod, waits = bench_burst(cluster, agent, a.pods)
        print(f"(b) {a.pods} new pods: {seen} exec events seen, {with_pod} with their pod block "
              f"({100 * with_pod / max(1, seen):.0f}%)\n{waits}")  # fmt: skip

        from contextlib import contextmanager

        @contextmanager
        def loaded():
            cluster.kubectl("apply", "-n", "default", "-f", "-", input=POLICY)
            deadline = time.monotonic() + 20
            mark = agent.log.read_text().count("policy lseek-namespaced loaded")
            while agent.log.read_text().count("policy lseek-namespaced loaded") <= mark - 1:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(0.3)
            try:
                yield
            finally:
                cluster.kubectl("-n", "default", "delete", "tgtpn", "lseek-namespaced")
                time.sleep(0.5)

        cost = bench_cost(loaded, work, a.calls, a.rounds)
        floor = cost["floor"] - cost["none"]
        added = cost["namespaced"] - cost["none"]
        ratio = added / floor if floor > 0 else float("nan")
        print(f"(c) lseek ns/call: none {cost['none']:.0f}, floor {cost['floor']:.0f}, "
              f"namespaced policy (host process) {cost['namespaced']:.0f}; added cost "
              f"{ratio:.2f}x the floor's (target <= 1.25)")  # fmt: skip
        print(f"    in-kernel run time per call (kernel.bpf_stats_enabled): empty program "
              f"{cost['floor_prog']:.0f} ns, namespaced policy for a host process "
              f"{cost['namespaced_prog']:.0f} ns")  # fmt: skip
    finally:
        ctl.stop()
        agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
