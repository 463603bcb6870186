"""Name tables shared by the policy validator and the compiler.

Every table maps the symbolic spelling a policy may use to the number the
kernel uses, so the validator can reject unknown names and the compiler can
emit the numeric constant without a second table.
"""

from __future__ import annotations

# Linux capabilities (include/uapi/linux/capability.h).
CAPABILITIES: dict[str, int] = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}

# Namespace kinds accepted by matchNamespaces / matchNamespaceChanges, with the
# slot number the selector encoding uses.
NAMESPACES: dict[str, int] = {
    "Uts": 0,
    "Ipc": 1,
    "Mnt": 2,
    "Pid": 3,
    "PidForChildren": 4,
    "Net": 5,
    "Time": 6,
    "TimeForChildren": 7,
    "Cgroup": 8,
    "User": 9,
}

# Special value of matchNamespaces: the namespace of PID 1 on the host.
HOST_NS = "host_ns"

# Address families (include/linux/socket.h).
ADDRESS_FAMILIES: dict[str, int] = {
    "AF_UNSPEC": 0,
    "AF_UNIX": 1,
    "AF_LOCAL": 1,
    "AF_INET": 2,
    "AF_AX25": 3,
    "AF_IPX": 4,
    "AF_APPLETALK": 5,
    "AF_NETROM": 6,
    "AF_BRIDGE": 7,
    "AF_ATMPVC": 8,
    "AF_X25": 9,
    "AF_INET6": 10,
    "AF_ROSE": 11,
    "AF_DECNET": 12,
    "AF_NETBEUI": 13,
    "AF_SECURITY": 14,
    "AF_KEY": 15,
    "AF_NETLINK": 16,
    "AF_ROUTE": 16,
    "AF_PACKET": 17,
    "AF_ASH": 18,
    "AF_ECONET": 19,
    "AF_ATMSVC": 20,
    "AF_RDS": 21,
    "AF_SNA": 22,
    "AF_IRDA": 23,
    "AF_PPPOX": 24,
    "AF_WANPIPE": 25,
    "AF_LLC": 26,
    "AF_IB": 27,
    "AF_MPLS": 28,
    "AF_CAN": 29,
    "AF_TIPC": 30,
    "AF_BLUETOOTH": 31,
    "AF_IUCV": 32,
    "AF_RXRPC": 33,
    "AF_ISDN": 34,
    "AF_PHONET": 35,
    "AF_IEEE802154": 36,
    "AF_CAIF": 37,
    "AF_ALG": 38,
    "AF_NFC": 39,
    "AF_VSOCK": 40,
    "AF_KCM": 41,
    "AF_QIPCRTR": 42,
    "AF_SMC": 43,
    "AF_XDP": 44,
    "AF_MCTP": 45,
}

# IP protocols (include/uapi/linux/in.h), as used by the Protocol operator.
IP_PROTOCOLS: dict[str, int] = {
    "IPPROTO_IP": 0,
    "IPPROTO_ICMP": 1,
    "IPPROTO_IGMP": 2,
    "IPPROTO_IPIP": 4,
    "IPPROTO_TCP": 6,
    "IPPROTO_EGP": 8,
    "IPPROTO_PUP": 12,
    "IPPROTO_UDP": 17,
    "IPPROTO_IDP": 22,
    "IPPROTO_TP": 29,
    "IPPROTO_DCCP": 33,
    "IPPROTO_IPV6": 41,
    "IPPROTO_RSVP": 46,
    "IPPROTO_GRE": 47,
    "IPPROTO_ESP": 50,
    "IPPROTO_AH": 51,
    "IPPROTO_ICMPV6": 58,
    "IPPROTO_MTP": 92,
    "IPPROTO_BEETPH": 94,
    "IPPROTO_ENCAP": 98,
    "IPPROTO_PIM": 103,
    "IPPROTO_COMP": 108,
    "IPPROTO_L2TP": 115,
    "IPPROTO_SCTP": 132,
    "IPPROTO_UDPLITE": 136,
    "IPPROTO_MPLS": 137,
    "IPPROTO_ETHERNET": 143,
    "IPPROTO_RAW": 255,
}

# TCP states (include/net/tcp_states.h), as used by the State operator.
# a module's taint flags (1 << TAINT_*) Tetragon names, in its order (TaintedBitsType)
TAINT_BITS: dict[int, str] = {
    1 << 0: "TAINT_PROPRIETARY_MODULE",
    1 << 1: "TAINT_FORCED_MODULE",
    1 << 2: "TAINT_FORCED_UNLOAD_MODULE",
    1 << 10: "TAINT_STAGED_MODULE",
    1 << 12: "TAINT_OUT_OF_TREE_MODULE",
    1 << 13: "TAINT_UNSIGNED_MODULE",
    1 << 15: "TAINT_KERNEL_LIVE_PATCH_MODULE",
    1 << 18: "TAINT_TEST_MODULE",
}
TCP_STATES: dict[str, int] = {
    "TCP_ESTABLISHED": 1,
    "TCP_SYN_SENT": 2,
    "TCP_SYN_RECV": 3,
    "TCP_FIN_WAIT1": 4,
    "TCP_FIN_WAIT2": 5,
    "TCP_TIME_WAIT": 6,
    "TCP_CLOSE": 7,
    "TCP_CLOSE_WAIT": 8,
    "TCP_LAST_ACK": 9,
    "TCP_LISTEN": 10,
    "TCP_CLOSING": 11,
    "TCP_NEW_SYN_RECV": 12,
    "TCP_BOUND_INACTIVE": 13,
}

# File types for the FileType / NotFileType operators: name -> S_IFMT bits.
FILE_TYPES: dict[str, int] = {
    "sock": 0o140000,
    "socket": 0o140000,
    "lnk": 0o120000,
    "link": 0o120000,
    "reg": 0o100000,
    "regular": 0o100000,
    "blk": 0o060000,
    "block": 0o060000,
    "dir": 0o040000,
    "chr": 0o020000,
    "char": 0o020000,
    "fifo": 0o010000,
    "pipe": 0o010000,
}

# Highest signal number accepted by the Signal action (SIGRTMAX on Linux).
MAX_SIGNAL = 64

# Options a policy may pass in spec.options, with the values each accepts
# (None: any boolean spelling).
KNOWN_OPTIONS: dict[str, tuple[str, ...] | None] = {
    "disable-kprobe-multi": None,
    "disable-uprobe-multi": None,
    "policy-mode": ("enforce", "monitor"),
}

BOOLEAN_SPELLINGS: dict[str, bool] = {
    "1": True,
    "t": True,
    "true": True,
    "yes": True,
    "on": True,
    "enabled": True,
    "0": False,
    "f": False,
    "false": False,
    "no": False,
    "off": False,
    "disabled": False,
}

# LSM hooks whose events can carry an IMA file hash (Post imaHash: true).
IMA_HASH_HOOKS: frozenset[str] = frozenset(
    {
        "bprm_check_security",
        "bprm_committed_creds",
        "bprm_committing_creds",
        "bprm_creds_from_file",
        "file_ioctl",
        "file_lock",
        "file_open",
        "file_post_open",
        "file_receive",
        "mmap_file",
    }
)
