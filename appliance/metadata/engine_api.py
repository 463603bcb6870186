"""The few Docker Engine API calls the docker source makes, over the standard library.

The docker SDK (with requests, urllib3, idna and charset_normalizer) added about 7 MB to
the idle agent's RSS for four calls: ``GET /version``, ``GET /containers/json``,
``GET /containers/{id}/json`` and the ``GET /events`` stream. This client makes them with
:mod:`http.client` over the engine's unix socket (or TCP for ``tcp://`` and ``http://``
addresses, as ``DOCKER_HOST`` may give), with the method names and return values of the
SDK's ``APIClient`` that :class:`~appliance.metadata.docker.DockerSource` uses.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

#: the oldest API version with everything used here (``Actor`` in events); the engine's
#: own version is used when it is newer (as the SDK's ``version="auto"`` does)
MIN_API_VERSION = "1.24"


class EngineError(Exception):
    """The engine answered with an error status (``status_code``), or not at all."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class NotFound(EngineError):
    """404: the container (or path) does not exist."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


class EngineClient:
    """A Docker Engine API client for one engine address (``unix:///path``, ``tcp://h:p``)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        u = urllib.parse.urlsplit(base_url)
        if u.scheme in ("unix", "http+unix"):
            self._unix = u.path or "/var/run/docker.sock"
            self._host = ""
        elif u.scheme in ("tcp", "http"):
            self._unix = ""
            self._host = u.netloc
        else:
            raise EngineError(f"engine address {base_url!r}: expected unix:// or tcp://")
        self.base_url = base_url
        self.timeout = timeout
        self.api_version = ""
        self._stream_conn: http.client.HTTPConnection | None = None

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._unix:
            return _UnixConnection(self._unix, timeout)
        return http.client.HTTPConnection(self._host, timeout=timeout)

    def _path(self, path: str, query: Mapping[str, str] | None = None) -> str:
        if not self.api_version:
            self._negotiate()
        q = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"/v{self.api_version}{path}{q}"

    def _negotiate(self) -> None:
        ver = self._get_json("/version").get("ApiVersion") or MIN_API_VERSION
        self.api_version = ver

    def _get(self, path: str, timeout: float | None) -> tuple[http.client.HTTPConnection, Any]:
        conn = self._connect(timeout)
        try:
            conn.request("GET", path, headers={"Host": "docker"})
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise EngineError(f"engine at {self.base_url}: {e}") from None
        if resp.status >= 400:
            body = resp.read(4096)
            conn.close()
            try:
                msg = json.loads(body).get("message", "")
            except (ValueError, AttributeError):
                msg = body.decode(errors="replace").strip()
            cls = NotFound if resp.status == 404 else EngineError
            raise cls(f"{resp.status} {resp.reason}: {msg}", resp.status)
        return conn, resp

    def _get_json(self, path: str) -> Any:
        conn, resp = self._get(path, self.timeout)
        try:
            return json.loads(resp.read())
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise EngineError(f"engine at {self.base_url}: {path}: {e}") from None
        finally:
            conn.close()

    # -- the APIClient calls -------------------------------------------------------------
    def ping(self) -> bool:
        """``GET /_ping``; negotiates the API version too."""
        conn, resp = self._get("/_ping", self.timeout)
        resp.read()
        conn.close()
        if not self.api_version:
            self._negotiate()
        return True

    def containers(self, all: bool = False) -> list[dict[str, Any]]:  # noqa: A002 (SDK name)
        return self._get_json(self._path("/containers/json", {"all": "1" if all else "0"}))

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return self._get_json(self._path(f"/containers/{urllib.parse.quote(container_id)}/json"))

    def events(self, decode: bool = True, filters: Mapping[str, Any] | None = None) -> _Events:
        """The engine's event stream: one dict per event until closed or disconnected."""
        query = {"filters": json.dumps(_filters(filters))} if filters else None
        conn, resp = self._get(self._path("/events", query), None)  # no timeout: it waits
        self._stream_conn = conn
        return _Events(conn, resp)

    def close(self) -> None:
        conn, self._stream_conn = self._stream_conn, None
        if conn is not None:
            _shutdown(conn)


class _Events:
    """An iterator over the JSON objects of ``GET /events``; ``close()`` from any thread."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse):
        self._conn = conn
        self._resp = resp

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            try:
                line = self._resp.readline()
            except (OSError, ValueError, http.client.HTTPException) as e:
                raise EngineError(f"event stream: {e}") from None
            if not line:
                return  # the engine or close() ended the stream
            line = line.strip()
            if line:
                yield json.loads(line)

    def close(self) -> None:
        _shutdown(self._conn)


def _filters(filters: Mapping[str, Any]) -> dict[str, list[str]]:
    """The engine's filter form: every value a list of strings (``{"type": ["container"]}``)."""
    out = {}
    for k, v in filters.items():
        if isinstance(v, bool):
            v = ["true" if v else "false"]
        elif isinstance(v, str):
            v = [v]
        out[k] = [str(x) for x in v]
    return out


def _shutdown(conn: http.client.HTTPConnection) -> None:
    """Unblock a reader in another thread, then close."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    conn.close()
