import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApplySettingsRequest(_message.Message):
    __slots__ = ("values", "source", "sources", "config_error")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ERROR_FIELD_NUMBER: _ClassVar[int]
    values: _containers.ScalarMap[str, str]
    source: str
    sources: _containers.ScalarMap[str, str]
    config_error: str
    def __init__(self, values: _Optional[_Mapping[str, str]] = ..., source: _Optional[str] = ..., sources: _Optional[_Mapping[str, str]] = ..., config_error: _Optional[str] = ...) -> None: ...

class ApplySettingsResponse(_message.Message):
    __slots__ = ("applied", "restart_required", "error", "overridden")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    RESTART_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OVERRIDDEN_FIELD_NUMBER: _ClassVar[int]
    applied: _containers.RepeatedScalarFieldContainer[str]
    restart_required: _containers.RepeatedScalarFieldContainer[str]
    error: str
    overridden: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, applied: _Optional[_Iterable[str]] = ..., restart_required: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ..., overridden: _Optional[_Iterable[str]] = ...) -> None: ...

class ReplaceTracingPolicyRequest(_message.Message):
    __slots__ = ("yaml", "source")
    YAML_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    source: str
    def __init__(self, yaml: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class ReplaceTracingPolicyResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetAgentStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AgentPolicyStatus(_message.Message):
    __slots__ = ("name", "state", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: str
    error: str
    def __init__(self, name: _Optional[str] = ..., state: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class AgentCounter(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: int
    def __init__(self, name: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...

class GetAgentStatusResponse(_message.Message):
    __slots__ = ("pid", "start_time", "version", "settings", "policies_enabled", "policies", "last_config_error", "last_config_error_time", "config_errors", "last_applied_time", "config_changes", "log_level", "metadata_source", "drops", "errors")
    PID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    POLICIES_ENABLED_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    LAST_CONFIG_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_CONFIG_ERROR_TIME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ERRORS_FIELD_NUMBER: _ClassVar[int]
    LAST_APPLIED_TIME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CHANGES_FIELD_NUMBER: _ClassVar[int]
    LOG_LEVEL_FIELD_NUMBER: _ClassVar[int]
    METADATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    DROPS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    pid: int
    start_time: _timestamp_pb2.Timestamp
    version: str
    settings: _containers.RepeatedScalarFieldContainer[str]
    policies_enabled: bool
    policies: _containers.RepeatedCompositeFieldContainer[AgentPolicyStatus]
    last_config_error: str
    last_config_error_time: _timestamp_pb2.Timestamp
    config_errors: int
    last_applied_time: _timestamp_pb2.Timestamp
    config_changes: int
    log_level: str
    metadata_source: str
    drops: _containers.RepeatedCompositeFieldContainer[AgentCounter]
    errors: _containers.RepeatedCompositeFieldContainer[AgentCounter]
    def __init__(self, pid: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[str] = ..., settings: _Optional[_Iterable[str]] = ..., policies_enabled: _Optional[bool] = ..., policies: _Optional[_Iterable[_Union[AgentPolicyStatus, _Mapping]]] = ..., last_config_error: _Optional[str] = ..., last_config_error_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., config_errors: _Optional[int] = ..., last_applied_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., config_changes: _Optional[int] = ..., log_level: _Optional[str] = ..., metadata_source: _Optional[str] = ..., drops: _Optional[_Iterable[_Union[AgentCounter, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[AgentCounter, _Mapping]]] = ...) -> None: ...
