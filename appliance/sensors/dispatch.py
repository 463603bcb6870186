"""Ring-buffer messages go to the sensor that owns their kind.

Every BPF program of the agent writes to one ring buffer; the first byte of each message
(``msg_header.type``, bpf/include/process_msgs.h) says which kind it is. The sensor that
defines a kind registers its handler when it is set up, as Tetragon's observer does with
``RegisterEventHandlerAtInit``, so the agent's ring-buffer callback is one table look-up
and a new sensor adds its kinds without touching the agent.
"""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[[bytes], None]


class UnknownMessage(Exception):
    """A message whose kind no sensor registered."""


class MessageTable:
    """Message kind -> the handler of the sensor that owns it."""

    def __init__(self) -> None:
        self._handlers: dict[int, Handler] = {}
        self._owners: dict[int, str] = {}

    def register(self, kind: int, owner: str, handler: Handler) -> None:
        """Route messages of ``kind`` to ``handler``; one owner per kind."""
        if kind in self._owners:
            raise ValueError(
                f"message kind {kind} is already handled by the {self._owners[kind]} sensor; "
                f"the {owner} sensor cannot register it too"
            )
        self._handlers[kind] = handler
        self._owners[kind] = owner

    def owners(self) -> dict[int, str]:
        """Which sensor handles each registered kind."""
        return dict(self._owners)

    def dispatch(self, data: bytes) -> None:
        """Hand one message to its kind's handler (errors propagate to the caller)."""
        try:
            handler = self._handlers[data[0]]
        except KeyError:
            raise UnknownMessage(
                f"message kind {data[0]} has no handler (registered: {sorted(self._owners)})"
            ) from None
        handler(data)
