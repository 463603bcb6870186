"""Kernel functions observed from hooks the kernel has, when the function has none.

On kernels without kprobes and BPF trampolines a kprobe policy on, say,
``security_file_permission`` cannot attach. Its documented equivalent attaches to the
syscall tracepoints through which the same operations arrive, and fills the event's
arguments the way the original function would (a ``file`` argument is the fd's struct
file, resolved in BPF). What the equivalent cannot see is written in ``differs`` and
shown by ``tetra tracingpolicy list``.
"""

from __future__ import annotations

from dataclasses import dataclass

# a sys_enter_* tracepoint's arguments start 16 bytes into its context
SYSCALL_ARG = "(((u64 *)((char *)ctx + 16))[{n}])"
MAY_WRITE, MAY_READ = 2, 4


@dataclass(frozen=True)
class EquivalentArg:
    """How one argument of the original function is computed on the equivalent hook."""

    types: frozenset[str]  # argument types the policy may declare for it
    fetch: str  # C expression of the argument's raw value
    read: str = ""  # C statement filling its slot ({slot}, {pos}), instead of the type's own
    gate: str = ""  # C condition ({pos}) without which the original would not have run
    from_fd: bool = False  # the raw value is an fd whose file the slot describes


@dataclass(frozen=True)
class EquivalentHook:
    syscall: str  # sys_enter_<syscall>
    args: dict[int, EquivalentArg]  # argument index of the original -> its computation


@dataclass(frozen=True)
class Equivalent:
    function: str
    hooks: tuple[EquivalentHook, ...]
    differs: str

    def describe(self) -> str:
        """One line for the policy listing: where it attaches and what differs."""
        tps = ",".join(h.syscall for h in self.hooks)
        return f"equivalent on syscalls/sys_enter_{{{tps}}} ({self.differs})"


INT_TYPES = frozenset({"int", "uint32", "sint32", "int32", "uint64", "int64", "size_t"})
# the slot is the file (or its f_path) of the fd held in m->ints[{pos}]
FILE_OF_FD = "file_arg(m, {slot}, {pos}, fd_file(m->ints[{pos}]));"


def _file_of_fd(n: int, types: frozenset[str] = frozenset({"file"})) -> EquivalentArg:
    """An argument the original receives as a struct file (or path) and the syscall as an
    fd: the fd is kept as the raw value and resolved only once a selector may match."""
    return EquivalentArg(types, SYSCALL_ARG.format(n=n), FILE_OF_FD, from_fd=True)


def _file_perm_hook(syscall: str, mask: int) -> EquivalentHook:
    return EquivalentHook(syscall, {0: _file_of_fd(0), 1: EquivalentArg(INT_TYPES, f"{mask}")})


# security_mmap_file(file, prot, flags) from mmap(addr, len, prot, flags, fd, off); an
# anonymous mapping has no file (the original gets NULL too)
_MMAP = EquivalentHook(
    "mmap",
    {
        0: _file_of_fd(4),
        1: EquivalentArg(INT_TYPES, SYSCALL_ARG.format(n=2)),
        2: EquivalentArg(INT_TYPES, SYSCALL_ARG.format(n=3)),
    },
)
# security_path_truncate(path): the fd's f_path for ftruncate, the name for truncate
_FTRUNCATE = EquivalentHook("ftruncate", {0: _file_of_fd(0, frozenset({"path"}))})
_TRUNCATE = EquivalentHook(
    "truncate",
    {
        0: EquivalentArg(
            frozenset({"path"}),
            SYSCALL_ARG.format(n=0),
            "user_path_arg(m, {slot}, {pos}, (const char *)m->ints[{pos}]);",
        )
    },
)


_CONNECT = EquivalentHook(
    "connect",
    {
        0: EquivalentArg(
            frozenset({"sock"}),
            SYSCALL_ARG.format(n=0),
            "connect_sock_arg(m, {slot}, {pos}, m->ints[{pos}], (const void *)"
            + SYSCALL_ARG.format(n=1)
            + ");",
            "m->lens[{pos}] > 0",
        )
    },
)

EQUIVALENTS: dict[str, Equivalent] = {
    "security_file_permission": Equivalent(
        "security_file_permission",
        tuple(_file_perm_hook(s, MAY_READ) for s in ("read", "readv", "pread64"))
        + tuple(_file_perm_hook(s, MAY_WRITE) for s in ("write", "writev", "pwrite64")),
        "reads and writes through mmap, sendfile, splice, io_uring and preadv2/pwritev2 "
        "are not seen; the event comes before the permission check, for every call; "
        "a return value is the syscall's error (0 when it succeeds)",
    ),
    "security_mmap_file": Equivalent(
        "security_mmap_file",
        (_MMAP,),
        "shmat mappings are not seen; the event comes before the permission check; "
        "a return value is the syscall's error (0 when it succeeds)",
    ),
    "security_path_truncate": Equivalent(
        "security_path_truncate",
        (_TRUNCATE, _FTRUNCATE),
        "truncate(2) reports the name as given, made absolute with the working directory "
        "(symlinks and '..' are not resolved); open with O_TRUNC is not seen; a return "
        "value is the syscall's error (0 when it succeeds)",
    ),
    "tcp_connect": Equivalent(
        "tcp_connect",
        (_CONNECT,),
        "IPv4 only; the event comes before the kernel picks the source address and port "
        "(saddr/sport are those of a bound socket, else 0) and also for a connect that "
        "fails before a SYN is sent; TCP Fast Open sendmsg is not seen",
    ),
}


def equivalent_of(function: str) -> Equivalent | None:
    return EQUIVALENTS.get(function)
