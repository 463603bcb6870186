/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Building blocks for generated TracingPolicy programs. The code generator
 * (appliance/policy/emit.py) emits one program per hook that reads the
 * arguments into a per-CPU message, evaluates the selectors inline and runs
 * the actions. Layouts are mirrored by appliance/policy/decode.py.
 */
#ifndef __APPLIANCE_POLICY_H__
#define __APPLIANCE_POLICY_H__

#include "common.h"

#define MAX_ARGS 6
#define SLOT 1024
#define SLOT_PATH_MASK 511
#define SLOT_STR_MASK 511

#define ARG_TRUNCATED 1
#define ARG_ERROR 2

/* Mask an offset in a way the compiler cannot drop, so the verifier always
 * sees the bound at the access (older verifiers lose it across spills). */
static __always_inline u32 bound511(u32 x)
{
	asm volatile("%0 &= 511" : "+r"(x));
	return x;
}

/* An offset inside one slot (SLOT bytes): a string's tail compares byte by byte at
 * len - n + i, each offset masked on its own, so no length past 512 is cut short. */
static __always_inline u32 bound1023(u32 x)
{
	asm volatile("%0 &= 1023" : "+r"(x));
	return x;
}

/* The same inside a binary name (BINARY_MAX = 256 bytes). */
static __always_inline u32 bound255(u32 x)
{
	asm volatile("%0 &= 255" : "+r"(x));
	return x;
}

struct pmsg {
	struct msg_header h;
	u32 policy_id;
	u16 hook_id;
	u8 action;
	u8 selector;
	s64 ret;
	u64 ints[MAX_ARGS];
	u32 lens[MAX_ARGS];
	u32 aflags[MAX_ARGS];
	char slots[NSLOTS][SLOT];
};

struct path_scratch {
	u64 d[PATH_DEPTH];
	u32 n;
	u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct pmsg);
} pmsg_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct path_scratch);
} path_scratch_map SEC(".maps");

/*
 * Post imaHash: the file's IMA hash into slot k as (s64 hash algorithm or -errno, digest).
 * Called from sleepable LSM programs only: bpf_ima_file_hash may sleep.
 */
#define IMA_DIGEST_MAX 64
static __always_inline void ima_hash_slot(struct pmsg *m, int k, struct file *file)
{
	char *d = m->slots[k];

	/* mmap_file's file is NULL for an anonymous mapping (newer kernels mark it nullable) */
	if (!file) {
		*(s64 *)d = -9; /* -EBADF */
		return;
	}
	*(s64 *)d = bpf_ima_file_hash(file, d + 8, IMA_DIGEST_MAX);
}

/* per hook counters: [hook * 8 + k] */
#define PC_EMITTED 0
#define PC_LOST 1
#define PC_RATE_LIMITED 2
#define PC_ACTIONS 3
#define PC_MATCHED 4
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NHOOKS * 8);
	__type(key, u32);
	__type(value, u64);
} pcounters SEC(".maps");

static __always_inline void pcount(u32 hook, u32 k)
{
	u32 idx = hook * 8 + k;
	u64 *v = bpf_map_lookup_elem(&pcounters, &idx);
	if (v)
		*v += 1;
}

struct rl_key {
	u32 hook_sel;
	u32 tgid;
	u64 a[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct rl_key);
	__type(value, u64);
} ratelimit_map SEC(".maps");

/* 1 = drop (an identical event was posted less than `window` ns ago) */
static __always_inline int rate_limited(struct pmsg *m, u32 hook_sel, u64 window, int per_process)
{
	struct rl_key k = {};
	k.hook_sel = hook_sel;
	k.tgid = per_process ? m->h.pid : 0;
	k.a[0] = m->ints[0];
	k.a[1] = m->ints[1];
	k.a[2] = m->ints[2];
	if (NSLOTS > 0)
		bpf_probe_read_kernel(&k.a[3], 8, m->slots[0]);
	u64 now = m->h.ktime;
	u64 *last = bpf_map_lookup_elem(&ratelimit_map, &k);
	if (last && now - *last < window)
		return 1;
	bpf_map_update_elem(&ratelimit_map, &k, &now, BPF_ANY);
	return 0;
}

/* Absolute path of (dentry, vfsmnt), root first, into slot; stops at the task's root. */
static __always_inline void path_fwd(char *sp, u32 *len_out, u32 *flags_out, struct dentry *dentry,
				     struct vfsmount *vfsmnt)
{
	u32 zero = 0;
	struct path_scratch *ps = bpf_map_lookup_elem(&path_scratch_map, &zero);
	if (!ps)
		return;
	struct task_struct *task = (void *)bpf_get_current_task();
	struct dentry *root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);

	ps->n = 0;
	*flags_out = 0;
	for (int i = 0; i < PATH_DEPTH; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (dentry == root_dentry && vfsmnt == root_mnt)
			break;
		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (dentry != mnt_root || mnt == mnt_parent)
				break;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (void *)mnt + bpf_core_field_offset(struct mount, mnt);
			continue;
		}
		u32 n = ps->n;
		ps->d[n & (PATH_DEPTH - 1)] = (u64)dentry;
		ps->n = n + 1;
		dentry = parent;
		if (i == PATH_DEPTH - 1)
			*flags_out |= ARG_TRUNCATED;
	}
	*len_out = 0;
	if (ps->n == 0) {
		sp[0] = '/';
		sp[1] = 0;
		*len_out = 1;
		return;
	}
	for (int i = 0; i < PATH_DEPTH; i++) {
		u32 n = ps->n;
		if (i >= n)
			break;
		u32 off = *len_out;
		if (off > SLOT_PATH_MASK - 1) {
			*flags_out |= ARG_TRUNCATED;
			break;
		}
		struct dentry *d = (void *)ps->d[(n - 1 - i) & (PATH_DEPTH - 1)];
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		sp[bound511(off)] = '/';
		long l = bpf_probe_read_kernel_str(&sp[bound511(off + 1)], NAME_MAX_READ, name);
		if (l <= 0)
			break;
		*len_out = off + l; /* l counts the NUL; the '/' takes its place */
	}
}

static __always_inline void file_arg(struct pmsg *m, int k, int a, struct file *file)
{
	if (!file) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	path_fwd(m->slots[k], &m->lens[a], &m->aflags[a], BPF_CORE_READ(file, f_path.dentry),
		 BPF_CORE_READ(file, f_path.mnt));
	m->ints[a] = BPF_CORE_READ(file, f_inode, i_mode);
}

static __always_inline void path_arg(struct pmsg *m, int k, int a, struct path *path)
{
	path_fwd(m->slots[k], &m->lens[a], &m->aflags[a], BPF_CORE_READ(path, dentry),
		 BPF_CORE_READ(path, mnt));
	m->ints[a] = BPF_CORE_READ(path, dentry, d_inode, i_mode); /* FileType */
}

static __always_inline struct file *fd_file(u64 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return NULL;
	struct file **arr = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), arr + fd);
	return f;
}

/* A path given to a syscall as a name (truncate(2)): as is when absolute, else after the
 * task's working directory; not resolved through symlinks or "..". */
static __always_inline void user_path_arg(struct pmsg *m, int k, int a, const char *up)
{
	char c = 0;
	u32 off = 0;
	if (bpf_probe_read_user(&c, 1, up) < 0) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	if (c != '/') {
		struct task_struct *task = (void *)bpf_get_current_task();
		path_fwd(m->slots[k], &m->lens[a], &m->aflags[a], BPF_CORE_READ(task, fs, pwd.dentry),
			 BPF_CORE_READ(task, fs, pwd.mnt));
		off = m->lens[a];
		if (off <= 1)
			off = 0; /* the working directory is "/" */
		if (off > SLOT_PATH_MASK - 1) {
			m->aflags[a] |= ARG_TRUNCATED;
			return;
		}
		m->slots[k][bound511(off)] = '/';
		off += 1;
	}
	long l = bpf_probe_read_user_str(&m->slots[k][bound511(off)], SLOT / 2, up);
	if (l <= 0) {
		m->aflags[a] |= ARG_ERROR;
		l = 1;
	}
	if (l >= SLOT / 2)
		m->aflags[a] |= ARG_TRUNCATED;
	m->lens[a] = off + l - 1;
}

static __always_inline void str_arg(struct pmsg *m, int k, int a, const void *ptr, int user)
{
	long l = user ? bpf_probe_read_user_str(m->slots[k], SLOT, ptr)
		      : bpf_probe_read_kernel_str(m->slots[k], SLOT, ptr);
	if (l < 0) {
		m->aflags[a] |= ARG_ERROR;
		l = 0;
	} else if (l > 0) {
		l -= 1;
	}
	if (l >= SLOT - 1)
		m->aflags[a] |= ARG_TRUNCATED;
	m->lens[a] = l;
}

static __always_inline void buf_arg(struct pmsg *m, int k, int a, const void *ptr, u64 size, int user)
{
	if (size > SLOT - 1) {
		m->aflags[a] |= ARG_TRUNCATED;
		size = SLOT - 1;
	}
	long r = user ? bpf_probe_read_user(m->slots[k], size & (SLOT - 1), ptr)
		      : bpf_probe_read_kernel(m->slots[k], size & (SLOT - 1), ptr);
	if (r < 0) {
		m->aflags[a] |= ARG_ERROR;
		size = 0;
	}
	m->lens[a] = size;
	m->ints[a] = size;
}

/* sock: ints = [family | type << 16 | protocol << 32 | state << 48], slot = 4 words */
struct sock_info {
	u32 saddr;
	u32 daddr;
	u16 sport;
	u16 dport;
	u16 family;
	u16 type;
	u16 protocol;
	u8 state;
	u8 pad;
	u32 saddr6[4]; /* IPv6 (family AF_INET6), network order */
	u32 daddr6[4];
};

static __always_inline void sock_fill(struct sock_info *si, struct sock *sk)
{
	si->saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	si->daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	si->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	si->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	si->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	si->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	si->type = BPF_CORE_READ(sk, sk_type);
	si->protocol = BPF_CORE_READ(sk, sk_protocol);
	if (si->family == 10 && bpf_core_field_exists(sk->__sk_common.skc_v6_daddr)) {
		BPF_CORE_READ_INTO(&si->saddr6, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&si->daddr6, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline void sock_arg(struct pmsg *m, int k, int a, struct sock *sk)
{
	struct sock_info si = {};
	if (!sk) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	sock_fill(&si, sk);
	__builtin_memcpy(m->slots[k], &si, sizeof(si));
	m->lens[a] = sizeof(si);
}

/* A returned sock (returnArg type sock) into slot k; all zero for NULL. */
static __always_inline void sock_ret(struct pmsg *m, int k, struct sock *sk)
{
	struct sock_info si = {};
	if (sk)
		sock_fill(&si, sk);
	__builtin_memcpy(m->slots[k], &si, sizeof(si));
}

/* sockaddr: family, address and port in a sock_info (as its source), an AF_UNIX path
 * at SOCKADDR_UN_PATH of the slot */
#define SOCKADDR_UN_PATH 64
static __always_inline void sockaddr_arg(struct pmsg *m, int k, int a, const void *sa)
{
	struct sock_info si = {};
	struct { u16 family; u16 port; u32 addr; } in4 = {};
	struct { u16 family; u16 port; u32 flow; u32 addr[4]; } in6 = {};
	if (!sa || bpf_probe_read_kernel(&in4, sizeof(in4), sa) < 0) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	si.family = in4.family;
	if (in4.family == 2) {
		si.saddr = in4.addr;
		si.sport = __builtin_bswap16(in4.port);
	} else if (in4.family == 10 && bpf_probe_read_kernel(&in6, sizeof(in6), sa) == 0) {
		__builtin_memcpy(si.saddr6, in6.addr, 16);
		si.sport = __builtin_bswap16(in6.port);
	} else if (in4.family == 1) {
		bpf_probe_read_kernel_str(&m->slots[k][SOCKADDR_UN_PATH], 108, sa + 2);
	}
	__builtin_memcpy(m->slots[k], &si, sizeof(si));
	m->lens[a] = sizeof(si);
}

/* A connect(2) in progress, as tcp_connect() will see it: the fd's socket, with the
 * destination taken from the user's sockaddr (IPv4) and the state SYN_SENT. Nothing is
 * filled (lens stays 0) unless the fd is a TCP socket of an IPv4 address. */
static __always_inline void connect_sock_arg(struct pmsg *m, int k, int a, u64 fd,
					     const void *uaddr)
{
	struct file *f = fd_file(fd);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & 0170000) != 0140000)
		return;
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != 6)
		return;
	struct { u16 family; u16 port; u32 addr; } sin = {};
	if (bpf_probe_read_user(&sin, sizeof(sin), uaddr) < 0 || sin.family != 2)
		return;
	sock_arg(m, k, a, sk);
	struct sock_info *si = (struct sock_info *)m->slots[k];
	si->daddr = sin.addr;
	si->dport = __builtin_bswap16(sin.port);
	si->state = 2; /* TCP_SYN_SENT */
}

/* cred: ids, capability sets and the user namespace */
struct cred_info {
	u32 uid, gid, suid, sgid, euid, egid, fsuid, fsgid;
	u32 securebits;
	u32 ns_level;
	u64 cap_inheritable, cap_permitted, cap_effective;
	u32 ns_owner, ns_group, ns_inum, pad;
};

static __always_inline void userns_fill(struct cred_info *ci, struct user_namespace *ns)
{
	ci->ns_level = BPF_CORE_READ(ns, level);
	ci->ns_owner = BPF_CORE_READ(ns, owner.val);
	ci->ns_group = BPF_CORE_READ(ns, group.val);
	ci->ns_inum = BPF_CORE_READ(ns, ns.inum);
}

static __always_inline void cred_arg(struct pmsg *m, int k, int a, const struct cred *c)
{
	struct cred_info ci = {};
	if (!c) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	ci.uid = BPF_CORE_READ(c, uid.val);
	ci.gid = BPF_CORE_READ(c, gid.val);
	ci.suid = BPF_CORE_READ(c, suid.val);
	ci.sgid = BPF_CORE_READ(c, sgid.val);
	ci.euid = BPF_CORE_READ(c, euid.val);
	ci.egid = BPF_CORE_READ(c, egid.val);
	ci.fsuid = BPF_CORE_READ(c, fsuid.val);
	ci.fsgid = BPF_CORE_READ(c, fsgid.val);
	ci.securebits = BPF_CORE_READ(c, securebits);
	bpf_probe_read_kernel(&ci.cap_inheritable, 8, (void *)c + bpf_core_field_offset(struct cred, cap_inheritable));
	bpf_probe_read_kernel(&ci.cap_permitted, 8, (void *)c + bpf_core_field_offset(struct cred, cap_permitted));
	bpf_probe_read_kernel(&ci.cap_effective, 8, (void *)c + bpf_core_field_offset(struct cred, cap_effective));
	userns_fill(&ci, BPF_CORE_READ(c, user_ns));
	__builtin_memcpy(m->slots[k], &ci, sizeof(ci));
	m->lens[a] = sizeof(ci);
}

static __always_inline void userns_arg(struct pmsg *m, int k, int a, struct user_namespace *ns)
{
	struct cred_info ci = {};
	if (!ns) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	userns_fill(&ci, ns);
	__builtin_memcpy(m->slots[k], &ci, sizeof(ci));
	m->lens[a] = sizeof(ci);
}

/* A module being loaded (struct load_info): Tetragon's KernelModule. sig_ok is only in
 * kernels built with CONFIG_MODULE_SIG (elsewhere it stays 0). */
struct load_info_msg {
	u32 sig_ok;
	u32 pad;
	u64 taints;
	char name[56];
};

static __always_inline void load_info_arg(struct pmsg *m, int k, int a, struct load_info *info)
{
	struct load_info_msg *lm = (struct load_info_msg *)m->slots[k];
	const char *name = 0;
	bool ok = 0;

	__builtin_memset(lm, 0, sizeof(*lm));
	m->lens[a] = sizeof(*lm);
	if (!info || bpf_probe_read_kernel(&name, sizeof(name), &info->name) < 0 ||
	    bpf_probe_read_kernel_str(lm->name, sizeof(lm->name), name) < 0) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	lm->taints = BPF_CORE_READ(info, mod, taints);
	if (bpf_core_field_exists(info->sig_ok) &&
	    bpf_probe_read_kernel(&ok, sizeof(ok), &info->sig_ok) == 0)
		lm->sig_ok = ok;
}

/* A loaded module (struct module): its name and taints, in the same message (Tetragon
 * reports no signature for it). */
static __always_inline void module_arg(struct pmsg *m, int k, int a, struct module *mod)
{
	struct load_info_msg *lm = (struct load_info_msg *)m->slots[k];

	__builtin_memset(lm, 0, sizeof(*lm));
	m->lens[a] = sizeof(*lm);
	if (!mod || bpf_probe_read_kernel_str(lm->name, sizeof(lm->name), (void *)mod + bpf_core_field_offset(struct module, name)) < 0) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	lm->taints = BPF_CORE_READ(mod, taints);
}

/* A network device: its name (IFNAMSIZ bytes), compared as a string. */
static __always_inline void net_device_arg(struct pmsg *m, int k, int a, const struct net_device *dev)
{
	long l = dev ? bpf_probe_read_kernel_str(m->slots[k], 16, (void *)dev + bpf_core_field_offset(struct net_device, name)) : -1;
	if (l < 1) {
		m->aflags[a] |= ARG_ERROR;
		m->slots[k][0] = 0;
		l = 1;
	}
	m->lens[a] = l - 1;
}

struct bpf_attr_info {
	u32 prog_type;
	u32 insn_cnt;
	char name[16];
};

static __always_inline void bpf_attr_arg(struct pmsg *m, int k, int a, union bpf_attr *attr)
{
	struct bpf_attr_info bi = {};
	if (!attr) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	bi.prog_type = BPF_CORE_READ(attr, prog_type);
	bi.insn_cnt = BPF_CORE_READ(attr, insn_cnt);
	BPF_CORE_READ_STR_INTO(&bi.name, attr, prog_name);
	__builtin_memcpy(m->slots[k], &bi, sizeof(bi));
	m->lens[a] = sizeof(bi);
}

/* up to 8 bytes of kernel memory as a number (0 when unreadable): resolve: chains */
static __always_inline u64 rd_kernel(u64 addr, u32 size)
{
	u64 v = 0;
	bpf_probe_read_kernel(&v, size < 8 ? size : 8, (const void *)addr);
	return v;
}

/* 8 bytes of the traced program's memory (0 when unreadable): uprobe register values */
static __always_inline u64 umem_u64(u64 addr)
{
	u64 v = 0;
	bpf_probe_read_user(&v, 8, (const void *)addr);
	return v;
}

/* dentry: its path up to the root of its mount (a dentry alone has no mount) */
static __always_inline void dentry_arg(struct pmsg *m, int k, int a, struct dentry *d)
{
	if (!d) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	path_fwd(m->slots[k], &m->lens[a], &m->aflags[a], d, NULL);
}

/* The first segment of an iov_iter (a user buffer, an iovec or a kvec), at most the
 * iterator's count: its address, length and whether it is user memory. 0 when unreadable. */
static __always_inline int iov_iter_segment(struct iov_iter *it, const void **base, u64 *len,
					    int *user)
{
	u64 count = BPF_CORE_READ(it, count);
	const struct iovec *iov = NULL;
	int kind = bpf_core_field_exists(it->iter_type) ? BPF_CORE_READ(it, iter_type) : -1;

	*base = NULL;
	*len = count;
	*user = 1;
	if (bpf_core_field_exists(it->ubuf) && bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
	    kind == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
		*base = BPF_CORE_READ(it, ubuf);
	} else {
		if (kind >= 0 && bpf_core_enum_value_exists(enum iter_type, ITER_KVEC) &&
		    kind == bpf_core_enum_value(enum iter_type, ITER_KVEC)) {
			*user = 0;
			iov = BPF_CORE_READ(it, kvec);
		} else if (bpf_core_field_exists(it->__iov)) {
			iov = BPF_CORE_READ(it, __iov);
		} else if (bpf_core_field_exists(it->iov)) {
			iov = BPF_CORE_READ(it, iov);
		}
		if (iov) {
			*base = BPF_CORE_READ(iov, iov_base);
			u64 l = BPF_CORE_READ(iov, iov_len);
			if (l < *len)
				*len = l;
		}
	}
	return *base != NULL;
}

/* iov_iter: the bytes of its first segment, as char_buf */
static __always_inline void iov_iter_arg(struct pmsg *m, int k, int a, struct iov_iter *it)
{
	const void *base;
	u64 len;
	int user;

	if (!it || !iov_iter_segment(it, &base, &len, &user)) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	buf_arg(m, k, a, base, len, user);
}

#include "dns.h"

/* perf_event: the attr's type, config, probe offset and (kprobe PMU) function name */
struct perf_event_info {
	u64 config;
	u64 probe_offset;
	u32 type;
	u32 pad;
	char kprobe_func[128];
};

static __always_inline void perf_event_arg(struct pmsg *m, int k, int a, struct perf_event *ev)
{
	struct perf_event_info *pi = (struct perf_event_info *)m->slots[k];
	if (!ev) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	pi->config = BPF_CORE_READ(ev, attr.config);
	pi->probe_offset = BPF_CORE_READ(ev, attr.probe_offset);
	pi->type = BPF_CORE_READ(ev, attr.type);
	pi->pad = 0;
	pi->kprobe_func[0] = 0;
	const char *fn = (const char *)BPF_CORE_READ(ev, attr.kprobe_func);
	if (fn && bpf_probe_read_user_str(pi->kprobe_func, sizeof(pi->kprobe_func), fn) < 0 &&
	    bpf_probe_read_kernel_str(pi->kprobe_func, sizeof(pi->kprobe_func), fn) < 0)
		pi->kprobe_func[0] = 0;
	m->lens[a] = sizeof(*pi);
}

/* bpf_map: type, sizes and name */
struct bpf_map_info_arg {
	u32 map_type, key_size, value_size, max_entries;
	char name[16];
};

static __always_inline void bpf_map_arg(struct pmsg *m, int k, int a, struct bpf_map *map)
{
	struct bpf_map_info_arg bi = {};
	if (!map) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	bi.map_type = BPF_CORE_READ(map, map_type);
	bi.key_size = BPF_CORE_READ(map, key_size);
	bi.value_size = BPF_CORE_READ(map, value_size);
	bi.max_entries = BPF_CORE_READ(map, max_entries);
	BPF_CORE_READ_STR_INTO(&bi.name, map, name);
	__builtin_memcpy(m->slots[k], &bi, sizeof(bi));
	m->lens[a] = sizeof(bi);
}

/* skb: lengths, marks and the IPv4/IPv6 TCP-UDP 5-tuple */
struct skb_info {
	u32 hash, len, priority, mark;
	u32 saddr, daddr;
	u16 sport, dport;
	u16 l3proto;
	u8 proto, pad;
	u16 family; /* AF_INET, AF_INET6 or 0 */
	u16 pad2;
	u32 saddr6[4]; /* IPv6, network order */
	u32 daddr6[4];
};

/* the fixed IPv6 header as on the wire */
struct ipv6_wire {
	u8 prio_version;
	u8 flow[3];
	__be16 payload_len;
	u8 nexthdr;
	u8 hop_limit;
	u32 saddr[4];
	u32 daddr[4];
};

static __always_inline void skb_arg(struct pmsg *m, int k, int a, struct sk_buff *skb)
{
	struct skb_info si = {};
	if (!skb) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	si.hash = BPF_CORE_READ(skb, hash);
	si.len = BPF_CORE_READ(skb, len);
	si.priority = BPF_CORE_READ(skb, priority);
	si.mark = BPF_CORE_READ(skb, mark);
	si.l3proto = __builtin_bswap16(BPF_CORE_READ(skb, protocol));
	unsigned char *head = BPF_CORE_READ(skb, head);
	u16 nh = BPF_CORE_READ(skb, network_header);
	u16 th = BPF_CORE_READ(skb, transport_header);
	struct iphdr ip = {};
	struct ipv6_wire ip6 = {};
	if (si.l3proto == 0x0800 && bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) == 0) {
		si.family = 2;
		si.saddr = ip.saddr;
		si.daddr = ip.daddr;
		si.proto = ip.protocol;
	} else if (si.l3proto == 0x86DD &&
		   bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) == 0) {
		si.family = 10;
		si.proto = ip6.nexthdr;
		__builtin_memcpy(si.saddr6, ip6.saddr, 16);
		__builtin_memcpy(si.daddr6, ip6.daddr, 16);
	}
	if (si.family && (si.proto == 6 || si.proto == 17)) {
		__be16 ports[2] = {};
		bpf_probe_read_kernel(ports, sizeof(ports), head + th);
		si.sport = __builtin_bswap16(ports[0]);
		si.dport = __builtin_bswap16(ports[1]);
	}
	__builtin_memcpy(m->slots[k], &si, sizeof(si));
	m->lens[a] = sizeof(si);
}

static __always_inline struct sock_info *sock_of(struct pmsg *m, int k)
{
	return (struct sock_info *)m->slots[k];
}

static __always_inline struct exec_info *exec_info_of(u32 tgid)
{
	return bpf_map_lookup_elem(&execve_map, &tgid);
}

static __always_inline u64 cap_set(struct task_struct *task, u32 off)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);
	u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), (void *)cred + off);
	return v;
}

#endif /* __APPLIANCE_POLICY_H__ */
