#!/bin/sh
# Regenerate the Python bindings of the v1 API from appliance/api/tetragon/*.proto.
# Run from anywhere; needs grpcio-tools (pip install -e '.[dev]').
set -eu

cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
PROTO_DIR=appliance/api/tetragon

rm -f "$PROTO_DIR"/*_pb2.py "$PROTO_DIR"/*_pb2.pyi "$PROTO_DIR"/*_pb2_grpc.py

"$PYTHON" -m grpc_tools.protoc \
    -I . \
    --python_out=. \
    --pyi_out=. \
    --grpc_python_out=. \
    "$PROTO_DIR"/*.proto

echo "generated: $(ls "$PROTO_DIR"/*_pb2*.py* | wc -l) files in $PROTO_DIR"
