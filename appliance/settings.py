"""The daemon settings: one typed model, filled from Tetragon's configuration sources.

Every process of the appliance (agent, controller, tools) reads its configuration through
:func:`load_settings`, which fills :class:`Settings` from these sources, later ones winning:

1. package drop-in directories ``/usr/lib/tetragon/tetragon.conf.d`` and
   ``/usr/local/lib/tetragon/tetragon.conf.d``;
2. the YAML file ``/etc/tetragon/tetragon.yaml`` (a mapping of setting names to values);
3. the administrator's drop-in directory ``/etc/tetragon/tetragon.conf.d``;
4. the drop-in directory named by ``config-dir`` (a Kubernetes ConfigMap, typically), when
   it is set by any source: a flag, the environment or one of the files above;
5. environment variables ``TETRAGON_<SETTING>`` (``export-filename`` is read from
   ``TETRAGON_EXPORT_FILENAME``);
6. command-line flags (``--export-filename=...``).

A drop-in directory holds one file per setting: the file's name is the setting's name
(``export-filename``; the field name ``export_filename`` is accepted too) and its content,
stripped of surrounding whitespace and the final newline, is the value. Subdirectories,
dotfiles (this covers a ConfigMap's ``..data`` entries) and editor or package-manager
leftovers (``*~``, ``*.swp``, ``#*#``, ``*.dpkg-old``, ``*.rpmnew``...) are skipped; symbolic
links to files are followed.

An empty value (an empty drop-in file, an empty YAML value, ``--flag=``) clears the setting:
whatever an earlier source set is dropped and the setting is back at its default. The
exceptions are the listening addresses ``server-address`` and ``health-server-address``,
for which, as upstream documents, an empty value means "disabled". An empty environment
variable is ignored, as upstream ignores it, since deployment templates often render unset
values as empty strings.

Values are parsed as Tetragon parses them: booleans as ``true``/``false`` (also ``1``/``0``,
``t``/``f``, ``yes``/``no``, ``on``/``off``), durations in Go's notation (``15s``,
``1h30m``, ``500ms``; a bare number counts as seconds), sizes with an optional ``K``, ``M``
or ``G`` suffix (powers of 1024), lists as comma-separated words. A value that does not
parse raises :class:`SettingsError` naming the file, variable or flag it came from; a
setting name that does not exist produces a warning naming where it was found.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args, get_origin

from appliance.errors import SettingsError
from appliance.frozen_model import FrozenModel, ValidationError, ValueProblem
from appliance.frozen_model import field as _f

__all__ = [
    "ADMIN_DROPIN_DIR",
    "DEFAULT_DIRS",
    "DEFAULT_YAML_FILE",
    "ENV_PREFIX",
    "EXPORT_FILE_SETTINGS",
    "FLAG_NAMES",
    "INERT_SETTINGS",
    "LIVE_SETTINGS",
    "PACKAGE_DROPIN_DIRS",
    "LoadedSettings",
    "Settings",
    "SettingsError",
    "ValidationError",
    "build_arg_parser",
    "diff_settings",
    "effective_settings_lines",
    "format_duration",
    "format_value",
    "generate_docs",
    "inert_settings_warnings",
    "load_settings",
    "parse_one",
    "validation_reason",
]

PACKAGE_DROPIN_DIRS: tuple[str, ...] = (
    "/usr/lib/tetragon/tetragon.conf.d",
    "/usr/local/lib/tetragon/tetragon.conf.d",
)
ADMIN_DROPIN_DIR = "/etc/tetragon/tetragon.conf.d"
#: Drop-in directories in the order they are read. The YAML file is read just before the
#: last one, the administrator's directory.
DEFAULT_DIRS: tuple[str, ...] = (*PACKAGE_DROPIN_DIRS, ADMIN_DROPIN_DIR)
DEFAULT_YAML_FILE = "/etc/tetragon/tetragon.yaml"
ENV_PREFIX = "TETRAGON_"
#: Environment variables that name the node when ``node-name`` is set nowhere, in order;
#: the host name is the last resort. Kubernetes daemon sets pass ``NODE_NAME``.
NODE_NAME_ENV_VARS: tuple[str, ...] = ("HUBBLE_NODE_NAME", "NODE_NAME")


# --- value kinds ------------------------------------------------------------------------


class _Marker:
    """A tag in a field's ``Annotated`` metadata saying how its text is parsed or checked."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_SIZE = _Marker("size")  # an integer that accepts K/M/G suffixes
_ADDRESS = _Marker("address")  # host:port or unix:///path
_JSON_OBJECTS = _Marker("json-objects")  # a stream of JSON objects (filters)
_FILE_MODE = _Marker("file-mode")  # octal permissions
_EMPTY_DISABLES = _Marker("empty-disables")  # an empty value means "off", not "default"
_CGROUP_RATE = _Marker("cgroup-rate")  # "<events>,<interval>"

Size = Annotated[int, _SIZE]
Address = Annotated[str, _ADDRESS]
JsonObjects = Annotated[str, _JSON_OBJECTS]
LogLevel = Literal["trace", "debug", "info", "warn", "error", "fatal", "panic"]

_TRUE = frozenset({"1", "t", "true", "y", "yes", "on"})
_FALSE = frozenset({"0", "f", "false", "n", "no", "off"})
_INT_RE = re.compile(r"[+-]?[0-9]+")
_SIZE_RE = re.compile(r"([0-9]+)\s*([kKmMgG]?)")
_DURATION_PART_RE = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_LEVEL_ALIASES = {"warning": "warn", "err": "error", "critical": "fatal"}


def _err(reason: str) -> ValueProblem:
    return ValueProblem(reason)


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _err("expected a boolean (true or false)")


def _parse_int(text: str) -> int:
    word = text.strip()
    if not _INT_RE.fullmatch(word):
        raise _err("expected an integer")
    return int(word)


def _parse_size(text: str) -> int:
    match = _SIZE_RE.fullmatch(text.strip())
    if not match:
        raise _err("expected a size: a whole number with an optional K, M or G suffix")
    number, suffix = int(match.group(1)), match.group(2).upper()
    return number * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[suffix]


def _parse_duration(text: str) -> timedelta:
    word = text.strip()
    sign = 1
    if word and word[0] in "+-":
        sign = -1 if word[0] == "-" else 1
        word = word[1:]
    if re.fullmatch(r"[0-9]*\.?[0-9]+", word):
        return _timedelta(sign * float(word))
    pos, seconds = 0, 0.0
    for match in _DURATION_PART_RE.finditer(word):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(word) or not word:
        raise _err("expected a duration such as 30s, 5m, 1h30m or 500ms")
    return _timedelta(sign * seconds)


def _timedelta(seconds: float) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise _err("duration out of range (at most 999999999 days)") from None


def format_duration(value: timedelta) -> str:
    """Write a duration in Go's notation (``1h30m0s``, ``15s``, ``500ms``, ``0s``)."""
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros == 0:
        return "0s"
    if micros < 1_000_000:
        if micros % 1000 == 0:
            return f"{sign}{micros // 1000}ms"
        return f"{sign}{micros}µs"
    hours, rest = divmod(micros, 3600 * 1_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000)
    secs, frac = divmod(rest, 1_000_000)
    sec_text = f"{secs}" if not frac else f"{secs}.{frac:06d}".rstrip("0")
    if hours:
        return f"{sign}{hours}h{minutes}m{sec_text}s"
    if minutes:
        return f"{sign}{minutes}m{sec_text}s"
    return f"{sign}{sec_text}s"


def _parse_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = re.split(r"[,\n]", value)
    elif isinstance(value, list | tuple):
        items = []
        for item in value:
            if not isinstance(item, str | int | float | bool):
                raise _err("expected a list of words")
            items.append(str(item))
    else:
        raise _err("expected a comma-separated list")
    return tuple(word.strip() for word in items if word.strip())


def _check_address(text: str) -> str:
    if text == "" or text.startswith("unix://"):
        if text == "unix://":
            raise _err("expected a socket path after unix://")
        return text
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise _err("expected an address as host:port, :port or unix:///path")
    if host.startswith("[") != host.endswith("]"):
        raise _err("expected an address as host:port, :port or unix:///path")
    return text


def _check_json_objects(text: str) -> str:
    from appliance.errors import FilterError
    from appliance.export.filters import json_objects

    try:
        json_objects(text)
    except FilterError as e:
        raise _err(f"expected JSON objects: {e}") from None
    return text


def _check_file_mode(text: str) -> str:
    if not re.fullmatch(r"0?[0-7]{3,4}", text.strip()):
        raise _err("expected octal file permissions such as 600 or 0640")
    return text.strip()


def _check_cgroup_rate(text: str) -> str:
    if text == "":
        return text
    events, sep, interval = text.partition(",")
    if not sep or "," in interval:
        raise _err("expected <events>,<interval> such as 1000,1s")
    if events.strip():
        _parse_int(events)
    if interval.strip():
        _parse_duration(interval)
    return text


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _err("expected a single value, not a list or a mapping")


def _coerce(name: str, value: Any) -> Any:
    """Turn the text of a setting (or a YAML value) into its field's Python type."""
    info = Settings.model_fields[name]
    annotation = info.annotation
    metadata = info.metadata
    if annotation == tuple[str, ...]:
        return _parse_list(value)
    if isinstance(value, timedelta) or (
        isinstance(value, bool | int | float) and not isinstance(value, str)
    ):
        # Typed Python values go to the model's type checks, except the string-like kinds.
        if annotation is str:
            value = _scalar_text(value)
        else:
            return value
    text = _scalar_text(value)
    if annotation is bool:
        return _parse_bool(text)
    if annotation is int:
        return _parse_size(text) if _SIZE in metadata else _parse_int(text)
    if annotation is timedelta:
        return _parse_duration(text)
    if get_origin(annotation) is Literal:
        word = text.strip().lower()
        word = _LEVEL_ALIASES.get(word, word) if name == "log_level" else word
        choices = get_args(annotation)
        if word not in choices:
            raise _err("expected one of: " + ", ".join(choices))
        return word
    if _ADDRESS in metadata:
        return _check_address(text.strip())
    if _JSON_OBJECTS in metadata:
        return _check_json_objects(text)
    if _FILE_MODE in metadata:
        return _check_file_mode(text)
    if _CGROUP_RATE in metadata:
        return _check_cgroup_rate(text.strip())
    return text


# --- the model --------------------------------------------------------------------------


def _retry_not_zero(value: int) -> int:
    if value == 0:
        raise _err("zero is invalid: use a negative number for no limit")
    return value


def _ancestor_kinds(value: tuple[str, ...]) -> tuple[str, ...]:
    kinds = ("base", "kprobe", "tracepoint", "uprobe", "lsm", "usdt")
    unknown = [v for v in value if v not in kinds]
    if unknown:
        raise _err(f"unknown event type {unknown[0]!r}: expected some of {', '.join(kinds)}")
    if value and "base" not in value:
        raise _err("'base' is needed by the other event types")
    return value


class Settings(FrozenModel):
    """Every daemon setting, one typed field each; the flag name is the field name with
    dashes (``export_filename`` is ``--export-filename``).

    Constructing ``Settings(...)`` reads nothing but its arguments, so two models built from
    the same values are equal; :func:`load_settings` fills one from the files, environment
    and command line.
    """

    # a plain model: the files, environment and flags are layered by load_settings, which
    # knows where each value came from; defaults are not checked

    # -- configuration sources
    config_dir: str = _f(
        "",
        "Configuration directory that contains a file for each setting, read after the "
        "/etc/tetragon drop-ins (for example a mounted ConfigMap)",
    )

    # -- logging and debugging
    log_level: LogLevel = _f("info", "Log level: trace, debug, info, warn, error, fatal, panic")
    log_format: Literal["text", "json"] = _f("text", "Log format: text or json")
    debug: bool = _f(False, "Enable debug messages; the same as --log-level=debug")
    verbose: int = _f(
        0,
        "Verbosity of BPF verifier logs on load errors: 0 silent, 1 truncated, 2 full dump",
        ge=0,
        le=2,
    )
    gops_address: Address = _f("", "Address of a runtime diagnostics endpoint. Disabled if empty")
    pprof_address: Address = _f(
        "",
        "Address serving runtime profile data over HTTP (e.g. 'localhost:6060'). Disabled if empty",
    )
    cpuprofile: str = _f("", "Write a CPU profile of the agent into this file")
    memprofile: str = _f("", "Write a memory profile of the agent into this file")
    generate_docs: bool = _f(False, "Print the documentation of all settings as YAML and exit")

    # -- BPF and kernel
    bpf_lib: str = _f(
        "",
        "Directory holding the BPF objects and BTF files. Empty: autodetect (installed "
        "package data, then /var/lib/tetragon/)",
    )
    btf: str = _f("", "BTF file describing the kernel. Empty: /sys/kernel/btf/vmlinux")
    procfs: str = _f("/proc", "Location of procfs, scanned at start for running processes")
    kernel: str = _f("", "Kernel version to assume instead of the running kernel's")
    bpf_dir: str = _f(
        "tetragon",
        "Directory under the BPF filesystem (/sys/fs/bpf) where programs and maps are pinned",
    )
    release_pinned_bpf: bool = _f(
        True,
        "Unpin policy programs and maps when the agent exits. false: policies are pinned "
        "and stay enforced in the kernel while no agent runs; the next agent adopts them",
    )
    keep_sensors_on_exit: bool = _f(False, "Leave sensors loaded and pinned when the agent exits")
    force_small_progs: bool = _f(False, "Load the small BPF programs even on kernels >= 5.3")
    force_large_progs: bool = _f(False, "Load the large BPF programs even on kernels < 5.3")
    disable_kprobe_multi: bool = _f(False, "Never use the kprobe multi-attach interface")
    disable_uprobe_multi: bool = _f(False, "Never use the uprobe multi-attach interface")
    kmods: tuple[str, ...] = _f((), "Comma-separated kernel modules to load symbols from")
    use_perf_ring_buffer: bool = _f(
        False, "Send events through a per-CPU perf buffer instead of the BPF ring buffer"
    )
    rb_size: Size = _f(
        0, "Ring buffer size per CPU in bytes, K/M/G suffixes allowed. 0: 64K per CPU", ge=0
    )
    rb_size_total: Size = _f(
        0,
        "Ring buffer size for all CPUs together, K/M/G suffixes allowed. 0: from --rb-size",
        ge=0,
    )
    rb_queue_size: Size = _f(
        65535,
        "Size of the queue between the ring buffer reader and the event decoders, "
        "K/M/G suffixes allowed",
        ge=1,
    )
    execve_map_entries: int = _f(0, "Entries of the execve map. 0: 32768", ge=0)
    execve_map_size: Size = _f(
        0,
        "Size of the execve map in bytes, K/M/G suffixes allowed. 0: from --execve-map-entries",
        ge=0,
    )
    retprobes_cache_size: int = _f(
        4096, "Maximum number of kretprobe/uretprobe entries waiting for their return", ge=0
    )
    enable_compatibility_syscall64_size_type: bool = _f(
        False, "Report syscall64 arguments with the 'size' type (older output format)"
    )

    # -- processes
    process_cache_size: int = _f(65536, "Size of the process cache", gt=0)
    process_cache_gc_interval: timedelta = _f(
        timedelta(seconds=30),
        "Time between sweeps of the process cache for exited processes",
        gt=timedelta(0),
    )
    data_cache_size: int = _f(1024, "Size of the cache of large event arguments", ge=0)
    event_queue_size: int = _f(10000, "Size of the internal event queue", ge=0)
    event_stream_max_clients: int = _f(
        128, "GetEvents streams served at once; more are refused (RESOURCE_EXHAUSTED)", gt=0
    )
    event_stream_slow_timeout: timedelta = _f(
        timedelta(seconds=10),
        "A GetEvents client whose queue of event-queue-size events stays full this long is "
        "disconnected (counted in tetragon_grpc_slow_subscribers_disconnected_total)",
    )
    event_cache_retries: int = _f(
        15, "Times an event waiting for its process information is retried", ge=0
    )
    event_cache_retry_delay: int = _f(
        2, "Seconds between retries of an event waiting for its process information", ge=0
    )
    enable_process_cred: bool = _f(False, "Add process credentials to process events")
    enable_process_ns: bool = _f(
        False, "Add namespace information to process_exec and process_kprobe events"
    )
    enable_ancestors: tuple[str, ...] = _f(
        (),
        "Comma-separated event types that carry the process's ancestors: base, kprobe, "
        "tracepoint, uprobe, lsm, usdt ('base' covers process_exec and process_exit and is "
        "needed by the others). Empty: no ancestors",
    )
    enable_process_environment_variables: bool = _f(
        False,
        "Add environment variables to process_exec events (large, may hold secrets: "
        "see --redaction-filters)",
    )
    filter_environment_variables: tuple[str, ...] = _f(
        (), "Comma-separated environment variable names kept when they are exported. Empty: all"
    )
    username_metadata: Literal["disabled", "unix"] = _f(
        "disabled", "Resolve user ids of host processes to names: disabled or unix (/etc/passwd)"
    )
    expose_stack_addresses: bool = _f(
        False, "Show real linear addresses in the stack traces of events"
    )
    expose_kernel_addresses: bool = _f(
        False, "Older name of --expose-stack-addresses; either one enables it"
    )
    cgroup_rate: Annotated[str, _CGROUP_RATE] = _f(
        "",
        "Rate limit of base sensor events per cgroup as <events>,<interval> "
        "(e.g. '1000,1s'). Disabled if empty",
    )

    # -- event export
    export_filename: str = _f("", "File that events are written to as JSON lines. Off if empty")
    export_file_max_size_mb: int = _f(
        10, "Size in megabytes at which the export file is rotated", ge=0
    )
    export_file_rotation_interval: timedelta = _f(
        timedelta(0),
        "Rotate the export file at this interval too, besides by size. 0: off",
        ge=timedelta(0),
    )
    export_file_max_backups: int = _f(5, "Number of rotated export files kept", ge=0)
    export_file_compress: bool = _f(False, "Compress rotated export files with gzip")
    export_file_perm: Annotated[str, _FILE_MODE] = _f(
        "600", "Octal access permissions of the export files"
    )
    export_rate_limit: int = _f(-1, "Maximum events exported per minute. -1: no limit", ge=-1)
    export_allowlist: JsonObjects = _f(
        "", "Export only events matching one of these JSON filters (one object per filter)"
    )
    export_denylist: JsonObjects = _f(
        "", "Do not export events matching one of these JSON filters (one object per filter)"
    )
    field_filters: JsonObjects = _f(
        "", "JSON field filters that include or exclude event fields on export"
    )
    redaction_filters: JsonObjects = _f(
        "", "JSON filters whose regular expressions redact matching parts of process arguments"
    )
    enable_export_aggregation: bool = _f(False, "Aggregate similar events in the JSON export")
    export_aggregation_window_size: timedelta = _f(
        timedelta(seconds=15), "Time window of export aggregation", gt=timedelta(0)
    )
    export_aggregation_buffer_size: int = _f(
        10000, "Size of the queue in front of the export aggregator", ge=0
    )
    export_stdout: bool = _f(False, "Also write exported events to standard output")
    enable_pid_set_filter: bool = _f(
        False, "Allow pid_set export filters (they follow process trees; not for production)"
    )

    # -- servers and metrics
    server_address: Annotated[Address, _EMPTY_DISABLES] = _f(
        "localhost:54321",
        "gRPC server address, e.g. 'localhost:54321' or "
        "'unix:///var/run/tetragon/tetragon.sock'. An empty value disables the gRPC server",
    )
    health_server_address: Annotated[Address, _EMPTY_DISABLES] = _f(
        ":6789", "Health server address (e.g. ':6789'). An empty value disables it"
    )
    health_server_interval: int = _f(10, "Seconds between health checks", gt=0)
    metrics_server: Address = _f("", "Prometheus metrics address (e.g. ':2112'). Off if empty")
    metrics_label_filter: tuple[str, ...] = _f(
        ("namespace", "workload", "pod", "binary"),
        "Comma-separated metric labels to keep; unknown labels are ignored",
    )
    enable_msg_handling_latency: bool = _f(False, "Export metrics of event handling latency")

    # -- tracing policies
    tracing_policy: str = _f("", "Tracing policy file to load at start")
    tracing_policy_dir: str = _f(
        "/etc/tetragon/tetragon.tp.d", "Directory from which tracing policies are loaded"
    )
    policy_cache_dir: str = _f(
        "/var/cache/tetragon/policies",
        "Directory caching compiled policy objects by content and kernel BTF",
    )
    kprobe_equivalents: bool = _f(
        True,
        "Where a kprobe's kernel function cannot be hooked (no kprobes, no fentry), attach "
        "its documented equivalent on syscall tracepoints instead of refusing the policy",
    )
    enable_policy_filter: bool = _f(
        False, "Enable policy filtering (namespaced policies and pod selectors)"
    )
    enable_policy_filter_cgroup_map: bool = _f(
        False, "Keep cgroup mappings in the policy filter maps"
    )
    enable_policy_filter_debug: bool = _f(False, "Log policy filter debug messages")

    # -- node, containers and Kubernetes
    node_name: str = _f(
        "", "Name of this node in events. Empty: $HUBBLE_NODE_NAME, $NODE_NAME, else the host name"
    )
    cluster_name: str = _f("", "Name of the cluster this node belongs to")
    metadata_source: Literal["auto", "kubernetes", "docker", "cgroup"] = _f(
        "auto",
        "Where container metadata comes from: auto (detect), kubernetes, docker or "
        "cgroup (cgroup paths only)",
    )
    netns_dir: str = _f("/var/run/docker/netns/", "Directory of named network namespaces")
    enable_k8s_api: bool = _f(False, "Use the Kubernetes API to add pod information to events")
    k8s_kubeconfig_path: str = _f("", "Absolute path of a kubeconfig file. Empty: in-cluster")
    k8s_controlplane_retry: int = _f(
        1, "Attempts to reach the Kubernetes control plane: negative for no limit, zero is invalid"
    )
    enable_pod_annotations: bool = _f(False, "Add pod annotations to events")
    enable_pod_info: bool = _f(False, "Enable the PodInfo custom resource")
    enable_tracing_policy_crd: bool = _f(
        True, "Watch the TracingPolicy and TracingPolicyNamespaced custom resources"
    )
    enable_cri: bool = _f(False, "Query the container runtime (CRI) for container information")
    cri_endpoint: str = _f("", "CRI endpoint, e.g. unix:///run/containerd/containerd.sock")
    enable_cgidmap: bool = _f(False, "Resolve pods through cgroup ids")
    enable_cgidmap_debug: bool = _f(False, "Log debugging information of the cgroup id map")
    enable_cgtrackerid: bool = _f(
        False, "Track cgroup ids of processes. Default: the value of --enable-cgidmap"
    )

    @classmethod
    def _before(cls, name: str, value: Any) -> Any:
        return _coerce(name, value)

    def _consistent(self) -> None:
        if self.force_small_progs and self.force_large_progs:
            raise ValueError("force-small-progs and force-large-progs are both set")

    # -- derived values

    @property
    def effective_log_level(self) -> str:
        """``debug`` when ``--debug`` is set, else ``log_level``."""
        return "debug" if self.debug else self.log_level

    @property
    def stack_addresses_exposed(self) -> bool:
        """Whether stack traces show real addresses (either flag name enables it)."""
        return self.expose_stack_addresses or self.expose_kernel_addresses

    @property
    def export_file_mode(self) -> int:
        """``export_file_perm`` as a number for ``os.chmod``."""
        return int(self.export_file_perm, 8)

    @property
    def cgroup_rate_limit(self) -> tuple[int, timedelta] | None:
        """``cgroup_rate`` as (events, interval), or None when it is off."""
        if not self.cgroup_rate:
            return None
        events, _, interval = self.cgroup_rate.partition(",")
        return (
            _parse_int(events) if events.strip() else 0,
            _parse_duration(interval) if interval.strip() else timedelta(0),
        )


Settings._after = {
    "k8s_controlplane_retry": _retry_not_zero,
    "enable_ancestors": _ancestor_kinds,
}

#: Flag name (``export-filename``) -> field name (``export_filename``), in field order.
FLAG_NAMES: dict[str, str] = {name.replace("_", "-"): name for name in Settings.model_fields}
_FIELD_FLAGS: dict[str, str] = {name: flag for flag, name in FLAG_NAMES.items()}
_SHORT_FLAGS: dict[str, str] = {"debug": "-d"}
_KNOWN_NAMES: dict[str, str] = {**FLAG_NAMES, **{n: n for n in Settings.model_fields}}

#: The export file and its rotation: a change to any of them opens a new file sink.
EXPORT_FILE_SETTINGS: frozenset[str] = frozenset(
    {
        "export_filename",
        "export_file_max_size_mb",
        "export_file_rotation_interval",
        "export_file_max_backups",
        "export_file_compress",
        "export_file_perm",
    }
)

#: Fields the agent applies while running; changing any other field needs a restart.
LIVE_SETTINGS: frozenset[str] = EXPORT_FILE_SETTINGS | frozenset(
    {
        "export_rate_limit",
        "export_allowlist",
        "export_denylist",
        "export_stdout",
        "field_filters",
        "redaction_filters",
        "enable_export_aggregation",
        "export_aggregation_window_size",
        "export_aggregation_buffer_size",
        "log_level",
        "log_format",
        "debug",
        "verbose",
        "btf",
        "tracing_policy",
        "tracing_policy_dir",
        "policy_cache_dir",
    }
)


#: Settings accepted so that Tetragon configurations load unchanged, but without effect in
#: this appliance (its ring buffer, maps and caches are sized by their own means, and it
#: has no Kubernetes API or CRI client). A value other than the default is warned about.
INERT_SETTINGS: frozenset[str] = frozenset(
    {
        "gops_address",
        "pprof_address",
        "cpuprofile",
        "memprofile",
        "keep_sensors_on_exit",
        "force_small_progs",
        "force_large_progs",
        "kmods",
        "use_perf_ring_buffer",
        "rb_size_total",
        "rb_queue_size",
        "execve_map_entries",
        "execve_map_size",
        "retprobes_cache_size",
        "enable_compatibility_syscall64_size_type",
        "process_cache_gc_interval",
        "data_cache_size",
        "enable_process_environment_variables",
        "filter_environment_variables",
        "username_metadata",
        "expose_stack_addresses",
        "expose_kernel_addresses",
        "cgroup_rate",
        "enable_export_aggregation",
        "export_aggregation_window_size",
        "export_aggregation_buffer_size",
        "enable_pid_set_filter",
        "health_server_interval",
        "metrics_label_filter",
        "enable_msg_handling_latency",
        "enable_policy_filter_cgroup_map",
        "enable_policy_filter_debug",
        "cluster_name",
        "netns_dir",
        "k8s_controlplane_retry",
        "enable_pod_annotations",
        "enable_pod_info",
        "enable_cri",
        "cri_endpoint",
        "enable_cgidmap",
        "enable_cgidmap_debug",
        "enable_cgtrackerid",
    }
)


def inert_settings_warnings(s: Settings, names: Iterable[str] | None = None) -> list[str]:
    """A warning for each setting of :data:`INERT_SETTINGS` set away from its default
    (among ``names`` when given), so that nobody relies on one silently ignored."""
    fields = Settings.model_fields
    out = []
    for name in fields if names is None else names:
        default = fields[name].default
        if name in INERT_SETTINGS and getattr(s, name) != default:
            flag = name.replace("_", "-")
            out.append(
                f"setting {flag}={format_value(name, getattr(s, name))} is accepted for "
                "compatibility with Tetragon but has no effect in this appliance"
            )
    return out


# --- errors and results -----------------------------------------------------------------


@dataclass(frozen=True)
class LoadedSettings:
    """The result of :func:`load_settings`.

    ``sources`` maps every field to where its effective value came from: a drop-in file's
    path, the YAML file's path, ``env TETRAGON_...``, ``flag --...`` or ``default`` (also
    ``default (cleared by <source>)`` after an empty value). ``dirs`` lists the drop-in
    directories that were read, in order; ``warnings`` the unknown or duplicated settings met,
    each naming its file or variable.
    """

    settings: Settings
    sources: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    dirs: tuple[str, ...] = ()


# --- where the system configuration is ---------------------------------------------

#: Environment variables naming other system configuration locations than /usr/lib,
#: /usr/local/lib and /etc (tests, chroots, relocated installs). They do not start with
#: ``TETRAGON_``, which is the settings' own prefix.
ENV_SYSTEM_DIRS = "APPLIANCE_SYSTEM_CONF_DIRS"  # colon-separated; the last one is the admin's
ENV_SYSTEM_YAML = "APPLIANCE_SYSTEM_CONF_YAML"


def config_locations(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``load_settings`` keyword arguments for the system configuration locations.

    The defaults (/usr/lib, /usr/local/lib, /etc) unless :data:`ENV_SYSTEM_DIRS` or
    :data:`ENV_SYSTEM_YAML` name others; the agent and the controller both read them, so
    they always see the same sources.
    """
    environ = os.environ if environ is None else environ
    dirs = environ.get(ENV_SYSTEM_DIRS)
    yaml_file = environ.get(ENV_SYSTEM_YAML)
    return {
        "system_dirs": tuple(d for d in dirs.split(":") if d) if dirs else DEFAULT_DIRS,
        "yaml_file": yaml_file if yaml_file else DEFAULT_YAML_FILE,
    }


# --- reading the sources ----------------------------------------------------------------

_CLEAR = object()  # an empty value: back to the default
# Editors' and package managers' leftovers beside a configuration file.
LEFTOVER_SUFFIXES = (
    "~",
    ".swp",
    ".swo",
    ".swx",
    ".tmp",
    ".bak",
    ".orig",
    ".rej",
    ".rpmnew",
    ".rpmsave",
    ".rpmorig",
    ".dpkg-old",
    ".dpkg-new",
    ".dpkg-dist",
    ".dpkg-tmp",
    ".ucf-old",
    ".ucf-new",
    ".ucf-dist",
)

# One layer: field -> (value or _CLEAR, source, key as written, raw text).
_Layer = dict[str, tuple[Any, str, str, Any]]


def ignored_name(name: str) -> bool:
    """Whether a directory entry is hidden or a leftover (``*~``, ``#*#``, ``*.rpmnew``...),
    which a directory of configuration files skips rather than reads."""
    return (
        name.startswith(".")
        or name.endswith(LEFTOVER_SUFFIXES)
        or (name.startswith("#") and name.endswith("#"))
    )


def _validate_value(name: str, raw: Any, source: str, key: str) -> Any:
    """Parse one raw value for field ``name``; raise SettingsError naming its source."""
    is_empty = raw is None or (isinstance(raw, str) and raw.strip() == "")
    is_empty = is_empty or (isinstance(raw, list | tuple) and not raw)
    if is_empty:
        if _EMPTY_DISABLES in Settings.model_fields[name].metadata:
            return ""
        return _CLEAR
    try:
        model = Settings.model_validate({name: raw})
    except ValidationError as exc:
        raise SettingsError(
            source, _FIELD_FLAGS[name], validation_reason(exc), _shown(raw)
        ) from None
    return getattr(model, name)


def parse_one(name: str, text: str, source: str = "") -> tuple[str, Any]:
    """(field name, value) of one setting given as text, as a drop-in file gives it.

    ``name`` is a flag name (``export-filename``) or a field name (``export_filename``). An
    empty text is the setting's default, except for the listening addresses, where it means
    disabled (as upstream documents). Raises :class:`SettingsError` naming ``source``.
    """
    field_name = _KNOWN_NAMES.get(name)
    if field_name is None:
        raise SettingsError(source, name, "unknown setting")
    value = _validate_value(field_name, text.strip(), source, _FIELD_FLAGS[field_name])
    if value is _CLEAR:
        value = Settings.model_fields[field_name].default
    return field_name, value


def validation_reason(exc: ValidationError) -> str:
    """Why the Settings model refused a value, in the words the errors print."""
    return "; ".join(_reason(err) for err in exc.errors())


def _reason(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    if err.get("type") == "value_error" and msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg[:1].lower() + msg[1:]


def _shown(raw: Any) -> Any:
    return raw.strip() if isinstance(raw, str) else raw


def _put(layer: _Layer, warnings: list[str], name: str, item: tuple[Any, str, str, Any]) -> None:
    if name in layer and layer[name][2] != item[2]:
        warnings.append(
            f"{item[1]}: {item[2]} and {layer[name][2]} both set {_FIELD_FLAGS[name]}; "
            f"using {item[2]}"
        )
    layer[name] = item


def _read_dropin_dir(directory: str, warnings: list[str], *, required_by: str | None) -> _Layer:
    """Read one drop-in directory; a missing directory is empty unless ``required_by``."""
    layer: _Layer = {}
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        if required_by is not None:
            raise SettingsError(
                required_by, "config-dir", "directory does not exist", directory
            ) from None
        return layer
    except NotADirectoryError:
        if required_by is not None:
            raise SettingsError(required_by, "config-dir", "not a directory", directory) from None
        warnings.append(f"{directory}: not a directory; skipped")
        return layer
    except OSError as exc:
        if required_by is not None:
            reason = exc.strerror or str(exc)
            raise SettingsError(required_by, "config-dir", reason, directory) from None
        warnings.append(f"{directory}: cannot be read ({exc.strerror or exc}); skipped")
        return layer
    for entry in names:
        if ignored_name(entry):
            continue
        path = os.path.join(directory, entry)
        if not os.path.isfile(path):  # subdirectories, sockets, dangling links
            continue
        name = _KNOWN_NAMES.get(entry)
        if name is None:
            warnings.append(f"{path}: unknown setting {entry!r} ignored")
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except UnicodeDecodeError:
            raise SettingsError(path, _FIELD_FLAGS[name], "the file is not UTF-8 text") from None
        except OSError as exc:
            warnings.append(f"{path}: cannot be read ({exc.strerror or exc}); skipped")
            continue
        raw = text.strip()
        value = _validate_value(name, raw, path, _FIELD_FLAGS[name])
        _put(layer, warnings, name, (value, path, entry, raw))
    return layer


def _read_yaml(path: str, warnings: list[str]) -> _Layer:
    layer: _Layer = {}
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return layer
    except IsADirectoryError:
        raise SettingsError(path, None, "is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise SettingsError(path, None, "the file is not UTF-8 text") from None
    import yaml  # only when the file exists: most agents read drop-ins alone

    try:
        # All scalars stay text, so YAML values parse exactly like drop-in files.
        data = yaml.load(text, Loader=yaml.BaseLoader)  # builds no Python objects
    except yaml.YAMLError as exc:
        raise SettingsError(path, None, f"not valid YAML: {exc}") from None
    if data is None or data == "":
        return layer
    if not isinstance(data, dict):
        raise SettingsError(path, None, "expected a mapping of setting names to values")
    for key, raw in data.items():
        name = _KNOWN_NAMES.get(key)
        if name is None:
            warnings.append(f"{path}: unknown setting {key!r} ignored")
            continue
        if isinstance(raw, dict):
            raise SettingsError(path, _FIELD_FLAGS[name], "expected a value, not a mapping")
        value = _validate_value(name, raw, path, _FIELD_FLAGS[name])
        _put(layer, warnings, name, (value, path, key, raw))
    return layer


def _read_env(environ: Mapping[str, str], warnings: list[str]) -> _Layer:
    layer: _Layer = {}
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX):
            continue
        raw = environ[var]
        suffix = var[len(ENV_PREFIX) :].lower()
        if suffix not in Settings.model_fields:
            warnings.append(f"env {var}: unknown setting ignored")
            continue
        if raw.strip() == "":
            continue  # upstream ignores empty variables
        source = f"env {var}"
        value = _validate_value(suffix, raw, source, _FIELD_FLAGS[suffix])
        layer[suffix] = (value, source, var, raw)
    return layer


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        from appliance.suggest import with_suggestion

        raise SettingsError("command line", None, with_suggestion(message, self))


def build_arg_parser(prog: str) -> argparse.ArgumentParser:
    """A parser with one ``--flag-name`` option per setting, help from the descriptions.

    Options not given are absent from the result (their default is ``SUPPRESS``); values
    stay text for :func:`load_settings` to parse. Boolean options take ``--flag``,
    ``--flag=true`` or ``--flag=false``. Errors raise :class:`SettingsError`.
    """
    parser = _ArgumentParser(
        prog=prog,
        usage="%(prog)s [flags]",
        description="eBPF security observability and runtime enforcement, configured like "
        "Tetragon: drop-in files, /etc/tetragon/tetragon.yaml, TETRAGON_* variables and "
        "these flags (later wins).",
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,
    )
    for flag in sorted(FLAG_NAMES):
        name = FLAG_NAMES[flag]
        info = Settings.model_fields[name]
        default = format_value(name, info.default)
        help_text = (info.description or "").replace("%", "%%")
        if default:
            help_text += f" (default {default})"
        names = [f"--{flag}"]
        if name in _SHORT_FLAGS:
            names.insert(0, _SHORT_FLAGS[name])
        if info.annotation is bool:
            parser.add_argument(
                *names, dest=name, nargs="?", const="true", metavar="true|false", help=help_text
            )
        else:
            parser.add_argument(*names, dest=name, metavar=_metavar(name), help=help_text)
    return parser


def _metavar(name: str) -> str:
    info = Settings.model_fields[name]
    annotation = info.annotation
    if get_origin(annotation) is Literal:
        return "{" + ",".join(get_args(annotation)) + "}"
    if annotation is int:
        return "size" if _SIZE in info.metadata else "int"
    if annotation is timedelta:
        return "duration"
    if annotation == tuple[str, ...]:
        return "list"
    return "string"


def _read_flags(argv: Sequence[str], prog: str) -> _Layer:
    namespace = build_arg_parser(prog).parse_args(list(argv))
    layer: _Layer = {}
    for name, raw in vars(namespace).items():
        source = f"flag --{_FIELD_FLAGS[name]}"
        value = _validate_value(name, raw, source, _FIELD_FLAGS[name])
        layer[name] = (value, source, f"--{_FIELD_FLAGS[name]}", raw)
    return layer


def load_settings(
    argv: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    system_dirs: Sequence[str] = DEFAULT_DIRS,
    yaml_file: str = DEFAULT_YAML_FILE,
) -> LoadedSettings:
    """Fill :class:`Settings` from every source, later ones winning.

    The order is: each directory of ``system_dirs`` but the last (package drop-ins), the
    YAML file ``yaml_file``, the last directory of ``system_dirs`` (the administrator's
    drop-ins), the directory named by ``config-dir`` (taken from the flags, else the
    environment, else the files read so far), the ``TETRAGON_*`` variables of ``environ``
    and the flags in ``argv``. ``argv`` defaults to ``sys.argv[1:]`` and ``environ`` to
    ``os.environ``; missing directories and a missing YAML file are skipped.

    In a drop-in directory a file's name is the setting and its content the value. An
    empty file (or empty YAML value, or ``--flag=``) clears the setting back to its
    default, overriding what earlier sources set; for ``server-address`` and
    ``health-server-address`` an empty value disables the server instead. An empty
    environment variable is ignored.

    Raises :class:`SettingsError` for a value that does not parse, naming the file,
    variable or flag, the setting and the reason; an unknown setting name is a warning.
    ``--help`` prints the help and exits.
    """
    if argv is None:
        argv = sys.argv[1:]
    if environ is None:
        environ = os.environ
    warnings: list[str] = []
    dirs: list[str] = []

    layers: list[_Layer] = []
    package_dirs, admin_dirs = list(system_dirs[:-1]), list(system_dirs[-1:])
    for directory in package_dirs:
        layers.append(_read_dropin_dir(directory, warnings, required_by=None))
        dirs.append(directory)
    layers.append(_read_yaml(yaml_file, warnings))
    for directory in admin_dirs:
        layers.append(_read_dropin_dir(directory, warnings, required_by=None))
        dirs.append(directory)

    env_layer = _read_env(environ, warnings)
    flag_layer = _read_flags(argv, os.path.basename(sys.argv[0]) or "tetragon")

    config_dir, config_source = "", "default"
    for layer in (*layers, env_layer, flag_layer):
        if "config_dir" in layer:
            value, source = layer["config_dir"][0], layer["config_dir"][1]
            config_dir, config_source = ("", "default") if value is _CLEAR else (value, source)
    if config_dir:
        config_layer = _read_dropin_dir(config_dir, warnings, required_by=config_source)
        if "config_dir" in config_layer:
            warnings.append(
                f"{config_layer['config_dir'][1]}: config-dir cannot be set from inside the "
                "configuration directory; ignored"
            )
            del config_layer["config_dir"]
        layers.append(config_layer)
        dirs.append(config_dir)
    layers += [env_layer, flag_layer]

    values: dict[str, Any] = {}
    sources: dict[str, str] = {name: "default" for name in Settings.model_fields}
    for layer in layers:
        for name, (value, source, _key, _raw) in layer.items():
            if value is _CLEAR:
                values.pop(name, None)
                sources[name] = f"default (cleared by {source})"
            else:
                values[name] = value
                sources[name] = source

    if not values.get("node_name"):
        for var in NODE_NAME_ENV_VARS:
            if environ.get(var, "").strip():
                values["node_name"] = environ[var].strip()
                sources["node_name"] = f"env {var}"
                break
        else:
            from appliance.nodename import host_name

            values["node_name"], sources["node_name"] = host_name()
    if "enable_cgtrackerid" not in values and values.get("enable_cgidmap"):
        values["enable_cgtrackerid"] = True
        sources["enable_cgtrackerid"] = "default (follows enable-cgidmap)"

    try:
        settings = Settings(**values)
    except ValidationError as exc:
        # Only checks across settings can fail here: every value was parsed on its own.
        names = [n for n in ("force_small_progs", "force_large_progs") if n in values]
        source = ", ".join(sorted({sources[n] for n in names})) or "settings"
        reason = "; ".join(_reason(err) for err in exc.errors())
        raise SettingsError(source, None, reason) from None
    return LoadedSettings(settings, sources, warnings, tuple(dirs))


# --- reporting --------------------------------------------------------------------------


def format_value(name: str, value: Any) -> str:
    """Write a field's value as it would appear in a drop-in file (parses back the same)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def effective_settings_lines(loaded: LoadedSettings) -> list[str]:
    """``flag-name=value (source)`` for every setting, for the agent's start-up log.

    Multi-line values (filters) are written with ``\\n`` escapes to keep one line each.
    """
    lines = []
    for flag, name in FLAG_NAMES.items():
        text = format_value(name, getattr(loaded.settings, name)).replace("\n", "\\n")
        text = text or '""'
        lines.append(f"{flag}={text} ({loaded.sources.get(name, 'default')})")
    return lines


def diff_settings(old: Settings, new: Settings) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ, as ``{field: (old, new)}`` in field order.

    The controller applies a change live when every key is in :data:`LIVE_SETTINGS` and
    restarts the agent otherwise.
    """
    return {
        name: (getattr(old, name), getattr(new, name))
        for name in Settings.model_fields
        if getattr(old, name) != getattr(new, name)
    }


def _iter_docs() -> Iterable[dict[str, str]]:
    for flag in sorted(FLAG_NAMES):
        name = FLAG_NAMES[flag]
        info = Settings.model_fields[name]
        entry = {"name": flag}
        default = format_value(name, info.default)
        if default:
            entry["default_value"] = default
        entry["usage"] = info.description or ""
        yield entry


def generate_docs(prog: str = "tetragon") -> str:
    """The settings documented as YAML, in the layout of ``tetragon --generate-docs``."""
    import yaml

    doc = {"name": prog, "usage": f"{prog} [flags]", "options": list(_iter_docs())}
    return yaml.safe_dump(doc, sort_keys=False, width=100)
