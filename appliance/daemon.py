"""The agent: loads the sensors, tracks processes, exports events."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from appliance import live
from appliance.api.hub import EventHub
from appliance.api.server import Servicer, start_server
from appliance.bpf import btf as btfmod
from appliance.bpf import features as featmod
from appliance.bpf import paths
from appliance.bpf.libbpf import BpfObject, RingBuffer, possible_cpus
from appliance.errors import BpfError, BtfNotFound, LiveError, ServerError, StartupError
from appliance.events.common import Clock
from appliance.events.process import ProcessTracker
from appliance.export.pipeline import Pipeline
from appliance.heap import release_free_heap
from appliance.metrics import read_percpu_counters
from appliance.process import procfs
from appliance.process.cache import ProcessCache
from appliance.sensors import wire
from appliance.sensors.dispatch import MessageTable
from appliance.sensors.process import ProcessSensor
from appliance.settings import (
    Settings,
)

log = logging.getLogger("tetragon")

CNT_LOST, CNT_SENT, CNT_EXEC, CNT_CLONE, CNT_EXIT = 0, 1, 2, 3, 4
N_COUNTERS = 16


class Agent:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.node = settings.node_name or socket.gethostname()
        self.clock = Clock()
        self.cache = ProcessCache(settings.process_cache_size)
        self.tracker = ProcessTracker(self.node, self.cache, self.clock)
        self.tracker.enable_cred = bool(settings.enable_process_cred)
        self.tracker.enable_ns = bool(settings.enable_process_ns)
        self.tracker.ancestors_for = frozenset(settings.enable_ancestors)
        self.pipeline = Pipeline()
        self.pipeline.node_name = self.node
        self.pipeline.clock = self.clock
        self.hub = EventHub(
            queue_size=max(1, settings.event_queue_size),
            max_subscribers=settings.event_stream_max_clients,
            slow_client_s=settings.event_stream_slow_timeout.total_seconds(),
        )
        self.stop_event = threading.Event()
        self.objects: list[BpfObject] = []
        self.sensor: BpfObject | None = None
        self.sensor_pins = None  # appliance.bpf.sensor_pins.SensorPins
        self.ring: RingBuffer | None = None
        self.server = None
        self.features = None
        self.settings_sources: dict[str, str] = {}  # where each setting came from (live.py)
        self.btf = ""  # the BTF file found at start
        self.policies = None  # set by the policy engine when loaded
        self.metadata = None  # container metadata source (appliance.metadata)
        self.policy_filter = None  # cgroup maps of namespaced / pod-selected policies
        self.event_cache = None  # events waiting for their pod (Kubernetes source)
        self.emit = self.pipeline.emit  # through the event cache when there is one
        self.decode_errors = 0
        self._ncpus = 1
        # ring-buffer messages by kind: each sensor registers the kinds it owns
        self.messages = MessageTable()
        # through self.emit as it is when a message arrives: the event cache replaces it
        ProcessSensor(self.tracker, lambda ev: self.emit(ev)).register(self.messages)

    # -- start-up ------------------------------------------------------------------
    def start(self) -> None:
        s = self.settings
        bpf_lib = s.bpf_lib or paths.bpf_lib()
        obj_path = os.path.join(bpf_lib, "process.bpf.o")
        if not os.path.exists(obj_path):
            raise StartupError(
                f"BPF object {obj_path} not found; build the objects with `make bpf` "
                "or point --bpf-lib at the directory that holds them"
            )
        self.bpf_lib = bpf_lib
        try:
            self.btf = btfmod.discover(s.btf)
        except BtfNotFound as e:
            raise StartupError(str(e)) from None
        log.info("BTF file: %s", self.btf)
        try:
            self.features = featmod.probe(bpf_lib, self.btf)
        except BpfError as e:
            raise StartupError(str(e)) from None
        for line in self.features.lines():
            log.info("kernel feature %s", line)
        if not self.features.ring_buffer:
            raise StartupError(
                "this kernel has no BPF ring buffer (needs Linux >= 5.8); upgrade the kernel"
            )
        self._ncpus = possible_cpus()

        ensure_tracefs()
        from appliance.bpf import pins
        from appliance.bpf.sensor_pins import SensorPins

        keep = not s.release_pinned_bpf
        self.sensor_pins = SensorPins(pins.open_store(s.bpf_dir, pin_new=keep), keep)
        self._load_sensor(obj_path)
        self._configure_exporters()
        from appliance.policy.manager import PolicyManager, load_policy_dir

        self.policies = PolicyManager(self)
        self.policies.register(self.messages)
        if s.metrics_server:
            from appliance import metrics

            try:
                metrics.serve(s.metrics_server, self)
            except OSError as e:
                raise StartupError(
                    f"cannot serve metrics on {s.metrics_server}: {e.strerror}; "
                    "choose another --metrics-server"
                ) from None
            log.info("metrics on %s", s.metrics_server)

        # container names and images (Docker Engine API), or container ids from cgroups only
        from appliance.errors import KubernetesError
        from appliance.metadata import open_source
        from appliance.metadata.select import K8sOptions

        try:
            self.metadata, _ = open_source(
                s.metadata_source,
                s.procfs,
                k8s=K8sOptions(self.node, s.k8s_kubeconfig_path),
                enable_k8s_api=s.enable_k8s_api,
            )
        except KubernetesError as e:
            raise StartupError(str(e)) from None
        # outside Kubernetes, containers announced by runtime hooks are looked up first
        from appliance.metadata.hooks import HookAwareSource, HookRegistry, registry_sink

        self.hook_registry = HookRegistry()
        self.runtime_hook_sink = registry_sink(self.hook_registry)
        if getattr(self.metadata, "kind", "") != "kubernetes":
            self.metadata = HookAwareSource(self.hook_registry, self.metadata)
        self.tracker.metadata, self.tracker.procfs = self.metadata, s.procfs
        self._start_pod_identity()
        # events from processes started from now on are queued in the ring buffer;
        # learn the ones already running, then start consuming
        n = self.tracker.learn(procfs.scan(s.procfs))
        self._seed_execve_map()
        log.info("learned %d running processes from %s", n, s.procfs)
        for path in [p for p in (s.tracing_policy or "").split(",") if p]:
            try:
                self.policies.add_file(path)
            except Exception as e:
                raise StartupError(f"--tracing-policy {path}: {e}") from None
        if s.tracing_policy_dir:
            load_policy_dir(self.policies, s.tracing_policy_dir)
        # the API last: a client (the controller) that sees the agent up finds the
        # policies it loads at start already loaded, never half of them
        if s.server_address:
            try:
                self.server = start_server(
                    s.server_address,
                    Servicer(self.hub, self.policies, self.runtime_hook_sink),
                    extra=[live.service(self)],
                )
            except ServerError as e:
                raise StartupError(str(e)) from None
            log.info("gRPC API listening on %s", s.server_address)
        release_free_heap()  # what loading the objects parsed and freed

    def _start_pod_identity(self) -> None:
        """With the Kubernetes source: the event cache, and the policy filter when enabled."""
        s = self.settings
        src = self.metadata
        if getattr(src, "kind", "") != "kubernetes":
            if s.enable_policy_filter:
                log.warning(
                    "enable-policy-filter is set but the metadata source is %s: namespaced "
                    "and pod-selected policies are refused (they need the kubernetes source)",
                    getattr(src, "kind", "none"),
                )
            return
        from appliance.metadata import read_ns_pid
        from appliance.metadata.eventcache import EventCache

        self.event_cache = EventCache(
            src,
            self.pipeline.emit,
            retries=s.event_cache_retries,
            delay_s=float(s.event_cache_retry_delay),
            ns_pid=lambda pid: read_ns_pid(s.procfs, pid),
            max_held=max(1, s.event_queue_size),
        )
        src.add_listener(self.event_cache.pod_changed)
        self.emit = self.event_cache.offer
        if s.enable_policy_filter:
            from appliance.policy.filter import PolicyFilter

            self.policy_filter = PolicyFilter(src.pods)
            src.add_listener(self.policy_filter.on_pod)
        # a runtime hook's container: indexed with its pod and in the policy filters
        # before the hook is answered (see appliance.rthooks)
        from appliance.policy.filter import pod_hook_sink

        self.runtime_hook_sink = pod_hook_sink(src, self.policy_filter)

    def _load_sensor(self, obj_path: str) -> None:
        try:
            obj = BpfObject.open(obj_path, self.btf)
            if self.settings.rb_size:
                obj.map("events").set_max_entries(_ringbuf_size(self.settings.rb_size))
            shared = self.sensor_pins.share_state_maps(obj) if self.sensor_pins else []
            obj.load()
            for name in obj.program_names():
                link = obj.attach(name)
                log.info("sensor process: %s attached as %s", name, link.method)
            if shared:
                log.info("sensor process: shares the pinned %s of a previous agent (the "
                         "processes it tracked are kept)", ", ".join(shared))  # fmt: skip
            if self.sensor_pins is not None:
                self.sensor_pins.pin(obj)
                self.sensor_pins.settle()
        except BpfError as e:
            raise StartupError(
                f"cannot load the process sensor: {e}\n{_tail(e.log)}\n"
                "the kernel needs BTF and tp_btf programs (Linux >= 5.8)"
            ) from None
        self.sensor = obj
        self.objects.append(obj)
        self.ring = RingBuffer(obj.map("events").fd, self._on_sample)
        self._counters = obj.map("counters")

    def _seed_execve_map(self) -> None:
        """Binaries of processes that started before the agent, for matchBinaries."""
        m = self.sensor.map("execve_map")
        for pid, entry in self.cache.items():
            # no exec-time caps/namespaces (flags 0): matchXChanges do not apply
            try:
                m.update(
                    wire.EXEC_INFO_KEY.pack(pid), wire.exec_info(entry.process.get("binary", ""))
                )
            except BpfError:
                break

    def _configure_exporters(self) -> None:
        try:
            live.configure_exporters(self.pipeline, self.hub, self.settings)
            self.tracker.redactor = live.redactor(self.settings)
        except LiveError as e:
            raise StartupError(str(e)) from None

    def apply_settings(self, values, source="", sources=None, config_error=""):
        """Apply drop-in style settings (flag name -> text) while running: see appliance.live."""
        return live.apply_settings(self, values, source, sources, config_error)

    # -- the event loop ------------------------------------------------------------
    def _on_sample(self, data: bytes) -> None:
        try:
            self.messages.dispatch(data)
        except Exception as e:
            self.decode_errors += 1
            log.debug("cannot decode message type %d: %s", data[0] if data else -1, e)

    def run(self) -> None:
        last_resync = time.monotonic()
        while not self.stop_event.is_set():
            n = self.ring.poll(200)
            if self.event_cache is not None:
                self.event_cache.tick()
            self.pipeline.tick()
            if n:
                self.pipeline.flush()
            now = time.monotonic()
            if now - last_resync > 60:
                self.clock.resync()
                release_free_heap()  # after a burst of events or a policy load
                last_resync = now

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop(grace=0.5)
        if self.policies is not None:
            self.policies.close()
        if self.sensor_pins is not None:
            if self.sensor_pins.pin_new:
                if self.sensor_pins.kept():
                    log.info("left the process sensor pinned: processes stay tracked")
            else:
                self.sensor_pins.release()
        if self.ring is not None:
            # drain what is already in the ring buffer before detaching (a poll returns
            # after RingBuffer.BACKLOG samples: poll again while it was cut short)
            while self.ring.poll(0) >= RingBuffer.BACKLOG:
                pass
            if self.event_cache is not None:
                self.event_cache.flush()
            self.pipeline.flush()
            self.ring.free()
            self.ring = None
        self.pipeline.close()
        if self.metadata is not None:
            self.metadata.close()
            self.metadata = None
        for obj in self.objects:
            obj.close()
        self.objects.clear()

    # -- counters --------------------------------------------------------------------
    def bpf_counters(self) -> list[int]:
        if self.sensor is None:
            return [0] * N_COUNTERS
        size = 8 * self._ncpus
        return read_percpu_counters(
            lambda i: self._counters.lookup(i.to_bytes(4, "little"), size),
            self._ncpus,
            N_COUNTERS,
        )

    def lost_counts(self) -> dict[str, int]:
        c = self.bpf_counters()
        out = {
            "ring_buffer": c[CNT_LOST],
            "grpc_queue": self.hub.dropped,
            "export_rate_limit": self.pipeline.rate_limited,
            "export_file": self.pipeline.write_lost,
        }
        if self.event_cache is not None:
            out["event_cache_no_pod"] = self.event_cache.sent_without_pod
        if self.policies is not None:
            out.update(self.policies.lost_counts())
        return out

    def drop_counts(self) -> dict[str, int]:
        """Every drop counter the agent keeps, by name: the events lost of
        :meth:`lost_counts` and the streams, processes and held events given up."""
        out = self.lost_counts()
        out["grpc_subscribers_rejected"] = self.hub.rejected
        out["grpc_slow_subscribers_disconnected"] = self.hub.slow_disconnected
        out["process_cache_evicted"] = self.cache.evicted
        if self.event_cache is not None:
            out["event_cache_evicted"] = self.event_cache.evicted
        return out

    def error_counts(self) -> dict[str, int]:
        out = dict(self.pipeline.errors)
        out["decode"] = self.decode_errors
        return out

    def extra_metrics(self):
        out = []
        if self.policies is not None:
            out += self.policies.metrics()
        if self.event_cache is not None:
            out += self.event_cache.metrics()
        return out


def ensure_tracefs() -> None:
    """Tracepoint attachment needs tracefs; mount it when nobody has (as Tetragon does)."""
    if os.path.isdir("/sys/kernel/tracing/events") or os.path.isdir(
        "/sys/kernel/debug/tracing/events"
    ):
        return
    import subprocess

    r = subprocess.run(
        ["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], capture_output=True
    )
    if r.returncode != 0:
        log.warning("tracefs is not mounted and mounting it failed: %s", r.stderr.decode())


def _ringbuf_size(n: int) -> int:
    """The ring buffer must be a power-of-two number of pages."""
    size = 4096
    while size < n:
        size <<= 1
    return size


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
