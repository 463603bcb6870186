#!/bin/sh
# Builds the appliance image (`make image`):
#
#   images/build.sh [--force] [--tag NAME] [--no-wheels] [-- docker build options]
#   images/build.sh --hash     prints the hash of the sources (see 1.) and exits
#
# 1. Skips the build when an image NAME already carries the hash of the sources it was
#    built from (label org.tetragon-appliance.source-hash); --force builds anyway.
# 2. Downloads the Python wheels the image needs into images/wheels with this host's pip
#    and its configuration (index, mirrors, certificates, proxies), for the image's Python
#    (CPython 3.11, Debian 12); the build then installs them without network access.
#    --no-wheels skips this: pip in the build then uses the index passed below.
# 3. Passes the host's package index settings (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL,
#    PIP_TRUSTED_HOST, from the environment or `pip config`) as build arguments; local
#    file:// locations are left out, since the build cannot see them (the wheels cover them).
# 4. docker build -f images/Dockerfile -t NAME .
set -eu
cd "$(dirname "$0")/.."

TAG=tetragon-appliance
FORCE=0
WHEELS=1
HASH_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --tag) TAG=$2; shift ;;
    --no-wheels) WHEELS=0 ;;
    --hash) HASH_ONLY=1 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
DOCKER=${DOCKER:-docker}
LABEL=org.tetragon-appliance.source-hash

# --- 1. the sources the image is built from, hashed --------------------------------------
source_hash() {
  find pyproject.toml appliance controller bpf config images -type f \
    ! -name '*.pyc' ! -path '*/__pycache__/*' ! -path 'bpf/objs/*' ! -path 'images/wheels/*' \
    ! -name '*.o' ! -name '*.sh~' \
    | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-32
}
# the version, from git (appliance/version.py), written into the image's package: part of
# the hash, so that a new version is a new image
VERSION=$(python3 appliance/version.py .)
HASH=$( (source_hash; echo "$VERSION") | sha256sum | cut -c1-32)
if [ "$HASH_ONLY" = 1 ]; then
  echo "$HASH"
  exit 0
fi
if [ "$FORCE" = 0 ]; then
  have=$($DOCKER image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$TAG" 2>/dev/null || true)
  if [ "$have" = "$HASH" ]; then
    echo "build.sh: $TAG is up to date (sources $HASH)"
    exit 0
  fi
fi

# --- 2. wheels, with the host's pip configuration ------------------------------------------
PY=""
for cand in .venv/bin/python python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -m pip --version >/dev/null 2>&1; then
    PY=$cand
    break
  fi
done
if [ "$WHEELS" = 1 ] && [ -n "$PY" ]; then
  req=$(mktemp)
  trap 'rm -f "$req"' EXIT
  "$PY" - "$req" <<'EOF'
import sys, tomllib
d = tomllib.load(open("pyproject.toml", "rb"))
reqs = d["project"]["dependencies"] + d["build-system"]["requires"] + ["wheel"]
open(sys.argv[1], "w").write("\n".join(reqs) + "\n")
EOF
  arch=$(uname -m)
  platforms="--platform manylinux2014_$arch"
  for minor in $(seq 17 36); do platforms="$platforms --platform manylinux_2_${minor}_$arch"; done
  echo "build.sh: downloading wheels into images/wheels"
  # shellcheck disable=SC2086
  if ! "$PY" -m pip download -q --dest images/wheels --only-binary=:all: \
      --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
      $platforms -r "$req"; then
    echo "build.sh: cannot download the wheels; the build will use the package index" >&2
    rm -f images/wheels/*.whl
  fi
fi

# --- 3. the host's package index settings as build arguments -------------------------------
set -- "$@" --label "$LABEL=$HASH"
for key in index-url extra-index-url trusted-host; do
  var=PIP_$(echo "$key" | tr 'a-z-' 'A-Z_')
  eval "val=\${$var:-}"
  if [ -z "$val" ] && [ -n "$PY" ]; then
    val=$("$PY" -m pip config get "global.$key" 2>/dev/null || true)
  fi
  val=$(printf '%s\n' $val | grep -v '^file:' | grep -v '^/' | tr '\n' ' ' | sed 's/ *$//')
  [ -n "$val" ] && set -- "$@" --build-arg "$var=$val"
done

set -- "$@" --build-arg "VERSION=$VERSION" --label "org.opencontainers.image.version=$VERSION"

# --- 4. the image ----------------------------------------------------------------------------
echo "build.sh: building $TAG $VERSION (sources $HASH)"
exec $DOCKER build -f images/Dockerfile -t "$TAG" "$@" .
