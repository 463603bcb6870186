"""tetragon-oci-hook-setup: installs tetragon-oci-hook on a host and wires it into the runtime.

``install`` / ``uninstall`` / ``print-config`` handle the OCI hooks interface (a hooks.d JSON
file, the format CRI-O and podman read); ``patch-containerd-conf`` and ``patch-crio-conf``
rewrite runtime configuration files (see :mod:`appliance.rthooks.toml_patch`). Errors in
the input name the file and the reason and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from appliance.errors import ConfigError, SetupError
from appliance.rthooks import toml_patch

HOOK_NAME = "tetragon-oci-hook"
CONFIG_NAME = "tetragon-oci-hook.json"
DEFAULT_HOOKS_DIR = "/usr/share/containers/oci/hooks.d"
DEFAULT_INSTALL_DIR = "/opt/tetragon"
DEFAULT_SPEC = "/etc/containerd/base-spec.json"
NRI_NAME = "tetragon-nri-hook"
DEFAULT_NRI_BIN = "/opt/nri/bin"
DEFAULT_NRI_CONF = "/etc/nri/conf.json"
# the hook's own options that install writes into the JSON file beside the hook
HOOK_OPTIONS = (
    "grpc-address",
    "grpc-timeout",
    "log-fname",
    "log-level",
    "annotations-namespace-key",
    "fail-allow-namespaces",
    "fail-allow-namespaces-regex",
)


# --- hooks.d (CRI-O / podman) ----------------------------------------------------------------
def oci_hooks_config(hook: str, args: list[str] | None = None) -> dict:
    """The hooks.d entry (schema 1.0.0): run hook at createRuntime for every container."""
    return {
        "version": "1.0.0",
        "hook": {"path": hook, "args": [hook, "createRuntime", *(args or [])]},
        "when": {"always": True},
        "stages": ["createRuntime"],
    }


def dump_json(obj: dict) -> str:
    return json.dumps(obj, indent=3) + "\n"


# the modules the hook imports (standard library aside): what a self-contained install copies
HOOK_MODULES = (
    "__init__.py",
    "errors.py",
    "rthooks/__init__.py",
    "rthooks/oci_hook.py",
    "rthooks/h2call.py",
    "rthooks/nri_hook.py",
)


def copy_hook_modules(local_dir: str) -> str:
    """Copy the hook's own modules into ``<local_dir>/lib``: a node where the hook is installed
    from a container (the tetragon-rthooks DaemonSet) has this package only inside the image."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lib = os.path.join(local_dir, "lib")
    for rel in HOOK_MODULES:
        with open(os.path.join(pkg, rel), encoding="utf-8") as f:
            _write_atomic(os.path.join(lib, "appliance", rel), f.read(), 0o644)
    return lib


def launcher_text(host_hook: str, python: str = "", lib: str = "", module: str = "oci_hook") -> str:
    """A sh script that runs this package's hook with this Python, argv[0] set to the hook's
    installed path so that the hook finds its JSON file and log beside it.

    The hook imports only the standard library and this package (put on sys.path here), so
    Python starts isolated and without site (-I -S): about 14 ms less per container start.
    """
    pkg_root = lib or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        f"import sys; sys.argv[0] = {host_hook!r}; sys.path.insert(0, {pkg_root!r}); "
        f"from appliance.rthooks.{module} import run; run()"
    )
    return (
        "#!/bin/sh\n"
        f"# {os.path.basename(host_hook)}: written by tetragon-oci-hook-setup install\n"
        f'exec {shlex.quote(python or sys.executable)} -I -S -c {shlex.quote(code)} "$@"\n'
    )


def _write_atomic(path: str, data: str, mode: int) -> None:
    d = os.path.dirname(path) or "."
    try:
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", dir=d)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        raise SetupError(f"{path}: cannot write: {e.strerror or e}") from None


def hook_options(ns: argparse.Namespace) -> dict:
    opts = {}
    for name in HOOK_OPTIONS:
        v = getattr(ns, name.replace("-", "_"))
        if v is not None:
            opts[name] = v
    if ns.disable_grpc:
        opts["disable-grpc"] = True
    return opts


def cmd_install(ns: argparse.Namespace) -> int:
    if ns.interface == "nri-hook":
        return nri_install(ns)
    host_dir = ns.host_install_dir or ns.local_install_dir
    host_hook = os.path.join(host_dir, HOOK_NAME)
    hook_file = os.path.join(ns.local_install_dir, HOOK_NAME)
    lib = ""
    if ns.host_python:
        copy_hook_modules(ns.local_install_dir)
        lib = os.path.join(host_dir, "lib")
        log(f"written hook modules lib-path={os.path.join(ns.local_install_dir, 'lib')}")
    _write_atomic(hook_file, launcher_text(host_hook, ns.host_python, lib), 0o755)
    log(f"written binary hook-dst-path={hook_file}")
    conf_file = os.path.join(ns.local_install_dir, CONFIG_NAME)
    _write_atomic(conf_file, dump_json(hook_options(ns)), 0o644)
    log(f"written hook config conf-path={conf_file}")
    dst = os.path.join(ns.hooks_dir, f"{HOOK_NAME}.json")
    _write_atomic(dst, dump_json(oci_hooks_config(host_hook, ns.hook_args)), 0o644)
    log(f"written conf conf-dst-path={dst}")
    return 0


def _remove(path: str, what: str) -> None:
    try:
        os.remove(path)
        log(f"removed {what} path={path}")
    except FileNotFoundError:
        log(f"nothing to remove: {what} path={path} does not exist")
    except OSError as e:
        raise SetupError(f"{path}: cannot remove: {e.strerror or e}") from None


def cmd_uninstall(ns: argparse.Namespace) -> int:
    if ns.interface == "nri-hook":
        return nri_uninstall(ns)
    _remove(os.path.join(ns.hooks_dir, f"{HOOK_NAME}.json"), "conf")
    _remove(os.path.join(ns.local_install_dir, HOOK_NAME), "binary")
    _remove(os.path.join(ns.local_install_dir, CONFIG_NAME), "hook config")
    lib = os.path.join(ns.local_install_dir, "lib", "appliance")
    if os.path.isdir(lib):
        shutil.rmtree(lib, ignore_errors=True)
        log(f"removed hook modules lib-path={lib}")
    return 0


def cmd_print_config(ns: argparse.Namespace) -> int:
    if ns.interface == "nri-hook":
        sys.stdout.write(dump_json(nri_conf({}, "", nri_entry({}))))
        return 0
    sys.stdout.write(dump_json(oci_hooks_config(ns.binary, ns.args)))
    return 0


# --- NRI v0.1 (containerd 1.6): /opt/nri/bin/<type> and /etc/nri/conf.json ------------------
def nri_entry(opts: dict) -> dict:
    return {"type": NRI_NAME, "conf": opts}


def load_nri_conf(path: str) -> dict:
    """The NRI configuration list in path ({} when there is none); SetupError when bad."""
    if not os.path.exists(path):
        return {}
    try:
        conf = json.loads(read_text(path))
    except ValueError as e:
        raise SetupError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(conf, dict):
        raise SetupError(f"{path}: expected a JSON object with version and plugins")
    plugins = conf.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, dict) for p in plugins):
        raise SetupError(f"{path}: plugins: expected an array of objects")
    return conf


def nri_conf(conf: dict, path: str, entry: dict | None) -> dict:
    """conf with this plugin's entry replaced by entry (removed when None); others kept."""
    plugins = [p for p in conf.get("plugins", []) if p.get("type") != NRI_NAME]
    if entry is not None:
        plugins.append(entry)
    return {**conf, "version": conf.get("version") or "0.1", "plugins": plugins}


def nri_install(ns: argparse.Namespace) -> int:
    opts = hook_options(ns)
    opts.setdefault("log-fname", os.path.join(ns.host_install_dir or ns.local_install_dir,
                                              NRI_NAME + ".log"))  # fmt: skip
    lib = ""
    if ns.host_python:
        copy_hook_modules(ns.local_install_dir)
        lib = os.path.join(ns.host_install_dir or ns.local_install_dir, "lib")
    plugin = os.path.join(ns.nri_bin_dir, NRI_NAME)
    host_plugin = os.path.join(ns.nri_host_bin_dir or ns.nri_bin_dir, NRI_NAME)
    _write_atomic(plugin, launcher_text(host_plugin, ns.host_python, lib, "nri_hook"), 0o755)
    log(f"written NRI plugin plugin-path={plugin}")
    conf = nri_conf(load_nri_conf(ns.nri_conf), ns.nri_conf, nri_entry(opts))
    _write_atomic(ns.nri_conf, dump_json(conf), 0o644)
    log(f"written NRI configuration conf-path={ns.nri_conf}")
    return 0


def nri_uninstall(ns: argparse.Namespace) -> int:
    _remove(os.path.join(ns.nri_bin_dir, NRI_NAME), "NRI plugin")
    conf = load_nri_conf(ns.nri_conf)
    if not conf:
        log(f"nothing to remove: NRI configuration path={ns.nri_conf} does not exist")
        return 0
    new = nri_conf(conf, ns.nri_conf, None)
    if not new["plugins"]:
        _remove(ns.nri_conf, "NRI configuration (no plugins left)")
    else:
        _write_atomic(ns.nri_conf, dump_json(new), 0o644)
        log(f"removed {NRI_NAME} from NRI configuration conf-path={ns.nri_conf}")
    return 0


# --- containerd / CRI-O configuration ------------------------------------------------------
def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise SetupError(f"{path}: cannot read: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SetupError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None


def write_output(ns: argparse.Namespace, text: str, kind: str) -> None:
    out = ns.output
    if not out:
        fd, out = tempfile.mkstemp(prefix=f"{kind}.", suffix=".toml")
        os.close(fd)
    _write_atomic(out, text, 0o644)
    log(f"written output filename={out}")


# the spec `ctr oci spec` prints (containerd 1.6), for hosts without ctr
EMBEDDED_SPEC: dict = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "user": {"uid": 0, "gid": 0},
        "cwd": "/",
        "capabilities": {
            k: [
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FSETID",
                "CAP_FOWNER",
                "CAP_MKNOD",
                "CAP_NET_RAW",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_SETFCAP",
                "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT",
                "CAP_KILL",
                "CAP_AUDIT_WRITE",
            ]
            for k in ("bounding", "effective", "permitted")
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs"},
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},  # noqa: E501
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},  # noqa: E501
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},  # noqa: E501
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},  # noqa: E501
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},  # noqa: E501
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},  # noqa: E501
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},  # noqa: E501
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "cgroupsPath": "/default",
        "namespaces": [
            {"type": t} for t in ("pid", "ipc", "uts", "mount", "network")
        ],
        "maskedPaths": [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
            "/proc/scsi",
        ],
        "readonlyPaths": [
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
        ],
    },
}  # fmt: skip


def default_spec() -> tuple[dict, str]:
    """(spec, where it came from): `ctr oci spec` when ctr runs, else the embedded copy."""
    try:
        out = subprocess.run(
            ["ctr", "oci", "spec"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        spec = json.loads(out)
        if isinstance(spec, dict):
            return spec, "ctr oci spec"
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return json.loads(json.dumps(EMBEDDED_SPEC)), "embedded default"


def spec_with_hook(spec: dict, hook: str, fname: str) -> dict:
    """spec with a createRuntime hook entry for hook (once)."""
    hooks = spec.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise SetupError(f"{fname}: hooks is not an object")
    stage = hooks.setdefault("createRuntime", [])
    if not isinstance(stage, list):
        raise SetupError(f"{fname}: hooks.createRuntime is not an array")
    if not any(isinstance(h, dict) and h.get("path") == hook for h in stage):
        stage.append({"path": hook, "args": [hook, "createRuntime"]})
    return spec


def load_spec(path: str) -> dict:
    try:
        spec = json.loads(read_text(path))
    except ValueError as e:
        raise SetupError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(spec, dict):
        raise SetupError(f"{path}: expected a JSON object (an OCI runtime spec)")
    return spec


def write_base_spec(ns: argparse.Namespace, current: list[str]) -> None:
    """The base runtime spec with the hook: the runtime's current base spec when it has one
    (its settings are kept), else containerd's defaults."""
    src = next((p for p in current if os.path.isfile(p)), "")
    if os.path.isfile(ns.runtime_spec):
        src = ns.runtime_spec
    if src:
        spec, origin = load_spec(src), src
    else:
        spec, origin = default_spec()
    spec = spec_with_hook(spec, ns.hook_path, src or ns.runtime_spec)
    _write_atomic(ns.runtime_spec, json.dumps(spec, indent=4) + "\n", 0o644)
    log(f"written base runtime spec filename={ns.runtime_spec} from={origin}")


def cmd_add_oci_hook(ns: argparse.Namespace) -> int:
    text = read_text(ns.config_file)
    current = [
        p
        for p in _patch(toml_patch.base_runtime_specs, text, ns.config_file)
        if p != ns.runtime_spec
    ]
    new = _patch(toml_patch.add_oci_hook, text, ns.config_file, ns.runtime_spec)
    if not ns.no_write_spec:
        write_base_spec(ns, current)
    if new == text:
        log("nothing to do: base_runtime_spec already set")
    write_output(ns, new, "containerd")
    return 0


def cmd_enable_nri(ns: argparse.Namespace) -> int:
    text = read_text(ns.config_file)
    new = _patch(toml_patch.enable_nri, text, ns.config_file)
    if new == text:
        log("nothing to do: NRI already enabled")
    write_output(ns, new, "containerd")
    return 0


def cmd_crio_hooks_dir(ns: argparse.Namespace) -> int:
    text = read_text(ns.config_file)
    new = _patch(toml_patch.add_crio_hooks_dir, text, ns.config_file, ns.hooks_dir)
    if new == text:
        log("nothing to do: hooks_dir already set")
    write_output(ns, new, "crio")
    return 0


def _patch(fn, *args):
    try:
        return fn(*args)
    except ConfigError as e:
        raise SetupError(str(e)) from None


# --- command line ----------------------------------------------------------------------------
def log(msg: str) -> None:
    sys.stderr.write(f"tetragon-oci-hook-setup: {msg}\n")


def _interface(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--interface",
        default="oci-hooks",
        choices=["oci-hooks", "nri-hook"],
        help="hooks interface (oci-hooks: a hooks.d file for CRI-O and podman; nri-hook: "
        "an NRI v0.1 plugin for containerd 1.6)",
    )
    p.add_argument("--nri-bin-dir", default=DEFAULT_NRI_BIN, help="nri-hook: plugin directory")
    p.add_argument("--nri-conf", default=DEFAULT_NRI_CONF, help="nri-hook: NRI configuration")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="tetragon-oci-hook-setup",
        description="install tetragon-oci-hook and configure container runtimes to run it",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("install", help="install the hook and its hooks.d file")
    _interface(p)
    p.add_argument("--local-install-dir", default=DEFAULT_INSTALL_DIR)
    p.add_argument(
        "--host-install-dir",
        default="",
        help="the install dir as the runtime sees it (default: --local-install-dir)",
    )
    p.add_argument(
        "--host-python",
        default="",
        help="the node's Python 3 (installing from a container): the hook's modules are "
        "copied to <install dir>/lib and run with it (default: this Python, this package)",
    )
    p.add_argument("--hooks-dir", "--oci-hooks.local-dir", default=DEFAULT_HOOKS_DIR)
    p.add_argument(
        "--nri-host-bin-dir",
        default="",
        help="nri-hook: the plugin directory as the runtime sees it (default: --nri-bin-dir)",
    )
    for name in HOOK_OPTIONS:
        p.add_argument(f"--{name}", default=None, help="written to the hook's JSON file")
    p.add_argument("--disable-grpc", action="store_true", help="written to the hook's JSON file")
    p.add_argument("hook_args", nargs="*", help="after --: more arguments for the hook")
    p.set_defaults(fn=cmd_install)

    p = sub.add_parser("uninstall", help="remove the hook and its hooks.d file")
    _interface(p)
    p.add_argument("--local-install-dir", default=DEFAULT_INSTALL_DIR)
    p.add_argument("--hooks-dir", "--oci-hooks.local-dir", default=DEFAULT_HOOKS_DIR)
    p.set_defaults(fn=cmd_uninstall)

    p = sub.add_parser("print-config", help="print the hooks.d file")
    _interface(p)
    p.add_argument("--binary", default=os.path.join(DEFAULT_INSTALL_DIR, HOOK_NAME))
    p.add_argument("--args", action="append", default=[], help="an extra hook argument")
    p.set_defaults(fn=cmd_print_config)

    p = sub.add_parser("patch-containerd-conf", help="patch containerd's config.toml")
    psub = p.add_subparsers(dest="action", required=True)
    for name, fn, helptext in (
        ("add-oci-hook", cmd_add_oci_hook, "base_runtime_spec with the hook (runc runtimes)"),
        ("enable-nri", cmd_enable_nri, "add the NRI plugin section (containerd 1.7)"),
    ):
        q = psub.add_parser(name, help=helptext)
        q.add_argument("--config-file", default="/etc/containerd/config.toml")
        q.add_argument("--output", default="", help="default: a new temporary file")
        if name == "add-oci-hook":
            q.add_argument("--runtime-spec", default=DEFAULT_SPEC, help="base spec file to write")
            q.add_argument("--hook-path", default=os.path.join(DEFAULT_INSTALL_DIR, HOOK_NAME))
            q.add_argument(
                "--no-write-spec", action="store_true", help="only patch the configuration"
            )
        q.set_defaults(fn=fn)

    p = sub.add_parser("patch-crio-conf", help="patch CRI-O's crio.conf")
    psub = p.add_subparsers(dest="action", required=True)
    q = psub.add_parser("add-hooks-dir", help="hooks_dir in [crio.runtime]")
    q.add_argument("--config-file", default="/etc/crio/crio.conf")
    q.add_argument("--output", default="", help="default: a new temporary file")
    q.add_argument("--hooks-dir", default=DEFAULT_HOOKS_DIR)
    q.set_defaults(fn=cmd_crio_hooks_dir)
    return ap


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return ns.fn(ns)
    except SetupError as e:
        sys.stderr.write(f"tetragon-oci-hook-setup: error: {e}\n")
        return 2


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
