"""A thin typed layer over the system libbpf (libbpf.so.1).

libbpf does the ELF parsing, CO-RE relocation, loading, attaching and ring
buffer work; this module only turns its C API into Python objects whose
errors carry the libbpf and verifier log lines that explain them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.errors import BpfError

c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_size_t = ctypes.c_size_t

LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG = 0, 1, 2
_STOP = -errno.ECANCELED  # a sample callback's "enough for this poll"


class _OpenOpts(ctypes.Structure):
    """struct bpf_object_open_opts as of libbpf 1.1 (sz makes it forward compatible)."""

    _fields_ = [
        ("sz", c_size_t),
        ("object_name", c_char_p),
        ("relaxed_maps", ctypes.c_bool),
        ("pin_root_path", c_char_p),
        ("attach_prog_fd", ctypes.c_uint32),
        ("kconfig", c_char_p),
        ("btf_custom_path", c_char_p),
        ("kernel_log_buf", c_void_p),
        ("kernel_log_size", c_size_t),
        ("kernel_log_level", ctypes.c_uint32),
    ]


_PRINT_FN = ctypes.CFUNCTYPE(c_int, c_int, c_char_p, c_void_p)


class _UprobeOpts(ctypes.Structure):
    """The leading fields of struct bpf_uprobe_opts (libbpf reads only ``sz`` bytes)."""

    _fields_ = [
        ("sz", c_size_t),
        ("ref_ctr_offset", c_size_t),
        ("bpf_cookie", ctypes.c_uint64),
        ("retprobe", ctypes.c_bool),
    ]


SAMPLE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)

_lib: ctypes.CDLL | None = None
_log_lock = threading.Lock()
_log_lines: list[str] = []
_vsnprintf = None


FMT_BUF_SIZE = 1 << 22  # verifier logs can be megabytes
LOG_KEEP = 6000  # characters of a verifier log kept in an error: its end explains it


def _format(fmt: bytes, va_list: int) -> str:
    # a buffer per message, not one kept for the life of the agent: libbpf prints a few
    # lines per load, and 4 MB held from import on would be 4 MB of the idle agent's RSS
    buf = ctypes.create_string_buffer(FMT_BUF_SIZE)
    _vsnprintf(buf, FMT_BUF_SIZE, fmt, c_void_p(va_list))
    text = buf.value.decode(errors="replace")
    if len(text) > LOG_KEEP:
        text = "...\n" + text[-LOG_KEEP:]
    return text


@_PRINT_FN
def _print_cb(level: int, fmt: bytes, va_list: int) -> int:
    if level <= LIBBPF_INFO:
        _log_lines.append(_format(fmt, va_list))
    return 0


def lib() -> ctypes.CDLL:
    """Load libbpf once and declare the functions we use."""
    global _lib, _vsnprintf
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("bpf") or "libbpf.so.1"
    try:
        lb = ctypes.CDLL(name, use_errno=True)
    except OSError as e:
        raise BpfError(f"cannot load libbpf ({name}); install libbpf1 (>= 1.1)") from e
    libc = ctypes.CDLL(None)
    _vsnprintf = libc.vsnprintf
    _vsnprintf.argtypes = [c_char_p, c_size_t, c_char_p, c_void_p]
    decl = {
        "libbpf_set_print": (c_void_p, [_PRINT_FN]),
        "bpf_object__open_file": (c_void_p, [c_char_p, ctypes.POINTER(_OpenOpts)]),
        "bpf_object__load": (c_int, [c_void_p]),
        "bpf_object__close": (None, [c_void_p]),
        "bpf_object__find_program_by_name": (c_void_p, [c_void_p, c_char_p]),
        "bpf_object__find_map_by_name": (c_void_p, [c_void_p, c_char_p]),
        "bpf_object__next_program": (c_void_p, [c_void_p, c_void_p]),
        "bpf_program__name": (c_char_p, [c_void_p]),
        "bpf_program__section_name": (c_char_p, [c_void_p]),
        "bpf_program__set_autoload": (c_int, [c_void_p, ctypes.c_bool]),
        "bpf_program__autoload": (ctypes.c_bool, [c_void_p]),
        "bpf_program__attach": (c_void_p, [c_void_p]),
        "bpf_program__attach_tracepoint": (c_void_p, [c_void_p, c_char_p, c_char_p]),
        "bpf_program__attach_uprobe": (
            c_void_p,
            [c_void_p, ctypes.c_bool, c_int, c_char_p, c_size_t],
        ),
        "bpf_program__attach_uprobe_opts": (
            c_void_p,
            [c_void_p, c_int, c_char_p, c_size_t, c_void_p],
        ),
        "bpf_program__fd": (c_int, [c_void_p]),
        "bpf_link__destroy": (c_int, [c_void_p]),
        "bpf_link__pin": (c_int, [c_void_p, c_char_p]),
        "bpf_map__pin": (c_int, [c_void_p, c_char_p]),
        "bpf_map__name": (c_char_p, [c_void_p]),
        "bpf_object__next_map": (c_void_p, [c_void_p, c_void_p]),
        "bpf_map__fd": (c_int, [c_void_p]),
        "bpf_map__set_max_entries": (c_int, [c_void_p, ctypes.c_uint32]),
        "bpf_map__reuse_fd": (c_int, [c_void_p, c_int]),
        "bpf_map__value_size": (ctypes.c_uint32, [c_void_p]),
        "bpf_map__key_size": (ctypes.c_uint32, [c_void_p]),
        "bpf_map__max_entries": (ctypes.c_uint32, [c_void_p]),
        "bpf_map_lookup_elem": (c_int, [c_int, c_void_p, c_void_p]),
        "bpf_map_update_elem": (c_int, [c_int, c_void_p, c_void_p, ctypes.c_uint64]),
        "bpf_map_delete_elem": (c_int, [c_int, c_void_p]),
        "bpf_obj_get": (c_int, [c_char_p]),
        "bpf_obj_get_info_by_fd": (c_int, [c_int, c_void_p, ctypes.POINTER(ctypes.c_uint32)]),
        "ring_buffer__new": (c_void_p, [c_int, SAMPLE_FN, c_void_p, c_void_p]),
        "ring_buffer__poll": (c_int, [c_void_p, c_int]),
        "ring_buffer__consume": (c_int, [c_void_p]),
        "ring_buffer__free": (None, [c_void_p]),
        "libbpf_probe_bpf_prog_type": (c_int, [c_int, c_void_p]),
        "libbpf_probe_bpf_map_type": (c_int, [c_int, c_void_p]),
        "libbpf_probe_bpf_helper": (c_int, [c_int, c_int, c_void_p]),
        "libbpf_num_possible_cpus": (c_int, []),
        "btf__parse": (c_void_p, [c_char_p, c_void_p]),
        "btf__find_by_name_kind": (ctypes.c_int32, [c_void_p, c_char_p, ctypes.c_uint32]),
        "btf__type_by_id": (c_void_p, [c_void_p, ctypes.c_uint32]),
        "btf__free": (None, [c_void_p]),
        "btf__name_by_offset": (c_char_p, [c_void_p, ctypes.c_uint32]),
        "btf__type_cnt": (ctypes.c_uint32, [c_void_p]),
    }
    for fname, (restype, argtypes) in decl.items():
        f = getattr(lb, fname)
        f.restype = restype
        f.argtypes = argtypes
    lb.libbpf_set_print(_print_cb)
    _lib = lb
    return lb


def _take_log() -> str:
    with _log_lock:
        text = "".join(_log_lines)
        _log_lines.clear()
    return text


def _errno() -> int:
    return ctypes.get_errno() or errno.EINVAL


@dataclass
class Link:
    """An attached program; destroy() detaches it."""

    ptr: int
    program: str
    method: str
    target: str

    def destroy(self) -> None:
        """Drops this process's hold; a pinned link stays attached until unpinned."""
        if self.ptr:
            lib().bpf_link__destroy(self.ptr)
            self.ptr = 0

    def pin(self, path: str) -> None:
        """Keep the link attached in the kernel after the process exits."""
        rc = lib().bpf_link__pin(self.ptr, path.encode())
        if rc != 0:
            raise BpfError(f"cannot pin link {self.program} at {path}", -rc)


@dataclass
class Map:
    ptr: int
    name: str

    @property
    def fd(self) -> int:
        return lib().bpf_map__fd(self.ptr)

    def set_max_entries(self, n: int) -> None:
        if lib().bpf_map__set_max_entries(self.ptr, n) != 0:
            raise BpfError(f"cannot size map {self.name}", _errno())

    def shape(self) -> tuple[int, int, int]:
        """(key size, value size, max entries) as this object declares the map."""
        lb = lib()
        return (
            lb.bpf_map__key_size(self.ptr),
            lb.bpf_map__value_size(self.ptr),
            lb.bpf_map__max_entries(self.ptr),
        )

    def reuse_fd(self, fd: int) -> None:
        """Share an already loaded map (same definition) instead of creating one."""
        rc = lib().bpf_map__reuse_fd(self.ptr, fd)
        if rc != 0:
            raise BpfError(f"cannot reuse map fd for {self.name}", -rc)

    def lookup(self, key: bytes, value_size: int) -> bytes | None:
        val = ctypes.create_string_buffer(value_size)
        if lib().bpf_map_lookup_elem(self.fd, key, val) != 0:
            return None
        return val.raw

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        if lib().bpf_map_update_elem(self.fd, key, value, flags) != 0:
            raise BpfError(f"update of map {self.name} failed", _errno())

    def delete(self, key: bytes) -> None:
        lib().bpf_map_delete_elem(self.fd, key)

    def pin(self, path: str) -> None:
        rc = lib().bpf_map__pin(self.ptr, path.encode())
        if rc != 0:
            raise BpfError(f"cannot pin map {self.name} at {path}", -rc)


def pinned_map(path: str) -> tuple[int, tuple[int, int, int, int]]:
    """Open a pinned map: (fd, (type, key size, value size, max entries)); the caller
    closes the fd."""
    fd = lib().bpf_obj_get(path.encode())
    if fd < 0:
        raise BpfError(f"cannot open the pinned map {path}", _errno())
    info = ctypes.create_string_buffer(128)
    size = ctypes.c_uint32(len(info))
    if lib().bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)) != 0:
        err = _errno()
        os.close(fd)
        raise BpfError(f"cannot read the pinned map {path}", err)
    mtype, _id, key, value, entries = struct.unpack_from("<5I", info.raw)
    return fd, (mtype, key, value, entries)


BTF_KIND_FUNC = 12


def function_arg_count(btf_path: str, name: str) -> int | None:
    """Number of parameters of a kernel function, from BTF (fexit finds the return
    value after them)."""
    lb = lib()
    btf = lb.btf__parse(btf_path.encode(), None)
    if not btf:
        return None
    try:
        fid = lb.btf__find_by_name_kind(btf, name.encode(), BTF_KIND_FUNC)
        if fid < 0:
            return None
        func = ctypes.cast(lb.btf__type_by_id(btf, fid), ctypes.POINTER(ctypes.c_uint32))
        proto = ctypes.cast(lb.btf__type_by_id(btf, func[2]), ctypes.POINTER(ctypes.c_uint32))
        return proto[1] & 0xFFFF  # info: vlen in the low 16 bits
    finally:
        lb.btf__free(btf)


def function_names(btf_path: str) -> list[str] | None:
    """Names of the kernel functions BTF describes (None without BTF)."""
    lb = lib()
    btf = lb.btf__parse(btf_path.encode(), None)
    if not btf:
        return None
    try:
        out = []
        for tid in range(1, lb.btf__type_cnt(btf)):
            t = ctypes.cast(lb.btf__type_by_id(btf, tid), ctypes.POINTER(ctypes.c_uint32))
            if (t[1] >> 24) & 0x1F == BTF_KIND_FUNC:
                out.append((lb.btf__name_by_offset(btf, t[0]) or b"").decode())
        return out
    finally:
        lb.btf__free(btf)


BTF_KIND_PTR, BTF_KIND_TYPEDEF, BTF_KIND_FUNC_PROTO = 2, 8, 13
_BTF_QUALIFIERS = {9, 10, 11, 18}  # volatile, const, restrict, type_tag


def _btf_type_name(lb, btf, tid: int) -> str:
    """A short C spelling of a BTF type: ``struct linux_binprm *``, ``pid_t``, ``void *``."""
    stars = ""
    for _ in range(8):
        if tid == 0:
            return "void" + (" " + stars if stars else "")
        t = ctypes.cast(lb.btf__type_by_id(btf, tid), ctypes.POINTER(ctypes.c_uint32))
        kind = (t[1] >> 24) & 0x1F
        if kind == BTF_KIND_PTR:
            stars += "*"
            tid = t[2]
            continue
        if kind in _BTF_QUALIFIERS:
            tid = t[2]
            continue
        name = (lb.btf__name_by_offset(btf, t[0]) or b"").decode()
        prefix = {4: "struct ", 5: "union ", 6: "enum "}.get(kind, "")
        return f"{prefix}{name}" + (" " + stars if stars else "")
    return "?"


def _proto_params(lb, btf, proto_id: int) -> list[str] | None:
    """The parameter types of a BTF function prototype."""
    proto = ctypes.cast(lb.btf__type_by_id(btf, proto_id), ctypes.POINTER(ctypes.c_uint32))
    if (proto[1] >> 24) & 0x1F != BTF_KIND_FUNC_PROTO:
        return None
    # params follow the 3-word header as (name_off, type) pairs
    return [_btf_type_name(lb, btf, proto[3 + 2 * i + 1]) for i in range(proto[1] & 0xFFFF)]


def function_params(btf_path: str, name: str) -> list[str] | None:
    """The parameter types of a kernel function (``struct msghdr *``), from BTF; None
    without BTF or when BTF does not describe the function."""
    lb = lib()
    btf = lb.btf__parse(btf_path.encode(), None)
    if not btf:
        return None
    try:
        fid = lb.btf__find_by_name_kind(btf, name.encode(), BTF_KIND_FUNC)
        if fid < 0:
            return None
        func = ctypes.cast(lb.btf__type_by_id(btf, fid), ctypes.POINTER(ctypes.c_uint32))
        return _proto_params(lb, btf, func[2])
    finally:
        lb.btf__free(btf)


def raw_tracepoint_params(btf_path: str, event: str) -> list[str] | None:
    """The TP_PROTO parameter types of a tracepoint, from the kernel's ``btf_trace_<event>``
    typedef (what tp_btf programs see in ctx[0..]); None when BTF has no such tracepoint."""
    lb = lib()
    btf = lb.btf__parse(btf_path.encode(), None)
    if not btf:
        return None
    try:
        tid = lb.btf__find_by_name_kind(btf, f"btf_trace_{event}".encode(), BTF_KIND_TYPEDEF)
        if tid < 0:
            return None
        td = ctypes.cast(lb.btf__type_by_id(btf, tid), ctypes.POINTER(ctypes.c_uint32))
        ptr = ctypes.cast(lb.btf__type_by_id(btf, td[2]), ctypes.POINTER(ctypes.c_uint32))
        params = _proto_params(lb, btf, ptr[2])
        # the first is the tracepoint's data pointer, not an argument
        return params[1:] if params is not None else None
    finally:
        lb.btf__free(btf)


def possible_cpus() -> int:
    return lib().libbpf_num_possible_cpus()


@dataclass
class BpfObject:
    """One BPF ELF object: open, adjust, load, attach, close."""

    path: str
    btf_custom_path: str | None = None
    ptr: int = 0
    links: list[Link] = field(default_factory=list)
    _opts: _OpenOpts | None = None

    @classmethod
    def open(cls, path: str, btf_custom_path: str | None = None) -> BpfObject:
        lb = lib()
        if not os.path.exists(path):
            raise BpfError(f"BPF object {path} not found", errno.ENOENT)
        opts = _OpenOpts()
        opts.sz = ctypes.sizeof(_OpenOpts)
        # /sys/kernel/btf/vmlinux is libbpf's own default; naming it again is harmless
        # but a custom path is only passed when it differs.
        if btf_custom_path and btf_custom_path != "/sys/kernel/btf/vmlinux":
            opts.btf_custom_path = btf_custom_path.encode()
        _take_log()
        ptr = lb.bpf_object__open_file(path.encode(), ctypes.byref(opts))
        if not ptr:
            raise BpfError(f"cannot open BPF object {path}", _errno(), _take_log())
        return cls(path=path, btf_custom_path=btf_custom_path, ptr=ptr, _opts=opts)

    def program_names(self) -> list[str]:
        names, prog = [], None
        while True:
            prog = lib().bpf_object__next_program(self.ptr, prog)
            if not prog:
                return names
            names.append(lib().bpf_program__name(prog).decode())

    def maps(self) -> list[Map]:
        out, m = [], None
        while True:
            m = lib().bpf_object__next_map(self.ptr, m)
            if not m:
                return out
            out.append(Map(m, lib().bpf_map__name(m).decode()))

    def _prog(self, name: str) -> int:
        prog = lib().bpf_object__find_program_by_name(self.ptr, name.encode())
        if not prog:
            raise BpfError(f"no program {name} in {self.path}", errno.ENOENT)
        return prog

    def section(self, name: str) -> str:
        return lib().bpf_program__section_name(self._prog(name)).decode()

    def set_autoload(self, name: str, on: bool) -> None:
        lib().bpf_program__set_autoload(self._prog(name), on)

    def map(self, name: str) -> Map:
        m = lib().bpf_object__find_map_by_name(self.ptr, name.encode())
        if not m:
            raise BpfError(f"no map {name} in {self.path}", errno.ENOENT)
        return Map(m, name)

    def load(self) -> None:
        _take_log()
        rc = lib().bpf_object__load(self.ptr)
        if rc != 0:
            raise BpfError(f"loading {os.path.basename(self.path)} failed", -rc, _take_log())

    def attach(self, name: str, method: str = "auto", target: str = "") -> Link:
        """Attach by the program's section (auto), or as a tracepoint/uprobe."""
        lb = lib()
        prog = self._prog(name)
        _take_log()
        if method == "tracepoint":
            cat, _, ev = target.partition("/")
            ptr = lb.bpf_program__attach_tracepoint(prog, cat.encode(), ev.encode())
        elif method in ("uprobe", "uretprobe"):
            path, _, off = target.rpartition(":")
            ptr = lb.bpf_program__attach_uprobe(
                prog, method == "uretprobe", -1, path.encode(), int(off)
            )
        elif method in ("usdt", "uretprobe_ref"):  # path:offset:reference counter offset
            path, off, ref = target.rsplit(":", 2)
            ret = method == "uretprobe_ref"
            opts = _UprobeOpts(ctypes.sizeof(_UprobeOpts), int(ref), 0, ret)
            ptr = lb.bpf_program__attach_uprobe_opts(
                prog, -1, path.encode(), int(off), ctypes.byref(opts)
            )
        else:
            ptr = lb.bpf_program__attach(prog)
        if not ptr:
            err = _errno()
            raise BpfError(
                f"attaching {name} ({target or self.section(name)}) failed", err, _take_log()
            )
        link = Link(ptr, name, method if method != "auto" else self.section(name), target)
        self.links.append(link)
        return link

    def close(self) -> None:
        for link in self.links:
            link.destroy()
        self.links.clear()
        if self.ptr:
            lib().bpf_object__close(self.ptr)
            self.ptr = 0


class RingBuffer:
    """Polls a BPF ring buffer map; each sample is handed to `on_sample` as bytes.

    While samples keep coming, consecutive polls are at least `batch_interval`
    seconds apart: the reader then wakes once per batch rather than once or
    twice per sample, and the BPF programs seldom find the ring drained, which
    is when bpf_ringbuf_output queues the irq_work that wakes the reader (a
    cost paid in the traced task). Under load this adds at most
    `batch_interval` of latency; after a quiet poll the next one waits as
    before and hands the first sample over at once. A poll that consumed
    `backlog` samples or more was behind: the next one follows at once, so a
    flood drains at full speed instead of pausing between batches.

    20 ms rather than 5 ms cuts the agent's CPU per exec at ~1450 execs/s
    from about 95 to 65 us (bench/exec_throughput.py) and stays far from
    filling the default 4 MiB ring (about 14000 exec messages).
    """

    BATCH_INTERVAL = 0.02  # seconds
    BACKLOG = 4096  # samples in one poll
    #: one poll returns after this long even while samples keep coming: libbpf consumes
    #: until the ring is empty, which under a storm (and a reader slowed by 50 gRPC
    #: streams) kept the event loop from flushing the export file for seconds
    MAX_POLL_S = 0.1

    def __init__(
        self,
        map_fd: int,
        on_sample: Callable[[bytes], None],
        batch_interval: float = BATCH_INTERVAL,
    ):
        def cb(_ctx: int, data: int, size: int) -> int:
            on_sample(ctypes.string_at(data, size))
            self._n += 1
            if self._n == 1:
                self._deadline = time.monotonic() + self.MAX_POLL_S
            elif self._n >= self.BACKLOG or time.monotonic() > self._deadline:
                return _STOP  # libbpf keeps this sample consumed and returns _STOP
            return 0

        self._cb = SAMPLE_FN(cb)  # keep a reference: libbpf holds the pointer
        self.ptr = lib().ring_buffer__new(map_fd, self._cb, None, None)
        if not self.ptr:
            raise BpfError("cannot create ring buffer", _errno(), _take_log())
        self.batch_interval = batch_interval
        self._busy_at = 0.0  # when the last poll that consumed samples returned
        self._n = 0  # samples of the current poll
        self._deadline = 0.0

    def poll(self, timeout_ms: int) -> int:
        """Consume what is queued, waiting up to timeout_ms (-1: forever, 0: not at all)."""
        if self._busy_at and timeout_ms:
            wait = self._busy_at + self.batch_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait if timeout_ms < 0 else min(wait, timeout_ms / 1000))
        self._n = 0
        n = lib().ring_buffer__poll(self.ptr, timeout_ms)
        if n == _STOP and self._n:
            n = self.BACKLOG  # stopped with more to read: the next poll follows at once
        paced = 0 < n < self.BACKLOG and self.batch_interval > 0
        self._busy_at = time.monotonic() if paced else 0.0
        if n < 0 and n != -errno.EINTR:
            raise BpfError("ring buffer poll failed", -n)
        return max(n, 0)

    def free(self) -> None:
        if self.ptr:
            lib().ring_buffer__free(self.ptr)
            self.ptr = 0
