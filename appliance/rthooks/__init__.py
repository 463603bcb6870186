"""Runtime hooks: the container runtime tells the agent about a container before it runs.

``request`` turns Tetragon's RuntimeHookRequest into a :class:`ContainerStart` for the
agent's sink; ``oci_hook`` is the hook the runtime executes. This package's ``__init__``
imports nothing, so the hook starts fast.
"""
