"""Semantic checks of a policy: rules that span fields (an index refers to a declared
argument, an operator suits the argument type, values parse for the operator, an
action has the fields it needs, ``list:NAME`` exists...).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from appliance.policy import values as V
from appliance.policy.constants import IMA_HASH_HOOKS, KNOWN_OPTIONS, MAX_SIGNAL
from appliance.policy.model import (
    DEPRECATED_ACTIONS,
    LIST_PREFIX,
    MAX_MESSAGE_LEN,
    ActionSelector,
    Arg,
    ArgSelector,
    Hook,
    KProbeSpec,
    LabelSelector,
    LsmHookSpec,
    Selector,
    TracepointSpec,
    TracingPolicy,
    TracingPolicyNamespaced,
    UProbeSpec,
    UsdtSpec,
    _Model,
    hook_supports_return,
    parse_rate_limit,
    resolve_arg_selector,
)
from appliance.policy.problems import PathT, Problem, Reporter
from appliance.policy.source import LineIndex

_RESOLVE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?)*$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SYSCALL_FUNC = re.compile(r"^(?:[a-z0-9_]+/)?(?:__[a-z0-9]+_)?sys_[A-Za-z0-9_]+$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}\.?$)([A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?)*\.?$"
)

BUFFER_TYPES = frozenset({"char_buf", "char_iovec", "int32_arr"})
# Highest prototype position a size argument can have (sizeArgIndex is 1-based).
MAX_SIZE_ARG_INDEX = 6
KNOWN_DATA_SOURCES = frozenset({"current_task"})

_ANY_VALUE_TYPES = V.INT_TYPES | V.STRING_TYPES | V.PATH_TYPES | V.CAP_TYPES | V.SYSCALL_TYPES
# Argument types each operator applies to.
OPERATOR_ARG_TYPES: dict[str, frozenset[str]] = {
    "Equal": _ANY_VALUE_TYPES,
    "NotEqual": _ANY_VALUE_TYPES,
    "InMap": _ANY_VALUE_TYPES,
    "NotInMap": _ANY_VALUE_TYPES,
    "Prefix": V.STRING_TYPES | V.PATH_TYPES,
    "NotPrefix": V.STRING_TYPES | V.PATH_TYPES,
    "Postfix": V.STRING_TYPES | V.PATH_TYPES,
    "NotPostfix": V.STRING_TYPES | V.PATH_TYPES,
    "SubString": V.STRING_TYPES | V.PATH_TYPES,
    "SubStringIgnCase": V.STRING_TYPES | V.PATH_TYPES,
    "GT": V.INT_TYPES,
    "LT": V.INT_TYPES,
    "InRange": V.INT_TYPES,
    "NotInRange": V.INT_TYPES,
    "Mask": V.INT_TYPES | V.CAP_TYPES,
    "CapabilityMask": V.CAP_TYPES,
    "SPort": V.NET_TYPES,
    "NotSPort": V.NET_TYPES,
    "SPortPriv": V.NET_TYPES,
    "NotSPortPriv": V.NET_TYPES,
    "DPort": V.NET_TYPES,
    "NotDPort": V.NET_TYPES,
    "DPortPriv": V.NET_TYPES,
    "NotDPortPriv": V.NET_TYPES,
    "SAddr": V.NET_TYPES,
    "NotSAddr": V.NET_TYPES,
    "DAddr": V.NET_TYPES,
    "NotDAddr": V.NET_TYPES,
    "Protocol": V.NET_TYPES,
    "Family": V.NET_TYPES,
    "State": frozenset({"sock", "socket"}),
    "CapabilitiesGained": V.CAP_TYPES | {"cred"},
    "FileType": frozenset({"file", "path"}),
    "NotFileType": frozenset({"file", "path"}),
}
_TYPE_GROUPS: list[tuple[str, frozenset[str]]] = [
    ("integer types", V.INT_TYPES),
    ("string types", V.STRING_TYPES),
    ("path types", V.PATH_TYPES),
    ("socket types", V.NET_TYPES),
    ("capability types", V.CAP_TYPES),
    ("syscall64", V.SYSCALL_TYPES),
]
# Operators that take no values.
VALUELESS_OPERATORS = frozenset(
    {"SPortPriv", "NotSPortPriv", "DPortPriv", "NotDPortPriv", "CapabilitiesGained"}
)
PORT_OPERATORS = frozenset({"SPort", "NotSPort", "DPort", "NotDPort"})
ADDR_OPERATORS = frozenset({"SAddr", "NotSAddr", "DAddr", "NotDAddr"})
STRING_OPERATORS = frozenset(
    {"Prefix", "NotPrefix", "Postfix", "NotPostfix", "SubString", "SubStringIgnCase"}
)

# Fields each action reads (YAML names); the others are ignored by it.
ACTION_FIELDS: dict[str, frozenset[str]] = {
    "Post": frozenset(
        {"rateLimit", "rateLimitScope", "kernelStackTrace", "userStackTrace", "imaHash"}
    ),
    "NoPost": frozenset(),
    "Sigkill": frozenset(),
    "Signal": frozenset({"argSig"}),
    "Override": frozenset({"argError", "argRegs"}),
    "FollowFD": frozenset({"argFd", "argName"}),
    "CopyFD": frozenset({"argFd", "argName"}),
    "UnfollowFD": frozenset({"argFd", "argName"}),
    "GetUrl": frozenset({"argUrl"}),
    "DnsLookup": frozenset({"argFqdn"}),
    "TrackSock": frozenset({"argSock"}),
    "UntrackSock": frozenset({"argSock"}),
    "NotifyEnforcer": frozenset({"argError", "argSig"}),
    "CleanupEnforcerNotification": frozenset(),
    "Set": frozenset({"argIndex", "argValue"}),
}
POST_ONLY_FIELDS = ACTION_FIELDS["Post"]
# Upstream enum spellings that the model folds into another canonical name;
# not worth a warning.
_UPSTREAM_SPELLINGS = frozenset({"GreaterThan", "LessThan", "NotSportPriv"})


def _type_groups(types_: frozenset[str]) -> str:
    parts = []
    rest = set(types_)
    for label, group in _TYPE_GROUPS:
        if group and group <= types_:
            parts.append(label)
            rest -= group
    parts.extend(sorted(rest))
    return ", ".join(parts)


def _walk_models(obj: Any, path: PathT) -> Iterator[tuple[PathT, _Model]]:
    if isinstance(obj, _Model):
        yield path, obj
        for name, info in type(obj).model_fields.items():
            yield from _walk_models(getattr(obj, name), path + (info.alias or name,))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _walk_models(item, path + (i,))
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from _walk_models(item, path + (str(key),))


class Checker:
    """Cross-field rules for one policy."""

    def __init__(self, policy: TracingPolicy, rep: Reporter):
        self.policy = policy
        self.spec = policy.spec
        self.rep = rep
        self.has_enforcer = bool(self.spec.enforcers or self.spec.killers)

    # Helpers ---------------------------------------------------------------
    def error(self, path: PathT, message: str) -> None:
        self.rep.error(path, message)

    def warn(self, path: PathT, message: str) -> None:
        self.rep.warn(path, message)

    def list_exists(self, path: PathT, name: str, what: str) -> bool:
        if self.spec.list_named(name) is not None:
            return True
        known = ", ".join(lst.name for lst in self.spec.lists)
        hint = f" (defined lists: {known})" if known else " (spec.lists is empty)"
        self.error(path, f"{what} refers to list '{name}' which is not defined in spec.lists{hint}")
        return False

    # Entry -------------------------------------------------------------------
    def run(self) -> None:
        self.check_metadata()
        self.check_lists()
        self.check_options()
        self.check_enforcers()
        self.check_label_selectors()
        hooks = list(self.spec.hooks())
        for section, i, hook in hooks:
            self.check_hook(("spec", section, i), section, hook)
        if not hooks:
            self.warn(("spec",), "the policy defines no hook (kprobes, tracepoints, uprobes...)")
        if self.spec.enforcers and not self._uses_action("NotifyEnforcer"):
            self.warn(
                ("spec", "enforcers"), "no selector uses NotifyEnforcer: the enforcer never acts"
            )
        self.check_spellings()

    def _uses_action(self, name: str) -> bool:
        for _, _, hook in self.spec.hooks():
            for sel in hook.selectors:
                for act in sel.match_actions + sel.match_return_actions:
                    if act.action == name:
                        return True
        return False

    # Metadata ----------------------------------------------------------------
    def check_metadata(self) -> None:
        name = self.policy.metadata.name
        path: PathT = ("metadata", "name")
        if not name.strip():
            self.error(path, "the policy name must not be empty")
        elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            self.warn(
                path,
                f"'{name}' is not a valid Kubernetes object name (lower-case letters, digits, "
                "'-' and '.'); it loads from a file but cannot be created as a resource",
            )
        if isinstance(self.policy, TracingPolicyNamespaced):
            if not self.policy.metadata.namespace:
                self.warn(
                    ("metadata",),
                    "TracingPolicyNamespaced without metadata.namespace: it applies to the "
                    "namespace it is created in",
                )
            if self.spec.host_selector is not None:
                self.error(
                    ("spec", "hostSelector"),
                    "TracingPolicyNamespaced cannot match host workloads so spec.hostSelector "
                    "should be null",
                )

    # Lists -------------------------------------------------------------------
    def check_lists(self) -> None:
        seen: dict[str, int] = {}
        for i, lst in enumerate(self.spec.lists):
            p: PathT = ("spec", "lists", i)
            if not lst.name.strip():
                self.error(p + ("name",), "the list name must not be empty")
            elif lst.name in seen:
                self.error(
                    p + ("name",),
                    f"list '{lst.name}' is already defined by lists[{seen[lst.name]}]",
                )
            else:
                seen[lst.name] = i
            if lst.type == "generated_ftrace":
                if not lst.pattern:
                    self.error(p, "a generated_ftrace list needs a pattern (a regular expression)")
                else:
                    try:
                        re.compile(lst.pattern)
                    except re.error as exc:
                        self.error(p + ("pattern",), f"invalid regular expression: {exc}")
            elif lst.pattern is not None:
                self.warn(p + ("pattern",), "pattern is only used by generated_ftrace lists")
            if lst.type in ("generated_syscalls", "generated_ftrace"):
                if lst.values:
                    self.warn(
                        p + ("values",),
                        f"values are ignored by a {lst.type} list (it is generated)",
                    )
                continue
            if not lst.values:
                self.error(p + ("values",), "the list has no values")
            for j, value in enumerate(lst.values):
                is_syscall = bool(_SYSCALL_FUNC.match(value))
                if lst.type == "syscalls" and not is_syscall:
                    self.error(
                        p + ("values", j),
                        f"'{value}' is not a syscall function name (sys_NAME, optionally "
                        "prefixed by an ABI such as i386/)",
                    )
                elif lst.type is None and is_syscall:
                    self.warn(
                        p + ("type",),
                        f"list '{lst.name}' holds syscall names: set type: syscalls so they are "
                        "resolved to the syscall functions of this architecture",
                    )
                    break

    # Options -----------------------------------------------------------------
    def check_options(self) -> None:
        seen: set[str] = set()
        for i, opt in enumerate(self.spec.options):
            p: PathT = ("spec", "options", i)
            if opt.name in seen:
                self.warn(
                    p + ("name",), f"option '{opt.name}' is set more than once; the last one wins"
                )
            seen.add(opt.name)
            if opt.name not in KNOWN_OPTIONS:
                self.warn(
                    p + ("name",),
                    f"unknown option '{opt.name}' (known options: {', '.join(KNOWN_OPTIONS)})",
                )
                continue
            accepted = KNOWN_OPTIONS[opt.name]
            if accepted is None:
                try:
                    V.parse_bool_option(opt.value)
                except ValueError as exc:
                    self.error(p + ("value",), f"option '{opt.name}': {exc}")
            elif opt.value not in accepted:
                self.error(
                    p + ("value",),
                    f"option '{opt.name}' accepts {', '.join(accepted)}, got '{opt.value}'",
                )

    # Enforcers ---------------------------------------------------------------
    def check_enforcers(self) -> None:
        entries: list[tuple[PathT, list[str]]] = []
        for i, enf in enumerate(self.spec.enforcers):
            entries.append((("spec", "enforcers", i), enf.calls))
        for i, killer in enumerate(self.spec.killers):
            p: PathT = ("spec", "killers", i)
            self.warn(p, "killers is the former name of enforcers (and syscalls of calls)")
            entries.append((p, killer.all_calls))
        if len(entries) > 1:
            self.error(entries[1][0], "only one enforcer can be defined per policy")
        for p, calls in entries:
            if not calls:
                self.error(p + ("calls",), "the enforcer has no calls to attach to")
            for j, call in enumerate(calls):
                if call.startswith(LIST_PREFIX):
                    self.list_exists(p + ("calls", j), call[len(LIST_PREFIX) :], "the call")

    # Label selectors ---------------------------------------------------------
    def check_label_selectors(self) -> None:
        for key in ("podSelector", "containerSelector", "hostSelector"):
            sel: LabelSelector | None = {
                "podSelector": self.spec.pod_selector,
                "containerSelector": self.spec.container_selector,
                "hostSelector": self.spec.host_selector,
            }[key]
            if sel is None:
                continue
            p: PathT = ("spec", key)
            if key == "hostSelector" and not sel.is_empty:
                self.error(p, "hostSelector can only be empty ({} selects every host)")
                continue
            for label, value in sel.match_labels.items():
                if key == "containerSelector" and label not in ("name", "repo"):
                    self.error(
                        p + ("matchLabels", label),
                        "containerSelector only supports the 'name' and 'repo' keys",
                    )
                if key == "containerSelector" and label == "repo":
                    continue  # an image repository, not a label value
                if len(value) > 63 or not _LABEL_VALUE.match(value):
                    self.error(
                        p + ("matchLabels", label),
                        f"'{value}' is not a valid label value (at most 63 letters, digits, "
                        "'-', '_' or '.', starting and ending with a letter or digit)",
                    )
            for j, req in enumerate(sel.match_expressions):
                q = p + ("matchExpressions", j)
                if key == "containerSelector" and req.key not in ("name", "repo"):
                    self.error(
                        q + ("key",), "containerSelector only supports the 'name' and 'repo' keys"
                    )
                if req.operator in ("In", "NotIn") and not req.values:
                    self.error(q + ("values",), f"operator {req.operator} needs at least one value")
                if req.operator in ("Exists", "DoesNotExist") and req.values:
                    self.error(q + ("values",), f"operator {req.operator} takes no values")

    # Hooks -------------------------------------------------------------------
    def check_hook(self, p: PathT, section: str, hook: Hook) -> None:
        if isinstance(hook, KProbeSpec):
            self.check_kprobe(p, hook)
        elif isinstance(hook, TracepointSpec):
            for key in ("subsystem", "event"):
                value = getattr(hook, key)
                if not value.strip() or "/" in value or any(c.isspace() for c in value):
                    self.error(p + (key,), f"'{value}' is not a tracepoint {key} name")
        elif isinstance(hook, UProbeSpec):
            self.check_uprobe(p, hook)
        elif isinstance(hook, UsdtSpec):
            for key in ("path", "provider", "name"):
                if not getattr(hook, key).strip():
                    self.error(p + (key,), f"the usdt {key} must not be empty")
        elif isinstance(hook, LsmHookSpec):
            if not hook.hook.strip():
                self.error(p + ("hook",), "the LSM hook name must not be empty")

        if len(hook.message) > MAX_MESSAGE_LEN:
            self.error(
                p + ("message",),
                f"the message is {len(hook.message)} characters long (at most {MAX_MESSAGE_LEN})",
            )
        self.check_args(p, hook, "args", hook.args)
        data = getattr(hook, "data", [])
        self.check_args(p, hook, "data", data)
        for k, sel in enumerate(hook.selectors):
            self.check_selector(p + ("selectors", k), section, hook, sel)

    def check_kprobe(self, p: PathT, hook: KProbeSpec) -> None:
        if not hook.call.strip():
            self.error(p + ("call",), "the function name must not be empty")
        elif hook.list_name is not None:
            self.list_exists(p + ("call",), hook.list_name, "call")
        self.check_return(p, hook)

    def check_uprobe(self, p: PathT, hook: UProbeSpec) -> None:
        if not hook.path.strip():
            self.error(p + ("path",), "the binary path must not be empty")
        if hook.symbol is not None:
            self.warn(
                p + ("symbol",), "symbol is the former single-symbol form; use symbols: [...]"
            )
        if not (hook.symbols or hook.offsets or hook.addrs):
            self.error(p, "a uprobe needs at least one of symbols, offsets or addrs")
        if hook.ref_ctr_offsets and len(hook.ref_ctr_offsets) != len(hook.offsets):
            self.error(
                p + ("refCtrOffsets",),
                f"refCtrOffsets has {len(hook.ref_ctr_offsets)} entries but offsets has "
                f"{len(hook.offsets)}: each offset needs its reference counter offset",
            )
        if hook.resolve_path_in_container and self.spec.pod_selector is None:
            self.error(
                p + ("resolvePathInContainer",), "resolvePathInContainer requires spec.podSelector"
            )
        self.check_return(p, hook)

    def check_return(self, p: PathT, hook: KProbeSpec | UProbeSpec) -> None:
        action = getattr(hook, "return_arg_action", None)
        if action is not None:
            if not hook.return_:
                self.error(p + ("returnArgAction",), "returnArgAction needs return: true")
            elif action in ("TrackSock", "UntrackSock") and (
                hook.return_arg is None or hook.return_arg.type not in ("sock", "auto")
            ):
                got = "no returnArg" if hook.return_arg is None else f"type {hook.return_arg.type}"
                self.error(
                    p + ("returnArgAction",),
                    f"{action} needs a returnArg of type sock, got {got}",
                )
        if hook.return_arg is not None and not hook.return_:
            self.warn(p + ("returnArg",), "returnArg is ignored without return: true")

    # Arguments ---------------------------------------------------------------
    def check_args(self, p: PathT, hook: Hook, key: str, args: list[Arg]) -> None:
        declared = {a.index: a for a in hook.args}
        seen: set[int] = set()
        for j, arg in enumerate(args):
            q = p + (key, j)
            if key == "args":
                if arg.index in seen:
                    self.warn(
                        q + ("index",),
                        f"index {arg.index} is declared twice; selectors use the first",
                    )
                seen.add(arg.index)
            else:
                if not arg.source:
                    self.error(q + ("source",), "a data entry needs a source (e.g. current_task)")
                elif arg.source not in KNOWN_DATA_SOURCES:
                    self.warn(
                        q + ("source",), f"unknown data source '{arg.source}' (known: current_task)"
                    )
            if arg.size_arg_index:
                self.check_size_arg(q, hook, arg, declared)
            if arg.return_copy:
                if arg.type not in BUFFER_TYPES:
                    self.warn(
                        q + ("returnCopy",),
                        f"returnCopy is only used by char_buf and char_iovec, not {arg.type}",
                    )
                elif not isinstance(hook, KProbeSpec | UProbeSpec):
                    self.warn(
                        q + ("returnCopy",), "returnCopy needs a return probe; it is ignored here"
                    )
            if arg.max_data:
                if arg.type not in BUFFER_TYPES | {"iov_iter"}:
                    self.warn(
                        q + ("maxData",),
                        f"maxData is only used by buffer arguments, not {arg.type}",
                    )
                elif arg.return_copy:
                    self.warn(q + ("maxData",), "maxData does not work together with returnCopy")
            if arg.resolve and not _RESOLVE.match(arg.resolve):
                self.error(
                    q + ("resolve",),
                    f"'{arg.resolve}' is not a field path (names separated by dots, e.g. "
                    "mm.owner.real_parent.comm)",
                )

    def check_size_arg(self, q: PathT, hook: Hook, arg: Arg, declared: dict[int, Arg]) -> None:
        n = arg.size_arg_index
        if arg.type not in BUFFER_TYPES:
            self.error(
                q + ("sizeArgIndex",),
                f"sizeArgIndex is only used by char_buf and char_iovec, not {arg.type}",
            )
            return
        if n > MAX_SIZE_ARG_INDEX:
            self.error(
                q + ("sizeArgIndex",),
                f"sizeArgIndex {n} is out of range (1..{MAX_SIZE_ARG_INDEX}; it is 1-based: "
                "3 designates the argument at index 2)",
            )
            return
        if isinstance(hook, TracepointSpec) and not hook.raw:
            return
        pos = n - 1
        if pos == arg.index:
            hint = ""
            nxt = declared.get(arg.index + 1)
            if nxt is not None and nxt.type in V.INT_TYPES:
                hint = f"; the size at index {arg.index + 1} is sizeArgIndex {arg.index + 2}"
            self.warn(
                q + ("sizeArgIndex",),
                f"sizeArgIndex is 1-based: {n} designates the argument at index {pos}, which is "
                f"this buffer itself{hint}",
            )
            return
        other = declared.get(pos)
        if other is not None and other.type not in V.INT_TYPES | {"auto"}:
            self.warn(
                q + ("sizeArgIndex",),
                f"sizeArgIndex {n} designates the argument at index {pos}, declared as "
                f"{other.type} rather than an integer",
            )

    # Selectors ---------------------------------------------------------------
    def check_selector(self, p: PathT, section: str, hook: Hook, sel: Selector) -> None:
        for key, kind, filters in (
            ("matchArgs", "matchArgs", sel.match_args),
            ("matchData", "matchData", sel.match_data),
            ("matchReturnArgs", "matchReturnArgs", sel.match_return_args),
        ):
            if not filters:
                continue
            if kind == "matchData" and not getattr(hook, "data", None):
                self.error(p + (key,), "matchData needs data entries in the hook")
                continue
            if kind == "matchReturnArgs":
                if not hook_supports_return(hook):
                    self.error(
                        p + (key,),
                        "matchReturnArgs is only available on kprobes, fentries and uprobes",
                    )
                    continue
                if not hook.return_:  # type: ignore[union-attr]
                    self.error(p + (key,), "matchReturnArgs needs return: true")
                    continue
            for j, flt in enumerate(filters):
                self.check_arg_filter(p + (key, j), hook, flt, kind)  # type: ignore[arg-type]

        for key, flts in (("matchPIDs", sel.match_pids),):
            for j, pid in enumerate(flts):
                if not pid.values:
                    self.error(p + (key, j, "values"), "matchPIDs needs at least one PID")
        for key, bins in (
            ("matchBinaries", sel.match_binaries),
            ("matchParentBinaries", sel.match_parent_binaries),
        ):
            for j, b in enumerate(bins):
                q = p + (key, j)
                if not b.values:
                    self.error(q + ("values",), f"{key} needs at least one value")
                if b.follow_children and b.operator not in ("In", "NotIn"):
                    self.error(
                        q + ("followChildren",),
                        f"followChildren only works with In and NotIn, not {b.operator}",
                    )
                if b.operator in ("In", "NotIn"):
                    for n, value in enumerate(b.values):
                        if not value.startswith("/"):
                            self.warn(
                                q + ("values", n),
                                f"'{value}' is not an absolute path: {b.operator} compares "
                                "the full path of the executable",
                            )
        for j, ns in enumerate(sel.match_namespaces):
            q = p + ("matchNamespaces", j)
            if not ns.values:
                self.error(q + ("values",), "matchNamespaces needs at least one value")
            for n, value in enumerate(ns.values):
                try:
                    V.parse_namespace_value(value)
                except ValueError as exc:
                    self.error(q + ("values", n), str(exc))
        for j, nsc in enumerate(sel.match_namespace_changes):
            if not nsc.values:
                self.error(
                    p + ("matchNamespaceChanges", j, "values"),
                    "matchNamespaceChanges needs at least one namespace",
                )
        for key, caps in (
            ("matchCapabilities", sel.match_capabilities),
            ("matchCapabilityChanges", sel.match_capability_changes),
        ):
            for j, cap in enumerate(caps):
                if not cap.values:
                    self.error(p + (key, j, "values"), f"{key} needs at least one capability")

        if sel.match_return_actions:
            if not hook_supports_return(hook):
                self.error(
                    p + ("matchReturnActions",),
                    "matchReturnActions is only available on kprobes, fentries and uprobes",
                )
            elif not hook.return_:  # type: ignore[union-attr]
                self.error(p + ("matchReturnActions",), "matchReturnActions needs return: true")
        for key, actions in (
            ("matchActions", sel.match_actions),
            ("matchReturnActions", sel.match_return_actions),
        ):
            names = {a.action for a in actions}
            if {"Post", "NoPost"} <= names:
                self.warn(p + (key,), "both Post and NoPost are given; NoPost suppresses the event")
            for j, act in enumerate(actions):
                self.check_action(p + (key, j), section, hook, act)

    def check_arg_filter(self, p: PathT, hook: Hook, flt: ArgSelector, kind: str) -> None:
        if flt.index is not None and flt.args:
            self.error(p, "give either index or args, not both")
            return
        if len(flt.args) > 1 and flt.operator != "CapabilitiesGained":
            self.error(
                p + ("args",),
                f"only CapabilitiesGained compares several arguments; {flt.operator} takes one",
            )
            return
        res = resolve_arg_selector(hook, flt, kind)  # type: ignore[arg-type]
        if res.error:
            self.error(p + ("args" if flt.args else "index",), res.error)
            return
        if res.note:
            self.warn(p + ("index",), res.note)
        for _, arg in res.targets:
            self.check_operator_values(p, flt, arg)

    def check_operator_values(self, p: PathT, flt: ArgSelector, arg: Arg) -> None:
        op = flt.operator
        t = arg.type
        if t != "auto":
            if t in V.OPAQUE_TYPES:
                self.error(
                    p + ("operator",),
                    f"arguments of type {t} cannot be filtered (they are only reported)",
                )
                return
            allowed = OPERATOR_ARG_TYPES[op]
            if t not in allowed:
                self.error(
                    p + ("operator",),
                    f"operator {op} does not apply to an argument of type {t} "
                    f"(it applies to {_type_groups(allowed)})",
                )
                return
        if op in VALUELESS_OPERATORS:
            if flt.values and op != "CapabilitiesGained":
                self.warn(p + ("values",), f"values are ignored by {op}")
        elif not flt.values:
            self.error(p + ("values",), f"operator {op} needs at least one value")
        for n, value in enumerate(flt.values):
            try:
                self.check_value(p + ("values", n), op, t, value)
            except ValueError as exc:
                self.error(p + ("values", n), str(exc))

    def check_value(self, q: PathT, op: str, t: str, value: str) -> None:
        if op in ("InMap", "NotInMap") and value.startswith(LIST_PREFIX):
            name = value[len(LIST_PREFIX) :]
            if self.list_exists(q, name, "the value"):
                lst = self.spec.list_named(name)
                if (
                    lst is not None
                    and lst.type in ("syscalls", "generated_syscalls")
                    and t != "syscall64"
                ):
                    self.warn(
                        q,
                        f"list '{name}' holds syscalls: the argument should be of type syscall64 "
                        f"(got {t}) so ids of every ABI compare correctly",
                    )
            return
        if op in ("Equal", "NotEqual", "InMap", "NotInMap", "Mask", "CapabilityMask", "GT", "LT"):
            if t in V.INT_TYPES:
                V.parse_int_for_type(value, t)
            elif t in V.CAP_TYPES:
                V.parse_capability(value)
            elif t in V.SYSCALL_TYPES:
                V.parse_syscall(value)
            elif t == "auto" and op in ("Mask", "GT", "LT"):
                V.parse_int(value)
            elif t in V.PATH_TYPES and op in ("Equal", "NotEqual") and not value.startswith("/"):
                self.warn(q, f"'{value}' is not an absolute path: {op} compares the full path")
        elif op in ("InRange", "NotInRange"):
            V.parse_int_range(value, t)
        elif op in PORT_OPERATORS:
            V.parse_port(value)
        elif op in ADDR_OPERATORS:
            V.parse_address(value)
        elif op == "Protocol":
            V.parse_protocol(value)
        elif op == "Family":
            V.parse_family(value)
        elif op == "State":
            V.parse_tcp_state(value)
        elif op in ("FileType", "NotFileType"):
            V.parse_file_type(value)
        elif op == "CapabilitiesGained":
            V.parse_capability(value)
        elif op in STRING_OPERATORS:
            if value == "":
                self.warn(q, f"an empty value makes {op} match every argument")
            elif op == "Prefix" and t in V.PATH_TYPES and not value.startswith("/"):
                self.warn(
                    q,
                    f"'{value}' is not an absolute path: Prefix compares from the start "
                    "of the full path",
                )

    # Actions -----------------------------------------------------------------
    def check_action(self, p: PathT, section: str, hook: Hook, act: ActionSelector) -> None:
        name = act.action
        given = {
            info.alias or fname
            for fname, info in ActionSelector.model_fields.items()
            if fname != "action"
            and fname in act.model_fields_set
            and getattr(act, fname) not in (False, None, [])
        }
        uses = ACTION_FIELDS[name]
        for key in sorted(given - uses):
            if key in POST_ONLY_FIELDS:
                self.error(p + (key,), f"{key} is only valid with the Post action, not {name}")
            else:
                self.warn(p + (key,), f"{key} is ignored by the {name} action")

        if name in DEPRECATED_ACTIONS:
            self.warn(
                p + ("action",), f"{name} is deprecated upstream (unsafe; planned for removal)"
            )

        if name == "Post":
            if act.rate_limit is not None:
                try:
                    parse_rate_limit(act.rate_limit)
                except ValueError as exc:
                    self.error(p + ("rateLimit",), str(exc))
            if act.rate_limit_scope is not None and act.rate_limit is None:
                self.error(p + ("rateLimitScope",), "rateLimitScope needs a rateLimit")
            if act.ima_hash:
                if not isinstance(hook, LsmHookSpec):
                    self.warn(p + ("imaHash",), "imaHash only works on LSM hooks (spec.lsmhooks)")
                elif hook.hook not in IMA_HASH_HOOKS:
                    self.warn(
                        p + ("imaHash",),
                        f"imaHash is not available on LSM hook {hook.hook} "
                        f"(available on: {', '.join(sorted(IMA_HASH_HOOKS))})",
                    )
        elif name == "Override":
            if isinstance(hook, TracepointSpec | UsdtSpec):
                kind = "a tracepoint" if isinstance(hook, TracepointSpec) else "a usdt probe"
                self.error(p + ("action",), f"Override cannot change the result of {kind}")
            elif act.arg_error is None and not act.arg_regs:
                self.error(
                    p,
                    "Override needs argError (the value returned instead of calling the function)",
                )
            if act.arg_regs:
                if not isinstance(hook, UProbeSpec):
                    self.error(p + ("argRegs",), "argRegs is only available on uprobes")
                for n, reg in enumerate(act.arg_regs):
                    if "=" not in reg or not reg.split("=", 1)[0].strip():
                        self.error(
                            p + ("argRegs", n),
                            f"'{reg}' is not an assignment (register=expression, e.g. rax=11)",
                        )
        elif name == "Signal":
            if act.arg_sig is None:
                self.error(p, "Signal needs argSig (the signal number, e.g. 9)")
            elif not 1 <= act.arg_sig <= MAX_SIGNAL:
                self.error(
                    p + ("argSig",),
                    f"argSig {act.arg_sig} is not a signal number (1..{MAX_SIGNAL})",
                )
        elif name in ("FollowFD", "CopyFD", "UnfollowFD"):
            self.check_action_arg(p, hook, "argFd", act.arg_fd_or_default)
            if name != "UnfollowFD":
                self.check_action_arg(p, hook, "argName", act.arg_name_or_default)
        elif name == "GetUrl":
            if not act.arg_url:
                self.error(p, "GetUrl needs argUrl (the URL to request)")
            else:
                url = urllib.parse.urlparse(act.arg_url)
                if url.scheme not in ("http", "https") or not url.netloc:
                    self.error(
                        p + ("argUrl",), f"'{act.arg_url}' is not an http:// or https:// URL"
                    )
        elif name == "DnsLookup":
            if not act.arg_fqdn:
                self.error(p, "DnsLookup needs argFqdn (the name to resolve)")
            elif not _HOSTNAME.match(act.arg_fqdn):
                self.error(p + ("argFqdn",), f"'{act.arg_fqdn}' is not a domain name")
        elif name in ("TrackSock", "UntrackSock"):
            arg = self.check_action_arg(p, hook, "argSock", act.arg_sock_or_default)
            if arg is not None and arg.type not in ("sock", "auto"):
                self.error(
                    p + ("argSock",),
                    f"{name} needs a sock argument, argSock designates a {arg.type}",
                )
        elif name in ("NotifyEnforcer", "CleanupEnforcerNotification"):
            if not self.has_enforcer:
                self.error(p + ("action",), f"{name} needs an enforcer (spec.enforcers)")
            if name == "NotifyEnforcer":
                if act.arg_error is None and act.arg_sig is None:
                    self.warn(
                        p, "NotifyEnforcer without argError or argSig makes the enforcer do nothing"
                    )
                if act.arg_sig is not None and not 1 <= act.arg_sig <= MAX_SIGNAL:
                    self.error(
                        p + ("argSig",),
                        f"argSig {act.arg_sig} is not a signal number (1..{MAX_SIGNAL})",
                    )
        elif name == "Set":
            if not isinstance(hook, UsdtSpec):
                self.error(p + ("action",), "Set is only available on usdt probes")
            if act.arg_index is None:
                self.error(p, "Set needs argIndex (the argument to write)")
            elif act.arg_index >= len(hook.args):
                self.error(
                    p + ("argIndex",),
                    f"argIndex {act.arg_index} refers to args[{act.arg_index}] but only "
                    f"{len(hook.args)} are declared",
                )
            if act.arg_value is None:
                self.error(p, "Set needs argValue (the value to write)")

    def check_action_arg(self, p: PathT, hook: Hook, key: str, index: int) -> Arg | None:
        for arg in hook.args:
            if arg.index == index:
                return arg
        declared = ", ".join(str(a.index) for a in hook.args) or "none"
        self.error(
            p + (key,),
            f"{key} {index} refers to no declared argument (declared indexes: {declared})",
        )
        return None

    # Spellings ---------------------------------------------------------------
    def check_spellings(self) -> None:
        for path, obj in _walk_models(self.policy, ()):
            for key, original in obj.respelled().items():
                canonical = getattr(obj, _attr_for(type(obj), key))
                if original in _UPSTREAM_SPELLINGS:
                    continue
                if original == "NotifyKiller":
                    self.warn(path + (key,), "NotifyKiller is the former name of NotifyEnforcer")
                else:
                    self.warn(
                        path + (key,),
                        f"'{original}' is spelled '{canonical}' in the upstream schema",
                    )


def _attr_for(model: type[BaseModel], key: str) -> str:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return key


def check_policy(
    policy: TracingPolicy, file: str, lines: LineIndex | None, document: int | None
) -> list[Problem]:
    rep = Reporter(file, lines, document)
    Checker(policy, rep).run()
    return rep.problems
