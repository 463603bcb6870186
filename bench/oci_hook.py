"""The OCI hook's cost per container start, and a runc start with and without it.

    sudo .venv/bin/python bench/oci_hook.py [--count 30] [--grpc-address unix:///...]

Without --grpc-address the agent's gRPC servicer (RuntimeHook with the default registry
sink) is served on a temporary unix socket; with it, the hook calls that running agent.
Prints the median and max of ``--count`` hook invocations (a process, OCI state on stdin,
the bundle's config.json, the RuntimeHook call), its CPU time (user + system: steady when
the machine is loaded), the hook's import time alone, then
``--count`` runc starts of ``busybox true`` without and with the hook, interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from appliance.api.hub import EventHub  # noqa: E402
from appliance.api.server import Servicer, start_server  # noqa: E402
from appliance.metadata.hooks import HookRegistry, registry_sink  # noqa: E402
from tests.rthooks import runc_bundle  # noqa: E402

HOOK = os.path.join(os.path.dirname(sys.executable), "tetragon-oci-hook")


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:.1f} ms, max {max(xs) * 1000:.1f} ms"


def children_cpu() -> float:
    """User + system CPU seconds of the finished children: unlike wall-clock time, it does
    not grow when other work on a shared machine delays the hook."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--grpc-address", default="")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rthooks-bench-")
    server = None
    addr = a.grpc_address
    if not addr:
        reg = HookRegistry()
        addr = f"unix://{tmp}/tetragon.sock"
        server = start_server(addr, Servicer(EventHub(), runtime_hook_sink=registry_sink(reg)))
    try:
        logf = os.path.join(tmp, "hook.log")
        hook_args = [HOOK, f"--grpc-address={addr}", f"--log-fname={logf}", "createRuntime"]
        bundle = runc_bundle.make(os.path.join(tmp, "b"), "bench", None, {})
        state = json.dumps({"ociVersion": "1.0.2", "id": "bench", "bundle": bundle})
        hook_t, hook_cpu = [], []
        for _ in range(a.count):
            c0 = children_cpu()
            t0 = time.perf_counter()
            r = subprocess.run(hook_args, input=state, text=True, capture_output=True)
            hook_t.append(time.perf_counter() - t0)
            hook_cpu.append(children_cpu() - c0)
            if r.returncode != 0:
                print("hook failed:", r.stderr, file=sys.stderr)
                return 1
        imp = []
        for _ in range(10):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import appliance.rthooks.oci_hook"], check=True)
            imp.append(time.perf_counter() - t0)
        py = []
        for _ in range(10):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            py.append(time.perf_counter() - t0)
        print(f"hook per container start ({a.count} runs against {addr}): {ms(hook_t)}")
        print(f"  hook CPU time (user + system) per start: {ms(hook_cpu)}")
        print(f"  python start alone: {ms(py)}; python + hook module import: {ms(imp)}")
        why = runc_bundle.missing()
        if why:
            print(f"runc starts skipped: {why}")
            return 0
        plain = runc_bundle.make(os.path.join(tmp, "plain"), "bench-plain", None, {})
        hooked = runc_bundle.make(os.path.join(tmp, "hooked"), "bench-hook", hook_args, {})
        without, with_ = [], []
        for _ in range(a.count):
            for bundle_dir, name, out in (
                (plain, "bench-plain", without),
                (hooked, "bench-hook", with_),
            ):
                t0 = time.perf_counter()
                r = runc_bundle.run(bundle_dir, name)
                out.append(time.perf_counter() - t0)
                if r.returncode != 0:
                    print(f"runc {name} failed: {r.stderr}", file=sys.stderr)
                    return 1
        added = statistics.median(with_) - statistics.median(without)
        print(f"runc run (busybox true) without hook: {ms(without)}")
        print(f"runc run (busybox true) with hook:    {ms(with_)}")
        ratio = statistics.median(with_) / statistics.median(without)
        print(f"the hook adds {added * 1000:.1f} ms at the median (target < 50 ms); a start "
              f"with it takes {ratio:.2f}x the time of one without")  # fmt: skip
    finally:
        if server is not None:
            server.stop(0)
        subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
