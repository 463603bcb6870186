#!/bin/sh
# clang in the runtime image only compiles policies into BPF objects (clang -target bpf
# -c, with the appliance's own headers and libbpf's): it never assembles or links native
# code and never includes the C library's headers. The clang package still pulls in the
# native C/C++ toolchain (binutils, gcc's runtime and sanitizer libraries, the libc and
# C++ headers, libclang's C API, the linker plugins). Their files are removed to keep the
# image lean; the packages stay registered, so apt keeps working in derived images.
set -eu
pattern='^(binutils.*|libbinutils|libctf0|libctf-nobfd0|libgprofng0|libsframe[0-9]*'
pattern="$pattern|libstdc\+\+-[0-9]+-dev|libgcc-[0-9]+-dev|libobjc-[0-9]+-dev|libobjc4"
pattern="$pattern|libasan[0-9]+|libtsan[0-9]+|liblsan[0-9]+|libubsan[0-9]+|libhwasan[0-9]+"
pattern="$pattern|libitm[0-9]+|libc6-dev|libc-dev-bin|linux-libc-dev|libcrypt-dev"
pattern="$pattern|libnsl-dev|libtirpc-dev|rpcsvc-proto|libclang1-[0-9]+|llvm-[0-9]+-linker-tools)$"
for pkg in $(dpkg-query -W -f='${Package}\n' | grep -E "$pattern"); do
  dpkg-query -L "$pkg" | while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then rm -f "$f"; fi
  done
done
# clang's own sanitizer and profiling run-times (the built-in headers stay)
rm -rf /usr/lib/llvm-*/lib/clang/*/lib
