"""The controller's side of the agent's gRPC API: Tetragon's FineGuidanceSensors for adding,
deleting and listing policies, the appliance's own service for the rest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc

from appliance.api import appliance_pb2, appliance_pb2_grpc
from appliance.api.server import grpc_target
from appliance.api.tetragon import sensors_pb2, sensors_pb2_grpc
from appliance.errors import AgentRefused, AgentUnavailable, NoPolicyEngine

# A policy compile that misses the cache runs clang: allow for it.
POLICY_TIMEOUT = 120.0
CALL_TIMEOUT = 10.0


@dataclass(frozen=True)
class LoadedPolicy:
    name: str
    namespace: str
    state: str
    error: str


def _call(fn, request, timeout: float):
    try:
        return fn(request, timeout=timeout)
    except grpc.RpcError as e:
        code = e.code() if hasattr(e, "code") else None
        detail = e.details() if hasattr(e, "details") else str(e)
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise AgentUnavailable(detail or code.name) from None
        if code == grpc.StatusCode.UNIMPLEMENTED:
            raise NoPolicyEngine(detail or "not implemented") from None
        raise AgentRefused(code.name if code else "UNKNOWN", detail or str(e)) from None


class AgentClient:
    def __init__(self, address: str):
        self.address = address
        self.channel = grpc.insecure_channel(grpc_target(address))
        self.sensors = sensors_pb2_grpc.FineGuidanceSensorsStub(self.channel)
        self.agent = appliance_pb2_grpc.AgentStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    # -- policies (Tetragon's API) -------------------------------------------------
    def list_policies(self) -> list[LoadedPolicy]:
        resp = _call(
            self.sensors.ListTracingPolicies, sensors_pb2.ListTracingPoliciesRequest(), CALL_TIMEOUT
        )
        return [
            LoadedPolicy(
                p.name,
                p.namespace,
                sensors_pb2.TracingPolicyState.Name(p.state),
                p.error,
            )
            for p in resp.policies
        ]

    def add_policy(self, yaml_text: str) -> None:
        _call(
            self.sensors.AddTracingPolicy,
            sensors_pb2.AddTracingPolicyRequest(yaml=yaml_text),
            POLICY_TIMEOUT,
        )

    def delete_policy(self, name: str, namespace: str = "") -> None:
        _call(
            self.sensors.DeleteTracingPolicy,
            sensors_pb2.DeleteTracingPolicyRequest(name=name, namespace=namespace),
            POLICY_TIMEOUT,
        )

    # -- the appliance's service -------------------------------------------------------
    def replace_policy(self, yaml_text: str, source: str = "") -> str:
        resp = _call(
            self.agent.ReplaceTracingPolicy,
            appliance_pb2.ReplaceTracingPolicyRequest(yaml=yaml_text, source=source),
            POLICY_TIMEOUT,
        )
        return resp.name

    def apply_settings(
        self,
        values: Mapping[str, str],
        source: str = "",
        sources: Mapping[str, str] | None = None,
        config_error: str = "",
    ) -> appliance_pb2.ApplySettingsResponse:
        return _call(
            self.agent.ApplySettings,
            appliance_pb2.ApplySettingsRequest(
                values=dict(values),
                source=source,
                sources=dict(sources or {}),
                config_error=config_error,
            ),
            CALL_TIMEOUT,
        )

    def report_error(self, message: str, source: str = "tetragon-controller") -> None:
        """Record ``message`` as the agent's last configuration error, if it answers."""
        try:
            self.apply_settings({}, source=source, config_error=message)
        except (AgentUnavailable, AgentRefused):
            pass

    def status(self) -> appliance_pb2.GetAgentStatusResponse:
        return _call(self.agent.GetAgentStatus, appliance_pb2.GetAgentStatusRequest(), CALL_TIMEOUT)
