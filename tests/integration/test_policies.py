"""TracingPolicies filter and enforce in the kernel: the seeds' walkthroughs, for real."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import orjson
import pytest

from .conftest import (
    ROOT,
    _clean_env,
    expected_syscall_hook,
    kernel_has_kprobes,
)
from .policy_harness import (
    PY,
    Policy,
    agent_fixture,  # noqa: F401 (Policy, kprobe_events, tetra, PY: shared here too)
    arg_selector,
    kprobe_events,
    policy_yaml,
    py,
    tetra,
    wait_policy_event,
)

agent = agent_fixture()


LSEEK = (ROOT / "tests" / "fixtures" / "lseek-sigkill.yaml").read_text()


def test_lseek_sigkill_walkthrough(agent, tmp_path):
    with Policy(agent, tmp_path, LSEEK):
        killed = py("import os; os.lseek(-1, 0, 0)")
        assert killed.returncode == -9
        ok = py("import os; os.lseek(5, 0, 0)")
        assert ok.returncode == 1 and "Bad file descriptor" in ok.stderr
        ev = agent.wait_for(lambda e: "process_kprobe" in e)["process_kprobe"]
        assert ev["function_name"].endswith("sys_lseek")
        assert ev["args"] == [{"int_arg": -1}]
        assert ev["action"] == "KPROBE_ACTION_SIGKILL"
        assert ev["policy_name"] == "lseek-sigkill"
        assert ev["process"]["binary"] == PY
        ex = agent.wait_for(
            lambda e: (
                e.get("process_exit", {}).get("process", {}).get("exec_id")
                == ev["process"]["exec_id"]
            )
        )
        assert ex["process_exit"]["signal"] == "SIGKILL"
        listed = tetra(agent, "tracingpolicy", "list").stdout
        assert "lseek-sigkill" in listed and expected_syscall_hook("lseek") in listed
    # removed: lseek(-1) is no longer killed
    assert py("import os; os.lseek(-1, 0, 0)").returncode == 1


def test_cat_open_only_cat_reaches_userspace(agent, tmp_path):
    target = tmp_path / "secret-cat-open.txt"
    target.write_text("hello\n")
    policy = """
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "cat-open"
    spec:
      kprobes:
      - call: "sys_openat"
        syscall: true
        args:
        - index: 0
          type: int
        - index: 1
          type: "string"
        - index: 2
          type: "int"
        selectors:
        - matchBinaries:
          - operator: In
            values:
            - "/usr/bin/cat"
    """
    with Policy(agent, tmp_path, policy) as p:
        for _ in range(3):
            subprocess.run(["head", str(target)], capture_output=True, check=True)
        subprocess.run(["cat", str(target)], capture_output=True, check=True)
        agent.wait_for(lambda e: str(target) in orjson.dumps(e.get("process_kprobe", {})).decode()
                       and e["process_kprobe"]["process"]["binary"] == "/usr/bin/cat")  # fmt: skip
        time.sleep(0.5)
        evs = kprobe_events(agent, "cat-open")
        assert evs and all(e["process"]["binary"] == "/usr/bin/cat" for e in evs)
        assert any(e["args"][1] == {"string_arg": str(target)} for e in evs)
        # in the kernel: every event that left the kernel is one we received, none for head
        # (other cat processes on this host may add events meanwhile: wait for the export
        # to catch up with the kernel's count, then compare)
        deadline = time.monotonic() + 10
        while True:
            c = p.counters()
            evs = kprobe_events(agent, "cat-open")
            if c["events"] == len(evs) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert c["events"] == len(evs), (c, len(evs))
        assert not any(e["process"]["binary"].endswith("/head") for e in evs)
        line = subprocess.run(
            [sys.executable, "-m", "appliance.cli.tetra", "getevents", "-o", "compact"],
            input=b"\n".join(orjson.dumps({"process_kprobe": e, "node_name": "n"})
                             for e in evs),  # fmt: skip
            capture_output=True, cwd=ROOT, env=_clean_env(),
        ).stdout.decode()  # fmt: skip
        assert f"📬️ openat  /usr/bin/cat {target}" in line


def test_file_access_sigkill_cat(agent, tmp_path):
    f = tmp_path / "tracing_policy.yaml"
    f.write_text("kind: TracingPolicy\n")
    sigkill = "matchActions:\n- action: Sigkill"
    policy = policy_yaml(
        "file-access", "sys_openat", [(1, "string")],
        arg_selector(1, "Postfix", "tracing_policy.yaml", then=sigkill),
    )  # fmt: skip
    with Policy(agent, tmp_path, policy):
        r = subprocess.run(["cat", str(f)], capture_output=True, cwd=tmp_path)
        assert r.returncode == -9 and r.stdout == b""
        r = subprocess.run(["cat", "/etc/hostname"], capture_output=True)
        assert r.returncode == 0
        ev = wait_policy_event(agent, "file-access")
        assert ev["action"] == "KPROBE_ACTION_SIGKILL"
        assert ev["args"][0]["string_arg"].endswith("tracing_policy.yaml")


def test_generated_syscalls_list_limited_by_binary(agent, tmp_path):
    policy = f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "dup-list"
    spec:
      lists:
      - name: "dups"
        type: "generated_syscalls"
        values:
        - "sys_dup"
        - "sys_dup3"
      kprobes:
      - call: "list:dups"
        args:
        - index: 0
          type: "int"
        selectors:
        - matchBinaries:
          - operator: In
            values:
            - "{PY}"
    """
    with Policy(agent, tmp_path, policy):
        py("import ctypes, os; ctypes.CDLL(None).dup(0); os.dup2(0, 9, inheritable=False)")
        subprocess.run(["/bin/sh", "-c", "exec 7>&1; true"])
        agent.wait_for(lambda e: e.get("process_kprobe", {}).get("function_name", "")
                       .endswith("sys_dup3"))  # fmt: skip
        evs = kprobe_events(agent, "dup-list")
        fns = {e["function_name"].split("sys_")[-1] for e in evs}
        assert fns == {"dup", "dup3"}
        assert all(e["process"]["binary"] == PY for e in evs)


def test_all_generated_syscalls_limited_by_binary(agent, tmp_path):
    """A generated_syscalls list without values: every syscall, here only of one binary."""
    policy = """
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "all-syscalls"
    spec:
      lists:
      - name: "all"
        type: "generated_syscalls"
      kprobes:
      - call: "list:all"
        selectors:
        - matchBinaries:
          - operator: In
            values:
            - "/usr/bin/uname"
    """
    with Policy(agent, tmp_path, policy):
        subprocess.run(["/usr/bin/uname", "-a"], capture_output=True, check=True)
        subprocess.run(["/bin/true"], check=True)
        agent.wait_for(lambda e: e.get("process_kprobe", {}).get("function_name", "")
                       .endswith("sys_exit_group"))  # fmt: skip
        evs = kprobe_events(agent, "all-syscalls")
        fns = {e["function_name"].split("sys_", 1)[1] for e in evs}
        assert {"uname", "write", "exit_group"} <= fns, fns
        assert all(e["process"]["binary"] == "/usr/bin/uname" for e in evs)
        listed = tetra(agent, "tracingpolicy", "list").stdout
        assert "raw_syscalls/sys_enter" in listed


def test_rate_limit_drops_repeats(agent, tmp_path):
    post = 'matchActions:\n- action: Post\n  rateLimit: "1m"'
    policy = policy_yaml(
        "lseek-ratelimit", "sys_lseek", ["int"], arg_selector(0, "Equal", 777, then=post)
    )
    with Policy(agent, tmp_path, policy) as p:
        py("import os\nfor _ in range(50):\n    try: os.lseek(777, 0, 0)\n    except OSError: pass")
        wait_policy_event(agent, "lseek-ratelimit")
        time.sleep(0.5)
        assert len(kprobe_events(agent, "lseek-ratelimit")) == 1
        c = p.counters()
        assert c["rate_limited"] == 49 and c["events"] == 1


def _parent_waiting(tmp_path, child_code: str) -> tuple[subprocess.Popen, str]:
    fifo = tmp_path / f"go-{time.time_ns()}"
    os.mkfifo(fifo)
    sh = subprocess.Popen(
        ["/bin/sh", "-c", f"read x < {fifo}; {PY} -c '{child_code}'; echo rc=$?"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    return sh, str(fifo)


def _lseek_minus_one_sigkill(name: str, scope: str) -> str:
    """lseek(-1) killed, but only within ``scope`` (more keys of the one selector)."""
    then = scope + "\nmatchActions:\n- action: Sigkill"
    return policy_yaml(name, "sys_lseek", ["int"], arg_selector(0, "Equal", -1, then=then))


def test_match_pids_follow_forks(agent, tmp_path):
    sh, fifo = _parent_waiting(tmp_path, "import os; os.lseek(-1, 0, 0)")
    pids = f"matchPIDs:\n- operator: In\n  followForks: true\n  values:\n  - {sh.pid}"
    policy = _lseek_minus_one_sigkill("pid-tree", pids)
    with Policy(agent, tmp_path, policy):
        open(fifo, "w").write("go\n")
        out, _ = sh.communicate(timeout=20)
        assert "rc=137" in out  # the grandchild of nothing but a child of sh: killed
        assert py("import os; os.lseek(-1, 0, 0)").returncode == 1  # outside the tree


def test_match_binaries_follow_children(agent, tmp_path):
    sh, fifo = _parent_waiting(tmp_path, "import os; os.lseek(-1, 0, 0)")
    binaries = 'matchBinaries:\n- operator: In\n  followChildren: true\n  values:\n  - "/bin/sh"'
    policy = _lseek_minus_one_sigkill("bin-tree", binaries)
    with Policy(agent, tmp_path, policy):
        open(fifo, "w").write("go\n")
        out, _ = sh.communicate(timeout=20)
        assert "rc=137" in out
        assert py("import os; os.lseek(-1, 0, 0)").returncode == 1


def test_unsupported_policy_is_refused_with_reason(agent, tmp_path):
    if kernel_has_kprobes():
        pytest.skip("this kernel has kprobes: fd_install loads here")
    policy = tmp_path / "fdinstall.yaml"
    policy.write_text(
        textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "fd-install"
    spec:
      kprobes:
      - call: "fd_install"
        syscall: false
        args:
        - index: 0
          type: int
        - index: 1
          type: "file"
    """)
    )
    out = tetra(agent, "tracingpolicy", "add", str(policy), check=False)
    assert out.returncode != 0
    assert "fd_install" in out.stderr and "kprobes" in out.stderr
    assert "fd-install" not in tetra(agent, "tracingpolicy", "list").stdout


def test_return_value_and_match_return_args(agent, tmp_path):
    missing = tmp_path / "does-not-exist"
    policy = f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "openat-return"
    spec:
      kprobes:
      - call: "sys_openat"
        syscall: true
        return: true
        args:
        - index: 1
          type: "string"
        returnArg:
          index: 0
          type: "int"
        selectors:
        - matchArgs:
          - index: 1
            operator: "Prefix"
            values:
            - "{tmp_path}"
          matchReturnArgs:
          - index: 0
            operator: "Equal"
            values:
            - "-2"
    """
    present = tmp_path / "present"
    present.write_text("x")
    with Policy(agent, tmp_path, policy):
        open(present).close()  # returns an fd: filtered out at return
        with pytest.raises(FileNotFoundError):
            open(missing)
        ev = wait_policy_event(agent, "openat-return")
        assert ev["args"][0]["string_arg"] == str(missing)
        assert ev["return"] == {"int_arg": -2}
        time.sleep(0.3)
        assert len(kprobe_events(agent, "openat-return")) == 1
        listed = tetra(agent, "tracingpolicy", "list").stdout
        assert expected_syscall_hook("openat", with_return=True) in listed


def test_pod_filters_are_refused_outside_kubernetes(agent, tmp_path):
    """Outside Kubernetes no process is in a pod: a namespaced or pod-selected policy
    would silently act on nothing (or, unfiltered, on everything), so it is refused."""
    base = (ROOT / "tests" / "fixtures" / "lseek-namespaced.yaml").read_text()
    cases = {
        "ns.yaml": (base, "TracingPolicyNamespaced not allowed in non-k8s environment"),
        "pods.yaml": (
            base.replace("kind: TracingPolicyNamespaced", "kind: TracingPolicy").replace(
                "spec:\n", "spec:\n  podSelector:\n    matchLabels:\n      app: x\n", 1
            ),
            "podSelector not allowed in non-k8s environment",
        ),
    }
    for fname, (text, reason) in cases.items():
        path = tmp_path / fname
        path.write_text(text)
        out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
        assert out.returncode != 0 and reason in out.stderr, out.stderr
    assert "lseek-namespaced" not in tetra(agent, "tracingpolicy", "list").stdout
    assert agent.proc.poll() is None
