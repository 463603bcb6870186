"""Generated protobuf/gRPC bindings of the Tetragon-compatible v1 API (package ``tetragon``).

Sources are the ``*.proto`` files next to this module; regenerate with
``scripts/gen-proto.sh``. Do not edit the ``*_pb2*.py`` / ``*.pyi`` files by hand.
"""
