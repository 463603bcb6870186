"""The controller's Prometheus metrics (``--controller-metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.errors = Counter(
            "tetragon_controller_errors",
            "Configuration changes not applied, by kind: policy_invalid, policy_rejected, "
            "settings_invalid, settings_rejected, agent_unreachable, restart, internal",
            ["kind"],
            registry=self.registry,
        )
        self.applied = Counter(
            "tetragon_controller_applied",
            "Configuration changes applied, by kind: policy_add, policy_replace, "
            "policy_delete, settings, restart",
            ["kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tetragon_controller_apply_latency_seconds",
            "Time from the first file-system event of a change to the agent's answer",
            ["kind"],
            buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        self.policy_files = Gauge(
            "tetragon_controller_policy_files",
            "Policy files applied from the policy directory",
            registry=self.registry,
        )
        self.environment = Gauge(
            "tetragon_controller_environment",
            "The detected environment and the metadata source chosen (always 1)",
            ["environment", "metadata_source"],
            registry=self.registry,
        )
        for kind in (
            "policy_invalid",
            "policy_rejected",
            "settings_invalid",
            "settings_rejected",
            "agent_unreachable",
            "restart",
            "internal",
        ):
            self.errors.labels(kind)
        for kind in ("policy_add", "policy_replace", "policy_delete", "settings", "restart"):
            self.applied.labels(kind)

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def done(self, kind: str, since: float | None = None, now: float | None = None) -> None:
        self.applied.labels(kind).inc()
        if since is not None and now is not None:
            self.latency.labels(kind).observe(max(0.0, now - since))

    def serve(self, address: str) -> None:
        """Serve on ``host:port`` (``:port`` for every address). Raises OSError."""
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            raise OSError(f"expected host:port, not {address!r}")
        start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0", registry=self.registry)
