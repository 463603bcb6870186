#!/usr/bin/env bash
# Boot one Debian kernel in QEMU and run a command in it.
#
#   tests/vm/boot.sh [--report FILE] KERNEL 'command'   boot, run, exit with the command's code
#   tests/vm/boot.sh --fetch KERNEL                     download and prepare only
#   tests/vm/boot.sh --resolve KERNEL                   print the Debian kernel ABI name
#
# KERNEL is an alias, 5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie), 6.12-bpo
# (bookworm-backports) or sid, which picks the newest build in that suite, or an exact
# Debian ABI name such as 6.1.0-41-amd64.
#
# The kernel packages are downloaded with apt into a private apt state and unpacked with
# dpkg-deb; nothing is installed on the host. The guest's root is the host's root
# filesystem (read-only over virtio-9p, with a tmpfs overlay so writes are possible and
# thrown away); the current directory is shared read-write at the same path, and the
# command runs there as root with bash. Its output is the guest console; its exit code
# is this script's exit code (124: timed out, 125: the guest did not report one).
#
# Environment:
#   APPLIANCE_VM_CACHE       cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/tetragon-appliance/vm)
#   APPLIANCE_VM_MIRROR      Debian mirror URL ending in /debian (default: from the host's apt sources)
#   APPLIANCE_VM_APT_UPDATE  1 = refresh the private package lists first
#   APPLIANCE_VM_ACCEL       kvm | tcg (default: kvm if /dev/kvm is usable, else tcg)
#   APPLIANCE_VM_CPUS        guest CPUs (default 2)
#   APPLIANCE_VM_MEM         guest memory (default 2G)
#   APPLIANCE_VM_TIMEOUT     seconds before the guest is killed (default 1800)
#   APPLIANCE_VM_APPEND      extra kernel command line
#   APPLIANCE_VM_RWDIR       host directory shared read-write (default: the current directory)
#   APPLIANCE_VM_VERBOSE     1 = show the kernel log on stderr
# In the guest, TETRAGON_VM_GUEST=1 is set.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${APPLIANCE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tetragon-appliance/vm}
BUSYBOX=${APPLIANCE_VM_BUSYBOX:-/bin/busybox}
LSM="lockdown,capability,landlock,yama,apparmor,bpf"
# modules the initramfs needs to reach the shares (built-in ones are skipped)
INITRD_MODULES="virtio_pci virtio_console virtio_rng 9pnet_virtio 9p overlay"

say() { echo "vm: $*" >&2; }
die() { say "$*"; exit 2; }

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
}

need() {
	local b
	for b in "$@"; do
		command -v "$b" >/dev/null || die "missing $b (apt-get install qemu-system-x86 busybox-static kmod cpio zstd xz-utils)"
	done
}

# ---------------------------------------------------------------- private apt state

host_apt_uris() {
	{ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
		sed 's/#.*//' | grep -oE 'https?://[^][ ]+' | sed 's:/*$::' || true
}

apt_setup() {
	local dir=$CACHE/apt keyring=/usr/share/keyrings/debian-archive-keyring.gpg main sec
	export APT_CONFIG=$dir/apt.conf
	if [ ! -f "$APT_CONFIG" ]; then
		main=${APPLIANCE_VM_MIRROR:-$(host_apt_uris | grep -E '/debian$' | head -1)}
		main=${main%/}
		[ -n "$main" ] || die "no Debian mirror in the host's apt sources; set APPLIANCE_VM_MIRROR"
		sec=$(host_apt_uris | grep -E '/debian-security$' | head -1)
		[ -n "$sec" ] || sec=${main%/debian}/debian-security
		[ -f "$keyring" ] || die "missing $keyring (apt-get install debian-archive-keyring)"
		mkdir -p "$dir"/lists/partial "$dir"/archives/partial "$dir"/sources.list.d "$dir"/preferences.d
		: > "$dir/status"
		{
			for s in bullseye bookworm bookworm-backports trixie sid; do
				echo "deb [arch=amd64 signed-by=$keyring] $main $s main"
			done
			for s in bullseye-security bookworm-security trixie-security; do
				echo "deb [arch=amd64 signed-by=$keyring] $sec $s main"
			done
		} > "$dir/sources.list"
		cat > "$APT_CONFIG.tmp" <<-EOF
			Dir::Etc::sourcelist "$dir/sources.list";
			Dir::Etc::sourceparts "$dir/sources.list.d";
			Dir::Etc::preferences "$dir/preferences";
			Dir::Etc::preferencesparts "$dir/preferences.d";
			Dir::State::lists "$dir/lists";
			Dir::Cache "$dir";
			Dir::Cache::archives "$dir/archives";
			Dir::Cache::pkgcache "pkgcache.bin";
			Dir::Cache::srcpkgcache "srcpkgcache.bin";
			Dir::State::status "$dir/status";
			APT::Architectures { "amd64"; };
			Acquire::Languages "none";
			APT::Sandbox::User "root";
		EOF
		mv "$APT_CONFIG.tmp" "$APT_CONFIG"
	fi
	if [ "${APPLIANCE_VM_APT_UPDATE:-0}" = 1 ] || ! compgen -G "$dir/lists/*_Packages*" >/dev/null; then
		apt_update
	fi
}

apt_update() {
	say "refreshing the package lists in $CACHE/apt"
	apt-get -q update >&2 || die "apt-get update failed"
	APPLIANCE_VM_APT_UPDATE=0
}

# ---------------------------------------------------------------- kernel selection

suites_for() {
	case $1 in
		5.10) echo "bullseye bullseye-security" ;;
		6.1) echo "bookworm bookworm-security" ;;
		6.12) echo "trixie trixie-security" ;;
		6.12-bpo) echo "bookworm-backports" ;;
		sid | unstable) echo "sid unstable" ;;
		*) return 1 ;;
	esac
}

# alias -> ABI name (the part after linux-image-), newest build in the alias' suites;
# remembered until the package lists change
resolve_abi() {
	local sel=$1 suites ver abi stamp memo=$CACHE/resolved/$1
	if ! suites=$(suites_for "$sel"); then
		echo "$sel"
		return
	fi
	stamp=$(stat -c %Y "$CACHE/apt/lists")
	if [ -f "$memo" ] && [ "$(head -1 "$memo")" = "$stamp" ]; then
		sed -n 2p "$memo"
		return
	fi
	ver=$(apt-cache madison linux-image-amd64 | awk -F'|' -v suites=" $suites " '{
		split($3, f, " "); split(f[2], s, "/"); gsub(/ /, "", $2)
		if (index(suites, " " s[1] " ")) print $2 }' | sort -V | tail -1)
	[ -n "$ver" ] || return 1
	abi=$(apt-cache show "linux-image-amd64=$ver" | sed -n 's/^Depends:.*linux-image-\([^ ,]*-amd64\).*/\1/p' | head -1)
	[ -n "$abi" ] || return 1
	mkdir -p "$CACHE/resolved"
	printf '%s\n%s\n' "$stamp" "$abi" > "$memo"
	echo "$abi"
}

# ---------------------------------------------------------------- download + unpack

kernel_files() { # sets VMLINUZ KREL MODROOT KCONFIG for the unpacked tree $KD
	local d
	VMLINUZ=""
	for d in "$KD"/boot/vmlinuz-* "$KD"/usr/lib/modules/*/vmlinuz "$KD"/lib/modules/*/vmlinuz; do
		[ -f "$d" ] && { VMLINUZ=$d; break; }
	done
	[ -n "$VMLINUZ" ] || return 1
	KREL=""
	for d in "$KD"/usr/lib/modules/* "$KD"/lib/modules/*; do
		[ -d "$d/kernel" ] && { MODROOT=$d; KREL=${d##*/}; break; }
	done
	[ -n "$KREL" ] || return 1
	KCONFIG=""
	for d in "$KD/boot/config-$KREL" "$MODROOT/config"; do
		[ -f "$d" ] && { KCONFIG=$d; break; }
	done
	[ -n "$KCONFIG" ]
}

download() { # package names; retries once after refreshing the lists
	(cd "$CACHE/debs" && apt-get -q download "$@" >&2) && return
	apt_update
	(cd "$CACHE/debs" && apt-get -q download "$@" >&2)
}

deb_file() { # package -> its downloaded .deb (newest)
	compgen -G "$CACHE/debs/$1_*.deb" | sort -V | tail -1
}

fetch_kernel() {
	local abi=$1 tmp p extra
	KD=$CACHE/kernels/$abi
	[ -f "$KD/.complete" ] && kernel_files && return
	mkdir -p "$CACHE/debs" "$CACHE/kernels"
	tmp=$KD.unpack
	rm -rf "$KD" "$tmp"
	say "downloading linux-image-$abi"
	download "linux-image-$abi" || die "cannot download linux-image-$abi"
	dpkg-deb -x "$(deb_file "linux-image-$abi")" "$tmp"
	# newer kernels (sid) split the image into linux-binary-, linux-modules- and
	# linux-base- packages that linux-image- depends on
	extra=$(dpkg-deb -f "$(deb_file "linux-image-$abi")" Depends |
		grep -oE 'linux-(binary|modules|base)-[^ ,]+' | grep -xF -e "linux-binary-$abi" \
		-e "linux-modules-$abi" -e "linux-base-$abi" | sort -u || true)
	if [ -n "$extra" ]; then
		# shellcheck disable=SC2086
		download $extra || die "cannot download $extra"
		for p in $extra; do dpkg-deb -x "$(deb_file "$p")" "$tmp"; done
	fi
	mv "$tmp" "$KD"
	rm -f "$CACHE"/debs/*.deb
	kernel_files || die "no kernel image or modules in $KD"
	depmod -b "${MODROOT%/lib/modules/*}" "$KREL"
	touch "$KD/.complete"
}

# ---------------------------------------------------------------- initramfs

build_initrd() { # sets INITRD
	local key tmp m ko name list
	list=$(for m in $INITRD_MODULES; do
		modprobe -d "${MODROOT%/lib/modules/*}" -S "$KREL" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++')
	key=$({ cat "$HERE/guest-init.sh"; echo "$list"; ls -l "$BUSYBOX"; } | sha256sum | cut -c1-12)
	INITRD=$KD/initrd-$key.cpio.gz
	[ -f "$INITRD" ] && return
	tmp=$(mktemp -d "$CACHE/initrd.XXXXXX")
	mkdir -p "$tmp"/{bin,modules,proc,sys,dev,ctl,lower,overlay,newroot}
	cp "$BUSYBOX" "$tmp/bin/busybox"
	cp "$HERE/guest-init.sh" "$tmp/init"
	chmod 0755 "$tmp/init"
	: > "$tmp/modules/order"
	for ko in $list; do
		name=${ko##*/}
		name=${name%.xz}; name=${name%.zst}; name=${name%.gz}
		case $ko in
			*.xz) xz -dc "$ko" ;;
			*.zst) zstd -qdc "$ko" ;;
			*.gz) gzip -dc "$ko" ;;
			*) cat "$ko" ;;
		esac > "$tmp/modules/$name"
		echo "$name" >> "$tmp/modules/order"
	done
	(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD"
	rm -rf "$tmp"
	rm -f $(compgen -G "$KD/initrd-*.cpio.gz" | grep -vF "$INITRD") 2>/dev/null || true
}

# ---------------------------------------------------------------- prepare (locked)

prepare() { # $1 = kernel selector; sets ABI KD VMLINUZ KREL MODROOT KCONFIG INITRD
	need apt-get apt-cache dpkg-deb depmod modprobe cpio gzip xz zstd sha256sum flock file
	[ -x "$BUSYBOX" ] && file -b "$(readlink -f "$BUSYBOX")" | grep -q 'statically linked' ||
		die "need a static busybox at $BUSYBOX (apt-get install busybox-static)"
	mkdir -p "$CACHE"
	exec 9> "$CACHE/.lock"
	flock 9
	apt_setup
	ABI=$(resolve_abi "$1") || { apt_update; ABI=$(resolve_abi "$1"); } ||
		die "no Debian kernel found for '$1'"
	fetch_kernel "$ABI"
	build_initrd
	flock -u 9
}

# ---------------------------------------------------------------- boot

pick_accel() {
	local a=${APPLIANCE_VM_ACCEL:-}
	if [ -z "$a" ]; then
		if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
			a=kvm
		else
			a=tcg
		fi
	fi
	echo "$a"
}

msize_for() { # 9p message size: kernels before 6.0 allocate whole-msize buffers per request
	if [ -n "${APPLIANCE_VM_MSIZE:-}" ]; then
		echo "$APPLIANCE_VM_MSIZE"
	else
		case $KREL in
			[2-5].*) echo 65536 ;;
			*) echo 524288 ;;
		esac
	fi
}

boot() { # $1 = command; returns the command's exit code
	local cmd=$1 rwdir accel run rc start end append console qemu_rc
	need qemu-system-x86_64 timeout
	rwdir=$(cd "${APPLIANCE_VM_RWDIR:-$PWD}" && pwd)
	case $rwdir in *[[:space:]]*) die "the shared directory's path may not contain spaces: $rwdir" ;; esac
	accel=$(pick_accel)
	mkdir -p "$CACHE/run"
	run=$(mktemp -d "$CACHE/run/boot.XXXXXX")
	RUNDIR=$run
	trap 'rm -rf "$RUNDIR"' EXIT
	printf '%s\n' "$cmd" > "$run/cmd"
	cp "$KCONFIG" "$run/config"
	{
		printf 'export PATH=%q\n' "$PATH"
		printf 'export TAVM_RW=%q\n' "$rwdir"
		printf 'export TERM=%q\n' "$([ -t 1 ] && echo "${TERM:-dumb}" || echo dumb)"
		echo 'export HOME=/root LANG=C.UTF-8 TETRAGON_VM_GUEST=1 PYTHONDONTWRITEBYTECODE=1'
	} > "$run/env"

	append="console=ttyS0 panic=-1 rdinit=/init mitigations=off random.trust_cpu=on"
	append+=" lsm=$LSM tavm.rw=$rwdir tavm.hostname=vm-${KREL%%-*} tavm.msize=$(msize_for)"
	if [ "${APPLIANCE_VM_VERBOSE:-0}" = 1 ]; then
		console="-serial file:/dev/stderr"
	else
		append+=" quiet loglevel=3"
		console="-serial file:$run/console.log"
	fi
	append+=" ${APPLIANCE_VM_APPEND:-}"
	local -a accel_opts
	case $accel in
		kvm) accel_opts=(-accel kvm -accel "tcg,thread=multi" -cpu max) ;;
		tcg) accel_opts=(-accel "tcg,thread=multi" -cpu max) ;;
		*) die "APPLIANCE_VM_ACCEL must be kvm or tcg" ;;
	esac

	say "booting $KREL ($ABI) accel=$accel"
	start=$(date +%s.%N)
	set +e
	# shellcheck disable=SC2086
	timeout --foreground -k 10 "${APPLIANCE_VM_TIMEOUT:-1800}" \
		qemu-system-x86_64 "${accel_opts[@]}" -machine pc \
		-m "${APPLIANCE_VM_MEM:-2G}" -smp "${APPLIANCE_VM_CPUS:-2}" \
		-nodefaults -no-user-config -display none -no-reboot $console \
		-kernel "$VMLINUZ" -initrd "$INITRD" -append "$append" \
		-device virtio-rng-pci \
		-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
		-fsdev "local,id=ctl,path=$run,security_model=none" \
		-device virtio-9p-pci,fsdev=ctl,mount_tag=ctl \
		-fsdev "local,id=kmods,path=$MODROOT,security_model=none,readonly=on" \
		-device virtio-9p-pci,fsdev=kmods,mount_tag=kmods \
		-fsdev "local,id=rwdir,path=$rwdir,security_model=none,multidevs=remap" \
		-device virtio-9p-pci,fsdev=rwdir,mount_tag=rwdir \
		-chardev stdio,id=out,signal=off -device virtio-serial-pci -device virtconsole,chardev=out \
		< /dev/null
	qemu_rc=$?
	set -e
	end=$(date +%s.%N)

	if [ -f "$run/rc" ]; then
		rc=$(cat "$run/rc")
	elif [ $qemu_rc = 124 ] || [ $qemu_rc = 137 ]; then
		say "timed out after ${APPLIANCE_VM_TIMEOUT:-1800}s"
		rc=124
	else
		say "the guest reported no exit code (qemu exit $qemu_rc); end of the kernel log:"
		[ -f "$run/console.log" ] && tail -n 40 "$run/console.log" >&2
		rc=125
	fi
	if [ -n "${REPORT:-}" ]; then
		{
			echo "abi=$ABI"
			echo "release=$(cat "$run/release" 2>/dev/null || true)"
			echo "accel=$accel"
			echo "rc=$rc"
			echo "seconds=$(echo "$end - $start" | awk '{ printf "%.1f", $1 - $3 }')"
		} > "$REPORT.tmp"
		mv "$REPORT.tmp" "$REPORT"
	fi
	return "$rc"
}

# ---------------------------------------------------------------- main

MODE=boot
REPORT=""
while [ $# -gt 0 ]; do
	case $1 in
		--fetch) MODE=fetch; shift ;;
		--resolve) MODE=resolve; shift ;;
		--report) REPORT=$(realpath -m "${2:?--report needs a file}"); shift 2 ;;
		--report=*) REPORT=$(realpath -m "${1#--report=}"); shift ;;
		-h | --help) usage ;;
		--) shift; break ;;
		-*) usage ;;
		*) break ;;
	esac
done

case $MODE in
	resolve)
		[ $# -eq 1 ] || usage
		need apt-get apt-cache flock
		mkdir -p "$CACHE"
		exec 9> "$CACHE/.lock"
		flock 9
		apt_setup
		resolve_abi "$1" || die "no Debian kernel found for '$1'"
		;;
	fetch)
		[ $# -eq 1 ] || usage
		prepare "$1"
		echo "$KD"
		;;
	boot)
		[ $# -ge 2 ] || usage
		sel=$1
		shift
		prepare "$sel"
		rc=0
		boot "$*" || rc=$?
		exit $rc
		;;
esac
