"""Container metadata from the Docker engine: name, image, labels, start time.

The source keeps a cache of the engine's containers: it lists them when it starts, then
follows the engine's container events (create, start, rename, die, destroy) in a
background thread. Lookups on the event loop only read the cache; a miss returns ``None``
at once and asks a second background thread to inspect that container, so the next
lookup finds it. A lost connection to the engine is retried with a pause; the cache
stays usable meanwhile.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from appliance.events.common import CONTAINER_ID_LEN
from appliance.metadata.base import ContainerInfo, MetadataSource

log = logging.getLogger("tetragon.metadata")

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_URL = "unix://" + DEFAULT_SOCKET
FOLLOWED_ACTIONS = ("create", "start", "rename", "die", "destroy")

#: a container destroyed this long ago is forgotten; until then late events (the exit of
#: its last process, read from the ring buffer after ``docker run --rm`` removed it) still
#: carry its name
DESTROYED_GRACE_S = 60.0
#: a container id that the engine does not know is asked about again after this long
MISS_RETRY_S = 5.0

_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")
_ZERO_TIME = "0001-01-01T00:00:00Z"


def api_client(base_url: str, timeout: float):
    """An Engine API client (:mod:`appliance.metadata.engine_api`, the calls of the docker
    SDK's ``APIClient`` this source makes); negotiates the API version with the engine."""
    from appliance.metadata.engine_api import EngineClient

    return EngineClient(base_url, timeout)


def ping(base_url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether a Docker engine answers at ``base_url``, and why not when it does not."""
    try:
        client = api_client(base_url, timeout)
    except Exception as e:  # EngineError, OSError
        return False, _short_error(e)
    try:
        client.ping()
        return True, f"engine API {client.api_version}"
    except Exception as e:
        return False, _short_error(e)
    finally:
        client.close()


def _short_error(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def normalize_time(text: str) -> str:
    """Docker's RFC 3339 time as Tetragon writes timestamps: UTC, 9 fraction digits, Z."""
    if not text or text.startswith(_ZERO_TIME[:10]):
        return ""
    m = _TS_RE.match(text)
    if not m:
        return ""
    base, frac, zone = m.group(1), (m.group(2) or "")[:9].ljust(9, "0"), m.group(3)
    if zone != "Z":
        dt = datetime.fromisoformat(base + zone).astimezone(UTC)
        base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac}Z"


def info_from_inspect(d: Mapping[str, Any]) -> ContainerInfo:
    """A ContainerInfo from the engine's ``GET /containers/{id}/json`` answer."""
    config = d.get("Config") or {}
    state = d.get("State") or {}
    return ContainerInfo(
        id=d.get("Id", ""),
        name=(d.get("Name") or "").lstrip("/"),
        image_name=config.get("Image") or "",
        image_id=d.get("Image") or "",
        labels=dict(config.get("Labels") or {}),
        start_time=normalize_time(state.get("StartedAt") or ""),
        pid=int(state.get("Pid") or 0),
        runtime="docker",
    )


def info_from_summary(d: Mapping[str, Any]) -> ContainerInfo:
    """A ContainerInfo from one entry of ``GET /containers/json`` (no start time, no pid)."""
    names = d.get("Names") or []
    return ContainerInfo(
        id=d.get("Id", ""),
        name=names[0].lstrip("/") if names else "",
        image_name=d.get("Image") or "",
        image_id=d.get("ImageID") or "",
        labels=dict(d.get("Labels") or {}),
        runtime="docker",
    )


class DockerSource(MetadataSource):
    kind = "docker"

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        client_factory: Callable[[str, float], Any] = api_client,
        timeout: float = 5.0,
        retry_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url
        self._factory = client_factory
        self._timeout = timeout
        self._retry_s = retry_s
        self._clock = clock
        self._by_id: dict[str, ContainerInfo] = {}  # by the first 31 characters of the id
        self._destroyed: dict[str, float] = {}  # key -> when to forget it
        self._asked: dict[str, float] = {}  # key -> when a refresh was last asked for
        self._refresh: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # writers only; readers see whole dict operations
        self._stream = None
        self._threads: list[threading.Thread] = []
        self.synced = threading.Event()  # the first listing is in the cache
        self.connected = False
        self.lookups = 0
        self.misses = 0

    def describe(self) -> str:
        return f"docker ({self.base_url})"

    # -- the event loop's side -----------------------------------------------------------
    def container(self, container_id: str, cgroup_id: int) -> ContainerInfo | None:
        if not container_id:
            return None
        key = container_id[:CONTAINER_ID_LEN]
        self.lookups += 1
        info = self._by_id.get(key)
        if info is not None and info.has_started():
            return info
        if info is None:
            self.misses += 1
        # unknown, or created but not yet seen running: ask the engine again
        now = self._clock()
        last = self._asked.get(key)
        if last is None or now - last >= MISS_RETRY_S:
            self._asked[key] = now
            self._refresh.put(key)
        return info

    def first_process_started(self, info: ContainerInfo, start_time: str) -> ContainerInfo:
        hinted = replace(info, start_time=start_time)
        key = info.short_id
        with self._lock:
            if self._by_id.get(key) is info:  # not replaced by the engine's answer meanwhile
                self._by_id[key] = hinted
        return hinted

    def __len__(self) -> int:
        return len(self._by_id)

    # -- life cycle ------------------------------------------------------------------------
    def start(self, wait_s: float = 3.0) -> None:
        """Start following the engine; wait up to ``wait_s`` for the first listing."""
        for target, name in ((self._follow, "docker-events"), (self._refresher, "docker-refresh")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        if wait_s > 0 and not self.synced.wait(wait_s):
            log.warning(
                "docker: no container list from %s within %.0fs; continuing, names will "
                "appear once the engine answers",
                self.base_url,
                wait_s,
            )

    def close(self) -> None:
        self._stop.set()
        self._refresh.put(None)
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:
                pass
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads.clear()

    # -- cache updates -----------------------------------------------------------------------
    def put(self, info: ContainerInfo) -> None:
        if not info.id:
            return
        key = info.short_id
        with self._lock:
            self._by_id[key] = info
            self._destroyed.pop(key, None)
            self._asked.pop(key, None)

    def mark_destroyed(self, container_id: str) -> None:
        key = container_id[:CONTAINER_ID_LEN]
        with self._lock:
            if key in self._by_id:
                self._destroyed[key] = self._clock() + DESTROYED_GRACE_S

    def expire(self) -> int:
        """Forget containers destroyed more than the grace period ago."""
        now = self._clock()
        gone = [k for k, t in self._destroyed.items() if t <= now]
        with self._lock:
            for k in gone:
                self._destroyed.pop(k, None)
                self._by_id.pop(k, None)
            for k, t in list(self._asked.items()):
                if now - t > 10 * MISS_RETRY_S:
                    self._asked.pop(k, None)
        return len(gone)

    def sync(self, api) -> int:
        """Replace the cache's view of running containers with the engine's list."""
        n = 0
        for summary in api.containers(all=False):
            cid = summary.get("Id", "")
            try:
                info = info_from_inspect(api.inspect_container(cid))
            except Exception as e:
                if _is_not_found(e):
                    continue  # gone between the list and the inspect
                info = info_from_summary(summary)
            self.put(info)
            n += 1
        return n

    def on_event(self, api, event: Mapping[str, Any]) -> None:
        """Apply one engine event (``GET /events`` object) to the cache."""
        if event.get("Type") != "container":
            return
        action = event.get("Action") or event.get("status") or ""
        actor = event.get("Actor") or {}
        cid = actor.get("ID") or event.get("id") or ""
        if not cid:
            return
        if action == "destroy":
            self.mark_destroyed(cid)
        elif action in ("create", "start", "rename") or (
            action == "die" and cid[:CONTAINER_ID_LEN] not in self._by_id
        ):
            try:
                self.put(info_from_inspect(api.inspect_container(cid)))
            except Exception as e:
                if not _is_not_found(e):
                    raise
        self.expire()

    # -- background threads --------------------------------------------------------------
    def _follow(self) -> None:
        failures = 0
        while not self._stop.is_set():
            api = None
            try:
                api = self._factory(self.base_url, self._timeout)
                # subscribe first, then list: nothing created in between is missed
                stream = api.events(
                    decode=True,
                    filters={"type": "container", "event": list(FOLLOWED_ACTIONS)},
                )
                self._stream = stream
                n = self.sync(api)
                self.connected = True
                self.synced.set()
                log.info("docker: %d running containers at %s; following events", n, self.base_url)
                failures = 0
                for event in stream:
                    if self._stop.is_set():
                        break
                    self.on_event(api, event)
            except Exception as e:
                if self._stop.is_set():
                    break
                failures += 1
                level = logging.WARNING if failures == 1 or self.connected else logging.DEBUG
                log.log(level, "docker: engine at %s: %s; retrying", self.base_url, _short_error(e))
            finally:
                self.connected = False
                self._stream = None
                _close(api)
            self._stop.wait(min(self._retry_s * max(1, failures), 30.0))

    def _refresher(self) -> None:
        api = None
        while True:
            key = self._refresh.get()
            if key is None or self._stop.is_set():
                break
            known = self._by_id.get(key)
            if known is not None and known.has_started():
                continue
            try:
                if api is None:
                    api = self._factory(self.base_url, self._timeout)
                self.put(info_from_inspect(api.inspect_container(key)))
            except Exception as e:
                if not _is_not_found(e):
                    log.debug("docker: cannot inspect %s: %s", key, _short_error(e))
                    _close(api)
                    api = None
        _close(api)


def _close(api) -> None:
    if api is not None:
        try:
            api.close()
        except Exception:
            pass


def _is_not_found(e: BaseException) -> bool:
    if type(e).__name__ == "NotFound":
        return True
    status = getattr(getattr(e, "response", None), "status_code", None)
    return status == 404
