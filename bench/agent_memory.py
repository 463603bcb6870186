#!/usr/bin/env python3
"""Where the agent's resident memory comes from at import time, against a bare interpreter.

Each measurement runs in a fresh interpreter of the same Python, so the figures of one
run compare with each other: the bare interpreter is the baseline, each package line is
what importing that package alone adds, and the last line is the agent's whole import
graph (everything `appliance.daemon` pulls in before it starts a sensor). The part of
the idle agent's RSS above that last figure is steady state (maps, ring buffers, caches).

    python3 bench/agent_memory.py
"""

from __future__ import annotations

import subprocess
import sys

PACKAGES = [
    "yaml",
    "pydantic",
    "pydantic_settings",
    "grpc",
    "google.protobuf",
    "prometheus_client",
    "orjson",
    "appliance.policy.codegen",
    "appliance.api.server",
    "appliance.settings",
    "appliance.daemon",
]

PROBE = """
import sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
base = rss()
t = time.perf_counter()
if sys.argv[1]:
    __import__(sys.argv[1])
print(base, rss(), int((time.perf_counter() - t) * 1000))
"""


def measure(module: str) -> tuple[int, int, int]:
    """RSS in KiB before and after importing module, and the import time in ms."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1]), int(out[2])


def main() -> int:
    """Print the baseline and each package's import cost."""
    base, _, _ = measure("")
    print(f"{'bare interpreter':32} RSS {base / 1024:6.1f} MB")
    for m in PACKAGES:
        before, after, ms = measure(m)
        print(
            f"{m:32} +{(after - before) / 1024:6.1f} MB  total {after / 1024:6.1f} MB  {ms:5d} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
