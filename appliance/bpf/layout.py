"""How a C struct shared with the BPF programs reads in Python.

A message's fixed part is one or more ``struct.Struct`` formats laid end to end; a
variable part (a data area sized by the BPF side) may follow. Naming each struct here
lets a test compare the formats with the BTF clang emits for the C definition.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Layout:
    """The Python reading of C struct ``name``: ``parts`` in order, then member ``tail``."""

    name: str
    parts: tuple[struct.Struct, ...]
    tail: str = ""  # the member of variable length after the fixed part, if any

    @property
    def size(self) -> int:
        """Bytes of the fixed part: the C struct's size, or the tail member's offset."""
        return sum(p.size for p in self.parts)
