"""The product's version: from the release tag the sources were built from.

A release is a git tag ``vX.Y.Z``; a build from a later commit is
``X.Y.Z.devN+gHASH`` (N commits after the tag, ``.dirty`` with uncommitted changes), and
without any tag ``BASE.devN+gHASH`` with N the commit count. Builds (``make dist``, the
image, install.sh) write the result to ``appliance/_version.py``; a checkout without that
file asks git once when the version is first needed. Runs as a script too:
``python3 appliance/version.py [SOURCE_DIR]`` prints the version of SOURCE_DIR.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

#: the version before the first release tag
BASE = "0.1.0"
UNKNOWN = BASE + "+unknown"
_DESCRIBE = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-(\d+)-g([0-9a-f]+))?(-dirty)?$")


def _git(root: str, *args: str) -> str:
    r = subprocess.run(
        ["git", "-C", root, *args], capture_output=True, text=True, timeout=10, check=False
    )
    return r.stdout.strip() if r.returncode == 0 else ""


def from_describe(described: str, commits: int, short: str, dirty: bool = False) -> str:
    """PEP 440 version from ``git describe --tags --dirty`` output ("": no tag)."""
    m = _DESCRIBE.match(described) if described else None
    if m:
        tag, ahead, ghash, dirty = m.groups()
        if not ahead:
            return tag + ("+dirty" if dirty else "")
        return f"{tag}.dev{ahead}+g{ghash}" + (".dirty" if dirty else "")
    return f"{BASE}.dev{commits}+g{short}" + (".dirty" if dirty else "")


def compute(root: str) -> str:
    """The version of the git checkout at ``root`` (UNKNOWN outside one)."""
    if not os.path.exists(os.path.join(root, ".git")):
        return UNKNOWN
    try:
        described = _git(root, "describe", "--tags", "--match", "v[0-9]*", "--dirty")
        short = _git(root, "rev-parse", "--short", "HEAD")
        commits = _git(root, "rev-list", "--count", "HEAD")
        dirty = not described and bool(_git(root, "status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    if not short:
        return UNKNOWN
    return from_describe(described, int(commits or 0), short, dirty)


def current() -> str:
    """The written version of this installation, else the checkout's."""
    try:
        from appliance._version import version  # written at build time

        return version
    except ImportError:
        return compute(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


if __name__ == "__main__":
    print(compute(sys.argv[1] if len(sys.argv) > 1 else "."))
