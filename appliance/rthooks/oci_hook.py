"""tetragon-oci-hook: run by the container runtime, tells the agent about a new container.

The runtime runs it with the stage as argument (``createRuntime`` does the work;
``createContainer`` and ``poststop`` are accepted and do nothing) and the OCI state on
stdin. It reads the bundle's ``config.json``, sends a RuntimeHookRequest to the agent and
waits for the answer, so enforcement is in place before the container's first process.
When the agent cannot be reached, the fail check decides: containers in an allowed
namespace start anyway, others fail (exit 1) with a message naming the log file.

It runs on every container start, so it imports only the standard library (and the
stdlib-only :mod:`appliance.errors`): it encodes
its one protobuf message by hand (field numbers of Tetragon's v1 API) and makes the one
gRPC call with :mod:`appliance.rthooks.h2call`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

from appliance.errors import CallError, HookError

DEFAULT_ADDRESS = "unix:///var/run/tetragon/tetragon.sock"
DEFAULT_NAMESPACE_KEYS = "io.kubernetes.pod.namespace,io.kubernetes.cri.sandbox-namespace"
DEFAULT_ALLOW_NAMESPACES = "kube-system"
CONFIG_PATHS = ("config.json", "../config.json", "../userdata/config.json")
LOG_MAX_BYTES = 50 * 1024 * 1024
LOG_BACKUPS = 3
METHOD = "/tetragon.FineGuidanceSensors/RuntimeHook"
LEVELS = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40}


# --- protobuf encoding of RuntimeHookRequest{createContainer: CreateContainer{...}} ---------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, data: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def _str(num: int, s: str) -> bytes:
    return _field(num, s.encode()) if s else b""


def _mount(m: dict) -> bytes:
    """Mount: destination 1, type 2, source 3, options 4 (repeated)."""
    out = _str(1, str(m.get("destination", ""))) + _str(2, str(m.get("type", "")))
    out += _str(3, str(m.get("source", "")))
    return out + b"".join(_str(4, str(o)) for o in m.get("options") or [])


def encode_request(cc: dict) -> bytes:
    """Wire bytes of a RuntimeHookRequest (createContainer = 1; CreateContainer fields 1-9,
    mounts 10), by the numbers of Tetragon's published api/v1/tetragon/tetragon.proto."""
    body = _str(1, cc.get("cgroupsPath", "")) + _str(2, cc.get("rootDir", ""))
    for k, v in (cc.get("annotations") or {}).items():
        body += _field(3, _str(1, str(k)) + _str(2, str(v)))
    for num, key in enumerate(
        ("containerName", "containerID", "podName", "podUID", "podNamespace", "containerImage"),
        start=4,
    ):
        body += _str(num, cc.get(key, ""))
    for m in cc.get("mounts") or []:
        if isinstance(m, dict):
            body += _field(10, _mount(m))
    return _field(1, body)


# --- log: JSON lines as Go's slog writes them, rotated by size ------------------------------
def _now() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


class Log:
    """slog-style JSON lines; falls back to stderr (saying so once) when the file fails."""

    def __init__(self, fname: str, level: str = "info", prog: str = "tetragon-oci-hook"):
        self.fname = fname
        self.level = LEVELS.get(level.lower(), 20)
        self.attrs: dict = {}
        self._out = None
        try:
            d = os.path.dirname(fname)
            if d:
                os.makedirs(d, exist_ok=True)
            if os.path.exists(fname) and os.path.getsize(fname) > LOG_MAX_BYTES:
                for i in range(LOG_BACKUPS - 1, 0, -1):
                    if os.path.exists(f"{fname}.{i}"):
                        os.replace(f"{fname}.{i}", f"{fname}.{i + 1}")
                os.replace(fname, f"{fname}.1")
            self._out = open(fname, "a", encoding="utf-8")
        except OSError as e:
            self._out = sys.stderr
            self._out.write(
                f"{prog}: cannot write log file {fname}: {e.strerror or e}; logging to stderr\n"
            )
        if level.lower() not in LEVELS:
            self.warn("was not able to parse logLevel, using default", arg=level, default="INFO")

    def with_(self, **attrs) -> Log:
        self.attrs.update(attrs)
        return self

    def _write(self, lvl: int, name: str, msg: str, kv: dict) -> None:
        if lvl < self.level:
            return
        rec = {"time": _now(), "level": name, "msg": msg, **self.attrs, **kv}
        try:
            self._out.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self._out.flush()
        except (OSError, ValueError) as e:
            sys.stderr.write(f"error writing to logger: {e}\n")

    def debug(self, msg: str, **kv) -> None:
        self._write(10, "DEBUG", msg, kv)

    def info(self, msg: str, **kv) -> None:
        self._write(20, "INFO", msg, kv)

    def warn(self, msg: str, **kv) -> None:
        self._write(30, "WARN", msg, kv)


# --- arguments: Tetragon's flags, defaults from a JSON file beside the binary ---------------
def binary_dir() -> str:
    return os.path.dirname(os.path.abspath(sys.argv[0])) or "."


def parse_duration(s: str) -> float:
    """Go durations as the flag takes them: 10s, 500ms, 1m, 1.5s; a bare number is seconds."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|m|h)?\s*", str(s))
    if not m:
        raise ValueError(f"--grpc-timeout {s!r}: expected a duration such as 10s or 500ms")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def parse_args(argv: list[str]) -> dict:
    bdir = binary_dir()
    conf = {
        "log-fname": os.path.join(bdir, "tetragon-oci-hook.log"),
        "log-level": "info",
        "grpc-address": DEFAULT_ADDRESS,
        "grpc-timeout": "10s",
        "disable-grpc": False,
        "annotations-namespace-key": DEFAULT_NAMESPACE_KEYS,
        "fail-allow-namespaces": DEFAULT_ALLOW_NAMESPACES,
        "fail-allow-namespaces-regex": "",
        "hook": "",
        "config-error": "",
    }
    cfile = os.path.join(bdir, "tetragon-oci-hook.json")
    if os.path.exists(cfile):
        try:
            with open(cfile) as f:
                data = json.load(f)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            for k, v in data.items():
                if k in conf and k != "hook":
                    conf[k] = ",".join(v) if isinstance(v, list) else v
        except (OSError, ValueError) as e:
            conf["config-error"] = f"{cfile}: {e}"
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            key, eq, val = a[2:].partition("=")
            if key == "disable-grpc":
                conf[key] = val.lower() not in ("false", "0") if eq else True
            elif key in conf and key not in ("hook", "config-error"):
                if not eq:
                    i += 1
                    val = argv[i] if i < len(argv) else ""
                conf[key] = val
            else:
                conf["config-error"] = f"unknown flag {a}"
        elif not conf["hook"]:
            conf["hook"] = a
        i += 1
    return conf


# --- the request -----------------------------------------------------------------------------
def read_state(stdin) -> dict:
    """The OCI state the runtime writes on stdin."""
    data = "" if stdin is None or stdin.isatty() else stdin.read()
    if not data.strip():
        raise HookError("empty OCI state on stdin")
    try:
        state = json.loads(data)
    except ValueError as e:
        raise HookError(f"OCI state on stdin is not JSON: {e}") from None
    if not isinstance(state, dict):
        raise HookError("OCI state on stdin is not a JSON object")
    return state


def find_config(bundle: str) -> str:
    for p in CONFIG_PATHS:
        path = os.path.normpath(os.path.join(bundle, p))
        if os.path.isfile(path):
            return path
    raise HookError(f"failed to find spec file: none of {', '.join(CONFIG_PATHS)} in {bundle}")


def systemd_expand(path: str) -> str:
    """``slice:prefix:name`` -> the systemd cgroup path; HookError for an unknown layout."""
    if "/" in path:
        return path
    parts = path.split(":")
    if len(parts) != 3:
        raise HookError(f"Unknown cgroup path: {path}")
    slice_, prefix, name = parts
    if slice_ in ("", "-.slice"):
        parent = ""
    else:
        if not slice_.endswith(".slice"):
            raise HookError(f"failed to parse cgroup path: {path} ({slice_} is not a slice)")
        stem = slice_[: -len(".slice")]
        if not stem or stem.startswith("-") or stem.endswith("-") or "--" in stem:
            raise HookError(f"failed to parse cgroup path: {path} ({slice_} is not a slice)")
        bits = stem.split("-")
        parent = "".join("/" + "-".join(bits[: i + 1]) + ".slice" for i in range(len(bits)))
    leaf = name if name.endswith(".slice") else f"{prefix}-{name}.scope"
    return f"{parent}/{leaf}"


def _first(ann: dict, *keys: str) -> str:
    for k in keys:
        if ann.get(k):
            return str(ann[k])
    return ""


def load_spec(state: dict) -> tuple[dict, str, dict]:
    """(the bundle's spec, its path, the annotations of state and spec)."""
    bundle = state.get("bundle") or os.getcwd()
    cfg = find_config(bundle)
    try:
        with open(cfg, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        raise HookError(f"failed to read spec file {cfg}: {e}") from None
    if not isinstance(spec, dict):
        raise HookError(f"spec file {cfg}: not a JSON object")
    ann = {**(state.get("annotations") or {}), **(spec.get("annotations") or {})}
    return spec, cfg, ann


def request_fields(state: dict, spec: dict, cfg: str, ann: dict) -> dict:
    """The CreateContainer fields; HookError for a cgroup path it cannot use."""
    bundle = state.get("bundle") or os.getcwd()
    raw = ((spec.get("linux") or {}).get("cgroupsPath")) or ""
    if not raw:
        raise HookError(f"spec file {cfg}: linux.cgroupsPath is empty")
    cgroups = systemd_expand(raw)
    root = bundle
    if cfg == os.path.normpath(os.path.join(bundle, "config.json")):
        root = os.path.join(bundle, (spec.get("root") or {}).get("path", ""))
    return {
        "cgroupsPath": cgroups,
        "rootDir": root,
        "annotations": ann,
        "containerName": _first(
            ann, "io.kubernetes.cri.container-name", "io.kubernetes.container.name"
        ),
        "containerID": _first(ann, "io.kubernetes.cri-o.ContainerID") or str(state.get("id", "")),
        "podName": _first(ann, "io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"),
        "podUID": _first(ann, "io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"),
        "podNamespace": _first(
            ann, "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"
        ),
        "containerImage": _first(
            ann, "io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName"
        ),
        "mounts": [m for m in spec.get("mounts") or [] if isinstance(m, dict)],
    }


def build_request(state: dict) -> tuple[dict, dict]:
    """(CreateContainer fields, annotations) from the OCI state and the bundle's spec."""
    spec, cfg, ann = load_spec(state)
    return request_fields(state, spec, cfg, ann), ann


def call_agent(address: str, payload: bytes, timeout: float) -> None:
    from appliance.rthooks.h2call import unary

    try:
        unary(address, METHOD, payload, timeout)
    except CallError as e:
        raise HookError(str(e)) from None


def fail_check(conf: dict, ann: dict | None) -> str:
    """'' when the container may start despite the error, else why it must not."""
    ann = ann or {}
    keys = [k.strip() for k in conf["annotations-namespace-key"].split(",") if k.strip()]
    ns = _first(ann, *keys)
    allow = [n.strip() for n in conf["fail-allow-namespaces"].split(",") if n.strip()]
    if ns and ns in allow:
        return ""
    rx = conf["fail-allow-namespaces-regex"]
    if ns and rx:
        try:
            if re.fullmatch(rx, ns):
                return ""
        except re.error as e:
            return f"--fail-allow-namespaces-regex {rx!r}: {e}"
    return f"failCheck determined that we should fail (namespace {ns!r})"


def create_runtime(conf: dict, log: Log, stdin) -> int:
    log.with_(hook="createRuntime", **{"start-time": _now()})
    ann: dict | None = None
    try:
        state = read_state(stdin)
        spec, cfg, ann = load_spec(state)
        # the annotations are known from here on: a bad cgroup path still gets the fail
        # check of the container's namespace
        cc = request_fields(state, spec, cfg, ann)
    except (HookError, ValueError) as e:
        rc, msg = before_agent_error(conf, log, ann, str(e))
    else:
        rc, msg = tell_agent(conf, log, cc, ann)
    if rc:
        sys.stderr.write(msg)
    return rc


def tell_agent(conf: dict, log: Log, cc: dict, ann: dict) -> tuple[int, str]:
    """Send CreateContainer and apply the fail check: (0, '') to let the container start,
    (1, why) when the runtime must fail it. Shared by the OCI hook and the NRI plugin."""
    log.with_(
        **{
            "req-cgroups": cc["cgroupsPath"],
            "req-rootdir": cc["rootDir"],
            "req-containerName": cc["containerName"],
            "req-containerID": cc["containerID"],
            "req-podName": cc["podName"],
            "req-podUID": cc["podUID"],
            "req-podNamespace": cc["podNamespace"],
        }
    )
    if conf["disable-grpc"]:
        log.info("gRPC was disabled, so will not be contacting the agent")
        return 0, ""
    try:
        timeout = parse_duration(conf["grpc-timeout"])
        call_agent(conf["grpc-address"], encode_request(cc), timeout)
    except ValueError as e:
        return before_agent_error(conf, log, ann, str(e))
    except HookError as e:
        log.warn("hook request to the agent failed", err=str(e))
        return _after_error(conf, log, ann, str(e))
    log.info("hook request to agent succeeded")
    return 0, ""


def before_agent_error(conf: dict, log: Log, ann: dict | None, err: str) -> tuple[int, str]:
    log.warn("hook request failed before reaching the agent", err=err)
    return _after_error(conf, log, ann, err)


def _after_error(conf: dict, log: Log, ann: dict | None, err: str) -> tuple[int, str]:
    """The fail check: (0, '') the container starts, or (1, message) the runtime fails it."""
    why = fail_check(conf, ann)
    if not why:
        log.info(
            "failCheck determined that we should not fail this container, even if there was "
            "an error"
        )
        return 0, ""
    log.warn("failing container", **{"should-fail": why, "error": err})
    return 1, f"failing container: {err}. Check logs ({conf['log-fname']}) for additional info"


def main(argv: list[str] | None = None, stdin=None) -> int:
    conf = parse_args(sys.argv[1:] if argv is None else argv)
    log = Log(conf["log-fname"], str(conf["log-level"]))
    if conf["config-error"]:
        log.warn("ignoring bad configuration", err=conf["config-error"])
    hook = conf["hook"]
    try:
        if hook == "createRuntime":
            return create_runtime(conf, log, sys.stdin if stdin is None else stdin)
        if hook in ("createContainer", "poststop"):
            log.info("nothing to do", hook=hook)
            return 0
        log.warn("hook called with unknown hook", hook=hook)
        return 0
    except Exception as e:  # never a traceback on the runtime's stderr
        log.warn("unexpected error", err=f"{type(e).__name__}: {e}")
        sys.stderr.write(f"tetragon-oci-hook: {e}. Check logs ({conf['log-fname']})")
        return 1


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
