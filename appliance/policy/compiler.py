"""Compiles generated policy C with clang, cached on disk by content.

The cache key covers the generated source, the headers it includes and the
compiler's version, so a reload or restart of an unchanged policy never runs
clang again; the objects are CO-RE, so the same object fits any kernel.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from appliance.bpf import paths
from appliance.errors import PolicyError

log = logging.getLogger("tetragon.policy")

_lock = threading.Lock()
_clang_version: str | None = None
_private_dir: str | None = None  # objects of this process when the cache is unwritable
_unwritable: set[str] = set()  # cache directories already reported


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
    obj = os.path.join(cache_dir, f"{key}.bpf.o")
    for found in (obj, os.path.join(_private_dir or "/nonexistent", f"{key}.bpf.o")):
        if os.path.exists(found):
            CompileStats.hits += 1
            return found, True
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
        try:
            _store(out, obj, source)
        except OSError as e:
            return _store_privately(out, key, cache_dir, e), False
    return obj, False


def _store(out: str, obj: str, source: str) -> None:
    os.makedirs(os.path.dirname(obj), exist_ok=True)
    # write then rename: a concurrent reader never sees half an object
    tmp_obj = obj + f".{os.getpid()}.tmp"
    try:
        shutil.copyfile(out, tmp_obj)
        os.replace(tmp_obj, obj)
    except OSError:
        if os.path.exists(tmp_obj):
            os.unlink(tmp_obj)
        raise
    Path(obj[: -len(".o")] + ".c").write_text(source)


def _store_privately(out: str, key: str, cache_dir: str, err: OSError) -> str:
    """The cache cannot take the object: keep it in a directory of this process (removed
    at exit), so the policy still loads; the reason is logged once per directory."""
    global _private_dir
    if _private_dir is None:
        try:
            _private_dir = tempfile.mkdtemp(prefix="tetragon-policy-objects-")
        except OSError as e2:
            raise PolicyError(
                f"the policy cache {cache_dir} cannot be written ({err.strerror or err}) "
                f"and neither can a temporary directory ({e2.strerror or e2})"
            ) from None
        atexit.register(shutil.rmtree, _private_dir, True)
    if cache_dir not in _unwritable:
        _unwritable.add(cache_dir)
        log.warning(
            "policy cache %s cannot be written: %s; compiled policies are kept in %s until "
            "the agent stops (compiled again at each start); choose a writable "
            "--policy-cache-dir",
            cache_dir, err.strerror or err, _private_dir,
        )  # fmt: skip
    obj = os.path.join(_private_dir, f"{key}.bpf.o")
    shutil.copyfile(out, obj)
    return obj
