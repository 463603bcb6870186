"""The node's name when no NODE_NAME variable gives it: the host's, even from a container.

In a container sharing the host's pid namespace (``docker run --pid=host``), the host name
of the container (its id's first characters) would name every event's node; the host's
own name is in the root of a host process in another UTS namespace than ours: pid 1
(``/proc/1/root/etc/hostname``) or, where pid 1 is not readable, the container engine's
daemon (``dockerd``, ``containerd``). Elsewhere it is ``gethostname()``.
"""

from __future__ import annotations

import os
import socket

HOST_DAEMONS = ("dockerd", "containerd")


def _host_pids(procfs: str) -> list[str]:
    """pid 1, then the engine daemons' pids (lowest first)."""
    out = ["1"]
    try:
        pids = sorted((d for d in os.listdir(procfs) if d.isdigit()), key=int)
    except OSError:
        return out
    for pid in pids:
        try:
            with open(f"{procfs}/{pid}/comm") as f:
                if f.read().strip() in HOST_DAEMONS:
                    out.append(pid)
        except OSError:
            continue
    return out


def host_name(procfs: str = "/proc") -> tuple[str, str]:
    """The host's name and where it was read."""
    try:
        ours = os.readlink(f"{procfs}/self/ns/uts")
    except OSError:
        ours = ""
    for pid in _host_pids(procfs):
        try:
            if not ours or os.readlink(f"{procfs}/{pid}/ns/uts") == ours:
                continue  # our own UTS namespace: gethostname() says the same
            path = f"{procfs}/{pid}/root/etc/hostname"
            with open(path) as f:
                name = f.readline().strip()
        except OSError:
            continue
        if name:
            return name, path
    return socket.gethostname(), "host name"
