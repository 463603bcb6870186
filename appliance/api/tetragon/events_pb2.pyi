import datetime
from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import message as _message
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper

from appliance.api.tetragon import capabilities_pb2 as _capabilities_pb2
from appliance.api.tetragon import tetragon_pb2 as _tetragon_pb2

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNDEF: _ClassVar[EventType]
    PROCESS_EXEC: _ClassVar[EventType]
    PROCESS_EXIT: _ClassVar[EventType]
    PROCESS_KPROBE: _ClassVar[EventType]
    PROCESS_TRACEPOINT: _ClassVar[EventType]
    PROCESS_LOADER: _ClassVar[EventType]
    PROCESS_UPROBE: _ClassVar[EventType]
    PROCESS_THROTTLE: _ClassVar[EventType]
    PROCESS_LSM: _ClassVar[EventType]
    PROCESS_USDT: _ClassVar[EventType]
    TEST: _ClassVar[EventType]
    RATE_LIMIT_INFO: _ClassVar[EventType]

class FieldFilterAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCLUDE: _ClassVar[FieldFilterAction]
    EXCLUDE: _ClassVar[FieldFilterAction]

class ThrottleType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    THROTTLE_UNKNOWN: _ClassVar[ThrottleType]
    THROTTLE_START: _ClassVar[ThrottleType]
    THROTTLE_STOP: _ClassVar[ThrottleType]

UNDEF: EventType
PROCESS_EXEC: EventType
PROCESS_EXIT: EventType
PROCESS_KPROBE: EventType
PROCESS_TRACEPOINT: EventType
PROCESS_LOADER: EventType
PROCESS_UPROBE: EventType
PROCESS_THROTTLE: EventType
PROCESS_LSM: EventType
PROCESS_USDT: EventType
TEST: EventType
RATE_LIMIT_INFO: EventType
INCLUDE: FieldFilterAction
EXCLUDE: FieldFilterAction
THROTTLE_UNKNOWN: ThrottleType
THROTTLE_START: ThrottleType
THROTTLE_STOP: ThrottleType

class Filter(_message.Message):
    __slots__ = (
        "binary_regex",
        "namespace",
        "health_check",
        "pid",
        "pid_set",
        "event_set",
        "pod_regex",
        "arguments_regex",
        "labels",
        "policy_names",
        "capabilities",
        "parent_binary_regex",
        "cel_expression",
        "parent_arguments_regex",
        "container_id",
        "in_init_tree",
        "ancestor_binary_regex",
    )
    BINARY_REGEX_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PID_SET_FIELD_NUMBER: _ClassVar[int]
    EVENT_SET_FIELD_NUMBER: _ClassVar[int]
    POD_REGEX_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_REGEX_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAMES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    PARENT_BINARY_REGEX_FIELD_NUMBER: _ClassVar[int]
    CEL_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_ARGUMENTS_REGEX_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    IN_INIT_TREE_FIELD_NUMBER: _ClassVar[int]
    ANCESTOR_BINARY_REGEX_FIELD_NUMBER: _ClassVar[int]
    binary_regex: _containers.RepeatedScalarFieldContainer[str]
    namespace: _containers.RepeatedScalarFieldContainer[str]
    health_check: _wrappers_pb2.BoolValue
    pid: _containers.RepeatedScalarFieldContainer[int]
    pid_set: _containers.RepeatedScalarFieldContainer[int]
    event_set: _containers.RepeatedScalarFieldContainer[EventType]
    pod_regex: _containers.RepeatedScalarFieldContainer[str]
    arguments_regex: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.RepeatedScalarFieldContainer[str]
    policy_names: _containers.RepeatedScalarFieldContainer[str]
    capabilities: CapFilter
    parent_binary_regex: _containers.RepeatedScalarFieldContainer[str]
    cel_expression: _containers.RepeatedScalarFieldContainer[str]
    parent_arguments_regex: _containers.RepeatedScalarFieldContainer[str]
    container_id: _containers.RepeatedScalarFieldContainer[str]
    in_init_tree: _wrappers_pb2.BoolValue
    ancestor_binary_regex: _containers.RepeatedScalarFieldContainer[str]
    def __init__(
        self,
        binary_regex: _Iterable[str] | None = ...,
        namespace: _Iterable[str] | None = ...,
        health_check: _wrappers_pb2.BoolValue | _Mapping | None = ...,
        pid: _Iterable[int] | None = ...,
        pid_set: _Iterable[int] | None = ...,
        event_set: _Iterable[EventType | str] | None = ...,
        pod_regex: _Iterable[str] | None = ...,
        arguments_regex: _Iterable[str] | None = ...,
        labels: _Iterable[str] | None = ...,
        policy_names: _Iterable[str] | None = ...,
        capabilities: CapFilter | _Mapping | None = ...,
        parent_binary_regex: _Iterable[str] | None = ...,
        cel_expression: _Iterable[str] | None = ...,
        parent_arguments_regex: _Iterable[str] | None = ...,
        container_id: _Iterable[str] | None = ...,
        in_init_tree: _wrappers_pb2.BoolValue | _Mapping | None = ...,
        ancestor_binary_regex: _Iterable[str] | None = ...,
    ) -> None: ...

class CapFilter(_message.Message):
    __slots__ = ("permitted", "effective", "inheritable")
    PERMITTED_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    INHERITABLE_FIELD_NUMBER: _ClassVar[int]
    permitted: CapFilterSet
    effective: CapFilterSet
    inheritable: CapFilterSet
    def __init__(
        self,
        permitted: CapFilterSet | _Mapping | None = ...,
        effective: CapFilterSet | _Mapping | None = ...,
        inheritable: CapFilterSet | _Mapping | None = ...,
    ) -> None: ...

class CapFilterSet(_message.Message):
    __slots__ = ("any", "all", "exactly", "none")
    ANY_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    EXACTLY_FIELD_NUMBER: _ClassVar[int]
    NONE_FIELD_NUMBER: _ClassVar[int]
    any: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    all: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    exactly: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    none: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    def __init__(
        self,
        any: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
        all: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
        exactly: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
        none: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
    ) -> None: ...

class RedactionFilter(_message.Message):
    __slots__ = ("match", "redact", "binary_regex")
    MATCH_FIELD_NUMBER: _ClassVar[int]
    REDACT_FIELD_NUMBER: _ClassVar[int]
    BINARY_REGEX_FIELD_NUMBER: _ClassVar[int]
    match: _containers.RepeatedCompositeFieldContainer[Filter]
    redact: _containers.RepeatedScalarFieldContainer[str]
    binary_regex: _containers.RepeatedScalarFieldContainer[str]
    def __init__(
        self,
        match: _Iterable[Filter | _Mapping] | None = ...,
        redact: _Iterable[str] | None = ...,
        binary_regex: _Iterable[str] | None = ...,
    ) -> None: ...

class FieldFilter(_message.Message):
    __slots__ = ("event_set", "fields", "action", "invert_event_set")
    EVENT_SET_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    INVERT_EVENT_SET_FIELD_NUMBER: _ClassVar[int]
    event_set: _containers.RepeatedScalarFieldContainer[EventType]
    fields: _field_mask_pb2.FieldMask
    action: FieldFilterAction
    invert_event_set: _wrappers_pb2.BoolValue
    def __init__(
        self,
        event_set: _Iterable[EventType | str] | None = ...,
        fields: _field_mask_pb2.FieldMask | _Mapping | None = ...,
        action: FieldFilterAction | str | None = ...,
        invert_event_set: _wrappers_pb2.BoolValue | _Mapping | None = ...,
    ) -> None: ...

class GetEventsRequest(_message.Message):
    __slots__ = ("allow_list", "deny_list", "aggregation_options", "field_filters")
    ALLOW_LIST_FIELD_NUMBER: _ClassVar[int]
    DENY_LIST_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FIELD_FILTERS_FIELD_NUMBER: _ClassVar[int]
    allow_list: _containers.RepeatedCompositeFieldContainer[Filter]
    deny_list: _containers.RepeatedCompositeFieldContainer[Filter]
    aggregation_options: AggregationOptions
    field_filters: _containers.RepeatedCompositeFieldContainer[FieldFilter]
    def __init__(
        self,
        allow_list: _Iterable[Filter | _Mapping] | None = ...,
        deny_list: _Iterable[Filter | _Mapping] | None = ...,
        aggregation_options: AggregationOptions | _Mapping | None = ...,
        field_filters: _Iterable[FieldFilter | _Mapping] | None = ...,
    ) -> None: ...

class AggregationOptions(_message.Message):
    __slots__ = ("window_size", "channel_buffer_size")
    WINDOW_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_BUFFER_SIZE_FIELD_NUMBER: _ClassVar[int]
    window_size: _duration_pb2.Duration
    channel_buffer_size: int
    def __init__(
        self,
        window_size: datetime.timedelta | _duration_pb2.Duration | _Mapping | None = ...,
        channel_buffer_size: int | None = ...,
    ) -> None: ...

class AggregationInfo(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: int | None = ...) -> None: ...

class RateLimitInfo(_message.Message):
    __slots__ = ("number_of_dropped_process_events",)
    NUMBER_OF_DROPPED_PROCESS_EVENTS_FIELD_NUMBER: _ClassVar[int]
    number_of_dropped_process_events: int
    def __init__(self, number_of_dropped_process_events: int | None = ...) -> None: ...

class ProcessThrottle(_message.Message):
    __slots__ = ("type", "cgroup")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CGROUP_FIELD_NUMBER: _ClassVar[int]
    type: ThrottleType
    cgroup: str
    def __init__(self, type: ThrottleType | str | None = ..., cgroup: str | None = ...) -> None: ...

class GetEventsResponse(_message.Message):
    __slots__ = (
        "process_exec",
        "process_exit",
        "process_kprobe",
        "process_tracepoint",
        "process_loader",
        "process_uprobe",
        "process_throttle",
        "process_lsm",
        "process_usdt",
        "test",
        "rate_limit_info",
        "node_name",
        "time",
        "aggregation_info",
        "cluster_name",
        "node_labels",
    )
    class NodeLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: str | None = ..., value: str | None = ...) -> None: ...

    PROCESS_EXEC_FIELD_NUMBER: _ClassVar[int]
    PROCESS_EXIT_FIELD_NUMBER: _ClassVar[int]
    PROCESS_KPROBE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_TRACEPOINT_FIELD_NUMBER: _ClassVar[int]
    PROCESS_LOADER_FIELD_NUMBER: _ClassVar[int]
    PROCESS_UPROBE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_THROTTLE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_LSM_FIELD_NUMBER: _ClassVar[int]
    PROCESS_USDT_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_INFO_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_INFO_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_LABELS_FIELD_NUMBER: _ClassVar[int]
    process_exec: _tetragon_pb2.ProcessExec
    process_exit: _tetragon_pb2.ProcessExit
    process_kprobe: _tetragon_pb2.ProcessKprobe
    process_tracepoint: _tetragon_pb2.ProcessTracepoint
    process_loader: _tetragon_pb2.ProcessLoader
    process_uprobe: _tetragon_pb2.ProcessUprobe
    process_throttle: ProcessThrottle
    process_lsm: _tetragon_pb2.ProcessLsm
    process_usdt: _tetragon_pb2.ProcessUsdt
    test: _tetragon_pb2.Test
    rate_limit_info: RateLimitInfo
    node_name: str
    time: _timestamp_pb2.Timestamp
    aggregation_info: AggregationInfo
    cluster_name: str
    node_labels: _containers.ScalarMap[str, str]
    def __init__(
        self,
        process_exec: _tetragon_pb2.ProcessExec | _Mapping | None = ...,
        process_exit: _tetragon_pb2.ProcessExit | _Mapping | None = ...,
        process_kprobe: _tetragon_pb2.ProcessKprobe | _Mapping | None = ...,
        process_tracepoint: _tetragon_pb2.ProcessTracepoint | _Mapping | None = ...,
        process_loader: _tetragon_pb2.ProcessLoader | _Mapping | None = ...,
        process_uprobe: _tetragon_pb2.ProcessUprobe | _Mapping | None = ...,
        process_throttle: ProcessThrottle | _Mapping | None = ...,
        process_lsm: _tetragon_pb2.ProcessLsm | _Mapping | None = ...,
        process_usdt: _tetragon_pb2.ProcessUsdt | _Mapping | None = ...,
        test: _tetragon_pb2.Test | _Mapping | None = ...,
        rate_limit_info: RateLimitInfo | _Mapping | None = ...,
        node_name: str | None = ...,
        time: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        aggregation_info: AggregationInfo | _Mapping | None = ...,
        cluster_name: str | None = ...,
        node_labels: _Mapping[str, str] | None = ...,
    ) -> None: ...
