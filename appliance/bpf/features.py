"""Kernel feature probes: what hooks and actions this kernel offers."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from appliance.bpf import libbpf
from appliance.errors import BpfError

PROG_KPROBE, PROG_TRACEPOINT, PROG_TRACING, PROG_LSM = 2, 5, 26, 29
MAP_RINGBUF = 27
FUNC_OVERRIDE_RETURN, FUNC_SEND_SIGNAL = 58, 109

STRING_KFUNCS = ("bpf_strnstr", "bpf_strncasestr")  # SubString, SubStringIgnCase

KPROBE_EVENTS = (
    "/sys/kernel/tracing/kprobe_events",
    "/sys/kernel/debug/tracing/kprobe_events",
    "/sys/bus/event_source/devices/kprobe/type",
)


@dataclass
class Features:
    kernel: str
    btf: str
    kprobes: bool
    fentry: bool
    fmod_ret: bool
    lsm_active: bool
    lsm_prog: bool
    override_return: bool  # the helper exists and kprobes can carry it
    send_signal: bool
    ring_buffer: bool
    # a sleepable BPF LSM program can call bpf_ima_file_hash (5.18+, CONFIG_IMA): Post imaHash
    ima_hash: bool = False
    # a uprobe program may write the traced program's registers: Override and Regs on uprobes
    uprobe_regs: bool = False
    # the kernel's string kfuncs this kernel has (SubString, SubStringIgnCase)
    kfuncs: tuple[str, ...] = ()

    @property
    def bpf_lsm(self) -> bool:
        return self.lsm_active and self.lsm_prog

    def lines(self) -> list[str]:
        d = asdict(self)
        d["bpf_lsm"] = self.bpf_lsm
        return [f"{k}: {'yes' if v is True else 'no' if v is False else v}" for k, v in d.items()]


def _try_load(obj_path: str, prog: str, btf: str) -> bool:
    try:
        obj = libbpf.BpfObject.open(obj_path, btf)
    except BpfError:
        return False
    try:
        for name in obj.program_names():
            obj.set_autoload(name, name == prog)
        obj.load()
        return True
    except BpfError:
        return False
    finally:
        obj.close()


def _lsm_active() -> bool:
    try:
        with open("/sys/kernel/security/lsm") as f:
            return "bpf" in f.read().split(",")
    except OSError:
        return False


def _kfuncs(btf: str) -> tuple[str, ...]:
    """Which of the string kfuncs the SubString operators call the kernel's BTF has."""
    path = btf or "/sys/kernel/btf/vmlinux"
    return tuple(k for k in STRING_KFUNCS if libbpf.function_arg_count(path, k) is not None)


def probe(bpf_lib: str, btf: str) -> Features:
    lb = libbpf.lib()
    probes = os.path.join(bpf_lib, "probes.bpf.o")
    kprobes = any(os.path.exists(p) for p in KPROBE_EVENTS)
    return Features(
        kernel=os.uname().release,
        btf=btf,
        kprobes=kprobes,
        fentry=_try_load(probes, "probe_fentry", btf),
        fmod_ret=_try_load(probes, "probe_fmod_ret", btf),
        lsm_active=_lsm_active(),
        lsm_prog=_try_load(probes, "probe_lsm", btf),
        override_return=kprobes
        and lb.libbpf_probe_bpf_helper(PROG_KPROBE, FUNC_OVERRIDE_RETURN, None) == 1,
        send_signal=lb.libbpf_probe_bpf_helper(PROG_TRACEPOINT, FUNC_SEND_SIGNAL, None) == 1,
        ring_buffer=lb.libbpf_probe_bpf_map_type(MAP_RINGBUF, None) == 1,
        ima_hash=_try_load(probes, "probe_ima_hash", btf),
        uprobe_regs=_try_load(probes, "probe_uprobe_regs", btf),
        kfuncs=_kfuncs(btf),
    )
