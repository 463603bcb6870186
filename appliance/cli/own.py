"""The appliance's own processes, kept out of ``tetra getevents`` unless asked for.

Run as ``docker exec tetragon tetra getevents``, the client is in the appliance's
container, with the agent, the controller, supervisord and the image's healthcheck
(``tetra status`` every 30 s): their events would fill the view. The default view leaves
out the container ``tetra`` itself runs in (its id from ``/proc/self/cgroup``);
``--include-own-container`` (or ``TETRA_INCLUDE_OWN_CONTAINER=1``) shows it. On the host
there is no such container and nothing is left out.
"""

from __future__ import annotations

import os

from appliance.events.common import container_id


def own_container_id(cgroup_file: str = "/proc/self/cgroup") -> str:
    """The (31-character) id of the container this process runs in, "" on the host."""
    try:
        with open(cgroup_file) as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        cid = container_id(line.rsplit("/", 1)[-1])  # the cgroup name: its last component
        if cid:
            return cid
    return ""


def own_container_filter(include: bool, cgroup_file: str = "/proc/self/cgroup") -> dict | None:
    """A deny filter for the client's own container, or None (asked for, or on the host)."""
    if include or os.environ.get("TETRA_INCLUDE_OWN_CONTAINER", "") in ("1", "true"):
        return None
    cid = own_container_id(cgroup_file)
    return {"container_id": ["^" + cid]} if cid else None
