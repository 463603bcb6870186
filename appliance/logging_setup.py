"""Logging set-up shared by the agent and the controller: format, level, level signals.

Its own module so that what changes the level at run time (a live --log-level change)
reaches it without importing the agent's entry point.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

log = logging.getLogger("tetragon")

_LEVELS = {"trace": 5, "debug": 10, "info": 20, "warn": 30, "error": 40, "fatal": 50}
_configured_level = logging.INFO  # the level SIGRTMIN+22 returns to


def setup_logging(level: str, fmt: str = "text") -> None:
    lvl = _LEVELS.get(level, 20)
    logging.addLevelName(5, "TRACE")
    if fmt == "json":
        f = '{"time":"%(asctime)s","level":"%(levelname)s","msg":"%(message)s"}'
    else:
        f = "time=%(asctime)s level=%(levelname)s msg=%(message)s"
    logging.basicConfig(level=lvl, format=f, stream=sys.stderr, force=True)
    install_level_signals()


def set_configured_level(level: str) -> None:
    """Change the configured log level at run time (a live --log-level change)."""
    global _configured_level
    _configured_level = _LEVELS.get(level, 20)
    logging.getLogger().setLevel(_configured_level)


def install_level_signals() -> None:
    """SIGRTMIN+20/21/22: debug, trace, back to the configured level (as Tetragon)."""
    global _configured_level
    root = logging.getLogger()
    _configured_level = root.level

    def setter(level):
        def handler(*_):
            lvl = _configured_level if level is None else level
            root.setLevel(lvl)
            # not from the handler itself: it may interrupt a write to the same stream
            name = logging.getLevelName(lvl).lower()
            threading.Thread(target=log.info, args=("log level set to %s by signal", name)).start()

        return handler

    try:
        signal.signal(signal.SIGRTMIN + 20, setter(logging.DEBUG))
        signal.signal(signal.SIGRTMIN + 21, setter(5))
        signal.signal(signal.SIGRTMIN + 22, setter(None))
    except (ValueError, OSError):
        pass
