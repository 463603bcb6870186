"""The per-file verdict cache of the file equivalents never hides a read it should post.

A file no selector's path condition matches is remembered (bpf/include/file_verdict.h);
these tests read such a file until it is cached, then make it one that matches, or read a
matching file where the cached one was, and expect the event each time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest

from .test_getting_started import ON_EQUIVALENTS, PYTHON, start_agent
from .test_policies import Policy

pytestmark = pytest.mark.skipif(
    not ON_EQUIVALENTS, reason="this kernel hooks security_file_permission itself"
)


def _policy(name: str, selectors: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata:
          name: "{name}"
        spec:
          kprobes:
          - call: "security_file_permission"
            syscall: false
            args:
            - index: 0
              type: "file"
            - index: 1
              type: "int"
            selectors:
        """) + textwrap.indent(textwrap.dedent(selectors), "    ")


def _prefix(prefix: str, binary: str = "") -> str:
    sel = f'- matchArgs:\n  - index: 0\n    operator: "Prefix"\n    values:\n    - "{prefix}"\n'
    if binary:
        sel += f'  matchBinaries:\n  - operator: "In"\n    values:\n    - "{binary}"\n'
    return sel


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = start_agent(tmp_path_factory)
    yield a
    a.stop()


def _reads_of(agent, policy: str, path: str) -> list[dict]:
    return [
        e["process_kprobe"]
        for e in agent.events()
        if e.get("process_kprobe", {}).get("policy_name") == policy
        and e["process_kprobe"]["args"][0]["file_arg"]["path"] == path
    ]


def test_a_renamed_ancestor_is_seen_at_once(agent, tmp_path):
    plain, secret = tmp_path / "plain", tmp_path / "secret"
    plain.mkdir()
    (plain / "f").write_text("data")
    code = textwrap.dedent(f"""\
        import os
        fd = os.open({str(plain / "f")!r}, os.O_RDONLY)
        for _ in range(5):
            os.pread(fd, 1, 0)   # cached: no selector names this path
        os.rename({str(plain)!r}, {str(secret)!r})
        os.pread(fd, 1, 0)       # the same open file, now under the selected directory
    """)
    with Policy(agent, tmp_path, _policy("verdict-rename", _prefix(f"{secret}/"))):
        subprocess.run([PYTHON, "-c", code], check=True)
        agent.wait_for(lambda e: bool(_reads_of(agent, "verdict-rename", f"{secret}/f")))


def test_a_file_at_the_address_of_a_cached_one_is_seen(agent, tmp_path):
    (tmp_path / "plain").write_text("data")
    (tmp_path / "secret").write_text("data")
    code = textwrap.dedent(f"""\
        import os
        for i in range(50):
            fd = os.open({str(tmp_path / "plain")!r}, os.O_RDONLY)
            os.read(fd, 1)
            os.close(fd)          # its struct file is freed: the next open may reuse it
            fd = os.open({str(tmp_path / "secret")!r}, os.O_RDONLY)
            os.read(fd, 1)
            os.close(fd)
    """)
    with Policy(agent, tmp_path, _policy("verdict-reuse", _prefix(str(tmp_path / "secret")))):
        subprocess.run([PYTHON, "-c", code], check=True)
        path = str(tmp_path / "secret")
        agent.wait_for(lambda e: len(_reads_of(agent, "verdict-reuse", path)) >= 50)
        assert not _reads_of(agent, "verdict-reuse", str(tmp_path / "plain"))


def test_a_verdict_holds_for_every_selector_not_just_the_one_that_ran(agent, tmp_path):
    """python reads the file first (only the first selector applies to it); then a copy of
    cat reads the same open file (inherited stdin): the second selector matches it."""
    cat = tmp_path / "cat"
    shutil.copy("/usr/bin/cat", cat)
    target = tmp_path / "shared"
    target.write_text("data")
    selectors = _prefix("/nonexistent", os.path.realpath(PYTHON)) + _prefix(str(target), str(cat))
    code = textwrap.dedent(f"""\
        import os, subprocess
        fd = os.open({str(target)!r}, os.O_RDONLY)
        for _ in range(5):
            os.pread(fd, 1, 0)
        subprocess.run([{str(cat)!r}], stdin=fd, stdout=subprocess.DEVNULL, check=True)
    """)
    with Policy(agent, tmp_path, _policy("verdict-selectors", selectors)):
        subprocess.run([PYTHON, "-c", code], check=True)
        agent.wait_for(
            timeout=30,
            pred=lambda e: any(
                kp["process"]["binary"] == str(cat)
                for kp in _reads_of(agent, "verdict-selectors", str(target))
            ),
        )
