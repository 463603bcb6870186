#!/bin/sh
# pip install into the image's venv ($VENV). Offline from /tmp/wheels when it holds wheels;
# otherwise from the index named by PIP_INDEX_URL, PIP_EXTRA_INDEX_URL and PIP_TRUSTED_HOST
# (build arguments; empty ones are dropped so that pip keeps its default index).
set -eu
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
  eval "val=\${$v:-}"
  [ -n "$val" ] || unset "$v"
done
if ls /tmp/wheels/*.whl >/dev/null 2>&1; then
  set -- --no-index --find-links /tmp/wheels "$@"
fi
exec "$VENV/bin/python" -m pip install -q "$@"
