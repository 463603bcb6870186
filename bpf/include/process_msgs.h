/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The messages the process sensor (process.bpf.c) and the policy programs put on the
 * ring buffer, and the execve_map value: the one definition of their layouts.
 * appliance/sensors/wire.py reads them; tests/unit/test_wire_layouts.py checks its struct
 * formats against the BTF clang emits for these structs, so a field changed on one side
 * only fails there.
 */
#ifndef __APPLIANCE_PROCESS_MSGS_H__
#define __APPLIANCE_PROCESS_MSGS_H__

#include "vmlinux_min.h"

/* msg_header.type */
#define MSG_EXEC 1
#define MSG_CLONE 2
#define MSG_EXIT 3
#define MSG_POLICY 4

/* Scratch area: each variable part is written at an offset masked by
 * DATA_MASK, and each single read is at most PART_MAX bytes, so the
 * verifier can prove every access stays inside DATA_SIZE. */
#define DATA_MASK 0x3fff
#define PART_MAX 4096
#define DATA_SIZE (DATA_MASK + 1 + PART_MAX)

#define ARGS_MAX 4095

/* msg_exec.path_flags, cwd_flags */
#define PATH_TRUNCATED 1

struct msg_header {
	u8 type;
	u8 flags;
	u16 pad;
	u32 size; /* whole message, header included */
	u32 pid;  /* thread group id */
	u32 tid;
	u64 ktime;
};

/* The binary of every process, by tgid: written by the process sensor at
 * exec and fork (and by the agent for processes found in procfs), read by
 * policy programs for matchBinaries. Policy objects reuse this map's fd. */
#define BINARY_MAX 256
#define EXEC_INFO_STATE 1 /* flags: caps and ns hold the state at exec */
struct exec_info {
	u32 bin_len; /* without the NUL */
	u32 flags;
	char bin[BINARY_MAX];
	/* capabilities and namespaces at exec (matchCapabilityChanges, matchNamespaceChanges) */
	u64 cap_permitted, cap_effective, cap_inheritable;
	u32 ns[10]; /* the order of msg_exec.ns */
	u32 pad[2];
};

struct msg_exec {
	struct msg_header h;
	u32 ppid;
	u32 uid;
	u32 euid;
	u32 gid;
	u32 egid;
	u32 auid;
	u64 start_time;
	u64 cgroup_id;
	u32 pid_ns;
	u32 mnt_ns;
	u16 args_len;
	u16 path_len;
	u16 cwd_len;
	u16 cgroup_len;
	u8 path_comps;
	u8 cwd_comps;
	u8 path_flags;
	u8 cwd_flags;
	u32 nspid; /* pid in the task's own pid namespace (pod.container.pid) */
	/* credentials and namespaces, for --enable-process-cred / --enable-process-ns */
	u32 suid, sgid, fsuid, fsgid, securebits, pad2;
	u64 cap_permitted, cap_effective, cap_inheritable;
	u32 ns[10]; /* uts ipc mnt pid pid_for_children net time time_for_children cgroup user */
	char data[DATA_SIZE];
};

struct msg_clone {
	struct msg_header h;
	u32 ppid;
	u32 pad;
	u64 start_time;
};

struct msg_exit {
	struct msg_header h;
	u32 exit_code;
	u32 pad;
	u64 start_time;
};

#endif /* __APPLIANCE_PROCESS_MSGS_H__ */
