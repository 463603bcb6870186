#!/usr/bin/python3
"""runc wrapper: drop from a container's capability sets those missing from our own
bounding set (this host lacks CAP_SYS_RESOURCE, and runc fails on a capability it cannot
grant), then exec the real runc."""

import json
import os
import sys

REAL = os.environ.get("RUNC_REAL", "/usr/bin/runc")


def bounding() -> int:
    """Our capability bounding set as a bit mask."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


def allowed(name: str, mask: int, numbers: dict[str, int]) -> bool:
    n = numbers.get(name)
    return n is None or bool(mask >> n & 1)


def fix(path: str, is_process: bool) -> None:
    """Rewrite the capabilities of the spec (or process) JSON at path in place."""
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, ValueError):
        return
    proc = spec if is_process else spec.get("process", {})
    caps = proc.get("capabilities") or {}
    mask = bounding()
    names = (
        "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
        "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
        "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
        "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
        "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
        "CHECKPOINT_RESTORE"
    ).split()
    numbers = {"CAP_" + n: i for i, n in enumerate(names)}
    changed = False
    for key, lst in caps.items():
        if isinstance(lst, list):
            new = [c for c in lst if allowed(c, mask, numbers)]
            if new != lst:
                caps[key], changed = new, True
    if changed:
        with open(path + ".tmp", "w") as f:
            json.dump(spec, f)
        os.replace(path + ".tmp", path)


def option(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


args = sys.argv[1:]
if "create" in args or "run" in args:
    bundle = option(args, "--bundle", "-b") or "."
    fix(os.path.join(bundle, "config.json"), False)
elif "exec" in args:
    p = option(args, "--process", "-p")
    if p:
        fix(p, True)
os.execv(REAL, [REAL, *args])
