import datetime
from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper

from appliance.api.tetragon import bpf_pb2 as _bpf_pb2
from appliance.api.tetragon import capabilities_pb2 as _capabilities_pb2

DESCRIPTOR: _descriptor.FileDescriptor

class TaintedBitsType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAINT_UNSET: _ClassVar[TaintedBitsType]
    TAINT_PROPRIETARY_MODULE: _ClassVar[TaintedBitsType]
    TAINT_FORCED_MODULE: _ClassVar[TaintedBitsType]
    TAINT_FORCED_UNLOAD_MODULE: _ClassVar[TaintedBitsType]
    TAINT_STAGED_MODULE: _ClassVar[TaintedBitsType]
    TAINT_OUT_OF_TREE_MODULE: _ClassVar[TaintedBitsType]
    TAINT_UNSIGNED_MODULE: _ClassVar[TaintedBitsType]
    TAINT_KERNEL_LIVE_PATCH_MODULE: _ClassVar[TaintedBitsType]
    TAINT_TEST_MODULE: _ClassVar[TaintedBitsType]

class KprobeAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KPROBE_ACTION_UNKNOWN: _ClassVar[KprobeAction]
    KPROBE_ACTION_POST: _ClassVar[KprobeAction]
    KPROBE_ACTION_FOLLOWFD: _ClassVar[KprobeAction]
    KPROBE_ACTION_SIGKILL: _ClassVar[KprobeAction]
    KPROBE_ACTION_UNFOLLOWFD: _ClassVar[KprobeAction]
    KPROBE_ACTION_OVERRIDE: _ClassVar[KprobeAction]
    KPROBE_ACTION_COPYFD: _ClassVar[KprobeAction]
    KPROBE_ACTION_GETURL: _ClassVar[KprobeAction]
    KPROBE_ACTION_DNSLOOKUP: _ClassVar[KprobeAction]
    KPROBE_ACTION_NOPOST: _ClassVar[KprobeAction]
    KPROBE_ACTION_SIGNAL: _ClassVar[KprobeAction]
    KPROBE_ACTION_TRACKSOCK: _ClassVar[KprobeAction]
    KPROBE_ACTION_UNTRACKSOCK: _ClassVar[KprobeAction]
    KPROBE_ACTION_NOTIFYENFORCER: _ClassVar[KprobeAction]
    KPROBE_ACTION_CLEANUPENFORCERNOTIFICATION: _ClassVar[KprobeAction]
    KPROBE_ACTION_SET: _ClassVar[KprobeAction]
    KPROBE_ACTION_UPDATE_STATE: _ClassVar[KprobeAction]

class HealthStatusType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_STATUS_TYPE_UNDEF: _ClassVar[HealthStatusType]
    HEALTH_STATUS_TYPE_STATUS: _ClassVar[HealthStatusType]

class HealthStatusResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_STATUS_UNDEF: _ClassVar[HealthStatusResult]
    HEALTH_STATUS_RUNNING: _ClassVar[HealthStatusResult]
    HEALTH_STATUS_STOPPED: _ClassVar[HealthStatusResult]
    HEALTH_STATUS_ERROR: _ClassVar[HealthStatusResult]

TAINT_UNSET: TaintedBitsType
TAINT_PROPRIETARY_MODULE: TaintedBitsType
TAINT_FORCED_MODULE: TaintedBitsType
TAINT_FORCED_UNLOAD_MODULE: TaintedBitsType
TAINT_STAGED_MODULE: TaintedBitsType
TAINT_OUT_OF_TREE_MODULE: TaintedBitsType
TAINT_UNSIGNED_MODULE: TaintedBitsType
TAINT_KERNEL_LIVE_PATCH_MODULE: TaintedBitsType
TAINT_TEST_MODULE: TaintedBitsType
KPROBE_ACTION_UNKNOWN: KprobeAction
KPROBE_ACTION_POST: KprobeAction
KPROBE_ACTION_FOLLOWFD: KprobeAction
KPROBE_ACTION_SIGKILL: KprobeAction
KPROBE_ACTION_UNFOLLOWFD: KprobeAction
KPROBE_ACTION_OVERRIDE: KprobeAction
KPROBE_ACTION_COPYFD: KprobeAction
KPROBE_ACTION_GETURL: KprobeAction
KPROBE_ACTION_DNSLOOKUP: KprobeAction
KPROBE_ACTION_NOPOST: KprobeAction
KPROBE_ACTION_SIGNAL: KprobeAction
KPROBE_ACTION_TRACKSOCK: KprobeAction
KPROBE_ACTION_UNTRACKSOCK: KprobeAction
KPROBE_ACTION_NOTIFYENFORCER: KprobeAction
KPROBE_ACTION_CLEANUPENFORCERNOTIFICATION: KprobeAction
KPROBE_ACTION_SET: KprobeAction
KPROBE_ACTION_UPDATE_STATE: KprobeAction
HEALTH_STATUS_TYPE_UNDEF: HealthStatusType
HEALTH_STATUS_TYPE_STATUS: HealthStatusType
HEALTH_STATUS_UNDEF: HealthStatusResult
HEALTH_STATUS_RUNNING: HealthStatusResult
HEALTH_STATUS_STOPPED: HealthStatusResult
HEALTH_STATUS_ERROR: HealthStatusResult

class Image(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: str | None = ..., name: str | None = ...) -> None: ...

class SecurityContext(_message.Message):
    __slots__ = ("privileged",)
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    privileged: bool
    def __init__(self, privileged: bool | None = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("id", "name", "image", "start_time", "pid", "maybe_exec_probe", "security_context")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    MAYBE_EXEC_PROBE_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    image: Image
    start_time: _timestamp_pb2.Timestamp
    pid: _wrappers_pb2.UInt32Value
    maybe_exec_probe: bool
    security_context: SecurityContext
    def __init__(
        self,
        id: str | None = ...,
        name: str | None = ...,
        image: Image | _Mapping | None = ...,
        start_time: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        pid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        maybe_exec_probe: bool | None = ...,
        security_context: SecurityContext | _Mapping | None = ...,
    ) -> None: ...

class Pod(_message.Message):
    __slots__ = (
        "namespace",
        "name",
        "uid",
        "container",
        "pod_labels",
        "workload",
        "workload_kind",
        "pod_annotations",
    )
    class PodLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: str | None = ..., value: str | None = ...) -> None: ...

    class PodAnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: str | None = ..., value: str | None = ...) -> None: ...

    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    POD_LABELS_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_KIND_FIELD_NUMBER: _ClassVar[int]
    POD_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    uid: str
    container: Container
    pod_labels: _containers.ScalarMap[str, str]
    workload: str
    workload_kind: str
    pod_annotations: _containers.ScalarMap[str, str]
    def __init__(
        self,
        namespace: str | None = ...,
        name: str | None = ...,
        uid: str | None = ...,
        container: Container | _Mapping | None = ...,
        pod_labels: _Mapping[str, str] | None = ...,
        workload: str | None = ...,
        workload_kind: str | None = ...,
        pod_annotations: _Mapping[str, str] | None = ...,
    ) -> None: ...

class Capabilities(_message.Message):
    __slots__ = ("permitted", "effective", "inheritable")
    PERMITTED_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    INHERITABLE_FIELD_NUMBER: _ClassVar[int]
    permitted: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    effective: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    inheritable: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    def __init__(
        self,
        permitted: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
        effective: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
        inheritable: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
    ) -> None: ...

class Namespace(_message.Message):
    __slots__ = ("inum", "is_host")
    INUM_FIELD_NUMBER: _ClassVar[int]
    IS_HOST_FIELD_NUMBER: _ClassVar[int]
    inum: int
    is_host: bool
    def __init__(self, inum: int | None = ..., is_host: bool | None = ...) -> None: ...

class Namespaces(_message.Message):
    __slots__ = (
        "uts",
        "ipc",
        "mnt",
        "pid",
        "pid_for_children",
        "net",
        "time",
        "time_for_children",
        "cgroup",
        "user",
    )
    UTS_FIELD_NUMBER: _ClassVar[int]
    IPC_FIELD_NUMBER: _ClassVar[int]
    MNT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PID_FOR_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_FOR_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    CGROUP_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    uts: Namespace
    ipc: Namespace
    mnt: Namespace
    pid: Namespace
    pid_for_children: Namespace
    net: Namespace
    time: Namespace
    time_for_children: Namespace
    cgroup: Namespace
    user: Namespace
    def __init__(
        self,
        uts: Namespace | _Mapping | None = ...,
        ipc: Namespace | _Mapping | None = ...,
        mnt: Namespace | _Mapping | None = ...,
        pid: Namespace | _Mapping | None = ...,
        pid_for_children: Namespace | _Mapping | None = ...,
        net: Namespace | _Mapping | None = ...,
        time: Namespace | _Mapping | None = ...,
        time_for_children: Namespace | _Mapping | None = ...,
        cgroup: Namespace | _Mapping | None = ...,
        user: Namespace | _Mapping | None = ...,
    ) -> None: ...

class UserNamespace(_message.Message):
    __slots__ = ("level", "uid", "gid", "ns")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    NS_FIELD_NUMBER: _ClassVar[int]
    level: _wrappers_pb2.Int32Value
    uid: _wrappers_pb2.UInt32Value
    gid: _wrappers_pb2.UInt32Value
    ns: Namespace
    def __init__(
        self,
        level: _wrappers_pb2.Int32Value | _Mapping | None = ...,
        uid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        gid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        ns: Namespace | _Mapping | None = ...,
    ) -> None: ...

class ProcessCredentials(_message.Message):
    __slots__ = (
        "uid",
        "gid",
        "euid",
        "egid",
        "suid",
        "sgid",
        "fsuid",
        "fsgid",
        "securebits",
        "caps",
        "user_ns",
    )
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    EUID_FIELD_NUMBER: _ClassVar[int]
    EGID_FIELD_NUMBER: _ClassVar[int]
    SUID_FIELD_NUMBER: _ClassVar[int]
    SGID_FIELD_NUMBER: _ClassVar[int]
    FSUID_FIELD_NUMBER: _ClassVar[int]
    FSGID_FIELD_NUMBER: _ClassVar[int]
    SECUREBITS_FIELD_NUMBER: _ClassVar[int]
    CAPS_FIELD_NUMBER: _ClassVar[int]
    USER_NS_FIELD_NUMBER: _ClassVar[int]
    uid: _wrappers_pb2.UInt32Value
    gid: _wrappers_pb2.UInt32Value
    euid: _wrappers_pb2.UInt32Value
    egid: _wrappers_pb2.UInt32Value
    suid: _wrappers_pb2.UInt32Value
    sgid: _wrappers_pb2.UInt32Value
    fsuid: _wrappers_pb2.UInt32Value
    fsgid: _wrappers_pb2.UInt32Value
    securebits: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.SecureBitsType]
    caps: Capabilities
    user_ns: UserNamespace
    def __init__(
        self,
        uid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        gid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        euid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        egid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        suid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        sgid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        fsuid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        fsgid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        securebits: _Iterable[_capabilities_pb2.SecureBitsType | str] | None = ...,
        caps: Capabilities | _Mapping | None = ...,
        user_ns: UserNamespace | _Mapping | None = ...,
    ) -> None: ...

class InodeProperties(_message.Message):
    __slots__ = ("number", "links")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    number: int
    links: _wrappers_pb2.UInt32Value
    def __init__(
        self, number: int | None = ..., links: _wrappers_pb2.UInt32Value | _Mapping | None = ...
    ) -> None: ...

class FileProperties(_message.Message):
    __slots__ = ("inode", "path")
    INODE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    inode: InodeProperties
    path: str
    def __init__(
        self, inode: InodeProperties | _Mapping | None = ..., path: str | None = ...
    ) -> None: ...

class BinaryProperties(_message.Message):
    __slots__ = ("setuid", "setgid", "privileges_changed", "file")
    SETUID_FIELD_NUMBER: _ClassVar[int]
    SETGID_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    setuid: _wrappers_pb2.UInt32Value
    setgid: _wrappers_pb2.UInt32Value
    privileges_changed: _containers.RepeatedScalarFieldContainer[
        _capabilities_pb2.ProcessPrivilegesChanged
    ]
    file: FileProperties
    def __init__(
        self,
        setuid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        setgid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        privileges_changed: _Iterable[_capabilities_pb2.ProcessPrivilegesChanged | str]
        | None = ...,
        file: FileProperties | _Mapping | None = ...,
    ) -> None: ...

class UserRecord(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: str | None = ...) -> None: ...

class EnvVar(_message.Message):
    __slots__ = ("Key", "Value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    Key: str
    Value: str
    def __init__(self, Key: str | None = ..., Value: str | None = ...) -> None: ...

class Process(_message.Message):
    __slots__ = (
        "exec_id",
        "pid",
        "uid",
        "cwd",
        "binary",
        "arguments",
        "flags",
        "start_time",
        "auid",
        "pod",
        "docker",
        "parent_exec_id",
        "refcnt",
        "cap",
        "ns",
        "tid",
        "process_credentials",
        "binary_properties",
        "user",
        "in_init_tree",
        "environment_variables",
    )
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    AUID_FIELD_NUMBER: _ClassVar[int]
    POD_FIELD_NUMBER: _ClassVar[int]
    DOCKER_FIELD_NUMBER: _ClassVar[int]
    PARENT_EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    REFCNT_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    NS_FIELD_NUMBER: _ClassVar[int]
    TID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    BINARY_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    IN_INIT_TREE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    pid: _wrappers_pb2.UInt32Value
    uid: _wrappers_pb2.UInt32Value
    cwd: str
    binary: str
    arguments: str
    flags: str
    start_time: _timestamp_pb2.Timestamp
    auid: _wrappers_pb2.UInt32Value
    pod: Pod
    docker: str
    parent_exec_id: str
    refcnt: int
    cap: Capabilities
    ns: Namespaces
    tid: _wrappers_pb2.UInt32Value
    process_credentials: ProcessCredentials
    binary_properties: BinaryProperties
    user: UserRecord
    in_init_tree: _wrappers_pb2.BoolValue
    environment_variables: _containers.RepeatedCompositeFieldContainer[EnvVar]
    def __init__(
        self,
        exec_id: str | None = ...,
        pid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        uid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        cwd: str | None = ...,
        binary: str | None = ...,
        arguments: str | None = ...,
        flags: str | None = ...,
        start_time: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        auid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        pod: Pod | _Mapping | None = ...,
        docker: str | None = ...,
        parent_exec_id: str | None = ...,
        refcnt: int | None = ...,
        cap: Capabilities | _Mapping | None = ...,
        ns: Namespaces | _Mapping | None = ...,
        tid: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        process_credentials: ProcessCredentials | _Mapping | None = ...,
        binary_properties: BinaryProperties | _Mapping | None = ...,
        user: UserRecord | _Mapping | None = ...,
        in_init_tree: _wrappers_pb2.BoolValue | _Mapping | None = ...,
        environment_variables: _Iterable[EnvVar | _Mapping] | None = ...,
    ) -> None: ...

class ProcessExec(_message.Message):
    __slots__ = ("process", "parent", "ancestors")
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    process: Process
    parent: Process
    ancestors: _containers.RepeatedCompositeFieldContainer[Process]
    def __init__(
        self,
        process: Process | _Mapping | None = ...,
        parent: Process | _Mapping | None = ...,
        ancestors: _Iterable[Process | _Mapping] | None = ...,
    ) -> None: ...

class ProcessExit(_message.Message):
    __slots__ = ("process", "parent", "signal", "status", "time", "ancestors")
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    process: Process
    parent: Process
    signal: str
    status: int
    time: _timestamp_pb2.Timestamp
    ancestors: _containers.RepeatedCompositeFieldContainer[Process]
    def __init__(
        self,
        process: Process | _Mapping | None = ...,
        parent: Process | _Mapping | None = ...,
        signal: str | None = ...,
        status: int | None = ...,
        time: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        ancestors: _Iterable[Process | _Mapping] | None = ...,
    ) -> None: ...

class KprobeSock(_message.Message):
    __slots__ = (
        "family",
        "type",
        "protocol",
        "mark",
        "priority",
        "saddr",
        "daddr",
        "sport",
        "dport",
        "cookie",
        "state",
    )
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    MARK_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SADDR_FIELD_NUMBER: _ClassVar[int]
    DADDR_FIELD_NUMBER: _ClassVar[int]
    SPORT_FIELD_NUMBER: _ClassVar[int]
    DPORT_FIELD_NUMBER: _ClassVar[int]
    COOKIE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    family: str
    type: str
    protocol: str
    mark: int
    priority: int
    saddr: str
    daddr: str
    sport: int
    dport: int
    cookie: int
    state: str
    def __init__(
        self,
        family: str | None = ...,
        type: str | None = ...,
        protocol: str | None = ...,
        mark: int | None = ...,
        priority: int | None = ...,
        saddr: str | None = ...,
        daddr: str | None = ...,
        sport: int | None = ...,
        dport: int | None = ...,
        cookie: int | None = ...,
        state: str | None = ...,
    ) -> None: ...

class KprobeSkb(_message.Message):
    __slots__ = (
        "hash",
        "len",
        "priority",
        "mark",
        "saddr",
        "daddr",
        "sport",
        "dport",
        "proto",
        "sec_path_len",
        "sec_path_olen",
        "protocol",
        "family",
    )
    HASH_FIELD_NUMBER: _ClassVar[int]
    LEN_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    MARK_FIELD_NUMBER: _ClassVar[int]
    SADDR_FIELD_NUMBER: _ClassVar[int]
    DADDR_FIELD_NUMBER: _ClassVar[int]
    SPORT_FIELD_NUMBER: _ClassVar[int]
    DPORT_FIELD_NUMBER: _ClassVar[int]
    PROTO_FIELD_NUMBER: _ClassVar[int]
    SEC_PATH_LEN_FIELD_NUMBER: _ClassVar[int]
    SEC_PATH_OLEN_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    hash: int
    len: int
    priority: int
    mark: int
    saddr: str
    daddr: str
    sport: int
    dport: int
    proto: int
    sec_path_len: int
    sec_path_olen: int
    protocol: str
    family: str
    def __init__(
        self,
        hash: int | None = ...,
        len: int | None = ...,
        priority: int | None = ...,
        mark: int | None = ...,
        saddr: str | None = ...,
        daddr: str | None = ...,
        sport: int | None = ...,
        dport: int | None = ...,
        proto: int | None = ...,
        sec_path_len: int | None = ...,
        sec_path_olen: int | None = ...,
        protocol: str | None = ...,
        family: str | None = ...,
    ) -> None: ...

class KprobeSockaddr(_message.Message):
    __slots__ = ("family", "addr", "port")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    family: str
    addr: str
    port: int
    def __init__(
        self, family: str | None = ..., addr: str | None = ..., port: int | None = ...
    ) -> None: ...

class KprobeSockaddrUn(_message.Message):
    __slots__ = ("family", "path")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    family: str
    path: str
    def __init__(self, family: str | None = ..., path: str | None = ...) -> None: ...

class KprobeNetDev(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: str | None = ...) -> None: ...

class KprobePath(_message.Message):
    __slots__ = ("mount", "path", "flags", "permission")
    MOUNT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    mount: str
    path: str
    flags: str
    permission: str
    def __init__(
        self,
        mount: str | None = ...,
        path: str | None = ...,
        flags: str | None = ...,
        permission: str | None = ...,
    ) -> None: ...

class KprobeFile(_message.Message):
    __slots__ = ("mount", "path", "flags", "permission")
    MOUNT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    mount: str
    path: str
    flags: str
    permission: str
    def __init__(
        self,
        mount: str | None = ...,
        path: str | None = ...,
        flags: str | None = ...,
        permission: str | None = ...,
    ) -> None: ...

class KprobeTruncatedBytes(_message.Message):
    __slots__ = ("bytes_arg", "orig_size")
    BYTES_ARG_FIELD_NUMBER: _ClassVar[int]
    ORIG_SIZE_FIELD_NUMBER: _ClassVar[int]
    bytes_arg: bytes
    orig_size: int
    def __init__(self, bytes_arg: bytes | None = ..., orig_size: int | None = ...) -> None: ...

class KprobeCred(_message.Message):
    __slots__ = ("permitted", "effective", "inheritable")
    PERMITTED_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    INHERITABLE_FIELD_NUMBER: _ClassVar[int]
    permitted: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    effective: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    inheritable: _containers.RepeatedScalarFieldContainer[_capabilities_pb2.CapabilitiesType]
    def __init__(
        self,
        permitted: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
        effective: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
        inheritable: _Iterable[_capabilities_pb2.CapabilitiesType | str] | None = ...,
    ) -> None: ...

class KprobeLinuxBinprm(_message.Message):
    __slots__ = ("path", "flags", "permission")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    flags: str
    permission: str
    def __init__(
        self, path: str | None = ..., flags: str | None = ..., permission: str | None = ...
    ) -> None: ...

class KprobeCapability(_message.Message):
    __slots__ = ("value", "name")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    value: _wrappers_pb2.Int32Value
    name: str
    def __init__(
        self, value: _wrappers_pb2.Int32Value | _Mapping | None = ..., name: str | None = ...
    ) -> None: ...

class KprobeUserNamespace(_message.Message):
    __slots__ = ("level", "owner", "group", "ns")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    NS_FIELD_NUMBER: _ClassVar[int]
    level: _wrappers_pb2.Int32Value
    owner: _wrappers_pb2.UInt32Value
    group: _wrappers_pb2.UInt32Value
    ns: Namespace
    def __init__(
        self,
        level: _wrappers_pb2.Int32Value | _Mapping | None = ...,
        owner: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        group: _wrappers_pb2.UInt32Value | _Mapping | None = ...,
        ns: Namespace | _Mapping | None = ...,
    ) -> None: ...

class KprobeBpfAttr(_message.Message):
    __slots__ = ("ProgType", "InsnCnt", "ProgName")
    PROGTYPE_FIELD_NUMBER: _ClassVar[int]
    INSNCNT_FIELD_NUMBER: _ClassVar[int]
    PROGNAME_FIELD_NUMBER: _ClassVar[int]
    ProgType: str
    InsnCnt: int
    ProgName: str
    def __init__(
        self, ProgType: str | None = ..., InsnCnt: int | None = ..., ProgName: str | None = ...
    ) -> None: ...

class KprobeBpfProg(_message.Message):
    __slots__ = ("ProgType", "InsnCnt", "ProgName")
    PROGTYPE_FIELD_NUMBER: _ClassVar[int]
    INSNCNT_FIELD_NUMBER: _ClassVar[int]
    PROGNAME_FIELD_NUMBER: _ClassVar[int]
    ProgType: str
    InsnCnt: int
    ProgName: str
    def __init__(
        self, ProgType: str | None = ..., InsnCnt: int | None = ..., ProgName: str | None = ...
    ) -> None: ...

class KprobePerfEvent(_message.Message):
    __slots__ = ("KprobeFunc", "Type", "Config", "ProbeOffset")
    KPROBEFUNC_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PROBEOFFSET_FIELD_NUMBER: _ClassVar[int]
    KprobeFunc: str
    Type: str
    Config: int
    ProbeOffset: int
    def __init__(
        self,
        KprobeFunc: str | None = ...,
        Type: str | None = ...,
        Config: int | None = ...,
        ProbeOffset: int | None = ...,
    ) -> None: ...

class KprobeBpfMap(_message.Message):
    __slots__ = ("MapType", "KeySize", "ValueSize", "MaxEntries", "MapName")
    MAPTYPE_FIELD_NUMBER: _ClassVar[int]
    KEYSIZE_FIELD_NUMBER: _ClassVar[int]
    VALUESIZE_FIELD_NUMBER: _ClassVar[int]
    MAXENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAPNAME_FIELD_NUMBER: _ClassVar[int]
    MapType: str
    KeySize: int
    ValueSize: int
    MaxEntries: int
    MapName: str
    def __init__(
        self,
        MapType: str | None = ...,
        KeySize: int | None = ...,
        ValueSize: int | None = ...,
        MaxEntries: int | None = ...,
        MapName: str | None = ...,
    ) -> None: ...

class KprobeError(_message.Message):
    __slots__ = ("Message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    Message: str
    def __init__(self, Message: str | None = ...) -> None: ...

class SyscallId(_message.Message):
    __slots__ = ("id", "abi")
    ID_FIELD_NUMBER: _ClassVar[int]
    ABI_FIELD_NUMBER: _ClassVar[int]
    id: int
    abi: str
    def __init__(self, id: int | None = ..., abi: str | None = ...) -> None: ...

class KernelModule(_message.Message):
    __slots__ = ("name", "signature_ok", "tainted")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_OK_FIELD_NUMBER: _ClassVar[int]
    TAINTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    signature_ok: _wrappers_pb2.BoolValue
    tainted: _containers.RepeatedScalarFieldContainer[TaintedBitsType]
    def __init__(
        self,
        name: str | None = ...,
        signature_ok: _wrappers_pb2.BoolValue | _Mapping | None = ...,
        tainted: _Iterable[TaintedBitsType | str] | None = ...,
    ) -> None: ...

class KprobeDns(_message.Message):
    __slots__ = ("query_name", "query_type", "query_class", "flags", "tx_id")
    QUERY_NAME_FIELD_NUMBER: _ClassVar[int]
    QUERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUERY_CLASS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    query_name: str
    query_type: int
    query_class: int
    flags: int
    tx_id: int
    def __init__(
        self,
        query_name: str | None = ...,
        query_type: int | None = ...,
        query_class: int | None = ...,
        flags: int | None = ...,
        tx_id: int | None = ...,
    ) -> None: ...

class KprobeArgument(_message.Message):
    __slots__ = (
        "string_arg",
        "int_arg",
        "skb_arg",
        "size_arg",
        "bytes_arg",
        "path_arg",
        "file_arg",
        "truncated_bytes_arg",
        "sock_arg",
        "cred_arg",
        "long_arg",
        "bpf_attr_arg",
        "perf_event_arg",
        "bpf_map_arg",
        "uint_arg",
        "user_namespace_arg",
        "capability_arg",
        "process_credentials_arg",
        "user_ns_arg",
        "module_arg",
        "kernel_cap_t_arg",
        "cap_inheritable_arg",
        "cap_permitted_arg",
        "cap_effective_arg",
        "linux_binprm_arg",
        "net_dev_arg",
        "bpf_cmd_arg",
        "syscall_id",
        "sockaddr_arg",
        "bpf_prog_arg",
        "error_arg",
        "sockaddrun_arg",
        "dns_arg",
        "label",
    )
    STRING_ARG_FIELD_NUMBER: _ClassVar[int]
    INT_ARG_FIELD_NUMBER: _ClassVar[int]
    SKB_ARG_FIELD_NUMBER: _ClassVar[int]
    SIZE_ARG_FIELD_NUMBER: _ClassVar[int]
    BYTES_ARG_FIELD_NUMBER: _ClassVar[int]
    PATH_ARG_FIELD_NUMBER: _ClassVar[int]
    FILE_ARG_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_BYTES_ARG_FIELD_NUMBER: _ClassVar[int]
    SOCK_ARG_FIELD_NUMBER: _ClassVar[int]
    CRED_ARG_FIELD_NUMBER: _ClassVar[int]
    LONG_ARG_FIELD_NUMBER: _ClassVar[int]
    BPF_ATTR_ARG_FIELD_NUMBER: _ClassVar[int]
    PERF_EVENT_ARG_FIELD_NUMBER: _ClassVar[int]
    BPF_MAP_ARG_FIELD_NUMBER: _ClassVar[int]
    UINT_ARG_FIELD_NUMBER: _ClassVar[int]
    USER_NAMESPACE_ARG_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_ARG_FIELD_NUMBER: _ClassVar[int]
    PROCESS_CREDENTIALS_ARG_FIELD_NUMBER: _ClassVar[int]
    USER_NS_ARG_FIELD_NUMBER: _ClassVar[int]
    MODULE_ARG_FIELD_NUMBER: _ClassVar[int]
    KERNEL_CAP_T_ARG_FIELD_NUMBER: _ClassVar[int]
    CAP_INHERITABLE_ARG_FIELD_NUMBER: _ClassVar[int]
    CAP_PERMITTED_ARG_FIELD_NUMBER: _ClassVar[int]
    CAP_EFFECTIVE_ARG_FIELD_NUMBER: _ClassVar[int]
    LINUX_BINPRM_ARG_FIELD_NUMBER: _ClassVar[int]
    NET_DEV_ARG_FIELD_NUMBER: _ClassVar[int]
    BPF_CMD_ARG_FIELD_NUMBER: _ClassVar[int]
    SYSCALL_ID_FIELD_NUMBER: _ClassVar[int]
    SOCKADDR_ARG_FIELD_NUMBER: _ClassVar[int]
    BPF_PROG_ARG_FIELD_NUMBER: _ClassVar[int]
    ERROR_ARG_FIELD_NUMBER: _ClassVar[int]
    SOCKADDRUN_ARG_FIELD_NUMBER: _ClassVar[int]
    DNS_ARG_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    string_arg: str
    int_arg: int
    skb_arg: KprobeSkb
    size_arg: int
    bytes_arg: bytes
    path_arg: KprobePath
    file_arg: KprobeFile
    truncated_bytes_arg: KprobeTruncatedBytes
    sock_arg: KprobeSock
    cred_arg: KprobeCred
    long_arg: int
    bpf_attr_arg: KprobeBpfAttr
    perf_event_arg: KprobePerfEvent
    bpf_map_arg: KprobeBpfMap
    uint_arg: int
    user_namespace_arg: KprobeUserNamespace
    capability_arg: KprobeCapability
    process_credentials_arg: ProcessCredentials
    user_ns_arg: UserNamespace
    module_arg: KernelModule
    kernel_cap_t_arg: str
    cap_inheritable_arg: str
    cap_permitted_arg: str
    cap_effective_arg: str
    linux_binprm_arg: KprobeLinuxBinprm
    net_dev_arg: KprobeNetDev
    bpf_cmd_arg: _bpf_pb2.BpfCmd
    syscall_id: SyscallId
    sockaddr_arg: KprobeSockaddr
    bpf_prog_arg: KprobeBpfProg
    error_arg: KprobeError
    sockaddrun_arg: KprobeSockaddrUn
    dns_arg: KprobeDns
    label: str
    def __init__(
        self,
        string_arg: str | None = ...,
        int_arg: int | None = ...,
        skb_arg: KprobeSkb | _Mapping | None = ...,
        size_arg: int | None = ...,
        bytes_arg: bytes | None = ...,
        path_arg: KprobePath | _Mapping | None = ...,
        file_arg: KprobeFile | _Mapping | None = ...,
        truncated_bytes_arg: KprobeTruncatedBytes | _Mapping | None = ...,
        sock_arg: KprobeSock | _Mapping | None = ...,
        cred_arg: KprobeCred | _Mapping | None = ...,
        long_arg: int | None = ...,
        bpf_attr_arg: KprobeBpfAttr | _Mapping | None = ...,
        perf_event_arg: KprobePerfEvent | _Mapping | None = ...,
        bpf_map_arg: KprobeBpfMap | _Mapping | None = ...,
        uint_arg: int | None = ...,
        user_namespace_arg: KprobeUserNamespace | _Mapping | None = ...,
        capability_arg: KprobeCapability | _Mapping | None = ...,
        process_credentials_arg: ProcessCredentials | _Mapping | None = ...,
        user_ns_arg: UserNamespace | _Mapping | None = ...,
        module_arg: KernelModule | _Mapping | None = ...,
        kernel_cap_t_arg: str | None = ...,
        cap_inheritable_arg: str | None = ...,
        cap_permitted_arg: str | None = ...,
        cap_effective_arg: str | None = ...,
        linux_binprm_arg: KprobeLinuxBinprm | _Mapping | None = ...,
        net_dev_arg: KprobeNetDev | _Mapping | None = ...,
        bpf_cmd_arg: _bpf_pb2.BpfCmd | str | None = ...,
        syscall_id: SyscallId | _Mapping | None = ...,
        sockaddr_arg: KprobeSockaddr | _Mapping | None = ...,
        bpf_prog_arg: KprobeBpfProg | _Mapping | None = ...,
        error_arg: KprobeError | _Mapping | None = ...,
        sockaddrun_arg: KprobeSockaddrUn | _Mapping | None = ...,
        dns_arg: KprobeDns | _Mapping | None = ...,
        label: str | None = ...,
    ) -> None: ...

class StackTraceEntry(_message.Message):
    __slots__ = ("address", "offset", "symbol", "module")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    address: int
    offset: int
    symbol: str
    module: str
    def __init__(
        self,
        address: int | None = ...,
        offset: int | None = ...,
        symbol: str | None = ...,
        module: str | None = ...,
    ) -> None: ...

class ProcessKprobe(_message.Message):
    __slots__ = (
        "process",
        "parent",
        "function_name",
        "args",
        "action",
        "kernel_stack_trace",
        "policy_name",
        "return_action",
        "message",
        "tags",
        "user_stack_trace",
        "ancestors",
        "data",
    )
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    RETURN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    KERNEL_STACK_TRACE_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    RETURN_ACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    USER_STACK_TRACE_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    process: Process
    parent: Process
    function_name: str
    args: _containers.RepeatedCompositeFieldContainer[KprobeArgument]
    action: KprobeAction
    kernel_stack_trace: _containers.RepeatedCompositeFieldContainer[StackTraceEntry]
    policy_name: str
    return_action: KprobeAction
    message: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    user_stack_trace: _containers.RepeatedCompositeFieldContainer[StackTraceEntry]
    ancestors: _containers.RepeatedCompositeFieldContainer[Process]
    data: _containers.RepeatedCompositeFieldContainer[KprobeArgument]
    def __init__(
        self,
        process: Process | _Mapping | None = ...,
        parent: Process | _Mapping | None = ...,
        function_name: str | None = ...,
        args: _Iterable[KprobeArgument | _Mapping] | None = ...,
        action: KprobeAction | str | None = ...,
        kernel_stack_trace: _Iterable[StackTraceEntry | _Mapping] | None = ...,
        policy_name: str | None = ...,
        return_action: KprobeAction | str | None = ...,
        message: str | None = ...,
        tags: _Iterable[str] | None = ...,
        user_stack_trace: _Iterable[StackTraceEntry | _Mapping] | None = ...,
        ancestors: _Iterable[Process | _Mapping] | None = ...,
        data: _Iterable[KprobeArgument | _Mapping] | None = ...,
        **kwargs,
    ) -> None: ...

class ProcessTracepoint(_message.Message):
    __slots__ = (
        "process",
        "parent",
        "subsys",
        "event",
        "args",
        "policy_name",
        "action",
        "message",
        "tags",
        "ancestors",
    )
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SUBSYS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    process: Process
    parent: Process
    subsys: str
    event: str
    args: _containers.RepeatedCompositeFieldContainer[KprobeArgument]
    policy_name: str
    action: KprobeAction
    message: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    ancestors: _containers.RepeatedCompositeFieldContainer[Process]
    def __init__(
        self,
        process: Process | _Mapping | None = ...,
        parent: Process | _Mapping | None = ...,
        subsys: str | None = ...,
        event: str | None = ...,
        args: _Iterable[KprobeArgument | _Mapping] | None = ...,
        policy_name: str | None = ...,
        action: KprobeAction | str | None = ...,
        message: str | None = ...,
        tags: _Iterable[str] | None = ...,
        ancestors: _Iterable[Process | _Mapping] | None = ...,
    ) -> None: ...

class ProcessUprobe(_message.Message):
    __slots__ = (
        "process",
        "parent",
        "path",
        "symbol",
        "policy_name",
        "message",
        "args",
        "tags",
        "ancestors",
        "offset",
        "ref_ctr_offset",
        "action",
        "data",
        "user_stack_trace",
    )
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    REF_CTR_OFFSET_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    USER_STACK_TRACE_FIELD_NUMBER: _ClassVar[int]
    process: Process
    parent: Process
    path: str
    symbol: str
    policy_name: str
    message: str
    args: _containers.RepeatedCompositeFieldContainer[KprobeArgument]
    tags: _containers.RepeatedScalarFieldContainer[str]
    ancestors: _containers.RepeatedCompositeFieldContainer[Process]
    offset: int
    ref_ctr_offset: int
    action: KprobeAction
    data: _containers.RepeatedCompositeFieldContainer[KprobeArgument]
    user_stack_trace: _containers.RepeatedCompositeFieldContainer[StackTraceEntry]
    def __init__(
        self,
        process: Process | _Mapping | None = ...,
        parent: Process | _Mapping | None = ...,
        path: str | None = ...,
        symbol: str | None = ...,
        policy_name: str | None = ...,
        message: str | None = ...,
        args: _Iterable[KprobeArgument | _Mapping] | None = ...,
        tags: _Iterable[str] | None = ...,
        ancestors: _Iterable[Process | _Mapping] | None = ...,
        offset: int | None = ...,
        ref_ctr_offset: int | None = ...,
        action: KprobeAction | str | None = ...,
        data: _Iterable[KprobeArgument | _Mapping] | None = ...,
        user_stack_trace: _Iterable[StackTraceEntry | _Mapping] | None = ...,
    ) -> None: ...

class ProcessUsdt(_message.Message):
    __slots__ = (
        "process",
        "parent",
        "path",
        "provider",
        "name",
        "policy_name",
        "message",
        "args",
        "tags",
        "ancestors",
        "action",
        "flags",
    )
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    process: Process
    parent: Process
    path: str
    provider: str
    name: str
    policy_name: str
    message: str
    args: _containers.RepeatedCompositeFieldContainer[KprobeArgument]
    tags: _containers.RepeatedScalarFieldContainer[str]
    ancestors: _containers.RepeatedCompositeFieldContainer[Process]
    action: KprobeAction
    flags: str
    def __init__(
        self,
        process: Process | _Mapping | None = ...,
        parent: Process | _Mapping | None = ...,
        path: str | None = ...,
        provider: str | None = ...,
        name: str | None = ...,
        policy_name: str | None = ...,
        message: str | None = ...,
        args: _Iterable[KprobeArgument | _Mapping] | None = ...,
        tags: _Iterable[str] | None = ...,
        ancestors: _Iterable[Process | _Mapping] | None = ...,
        action: KprobeAction | str | None = ...,
        flags: str | None = ...,
    ) -> None: ...

class ProcessLsm(_message.Message):
    __slots__ = (
        "process",
        "parent",
        "function_name",
        "policy_name",
        "message",
        "args",
        "action",
        "tags",
        "ancestors",
        "ima_hash",
    )
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    IMA_HASH_FIELD_NUMBER: _ClassVar[int]
    process: Process
    parent: Process
    function_name: str
    policy_name: str
    message: str
    args: _containers.RepeatedCompositeFieldContainer[KprobeArgument]
    action: KprobeAction
    tags: _containers.RepeatedScalarFieldContainer[str]
    ancestors: _containers.RepeatedCompositeFieldContainer[Process]
    ima_hash: str
    def __init__(
        self,
        process: Process | _Mapping | None = ...,
        parent: Process | _Mapping | None = ...,
        function_name: str | None = ...,
        policy_name: str | None = ...,
        message: str | None = ...,
        args: _Iterable[KprobeArgument | _Mapping] | None = ...,
        action: KprobeAction | str | None = ...,
        tags: _Iterable[str] | None = ...,
        ancestors: _Iterable[Process | _Mapping] | None = ...,
        ima_hash: str | None = ...,
    ) -> None: ...

class ProcessLoader(_message.Message):
    __slots__ = ("process", "path", "buildid", "parent", "ancestors")
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BUILDID_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    process: Process
    path: str
    buildid: bytes
    parent: Process
    ancestors: _containers.RepeatedCompositeFieldContainer[Process]
    def __init__(
        self,
        process: Process | _Mapping | None = ...,
        path: str | None = ...,
        buildid: bytes | None = ...,
        parent: Process | _Mapping | None = ...,
        ancestors: _Iterable[Process | _Mapping] | None = ...,
    ) -> None: ...

class Test(_message.Message):
    __slots__ = ("arg0", "arg1", "arg2", "arg3")
    ARG0_FIELD_NUMBER: _ClassVar[int]
    ARG1_FIELD_NUMBER: _ClassVar[int]
    ARG2_FIELD_NUMBER: _ClassVar[int]
    ARG3_FIELD_NUMBER: _ClassVar[int]
    arg0: int
    arg1: int
    arg2: int
    arg3: int
    def __init__(
        self,
        arg0: int | None = ...,
        arg1: int | None = ...,
        arg2: int | None = ...,
        arg3: int | None = ...,
    ) -> None: ...

class GetHealthStatusRequest(_message.Message):
    __slots__ = ("event_set",)
    EVENT_SET_FIELD_NUMBER: _ClassVar[int]
    event_set: _containers.RepeatedScalarFieldContainer[HealthStatusType]
    def __init__(self, event_set: _Iterable[HealthStatusType | str] | None = ...) -> None: ...

class HealthStatus(_message.Message):
    __slots__ = ("event", "status", "details")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    event: HealthStatusType
    status: HealthStatusResult
    details: str
    def __init__(
        self,
        event: HealthStatusType | str | None = ...,
        status: HealthStatusResult | str | None = ...,
        details: str | None = ...,
    ) -> None: ...

class GetHealthStatusResponse(_message.Message):
    __slots__ = ("health_status",)
    HEALTH_STATUS_FIELD_NUMBER: _ClassVar[int]
    health_status: _containers.RepeatedCompositeFieldContainer[HealthStatus]
    def __init__(self, health_status: _Iterable[HealthStatus | _Mapping] | None = ...) -> None: ...

class RuntimeHookRequest(_message.Message):
    __slots__ = ("createContainer",)
    CREATECONTAINER_FIELD_NUMBER: _ClassVar[int]
    createContainer: CreateContainer
    def __init__(self, createContainer: CreateContainer | _Mapping | None = ...) -> None: ...

class RuntimeHookResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Mount(_message.Message):
    __slots__ = ("destination", "type", "source", "options")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    destination: str
    type: str
    source: str
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(
        self,
        destination: str | None = ...,
        type: str | None = ...,
        source: str | None = ...,
        options: _Iterable[str] | None = ...,
    ) -> None: ...

class CreateContainer(_message.Message):
    __slots__ = (
        "cgroupsPath",
        "rootDir",
        "annotations",
        "containerName",
        "containerID",
        "podName",
        "podUID",
        "podNamespace",
        "containerImage",
        "mounts",
    )
    class AnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: str | None = ..., value: str | None = ...) -> None: ...

    CGROUPSPATH_FIELD_NUMBER: _ClassVar[int]
    ROOTDIR_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    CONTAINERNAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINERID_FIELD_NUMBER: _ClassVar[int]
    PODNAME_FIELD_NUMBER: _ClassVar[int]
    PODUID_FIELD_NUMBER: _ClassVar[int]
    PODNAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CONTAINERIMAGE_FIELD_NUMBER: _ClassVar[int]
    MOUNTS_FIELD_NUMBER: _ClassVar[int]
    cgroupsPath: str
    rootDir: str
    annotations: _containers.ScalarMap[str, str]
    containerName: str
    containerID: str
    podName: str
    podUID: str
    podNamespace: str
    containerImage: str
    mounts: _containers.RepeatedCompositeFieldContainer[Mount]
    def __init__(
        self,
        cgroupsPath: str | None = ...,
        rootDir: str | None = ...,
        annotations: _Mapping[str, str] | None = ...,
        containerName: str | None = ...,
        containerID: str | None = ...,
        podName: str | None = ...,
        podUID: str | None = ...,
        podNamespace: str | None = ...,
        containerImage: str | None = ...,
        mounts: _Iterable[Mount | _Mapping] | None = ...,
    ) -> None: ...
