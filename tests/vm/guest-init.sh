#!/bin/busybox sh
# /init of the test initramfs built by tests/vm/boot.sh (runs inside the guest).
#
# Shares (virtio-9p, set up by boot.sh):
#   hostroot  the host's / (read-only); becomes the guest root under a tmpfs overlay
#   ctl       per-boot control directory: env, cmd, kernel config; we write release and rc
#   kmods     the booted kernel's modules tree (read-only), at /lib/modules/$(uname -r)
#   rwdir     the host directory given by tavm.rw= on the kernel command line, read-write,
#             mounted at the same path
B=/bin/busybox
R=/newroot

$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev

say() { echo "vm-init: $*" > /dev/ttyS0; }
die() { say "$*"; $B sync; $B poweroff -f; }
param() {
	for w in $($B cat /proc/cmdline); do
		case $w in "$1="*) echo "${w#*=}" ;; esac
	done
}

MSIZE=$(param tavm.msize)
P9="trans=virtio,version=9p2000.L,msize=${MSIZE:-131072}"

for m in $($B cat /modules/order); do
	$B insmod "/modules/$m" || say "insmod $m failed"
done

$B mount -t 9p -o "$P9,cache=none" ctl /ctl || die "cannot mount the control share"
KREL=$($B uname -r)
echo "$KREL" > /ctl/release

# root: host / read-only, with a tmpfs on top so the guest may write anywhere
$B mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || die "cannot mount the host root"
$B mount -t tmpfs -o mode=0755 tmpfs /overlay
$B mkdir -p /overlay/upper /overlay/work
if ! $B mount -t overlay -o lowerdir=/lower,upperdir=/overlay/upper,workdir=/overlay/work \
	overlay $R; then
	say "overlayfs unavailable: read-only root with a tmpfs /tmp"
	$B mount --bind /lower $R
	$B mount -t tmpfs tmpfs $R/tmp
fi

$B mount -t proc proc $R/proc
$B mount -t sysfs sysfs $R/sys
$B mount -t devtmpfs devtmpfs $R/dev
$B mkdir -p $R/dev/pts $R/dev/shm
$B mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
$B mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
$B mount -t tmpfs -o mode=0755 tmpfs $R/run
$B mkdir -p $R/run/tavm $R/run/lock
$B mount --bind /ctl $R/run/tavm

# kernel interfaces the agent and its tests use
$B mount -t securityfs securityfs $R/sys/kernel/security || say "no securityfs"
$B mount -t debugfs debugfs $R/sys/kernel/debug || say "no debugfs"
$B mount -t tracefs tracefs $R/sys/kernel/tracing || say "no tracefs"
$B mount -t bpf bpf $R/sys/fs/bpf || say "no bpffs"
$B mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || say "no cgroup2"

# the booted kernel's modules and config, where modprobe and feature probes look for them
$B mkdir -p $R/lib/modules/$KREL $R/boot
$B mount -t 9p -o "$P9,ro,cache=loose" kmods $R/lib/modules/$KREL || say "no modules share"
$B cp /ctl/config $R/boot/config-$KREL || say "no kernel config"

RW=$(param tavm.rw)
if [ -n "$RW" ]; then
	$B mkdir -p "$R$RW"
	$B mount -t 9p -o "$P9,cache=mmap" rwdir "$R$RW" || die "cannot mount $RW"
fi

$B hostname "$(param tavm.hostname)"
$B ip link set lo up

# command output goes to the virtio console (the host's stdout), the kernel log to ttyS0
OUT=/dev/ttyS0
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	[ -e /dev/hvc0 ] && { OUT=/dev/hvc0; break; }
	$B usleep 100000
done
# keep the console open across the run so its settings hold: no CR added before LF
exec 3<> $OUT
$B stty -opost <&3 2>/dev/null

$B chroot $R /bin/sh -c '. /run/tavm/env && cd "${TAVM_RW:-/}" && exec /bin/bash /run/tavm/cmd' \
	< /dev/null >&3 2>&3 3>&-
echo $? > /ctl/rc
exec 3>&-

$B sync
[ -n "$RW" ] && $B umount "$R$RW"
$B umount $R/run/tavm
$B umount /ctl
$B poweroff -f
