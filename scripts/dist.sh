#!/bin/sh
# Builds the release tarball (`make dist`): dist/tetragon-VERSION-ARCH.tar.gz, holding
# tetragon-VERSION-ARCH/ with install.sh, uninstall.sh and what they install (the package
# sources with their version written in, the built BPF objects and headers, the default
# drop-ins, the systemd units). The docs' steps then work as written:
#
#   tar -xvf tetragon-VERSION-ARCH.tar.gz
#   cd tetragon-VERSION-ARCH/
#   sudo ./install.sh
#
# VERSION comes from git (appliance/version.py); ARCH is amd64 or arm64, as Tetragon names
# its tarballs. Prints the tarball's path.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${DIST_DIR:-dist}
version=$("$PY" appliance/version.py .)
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
name=tetragon-$version-$arch
make -s -C bpf >/dev/null
ls bpf/objs/*.bpf.o >/dev/null

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/$name
mkdir -p "$dir/bpf"
tar -c --exclude=__pycache__ --exclude='*.pyc' --exclude=appliance/_version.py \
  install.sh uninstall.sh pyproject.toml README.md appliance controller config packaging \
  bpf/objs bpf/include | tar -x -C "$dir"
find "$dir/bpf/objs" -type f ! -name '*.bpf.o' -delete
echo "version = \"$version\"" > "$dir/appliance/_version.py"
mkdir -p "$OUT"
tar -C "$stage" --owner=0 --group=0 -czf "$OUT/$name.tar.gz" "$name"
echo "$OUT/$name.tar.gz"
