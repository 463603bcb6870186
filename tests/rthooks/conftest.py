"""Helpers for the runtime hook tests: a real gRPC peer on a unix socket, a bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent import futures

import grpc
import pytest

from appliance.api.hub import EventHub
from appliance.api.server import Servicer, start_server

HOOK = os.path.join(os.path.dirname(sys.executable), "tetragon-oci-hook")
CID = "1d18fd58f0879f6152a1c421f8f1e0987845394ee17001a16bee2df441c112f3"
POD_UID = "43ec7f32-3c9f-429f-a01c-fbaafff9f8e1"


@pytest.fixture
def agent(tmp_path):
    """The agent's gRPC servicer with a sink that records each ContainerStart."""
    seen = []
    sock = f"unix://{tmp_path}/tetragon.sock"
    server = start_server(sock, Servicer(EventHub(), runtime_hook_sink=seen.append), workers=2)
    yield sock, seen
    server.stop(0)


@pytest.fixture
def hanging_agent(tmp_path):
    """A peer that accepts the call and never answers (until the test ends)."""
    done = threading.Event()

    def never(request, context):
        done.wait(30)
        return b""

    handler = grpc.method_handlers_generic_handler(
        "tetragon.FineGuidanceSensors",
        {"RuntimeHook": grpc.unary_unary_rpc_method_handler(never)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    sock = f"unix://{tmp_path}/hang.sock"
    server.add_insecure_port(sock)
    server.start()
    yield sock
    done.set()
    server.stop(0)


def make_bundle(path, namespace: str = "default", cgroups: str = "", config: bool = True) -> str:
    """A bundle directory whose config.json carries containerd's CRI annotations."""
    os.makedirs(path, exist_ok=True)
    if config:
        spec = {
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "annotations": {
                "io.kubernetes.cri.container-name": "test",
                "io.kubernetes.cri.sandbox-name": "test",
                "io.kubernetes.cri.sandbox-namespace": namespace,
                "io.kubernetes.cri.sandbox-uid": POD_UID,
            },
            "linux": {"cgroupsPath": cgroups or f"/kubepods/besteffort/pod{POD_UID}/{CID}"},
        }
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump(spec, f)
    return str(path)


def run_hook(args, stdin: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HOOK, *args], input=stdin, capture_output=True, text=True, timeout=timeout
    )


def log_lines(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]
