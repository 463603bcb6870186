"""What every `tetra` command that calls the agent shares: the client stub and the
report of a failed call (kept apart so the subcommand modules need not import the CLI's
entry point)."""

from __future__ import annotations

import os
import sys

DEFAULT_SERVER = "unix:///var/run/tetragon/tetragon.sock, then localhost:54321"


def address(args) -> str:
    """--server-address, TETRA_SERVER_ADDRESS, else the packaged socket or localhost:54321."""
    from appliance.api.address import default_agent_address

    if not getattr(args, "resolved_address", ""):
        given = args.server_address or os.environ.get("TETRA_SERVER_ADDRESS")
        args.resolved_address = given or default_agent_address()
    return args.resolved_address


def _tried(args) -> str:
    given = args.server_address or os.environ.get("TETRA_SERVER_ADDRESS")
    return given or DEFAULT_SERVER.replace(", then ", " or ")


def server_target(args) -> str:
    from appliance.api.server import grpc_target

    return grpc_target(address(args))


def stub(args):
    """A FineGuidanceSensors client for the address of --server-address."""
    import grpc

    from appliance.api.tetragon import sensors_pb2_grpc

    channel = grpc.insecure_channel(server_target(args))
    return sensors_pb2_grpc.FineGuidanceSensorsStub(channel)


def _denied_socket(args) -> str:
    """The unix socket this user may not open, if that is why the agent was unreachable
    (the agent's socket is root's with mode 600, so "is tetragon running?" would mislead)."""
    addr = address(args)
    if not addr.startswith("unix://"):
        return ""
    path = addr[len("unix://") :]
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        return path
    return ""


def rpc_error(args, e) -> int:
    """Print a failed call the way a user can act on it; the exit status."""
    code = e.code().name if hasattr(e, "code") else ""
    denied = _denied_socket(args) if code == "UNAVAILABLE" else ""
    if denied:
        print(
            f"tetra: permission denied on {denied}: the agent's socket is readable and "
            "writable by root only; run tetra as root",
            file=sys.stderr,
        )
    elif code == "UNAVAILABLE":
        print(
            f"tetra: cannot reach the agent at {_tried(args)}: "
            "is tetragon running? (pass --server-address to use another address)",
            file=sys.stderr,
        )
    else:
        detail = e.details() if hasattr(e, "details") else str(e)
        print(f"tetra: {code or 'error'}: {detail}", file=sys.stderr)
    return 1
