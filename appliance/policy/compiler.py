"""Compiles generated policy C with clang, cached on disk by content.

The cache key covers the generated source, the headers it includes and the
compiler's version, so a reload or restart of an unchanged policy never runs
clang again; the objects are CO-RE, so the same object fits any kernel.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from appliance.bpf import paths
from appliance.errors import PolicyError

_lock = threading.Lock()
_clang_version: str | None = None


def include_dir() -> str:
    found = paths.include_dir()
    if found is None:
        raise PolicyError("BPF headers (policy.h) not found; reinstall the appliance")
    return found


def clang() -> str:
    path = os.environ.get("CLANG") or shutil.which("clang")
    if not path:
        raise PolicyError("clang is needed to compile policies; install clang (>= 14)")
    return path


def clang_version() -> str:
    global _clang_version
    if _clang_version is None:
        out = subprocess.run([clang(), "--version"], capture_output=True, text=True)
        _clang_version = out.stdout.splitlines()[0] if out.stdout else "unknown"
    return _clang_version


def _target_arch() -> str:
    return {"x86_64": "x86", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def cache_key(source: str, inc: str) -> str:
    h = hashlib.sha256()
    h.update(source.encode())
    for name in sorted(os.listdir(inc)):
        if name.endswith(".h"):
            h.update(name.encode())
            h.update(Path(inc, name).read_bytes())
    h.update(clang_version().encode())
    h.update(_target_arch().encode())
    return h.hexdigest()[:32]


class CompileStats:
    compiles = 0
    hits = 0


def compile_policy(source: str, cache_dir: str) -> tuple[str, bool]:
    """-> (object path, True if it came from the cache)."""
    inc = include_dir()
    key = cache_key(source, inc)
    os.makedirs(cache_dir, exist_ok=True)
    obj = os.path.join(cache_dir, f"{key}.bpf.o")
    if os.path.exists(obj):
        CompileStats.hits += 1
        return obj, True
    with _lock, tempfile.TemporaryDirectory(prefix="tp-") as tmp:
        src = os.path.join(tmp, "policy.bpf.c")
        Path(src).write_text(source)
        out = os.path.join(tmp, "policy.bpf.o")
        cmd = [
            clang(), "-O2", "-g", "-target", "bpf", f"-D__TARGET_ARCH_{_target_arch()}",
            f"-I{inc}", "-Wall", "-Wno-unused-function", "-Wno-unused-variable",
            "-c", src, "-o", out,
        ]  # fmt: skip
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise PolicyError(f"compiling the policy failed:\n{r.stderr[-3000:]}")
        CompileStats.compiles += 1
        # write then rename: a concurrent reader never sees half an object
        tmp_obj = obj + f".{os.getpid()}.tmp"
        shutil.copyfile(out, tmp_obj)
        os.replace(tmp_obj, obj)
        Path(cache_dir, f"{key}.bpf.c").write_text(source)
    return obj, False
