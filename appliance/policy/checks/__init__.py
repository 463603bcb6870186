"""The semantic checks of a policy, one module per part of it; ``appliance.policy.checker``
runs them in order. Each check takes the ``Context`` (the policy and where problems go)."""
