"""Where a client finds the agent when it is not told: the packaged socket, then TCP.

The packaged install and the image serve the API on ``unix:///var/run/tetragon/tetragon.sock``
(mode 600, see config/tetragon.conf.d/server-address); the agent's built-in default, as
Tetragon's, is ``localhost:54321``. ``tetra`` and the controller try the socket first, so
``sudo tetra getevents`` works against either without ``--server-address``.
"""

from __future__ import annotations

import socket

DEFAULT_SOCKET_ADDRESS = "unix:///var/run/tetragon/tetragon.sock"
DEFAULT_TCP_ADDRESS = "localhost:54321"


def socket_answers(address: str, timeout: float = 1.0) -> bool:
    """Whether something accepts connections on the ``unix://`` ``address``."""
    path = address[len("unix://") :]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def default_agent_address(socket_address: str = DEFAULT_SOCKET_ADDRESS) -> str:
    """The socket when an agent listens there, else ``localhost:54321``."""
    return socket_address if socket_answers(socket_address) else DEFAULT_TCP_ADDRESS
