"""Where the BPF objects and headers are: one search for the agent and the policy compiler.

Both look in the same four places, first hit wins: a directory named by an environment
variable, the checkout's ``bpf/`` folder (running from a source tree), then the installed
copies under ``/usr/local/lib/tetragon/bpf`` (the image) and ``/usr/lib/tetragon/bpf``
(a distribution package).
"""

from __future__ import annotations

import os
from pathlib import Path

# The source tree's bpf/ folder, when the appliance runs from a checkout.
CHECKOUT_BPF = Path(__file__).resolve().parent.parent.parent / "bpf"
INSTALLED_BPF = ("/usr/local/lib/tetragon/bpf", "/usr/lib/tetragon/bpf")


def candidates(env_var: str, checkout_sub: str, installed_sub: str = "") -> list[str]:
    """The places searched, in order: $env_var, the checkout's bpf/<checkout_sub>, then the
    installed bpf/<installed_sub> directories."""
    installed = [os.path.join(d, installed_sub) if installed_sub else d for d in INSTALLED_BPF]
    return [os.environ.get(env_var, ""), str(CHECKOUT_BPF / checkout_sub), *installed]


def find(env_var: str, marker: str, checkout_sub: str, installed_sub: str = "") -> str | None:
    """The first of :func:`candidates` that holds the file ``marker``; None when none does."""
    for cand in candidates(env_var, checkout_sub, installed_sub):
        if cand and os.path.exists(os.path.join(cand, marker)):
            return cand
    return None


def bpf_lib() -> str:
    """The directory of the compiled BPF objects (``process.bpf.o``...) when --bpf-lib is not
    given; the checkout's bpf/objs when none holds them (the load then says what is missing)."""
    return find("TETRAGON_BPF_LIB", "process.bpf.o", "objs") or str(CHECKOUT_BPF / "objs")


def include_dir() -> str | None:
    """The directory of the BPF headers policies compile against (``policy.h``...)."""
    return find("TETRAGON_BPF_INCLUDE", "policy.h", "include", "include")
