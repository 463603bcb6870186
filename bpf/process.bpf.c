// SPDX-License-Identifier: GPL-2.0
/*
 * Base process sensor: exec, fork and exit of every process on the host.
 * Attached to BTF-enabled tracepoints (tp_btf), which every BTF kernel since
 * 5.5 has and which do not need kprobes.
 */
#include "process_msgs.h"
#include "common.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct msg_exec);
} exec_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct exec_info);
} exec_info_scratch SEC(".maps");

#define CNT_EXEC 2
#define CNT_CLONE 3
#define CNT_EXIT 4

static __always_inline u32 auid_of(struct task_struct *task)
{
	if (bpf_core_field_exists(task->loginuid))
		return BPF_CORE_READ(task, loginuid.val);
	return (u32)-1;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	u32 zero = 0;
	struct msg_exec *m = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!m)
		return 0;

	u64 id = bpf_get_current_pid_tgid();
	m->h.type = MSG_EXEC;
	m->h.flags = 0;
	m->h.pid = id >> 32;
	m->h.tid = (u32)id;
	m->h.ktime = bpf_ktime_get_ns();
	m->ppid = BPF_CORE_READ(task, real_parent, tgid);
	m->uid = BPF_CORE_READ(task, cred, uid.val);
	m->euid = BPF_CORE_READ(task, cred, euid.val);
	m->gid = BPF_CORE_READ(task, cred, gid.val);
	m->egid = BPF_CORE_READ(task, cred, egid.val);
	m->auid = auid_of(task);
	m->start_time = BPF_CORE_READ(task, start_time);
	m->cgroup_id = bpf_get_current_cgroup_id();
	m->pid_ns = BPF_CORE_READ(task, nsproxy, pid_ns_for_children, ns.inum);
	m->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	m->nspid = ns_pid(task);

	const struct cred *cred = BPF_CORE_READ(task, cred);
	m->suid = BPF_CORE_READ(cred, suid.val);
	m->sgid = BPF_CORE_READ(cred, sgid.val);
	m->fsuid = BPF_CORE_READ(cred, fsuid.val);
	m->fsgid = BPF_CORE_READ(cred, fsgid.val);
	m->securebits = BPF_CORE_READ(cred, securebits);
	bpf_probe_read_kernel(&m->cap_permitted, 8,
			      (void *)cred + bpf_core_field_offset(struct cred, cap_permitted));
	bpf_probe_read_kernel(&m->cap_effective, 8,
			      (void *)cred + bpf_core_field_offset(struct cred, cap_effective));
	bpf_probe_read_kernel(&m->cap_inheritable, 8,
			      (void *)cred + bpf_core_field_offset(struct cred, cap_inheritable));
	struct nsproxy *nsp = BPF_CORE_READ(task, nsproxy);
	m->ns[0] = BPF_CORE_READ(nsp, uts_ns, ns.inum);
	m->ns[1] = BPF_CORE_READ(nsp, ipc_ns, ns.inum);
	m->ns[2] = m->mnt_ns;
	m->ns[3] = pid_ns_inum(task);
	m->ns[4] = m->pid_ns;
	m->ns[5] = BPF_CORE_READ(nsp, net_ns, ns.inum);
	if (bpf_core_field_exists(nsp->time_ns)) {
		m->ns[6] = BPF_CORE_READ(nsp, time_ns, ns.inum);
		m->ns[7] = BPF_CORE_READ(nsp, time_ns_for_children, ns.inum);
	} else {
		m->ns[6] = 0;
		m->ns[7] = 0;
	}
	m->ns[8] = BPF_CORE_READ(nsp, cgroup_ns, ns.inum);
	m->ns[9] = BPF_CORE_READ(cred, user_ns, ns.inum);

	u32 off = 0;
	/* arguments: argv as the new program sees it, NUL separated */
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	u64 alen = arg_end - arg_start;
	if (alen > ARGS_MAX)
		alen = ARGS_MAX;
	if (bpf_probe_read_user(m->data, alen & ARGS_MAX, (void *)arg_start) < 0)
		alen = 0;
	if (alen > ARGS_MAX)
		alen = ARGS_MAX;
	m->args_len = alen;
	off = alen;

	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct path root;
	BPF_CORE_READ_INTO(&root, fs, root);

	/* binary: the path given to execve (as Tetragon reports it); a relative
	 * path is made absolute with the cwd in user space */
	const char *filename = BPF_CORE_READ(bprm, filename);
	long flen = bpf_probe_read_kernel_str(&m->data[off & DATA_MASK], PART_MAX, filename);
	if (flen < 0)
		flen = 0;
	m->path_len = flen;
	m->path_comps = 0;
	{
		struct exec_info *ei = bpf_map_lookup_elem(&exec_info_scratch, &zero);
		if (ei) {
			ei->bin_len = flen > 0 ? flen - 1 : 0;
			ei->flags = EXEC_INFO_STATE;
			bpf_probe_read_kernel_str(ei->bin, BINARY_MAX, filename);
			ei->cap_permitted = m->cap_permitted;
			ei->cap_effective = m->cap_effective;
			ei->cap_inheritable = m->cap_inheritable;
			__builtin_memcpy(ei->ns, m->ns, sizeof(ei->ns));
			bpf_map_update_elem(&execve_map, &m->h.pid, ei, BPF_ANY);
		}
	}
	m->path_flags = flen >= PART_MAX ? PATH_TRUNCATED : 0;
	off = (m->args_len + m->path_len) & DATA_MASK;

	/* current working directory */
	write_path(m->data, off, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), &root,
		   &m->cwd_len, &m->cwd_comps, &m->cwd_flags);
	off = (m->args_len + m->path_len + m->cwd_len) & DATA_MASK;

	/* leaf name of the cgroup v2 directory: holds the container id */
	const char *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name);
	long clen = bpf_probe_read_kernel_str(&m->data[off & DATA_MASK], 128, cg);
	if (clen < 0)
		clen = 0;
	m->cgroup_len = clen;
	off += clen;

	u64 size = offsetof(struct msg_exec, data) + (off & DATA_MASK);
	m->h.size = size;
	if (output(m, size) == 0)
		count(CNT_EXEC);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	struct msg_clone m = {};
	u32 pid = BPF_CORE_READ(child, pid);
	u32 tgid = BPF_CORE_READ(child, tgid);

	if (pid != tgid)
		return 0; /* a new thread, not a new process */
	m.h.type = MSG_CLONE;
	m.h.size = sizeof(m);
	m.h.pid = tgid;
	m.h.tid = pid;
	m.h.ktime = bpf_ktime_get_ns();
	m.ppid = BPF_CORE_READ(parent, tgid);
	m.start_time = BPF_CORE_READ(child, start_time);
	struct exec_info *ei = bpf_map_lookup_elem(&execve_map, &m.ppid);
	if (ei)
		bpf_map_update_elem(&execve_map, &tgid, ei, BPF_ANY);
	if (output(&m, sizeof(m)) == 0)
		count(CNT_CLONE);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	struct msg_exit m = {};

	/* only the last thread of a thread group ends the process */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	m.h.type = MSG_EXIT;
	m.h.size = sizeof(m);
	m.h.pid = BPF_CORE_READ(task, tgid);
	m.h.tid = BPF_CORE_READ(task, pid);
	m.h.ktime = bpf_ktime_get_ns();
	m.exit_code = BPF_CORE_READ(task, exit_code);
	m.start_time = BPF_CORE_READ(task, group_leader, start_time);
	bpf_map_delete_elem(&execve_map, &m.h.pid);
	if (output(&m, sizeof(m)) == 0)
		count(CNT_EXIT);
	return 0;
}
