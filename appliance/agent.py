"""The `tetragon` command: checks privileges, loads settings, runs the agent.

Heavy modules are imported only once we know we can run, so a user without
root gets one clear line rather than an import error from somewhere deep.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from appliance import __version__
from appliance.logging_setup import setup_logging

log = logging.getLogger("tetragon")

NOT_ROOT = (
    "tetragon: must run as root (loading BPF programs needs CAP_BPF and "
    "CAP_PERFMON or CAP_SYS_ADMIN); run it with sudo"
)


def _wants_docs(args: list[str]) -> bool:
    """--generate-docs, bare or =true in any of the words the settings take for true."""
    from appliance.settings import _TRUE

    for a in args:
        if a == "--generate-docs":
            return True
        if a.startswith("--generate-docs="):
            return a.partition("=")[2].strip().lower() in _TRUE
    return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--version" in args:
        print(f"tetragon version {__version__}")
        return 0
    if _wants_docs(args):  # documentation needs no root and loads nothing
        from appliance.settings import generate_docs

        sys.stdout.write(generate_docs())
        return 0
    if os.geteuid() != 0 and not {"-h", "--help"} & set(args):
        print(NOT_ROOT, file=sys.stderr)
        return 1
    from appliance.errors import SettingsError
    from appliance.settings import (
        config_locations,
        effective_settings_lines,
        inert_settings_warnings,
        load_settings,
    )

    try:
        loaded = load_settings(argv, **config_locations())
    except SettingsError as e:
        print(f"tetragon: {e}", file=sys.stderr)
        return 2
    s = loaded.settings
    setup_logging(s.effective_log_level, s.log_format)
    for w in loaded.warnings:
        log.warning("%s", w)
    for w in inert_settings_warnings(s):
        log.warning("%s", w)
    log.info("starting tetragon appliance %s", __version__)
    for line in effective_settings_lines(loaded):
        log.info("setting %s", line)
    from appliance.daemon import Agent
    from appliance.errors import StartupError

    agent = Agent(s)
    agent.settings_sources = dict(loaded.sources)  # flags and env win over live changes
    try:
        agent.start()
    except StartupError as e:
        agent.close()
        print(f"tetragon: {e}", file=sys.stderr)
        return 1

    def on_term(*_):
        agent.stop()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log.info("agent running")
    try:
        agent.run()
    finally:
        agent.close()
        log.info("agent stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
