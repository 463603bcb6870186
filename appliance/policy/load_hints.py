"""Why the kernel refused a policy program, in the words of the feature it lacks.

The verifier names a helper the program type may not call ("program of this type cannot
use helper bpf_probe_write_user#36"); the kernel decides that from its configuration and
lockdown state, which user space cannot always read (securityfs may not be mounted). The
load error then says which action needs the helper and what the kernel lacks.
"""

from __future__ import annotations

import re

_HELPER = re.compile(r"cannot use helper (\w+)#")
HELPER_NEEDS = {
    "bpf_probe_write_user": (
        "the Set action writes the USDT argument with bpf_probe_write_user, which this kernel "
        "refuses (kernel lockdown forbids writing user memory from BPF)"
    ),
    "bpf_override_return": (
        "Override needs bpf_override_return, which this kernel lacks (CONFIG_BPF_KPROBE_OVERRIDE)"
    ),
    "bpf_send_signal": "Sigkill/Signal need bpf_send_signal, which this kernel lacks",
}


def load_hint(log: str) -> str:
    """A sentence naming the missing kernel feature, or '' when the log names none."""
    m = _HELPER.search(log or "")
    if not m:
        return ""
    return HELPER_NEEDS.get(m.group(1), f"this kernel does not let the program call {m.group(1)}")
