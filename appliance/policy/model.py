"""Typed model of Tetragon's TracingPolicy (apiVersion cilium.io/v1alpha1).

The classes follow the upstream CRD field for field: YAML keys are the
camelCase aliases, Python attributes are snake_case (both are accepted on
input). Unknown keys are refused (``extra="forbid"``) so a misspelt field is
reported instead of silently ignored.

Enumerated fields are ``Literal`` types. Their values are matched without
regard to case, as the upstream agent does, and stored in the canonical
spelling listed in the ``*_NAMES`` tuples below; a few historical synonyms are
folded as well (``GreaterThan`` -> ``GT``, ``NotifyKiller`` ->
``NotifyEnforcer``...). The original spelling of such a field is kept in
``respelled()`` so the validator can point it out.

This module checks shapes and spellings only. Cross-field rules (an argument
index refers to a declared argument, an operator suits the argument type, a
value parses for its operator...) live in ``appliance.policy.validate``; the
helpers at the end of this module (``resolve_arg_selector``,
``parse_rate_limit``, ``Hook`` iteration) encode the upstream semantics once
for both the validator and the compiler.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from appliance.policy.constants import CAPABILITIES, NAMESPACES

API_VERSION = "cilium.io/v1alpha1"

# --------------------------------------------------------------------------
# Enumerations
# --------------------------------------------------------------------------

ArgType = Literal[
    "auto",
    "int",
    "sint8",
    "int8",
    "uint8",
    "sint16",
    "int16",
    "uint16",
    "uint32",
    "sint32",
    "int32",
    "ulong",
    "unsigned long",
    "uint64",
    "size_t",
    "long",
    "sint64",
    "int64",
    "char_buf",
    "char_iovec",
    "skb",
    "sock",
    "sockaddr",
    "socket",
    "string",
    "fd",
    "file",
    "filename",
    "path",
    "nop",
    "bpf_attr",
    "perf_event",
    "bpf_map",
    "user_namespace",
    "capability",
    "kiocb",
    "iov_iter",
    "cred",
    "const_buf",
    "load_info",
    "module",
    "syscall64",
    "kernel_cap_t",
    "cap_inheritable",
    "cap_permitted",
    "cap_effective",
    "linux_binprm",
    "data_loc",
    "net_device",
    "bpf_cmd",
    "dentry",
    "bpf_prog",
    "int32_arr",
    # the question of a DNS query in a struct msghdr (Tetragon's dns-egress example)
    "dns",
]
ARG_TYPES: tuple[str, ...] = get_args(ArgType)

ArgOperator = Literal[
    "Equal",
    "NotEqual",
    "Prefix",
    "NotPrefix",
    "Postfix",
    "NotPostfix",
    "GT",
    "LT",
    "Mask",
    "CapabilityMask",
    "SPort",
    "NotSPort",
    "SPortPriv",
    "NotSPortPriv",
    "DPort",
    "NotDPort",
    "DPortPriv",
    "NotDPortPriv",
    "SAddr",
    "NotSAddr",
    "DAddr",
    "NotDAddr",
    "Protocol",
    "Family",
    "State",
    "InMap",
    "NotInMap",
    "CapabilitiesGained",
    "InRange",
    "NotInRange",
    "SubString",
    "SubStringIgnCase",
    "FileType",
    "NotFileType",
]
ARG_OPERATORS: tuple[str, ...] = get_args(ArgOperator)
# Other spellings of the same operators (upstream enum names and the short
# forms of early releases).
ARG_OPERATOR_ALIASES: dict[str, str] = {
    "GreaterThan": "GT",
    "LessThan": "LT",
    "gt": "GT",
    "lt": "LT",
    "eq": "Equal",
    "neq": "NotEqual",
}

BinaryOperator = Literal["In", "NotIn", "Prefix", "NotPrefix", "Postfix", "NotPostfix"]
BINARY_OPERATORS: tuple[str, ...] = get_args(BinaryOperator)

SetOperator = Literal["In", "NotIn"]
SET_OPERATORS: tuple[str, ...] = get_args(SetOperator)

NamespaceName = Literal[
    "Uts",
    "Ipc",
    "Mnt",
    "Pid",
    "PidForChildren",
    "Net",
    "Time",
    "TimeForChildren",
    "Cgroup",
    "User",
]
NAMESPACE_NAMES: tuple[str, ...] = get_args(NamespaceName)
assert set(NAMESPACE_NAMES) == set(NAMESPACES)

CapabilityType = Literal["Effective", "Inheritable", "Permitted"]
CAPABILITY_TYPES: tuple[str, ...] = get_args(CapabilityType)

ActionName = Literal[
    "Post",
    "NoPost",
    "Sigkill",
    "Signal",
    "Override",
    "FollowFD",
    "UnfollowFD",
    "CopyFD",
    "GetUrl",
    "DnsLookup",
    "TrackSock",
    "UntrackSock",
    "NotifyEnforcer",
    "CleanupEnforcerNotification",
    "Set",
    "Regs",
]
ACTION_NAMES: tuple[str, ...] = get_args(ActionName)
# NotifyKiller is the name NotifyEnforcer had before enforcers were renamed.
ACTION_ALIASES: dict[str, str] = {"NotifyKiller": "NotifyEnforcer"}
DEPRECATED_ACTIONS: frozenset[str] = frozenset({"FollowFD", "UnfollowFD", "CopyFD"})

ReturnArgAction = Literal["Post", "TrackSock", "UntrackSock"]
RETURN_ARG_ACTIONS: tuple[str, ...] = get_args(ReturnArgAction)

RateLimitScope = Literal["thread", "process", "global"]
RATE_LIMIT_SCOPES: tuple[str, ...] = get_args(RateLimitScope)

ListType = Literal["syscalls", "generated_syscalls", "generated_ftrace"]
LIST_TYPES: tuple[str, ...] = get_args(ListType)

LabelOperator = Literal["In", "NotIn", "Exists", "DoesNotExist"]
LABEL_OPERATORS: tuple[str, ...] = get_args(LabelOperator)

CapabilityName = Literal[tuple(CAPABILITIES)]  # type: ignore[valid-type]
CAPABILITY_NAMES: tuple[str, ...] = tuple(CAPABILITIES)

PolicyKind = Literal["TracingPolicy", "TracingPolicyNamespaced"]
POLICY_KINDS: tuple[str, ...] = get_args(PolicyKind)

LIST_PREFIX = "list:"
MAX_TAGS = 16
MAX_MESSAGE_LEN = 256


# --------------------------------------------------------------------------
# Field helpers
# --------------------------------------------------------------------------


def describe_value(value: Any) -> str:
    """A value as an error message names it: 'text', the number 3, a list..."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return type(value).__name__


def _choice(
    what: str,
    allowed: Sequence[str],
    aliases: Mapping[str, str] | None = None,
    *,
    ignore_case: bool = True,
) -> BeforeValidator:
    """Before-validator mapping a spelling to its canonical enumeration value.

    Unknown values fail with ``unknown <what> '<value>' (expected one of: ...)``.
    """
    table: dict[str, str] = {}
    for name in allowed:
        table[name.lower() if ignore_case else name] = name
    for alias, name in (aliases or {}).items():
        table.setdefault(alias.lower() if ignore_case else alias, name)
    expected = ", ".join(allowed)

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise PydanticCustomError(
                "unknown_value",
                "{what} must be a string, got {got} (expected one of: {expected})",
                {"what": what, "got": describe_value(value), "expected": expected},
            )
        key = value.strip()
        found = table.get(key.lower() if ignore_case else key)
        if found is None:
            raise PydanticCustomError(
                "unknown_value",
                "unknown {what} '{value}' (expected one of: {expected})",
                {"what": what, "value": value, "expected": expected},
            )
        return found

    return BeforeValidator(check)


def _scalar_text(value: Any) -> Any:
    """Selector values are strings; YAML integers (``- 53``) are accepted as text."""
    if isinstance(value, bool):
        raise PydanticCustomError("value_type", "expected a string or a number, got a boolean", {})
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise PydanticCustomError(
            "value_type",
            "expected a string or an integer, got the number {value}",
            {"value": value},
        )
    return value


def _option_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_scalar_text)]
OptionText = Annotated[str, BeforeValidator(_option_text)]
UInt32 = Annotated[int, Field(ge=0, le=0xFFFFFFFF)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
NonNegative = Annotated[int, Field(ge=0)]

ArgTypeField = Annotated[ArgType, _choice("type", ARG_TYPES, ignore_case=False)]
ArgOperatorField = Annotated[ArgOperator, _choice("operator", ARG_OPERATORS, ARG_OPERATOR_ALIASES)]
BinaryOperatorField = Annotated[BinaryOperator, _choice("operator", BINARY_OPERATORS)]
SetOperatorField = Annotated[SetOperator, _choice("operator", SET_OPERATORS)]
NamespaceField = Annotated[NamespaceName, _choice("namespace", NAMESPACE_NAMES)]
CapabilityTypeField = Annotated[CapabilityType, _choice("capability type", CAPABILITY_TYPES)]
CapabilityField = Annotated[CapabilityName, _choice("capability", CAPABILITY_NAMES)]
ActionField = Annotated[ActionName, _choice("action", ACTION_NAMES, ACTION_ALIASES)]
ReturnArgActionField = Annotated[ReturnArgAction, _choice("returnArgAction", RETURN_ARG_ACTIONS)]
RateLimitScopeField = Annotated[RateLimitScope, _choice("rateLimitScope", RATE_LIMIT_SCOPES)]
ListTypeField = Annotated[ListType, _choice("list type", LIST_TYPES)]
LabelOperatorField = Annotated[LabelOperator, _choice("operator", LABEL_OPERATORS)]


def _rate_limit_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("value_type", "rateLimit must be a duration, got a boolean", {})
    if isinstance(value, int):
        return str(value)
    return value


class _Model(BaseModel):
    """Base of every policy object.

    A ``null`` value in YAML counts as an absent key, as it does for the
    upstream loader (``matchPIDs:`` with nothing under it is an empty list).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        validate_assignment=False,
    )

    _respelled: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _null_is_absent(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        raw = data if isinstance(data, dict) else None
        if raw is not None:
            data = {k: v for k, v in raw.items() if v is not None}
        inst = handler(data)
        if raw is not None and isinstance(inst, _Model):
            for name, info in type(inst).model_fields.items():
                given = raw.get(info.alias or name, raw.get(name))
                kept = getattr(inst, name, None)
                if isinstance(given, str) and isinstance(kept, str) and given != kept:
                    inst._respelled[info.alias or name] = given
        return inst

    def respelled(self) -> dict[str, str]:
        """YAML keys of this object whose value was given in another spelling.

        Maps the key to the spelling found in the source; the attribute holds
        the canonical one.
        """
        return dict(self._respelled)


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------


class Arg(_Model):
    """One argument to read at the hook (``args[]``, ``data[]``).

    ``index`` is the position of the argument in the function prototype (for
    tracepoints: the field of the tracepoint format; for ``data`` entries it is
    informational, ``source`` says where the value comes from).
    """

    index: NonNegative
    type: ArgTypeField = "auto"
    label: str = ""
    # 1-based position of the argument holding the buffer size (0: none);
    # only for char_buf and char_iovec. See size_arg_position.
    size_arg_index: NonNegative = Field(0, alias="sizeArgIndex")
    return_copy: bool = Field(False, alias="returnCopy")
    max_data: bool = Field(False, alias="maxData")
    resolve: str = ""
    source: str = ""
    btf_type: str = Field("", alias="btfType")
    # int32_arr: how many int32 values the pointer holds
    size: NonNegative = 0

    @property
    def size_arg_position(self) -> int | None:
        """0-based prototype position of the size argument, or None."""
        return self.size_arg_index - 1 if self.size_arg_index > 0 else None


class ReturnArg(Arg):
    """The return value (``returnArg``); its index is meaningless and defaults to 0."""

    index: NonNegative = 0


class KProbeIgnore(_Model):
    call_not_found: bool = Field(False, alias="callNotFound")


# --------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------


class ArgSelector(_Model):
    """One filter of matchArgs / matchData / matchReturnArgs.

    ``index`` names an argument by its prototype position (for kprobes,
    uprobes, LSM hooks: the ``index`` of a declared arg); ``args`` names
    declared args by their position in the ``args`` list and takes precedence.
    See ``resolve_arg_selector``.
    """

    index: NonNegative | None = None
    args: list[NonNegative] = Field(default_factory=list)
    operator: ArgOperatorField
    values: list[Text] = Field(default_factory=list)


class PIDSelector(_Model):
    operator: SetOperatorField
    values: list[UInt32]
    is_namespace_pid: bool = Field(False, alias="isNamespacePID")
    follow_forks: bool = Field(False, alias="followForks")


class BinarySelector(_Model):
    operator: BinaryOperatorField
    values: list[str]
    follow_children: bool = Field(False, alias="followChildren")


class NamespaceSelector(_Model):
    namespace: NamespaceField
    operator: SetOperatorField
    # Namespace inode numbers, or "host_ns".
    values: list[Text]


class NamespaceChangesSelector(_Model):
    operator: SetOperatorField
    values: list[NamespaceField]


class CapabilitiesSelector(_Model):
    type: CapabilityTypeField = "Effective"
    operator: SetOperatorField
    is_namespace_capability: bool = Field(False, alias="isNamespaceCapability")
    values: list[CapabilityField]


class ActionSelector(_Model):
    """One entry of matchActions / matchReturnActions.

    Optional arguments are None when absent, so the validator can tell "not
    given" from 0; the compiler should use the ``*_or_default`` helpers where
    the upstream default (0) applies.
    """

    action: ActionField
    arg_fd: UInt32 | None = Field(None, alias="argFd")
    arg_name: UInt32 | None = Field(None, alias="argName")
    arg_url: str | None = Field(None, alias="argUrl")
    arg_fqdn: str | None = Field(None, alias="argFqdn")
    arg_error: Int32 | None = Field(None, alias="argError")
    arg_sig: UInt32 | None = Field(None, alias="argSig")
    arg_sock: UInt32 | None = Field(None, alias="argSock")
    arg_index: UInt32 | None = Field(None, alias="argIndex")
    arg_value: Int32 | None = Field(None, alias="argValue")
    arg_regs: list[str] = Field(default_factory=list, alias="argRegs")
    arg_reg: list[str] = Field(default_factory=list, alias="argReg")  # Regs: "rax:0x123"
    rate_limit: Annotated[str | None, BeforeValidator(_rate_limit_text)] = Field(
        None, alias="rateLimit"
    )
    rate_limit_scope: RateLimitScopeField | None = Field(None, alias="rateLimitScope")
    kernel_stack_trace: bool = Field(False, alias="kernelStackTrace")
    user_stack_trace: bool = Field(False, alias="userStackTrace")
    ima_hash: bool = Field(False, alias="imaHash")

    @property
    def rate_limit_seconds(self) -> int | None:
        """The rate limit window in seconds (None when unset).

        Raises ValueError for a malformed rateLimit; validated policies never do.
        """
        return parse_rate_limit(self.rate_limit) if self.rate_limit is not None else None

    @property
    def arg_sock_or_default(self) -> int:
        return self.arg_sock or 0

    @property
    def arg_fd_or_default(self) -> int:
        return self.arg_fd or 0

    @property
    def arg_name_or_default(self) -> int:
        return self.arg_name or 0


class Selector(_Model):
    """A selector: all its filters must match (AND); selectors of a hook are ORed
    and the first matching one applies its actions."""

    match_pids: list[PIDSelector] = Field(default_factory=list, alias="matchPIDs")
    match_args: list[ArgSelector] = Field(default_factory=list, alias="matchArgs")
    match_data: list[ArgSelector] = Field(default_factory=list, alias="matchData")
    match_return_args: list[ArgSelector] = Field(default_factory=list, alias="matchReturnArgs")
    match_binaries: list[BinarySelector] = Field(default_factory=list, alias="matchBinaries")
    match_parent_binaries: list[BinarySelector] = Field(
        default_factory=list, alias="matchParentBinaries"
    )
    match_namespaces: list[NamespaceSelector] = Field(default_factory=list, alias="matchNamespaces")
    match_namespace_changes: list[NamespaceChangesSelector] = Field(
        default_factory=list, alias="matchNamespaceChanges"
    )
    match_capabilities: list[CapabilitiesSelector] = Field(
        default_factory=list, alias="matchCapabilities"
    )
    match_capability_changes: list[CapabilitiesSelector] = Field(
        default_factory=list, alias="matchCapabilityChanges"
    )
    match_actions: list[ActionSelector] = Field(default_factory=list, alias="matchActions")
    match_return_actions: list[ActionSelector] = Field(
        default_factory=list, alias="matchReturnActions"
    )


# --------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------

Tags = Annotated[list[str], Field(max_length=MAX_TAGS)]


class KProbeSpec(_Model):
    """A kernel function hook (``kprobes[]`` and ``fentries[]``).

    ``call`` may be ``list:NAME`` to hook every function of a spec list.
    """

    call: str
    syscall: bool = True
    return_: bool = Field(False, alias="return")
    args: list[Arg] = Field(default_factory=list)
    data: list[Arg] = Field(default_factory=list)
    return_arg: ReturnArg | None = Field(None, alias="returnArg")
    return_arg_action: ReturnArgActionField | None = Field(None, alias="returnArgAction")
    selectors: list[Selector] = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    message: str = ""
    ignore: KProbeIgnore | None = None

    @property
    def list_name(self) -> str | None:
        """Name of the spec list this hook expands, or None for a single function."""
        return self.call[len(LIST_PREFIX) :] if self.call.startswith(LIST_PREFIX) else None


class TracepointSpec(_Model):
    """A tracepoint (``tracepoints[]``); ``raw: true`` attaches a raw tracepoint
    whose ``args`` index the TP_PROTO arguments instead of the format fields."""

    subsystem: str
    event: str
    raw: bool = False
    args: list[Arg] = Field(default_factory=list)
    selectors: list[Selector] = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    message: str = ""


class UProbeSpec(_Model):
    """A user-space function hook (``uprobes[]``).

    ``symbol`` is the single-symbol form of early releases; it is folded into
    ``symbols`` (and kept so the validator can flag it).
    """

    path: str
    symbols: list[str] = Field(default_factory=list)
    symbol: str | None = None
    offsets: list[NonNegative] = Field(default_factory=list)
    ref_ctr_offsets: list[NonNegative] = Field(default_factory=list, alias="refCtrOffsets")
    addrs: list[NonNegative] = Field(default_factory=list)
    return_: bool = Field(False, alias="return")
    args: list[Arg] = Field(default_factory=list)
    data: list[Arg] = Field(default_factory=list)
    return_arg: ReturnArg | None = Field(None, alias="returnArg")
    selectors: list[Selector] = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    message: str = ""
    btf_path: str = Field("", alias="btfPath")
    resolve_path_in_container: bool = Field(False, alias="resolvePathInContainer")

    @model_validator(mode="after")
    def _fold_symbol(self) -> UProbeSpec:
        if self.symbol and self.symbol not in self.symbols:
            self.symbols.insert(0, self.symbol)
        return self


class UsdtSpec(_Model):
    """A user statically-defined tracepoint (``usdts[]``)."""

    path: str
    provider: str
    name: str
    args: list[Arg] = Field(default_factory=list)
    selectors: list[Selector] = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    message: str = ""
    btf_path: str = Field("", alias="btfPath")


class LsmHookSpec(_Model):
    """A BPF LSM hook (``lsmhooks[]``); ``hook`` is the name without ``security_``."""

    hook: str
    args: list[Arg] = Field(default_factory=list)
    selectors: list[Selector] = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    message: str = ""


Hook = KProbeSpec | TracepointSpec | UProbeSpec | UsdtSpec | LsmHookSpec

# --------------------------------------------------------------------------
# Spec-level objects
# --------------------------------------------------------------------------


class ListSpec(_Model):
    """A named list referenced as ``list:NAME`` by ``call``, InMap values or enforcers."""

    name: str
    type: ListTypeField | None = None
    values: list[str] = Field(default_factory=list)
    pattern: str | None = None
    validated: bool = False


class OptionSpec(_Model):
    name: str
    value: OptionText = ""


class EnforcerSpec(_Model):
    """The enforcer program: attaches to ``calls`` and acts on NotifyEnforcer."""

    calls: list[str]


class KillerSpec(_Model):
    """``killers[]``: the name enforcers had in early releases (``syscalls`` was
    the name of ``calls``). Folded into the same semantics as EnforcerSpec."""

    calls: list[str] = Field(default_factory=list)
    syscalls: list[str] = Field(default_factory=list)

    @property
    def all_calls(self) -> list[str]:
        return [*self.calls, *(c for c in self.syscalls if c not in self.calls)]


class LabelSelectorRequirement(_Model):
    key: str
    operator: LabelOperatorField
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Model):
    """A Kubernetes label selector (podSelector, containerSelector, hostSelector)."""

    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, alias="matchExpressions"
    )

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


class TracingPolicySpec(_Model):
    kprobes: list[KProbeSpec] = Field(default_factory=list)
    fentries: list[KProbeSpec] = Field(default_factory=list)
    tracepoints: list[TracepointSpec] = Field(default_factory=list)
    # the draft spelling of raw tracepoints (Tetragon's own rawtp.yaml example still uses
    # it): folded into tracepoints with raw: true, and the validator warns
    rawtracepoints: list[TracepointSpec] = Field(default_factory=list)
    uprobes: list[UProbeSpec] = Field(default_factory=list)
    usdts: list[UsdtSpec] = Field(default_factory=list)
    lsmhooks: list[LsmHookSpec] = Field(default_factory=list)
    lists: list[ListSpec] = Field(default_factory=list)
    options: list[OptionSpec] = Field(default_factory=list)
    enforcers: list[EnforcerSpec] = Field(default_factory=list)
    killers: list[KillerSpec] = Field(default_factory=list)
    loader: bool = False
    pod_selector: LabelSelector | None = Field(None, alias="podSelector")
    container_selector: LabelSelector | None = Field(None, alias="containerSelector")
    host_selector: LabelSelector | None = Field(None, alias="hostSelector")
    selectors_macros: dict[str, Selector] = Field(default_factory=dict, alias="selectorsMacros")

    @model_validator(mode="after")
    def _fold_rawtracepoints(self) -> TracingPolicySpec:
        for tp in self.rawtracepoints:
            tp.raw = True
            self.tracepoints.append(tp)
        return self

    def hooks(self) -> Iterator[tuple[str, int, Hook]]:
        """Every hook as (YAML section, index in the section, hook)."""
        for section in HOOK_SECTIONS:
            for i, hook in enumerate(getattr(self, section)):
                yield section, i, hook

    def list_named(self, name: str) -> ListSpec | None:
        for lst in self.lists:
            if lst.name == name:
                return lst
        return None

    def option(self, name: str) -> str | None:
        for opt in self.options:
            if opt.name == name:
                return opt.value
        return None


# YAML sections holding hooks, in a stable order.
HOOK_SECTIONS: tuple[str, ...] = (
    "kprobes",
    "fentries",
    "tracepoints",
    "uprobes",
    "usdts",
    "lsmhooks",
)


def _check_api_version(value: Any) -> Any:
    if value != API_VERSION:
        raise PydanticCustomError(
            "api_version",
            "unsupported apiVersion {value} (expected {expected})",
            {"value": describe_value(value), "expected": API_VERSION},
        )
    return value


class ObjectMeta(_Model):
    """Kubernetes object metadata. Fields the API server adds (uid,
    resourceVersion...) are accepted so ``kubectl get -o yaml`` output loads."""

    name: str
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generate_name: str | None = Field(None, alias="generateName")
    uid: str | None = None
    resource_version: str | None = Field(None, alias="resourceVersion")
    generation: int | None = None
    creation_timestamp: Any = Field(None, alias="creationTimestamp")
    deletion_timestamp: Any = Field(None, alias="deletionTimestamp")
    deletion_grace_period_seconds: int | None = Field(None, alias="deletionGracePeriodSeconds")
    finalizers: list[str] = Field(default_factory=list)
    owner_references: list[dict[str, Any]] = Field(default_factory=list, alias="ownerReferences")
    managed_fields: list[dict[str, Any]] = Field(default_factory=list, alias="managedFields")
    self_link: str | None = Field(None, alias="selfLink")


@dataclass(frozen=True)
class SourceInfo:
    """Where a policy was read from: file name and document number (0-based)."""

    file: str
    document: int
    documents_in_file: int


class TracingPolicy(_Model):
    """A cluster-wide TracingPolicy (kind TracingPolicy)."""

    api_version: Annotated[str, BeforeValidator(_check_api_version)] = Field(alias="apiVersion")
    kind: Literal["TracingPolicy"] = "TracingPolicy"
    metadata: ObjectMeta
    spec: TracingPolicySpec

    _source: SourceInfo | None = PrivateAttr(default=None)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str | None:
        """Namespace the policy is bound to (None for cluster-wide policies)."""
        return None

    @property
    def source(self) -> SourceInfo | None:
        return self._source


class TracingPolicyNamespaced(TracingPolicy):
    """A TracingPolicyNamespaced: applies only to pods of metadata.namespace."""

    kind: Literal["TracingPolicyNamespaced"] = "TracingPolicyNamespaced"  # type: ignore[assignment]

    @property
    def namespace(self) -> str | None:
        return self.metadata.namespace


POLICY_CLASSES: dict[str, type[TracingPolicy]] = {
    "TracingPolicy": TracingPolicy,
    "TracingPolicyNamespaced": TracingPolicyNamespaced,
}


# --------------------------------------------------------------------------
# Semantics shared by the validator and the compiler
# --------------------------------------------------------------------------

_RATE_LIMIT = re.compile(r"^\s*(\d+)\s*([smh]?)\s*$")
_RATE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_rate_limit(text: str) -> int:
    """Parse a rateLimit ("30", "10s", "1m", "2h") into seconds.

    Raises ValueError with the reason for anything else.
    """
    m = _RATE_LIMIT.match(text)
    if not m:
        raise ValueError(
            f"invalid rateLimit '{text}': expected a number of seconds, optionally "
            "followed by s, m or h (e.g. 30, 10s, 5m, 2h)"
        )
    seconds = int(m.group(1)) * _RATE_UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"invalid rateLimit '{text}': the window must be longer than zero")
    return seconds


SelectorKind = Literal["matchArgs", "matchData", "matchReturnArgs"]


@dataclass(frozen=True)
class ArgResolution:
    """What an ArgSelector filters on.

    ``targets`` lists (position in the pool, argument) pairs where the pool is
    the hook's ``args`` (matchArgs), ``data`` (matchData) or the return value
    (matchReturnArgs, position 0). ``error`` explains why nothing matched;
    ``note`` flags an interpretation the reader may not expect.
    """

    targets: tuple[tuple[int, Arg], ...] = ()
    error: str | None = None
    note: str | None = None


def resolve_arg_selector(hook: Hook, sel: ArgSelector, kind: SelectorKind) -> ArgResolution:
    """Find the declared argument(s) an ArgSelector refers to.

    Upstream rules:
    - ``args: [i, ...]`` are positions in the hook's ``args`` (or ``data``)
      list and win over ``index``;
    - matchArgs ``index`` is a prototype position (a format field for
      tracepoints), matched against the ``index`` of the declared args; on
      tracepoints an index that no declared arg has is read as a position in
      ``args``, as the upstream documentation's raw_syscalls examples do;
    - matchData positions always refer to the ``data`` list;
    - matchReturnArgs refers to ``returnArg``;
    - without ``index`` and ``args``, index 0 is used.
    """
    if kind == "matchReturnArgs":
        ret = getattr(hook, "return_arg", None)
        if ret is None:
            return ArgResolution(error="matchReturnArgs needs a returnArg to compare")
        return ArgResolution(targets=((0, ret),))

    pool: list[Arg] = list(getattr(hook, "data", [])) if kind == "matchData" else list(hook.args)
    pool_name = "data" if kind == "matchData" else "args"
    note = None

    if sel.args:
        targets = []
        for pos in sel.args:
            if pos >= len(pool):
                return ArgResolution(
                    error=f"args refers to {pool_name}[{pos}] but only {len(pool)} "
                    f"{'is' if len(pool) == 1 else 'are'} declared"
                )
            targets.append((pos, pool[pos]))
        return ArgResolution(targets=tuple(targets))

    index = sel.index
    if index is None:
        index = 0
        note = "neither index nor args is given: index 0 is used"

    if kind == "matchData":
        if index < len(pool):
            return ArgResolution(targets=((index, pool[index]),), note=note)
        return ArgResolution(
            error=f"index {index} refers to data[{index}] but only {len(pool)} "
            f"data {'entry is' if len(pool) == 1 else 'entries are'} declared"
        )

    for pos, arg in enumerate(pool):
        if arg.index == index:
            return ArgResolution(targets=((pos, arg),), note=note)

    if isinstance(hook, TracepointSpec) and index < len(pool):
        return ArgResolution(
            targets=((index, pool[index]),),
            note=f"no arg is declared with index {index}; on a tracepoint it is read as the "
            f"position in args: args[{index}] (declared with index {pool[index].index})",
        )
    declared = ", ".join(str(a.index) for a in pool) or "none"
    return ArgResolution(
        error=f"no argument with index {index} is declared in args (declared indexes: {declared})"
    )


def hook_supports_return(hook: Hook) -> bool:
    """True for hook kinds that can read a return value (kprobes, fentries, uprobes)."""
    return isinstance(hook, KProbeSpec | UProbeSpec)


def hook_title(section: str, hook: Hook) -> str:
    """Short human name of a hook, e.g. ``kprobe sys_write``."""
    if isinstance(hook, KProbeSpec):
        return f"{section.rstrip('s') if section != 'fentries' else 'fentry'} {hook.call}"
    if isinstance(hook, TracepointSpec):
        return f"tracepoint {hook.subsystem}/{hook.event}"
    if isinstance(hook, UProbeSpec):
        return f"uprobe {hook.path}"
    if isinstance(hook, UsdtSpec):
        return f"usdt {hook.provider}:{hook.name}"
    return f"lsm hook {hook.hook}"
