"""The node's name when no NODE_NAME variable gives it: the host's, even from a container.

In a container sharing the host's pid namespace (``docker run --pid=host``), the host name
of the container (its id's first characters) would name every event's node; the host's
own name is in pid 1's root (``/proc/1/root/etc/hostname``) when pid 1 is in another UTS
namespace than ours. Elsewhere it is ``gethostname()``.
"""

from __future__ import annotations

import os
import socket


def _same_uts(procfs: str) -> bool:
    try:
        return os.readlink(f"{procfs}/1/ns/uts") == os.readlink(f"{procfs}/self/ns/uts")
    except OSError:
        return True  # cannot tell: ours is as good as any


def host_name(procfs: str = "/proc") -> tuple[str, str]:
    """The host's name and where it was read."""
    if not _same_uts(procfs):
        path = f"{procfs}/1/root/etc/hostname"
        try:
            with open(path) as f:
                name = f.readline().strip()
            if name:
                return name, path
        except OSError:
            pass
    return socket.gethostname(), "host name"
