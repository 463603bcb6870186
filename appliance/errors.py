"""The appliance's exceptions, in one place so a caller can see what may be raised.

Hierarchy::

    ApplianceError
    ├── StartupError          the agent cannot start (with what to do about it)
    ├── SettingsError         a setting or settings source that cannot be used
    ├── LiveError             a live change the agent cannot make; nothing was changed
    │   └── NoPolicyEngine    the agent has no tracing policy engine
    ├── ServerError           the gRPC server cannot serve
    ├── BpfError              a libbpf call failed (with the verifier's log)
    ├── BtfNotFound           no kernel BTF to load BPF programs against
    ├── KubernetesError       the Kubernetes API cannot be used
    ├── FilterError           a bad export filter or field mask (also a ValueError)
    ├── RequestError          a runtime-hook request the agent cannot act on (also a ValueError)
    ├── HookError             the OCI hook could not tell the agent
    ├── CallError             the hook's gRPC call did not succeed
    ├── SetupError            a runtime-hook install step failed
    ├── ConfigError           a runtime configuration file that cannot be patched
    ├── PolicyError           a tracing policy that cannot be loaded as asked
    ├── PolicyLoadError       tracing policy documents that do not validate (every problem)
    ├── AgentUnavailable      (controller) the agent does not answer
    └── AgentRefused          (controller) the agent answered with an error
        └── NoPolicyEngine    ... UNIMPLEMENTED: it has no tracing policy engine

``NoPolicyEngine`` is one class on both sides of the API: the agent raises it and answers
UNIMPLEMENTED, the controller's client raises it on that answer.

Standard library only: the OCI hook imports this module on every container start.
"""

from __future__ import annotations

import os


class ApplianceError(Exception):
    """Base of the appliance's own errors."""


class StartupError(ApplianceError):
    """A condition that stops the agent from starting, with what to do about it."""


class SettingsError(ApplianceError):
    """A setting whose value cannot be used, or a source that cannot be read.

    ``source`` names where the value came from (a file path, ``env TETRAGON_...``,
    ``flag --...``), ``key`` the setting (flag name) when there is one, ``reason`` what is
    wrong, ``value`` the text as read.
    """

    def __init__(
        self, source: str, key: str | None, reason: str, value: object | None = None
    ) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        self.value = value
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.key is not None and self.value is not None:
            return f"{self.source}: invalid value {self.value!r} for {self.key}: {self.reason}"
        if self.key is not None:
            return f"{self.source}: {self.key}: {self.reason}"
        return f"{self.source}: {self.reason}"


class LiveError(ApplianceError):
    """A change the agent cannot make; nothing was changed."""


class ServerError(ApplianceError):
    """The gRPC server cannot serve (bad address, port taken)."""


class BpfError(ApplianceError):
    """A libbpf call failed; `log` holds what libbpf (and the verifier) printed."""

    def __init__(self, message: str, err: int = 0, log: str = ""):
        self.err = err
        self.log = log
        detail = f": {os.strerror(err)}" if err else ""
        super().__init__(f"{message}{detail}")

    def verbose(self) -> str:
        return f"{self}\n{self.log}" if self.log else str(self)


class BtfNotFound(ApplianceError):
    """No BTF for the running kernel where the loader looks."""


class KubernetesError(ApplianceError):
    """The Kubernetes API cannot be used (no configuration, no access)."""


class FilterError(ApplianceError, ValueError):
    """An export filter or field mask that cannot be used."""


class RequestError(ApplianceError, ValueError):
    """A hook request the agent cannot act on; the text says which field and why."""


class HookError(ApplianceError):
    """Why the hook could not tell the agent; the fail check then decides."""


class CallError(ApplianceError):
    """The call did not succeed; the text says how (connect, deadline, agent's answer)."""


class SetupError(ApplianceError):
    """A bad input or an install step that failed; printed without a traceback, exit 2."""


class ConfigError(ApplianceError):
    """A configuration file that cannot be patched: the message names the file and why."""


class PolicyError(ApplianceError):
    """A policy that cannot be loaded as asked; the message says where and why."""


class PolicyLoadError(ApplianceError):
    """Raised by load_policies; ``problems`` (appliance.policy.problems.Problem) lists every
    reason, one a line in the message."""

    def __init__(self, problems: list[object]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class AgentUnavailable(ApplianceError):
    """The agent does not answer (not started yet, restarting, stopped)."""


class AgentRefused(ApplianceError):
    """The agent answered with an error; ``code`` is the gRPC status code name."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class NoPolicyEngine(LiveError, AgentRefused):
    """The agent has no tracing policy engine; over the API: status UNIMPLEMENTED."""

    def __init__(
        self, message: str = "tracing policies are not enabled in this agent (no policy engine)"
    ):
        super().__init__("UNIMPLEMENTED", message)
