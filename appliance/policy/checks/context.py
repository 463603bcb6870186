"""What every check works on: the policy, its spec, and the reporter its problems go to."""

from __future__ import annotations

from appliance.policy.model import TracingPolicy
from appliance.policy.problems import PathT, Reporter


class Context:
    """One policy under check, and the helpers every part's checks share."""

    def __init__(self, policy: TracingPolicy, rep: Reporter):
        self.policy = policy
        self.spec = policy.spec
        self.rep = rep
        self.has_enforcer = bool(self.spec.enforcers or self.spec.killers)

    def error(self, path: PathT, message: str) -> None:
        self.rep.error(path, message)

    def warn(self, path: PathT, message: str) -> None:
        self.rep.warn(path, message)

    def list_exists(self, path: PathT, name: str, what: str) -> bool:
        """Whether spec.lists defines ``name``; an error naming the defined lists if not."""
        if self.spec.list_named(name) is not None:
            return True
        known = ", ".join(lst.name for lst in self.spec.lists)
        hint = f" (defined lists: {known})" if known else " (spec.lists is empty)"
        self.error(path, f"{what} refers to list '{name}' which is not defined in spec.lists{hint}")
        return False
