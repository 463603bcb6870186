from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper

from appliance.api.tetragon import stack_pb2 as _stack_pb2
from appliance.api.tetragon import tetragon_pb2 as _tetragon_pb2

DESCRIPTOR: _descriptor.FileDescriptor

class TracingPolicyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TP_STATE_UNKNOWN: _ClassVar[TracingPolicyState]
    TP_STATE_ENABLED: _ClassVar[TracingPolicyState]
    TP_STATE_DISABLED: _ClassVar[TracingPolicyState]
    TP_STATE_LOAD_ERROR: _ClassVar[TracingPolicyState]
    TP_STATE_ERROR: _ClassVar[TracingPolicyState]
    TP_STATE_LOADING: _ClassVar[TracingPolicyState]
    TP_STATE_UNLOADING: _ClassVar[TracingPolicyState]

class TracingPolicyMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TP_MODE_UNKNOWN: _ClassVar[TracingPolicyMode]
    TP_MODE_ENFORCE: _ClassVar[TracingPolicyMode]
    TP_MODE_MONITOR: _ClassVar[TracingPolicyMode]
    TP_MODE_MONITOR_ONLY: _ClassVar[TracingPolicyMode]

class ConfigFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_FLAG_LOG_LEVEL: _ClassVar[ConfigFlag]
    CONFIG_FLAG_DUMP_PROCESS_CACHE: _ClassVar[ConfigFlag]

class LogLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_LEVEL_PANIC: _ClassVar[LogLevel]
    LOG_LEVEL_FATAL: _ClassVar[LogLevel]
    LOG_LEVEL_ERROR: _ClassVar[LogLevel]
    LOG_LEVEL_WARN: _ClassVar[LogLevel]
    LOG_LEVEL_INFO: _ClassVar[LogLevel]
    LOG_LEVEL_DEBUG: _ClassVar[LogLevel]
    LOG_LEVEL_TRACE: _ClassVar[LogLevel]

TP_STATE_UNKNOWN: TracingPolicyState
TP_STATE_ENABLED: TracingPolicyState
TP_STATE_DISABLED: TracingPolicyState
TP_STATE_LOAD_ERROR: TracingPolicyState
TP_STATE_ERROR: TracingPolicyState
TP_STATE_LOADING: TracingPolicyState
TP_STATE_UNLOADING: TracingPolicyState
TP_MODE_UNKNOWN: TracingPolicyMode
TP_MODE_ENFORCE: TracingPolicyMode
TP_MODE_MONITOR: TracingPolicyMode
TP_MODE_MONITOR_ONLY: TracingPolicyMode
CONFIG_FLAG_LOG_LEVEL: ConfigFlag
CONFIG_FLAG_DUMP_PROCESS_CACHE: ConfigFlag
LOG_LEVEL_PANIC: LogLevel
LOG_LEVEL_FATAL: LogLevel
LOG_LEVEL_ERROR: LogLevel
LOG_LEVEL_WARN: LogLevel
LOG_LEVEL_INFO: LogLevel
LOG_LEVEL_DEBUG: LogLevel
LOG_LEVEL_TRACE: LogLevel

class ListSensorsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SensorStatus(_message.Message):
    __slots__ = ("name", "enabled", "collection")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    enabled: bool
    collection: str
    def __init__(
        self, name: str | None = ..., enabled: bool | None = ..., collection: str | None = ...
    ) -> None: ...

class ListSensorsResponse(_message.Message):
    __slots__ = ("sensors",)
    SENSORS_FIELD_NUMBER: _ClassVar[int]
    sensors: _containers.RepeatedCompositeFieldContainer[SensorStatus]
    def __init__(self, sensors: _Iterable[SensorStatus | _Mapping] | None = ...) -> None: ...

class RemoveSensorRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: str | None = ...) -> None: ...

class RemoveSensorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnableSensorRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: str | None = ...) -> None: ...

class EnableSensorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DisableSensorRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: str | None = ...) -> None: ...

class DisableSensorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TracingPolicyActionCounters(_message.Message):
    __slots__ = (
        "post",
        "signal",
        "monitor_signal",
        "override",
        "monitor_override",
        "notify_enforcer",
        "monitor_notify_enforcer",
        "set",
        "monitor_set",
    )
    POST_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    MONITOR_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    MONITOR_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_ENFORCER_FIELD_NUMBER: _ClassVar[int]
    MONITOR_NOTIFY_ENFORCER_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    MONITOR_SET_FIELD_NUMBER: _ClassVar[int]
    post: int
    signal: int
    monitor_signal: int
    override: int
    monitor_override: int
    notify_enforcer: int
    monitor_notify_enforcer: int
    set: int
    monitor_set: int
    def __init__(
        self,
        post: int | None = ...,
        signal: int | None = ...,
        monitor_signal: int | None = ...,
        override: int | None = ...,
        monitor_override: int | None = ...,
        notify_enforcer: int | None = ...,
        monitor_notify_enforcer: int | None = ...,
        set: int | None = ...,
        monitor_set: int | None = ...,
    ) -> None: ...

class TracingPolicyStats(_message.Message):
    __slots__ = ("action_counters",)
    ACTION_COUNTERS_FIELD_NUMBER: _ClassVar[int]
    action_counters: TracingPolicyActionCounters
    def __init__(
        self, action_counters: TracingPolicyActionCounters | _Mapping | None = ...
    ) -> None: ...

class TracingPolicyStatus(_message.Message):
    __slots__ = (
        "id",
        "name",
        "namespace",
        "info",
        "sensors",
        "enabled",
        "filter_id",
        "error",
        "state",
        "kernel_memory_bytes",
        "mode",
        "stats",
    )
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    SENSORS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    FILTER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    KERNEL_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    namespace: str
    info: str
    sensors: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    filter_id: int
    error: str
    state: TracingPolicyState
    kernel_memory_bytes: int
    mode: TracingPolicyMode
    stats: TracingPolicyStats
    def __init__(
        self,
        id: int | None = ...,
        name: str | None = ...,
        namespace: str | None = ...,
        info: str | None = ...,
        sensors: _Iterable[str] | None = ...,
        enabled: bool | None = ...,
        filter_id: int | None = ...,
        error: str | None = ...,
        state: TracingPolicyState | str | None = ...,
        kernel_memory_bytes: int | None = ...,
        mode: TracingPolicyMode | str | None = ...,
        stats: TracingPolicyStats | _Mapping | None = ...,
    ) -> None: ...

class ListTracingPoliciesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTracingPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[TracingPolicyStatus]
    def __init__(
        self, policies: _Iterable[TracingPolicyStatus | _Mapping] | None = ...
    ) -> None: ...

class AddTracingPolicyRequest(_message.Message):
    __slots__ = ("yaml",)
    YAML_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    def __init__(self, yaml: str | None = ...) -> None: ...

class AddTracingPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteTracingPolicyRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: str | None = ..., namespace: str | None = ...) -> None: ...

class DeleteTracingPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnableTracingPolicyRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: str | None = ..., namespace: str | None = ...) -> None: ...

class EnableTracingPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DisableTracingPolicyRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: str | None = ..., namespace: str | None = ...) -> None: ...

class DisableTracingPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConfigureTracingPolicyRequest(_message.Message):
    __slots__ = ("name", "namespace", "enable", "mode")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    enable: bool
    mode: TracingPolicyMode
    def __init__(
        self,
        name: str | None = ...,
        namespace: str | None = ...,
        enable: bool | None = ...,
        mode: TracingPolicyMode | str | None = ...,
    ) -> None: ...

class ConfigureTracingPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStackTraceTreeRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: str | None = ...) -> None: ...

class GetStackTraceTreeResponse(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: _stack_pb2.StackTraceNode
    def __init__(self, root: _stack_pb2.StackTraceNode | _Mapping | None = ...) -> None: ...

class GetVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: str | None = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("version", "name", "probes", "conf", "build")
    class Probe(_message.Message):
        __slots__ = ("Name", "Enabled")
        NAME_FIELD_NUMBER: _ClassVar[int]
        ENABLED_FIELD_NUMBER: _ClassVar[int]
        Name: str
        Enabled: _wrappers_pb2.BoolValue
        def __init__(
            self, Name: str | None = ..., Enabled: _wrappers_pb2.BoolValue | _Mapping | None = ...
        ) -> None: ...

    class ConfVal(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _any_pb2.Any
        def __init__(
            self, key: str | None = ..., value: _any_pb2.Any | _Mapping | None = ...
        ) -> None: ...

    class BuildInfo(_message.Message):
        __slots__ = ("go_version", "commit", "time", "modified")
        GO_VERSION_FIELD_NUMBER: _ClassVar[int]
        COMMIT_FIELD_NUMBER: _ClassVar[int]
        TIME_FIELD_NUMBER: _ClassVar[int]
        MODIFIED_FIELD_NUMBER: _ClassVar[int]
        go_version: str
        commit: str
        time: str
        modified: str
        def __init__(
            self,
            go_version: str | None = ...,
            commit: str | None = ...,
            time: str | None = ...,
            modified: str | None = ...,
        ) -> None: ...

    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROBES_FIELD_NUMBER: _ClassVar[int]
    CONF_FIELD_NUMBER: _ClassVar[int]
    BUILD_FIELD_NUMBER: _ClassVar[int]
    version: str
    name: str
    probes: _containers.RepeatedCompositeFieldContainer[GetInfoResponse.Probe]
    conf: _containers.RepeatedCompositeFieldContainer[GetInfoResponse.ConfVal]
    build: GetInfoResponse.BuildInfo
    def __init__(
        self,
        version: str | None = ...,
        name: str | None = ...,
        probes: _Iterable[GetInfoResponse.Probe | _Mapping] | None = ...,
        conf: _Iterable[GetInfoResponse.ConfVal | _Mapping] | None = ...,
        build: GetInfoResponse.BuildInfo | _Mapping | None = ...,
    ) -> None: ...

class DumpProcessCacheReqArgs(_message.Message):
    __slots__ = ("skip_zero_refcnt", "exclude_execve_map_processes")
    SKIP_ZERO_REFCNT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_EXECVE_MAP_PROCESSES_FIELD_NUMBER: _ClassVar[int]
    skip_zero_refcnt: bool
    exclude_execve_map_processes: bool
    def __init__(
        self, skip_zero_refcnt: bool | None = ..., exclude_execve_map_processes: bool | None = ...
    ) -> None: ...

class ProcessInternal(_message.Message):
    __slots__ = ("process", "color", "refcnt", "refcnt_ops")
    class RefcntOpsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: str | None = ..., value: int | None = ...) -> None: ...

    PROCESS_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    REFCNT_FIELD_NUMBER: _ClassVar[int]
    REFCNT_OPS_FIELD_NUMBER: _ClassVar[int]
    process: _tetragon_pb2.Process
    color: str
    refcnt: _wrappers_pb2.UInt32Value
    refcnt_ops: _containers.ScalarMap[str, int]
    def __init__(
        self,
        process: _tetragon_pb2.Process | _Mapping | None = ...,
        color: str | None = ...,
        refcnt: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        refcnt_ops: _Mapping[str, int] | None = ...,
    ) -> None: ...

class DumpProcessCacheResArgs(_message.Message):
    __slots__ = ("processes",)
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[ProcessInternal]
    def __init__(self, processes: _Iterable[ProcessInternal | _Mapping] | None = ...) -> None: ...

class GetDebugRequest(_message.Message):
    __slots__ = ("flag", "dump")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    DUMP_FIELD_NUMBER: _ClassVar[int]
    flag: ConfigFlag
    dump: DumpProcessCacheReqArgs
    def __init__(
        self,
        flag: ConfigFlag | str | None = ...,
        dump: DumpProcessCacheReqArgs | _Mapping | None = ...,
    ) -> None: ...

class GetDebugResponse(_message.Message):
    __slots__ = ("flag", "level", "processes")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    flag: ConfigFlag
    level: LogLevel
    processes: DumpProcessCacheResArgs
    def __init__(
        self,
        flag: ConfigFlag | str | None = ...,
        level: LogLevel | str | None = ...,
        processes: DumpProcessCacheResArgs | _Mapping | None = ...,
    ) -> None: ...

class SetDebugRequest(_message.Message):
    __slots__ = ("flag", "level")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    flag: ConfigFlag
    level: LogLevel
    def __init__(
        self, flag: ConfigFlag | str | None = ..., level: LogLevel | str | None = ...
    ) -> None: ...

class SetDebugResponse(_message.Message):
    __slots__ = ("flag", "level")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    flag: ConfigFlag
    level: LogLevel
    def __init__(
        self, flag: ConfigFlag | str | None = ..., level: LogLevel | str | None = ...
    ) -> None: ...
