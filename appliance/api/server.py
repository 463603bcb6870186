"""The gRPC API, wire-compatible with Tetragon's v1 FineGuidanceSensors service."""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable, Iterable
from concurrent import futures

import grpc
from google.protobuf import json_format

from appliance import __version__
from appliance.api.hub import EventHub, TooManySubscribers
from appliance.api.tetragon import events_pb2, sensors_pb2, sensors_pb2_grpc, tetragon_pb2
from appliance.errors import FilterError, ServerError
from appliance.export.fields import apply_all, parse_field_filters
from appliance.export.filters import EventFilter

log = logging.getLogger("tetragon.api")


def _filters(msgs) -> list[dict]:
    return [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in msgs]


class Servicer(sensors_pb2_grpc.FineGuidanceSensorsServicer):
    """Serves events from the hub; policy calls go to `policies` when the agent has one."""

    def __init__(self, hub: EventHub, policies=None, runtime_hook_sink=None):
        self.hub = hub
        self.policies = policies
        #: called with each RuntimeHook's ContainerStart (appliance.rthooks.request.Sink)
        self.runtime_hook_sink = runtime_hook_sink

    def GetEvents(self, request: events_pb2.GetEventsRequest, context):
        try:
            flt = EventFilter(_filters(request.allow_list), _filters(request.deny_list))
        except FilterError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        try:
            fields = parse_field_filters(_filters(request.field_filters))
        except FilterError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        try:
            sub = self.hub.subscribe(flt)
        except TooManySubscribers as e:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
        sub.cancel = context.cancel  # a client too slow for its queue is disconnected
        context.add_callback(lambda: self.hub.unsubscribe(sub))
        try:
            while context.is_active() and not sub.closed:
                try:
                    item = sub.queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                if item is None:
                    return
                if fields:
                    yield json_format.ParseDict(
                        apply_all(fields, item.event),
                        events_pb2.GetEventsResponse(),
                        ignore_unknown_fields=True,
                    )
                else:
                    yield item.payload()
        finally:
            self.hub.unsubscribe(sub)

    def GetHealth(self, request, context):
        status = tetragon_pb2.HealthStatus(
            event=tetragon_pb2.HEALTH_STATUS_TYPE_STATUS,
            status=tetragon_pb2.HEALTH_STATUS_RUNNING,
            details="running",
        )
        return tetragon_pb2.GetHealthStatusResponse(health_status=[status])

    def GetVersion(self, request, context):
        return sensors_pb2.GetVersionResponse(version=__version__)

    def RuntimeHook(self, request, context):
        """A runtime hook announces a container: hand it to the sink before answering, so
        whatever the sink sets up is in place when the runtime starts the process."""
        from appliance.errors import RequestError
        from appliance.rthooks.request import from_request

        if self.runtime_hook_sink is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "runtime hooks are not enabled")
        try:
            start = from_request(request)
        except RequestError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        try:
            self.runtime_hook_sink(start)
        except Exception as e:
            log.warning("runtime hook for %s: %s", start.cgroups_path or start.container_id, e)
            context.abort(grpc.StatusCode.INTERNAL, f"runtime hook: {e}")
        log.debug(
            "runtime hook: container %s cgroup %s (id %d)",
            start.container_id,
            start.cgroups_path,
            start.cgroup_id,
        )
        return tetragon_pb2.RuntimeHookResponse()

    # Tracing policies: delegated to the policy manager -------------------------
    def _policy_call(self, name: str, request, context):
        if self.policies is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "tracing policies are not enabled")
        return getattr(self.policies, name)(request, context)

    def AddTracingPolicy(self, request, context):
        return self._policy_call("add", request, context)

    def DeleteTracingPolicy(self, request, context):
        return self._policy_call("delete_rpc", request, context)

    def ListTracingPolicies(self, request, context):
        return self._policy_call("list", request, context)

    def EnableTracingPolicy(self, request, context):
        return self._policy_call("enable", request, context)

    def DisableTracingPolicy(self, request, context):
        return self._policy_call("disable", request, context)

    def ConfigureTracingPolicy(self, request, context):
        return self._policy_call("configure", request, context)


def grpc_target(address: str) -> str:
    """--server-address as Tetragon takes it -> a gRPC target/bind string."""
    if address.startswith("unix://"):
        return address
    if address.startswith(":"):
        return "[::]" + address
    return address


def _message_bytes(msg) -> bytes:
    """GetEvents' serializer: the hub's events come serialized once for every stream."""
    return msg if isinstance(msg, bytes) else msg.SerializeToString()


class _EventBytes:
    """The server as the generated registration sees it: GetEvents' handler takes bytes.

    With 50 streams, serializing each event 50 times held the interpreter lock long
    enough to starve the event loop (the export file stalled for seconds)."""

    def __init__(self, server: grpc.Server) -> None:
        self.server = server

    def add_generic_rpc_handlers(self, handlers) -> None:
        pass  # replaced by one built from the patched handlers below

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        patched = dict(handlers)
        patched["GetEvents"] = patched["GetEvents"]._replace(response_serializer=_message_bytes)
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, patched),)
        )
        self.server.add_registered_method_handlers(service, patched)


#: threads for unary calls (health, policies, status) beyond the GetEvents streams
UNARY_WORKERS = 16


def start_server(
    address: str, servicer: Servicer, workers: int = 0, extra: Iterable[Callable] = ()
) -> grpc.Server:
    """Serve `servicer` on `address`; each of `extra` adds another service to the server
    (gRPC accepts services only before the server starts).

    Each GetEvents stream holds a thread for its life: the pool has one per stream the hub
    accepts plus UNARY_WORKERS (created on demand), and gRPC refuses calls beyond that with
    RESOURCE_EXHAUSTED rather than queueing them without bound.
    """
    workers = workers or servicer.hub.max_subscribers + UNARY_WORKERS
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers), maximum_concurrent_rpcs=workers
    )
    sensors_pb2_grpc.add_FineGuidanceSensorsServicer_to_server(servicer, _EventBytes(server))
    for register in extra:
        register(server)
    target = grpc_target(address)
    sock = address[len("unix://") :] if address.startswith("unix://") else ""
    if sock:
        os.makedirs(os.path.dirname(sock) or ".", exist_ok=True)
        if os.path.exists(sock):
            os.unlink(sock)  # a stale socket from an earlier run
    old_umask = os.umask(0o177) if sock else None
    try:
        port = server.add_insecure_port(target)
    except RuntimeError as e:
        port = 0
        log.debug("bind %s: %s", target, e)
    finally:
        if old_umask is not None:
            os.umask(old_umask)
    if not sock and port == 0:
        raise ServerError(
            f"cannot listen on {address}: address already in use or not available; "
            "stop the other process or choose another --server-address"
        )
    server.start()
    if sock:
        os.chmod(sock, 0o600)
    return server
