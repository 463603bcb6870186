"""Wire compatibility of appliance/api/tetragon with Tetragon's published v1 API.

The tables below are typed in from the published Tetragon v1 definitions (protobuf
package ``tetragon``). They are deliberately independent of our .proto sources: a
renumbered, retyped or renamed field in our files fails here, because a Tetragon
client (``tetra``, exporters, SIEM bridges) decodes our bytes with its own
compiled definitions and only field numbers and wire types travel on the wire.

Field notation: ``"string"`` (singular scalar), ``"repeated tetragon.Process"``,
``"map<string, string>"``, ``"optional tetragon.TracingPolicyStats"`` (proto3
explicit presence). Message and enum types are fully qualified without the
leading dot.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.protobuf.wrappers_pb2 import UInt32Value

from appliance.api.tetragon import (
    bpf_pb2,
    capabilities_pb2,
    events_pb2,
    sensors_pb2,
    stack_pb2,
    tetragon_pb2,
)

ALL_MODULES = (bpf_pb2, capabilities_pb2, events_pb2, sensors_pb2, stack_pb2, tetragon_pb2)

U32 = "google.protobuf.UInt32Value"
I32W = "google.protobuf.Int32Value"
BOOLW = "google.protobuf.BoolValue"
TS = "google.protobuf.Timestamp"

# message name -> field name -> (field number, type)
FIELDS: dict[str, dict[str, tuple[int, str]]] = {
    "Process": {
        "exec_id": (1, "string"),
        "pid": (2, U32),
        "uid": (3, U32),
        "cwd": (4, "string"),
        "binary": (5, "string"),
        "arguments": (6, "string"),
        "flags": (7, "string"),
        "start_time": (8, TS),
        "auid": (9, U32),
        "pod": (10, "tetragon.Pod"),
        "docker": (11, "string"),
        "parent_exec_id": (12, "string"),
        "refcnt": (13, "uint32"),
        "cap": (14, "tetragon.Capabilities"),
        "ns": (15, "tetragon.Namespaces"),
        "tid": (16, U32),
        "process_credentials": (17, "tetragon.ProcessCredentials"),
        "binary_properties": (18, "tetragon.BinaryProperties"),
        "user": (19, "tetragon.UserRecord"),
        "in_init_tree": (20, BOOLW),
        "environment_variables": (21, "repeated tetragon.EnvVar"),
    },
    "Pod": {
        "namespace": (1, "string"),
        "name": (2, "string"),
        "uid": (3, "string"),
        "container": (4, "tetragon.Container"),
        "pod_labels": (5, "map<string, string>"),
        "workload": (6, "string"),
        "workload_kind": (7, "string"),
        "pod_annotations": (8, "map<string, string>"),
    },
    "Container": {
        "id": (1, "string"),
        "name": (2, "string"),
        "image": (3, "tetragon.Image"),
        "start_time": (4, TS),
        "pid": (5, U32),
        "maybe_exec_probe": (13, "bool"),
        "security_context": (14, "tetragon.SecurityContext"),
    },
    "ProcessCredentials": {
        "uid": (1, U32),
        "gid": (2, U32),
        "euid": (3, U32),
        "egid": (4, U32),
        "suid": (5, U32),
        "sgid": (6, U32),
        "fsuid": (7, U32),
        "fsgid": (8, U32),
        "securebits": (9, "repeated tetragon.SecureBitsType"),
        "caps": (10, "tetragon.Capabilities"),
        "user_ns": (11, "tetragon.UserNamespace"),
    },
    "ProcessExec": {
        "process": (1, "tetragon.Process"),
        "parent": (2, "tetragon.Process"),
        "ancestors": (3, "repeated tetragon.Process"),
    },
    "ProcessExit": {
        "process": (1, "tetragon.Process"),
        "parent": (2, "tetragon.Process"),
        "signal": (3, "string"),
        "status": (4, "uint32"),
        "time": (5, TS),
        "ancestors": (6, "repeated tetragon.Process"),
    },
    "ProcessKprobe": {
        "process": (1, "tetragon.Process"),
        "parent": (2, "tetragon.Process"),
        "function_name": (3, "string"),
        "args": (4, "repeated tetragon.KprobeArgument"),
        "return": (5, "tetragon.KprobeArgument"),
        "action": (6, "tetragon.KprobeAction"),
        "kernel_stack_trace": (7, "repeated tetragon.StackTraceEntry"),
        "policy_name": (8, "string"),
        "return_action": (9, "tetragon.KprobeAction"),
        "message": (10, "string"),
        "tags": (11, "repeated string"),
        "user_stack_trace": (12, "repeated tetragon.StackTraceEntry"),
        "ancestors": (13, "repeated tetragon.Process"),
        "data": (14, "repeated tetragon.KprobeArgument"),
    },
    "ProcessTracepoint": {
        "process": (1, "tetragon.Process"),
        "parent": (2, "tetragon.Process"),
        "subsys": (4, "string"),
        "event": (5, "string"),
        "args": (6, "repeated tetragon.KprobeArgument"),
        "policy_name": (7, "string"),
        "action": (8, "tetragon.KprobeAction"),
        "message": (9, "string"),
        "tags": (10, "repeated string"),
        "ancestors": (11, "repeated tetragon.Process"),
    },
    "ProcessUprobe": {
        "process": (1, "tetragon.Process"),
        "parent": (2, "tetragon.Process"),
        "path": (3, "string"),
        "symbol": (4, "string"),
        "policy_name": (5, "string"),
        "message": (6, "string"),
        "args": (7, "repeated tetragon.KprobeArgument"),
        "tags": (8, "repeated string"),
        "ancestors": (9, "repeated tetragon.Process"),
        "offset": (10, "uint64"),
        "ref_ctr_offset": (11, "uint64"),
        "action": (12, "tetragon.KprobeAction"),
        "data": (13, "repeated tetragon.KprobeArgument"),
        "user_stack_trace": (14, "repeated tetragon.StackTraceEntry"),
    },
    "ProcessLsm": {
        "process": (1, "tetragon.Process"),
        "parent": (2, "tetragon.Process"),
        "function_name": (3, "string"),
        "policy_name": (5, "string"),
        "message": (6, "string"),
        "args": (7, "repeated tetragon.KprobeArgument"),
        "action": (8, "tetragon.KprobeAction"),
        "tags": (9, "repeated string"),
        "ancestors": (10, "repeated tetragon.Process"),
        "ima_hash": (11, "string"),
    },
    "KprobeArgument": {
        "string_arg": (1, "string"),
        "int_arg": (2, "int32"),
        "skb_arg": (3, "tetragon.KprobeSkb"),
        "size_arg": (4, "uint64"),
        "bytes_arg": (5, "bytes"),
        "path_arg": (6, "tetragon.KprobePath"),
        "file_arg": (7, "tetragon.KprobeFile"),
        "truncated_bytes_arg": (8, "tetragon.KprobeTruncatedBytes"),
        "sock_arg": (9, "tetragon.KprobeSock"),
        "cred_arg": (10, "tetragon.KprobeCred"),
        "long_arg": (11, "int64"),
        "bpf_attr_arg": (12, "tetragon.KprobeBpfAttr"),
        "perf_event_arg": (13, "tetragon.KprobePerfEvent"),
        "bpf_map_arg": (14, "tetragon.KprobeBpfMap"),
        "uint_arg": (15, "uint32"),
        "user_namespace_arg": (16, "tetragon.KprobeUserNamespace"),
        "capability_arg": (17, "tetragon.KprobeCapability"),
        "label": (18, "string"),
        "process_credentials_arg": (19, "tetragon.ProcessCredentials"),
        "user_ns_arg": (20, "tetragon.UserNamespace"),
        "module_arg": (21, "tetragon.KernelModule"),
        "kernel_cap_t_arg": (22, "string"),
        "cap_inheritable_arg": (23, "string"),
        "cap_permitted_arg": (24, "string"),
        "cap_effective_arg": (25, "string"),
        "linux_binprm_arg": (26, "tetragon.KprobeLinuxBinprm"),
        "net_dev_arg": (27, "tetragon.KprobeNetDev"),
        "bpf_cmd_arg": (28, "tetragon.BpfCmd"),
        "syscall_id": (29, "tetragon.SyscallId"),
        "sockaddr_arg": (30, "tetragon.KprobeSockaddr"),
        "bpf_prog_arg": (31, "tetragon.KprobeBpfProg"),
        "error_arg": (32, "tetragon.KprobeError"),
        "sockaddrun_arg": (33, "tetragon.KprobeSockaddrUn"),
    },
    "Filter": {
        "binary_regex": (1, "repeated string"),
        "namespace": (2, "repeated string"),
        "health_check": (3, BOOLW),
        "pid": (4, "repeated uint32"),
        "pid_set": (5, "repeated uint32"),
        "event_set": (6, "repeated tetragon.EventType"),
        "pod_regex": (7, "repeated string"),
        "arguments_regex": (8, "repeated string"),
        "labels": (9, "repeated string"),
        "policy_names": (10, "repeated string"),
        "capabilities": (11, "tetragon.CapFilter"),
        "parent_binary_regex": (12, "repeated string"),
        "cel_expression": (13, "repeated string"),
        "parent_arguments_regex": (14, "repeated string"),
        "container_id": (15, "repeated string"),
        "in_init_tree": (16, BOOLW),
        "ancestor_binary_regex": (17, "repeated string"),
    },
    "FieldFilter": {
        "event_set": (1, "repeated tetragon.EventType"),
        "fields": (2, "google.protobuf.FieldMask"),
        "action": (3, "tetragon.FieldFilterAction"),
        "invert_event_set": (4, BOOLW),
    },
    "AggregationOptions": {
        "window_size": (1, "google.protobuf.Duration"),
        "channel_buffer_size": (2, "uint64"),
    },
    "GetEventsRequest": {
        "allow_list": (1, "repeated tetragon.Filter"),
        "deny_list": (2, "repeated tetragon.Filter"),
        "aggregation_options": (3, "tetragon.AggregationOptions"),
        "field_filters": (4, "repeated tetragon.FieldFilter"),
    },
    "GetEventsResponse": {
        "process_exec": (1, "tetragon.ProcessExec"),
        "process_exit": (5, "tetragon.ProcessExit"),
        "process_kprobe": (9, "tetragon.ProcessKprobe"),
        "process_tracepoint": (10, "tetragon.ProcessTracepoint"),
        "process_loader": (11, "tetragon.ProcessLoader"),
        "process_uprobe": (12, "tetragon.ProcessUprobe"),
        "process_throttle": (27, "tetragon.ProcessThrottle"),
        "process_lsm": (28, "tetragon.ProcessLsm"),
        "process_usdt": (29, "tetragon.ProcessUsdt"),
        "test": (40000, "tetragon.Test"),
        "rate_limit_info": (40001, "tetragon.RateLimitInfo"),
        "node_name": (1000, "string"),
        "time": (1001, TS),
        "aggregation_info": (1002, "tetragon.AggregationInfo"),
        "cluster_name": (1003, "string"),
        "node_labels": (1004, "map<string, string>"),
    },
    "GetHealthStatusRequest": {
        "event_set": (1, "repeated tetragon.HealthStatusType"),
    },
    "HealthStatus": {
        "event": (1, "tetragon.HealthStatusType"),
        "status": (2, "tetragon.HealthStatusResult"),
        "details": (3, "string"),
    },
    "GetHealthStatusResponse": {
        "health_status": (1, "repeated tetragon.HealthStatus"),
    },
    "GetVersionRequest": {},
    "GetVersionResponse": {
        "version": (1, "string"),
    },
    "TracingPolicyActionCounters": {
        "post": (1, "uint64"),
        "signal": (2, "uint64"),
        "monitor_signal": (3, "uint64"),
        "override": (4, "uint64"),
        "monitor_override": (5, "uint64"),
        "notify_enforcer": (6, "uint64"),
        "monitor_notify_enforcer": (7, "uint64"),
        "set": (8, "uint64"),
        "monitor_set": (9, "uint64"),
    },
    "TracingPolicyStatus": {
        "id": (1, "uint64"),
        "name": (2, "string"),
        "namespace": (3, "string"),
        "info": (4, "string"),
        "sensors": (5, "repeated string"),
        "enabled": (6, "bool"),
        "filter_id": (7, "uint64"),
        "error": (8, "string"),
        "state": (9, "tetragon.TracingPolicyState"),
        "kernel_memory_bytes": (10, "uint64"),
        "mode": (11, "tetragon.TracingPolicyMode"),
        "stats": (12, "optional tetragon.TracingPolicyStats"),
    },
    "ListTracingPoliciesRequest": {},
    "ListTracingPoliciesResponse": {
        "policies": (1, "repeated tetragon.TracingPolicyStatus"),
    },
    "AddTracingPolicyRequest": {
        "yaml": (1, "string"),
    },
    "DeleteTracingPolicyRequest": {
        "name": (1, "string"),
        "namespace": (2, "string"),
    },
    "EnableTracingPolicyRequest": {
        "name": (1, "string"),
        "namespace": (2, "string"),
    },
    "DisableTracingPolicyRequest": {
        "name": (1, "string"),
        "namespace": (2, "string"),
    },
    "ConfigureTracingPolicyRequest": {
        "name": (1, "string"),
        "namespace": (2, "string"),
        "enable": (3, "optional bool"),
        "mode": (4, "optional tetragon.TracingPolicyMode"),
    },
    "GetStackTraceTreeResponse": {
        "root": (1, "tetragon.StackTraceNode"),
    },
    "RuntimeHookRequest": {
        "createContainer": (1, "tetragon.CreateContainer"),
    },
    "CreateContainer": {
        "cgroupsPath": (1, "string"),
        "rootDir": (2, "string"),
        "annotations": (3, "map<string, string>"),
        "containerName": (4, "string"),
        "containerID": (5, "string"),
        "podName": (6, "string"),
        "podUID": (7, "string"),
        "podNamespace": (8, "string"),
        "containerImage": (9, "string"),
        "mounts": (10, "repeated tetragon.Mount"),
    },
    "GetDebugRequest": {
        "flag": (1, "tetragon.ConfigFlag"),
        "dump": (2, "tetragon.DumpProcessCacheReqArgs"),
    },
    "GetDebugResponse": {
        "flag": (1, "tetragon.ConfigFlag"),
        "level": (2, "tetragon.LogLevel"),
        "processes": (3, "tetragon.DumpProcessCacheResArgs"),
    },
    "SetDebugRequest": {
        "flag": (1, "tetragon.ConfigFlag"),
        "level": (2, "tetragon.LogLevel"),
    },
}

# Fields beyond the published API: numbered from 1000, so that no field Tetragon adds
# later can take their numbers
EXTENSIONS: dict[str, dict[str, tuple[int, str]]] = {
    "KprobeArgument": {"dns_arg": (1000, "tetragon.KprobeDns")},
    "ProcessUprobe": {"return": (1000, "tetragon.KprobeArgument")},
}

# message name -> oneof name -> member fields (proto3 ``optional`` oneofs excluded)
ONEOFS: dict[str, dict[str, set[str]]] = {
    "KprobeArgument": {
        "arg": (set(FIELDS["KprobeArgument"]) | set(EXTENSIONS["KprobeArgument"])) - {"label"},
    },
    "GetEventsResponse": {
        "event": {
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
        },
    },
    "RuntimeHookRequest": {"event": {"createContainer"}},
    "GetDebugRequest": {"arg": {"dump"}},
    "GetDebugResponse": {"arg": {"level", "processes"}},
    "SetDebugRequest": {"arg": {"level"}},
}

# enum name -> value name -> number
ENUMS: dict[str, dict[str, int]] = {
    "KprobeAction": {
        "KPROBE_ACTION_UNKNOWN": 0,
        "KPROBE_ACTION_POST": 1,
        "KPROBE_ACTION_FOLLOWFD": 2,
        "KPROBE_ACTION_SIGKILL": 3,
        "KPROBE_ACTION_UNFOLLOWFD": 4,
        "KPROBE_ACTION_OVERRIDE": 5,
        "KPROBE_ACTION_COPYFD": 6,
        "KPROBE_ACTION_GETURL": 7,
        "KPROBE_ACTION_DNSLOOKUP": 8,
        "KPROBE_ACTION_NOPOST": 9,
        "KPROBE_ACTION_SIGNAL": 10,
        "KPROBE_ACTION_TRACKSOCK": 11,
        "KPROBE_ACTION_UNTRACKSOCK": 12,
        "KPROBE_ACTION_NOTIFYENFORCER": 13,
        "KPROBE_ACTION_CLEANUPENFORCERNOTIFICATION": 14,
        "KPROBE_ACTION_SET": 15,
        "KPROBE_ACTION_UPDATE_STATE": 16,
    },
    "EventType": {
        "UNDEF": 0,
        "PROCESS_EXEC": 1,
        "PROCESS_EXIT": 5,
        "PROCESS_KPROBE": 9,
        "PROCESS_TRACEPOINT": 10,
        "PROCESS_LOADER": 11,
        "PROCESS_UPROBE": 12,
        "PROCESS_THROTTLE": 27,
        "PROCESS_LSM": 28,
        "PROCESS_USDT": 29,
        "TEST": 40000,
        "RATE_LIMIT_INFO": 40001,
    },
    "TracingPolicyState": {
        "TP_STATE_UNKNOWN": 0,
        "TP_STATE_ENABLED": 1,
        "TP_STATE_DISABLED": 2,
        "TP_STATE_LOAD_ERROR": 3,
        "TP_STATE_ERROR": 4,
        "TP_STATE_LOADING": 5,
        "TP_STATE_UNLOADING": 6,
    },
    "TracingPolicyMode": {
        "TP_MODE_UNKNOWN": 0,
        "TP_MODE_ENFORCE": 1,
        "TP_MODE_MONITOR": 2,
        "TP_MODE_MONITOR_ONLY": 3,
    },
    "HealthStatusType": {
        "HEALTH_STATUS_TYPE_UNDEF": 0,
        "HEALTH_STATUS_TYPE_STATUS": 1,
    },
    "HealthStatusResult": {
        "HEALTH_STATUS_UNDEF": 0,
        "HEALTH_STATUS_RUNNING": 1,
        "HEALTH_STATUS_STOPPED": 2,
        "HEALTH_STATUS_ERROR": 3,
    },
    "FieldFilterAction": {"INCLUDE": 0, "EXCLUDE": 1},
    "ProcessPrivilegesChanged": {
        "PRIVILEGES_CHANGED_UNSET": 0,
        "PRIVILEGES_RAISED_EXEC_FILE_CAP": 1,
        "PRIVILEGES_RAISED_EXEC_FILE_SETUID": 2,
        "PRIVILEGES_RAISED_EXEC_FILE_SETGID": 3,
    },
}

# (method, request, response, server streaming), in declaration order
SERVICE_METHODS: list[tuple[str, str, str, bool]] = [
    ("GetEvents", "GetEventsRequest", "GetEventsResponse", True),
    ("GetHealth", "GetHealthStatusRequest", "GetHealthStatusResponse", False),
    ("AddTracingPolicy", "AddTracingPolicyRequest", "AddTracingPolicyResponse", False),
    ("DeleteTracingPolicy", "DeleteTracingPolicyRequest", "DeleteTracingPolicyResponse", False),
    ("ListTracingPolicies", "ListTracingPoliciesRequest", "ListTracingPoliciesResponse", False),
    (
        "ConfigureTracingPolicy",
        "ConfigureTracingPolicyRequest",
        "ConfigureTracingPolicyResponse",
        False,
    ),
    ("EnableTracingPolicy", "EnableTracingPolicyRequest", "EnableTracingPolicyResponse", False),
    ("DisableTracingPolicy", "DisableTracingPolicyRequest", "DisableTracingPolicyResponse", False),
    ("ListSensors", "ListSensorsRequest", "ListSensorsResponse", False),
    ("EnableSensor", "EnableSensorRequest", "EnableSensorResponse", False),
    ("DisableSensor", "DisableSensorRequest", "DisableSensorResponse", False),
    ("RemoveSensor", "RemoveSensorRequest", "RemoveSensorResponse", False),
    ("GetStackTraceTree", "GetStackTraceTreeRequest", "GetStackTraceTreeResponse", False),
    ("GetVersion", "GetVersionRequest", "GetVersionResponse", False),
    ("GetInfo", "GetInfoRequest", "GetInfoResponse", False),
    ("RuntimeHook", "RuntimeHookRequest", "RuntimeHookResponse", False),
    ("GetDebug", "GetDebugRequest", "GetDebugResponse", False),
    ("SetDebug", "SetDebugRequest", "SetDebugResponse", False),
]


# ---------------------------------------------------------------------------
# descriptor helpers
# ---------------------------------------------------------------------------

_FDP = descriptor_pb2.FieldDescriptorProto


def _message(name: str):
    for module in ALL_MODULES:
        if name in module.DESCRIPTOR.message_types_by_name:
            return module.DESCRIPTOR.message_types_by_name[name]
    raise AssertionError(f"message tetragon.{name} is not defined")


def _enum(name: str):
    for module in ALL_MODULES:
        if name in module.DESCRIPTOR.enum_types_by_name:
            return module.DESCRIPTOR.enum_types_by_name[name]
    raise AssertionError(f"enum tetragon.{name} is not defined")


def _type_name(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.type in (_FDP.TYPE_MESSAGE, _FDP.TYPE_ENUM):
        return field.type_name.lstrip(".")
    return _FDP.Type.Name(field.type)[len("TYPE_") :].lower()


def _describe_fields(message_name: str) -> dict[str, tuple[int, str]]:
    """Render every field of a generated message in the table notation."""
    proto = descriptor_pb2.DescriptorProto()
    _message(message_name).CopyToProto(proto)
    map_entries = {
        f".tetragon.{message_name}.{nested.name}": nested
        for nested in proto.nested_type
        if nested.options.map_entry
    }
    out = {}
    for field in proto.field:
        if field.type_name in map_entries:
            key, value = map_entries[field.type_name].field
            rendered = f"map<{_type_name(key)}, {_type_name(value)}>"
        elif field.label == _FDP.LABEL_REPEATED:
            rendered = f"repeated {_type_name(field)}"
        elif field.proto3_optional:
            rendered = f"optional {_type_name(field)}"
        else:
            rendered = _type_name(field)
        out[field.name] = (field.number, rendered)
    return out


# ---------------------------------------------------------------------------
# descriptor tests
# ---------------------------------------------------------------------------


def test_every_file_is_in_package_tetragon():
    for module in ALL_MODULES:
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        assert proto.package == "tetragon", proto.name
        assert proto.syntax == "proto3", proto.name


def test_message_fields_match_published_api():
    mismatches = []
    for message_name, published in FIELDS.items():
        expected = published | EXTENSIONS.get(message_name, {})
        actual = _describe_fields(message_name)
        for field_name in sorted(set(expected) | set(actual)):
            want = expected.get(field_name)
            got = actual.get(field_name)
            if want != got:
                mismatches.append(f"{message_name}.{field_name}: want {want}, got {got}")
    assert not mismatches, "\n".join(mismatches)


def test_extensions_are_numbered_apart_from_the_published_api():
    for message_name, fields in EXTENSIONS.items():
        published = {number for number, _ in FIELDS[message_name].values()}
        for name, (number, _) in fields.items():
            assert number >= 1000 and number not in published, f"{message_name}.{name}"


def test_oneof_members_match_published_api():
    for message_name, oneofs in ONEOFS.items():
        descriptor = _message(message_name)
        real_oneofs = {
            o.name: {f.name for f in o.fields}
            for o in descriptor.oneofs
            # proto3 `optional` fields get a synthetic oneof named "_<field>"
            if not (len(o.fields) == 1 and o.name == "_" + o.fields[0].name)
        }
        assert real_oneofs == oneofs, message_name


def test_proto3_optional_fields_have_presence():
    status = sensors_pb2.TracingPolicyStatus()
    assert not status.HasField("stats")
    status.stats.SetInParent()
    assert status.HasField("stats")
    request = sensors_pb2.ConfigureTracingPolicyRequest(name="p")
    assert not request.HasField("enable") and not request.HasField("mode")
    request.enable = False
    assert request.HasField("enable")


def test_enum_values_match_published_api():
    for enum_name, expected in ENUMS.items():
        actual = {v.name: v.number for v in _enum(enum_name).values}
        assert actual == expected, enum_name


def test_service_methods_match_published_api():
    service = sensors_pb2.DESCRIPTOR.services_by_name["FineGuidanceSensors"]
    assert service.full_name == "tetragon.FineGuidanceSensors"
    actual = [
        (
            m.name,
            m.input_type.full_name.removeprefix("tetragon."),
            m.output_type.full_name.removeprefix("tetragon."),
            m.server_streaming,
        )
        for m in service.methods
    ]
    assert actual == SERVICE_METHODS
    assert not any(m.client_streaming for m in service.methods)


def test_grpc_method_paths():
    from appliance.api.tetragon import sensors_pb2_grpc

    class RecordingChannel:
        def __init__(self):
            self.paths = []

        def _record(self, path, *args, **kwargs):
            self.paths.append(path)
            return None

        unary_unary = unary_stream = stream_unary = stream_stream = _record

    channel = RecordingChannel()
    sensors_pb2_grpc.FineGuidanceSensorsStub(channel)
    expected = [f"/tetragon.FineGuidanceSensors/{name}" for name, *_ in SERVICE_METHODS]
    assert channel.paths == expected


# ---------------------------------------------------------------------------
# raw wire format tests
# ---------------------------------------------------------------------------

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def decode(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """Split a serialized message into (field number, wire type, value) records."""
    records = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, pos = _read_varint(data, pos)
        elif wire_type == LEN:
            length, pos = _read_varint(data, pos)
            value = data[pos : pos + length]
            pos += length
        elif wire_type == I64:
            value = int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire_type == I32:
            value = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        else:
            raise AssertionError(f"unexpected wire type {wire_type} for field {number}")
        records.append((number, wire_type, value))
    assert pos == len(data), "trailing bytes"
    return records


def fields_of(data: bytes) -> dict[int, tuple[int, int | bytes]]:
    records = decode(data)
    numbers = [number for number, _, _ in records]
    assert len(numbers) == len(set(numbers)), f"repeated field numbers in {numbers}"
    return {number: (wire_type, value) for number, wire_type, value in records}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | LEN) + _varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3 | VARINT) + _varint(value)


def test_process_exec_event_bytes():
    start = Timestamp(seconds=1_700_000_000, nanos=123_000_000)
    observed = Timestamp(seconds=1_700_000_001, nanos=5)
    event = events_pb2.GetEventsResponse(
        process_exec=tetragon_pb2.ProcessExec(
            process=tetragon_pb2.Process(
                exec_id="bm9kZTE6MTIzNDo1Njc4",
                pid=UInt32Value(value=1234),
                uid=UInt32Value(value=0),
                binary="/usr/bin/curl",
                arguments="-s https://example.invalid",
                start_time=start,
                parent_exec_id="bm9kZTE6MTo1",
            ),
            parent=tetragon_pb2.Process(exec_id="bm9kZTE6MTo1"),
        ),
        node_name="node1",
        time=observed,
    )
    raw = event.SerializeToString()

    # node_name = 1000 as a length-delimited field: key varint (1000 << 3 | 2) = c2 3e
    assert b"\xc2\x3e\x05node1" in raw

    top = fields_of(raw)
    assert set(top) == {1, 1000, 1001}
    assert top[1000] == (LEN, b"node1")

    wire_type, time_bytes = top[1001]
    assert wire_type == LEN
    assert fields_of(time_bytes) == {1: (VARINT, 1_700_000_001), 2: (VARINT, 5)}

    wire_type, exec_bytes = top[1]  # process_exec
    assert wire_type == LEN
    process_exec = fields_of(exec_bytes)
    assert set(process_exec) == {1, 2}  # process, parent
    assert fields_of(process_exec[2][1]) == {1: (LEN, b"bm9kZTE6MTo1")}

    process = fields_of(process_exec[1][1])
    assert process[1] == (LEN, b"bm9kZTE6MTIzNDo1Njc4")  # exec_id
    # pid is a google.protobuf.UInt32Value wrapper: a nested message whose field 1 is the value
    assert process[2][0] == LEN
    assert fields_of(process[2][1]) == {1: (VARINT, 1234)}
    # uid = 0 still travels: the wrapper is present, its value field is omitted
    assert process[3] == (LEN, b"")
    assert process[5] == (LEN, b"/usr/bin/curl")  # binary
    assert process[6] == (LEN, b"-s https://example.invalid")  # arguments
    assert process[8][0] == LEN  # start_time (Timestamp)
    assert fields_of(process[8][1]) == {1: (VARINT, 1_700_000_000), 2: (VARINT, 123_000_000)}
    assert process[12] == (LEN, b"bm9kZTE6MTo1")  # parent_exec_id
    assert set(process) == {1, 2, 3, 5, 6, 8, 12}


def test_hand_encoded_kprobe_event_parses():
    """Bytes laid out by hand from the published numbers decode into our classes."""
    argument = _len_field(1, b"/etc/shadow")  # KprobeArgument.string_arg
    labelled = _varint_field(2, 3) + _len_field(18, b"flags")  # int_arg, label
    process = _len_field(1, b"exec-1") + _len_field(2, _varint_field(1, 42))
    kprobe = (
        _len_field(1, process)
        + _len_field(3, b"security_file_open")  # function_name
        + _len_field(4, argument)  # args[0]
        + _len_field(4, labelled)  # args[1]
        + _varint_field(6, 3)  # action = KPROBE_ACTION_SIGKILL
        + _len_field(8, b"block-shadow")  # policy_name
        + _len_field(11, b"credentials")  # tags[0]
    )
    raw = _len_field(9, kprobe) + _len_field(1000, b"node1")

    event = events_pb2.GetEventsResponse.FromString(raw)
    assert event.WhichOneof("event") == "process_kprobe"
    assert event.node_name == "node1"
    kp = event.process_kprobe
    assert kp.process.exec_id == "exec-1"
    assert kp.process.HasField("pid") and kp.process.pid.value == 42
    assert kp.function_name == "security_file_open"
    assert [a.WhichOneof("arg") for a in kp.args] == ["string_arg", "int_arg"]
    assert kp.args[0].string_arg == "/etc/shadow"
    assert kp.args[1].int_arg == 3 and kp.args[1].label == "flags"
    assert kp.action == tetragon_pb2.KPROBE_ACTION_SIGKILL
    assert kp.policy_name == "block-shadow"
    assert list(kp.tags) == ["credentials"]
    # and it re-encodes to the same bytes (canonical field order)
    assert event.SerializeToString() == raw


def test_tracing_policy_status_bytes():
    status = sensors_pb2.TracingPolicyStatus(
        id=7,
        name="block-shadow",
        state=sensors_pb2.TP_STATE_ENABLED,
        kernel_memory_bytes=4096,
        mode=sensors_pb2.TP_MODE_ENFORCE,
        stats=sensors_pb2.TracingPolicyStats(
            action_counters=sensors_pb2.TracingPolicyActionCounters(post=2, signal=1)
        ),
    )
    top = fields_of(sensors_pb2.ListTracingPoliciesResponse(policies=[status]).SerializeToString())
    assert top[1][0] == LEN
    fields = fields_of(top[1][1])
    assert fields[1] == (VARINT, 7)
    assert fields[2] == (LEN, b"block-shadow")
    assert fields[9] == (VARINT, 1)  # TP_STATE_ENABLED
    assert fields[10] == (VARINT, 4096)
    assert fields[11] == (VARINT, 1)  # TP_MODE_ENFORCE
    counters = fields_of(fields_of(fields[12][1])[1][1])
    assert counters == {1: (VARINT, 2), 2: (VARINT, 1)}
