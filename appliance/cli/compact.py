"""`tetra getevents -o compact`: one line per event, in Tetragon's format and emoji."""

from __future__ import annotations

import sys

BLUE, CYAN, GREEN, MAGENTA, RED = "\033[34m", "\033[36m", "\033[32m", "\033[35m", "\033[31m"
RESET = "\033[0m"


class Colors:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, color: str, text: str) -> str:
        return f"{color}{text}{RESET}" if self.enabled and text != "" else text


def _syscall_name(fn: str) -> str:
    for prefix in ("__x64_", "__arm64_", "__ia32_", "__se_", "__do_"):
        if fn.startswith(prefix):
            return fn[len(prefix) :]
    return fn


def _arg(args: list, i: int, kind: str, default=""):
    if len(args) > i and isinstance(args[i], dict):
        return args[i].get(kind, default)
    return default


def _sock(s: dict) -> str:
    return (
        f"tcp {s.get('saddr', '')}:{s.get('sport', 0)} -> {s.get('daddr', '')}:{s.get('dport', 0)}"
    )


def process_info(c: Colors, event: dict, proc: dict) -> str:
    pod = proc.get("pod")
    source = ""
    if pod:
        if pod.get("name"):
            source = c(GREEN, f"{pod.get('namespace', '')}/{pod['name']}") + " "
        else:
            # a container outside Kubernetes (Docker): its name in place of namespace/pod
            name = (pod.get("container") or {}).get("name", "")
            if name:
                source = c(GREEN, name) + " "
    return source + c(MAGENTA, proc.get("binary", ""))


def event_line(event: dict, c: Colors | None = None) -> str | None:
    c = c or Colors(False)

    def head(emoji: str, word: str, color: str = BLUE) -> str:
        return c(color, f"{emoji} {word:<7}")

    if "process_exec" in event:
        p = event["process_exec"].get("process", {})
        return (
            f"{head('🚀', 'process')} {process_info(c, event, p)} {c(CYAN, p.get('arguments', ''))}"
        )
    if "process_exit" in event:
        e = event["process_exit"]
        p = e.get("process", {})
        status = e.get("signal") or str(e.get("status", 0))
        return (
            f"{head('💥', 'exit')} {process_info(c, event, p)} "
            f"{c(CYAN, p.get('arguments', ''))} {c(RED, status)}"
        )
    if "process_kprobe" in event:
        return _kprobe_line(event, event["process_kprobe"], c, head)
    if "process_tracepoint" in event:
        e = event["process_tracepoint"]
        pi = process_info(c, event, e.get("process", {}))
        return f"{head('⁉️', 'tracepoint')} {pi} {e.get('subsys', '')} {e.get('event', '')}"
    if "process_uprobe" in event:
        e = event["process_uprobe"]
        pi = process_info(c, event, e.get("process", {}))
        where = e.get("symbol") or (f"+{int(e['offset']):#x}" if e.get("offset") else "")
        return f"{head('🕵️', 'uprobe')} {pi} {e.get('path', '')} {where}"
    if "process_lsm" in event:
        e = event["process_lsm"]
        pi = process_info(c, event, e.get("process", {}))
        return f"{head('🔒', 'LSM')} {pi} {e.get('function_name', '')}"
    return None


def _kprobe_line(event: dict, e: dict, c: Colors, head) -> str:
    pi = process_info(c, event, e.get("process", {}))
    args = e.get("args", [])
    fn = _syscall_name(e.get("function_name", ""))
    file0 = _arg(args, 0, "file_arg", {}).get("path", "")
    if fn == "sys_write":
        size = _arg(args, 2, "size_arg", "")
        return f"{head('📝', 'write')} {pi} {c(CYAN, file0)} {c(CYAN, f'{size} bytes')}"
    if fn == "sys_read":
        size = _arg(args, 2, "size_arg", "")
        return f"{head('📚', 'read')} {pi} {c(CYAN, file0)} {c(CYAN, f'{size} bytes')}"
    if fn == "fd_install":
        path = _arg(args, 1, "file_arg", {}).get("path", "")
        return f"{head('📬', 'open')} {pi} {c(CYAN, path)}"
    if fn == "sys_openat":
        return f"{head('📬️', 'openat')} {pi} {c(CYAN, _arg(args, 1, 'string_arg'))}"
    if fn == "sys_open":
        return f"{head('📬️', 'open')} {pi} {c(CYAN, _arg(args, 1, 'string_arg'))}"
    if fn == "sys_close":
        return f"{head('📪', 'close')} {pi} {c(CYAN, file0)}"
    if fn == "sys_mount":
        src, dst = _arg(args, 0, "string_arg"), _arg(args, 1, "string_arg")
        return f"{head('💾', 'mount')} {pi} {c(CYAN, src)} {c(CYAN, dst)}"
    if fn == "sys_setuid":
        return f"{head('🔑', 'setuid')} {pi} {c(CYAN, str(_arg(args, 0, 'int_arg', 0)))}"
    if fn == "sys_clock_settime":
        return f"{head('⏰', 'clock_settime')} {pi}"
    if fn == "sys_pivot_root":
        src, dst = _arg(args, 0, "string_arg"), _arg(args, 1, "string_arg")
        return f"{head('💾', 'pivot_root')} {pi} {c(CYAN, src)} {c(CYAN, dst)}"
    if fn == "sys_setns":
        ns = {0: "any", 0x2000000: "cgroup", 0x8000000: "ipc", 0x40000000: "net",
              0x20000: "mnt", 0x20000000: "pid", 0x80: "time", 0x10000000: "user",
              0x4000000: "uts"}.get(_arg(args, 1, "int_arg", 0), "")  # fmt: skip
        return f"{head('🔧', 'setns')} {pi} {ns}"
    if fn == "tcp_connect":
        return f"{head('🔌', 'connect')} {pi} {c(CYAN, _sock(_arg(args, 0, 'sock_arg', {})))}"
    if fn == "tcp_close":
        return f"{head('🧹', 'close')} {pi} {c(CYAN, _sock(_arg(args, 0, 'sock_arg', {})))}"
    if fn == "tcp_sendmsg":
        sock = _sock(_arg(args, 0, "sock_arg", {}))
        return f"{head('📤', 'sendmsg')} {pi} {c(CYAN, sock)} bytes {_arg(args, 1, 'int_arg', 0)}"
    if fn == "security_file_permission":
        word, emoji = "security_file_permission", "❓"
        mask = _arg(args, 1, "int_arg", 0)
        if mask == 0x02:
            emoji, word = "📝", "write"
        elif mask == 0x04:
            emoji, word = "📚", "read"
        return f"{head(emoji, word)} {pi} {c(CYAN, file0)}"
    if fn == "security_mmap_file":
        prot = _arg(args, 1, "uint_arg", 0) or _arg(args, 1, "int_arg", 0)
        tag = "mmap-" + "".join(ch for bit, ch in ((1, "r"), (2, "w"), (4, "x")) if prot & bit)
        return f"{head('📝', tag)} {pi} {c(CYAN, file0)}"
    if fn == "security_path_truncate":
        path = _arg(args, 0, "path_arg", {}).get("path", "")
        return f"{head('📝', 'truncate')} {pi} {c(CYAN, path)}"
    return f"{head('❓', 'syscall')} {pi} {e.get('function_name', '')}"


def use_color(mode: str, stream=sys.stdout) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    return stream.isatty()
