"""The test cluster: TETRAGON_TEST_KUBECONFIG names a running one."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Cluster:
    kubeconfig: Path
    kubectl_bin: str
    node_name: str = "localhost"

    def kubectl(self, *args: str, input: str | None = None, check: bool = True):
        r = subprocess.run(
            [self.kubectl_bin, *args],
            input=input,
            capture_output=True,
            text=True,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
            timeout=120,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.returncode}\n{r.stderr}")
        return r


@pytest.fixture(scope="session")
def cluster():
    kc = os.environ.get("TETRAGON_TEST_KUBECONFIG", "")
    if not kc:
        pytest.skip("no test cluster: set TETRAGON_TEST_KUBECONFIG")
    kubectl = os.environ.get("KUBECTL") or str(Path(kc).parents[1] / "kubectl")
    return Cluster(Path(kc), kubectl)
