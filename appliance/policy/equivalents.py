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


def _file_perm_hook(syscall: str, mask: int) -> EquivalentHook:
    fd = SYSCALL_ARG.format(n=0)
    return EquivalentHook(
        syscall,
        {
            0: EquivalentArg(frozenset({"file"}), f"((u64)fd_file({fd}))"),
            1: EquivalentArg(frozenset({"int", "uint32", "sint32", "int32"}), f"{mask}"),
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
        "are not seen; the event comes before the permission check, for every call",
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
