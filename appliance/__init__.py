"""The appliance agent: loads BPF sensors, tracks processes, exports Tetragon-shaped events."""

__version__ = "0.1.0"
