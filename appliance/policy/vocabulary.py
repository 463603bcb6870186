"""The argument types, selector operators and actions the policy engine knows, and how
each is encoded in the generated C: the tables the planner, the support checks
(``appliance.policy.support``), the emitter and the event decoder share.
"""

from __future__ import annotations

# integer argument types: (BPF C type, key of the event's argument); other than
# values.INT_ARG_ENCODING (the integer names a selector value may be checked against)
INT_ARG_ENCODING = {
    "int": ("s32", "int_arg"),
    "sint32": ("s32", "int_arg"),
    "int32": ("s32", "int_arg"),
    "sint8": ("s8", "int_arg"),
    "int8": ("s8", "int_arg"),
    "sint16": ("s16", "int_arg"),
    "int16": ("s16", "int_arg"),
    "uint8": ("u8", "uint_arg"),
    "uint16": ("u16", "uint_arg"),
    "uint32": ("u32", "uint_arg"),
    "long": ("s64", "long_arg"),
    "sint64": ("s64", "long_arg"),
    "int64": ("s64", "long_arg"),
    "ulong": ("u64", "size_arg"),
    "unsigned long": ("u64", "size_arg"),
    "uint64": ("u64", "size_arg"),
    "size_t": ("u64", "size_arg"),
    "capability": ("s32", "capability_arg"),
    "syscall64": ("u64", "syscall64"),
    "bpf_cmd": ("s32", "bpf_cmd_arg"),
    "nop": ("u64", None),
    # capability sets: a kernel_cap_t (by pointer) or a cred's set, read into the value
    "kernel_cap_t": ("u64", "kernel_cap_t_arg"),
    "cap_inheritable": ("u64", "cap_inheritable_arg"),
    "cap_permitted": ("u64", "cap_permitted_arg"),
    "cap_effective": ("u64", "cap_effective_arg"),
}
CAP_SET_TYPES = {"kernel_cap_t", "cap_inheritable", "cap_permitted", "cap_effective"}
SLOT_TYPES = {"string", "char_buf", "file", "path", "fd", "sock", "filename", "cred",
              "user_namespace", "module", "bpf_attr", "skb", "linux_binprm", "kiocb",
              "socket", "sockaddr", "dentry", "perf_event", "bpf_map", "iov_iter",
              "int32_arr", "net_device", "load_info", "dns"}  # fmt: skip
# pointers into kernel memory: only on kernel functions (not on syscall arguments)
KERNEL_PTR_TYPES = {"file", "path", "sock", "cred", "user_namespace", "module", "bpf_attr",
                    "skb", "linux_binprm", "kiocb", "socket", "sockaddr", "dentry",
                    "perf_event", "bpf_map", "iov_iter", "net_device",
                    "load_info", "dns"} | CAP_SET_TYPES  # fmt: skip
# types whose selectors compare a path string
PATH_TYPES = {"string", "char_buf", "file", "path", "fd", "filename", "linux_binprm", "kiocb",
              "dentry"}  # fmt: skip
SUPPORTED_TYPES = set(INT_ARG_ENCODING) | SLOT_TYPES
# return values read as the object they point to (a slot filled by the return probe)
RET_SLOT_TYPES = {"sock"}
# argument types whose buffer the return probe copies (returnCopy: the callee fills it)
RETURN_COPY_TYPES = {"char_buf", "int32_arr"}
IFNAME_MAX = 15  # a net_device name: IFNAMSIZ (16) with its NUL
DNS_NAME_MAX = 253  # a DNS name in dotted form (RFC 1035: 255 bytes on the wire)
INT32_ARR_MAX = 255  # values of an int32_arr (they fill one slot)
# `data` entries: each source's C expression (the pointer `resolve` starts from)
DATA_SOURCES = {"current_task": "((u64)bpf_get_current_task())"}
STRING_OPS = {"Equal", "NotEqual", "Prefix", "NotPrefix", "Postfix", "NotPostfix"}
INT_OPS = {"Equal", "NotEqual", "GT", "LT", "Mask"}
RANGE_OPS = {"InRange", "NotInRange"}  # integers, values min:max (inclusive)
FILE_TYPE_OPS = {"FileType", "NotFileType"}  # file and path arguments: the inode's type
# a substring of a captured string, by the kernel's string kfuncs (as Tetragon does)
SUBSTRING_KFUNCS = {"SubString": "bpf_strnstr", "SubStringIgnCase": "bpf_strncasestr"}
# set membership of an integer argument (values or `list:NAME`), see appliance.policy.inmap
MAP_OPS = {"InMap", "NotInMap"}
SOCK_OPS = {
    "SPort", "NotSPort", "SPortPriv", "NotSPortPriv", "DPort", "NotDPort", "DPortPriv",
    "NotDPortPriv", "SAddr", "NotSAddr", "DAddr", "NotDAddr", "Protocol", "Family", "State",
}  # fmt: skip
# one socket address (sockaddr): Tetragon matches it with the source operators
SOCKADDR_OPS = {"Family", "SAddr", "NotSAddr", "SPort", "NotSPort", "SPortPriv", "NotSPortPriv"}
# capability sets (CAP_SET_TYPES)
CAP_SET_OPS = {"Equal", "NotEqual", "Mask", "CapabilityMask"}
POSTFIX_MAX = 1022  # the string comparison limit (a slot less its last byte)

ACTION_NUM = {
    "Post": 1, "FollowFD": 2, "Sigkill": 3, "UnfollowFD": 4, "Override": 5, "CopyFD": 6,
    "GetUrl": 7, "DnsLookup": 8, "NoPost": 9, "Signal": 10, "TrackSock": 11,
    "UntrackSock": 12, "NotifyEnforcer": 13, "CleanupEnforcerNotification": 14, "Set": 15,
}  # fmt: skip
ACTION_ENUM = {
    1: "KPROBE_ACTION_POST", 2: "KPROBE_ACTION_FOLLOWFD", 3: "KPROBE_ACTION_SIGKILL",
    4: "KPROBE_ACTION_UNFOLLOWFD", 5: "KPROBE_ACTION_OVERRIDE", 6: "KPROBE_ACTION_COPYFD",
    7: "KPROBE_ACTION_GETURL", 8: "KPROBE_ACTION_DNSLOOKUP", 9: "KPROBE_ACTION_NOPOST",
    10: "KPROBE_ACTION_SIGNAL", 11: "KPROBE_ACTION_TRACKSOCK", 12: "KPROBE_ACTION_UNTRACKSOCK",
    13: "KPROBE_ACTION_NOTIFYENFORCER", 14: "KPROBE_ACTION_CLEANUPENFORCERNOTIFICATION",
    15: "KPROBE_ACTION_SET",
}  # fmt: skip
# actions with an effect in the kernel or in the agent; the rest need nothing more than
# the event (FollowFD & co: fd arguments are resolved through the fd table directly)
SUPPORTED_ACTIONS = set(ACTION_NUM) | {"Regs"}  # Regs: no action number of its own
