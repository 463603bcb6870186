"""Changes to a running agent: settings applied live, policies replaced, status reported.

The configuration controller (and anyone with the API) changes the agent through the
``appliance.v1.Agent`` gRPC service served here, next to Tetragon's FineGuidanceSensors:

- ``ApplySettings`` takes settings in drop-in form (flag name -> text), validates every
  value through the :class:`~appliance.settings.Settings` model and applies the ones in
  :data:`~appliance.settings.LIVE_SETTINGS` without a restart: the export file and its
  rotation (a new file sink is swapped in), the export allow/deny lists, the stdout
  exporter, the log level and format, the BTF file used for the next policy compile. The
  others are returned as needing a restart. A bad value refuses the whole request, naming
  the file, setting and reason, and nothing changes.
- ``ReplaceTracingPolicy`` swaps in a new version of a loaded policy (the new one is
  attached before the old one is detached).
- ``GetAgentStatus`` reports the process, its effective settings, its policies and the last
  configuration error, for ``tetra`` and for health checks.

:func:`configure_exporters` is also what the agent runs at start, so the exporters are
built one way whether they come from the start-up settings or from a live change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from appliance.errors import (
    BtfNotFound,
    FilterError,
    LiveError,
    NoPolicyEngine,
    PolicyError,
    SettingsError,
)
from appliance.events.redaction import Redactor, parse_redaction_filters
from appliance.export.fields import RateLimiter, parse_field_filters
from appliance.export.file import RotatingFile
from appliance.export.filters import EventFilter, json_objects, parse_filter_list
from appliance.export.pipeline import JsonLinesSink, Pipeline, stdout_sink
from appliance.settings import (
    EXPORT_FILE_SETTINGS,
    INERT_SETTINGS,
    LIVE_SETTINGS,
    LoadedSettings,
    Settings,
    ValidationError,
    diff_settings,
    effective_settings_lines,
    format_value,
    inert_settings_warnings,
    parse_one,
    validation_reason,
)

if TYPE_CHECKING:
    from appliance.api.hub import EventHub
    from appliance.events.process import ProcessTracker
    from appliance.metadata.base import MetadataSource
    from appliance.policy.manager import PolicyManager

log = logging.getLogger("tetragon.live")

#: Settings the controller decides from the environment; the agent takes them live.
CONTROLLER_SETTINGS = frozenset({"metadata_source"})

_FILTER_FIELDS = frozenset({"export_allowlist", "export_denylist"})
_EXPORT_FIELDS = (
    EXPORT_FILE_SETTINGS | _FILTER_FIELDS | {"export_stdout", "field_filters", "export_rate_limit"}
)
_LOG_FIELDS = frozenset({"log_level", "debug", "log_format"})
_KEEP = object()


class LiveAgent(Protocol):
    """The parts of the running agent (:class:`appliance.daemon.Agent`) that live changes
    read and replace."""

    settings: Settings
    #: where each start-up setting came from; flags and env win over live changes
    settings_sources: Mapping[str, str]
    pipeline: Pipeline
    hub: EventHub
    tracker: ProcessTracker
    #: the container metadata source; None until the agent has started one
    metadata: MetadataSource | None
    #: the tracing policy engine; None when policies are not enabled
    policies: PolicyManager | None
    #: the BTF file the next policy compile uses
    btf: str

    def drop_counts(self) -> Mapping[str, int]: ...

    def error_counts(self) -> Mapping[str, int]: ...


# --- exporters --------------------------------------------------------------------------


def _seconds(v: Any) -> float:
    if v is None:
        return 0.0
    if hasattr(v, "total_seconds"):
        return v.total_seconds()
    return float(v)


def configure_exporters(
    pipeline: Pipeline, hub: Any, s: Settings, changed: frozenset[str] | set[str] | None = None
) -> None:
    """Install the exporters that ``s`` asks for into ``pipeline``.

    With ``changed`` (field names), only the exporters those fields affect are rebuilt: a
    change of the export file or its rotation settings swaps in a new file sink (events
    already buffered go to the old file, which is closed), a change of the allow/deny lists
    a new filter. Everything is built before anything is installed: a filter that does not
    parse or an export file that cannot be opened raises :class:`LiveError` and leaves the
    pipeline as it was.
    """
    every = changed is None
    changed = frozenset() if changed is None else frozenset(changed)
    flt = None
    if every or changed & _FILTER_FIELDS:
        try:
            allow = parse_filter_list(s.export_allowlist or "")
            deny = parse_filter_list(s.export_denylist or "")
            flt = EventFilter(allow, deny)
        except FilterError as e:
            raise LiveError(f"export filters: {e}") from None
    file_sink: Any = _KEEP
    if every or changed & EXPORT_FILE_SETTINGS:
        file_sink = None
        if s.export_filename:
            try:
                rf = RotatingFile(
                    s.export_filename,
                    max_size_mb=s.export_file_max_size_mb,
                    max_backups=s.export_file_max_backups,
                    compress=s.export_file_compress,
                    rotation_interval_s=_seconds(s.export_file_rotation_interval),
                    perm=s.export_file_mode,
                )
            except OSError as e:
                raise LiveError(
                    f"cannot open the export file {s.export_filename}: {e.strerror or e}; "
                    "choose another --export-filename"
                ) from None
            file_sink = JsonLinesSink(rf)

    install = pipeline.set_sink if every else _swap_sink(pipeline)
    if file_sink is not _KEEP:
        install("file", file_sink)
        if s.export_filename:
            log.info("exporting events to %s", s.export_filename)
        elif not every:
            log.info("export file off")
    if every or "export_stdout" in changed:
        install("stdout", stdout_sink() if s.export_stdout else None)
    if every:
        pipeline.set_sink("grpc", hub)
    if flt is not None:
        pipeline.export_filter = flt
    if every or "field_filters" in changed:
        try:
            pipeline.field_filters = parse_field_filters(json_objects(s.field_filters or ""))
        except FilterError as e:
            raise LiveError(f"field filters: {e}") from None
    if every or "export_rate_limit" in changed:
        limit = s.export_rate_limit
        pipeline.rate_limiter = RateLimiter(limit) if limit is not None and limit >= 0 else None


def redactor(s: Settings) -> Redactor | None:
    """The --redaction-filters of ``s``, parsed (None when there are none)."""
    try:
        r = parse_redaction_filters(s.redaction_filters or "")
    except FilterError as e:
        raise LiveError(f"redaction filters: {e}") from None
    return r if r else None


def _swap_sink(pipeline: Pipeline) -> Callable[[str, Any], None]:
    """``set_sink`` for a running pipeline: the old sink is closed a moment later, so the
    events the event loop handed to it just before the swap are written with it."""

    def swap(name: str, sink: Any) -> None:
        old = pipeline.sinks.get(name)
        if sink is None:
            pipeline.sinks.pop(name, None)
        else:
            pipeline.sinks[name] = sink  # one dict store: the event loop sees old or new
        if old is not None and old is not sink:
            timer = threading.Timer(0.5, old.close)
            timer.daemon = True
            timer.start()

    return swap


# --- live state of one agent ------------------------------------------------------------


@dataclass
class ApplyResult:
    applied: list[str] = field(default_factory=list)
    restart_required: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class LiveState:
    """What the agent remembers of the live changes made to it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sources: dict[str, str] = field(default_factory=dict)  # field -> source of a live value
    last_error: str = ""
    last_error_time: float = 0.0
    errors: int = 0
    last_applied_time: float = 0.0
    changes: int = 0
    metadata_source_by: str = ""

    def record_error(self, message: str) -> None:
        self.last_error = message
        self.last_error_time = time.time()
        self.errors += 1


def state(agent: LiveAgent) -> LiveState:
    """The :class:`LiveState` of ``agent``, created on first use."""
    st = getattr(agent, "_live_state", None)
    if st is None:
        st = LiveState()
        agent._live_state = st
    return st


def apply_settings(
    agent: LiveAgent,
    values: Mapping[str, str],
    source: str = "",
    sources: Mapping[str, str] | None = None,
    config_error: str = "",
) -> ApplyResult:
    """Validate ``values`` (flag name -> text) and apply the live ones to ``agent``.

    Values set by the agent's own command line or environment win over the files, as at
    start: those are reported as overridden and left alone. Settings that cannot change
    while running are reported in ``restart_required``. A value that does not parse, an
    export file that cannot be opened or a BTF file that is not one refuses the whole
    request (``error``) and nothing changes; the error is kept as the agent's last
    configuration error, as is ``config_error`` (an error the caller met in a file).
    """
    sources = sources or {}
    st = state(agent)
    result = ApplyResult()
    with st.lock:
        if config_error:
            st.record_error(config_error)
            log.error("configuration error reported by %s: %s", source or "a client", config_error)
        if not values:
            return result
        try:
            _apply_locked(agent, st, values, source, sources, result)
        except (SettingsError, LiveError) as e:
            result.applied.clear()
            result.restart_required.clear()
            result.overridden.clear()
            result.error = str(e)
            st.record_error(result.error)
            log.error("configuration change refused, nothing changed: %s", result.error)
    return result


def _apply_locked(
    agent: LiveAgent,
    st: LiveState,
    values: Mapping[str, str],
    source: str,
    sources: Mapping[str, str],
    result: ApplyResult,
) -> None:
    current: Settings = agent.settings
    own = agent.settings_sources
    updates: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key in sorted(values):
        where = sources.get(key) or source or "ApplySettings"
        name, value = parse_one(key, values[key], where)
        flag = name.replace("_", "-")
        if own.get(name, "").startswith(("flag ", "env ")):
            if getattr(current, name) != value:
                result.overridden.append(flag)
                log.warning(
                    "%s=%s from %s ignored: the agent's %s takes precedence",
                    flag,
                    format_value(name, value),
                    where,
                    own[name],
                )
            continue
        updates[name] = value
        origin[name] = where
    try:
        wanted = Settings(**{**current.model_dump(), **updates})
    except ValidationError as exc:
        raise SettingsError(source or "ApplySettings", None, validation_reason(exc)) from None

    diff = diff_settings(current, wanted)
    # an inert setting needs no restart: taking its value is all there is to do
    live = {
        n for n in diff if n in LIVE_SETTINGS or n in CONTROLLER_SETTINGS or n in INERT_SETTINGS
    }
    restart = sorted(set(diff) - live)
    new = Settings(**{**current.model_dump(), **{n: getattr(wanted, n) for n in live}})

    # Build and check everything that can fail before changing anything.
    btf_path = None
    if "btf" in live:
        from appliance.bpf import btf as btfmod

        try:
            btf_path = btfmod.discover(new.btf)
        except BtfNotFound as e:
            raise LiveError(f"{origin.get('btf', source)}: {e}") from None
    metadata = None
    if "metadata_source" in live:
        metadata = _prepare_metadata(agent, new, origin.get("metadata_source", source))
    try:
        if live & _EXPORT_FIELDS:
            configure_exporters(agent.pipeline, agent.hub, new, changed=live)
        new_redactor = redactor(new) if "redaction_filters" in live else _KEEP
    except LiveError:
        if metadata is not None:
            metadata.close()
        raise

    # From here on nothing fails.
    for w in inert_settings_warnings(new, sorted(live)):
        log.warning("%s", w)
    if new_redactor is not _KEEP:  # processes that start from now on
        agent.tracker.redactor = new_redactor
    if live & _LOG_FIELDS:
        _apply_logging(new, reformat="log_format" in live)
    if btf_path is not None:
        agent.btf = btf_path  # the policy engine compiles against agent.btf
    agent.settings = new
    if "metadata_source" in live:
        st.metadata_source_by = origin.get("metadata_source", source)
    if metadata is not None:
        old, agent.metadata = agent.metadata, metadata
        agent.tracker.metadata = metadata
        log.info("metadata source now %s (was %s)", metadata.kind, old.kind if old else "none")
        try:
            old.close()
        except Exception as e:
            log.warning("closing the previous metadata source: %s", e)
    for name in live:
        st.sources[name] = f"applied live from {origin.get(name, source)}"
    if live:
        st.last_applied_time = time.time()
        st.changes += 1
    for name in sorted(live):
        log.info(
            "setting %s=%s applied live (from %s)",
            name.replace("_", "-"),
            format_value(name, getattr(new, name)).replace("\n", "\\n") or '""',
            origin.get(name, source),
        )
    for name in restart:
        log.warning(
            "setting %s=%s from %s needs an agent restart",
            name.replace("_", "-"),
            format_value(name, getattr(wanted, name)).replace("\n", "\\n") or '""',
            origin.get(name, source),
        )
    result.applied = sorted(n.replace("_", "-") for n in updates if n not in restart)
    result.restart_required = [n.replace("_", "-") for n in restart]


def _prepare_metadata(agent: LiveAgent, s: Settings, where: str) -> MetadataSource | None:
    """A started metadata source for ``s.metadata_source`` when the running one differs."""
    current = agent.metadata
    if current is None:
        return None  # not started yet: the agent opens its source from the settings
    from appliance.metadata import create_source, detect

    try:
        selection = detect(s.metadata_source, procfs=s.procfs)
        if selection.kind == current.kind:
            return None
        for reason in selection.reasons:
            log.info("metadata: %s", reason)
        return create_source(selection)
    except Exception as e:  # ValueError, NotImplementedError, the Engine API's errors
        raise LiveError(f"{where}: metadata-source {s.metadata_source}: {e}") from None


def _apply_logging(s: Settings, reformat: bool) -> None:
    from appliance import logging_setup

    if reformat:
        logging_setup.setup_logging(s.effective_log_level, s.log_format)
    logging_setup.set_configured_level(s.effective_log_level)


# --- policies ---------------------------------------------------------------------------


def replace_policy(agent: LiveAgent, yaml_text: str, source: str = "") -> str:
    """Replace the loaded policy with this document's name by this version; its name.

    Raises :class:`NoPolicyEngine` when the agent has none, and the policy engine's
    ``PolicyError`` (file, path, reason) when the document is refused; the old version
    keeps running then.
    """
    policies = agent.policies
    if policies is None:
        raise NoPolicyEngine("tracing policies are not enabled in this agent (no policy engine)")
    try:
        name = policies.replace_yaml(yaml_text, source=source)
    except (PolicyError, ValueError) as e:
        state(agent).record_error(f"{source}: {e}" if source and source not in str(e) else str(e))
        raise
    log.info("tracing policy %s replaced (from %s)", name, source or "the API")
    return name


def policy_statuses(agent: LiveAgent) -> list[tuple[str, str, str]]:
    """(name, state, error) of each policy the agent holds."""
    policies = agent.policies
    if policies is None:
        return []
    try:
        from appliance.api.tetragon import sensors_pb2

        resp = policies.list(sensors_pb2.ListTracingPoliciesRequest(), None)
        out = []
        for p in resp.policies:
            state_name = sensors_pb2.TracingPolicyState.Name(p.state)
            out.append((p.name, state_name.removeprefix("TP_STATE_").lower(), p.error))
        return out
    except Exception:
        pass
    try:
        return [(name, "enabled", "") for name in policies.names()]
    except Exception as e:
        return [("?", "unknown", f"cannot list policies: {e}")]


# --- status -----------------------------------------------------------------------------


def process_start_time(pid: int | str = "self") -> float:
    """The start time of a process, in seconds since the epoch (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat(5), counted after "pid (comm)"
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


_START_TIME = process_start_time()


def status(agent: LiveAgent):
    """The ``GetAgentStatusResponse`` of ``agent``."""
    from appliance import __version__
    from appliance.api import appliance_pb2

    st = state(agent)
    sources = {name: "default" for name in Settings.model_fields}
    sources.update(agent.settings_sources)
    sources.update(st.sources)
    loaded = LoadedSettings(agent.settings, sources)
    resp = appliance_pb2.GetAgentStatusResponse(
        pid=os.getpid(),
        version=__version__,
        settings=effective_settings_lines(loaded),
        policies_enabled=agent.policies is not None,
        last_config_error=st.last_error,
        config_errors=st.errors,
        config_changes=st.changes,
        log_level=_level_name(logging.getLogger().level),
        metadata_source=agent.settings.metadata_source
        + (f" (from {st.metadata_source_by})" if st.metadata_source_by else ""),
    )
    resp.start_time.FromNanoseconds(int(_START_TIME * 1e9))
    if st.last_error_time:
        resp.last_config_error_time.FromNanoseconds(int(st.last_error_time * 1e9))
    if st.last_applied_time:
        resp.last_applied_time.FromNanoseconds(int(st.last_applied_time * 1e9))
    for name, state_name, error in policy_statuses(agent):
        resp.policies.add(name=name, state=state_name, error=error)
    for name, value in agent.drop_counts().items():
        resp.drops.add(name=name, value=value)
    for name, value in sorted(agent.error_counts().items()):
        resp.errors.add(name=name, value=value)
    return resp


def _level_name(level: int) -> str:
    return {5: "trace", 10: "debug", 20: "info", 30: "warn", 40: "error", 50: "fatal"}.get(
        level, logging.getLevelName(level).lower()
    )


# --- the gRPC service -------------------------------------------------------------------


def _servicer_class():
    import grpc

    from appliance.api import appliance_pb2, appliance_pb2_grpc

    class AgentServicer(appliance_pb2_grpc.AgentServicer):
        def __init__(self, agent: LiveAgent) -> None:
            self.agent = agent

        def ApplySettings(self, request, context):
            res = apply_settings(
                self.agent,
                dict(request.values),
                request.source,
                dict(request.sources),
                request.config_error,
            )
            return appliance_pb2.ApplySettingsResponse(
                applied=res.applied,
                restart_required=res.restart_required,
                error=res.error,
                overridden=res.overridden,
            )

        def ReplaceTracingPolicy(self, request, context):
            try:
                name = replace_policy(self.agent, request.yaml, request.source)
            except NoPolicyEngine as e:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, str(e))
            except (PolicyError, ValueError) as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            return appliance_pb2.ReplaceTracingPolicyResponse(name=name)

        def GetAgentStatus(self, request, context):
            return status(self.agent)

    return AgentServicer


def service(agent: LiveAgent) -> Callable[[Any], None]:
    """A function that adds the ``appliance.v1.Agent`` service of ``agent`` to a gRPC
    server (before it starts)."""
    from appliance.api import appliance_pb2_grpc

    servicer = _servicer_class()(agent)

    def register(server: Any) -> None:
        appliance_pb2_grpc.add_AgentServicer_to_server(servicer, server)

    return register
