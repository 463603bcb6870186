#!/bin/sh
# Removes what install.sh installed: the systemd units in /usr/lib/systemd/system (stopped
# and disabled first), the commands in /usr/local/bin, and /usr/local/lib/tetragon (venv,
# BPF objects, default drop-ins). Your configuration and policies in /etc/tetragon stay, unless --purge, which
# also removes /etc/tetragon, /var/log/tetragon and /var/cache/tetragon, and unpins the
# policies the agent left enforced in /sys/fs/bpf/tetragon.
#
# Usage: ./uninstall.sh [--prefix DIR] [--purge]
#   --prefix DIR   remove an installation made with ./install.sh --prefix DIR
set -eu
PREFIX=""
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$PREFIX" ]; then
  [ -d "$PREFIX" ] || { echo "uninstall.sh: $PREFIX: no such directory" >&2; exit 1; }
  PREFIX=$(cd "$PREFIX" && pwd)
elif [ "$(id -u)" != 0 ]; then
  echo "uninstall.sh: run as root (sudo ./uninstall.sh), or use --prefix DIR" >&2
  exit 1
fi
LIB=$PREFIX/usr/local/lib/tetragon
BIN=$PREFIX/usr/local/bin
UNITS=$PREFIX/usr/lib/systemd/system
say() { echo "uninstall.sh: $*"; }

# --- systemd ------------------------------------------------------------------------------------
units=""
for unit in tetragon-controller.service tetragon.service; do
  [ -f "$UNITS/$unit" ] && units="$units $unit"
done
# units of an older install, in /etc/systemd/system
old_units=$PREFIX/etc/systemd/system
if [ -n "$units" ]; then
  if [ -z "$PREFIX" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    systemctl disable --now $units || true
  fi
  for unit in $units; do rm -f "$UNITS/$unit"; done
  for unit in $units; do
    if [ -f "$old_units/$unit" ] && grep -q '/usr/local/bin/tetragon' "$old_units/$unit"; then
      rm -f "$old_units/$unit"
    fi
  done
  if [ -z "$PREFIX" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload
    systemctl reset-failed tetragon.service tetragon-controller.service 2>/dev/null || true
  fi
  say "removed the units:$units"
fi

# --- commands and the installation --------------------------------------------------------------
for cmd in tetragon tetra tetragon-controller; do
  link="$BIN/$cmd"
  # only our links (into the appliance's venv), never someone else's command
  if [ -L "$link" ] && readlink "$link" | grep -q "lib/tetragon/venv/bin/$cmd\$"; then
    rm -f "$link"
  fi
done
if [ -d "$LIB" ]; then
  rm -rf "$LIB"
  say "removed $LIB"
fi

if [ "$PURGE" = 1 ]; then
  for d in "$PREFIX/etc/tetragon" "$PREFIX/var/log/tetragon" "$PREFIX/var/cache/tetragon"; do
    if [ -e "$d" ]; then
      rm -rf "$d"
      say "purged $d"
    fi
  done
  # policies left pinned (still enforced) by an agent run with --release-pinned-bpf=false
  if [ -e "$PREFIX/sys/fs/bpf/tetragon" ]; then
    rm -rf "$PREFIX/sys/fs/bpf/tetragon"
    say "purged $PREFIX/sys/fs/bpf/tetragon (pinned policies unloaded)"
  fi
else
  [ -d "$PREFIX/etc/tetragon" ] && say "kept $PREFIX/etc/tetragon (remove it with --purge)"
  [ -e "$PREFIX/sys/fs/bpf/tetragon" ] &&
    say "kept $PREFIX/sys/fs/bpf/tetragon: pinned policies stay enforced (remove them with --purge)"
fi
if [ -n "$PREFIX" ]; then
  # a staging root: also the directories the installation created, when left empty
  for d in usr/local/lib usr/local/bin usr/local usr/lib/systemd/system usr/lib/systemd usr/lib usr \
    etc/systemd/system etc/systemd etc; do
    rmdir "$PREFIX/$d" 2>/dev/null || true
  done
fi
say "done"
