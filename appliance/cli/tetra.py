"""tetra: the command-line client of the agent (getevents, status, version, probe, ...)."""

from __future__ import annotations

import argparse
import os
import re
import sys

import orjson

from appliance.cli.rpc import DEFAULT_SERVER, rpc_error, server_target, stub


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _field_filters(args) -> list[dict]:
    """-f/-F as the request's field filters (for every event type), snake_case paths."""
    out = []
    for paths, action in ((args.include_fields, "INCLUDE"), (args.exclude_fields, "EXCLUDE")):
        paths = _split(paths)
        if paths:
            out.append({"fields": paths, "action": action})
    return out


def _request_filter(args) -> dict:
    for name in ("processes", "pods", "namespace", "event_types", "pid"):
        setattr(args, name, _split(getattr(args, name)))
    if args.host:
        args.namespace.append("")  # host processes have no pod namespace
    f: dict = {}
    if args.processes:
        f["binary_regex"] = [
            p if any(ch in p for ch in "^$*+?[](|\\") else re.escape(p) for p in args.processes
        ]
    if args.pods:
        f["pod_regex"] = list(args.pods)
    if args.namespace:
        f["namespace"] = list(args.namespace)
    if args.event_types:
        f["event_set"] = [t.upper() for t in args.event_types]
    if args.pid:
        f["pid"] = [int(p) for p in args.pid]
    return f


def _print_event(event: dict, args, colors) -> None:
    from appliance.cli.compact import event_line

    if args.output == "compact":
        line = event_line(event, colors)
        if line is None:
            return
        if args.timestamps:
            line = f"{event.get('time', '')} {line}"
        sys.stdout.write(line + "\n")
    else:
        sys.stdout.write(orjson.dumps(event).decode() + "\n")
    sys.stdout.flush()


def cmd_getevents(args) -> int:
    from appliance.cli.compact import Colors, use_color
    from appliance.cli.own import own_container_filter
    from appliance.errors import FilterError
    from appliance.export.fields import apply_all, parse_field_filters
    from appliance.export.filters import EventFilter

    colors = Colors(args.output == "compact" and use_color(args.color))
    flt = _request_filter(args)
    own = own_container_filter(args.include_own_container)
    if args.stdin or (not sys.stdin.isatty() and not args.server_address and _stdin_has_data()):
        try:
            match = EventFilter([flt] if flt else [], [own] if own else [])
            fields = parse_field_filters(_field_filters(args))
        except FilterError as e:
            print(f"tetra: {e}", file=sys.stderr)
            return 2
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # log lines mixed with events, as kubectl logs gives
            if isinstance(event, dict) and match(event):
                _print_event(apply_all(fields, event), args, colors)
        return 0

    import grpc
    from google.protobuf import json_format

    from appliance.api.tetragon import events_pb2

    req = events_pb2.GetEventsRequest()
    if flt:
        json_format.ParseDict(flt, req.allow_list.add())
    if own:
        json_format.ParseDict(own, req.deny_list.add())
    for ff in _field_filters(args):
        msg = req.field_filters.add()
        msg.fields.paths.extend(ff["fields"])
        msg.action = events_pb2.FieldFilterAction.Value(ff["action"])
    try:
        for resp in stub(args).GetEvents(req):
            event = json_format.MessageToDict(resp, preserving_proto_field_name=True)
            _print_event(event, args, colors)
    except grpc.RpcError as e:
        return rpc_error(args, e)
    except KeyboardInterrupt:
        return 0
    return 0


def _stdin_has_data() -> bool:
    """A pipe or file on stdin (not /dev/null) means: read events from it."""
    import stat

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or (stat.S_ISREG(mode) and os.fstat(0).st_size > 0)


def cmd_status(args) -> int:
    import grpc

    from appliance.api.tetragon import tetragon_pb2

    try:
        resp = stub(args).GetHealth(tetragon_pb2.GetHealthStatusRequest(), timeout=args.timeout)
    except grpc.RpcError as e:
        return rpc_error(args, e)
    ok = True
    for h in resp.health_status:
        status = tetragon_pb2.HealthStatusResult.Name(h.status)
        print(f"Health Status: {h.details or status.lower()}")
        ok = ok and h.status == tetragon_pb2.HEALTH_STATUS_RUNNING
    _print_agent_status(args)
    return 0 if ok else 1


def _print_agent_status(args) -> None:
    """The appliance's own status: policies, the last configuration error and every
    drop and error counter."""
    import grpc

    from appliance.api import appliance_pb2, appliance_pb2_grpc

    channel = grpc.insecure_channel(server_target(args))
    try:
        st = appliance_pb2_grpc.AgentStub(channel).GetAgentStatus(
            appliance_pb2.GetAgentStatusRequest(), timeout=args.timeout
        )
    except grpc.RpcError:
        return  # an upstream agent: health is all there is
    print(f"Agent: pid {st.pid}, version {st.version}, log level {st.log_level}")
    print(f"Policies: {len(st.policies)} loaded")
    if st.last_config_error:
        print(f"Last configuration error: {st.last_config_error}")
    for title, counters in (("Drops", st.drops), ("Errors", st.errors)):
        if counters:
            print(f"{title}:")
            width = max(len(c.name) for c in counters)
            for c in counters:
                print(f"  {c.name:{width}} {c.value}")


def cmd_version(args) -> int:
    import grpc

    from appliance import __version__
    from appliance.api.tetragon import sensors_pb2

    print(f"CLI version: {__version__}")
    if args.client:
        return 0
    try:
        resp = stub(args).GetVersion(sensors_pb2.GetVersionRequest(), timeout=args.timeout)
    except grpc.RpcError as e:
        return rpc_error(args, e)
    print(f"Server version: {resp.version}")
    return 0


def cmd_probe(args) -> int:
    from appliance.bpf import btf as btfmod
    from appliance.bpf.features import probe
    from appliance.bpf.paths import bpf_lib
    from appliance.errors import BpfError, BtfNotFound

    if os.geteuid() != 0:
        print("tetra probe: must run as root to load test programs; use sudo", file=sys.stderr)
        return 1
    try:
        path = btfmod.discover(args.btf or "")
        feats = probe(args.bpf_lib or bpf_lib(), path)
    except (BtfNotFound, BpfError) as e:
        print(f"tetra probe: {e}", file=sys.stderr)
        return 1
    for line in feats.lines():
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tetra", description="Tetragon CLI")
    p.add_argument("--server-address", default="", help=f"agent address (default {DEFAULT_SERVER})")
    p.add_argument("--timeout", type=float, default=10.0, help="RPC timeout in seconds")
    sub = p.add_subparsers(dest="cmd", required=True)

    g = sub.add_parser("getevents", help="print events")
    g.add_argument("-o", "--output", choices=["json", "compact"], default="json")
    # lists take several values, repeated flags or commas, as upstream's string slices
    lst = {"nargs": "+", "action": "extend", "default": []}
    g.add_argument("--process", "--processes", dest="processes", help="binary regexes", **lst)
    g.add_argument(
        "--pod",
        "--pods",
        dest="pods",
        help="pod name regexes (outside Kubernetes: container names)",
        **lst,
    )
    g.add_argument(
        "-n", "--namespace", "--namespaces", dest="namespace", help="Kubernetes namespaces", **lst
    )
    g.add_argument("--host", action="store_true", help="host events (no pod namespace)")
    g.add_argument("--event-types", help="e.g. PROCESS_EXEC", **lst)
    g.add_argument("--pid", help="process ids", **lst)
    g.add_argument(
        "-f", "--include-fields", help="only these fields, e.g. process,parent.pod", **lst
    )
    g.add_argument("-F", "--exclude-fields", help="drop these fields, e.g. parent", **lst)
    g.add_argument("--timestamps", action="store_true", help="prefix compact lines with time")
    g.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    g.add_argument("--stdin", action="store_true", help="read JSON events from standard input")
    g.add_argument(
        "--include-own-container",
        action="store_true",
        help="also the events of the container tetra runs in (the appliance's own "
        "processes, its healthcheck): left out by default",
    )
    g.add_argument("--server-address", default=argparse.SUPPRESS)
    g.set_defaults(func=cmd_getevents)

    s = sub.add_parser("status", help="agent health")
    s.add_argument("--server-address", default=argparse.SUPPRESS)
    s.set_defaults(func=cmd_status)

    v = sub.add_parser("version", help="versions of the CLI and the agent")
    v.add_argument("--client", action="store_true", help="only the CLI version")
    v.add_argument("--server-address", default=argparse.SUPPRESS)
    v.set_defaults(func=cmd_version)

    pr = sub.add_parser("probe", help="kernel features this host offers")
    pr.add_argument("--btf", default="")
    pr.add_argument("--bpf-lib", default="")
    pr.set_defaults(func=cmd_probe)

    from appliance.cli import debug_cmds, policy_cmds

    policy_cmds.register(sub)
    debug_cmds.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # the sub-command's usage, and the flag it probably meant
        from appliance.suggest import did_you_mean

        sub = parser._subparsers._group_actions[0].choices.get(args.cmd, parser)
        sub.error(f"unrecognized arguments: {' '.join(unknown)}{did_you_mean(unknown, sub)}")
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
