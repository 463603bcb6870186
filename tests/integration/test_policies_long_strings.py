"""String comparisons past 512 bytes, for real: Postfix values longer than 512 bytes, and
short Postfix values against strings longer than 512 bytes, match and do not match as
they should (the in-kernel offset of the tail used to be cut to 9 bits).

The policies post events for openat() of paths under a directory that does not exist, so
they disturb no other process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    policy_yaml,
    wait_policy_event,
)

BASE = "/nonexistent-fault-postfix"


agent = agent_fixture()


def _path(total: int, tail: str) -> str:
    """A path of `total` bytes under BASE ending in `tail`, in components of <= 200."""
    head = f"{BASE}/{uuid.uuid4().hex[:8]}"
    body = total - len(head) - len(tail)
    assert body > 1
    parts, left = [], body
    while left > 0:
        n = min(200, left)
        parts.append("/" + "d" * (n - 1) if n > 1 else "/")
        left -= n
    p = head + "".join(parts) + tail
    assert len(p) == total, (len(p), total)
    return p


def _open(path: str) -> None:
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError:
        pass


def _policy(name: str, values: list[str], operator: str = "Postfix") -> str:
    selector = arg_selector(1, operator, *values)
    return policy_yaml(name, "sys_openat", [(1, "string")], selector)


def _matched(agent, name: str, paths: list[str], marker: str) -> set[str]:
    """Open each path, then the marker (which every policy here matches); the paths
    the policy reported before the marker's event."""
    for p in paths:
        _open(p)
    _open(marker)
    seen: set[str] = set()

    def pred(e: dict) -> bool:
        ev = e.get("process_kprobe", {})
        if ev.get("policy_name") != name:
            return False
        arg = ev["args"][0].get("string_arg", "")
        seen.add(arg)
        return arg == marker

    agent.wait_for(pred, timeout=15)
    return seen - {marker}


def test_postfix_value_longer_than_512_bytes(agent, tmp_path):
    tail = "/" + "t" * 250 + "/" + "u" * 250 + "/" + "v" * 99  # 602 bytes
    marker_tail = "/fault-postfix-marker"
    match = _path(700, tail)
    near = _path(700, "/" + "T" + tail[2:])  # the value's first byte differs
    last = _path(700, tail[:-1] + "w")  # its last byte differs
    short = tail[1:]  # shorter than the value
    text = _policy("long-postfix", [tail, marker_tail])
    with Policy(agent, tmp_path, text):
        marker = _path(300, marker_tail)
        seen = _matched(agent, "long-postfix", [match, near, last, short], marker)
    assert seen == {match}, sorted(len(s) for s in seen)


def test_short_postfix_against_strings_longer_than_512_bytes(agent, tmp_path):
    tail = "/fault-postfix-tail.yaml"
    marker_tail = "/fault-postfix-marker2"
    long_match = [_path(n, tail) for n in (513, 700, 900, 1022)]
    long_miss = [_path(900, tail[:-1] + "x"), _path(1000, "/x" + tail[2:])]
    text = _policy("short-postfix", [tail, marker_tail])
    with Policy(agent, tmp_path, text):
        marker = _path(100, marker_tail)
        seen = _matched(agent, "short-postfix", long_match + long_miss, marker)
    assert seen == set(long_match), sorted(len(s) for s in seen)


def test_binary_postfix_longer_than_128_bytes(agent, tmp_path):
    """matchBinaries Postfix values up to 255 bytes (the binary name kept in the kernel):
    a copy of cat under a long path matches, the same copy elsewhere does not."""
    d = tmp_path / ("b" * 60) / ("c" * 60)
    d.mkdir(parents=True)
    cat = d / "fault-cat"
    other = tmp_path / "fault-cat"
    for c in (cat, other):
        shutil.copy(shutil.which("cat"), c)
    assert len(str(cat)) < 255, "the binary name must fit the kernel's 255 bytes"
    postfix = str(cat)[-150:]
    binary = f'matchBinaries:\n- operator: "Postfix"\n  values:\n  - "{postfix}"'
    selector = arg_selector(1, "Prefix", f"{BASE}/", then=binary)
    text = policy_yaml("long-binary-postfix", "sys_openat", [(1, "string")], selector)
    tag = uuid.uuid4().hex[:8]
    with Policy(agent, tmp_path, text):
        for exe, name in ((other, "miss"), (cat, "hit")):
            subprocess.run([str(exe), f"{BASE}/{name}-{tag}"], capture_output=True)
        ev = wait_policy_event(agent, "long-binary-postfix", timeout=15)
        assert ev["args"][0]["string_arg"] == f"{BASE}/hit-{tag}", ev["args"]
        assert ev["process"]["binary"] == str(cat)
