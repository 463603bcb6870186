/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-file verdict cache of the file equivalents (security_file_permission and
 * friends on syscall tracepoints). Resolving a path costs a walk of the dentry
 * chain on every call; a file the selectors' path conditions reject stays
 * rejected while it is the same open file seen from the same root, so the verdict
 * "no selector's path condition matches" is remembered per CPU, in a small
 * direct-mapped table, and a hit leaves the program after a handful of loads.
 *
 * An entry is only trusted when everything the path depends on is unchanged:
 * the struct file, its dentry, that dentry's parent and name hash (a freed and
 * reused file or dentry at the same address has to match all four), the task's
 * root (chroot, pivot_root, setns, unshare give another), and a generation that
 * the rename and mount-topology syscalls bump on exit (a rename of any ancestor
 * changes the path without touching the file). Only negative verdicts are kept:
 * a selected file always takes the full path, so a stale entry could at worst
 * cost a walk, never hide a match it has not seen.
 *
 * With bpf_rdonly_cast (Linux >= 6.2) the fd table and the file are read with
 * plain loads; otherwise with bpf_probe_read_kernel (slower, same verdicts).
 */
#ifndef __APPLIANCE_FILE_VERDICT_H__
#define __APPLIANCE_FILE_VERDICT_H__

#define FV_SLOTS 256

struct fv_ent {
	u64 file, dentry, parent, name, root_d, root_m;
	u64 gen;
	u32 hook, ok;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FV_SLOTS);
	__type(key, u32);
	__type(value, struct fv_ent);
} fv_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} fv_gen SEC(".maps");

#ifdef FV_RDONLY_CAST
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Fill k with what the verdict of fd depends on; 0 when fd is no open file. */
static __always_inline int fv_key(u64 fd, struct fv_ent *k)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (fd >= fdt->max_fds)
		return 0;
	/* fdt->fd[fd] with one plain load: struct kiocb starts with a struct file *,
	 * which is all that is read through it */
	struct kiocb *slot =
		bpf_rdonly_cast((void *)(fdt->fd + fd), bpf_core_type_id_kernel(struct kiocb));
	struct file *f = slot->ki_filp;
	if (!f)
		return 0;
	struct dentry *d = f->f_path.dentry;
	k->file = (u64)f;
	k->dentry = (u64)d;
	k->parent = (u64)d->d_parent;
	k->name = d->d_name.hash_len;
	k->root_d = (u64)task->fs->root.dentry;
	k->root_m = (u64)task->fs->root.mnt;
	return 1;
}
#else
static __always_inline int fv_key(u64 fd, struct fv_ent *k)
{
	struct file *f = fd_file(fd);
	if (!f)
		return 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	k->file = (u64)f;
	k->dentry = (u64)d;
	k->parent = (u64)BPF_CORE_READ(d, d_parent);
	k->name = BPF_CORE_READ(d, d_name.hash_len);
	k->root_d = (u64)BPF_CORE_READ(task, fs, root.dentry);
	k->root_m = (u64)BPF_CORE_READ(task, fs, root.mnt);
	return 1;
}
#endif

static __always_inline u32 fv_slot(u64 fd, struct fv_ent *k)
{
	u32 h = (u32)k->name ^ (u32)(k->name >> 32) ^ (u32)fd ^ (k->hook << 5);
	return h & (FV_SLOTS - 1);
}

/* 1 when fd's file is known to match no selector's path condition of this hook; k is
 * left filled for fv_remember. */
static __always_inline int fv_unselected(u64 fd, u32 hook, struct fv_ent *k)
{
	u32 zero = 0;
	u64 *gen = bpf_map_lookup_elem(&fv_gen, &zero);
	k->ok = 0;
	if (!gen || !fv_key(fd, k))
		return 0;
	k->gen = *gen; /* read before the walk: a rename during it invalidates the entry */
	k->hook = hook;
	k->ok = 1;
	u32 i = fv_slot(fd, k);
	struct fv_ent *e = bpf_map_lookup_elem(&fv_cache, &i);
	if (!e)
		return 0;
	return e->ok && e->file == k->file && e->dentry == k->dentry && e->parent == k->parent &&
	       e->name == k->name && e->root_d == k->root_d && e->root_m == k->root_m &&
	       e->gen == k->gen && e->hook == k->hook;
}

static __always_inline void fv_remember(u64 fd, struct fv_ent *k)
{
	if (!k->ok)
		return;
	u32 i = fv_slot(fd, k);
	struct fv_ent *e = bpf_map_lookup_elem(&fv_cache, &i);
	if (e)
		__builtin_memcpy(e, k, sizeof(*k));
}

/* on exit of a syscall that can change paths of open files: forget every verdict */
static __always_inline void fv_invalidate(void)
{
	u32 zero = 0;
	u64 *gen = bpf_map_lookup_elem(&fv_gen, &zero);
	if (gen)
		__sync_fetch_and_add(gen, 1);
}

#endif /* __APPLIANCE_FILE_VERDICT_H__ */
