"""One unary gRPC call over HTTP/2 with the standard library only.

The hook runs on every container start; importing grpcio alone costs ~150 ms on this host,
three times the whole budget. A unary call needs little of HTTP/2: the preface, SETTINGS
(and their ACK), one HEADERS frame (HPACK literals, never indexed, no Huffman), one DATA
frame. The answer is judged by frame shape: a DATA frame carrying a gRPC message followed
by the end of the stream is success; a stream that ends without one (gRPC's trailers-only
error), RST_STREAM or GOAWAY is a failure. Response headers are not HPACK-decoded, so a
failure reports what the frames say, not the status text.
"""

from __future__ import annotations

import socket
import struct
import time

from appliance.errors import CallError

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: an error status this close to the deadline is the peer enforcing our grpc-timeout
DEADLINE_SLACK = 0.05
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def _frame(ftype: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes((ftype, flags))
        + struct.pack(">I", stream)
        + payload
    )


def _hpack_int(n: int, prefix_bits: int = 7) -> bytes:
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes((n,))
    out, n = bytearray((limit,)), n - limit
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    out.append(n)
    return bytes(out)


def _literal(name: str, value: str) -> bytes:
    """A header "without indexing, new name" (0x00), both strings raw."""
    n, v = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(n)) + n + _hpack_int(len(v)) + v


def _connect(address: str, timeout: float) -> socket.socket:
    if address.startswith("unix://"):
        path = address[len("unix://") :]
    elif address.startswith("unix:"):
        path = address[len("unix:") :]
    else:
        host, _, port = address.rpartition(":")
        return socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


def unary(address: str, method: str, message: bytes, timeout: float) -> None:
    """Call ``method`` (/pkg.Service/Method) with ``message``; CallError unless it succeeds."""
    deadline = time.monotonic() + timeout
    try:
        sock = _connect(address, timeout)
    except (OSError, ValueError) as e:
        raise CallError(f"connecting to agent ({e}) failed: {address}") from None
    authority = "localhost" if address.startswith("unix") else address
    headers = b"".join(
        _literal(k, v)
        for k, v in (
            (":method", "POST"),
            (":scheme", "http"),
            (":path", method),
            (":authority", authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-timeout", f"{max(1, int(timeout * 1000))}m"),
        )
    )
    body = b"\x00" + struct.pack(">I", len(message)) + message
    try:
        with sock:
            sock.sendall(
                PREFACE
                + _frame(SETTINGS, 0, 0)
                + _frame(HEADERS, END_HEADERS, 1, headers)
                + _frame(DATA, END_STREAM, 1, body)
            )
            _await_answer(sock, deadline)
    except TimeoutError:
        raise CallError(
            "rpc error: code = DeadlineExceeded desc = context deadline exceeded"
        ) from None
    except OSError as e:
        raise CallError(f"rpc error: code = Unavailable desc = {e}") from None


def _await_answer(sock: socket.socket, deadline: float) -> None:
    buf = b""
    got_message = False

    def need(n: int) -> bytes:
        nonlocal buf
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                raise CallError("rpc error: code = Unavailable desc = connection closed by agent")
            buf += chunk
        out, buf = buf[:n], buf[n:]
        return out

    while True:
        head = need(9)
        length = int.from_bytes(head[:3], "big")
        ftype, flags = head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload = need(length) if length else b""
        if ftype == SETTINGS and not flags & ACK:
            sock.sendall(_frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK:
            sock.sendall(_frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            code = int.from_bytes(payload[4:8], "big") if len(payload) >= 8 else -1
            raise CallError(f"rpc error: code = Unavailable desc = agent sent GOAWAY ({code})")
        elif stream == 1 and ftype == RST_STREAM:
            code = int.from_bytes(payload[:4], "big") if payload else -1
            raise CallError(f"rpc error: code = Internal desc = stream reset by agent ({code})")
        elif stream == 1 and ftype == DATA and length >= 5:
            got_message = True
        if stream == 1 and ftype in (DATA, HEADERS) and flags & END_STREAM:
            if got_message:
                return
            if time.monotonic() >= deadline - DEADLINE_SLACK:
                # the peer enforces the grpc-timeout we sent and ends the call with
                # DEADLINE_EXCEEDED just as our own deadline passes: the same outcome
                raise TimeoutError
            raise CallError("rpc error: the agent answered with an error status")
