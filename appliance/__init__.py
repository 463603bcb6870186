"""The appliance agent: loads BPF sensors, tracks processes, exports Tetragon-shaped events."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__`` on first use: the runtime hook imports this package on every
    container start and must not pay for the version lookup (subprocess, pathlib)."""
    if name == "__version__":
        from appliance.version import current

        return current()
    raise AttributeError(f"module 'appliance' has no attribute {name!r}")
