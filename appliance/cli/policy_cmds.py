"""`tetra tracingpolicy ...`: validate offline, or manage policies in the running agent."""

from __future__ import annotations

import sys


def cmd_validate(args) -> int:
    from appliance.policy.validate import validate_main

    return validate_main(args.files)


def _call(args, fn):
    import grpc

    from appliance.cli.rpc import rpc_error, stub

    try:
        return fn(stub(args)), 0
    except grpc.RpcError as e:
        return None, rpc_error(args, e)


def cmd_add(args) -> int:
    from appliance.api.tetragon import sensors_pb2

    try:
        text = open(args.file).read()
    except OSError as e:
        print(f"tetra: {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    _, rc = _call(
        args, lambda s: s.AddTracingPolicy(sensors_pb2.AddTracingPolicyRequest(yaml=text))
    )
    if rc == 0:
        print("tracing policy added")
    return rc


def cmd_delete(args) -> int:
    from appliance.api.tetragon import sensors_pb2

    req = sensors_pb2.DeleteTracingPolicyRequest(name=args.name, namespace=args.namespace)
    _, rc = _call(args, lambda s: s.DeleteTracingPolicy(req))
    if rc == 0:
        print("tracing policy deleted")
    return rc


def cmd_enable(args) -> int:
    from appliance.api.tetragon import sensors_pb2

    req = sensors_pb2.EnableTracingPolicyRequest(name=args.name, namespace=args.namespace)
    _, rc = _call(args, lambda s: s.EnableTracingPolicy(req))
    return rc


def cmd_disable(args) -> int:
    from appliance.api.tetragon import sensors_pb2

    req = sensors_pb2.DisableTracingPolicyRequest(name=args.name, namespace=args.namespace)
    _, rc = _call(args, lambda s: s.DisableTracingPolicy(req))
    return rc


def cmd_list(args) -> int:
    from google.protobuf import json_format

    from appliance.api.tetragon import sensors_pb2

    resp, rc = _call(
        args, lambda s: s.ListTracingPolicies(sensors_pb2.ListTracingPoliciesRequest())
    )
    if rc:
        return rc
    if args.output == "json":
        print(json_format.MessageToJson(resp, preserving_proto_field_name=True))
        return 0
    print(f"{'ID':<4} {'NAME':<28} {'STATE':<10} {'NAMESPACE':<12} {'INFO'}")
    for p in resp.policies:
        state = sensors_pb2.TracingPolicyState.Name(p.state).replace("TP_STATE_", "").lower()
        print(f"{p.id:<4} {p.name:<28} {state:<10} {p.namespace or '(global)':<12} {p.info}")
        for s in p.sensors:
            print(f"     hook {s}")
        if p.error:
            print(f"     error: {p.error}")
    return 0


def register(sub) -> None:
    tp = sub.add_parser("tracingpolicy", aliases=["tp"], help="manage tracing policies")
    tps = tp.add_subparsers(dest="tpcmd", required=True)
    v = tps.add_parser("validate", help="check policy files offline (no agent, no root)")
    v.add_argument("files", nargs="+")
    v.set_defaults(func=cmd_validate)
    a = tps.add_parser("add", help="load a policy into the agent")
    a.add_argument("file")
    a.set_defaults(func=cmd_add)
    for name, fn in (("delete", cmd_delete), ("enable", cmd_enable), ("disable", cmd_disable)):
        c = tps.add_parser(name, help=f"{name} a loaded policy")
        c.add_argument("name")
        c.add_argument("--namespace", "-n", default="")
        c.set_defaults(func=fn)
    ls = tps.add_parser("list", help="loaded policies: state, hooks and attach methods, counters")
    ls.add_argument("-o", "--output", choices=["text", "json"], default="text")
    ls.set_defaults(func=cmd_list)
