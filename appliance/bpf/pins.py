"""Policy programs pinned in the BPF filesystem, so enforcement outlives the agent.

A pinned link stays attached after the process that made it exits (a crash, a
`kill -9`, an upgrade). The next agent finds the pins, attaches its own copy of
each policy loaded again, and only then removes the old pin: no moment without
enforcement.

Layout under the BPF directory (``--bpf-dir``, relative to /sys/fs/bpf)::

    policies/<policy>/<hash>_<pid>_<id>/links/<program>
    policies/<policy>/<hash>_<pid>_<id>/maps/<map>

bpffs holds no regular files, so the compiled object's content hash (the
compiler's cache key) is carried in the instance directory's name; it refuses
names with a dot, so dots become underscores.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
from dataclasses import dataclass

from appliance.bpf.libbpf import BpfError, BpfObject

log = logging.getLogger("tetragon.pins")

BPFFS = "/sys/fs/bpf"


def bpf_root(bpf_dir: str) -> str:
    """--bpf-dir is relative to /sys/fs/bpf (as in Tetragon); an absolute path is kept."""
    return bpf_dir if os.path.isabs(bpf_dir) else os.path.join(BPFFS, bpf_dir)


def is_bpffs(path: str) -> bool:
    try:
        with open("/proc/self/mounts") as f:
            return any(
                len(p) > 2 and p[1] == path and p[2] == "bpf" for p in (ln.split() for ln in f)
            )
    except OSError:
        return False


def ensure_bpffs(path: str = BPFFS) -> bool:
    """Mount the BPF filesystem at `path` unless it is there; True if mounted now."""
    if is_bpffs(path):
        return False
    os.makedirs(path, exist_ok=True)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    if libc.mount(b"bpf", path.encode(), b"bpf", 0, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot mount the BPF filesystem at {path}: {os.strerror(err)}")
    log.info("mounted the BPF filesystem at %s", path)
    return True


def _safe(name: str) -> str:
    return name.replace(".", "_").replace("/", "_")


def pin_name(namespace: str, name: str) -> str:
    """Directory name of a policy: `name`, or `namespace:name` for a namespaced one."""
    return _safe(f"{namespace}:{name}" if namespace else name)


@dataclass(frozen=True)
class Pinned:
    """One pinned instance of a policy: which policy, which object, where."""

    policy: str
    hash: str
    path: str


class PinStore:
    """The pinned policies under one BPF directory."""

    def __init__(self, root: str):
        self.root = root
        self.policies_dir = os.path.join(root, "policies")

    def found(self) -> dict[str, list[Pinned]]:
        """Pinned instances by policy directory name (those a previous agent left)."""
        out: dict[str, list[Pinned]] = {}
        if not os.path.isdir(self.policies_dir):
            return out
        for policy in sorted(os.listdir(self.policies_dir)):
            pdir = os.path.join(self.policies_dir, policy)
            if not os.path.isdir(pdir):
                continue
            for inst in sorted(os.listdir(pdir)):
                h = inst.split("_", 1)[0]
                out.setdefault(policy, []).append(Pinned(policy, h, os.path.join(pdir, inst)))
        return out

    def pin(self, policy: str, obj_hash: str, token: str, obj: BpfObject) -> Pinned:
        """Pin every link and map of `obj`; on failure nothing of it stays pinned."""
        path = os.path.join(self.policies_dir, policy, _safe(f"{obj_hash}_{token}"))
        try:
            os.makedirs(os.path.join(path, "links"))
            os.makedirs(os.path.join(path, "maps"))
            for link in obj.links:
                link.pin(os.path.join(path, "links", _safe(link.program)))
            for m in obj.maps():
                m.pin(os.path.join(path, "maps", _safe(m.name)))
        except (BpfError, OSError):
            self.remove(Pinned(policy, obj_hash, path))
            raise
        return Pinned(policy, obj_hash, path)

    def remove(self, pinned: Pinned) -> None:
        """Unpin one instance (its links detach unless a process still holds them)."""
        shutil.rmtree(pinned.path, ignore_errors=True)
        pdir = os.path.dirname(pinned.path)
        try:
            os.rmdir(pdir)  # only when no other instance of the policy is left
        except OSError:
            pass

    def remove_root_if_empty(self) -> None:
        for d in (self.policies_dir, self.root):
            try:
                os.rmdir(d)
            except FileNotFoundError:
                continue
            except OSError:
                return


def open_store(bpf_dir: str, pin_new: bool) -> PinStore | None:
    """The store under --bpf-dir, mounting bpffs first when policies are to be pinned;
    None (with the reason logged) when the BPF filesystem cannot be used, or when
    nothing is to be pinned and, bpffs being unmounted, nothing can have been."""
    root = bpf_root(bpf_dir or "tetragon")
    under_bpffs = root.startswith(BPFFS + "/")
    if not pin_new:
        return PinStore(root) if under_bpffs and is_bpffs(BPFFS) else None
    try:
        if under_bpffs:
            ensure_bpffs(BPFFS)
        elif not is_bpffs(os.path.dirname(root)) and not is_bpffs(root):
            log.warning("--bpf-dir %s is not on a BPF filesystem: policies are not pinned", root)
            return None
    except OSError as e:
        log.warning("policies are not pinned: %s", e.strerror or e)
        return None
    return PinStore(root)
