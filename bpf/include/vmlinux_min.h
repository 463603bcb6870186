/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A curated subset of kernel types for CO-RE programs.
 *
 * Only the fields the sensors read are declared; every struct carries
 * preserve_access_index, so libbpf relocates each field access against the
 * running kernel's BTF at load time. A full vmlinux.h is about 3 MB and makes
 * every run-time policy compile several times slower; this header keeps policy
 * compilation fast and does not depend on the build host's kernel.
 */
#ifndef __VMLINUX_MIN_H__
#define __VMLINUX_MIN_H__
/* bpf_tracing.h names pt_regs fields the kernel way (di, ax) when it sees this */
#define __VMLINUX_H__

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __s8 s8;
typedef __u8 u8;
typedef __s16 s16;
typedef __u16 u16;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 s64;
typedef __u64 u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef long long loff_t;
typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned short umode_t;
typedef unsigned int fmode_t;
typedef u64 dev_t_placeholder;
enum { false = 0, true = 1 };

#define NULL ((void *)0)

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_STACK_TRACE = 7,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
	BPF_MAP_TYPE_LPM_TRIE = 11,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

#define BPF_F_USER_STACK (1ULL << 8)

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct { int counter; } atomic_t;
typedef struct { uid_t val; } kuid_t;
typedef struct { gid_t val; } kgid_t;
typedef struct { u64 val; } kernel_cap_t;

struct qstr {
	union {
		struct {
			u32 hash;
			u32 len;
		};
		u64 hash_len;
	};
	const unsigned char *name;
};

struct super_block {
	unsigned long s_magic;
};

struct inode {
	umode_t i_mode;
	unsigned long i_ino;
	struct super_block *i_sb;
};

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
};

struct vfsmount {
	struct dentry *mnt_root;
	struct super_block *mnt_sb;
};

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct file {
	struct path f_path;
	struct inode *f_inode;
	unsigned int f_flags;
	fmode_t f_mode;
	loff_t f_pos;
	void *private_data;
};

struct fs_struct {
	struct path root;
	struct path pwd;
};

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
	struct file *exe_file;
};

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t suid;
	kgid_t sgid;
	kuid_t euid;
	kgid_t egid;
	kuid_t fsuid;
	kgid_t fsgid;
	unsigned int securebits;
	kernel_cap_t cap_inheritable;
	kernel_cap_t cap_permitted;
	kernel_cap_t cap_effective;
	kernel_cap_t cap_bset;
	kernel_cap_t cap_ambient;
	struct user_namespace *user_ns;
};

struct ns_common {
	unsigned int inum;
};

struct user_namespace {
	int level;
	kuid_t owner;
	kgid_t group;
	struct ns_common ns;
};

struct uts_namespace { struct ns_common ns; };
struct ipc_namespace { struct ns_common ns; };
struct mnt_namespace { struct ns_common ns; };
struct pid_namespace { struct ns_common ns; unsigned int level; };
struct net { struct ns_common ns; };
struct time_namespace { struct ns_common ns; };
struct cgroup_namespace { struct ns_common ns; };

struct nsproxy {
	struct uts_namespace *uts_ns;
	struct ipc_namespace *ipc_ns;
	struct mnt_namespace *mnt_ns;
	struct pid_namespace *pid_ns_for_children;
	struct net *net_ns;
	struct time_namespace *time_ns;
	struct time_namespace *time_ns_for_children;
	struct cgroup_namespace *cgroup_ns;
};

struct kernfs_node {
	const char *name;
	u64 id;
};

struct cgroup {
	struct kernfs_node *kn;
	int level;
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

struct signal_struct {
	atomic_t live;
	int group_exit_code;
};

struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct task_struct {
	unsigned int flags;
	pid_t pid;
	pid_t tgid;
	int exit_code;
	int exit_signal;
	u64 start_time;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct mm_struct *mm;
	struct fs_struct *fs;
	const struct cred *cred;
	const struct cred *real_cred;
	struct nsproxy *nsproxy;
	struct css_set *cgroups;
	struct signal_struct *signal;
	struct pid *thread_pid;
	kuid_t loginuid;
	unsigned int sessionid;
	char comm[16];
	struct files_struct *files;
};

struct linux_binprm {
	struct file *file;
	const char *filename;
	const char *interp;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct in6_addr {
	union {
		u8 u6_addr8[16];
		__be32 u6_addr32[4];
	} in6_u;
};

struct sock_common {
	union {
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		struct {
			__be16 skc_dport;
			u16 skc_num;
		};
	};
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	u16 sk_type;
	u16 sk_protocol;
};

struct kiocb {
	struct file *ki_filp;
};

struct socket {
	struct sock *sk;
};

struct module {
	char name[56];
	unsigned long taints;
};

/* kernel/module/internal.h: what load_module() knows of a module being loaded */
struct load_info {
	const char *name;
	struct module *mod;
	bool sig_ok;
};

struct net_device {
	char name[16];
};

union bpf_attr {
	struct {
		u32 prog_type;
		u32 insn_cnt;
		char prog_name[16];
	};
};

struct iovec {
	void *iov_base;
	size_t iov_len;
};

/* the kinds of iov_iter (Linux 5.14+); older kernels have a `type` bit field instead */
enum iter_type {
	ITER_IOVEC = 0,
	ITER_KVEC = 1,
	ITER_UBUF = 6,
};

struct iov_iter {
	u8 iter_type;
	size_t count;
	const struct iovec *iov; /* before Linux 6.4 */
	const struct iovec *__iov; /* Linux 6.4+ */
	const struct iovec *kvec;
	void *ubuf; /* Linux 6.0+ */
};

/* a socket message: the dns argument type reads its payload */
struct msghdr {
	struct iov_iter msg_iter;
};

struct perf_event_attr {
	u32 type;
	u64 config;
	u64 kprobe_func; /* a user pointer, for kprobe PMU events */
	u64 probe_offset;
};

struct perf_event {
	struct perf_event_attr attr;
};

struct bpf_map {
	enum bpf_map_type map_type;
	u32 key_size;
	u32 value_size;
	u32 max_entries;
	char name[16];
};

struct sk_buff {
	unsigned int len;
	u32 priority;
	u32 hash;
	u32 mark;
	__be16 protocol;
	u16 transport_header;
	u16 network_header;
	unsigned char *head;
};

struct iphdr {
	u8 ihl_version;
	u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	u8 ttl;
	u8 protocol;
	u16 check;
	__be32 saddr;
	__be32 daddr;
};

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax,
		ip, cs, flags, sp, ss;
};
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	u64 regs[31];
	u64 sp;
	u64 pc;
	u64 pstate;
};
struct pt_regs {
	union {
		struct user_pt_regs user_regs;
		struct {
			u64 regs[31];
			u64 sp;
			u64 pc;
			u64 pstate;
		};
	};
	u64 orig_x0;
};
#endif

#pragma clang attribute pop

#endif /* __VMLINUX_MIN_H__ */
