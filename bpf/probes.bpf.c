// SPDX-License-Identifier: GPL-2.0
/*
 * Tiny programs the agent tries to load to learn what this kernel allows:
 * fentry (BPF trampolines), fmod_ret on security_* functions, BPF LSM and a
 * sleepable BPF LSM program calling bpf_ima_file_hash (Post imaHash), a uprobe
 * program writing user registers (Override and Regs on uprobes).
 * Each is loaded alone; none is attached.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/security_file_open")
int BPF_PROG(probe_fentry, struct file *file)
{
	return 0;
}

SEC("fmod_ret/security_file_open")
int BPF_PROG(probe_fmod_ret, struct file *file)
{
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file, int ret)
{
	return ret;
}

SEC("lsm.s/file_open")
int BPF_PROG(probe_ima_hash, struct file *file, int ret)
{
	char digest[64];

	bpf_ima_file_hash(file, digest, sizeof(digest));
	return ret;
}

/* a uprobe program writing the traced program's registers (Override and Regs on uprobes) */
SEC("uprobe")
int probe_uprobe_regs(struct pt_regs *ctx)
{
#if defined(__TARGET_ARCH_x86)
	ctx->ax = 0;
#elif defined(__TARGET_ARCH_arm64)
	ctx->regs[0] = 0;
#endif
	return 0;
}
