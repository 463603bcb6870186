"""The appliance agent: loads BPF sensors, tracks processes, exports Tetragon-shaped events."""

from appliance.version import current as _current_version

__version__ = _current_version()
