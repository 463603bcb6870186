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
    "uint64": ("u64", "size_arg"),
    "size_t": ("u64", "size_arg"),
    "capability": ("s32", "capability_arg"),
    "syscall64": ("u64", "syscall64"),
    "bpf_cmd": ("s32", "bpf_cmd_arg"),
    "nop": ("u64", None),
}
SLOT_TYPES = {"string", "char_buf", "file", "path", "fd", "sock", "filename", "cred",
              "user_namespace", "module", "bpf_attr", "skb", "linux_binprm", "kiocb",
              "socket"}  # fmt: skip
# pointers into kernel memory: only on kernel functions (not on syscall arguments)
KERNEL_PTR_TYPES = {"file", "path", "sock", "cred", "user_namespace", "module", "bpf_attr",
                    "skb", "linux_binprm", "kiocb", "socket"}  # fmt: skip
# types whose selectors compare a path string
PATH_TYPES = {"string", "char_buf", "file", "path", "fd", "filename", "linux_binprm", "kiocb"}
SUPPORTED_TYPES = set(INT_ARG_ENCODING) | SLOT_TYPES
STRING_OPS = {"Equal", "NotEqual", "Prefix", "NotPrefix", "Postfix", "NotPostfix"}
INT_OPS = {"Equal", "NotEqual", "GT", "LT", "Mask"}
# set membership of an integer argument (values or `list:NAME`), see appliance.policy.inmap
MAP_OPS = {"InMap", "NotInMap"}
SOCK_OPS = {
    "SPort", "NotSPort", "SPortPriv", "NotSPortPriv", "DPort", "NotDPort", "DPortPriv",
    "NotDPortPriv", "SAddr", "NotSAddr", "DAddr", "NotDAddr", "Protocol", "Family", "State",
}  # fmt: skip
POSTFIX_MAX = 1022  # the string comparison limit (a slot less its last byte)

ACTION_NUM = {
    "Post": 1, "FollowFD": 2, "Sigkill": 3, "UnfollowFD": 4, "Override": 5, "CopyFD": 6,
    "GetUrl": 7, "DnsLookup": 8, "NoPost": 9, "Signal": 10, "TrackSock": 11,
    "UntrackSock": 12,
}  # fmt: skip
ACTION_ENUM = {
    1: "KPROBE_ACTION_POST", 2: "KPROBE_ACTION_FOLLOWFD", 3: "KPROBE_ACTION_SIGKILL",
    4: "KPROBE_ACTION_UNFOLLOWFD", 5: "KPROBE_ACTION_OVERRIDE", 6: "KPROBE_ACTION_COPYFD",
    7: "KPROBE_ACTION_GETURL", 8: "KPROBE_ACTION_DNSLOOKUP", 9: "KPROBE_ACTION_NOPOST",
    10: "KPROBE_ACTION_SIGNAL", 11: "KPROBE_ACTION_TRACKSOCK", 12: "KPROBE_ACTION_UNTRACKSOCK",
}  # fmt: skip
# actions with an effect in the kernel or in the agent; the rest need nothing more than
# the event (FollowFD & co: fd arguments are resolved through the fd table directly)
SUPPORTED_ACTIONS = set(ACTION_NUM)
