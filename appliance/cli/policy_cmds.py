"""`tetra tracingpolicy ...` subcommands."""

from __future__ import annotations

import argparse


def cmd_validate(args) -> int:
    from appliance.policy.validate import validate_main

    return validate_main(args.files)


def register(sub) -> None:
    tp = sub.add_parser("tracingpolicy", aliases=["tp"], help="manage tracing policies")
    tps = tp.add_subparsers(dest="tpcmd", required=True)
    v = tps.add_parser("validate", help="check policy files offline (no agent, no root)")
    v.add_argument("files", nargs="+")
    v.set_defaults(func=cmd_validate)
    _ = argparse  # subcommands that talk to the agent are added by the policy engine
