#!/bin/sh
# Regenerate the Python bindings of the v1 API from appliance/api/tetragon/*.proto and of
# the appliance's own API from appliance/api/appliance.proto.
# Run from anywhere; needs grpcio-tools (pip install -e '.[dev]').
set -eu

cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
PROTO_DIR=appliance/api/tetragon
OWN_PROTOS="appliance/api/appliance.proto"

rm -f "$PROTO_DIR"/*_pb2.py "$PROTO_DIR"/*_pb2.pyi "$PROTO_DIR"/*_pb2_grpc.py
for proto in $OWN_PROTOS; do
    stem="${proto%.proto}"
    rm -f "${stem}_pb2.py" "${stem}_pb2.pyi" "${stem}_pb2_grpc.py"
done

"$PYTHON" -m grpc_tools.protoc \
    -I . \
    --python_out=. \
    --pyi_out=. \
    --grpc_python_out=. \
    "$PROTO_DIR"/*.proto $OWN_PROTOS

echo "generated: $(ls "$PROTO_DIR"/*_pb2*.py* | wc -l) files in $PROTO_DIR"
for proto in $OWN_PROTOS; do
    echo "generated: $(ls "${proto%.proto}"_pb2*.py* | wc -l) files for $proto"
done
