"""`tetra debug release-pinned-bpf`: remove every pin an agent left under the BPF
directory (policies and the process sensor), on this host, without an agent.

With --release-pinned-bpf=false a stopped agent leaves its policies enforced in the
kernel; this is how to lift them when no agent will run again (uninstall.sh --purge
does the same).
"""

from __future__ import annotations

import os
import re
import sys


def _holders(root: str) -> set[int]:
    """Agent pids named in the pins' directory names that are still running."""
    pids: set[int] = set()
    for _dirpath, dirnames, _files in os.walk(root):
        for d in dirnames:
            m = re.fullmatch(r"(?:[0-9a-f]+_)?(\d+)(?:_\d+)?", d)
            if m and os.path.exists(f"/proc/{m.group(1)}"):
                pids.add(int(m.group(1)))
    return pids


def cmd_release_pinned_bpf(args) -> int:
    from appliance.bpf.pins import PinStore, bpf_root
    from appliance.bpf.sensor_pins import release_all

    root = bpf_root(args.bpf_dir)
    if not os.path.isdir(root):
        print(f"nothing pinned: {root} does not exist")
        return 0
    if os.geteuid() != 0:
        print(f"tetra: removing the pins under {root} needs root", file=sys.stderr)
        return 1
    running = _holders(root)
    policies, sensors = release_all(PinStore(root))
    print(
        f"released {len(policies)} pinned policies"
        + (f" ({', '.join(policies)})" if policies else "")
        + (f" and the {', '.join(sensors)} sensor" if sensors else "")
        + f" from {root}"
    )
    if running:
        print(
            f"note: agent pid {', '.join(map(str, sorted(running)))} still runs; its "
            "policies stay enforced until it stops but no longer survive it",
            file=sys.stderr,
        )
    if os.path.exists(root):
        print(f"tetra: {root} is not empty: {sorted(os.listdir(root))}", file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    d = sub.add_parser("debug", help="inspect or clean up BPF state on this host")
    ds = d.add_subparsers(dest="debugcmd", required=True)
    r = ds.add_parser(
        "release-pinned-bpf",
        help="remove every program and map an agent left pinned (no agent needed; root)",
    )
    r.add_argument(
        "--bpf-dir",
        default="tetragon",
        help="the agent's --bpf-dir, relative to /sys/fs/bpf (default %(default)s)",
    )
    r.set_defaults(func=cmd_release_pinned_bpf)
