/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the base sensors and by generated policy programs:
 * the event header, path walking, process identity and the output ring buffer.
 * The messages themselves are defined in process_msgs.h.
 */
#ifndef __APPLIANCE_COMMON_H__
#define __APPLIANCE_COMMON_H__

#include "vmlinux_min.h"
#include "process_msgs.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define NAME_MAX_READ 256
#define PATH_DEPTH 32

/* Ring buffer shared by every program of one BPF object; its size is set by
 * the loader (--rb-size) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Counters read by the agent: index 0 = messages lost because the ring
 * buffer was full; 1 = sent; 2.. per sensor. */
#define CNT_LOST 0
#define CNT_SENT 1
#define CNT_MAX 16
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

/* The binary of every process, by tgid: written by the process sensor at
 * exec and fork (and by the agent for processes found in procfs), read by
 * policy programs for matchBinaries. Policy objects reuse this map's fd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, struct exec_info);
} execve_map SEC(".maps");

/* inode number of the task's active pid namespace */
static __always_inline u32 pid_ns_inum(struct task_struct *task)
{
	unsigned int level = BPF_CORE_READ(task, thread_pid, level);
	struct upid up = {};
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]);
	return BPF_CORE_READ(up.ns, ns.inum);
}

/* the task's pid in its own (innermost) pid namespace: 1 for a container's first process */
static __always_inline u32 ns_pid(struct task_struct *task)
{
	unsigned int level = BPF_CORE_READ(task, thread_pid, level);
	struct upid up = {};
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

static __always_inline void count(u32 idx)
{
	u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline int output(void *msg, u64 size)
{
	if (size > sizeof(struct msg_header) + DATA_SIZE)
		return -1;
	if (bpf_ringbuf_output(&events, msg, size, 0) < 0) {
		count(CNT_LOST);
		return -1;
	}
	count(CNT_SENT);
	return 0;
}

/*
 * Write the components of a path, leaf first, each NUL-terminated, at
 * buf[start]. Stops at the task's root so paths inside containers and chroots
 * are shown as the process sees them. The byte length, component count and
 * flags live in map memory (the out pointers) and are re-read on every
 * iteration: the verifier does not track values stored in maps, so every
 * iteration starts from the same abstract state and the loop verifies in
 * linear rather than exponential time.
 */
static __always_inline void write_path(char *buf, u32 start, struct dentry *dentry,
				       struct vfsmount *vfsmnt, struct path *root, u16 *len_out,
				       u8 *comps_out, u8 *flags_out)
{
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	struct dentry *root_dentry = BPF_CORE_READ(root, dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(root, mnt);
	u8 flags = PATH_TRUNCATED;

	*len_out = 0;
	*comps_out = 0;

	for (int i = 0; i < PATH_DEPTH; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (dentry == root_dentry && vfsmnt == root_mnt) {
			flags = 0;
			break;
		}
		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (dentry != mnt_root || mnt == mnt_parent) {
				flags = 0; /* reached the global root */
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (void *)mnt + bpf_core_field_offset(struct mount, mnt);
			continue;
		}
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
		u32 off = (start + *len_out) & DATA_MASK;
		long len = bpf_probe_read_kernel_str(&buf[off], NAME_MAX_READ, name);
		if (len <= 0) {
			flags = 0;
			break;
		}
		*len_out += len;
		*comps_out += 1;
		dentry = parent;
	}
	*flags_out = flags;
}

#endif /* __APPLIANCE_COMMON_H__ */
