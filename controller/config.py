"""The drop-in configuration, kept in step with the running agent.

On a change in any configuration source the controller reads every source again with
:func:`appliance.settings.load_settings` (the agent's own reader, so precedence and parsing
are the same), compares the result with the last good one (``diff_settings``) and sends
what changed to the agent with ``ApplySettings``. The agent applies the live settings at
once; the ones it cannot change while running are logged by name and applied by restarting
it under its supervisor (``--agent-restart-cmd``). A source that does not parse is logged
with its file, setting and reason, counted, reported to the agent (``tetra status`` and
GetAgentStatus show it) and ignored: the last good configuration keeps running.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from appliance.errors import AgentRefused, AgentUnavailable, SettingsError
from appliance.settings import (
    LoadedSettings,
    diff_settings,
    format_value,
    load_settings,
)

log = logging.getLogger("tetragon.controller.config")

#: Decided by the controller's environment detection, sent on their own.
DETECTED = frozenset({"metadata_source"})
SOURCE = "tetragon-controller"


def default_restart_command(environ: Mapping[str, str]) -> str:
    """``supervisorctl restart tetragon`` under supervisord, else nothing."""
    if environ.get("SUPERVISOR_ENABLED"):
        return "supervisorctl restart tetragon"
    return ""


class ConfigSync:
    """Not thread-safe: one worker calls it."""

    def __init__(
        self,
        argv: Sequence[str],
        environ: Mapping[str, str],
        locations: Mapping[str, Any],
        client,
        metrics=None,
        restart_cmd: str = "",
        clock: Callable[[], float] = time.monotonic,
    ):
        self.argv = list(argv)
        self.environ = dict(environ)
        self.locations = dict(locations)
        self.client = client
        self.metrics = metrics
        self.restart_cmd = restart_cmd
        self.clock = clock
        self.loaded: LoadedSettings | None = None
        self.pending = False  # a change not delivered yet (agent unreachable)
        self.restarts = 0
        self._warnings: set[str] = set()
        self.current_error = ""

    def load(self) -> LoadedSettings:
        """Read every source; raises SettingsError."""
        loaded = load_settings(self.argv, self.environ, **self.locations)
        for w in loaded.warnings:
            if w not in self._warnings:
                log.warning("%s", w)
        self._warnings = set(loaded.warnings)
        return loaded

    def initial(self) -> LoadedSettings | None:
        """The configuration at start (None, reported, when it does not parse)."""
        try:
            self.loaded = self.load()
        except SettingsError as e:
            self._invalid(e)
            return None
        return self.loaded

    def _invalid(self, e: SettingsError) -> None:
        message = str(e)
        log.error("configuration error: %s; the last good configuration keeps running", message)
        if self.metrics is not None:
            self.metrics.error("settings_invalid")
        if message != self.current_error:
            self.client.report_error(message)
        self.current_error = message

    def reload(self, since: float | None = None) -> tuple[LoadedSettings, dict] | None:
        """Read the sources again and send what changed. Returns (new, diff) when a new
        configuration was accepted, None when nothing changed or it was refused.

        Raises AgentUnavailable when the agent does not answer (``pending`` stays set).
        """
        try:
            new = self.load()
        except SettingsError as e:
            self._invalid(e)
            return None
        self.current_error = ""
        old = self.loaded
        if old is None:
            self.loaded = new
            self.pending = False
            log.info("configuration is valid again")
            return new, {}
        diff = diff_settings(old.settings, new.settings)
        send = {n: v for n, v in diff.items() if n not in DETECTED}
        if send:
            self.pending = True  # stays set only if the agent does not answer
            accepted = self._send(new, send, since)
            self.pending = False
            if not accepted:
                return None
        self.pending = False
        self.loaded = new
        return new, diff

    def _send(self, new: LoadedSettings, diff: Mapping[str, tuple], since: float | None) -> bool:
        values = {n.replace("_", "-"): format_value(n, getattr(new.settings, n)) for n in diff}
        sources = {n.replace("_", "-"): new.sources.get(n, "default") for n in diff}
        for n in diff:
            log.info(
                "setting %s changed to %s (%s)",
                n.replace("_", "-"),
                values[n.replace("_", "-")].replace("\n", "\\n") or '""',
                sources[n.replace("_", "-")],
            )
        try:
            resp = self.client.apply_settings(values, source=SOURCE, sources=sources)
        except AgentUnavailable:
            if self.metrics is not None:
                self.metrics.error("agent_unreachable")
            raise
        except AgentRefused as e:
            resp = None
            error = str(e)
        else:
            error = resp.error
        if error:
            log.error("the agent refused the change: %s; nothing changed", error)
            if self.metrics is not None:
                self.metrics.error("settings_rejected")
            return False
        if self.metrics is not None:
            self.metrics.done("settings", since, self.clock())
        if resp.applied:
            log.info("applied live: %s", ", ".join(resp.applied))
        for flag in resp.overridden:
            log.info("%s not applied: the agent's command line or environment sets it", flag)
        if resp.restart_required:
            self.restart(list(resp.restart_required))
        return True

    def restart(self, names: list[str]) -> bool:
        """Restart the agent so that ``names`` take effect."""
        log.warning(
            "settings that cannot change while the agent runs: %s; restarting the agent",
            ", ".join(names),
        )
        if not self.restart_cmd:
            log.warning(
                "no --agent-restart-cmd (and not under supervisord): restart the agent to apply %s",
                ", ".join(names),
            )
            return False
        log.info("running %s", self.restart_cmd)
        try:
            out = subprocess.run(
                shlex.split(self.restart_cmd),
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, **self.environ},
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            log.error("agent restart command failed: %s", e)
            if self.metrics is not None:
                self.metrics.error("restart")
            return False
        if out.returncode != 0:
            detail = (out.stderr or out.stdout).strip().splitlines()
            log.error(
                "agent restart command exited with %d: %s",
                out.returncode,
                detail[-1] if detail else "",
            )
            if self.metrics is not None:
                self.metrics.error("restart")
            return False
        self.restarts += 1
        if self.metrics is not None:
            self.metrics.done("restart")
        log.info("agent restarted to apply %s", ", ".join(names))
        return True
