"""returnCopy: a char_buf the callee fills (read(2)'s buffer) is read when the call
returns, as many bytes as it returned. Syscalls: runs on this host's tracepoints too."""

from __future__ import annotations

import base64
import os
import textwrap

from .policy_harness import Policy, agent_fixture, kprobe_events, wait_policy_event

agent = agent_fixture()


def test_read_buffer_copied_at_return(agent, tmp_path):
    target = tmp_path / "copied.txt"
    payload = b"filled by the kernel on return\n"
    target.write_bytes(payload)
    # the __x64_sys_read hook of Tetragon's sys_write_follow_fd_prefix.yaml
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "read-return-copy"
    spec:
      kprobes:
      - call: "sys_read"
        syscall: true
        args:
        - index: 0
          type: "fd"
        - index: 1
          type: "char_buf"
          returnCopy: true
        - index: 2
          type: "size_t"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Equal"
            values:
            - "{target}"
    """)):  # fmt: skip
        fd = os.open(target, os.O_RDONLY)
        try:
            assert os.read(fd, 4096) == payload
        finally:
            os.close(fd)
        ev = wait_policy_event(agent, "read-return-copy")
        assert ev["args"][0]["file_arg"]["path"] == str(target)
        assert base64.b64decode(ev["args"][1]["bytes_arg"]) == payload
        assert ev["args"][2] == {"size_arg": "4096"}
        assert "return" not in ev  # no `return: true`: the return probe only copies
        assert len(kprobe_events(agent, "read-return-copy")) >= 1


def test_int32_arr_pipe_fds(agent, tmp_path):
    # Tetragon's pipe.yaml, on pipe2 alone (the list form is the same hook twice)
    with Policy(agent, tmp_path, textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "pipe-monitoring"
    spec:
      kprobes:
      - call: "sys_pipe2"
        syscall: true
        args:
        - index: 0
          type: "int32_arr"
          size: 2
          returnCopy: true
          label: "pipefd"
        - index: 1
          type: "int"
        selectors:
        - matchArgs:
          - index: 1
            operator: "Equal"
            values:
            - "524288"
    """)):  # fmt: skip
        r, w = os.pipe2(os.O_CLOEXEC)  # 524288
        os.close(r)
        os.close(w)
        ev = agent.wait_for(lambda e: e.get("process_kprobe", {}).get("policy_name")
                            == "pipe-monitoring"
                            and e["process_kprobe"]["process"]["pid"] == os.getpid())  # fmt: skip
    ev = ev["process_kprobe"]
    assert ev["args"][0] == {"int32_list_arg": {"values": [r, w]}, "label": "pipefd"}
    assert ev["args"][1] == {"int_arg": os.O_CLOEXEC}
