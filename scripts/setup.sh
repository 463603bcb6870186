#!/bin/sh
# Installs everything the appliance needs on a fresh Debian or Ubuntu machine:
# system packages (clang, libbpf, bpftool, QEMU for the kernel matrix) and a
# virtual environment in .venv with the package and its development tools.
set -eu
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

PKGS="clang llvm libbpf-dev libbpf1 make gcc libc6-dev python3 python3-venv python3-dev \
 iproute2 procps kmod cpio zstd file busybox-static qemu-system-x86 runc podman"
# bpftool is its own package on Debian; on Ubuntu it ships in linux-tools
if apt-cache show bpftool >/dev/null 2>&1; then PKGS="$PKGS bpftool"; else PKGS="$PKGS linux-tools-common"; fi

if command -v apt-get >/dev/null; then
  missing=""
  for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
  fi
else
  echo "setup: apt-get not found; install: $PKGS" >&2
  exit 1
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || $PY -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev]'
make -s bpf
echo "setup: done (.venv ready, BPF objects in bpf/objs)"
