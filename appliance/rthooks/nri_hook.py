"""tetragon-nri-hook: the exec-style NRI v0.1 plugin that containerd 1.6's CRI plugin runs.

containerd 1.6 reads ``/etc/nri/conf.json`` (``{"version": "0.1", "plugins": [{"type":
"tetragon-nri-hook", "conf": {...}}]}``) at every container start and runs
``/opt/nri/bin/<type> invoke`` with a JSON request on stdin: version, id, sandboxID, pid,
state (``create`` after the task is created and before it is started, ``delete`` when it
is removed), spec (cgroupsPath, annotations, namespaces, resources), the pod sandbox's
labels and the plugin's ``conf``. The plugin prints a JSON result on stdout. The client
containerd 1.6.20 vendors fails the container start only when that result's ``error`` is
set (a non-zero exit alone is not enough: it still parses stdout as a result); the older
v0.1.0 client read ``{"plugin", "message"}`` instead, so a failure carries both.

On ``create`` of an app container it sends the same RuntimeHook CreateContainer as
tetragon-oci-hook, applies the same fail check and writes the same log lines (``hook``
is ``nri-create``). Its options are the hook's flags, taken from ``conf`` (set by
``tetragon-oci-hook-setup install --interface=nri-hook``); when the request itself cannot
be read, they come from the plugin's entry in the NRI configuration file, so the log and
the fail check are still the configured ones. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys

from appliance.rthooks import oci_hook

PLUGIN = "tetragon-nri-hook"
DEFAULT_LOG = "/opt/tetragon/tetragon-nri-hook.log"
#: where containerd 1.6 reads the plugin list (fixed in its NRI v0.1 client)
NRI_CONF = os.environ.get("TETRAGON_NRI_CONF", "/etc/nri/conf.json")


class RequestError(Exception):
    """A request the plugin cannot read; the fail check then decides."""


def read_request(stdin) -> dict:
    data = "" if stdin is None or stdin.isatty() else stdin.read()
    if not data.strip():
        raise RequestError("empty NRI request on stdin")
    try:
        req = json.loads(data)
    except ValueError as e:
        raise RequestError(f"NRI request on stdin is not JSON: {e}") from None
    if not isinstance(req, dict):
        raise RequestError("NRI request on stdin is not a JSON object")
    return req


def conf_from_file(path: str = "") -> dict:
    """This plugin's ``conf`` in the NRI configuration file ({} when there is none)."""
    try:
        with open(path or NRI_CONF, encoding="utf-8") as f:
            data = json.load(f)
        for p in data.get("plugins") or []:
            if isinstance(p, dict) and p.get("type") == PLUGIN and isinstance(p.get("conf"), dict):
                return p["conf"]
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def options(req: dict) -> tuple[dict, str]:
    """The hook's options (defaults, then the request's ``conf``) and a configuration error."""
    conf = oci_hook.parse_args(["invoke"])
    conf["log-fname"] = DEFAULT_LOG
    err = conf.pop("config-error", "")
    given = req.get("conf")
    if given is None:
        return conf, err
    if not isinstance(given, dict):
        return conf, f"{NRI_CONF}: plugins[{PLUGIN}].conf: expected a JSON object"
    for k, v in given.items():
        if k in conf and k != "hook":
            conf[k] = ",".join(v) if isinstance(v, list) else v
        else:
            err = f"{NRI_CONF}: plugins[{PLUGIN}].conf: unknown option {k!r}"
    if isinstance(conf["disable-grpc"], str):
        conf["disable-grpc"] = conf["disable-grpc"].lower() not in ("false", "0", "")
    return conf, err


def annotations(req: dict) -> dict:
    """The spec's annotations and the sandbox labels (what the fail check reads)."""
    spec = req.get("spec")
    if not isinstance(spec, dict):
        raise RequestError("NRI request: spec is missing or not an object")
    ann = spec.get("annotations") or {}
    labels = req.get("labels") or {}
    if not isinstance(ann, dict) or not isinstance(labels, dict):
        raise RequestError("NRI request: spec.annotations or labels is not an object")
    return {**labels, **ann}


def build_request(req: dict, both: dict) -> dict:
    """The CreateContainer fields; RequestError/HookError for a cgroup path it cannot use."""
    spec = req["spec"]
    raw = spec.get("cgroupsPath") or ""
    if not raw:
        raise RequestError("NRI request: spec.cgroupsPath is empty")
    cgroups = oci_hook.systemd_expand(raw)
    f = oci_hook._first
    return {
        "cgroupsPath": cgroups,
        "rootDir": "",
        "annotations": spec.get("annotations") or {},
        "containerName": f(
            both, "io.kubernetes.cri.container-name", "io.kubernetes.container.name"
        ),
        "containerID": str(req.get("id", "")),
        "podName": f(both, "io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"),
        "podUID": f(both, "io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"),
        "podNamespace": f(
            both, "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"
        ),
        "containerImage": f(both, "io.kubernetes.cri.image-name"),
    }


def result(req: dict, error: str = "") -> str:
    """The v0.1 Result; with error set, containerd fails the start with that message."""
    version = req.get("version") if isinstance(req.get("version"), str) else "0.1"
    res: dict = {"plugin": PLUGIN, "version": version or "0.1", "metadata": {}}
    if error:
        res.update(error=error, message=error)
    return json.dumps(res)


def handle(req: dict, conf: dict, log: oci_hook.Log) -> tuple[int, str]:
    """(exit status, message when it is 1) for one request."""
    state = req.get("state")
    if state != "create":
        log.debug("nothing to do", state=state, id=req.get("id"))
        return 0, ""
    if req.get("sandboxID") and req.get("sandboxID") == req.get("id"):
        log.debug("pod sandbox: nothing to do", id=req.get("id"))
        return 0, ""
    log.with_(hook="nri-create", **{"start-time": oci_hook._now()})
    ann: dict | None = None
    try:
        ann = annotations(req)
        cc = build_request(req, ann)
    except (RequestError, oci_hook.HookError) as e:
        return oci_hook.before_agent_error(conf, log, ann, str(e))
    return oci_hook.tell_agent(conf, log, cc, ann)


def main(argv: list[str] | None = None, stdin=None, stdout=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = stdout or sys.stdout
    req: dict = {}
    read_err = ""
    try:
        req = read_request(sys.stdin if stdin is None else stdin)
    except RequestError as e:
        read_err = str(e)
    conf, conf_err = options(req if not read_err else {"conf": conf_from_file()})
    log = oci_hook.Log(str(conf["log-fname"]), str(conf["log-level"]), PLUGIN)
    if conf_err:
        log.warn("ignoring bad configuration", err=conf_err)
    if argv[:1] != ["invoke"]:
        log.warn("plugin called without the invoke command", args=" ".join(argv))
    try:
        if read_err:
            log.with_(hook="nri-create", **{"start-time": oci_hook._now()})
            rc, msg = oci_hook.before_agent_error(conf, log, None, read_err)
        else:
            rc, msg = handle(req, conf, log)
    except Exception as e:  # never a traceback: containerd shows stdout in its error
        log.warn("unexpected error", err=f"{type(e).__name__}: {e}")
        rc, msg = 1, f"{PLUGIN}: {e}. Check logs ({conf['log-fname']})"
    if rc:
        out.write(result(req, msg))
        sys.stderr.write(f"{PLUGIN}: {msg}\n")
    else:
        out.write(result(req))
    out.flush()
    return rc


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
