#!/bin/sh
# Installs the appliance on a plain Linux host (as root), following Tetragon's layout:
#
#   /usr/local/lib/tetragon/venv              the package and its dependencies
#   /usr/local/bin/{tetragon,tetra,tetragon-controller}   links into the venv
#   /usr/local/lib/tetragon/bpf               the BPF objects (and headers for policies)
#   /usr/local/lib/tetragon/tetragon.conf.d   the default drop-ins (replaced on upgrade)
#   /etc/tetragon/tetragon.conf.d             your drop-ins (kept)
#   /etc/tetragon/tetragon.tp.d               your policies (kept)
#   /usr/lib/systemd/system/tetragon.service, tetragon-controller.service (enabled, started)
#   the API on unix:///var/run/tetragon/tetragon.sock (mode 600): `sudo tetra getevents`
#
# Usage: ./install.sh [--prefix DIR] [--no-systemd] [--no-start]
#   --prefix DIR   install under DIR instead of / (a staging root to copy to / later: the
#                  units keep naming /usr/local/bin, not DIR; no systemctl)
#   --no-systemd   do not install the systemd units
#   --no-start     install and enable the units, do not start them now
# Environment: PYTHON (default python3, >= 3.11), PIP_* for pip's index settings.
# Running it again upgrades in place; ./uninstall.sh removes what it installed.
set -eu
SRC=$(cd "$(dirname "$0")" && pwd)
PREFIX=""
SYSTEMD=1
START=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --no-systemd) SYSTEMD=0 ;;
    --no-start) START=0 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$PREFIX" ]; then
  mkdir -p "$PREFIX"
  PREFIX=$(cd "$PREFIX" && pwd)
elif [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (sudo ./install.sh), or use --prefix DIR" >&2
  exit 1
fi

LIB=$PREFIX/usr/local/lib/tetragon
BIN=$PREFIX/usr/local/bin
ETC=$PREFIX/etc/tetragon
UNITS=$PREFIX/usr/lib/systemd/system
PY=${PYTHON:-python3}
say() { echo "install.sh: $*"; }

# --- what the host needs -------------------------------------------------------------------
command -v "$PY" >/dev/null 2>&1 || { echo "install.sh: $PY not found; install python3 (>= 3.11)" >&2; exit 1; }
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "install.sh: $PY is $("$PY" -V 2>&1); the appliance needs Python >= 3.11" >&2; exit 1; }
"$PY" -c 'import ensurepip, venv' 2>/dev/null || {
  echo "install.sh: $PY cannot create virtual environments; install python3-venv" >&2; exit 1; }
if ! ldconfig -p 2>/dev/null | grep -q 'libbpf\.so\.1'; then
  say "warning: libbpf.so.1 not found; install libbpf1 (Debian/Ubuntu) before starting the agent"
fi
command -v clang >/dev/null 2>&1 ||
  say "warning: clang not found; it is needed to compile tracing policies (install clang >= 14)"

# --- BPF objects -----------------------------------------------------------------------------
if ! ls "$SRC"/bpf/objs/*.bpf.o >/dev/null 2>&1; then
  say "building the BPF objects (make -C bpf)"
  make -s -C "$SRC/bpf" || {
    echo "install.sh: cannot build the BPF objects; install clang, llvm and libbpf-dev" >&2; exit 1; }
fi

# --- the package in its own virtual environment ---------------------------------------------
say "installing the package into $LIB/venv"
mkdir -p "$LIB"
rm -rf "$LIB/venv"
"$PY" -m venv "$LIB/venv"
# from a clean copy of the package sources: the build leaves nothing in the checkout
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
(cd "$SRC" && tar -c --exclude=__pycache__ --exclude='*.pyc' pyproject.toml appliance controller) |
  tar -x -C "$stage"
# the version of these sources (a release tarball carries it already)
if [ ! -f "$stage/appliance/_version.py" ]; then
  echo "version = \"$("$PY" "$SRC/appliance/version.py" "$SRC")\"" > "$stage/appliance/_version.py"
fi
"$LIB/venv/bin/python" -m pip install -q --disable-pip-version-check "$stage"

say "installing the BPF objects, headers and default drop-ins"
rm -rf "$LIB/bpf" "$LIB/tetragon.conf.d"
mkdir -p "$LIB/bpf/include" "$LIB/tetragon.conf.d"
install -m 0644 "$SRC"/bpf/objs/*.bpf.o "$LIB/bpf/"
install -m 0644 "$SRC"/bpf/include/*.h "$LIB/bpf/include/"
install -m 0644 "$SRC"/config/tetragon.conf.d/* "$LIB/tetragon.conf.d/"

mkdir -p "$BIN"
for cmd in tetragon tetra tetragon-controller; do
  ln -sfn "../lib/tetragon/venv/bin/$cmd" "$BIN/$cmd"
done
mkdir -p "$ETC/tetragon.conf.d" "$ETC/tetragon.tp.d"

# --- systemd ------------------------------------------------------------------------------------
if [ "$SYSTEMD" = 1 ]; then
  mkdir -p "$UNITS"
  for unit in tetragon.service tetragon-controller.service; do
    install -m 0644 "$SRC/packaging/systemd/$unit" "$UNITS/$unit"
    # an older install put them in /etc/systemd/system, which would win over these
    if [ -z "$PREFIX" ] && [ -f "/etc/systemd/system/$unit" ] &&
      grep -q '/usr/local/bin/tetragon' "/etc/systemd/system/$unit"; then
      rm -f "/etc/systemd/system/$unit"
    fi
  done
  if [ -n "$PREFIX" ]; then
    say "units written to $UNITS (not enabled: --prefix); they run /usr/local/bin/tetragon," \
      "so copy $PREFIX to / before enabling them"
  elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload
    if [ "$START" = 1 ]; then
      systemctl enable --now tetragon.service tetragon-controller.service
      # an upgrade: run the new code
      systemctl restart tetragon.service tetragon-controller.service
      say "tetragon.service and tetragon-controller.service enabled and running"
    else
      systemctl enable tetragon.service tetragon-controller.service
      say "tetragon.service and tetragon-controller.service enabled (start them with systemctl start)"
    fi
  else
    say "systemd is not running here: units installed in $UNITS, not enabled"
  fi
fi
say "$("$BIN/tetra" version --client)"
echo "Tetragon installed successfully!"
