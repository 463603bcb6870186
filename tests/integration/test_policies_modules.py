"""`load_info` arguments: a kernel module being loaded, reported as Tetragon's
KernelModule (`module_arg`: name, signature_ok, tainted). Only kernel functions carry a
`struct load_info *`, so this runs where the kernel has kprobes and loadable modules
(the tests/vm kernels); elsewhere the policy is refused naming what is missing."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from .conftest import kernel_function_traceable, kernel_has_kprobes, start_policy_agent
from .test_policies import Policy, tetra

MODULE = "dummy"  # drivers/net/dummy.ko: loads and unloads without hardware
SIGNATURE_TRAILER = b"~Module signature appended~\n"

# check_modstruct_version(const struct load_info *info, struct module *mod) runs in
# load_module() once the module's name is known and its signature checked
POLICY = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "module-load"
spec:
  kprobes:
  - call: "check_modstruct_version"
    syscall: false
    args:
    - index: 0
      type: "load_info"
  - call: "do_init_module"
    syscall: false
    args:
    - index: 0
      type: "module"
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = start_policy_agent(tmp_path_factory)
    yield a
    a.stop()


def _module_file(name: str) -> str | None:
    out = subprocess.run(["modinfo", "-n", name], capture_output=True, text=True)
    path = out.stdout.strip()
    return path if out.returncode == 0 and path.endswith(".ko") else None


def _module_event(fn: str):
    def pred(e: dict) -> bool:
        k = e.get("process_kprobe", {})
        return (
            k.get("policy_name") == "module-load"
            and k.get("function_name") == fn
            and k["args"][0].get("module_arg", {}).get("name") == MODULE
        )

    return pred


@pytest.mark.skipif(not kernel_has_kprobes(), reason="kernel without kprobes")
def test_load_info_reports_the_module_being_loaded(agent, tmp_path):
    if not os.path.exists("/proc/modules"):
        pytest.skip("kernel without loadable modules")
    ko = _module_file(MODULE)
    if ko is None:
        pytest.skip(f"no uncompressed {MODULE}.ko for this kernel")
    if not kernel_function_traceable("check_modstruct_version"):
        pytest.skip("check_modstruct_version is not traceable on this kernel")
    with open(ko, "rb") as f:
        f.seek(-len(SIGNATURE_TRAILER), os.SEEK_END)
        signed = f.read() == SIGNATURE_TRAILER
    subprocess.run(["modprobe", "-r", MODULE], capture_output=True)
    with Policy(agent, tmp_path, POLICY):
        try:
            subprocess.run(["modprobe", MODULE], check=True)
        finally:
            subprocess.run(["modprobe", "-r", MODULE], capture_output=True)
        evs = {fn: agent.wait_for(_module_event(fn))["process_kprobe"]
               for fn in ("check_modstruct_version", "do_init_module")}  # fmt: skip
    ev = evs["check_modstruct_version"]
    # the loaded module (struct module): name and taints, no signature (as Tetragon)
    (loaded,) = evs["do_init_module"]["args"]
    assert "signature_ok" not in loaded["module_arg"], loaded
    mod = ev["args"][0]["module_arg"]
    # a signed module verifies against the distribution's key built into its kernel
    assert mod["signature_ok"] is signed, (mod, ko)
    assert set(mod.get("tainted", [])) <= {"TAINT_UNSIGNED_MODULE", "TAINT_OUT_OF_TREE_MODULE"}
    if signed:  # an in-tree module verified against the kernel's key taints nothing
        assert loaded["module_arg"] == {"name": MODULE}, loaded
    assert ev["process"]["binary"].endswith("kmod") or "modprobe" in ev["process"]["binary"]


@pytest.mark.skipif(kernel_has_kprobes(), reason="the kernel has kprobes")
def test_load_info_hook_refused_naming_what_the_kernel_lacks(agent, tmp_path):
    path = tmp_path / "module-load.yaml"
    path.write_text(textwrap.dedent(POLICY))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    msg = out.stdout + out.stderr
    assert "spec.kprobes[0].call" in msg and "CONFIG_KPROBES" in msg, msg


@pytest.mark.skipif(not kernel_has_kprobes(), reason="kernel without kprobes")
def test_load_info_is_not_filtered(agent, tmp_path):
    # the load_info hook alone, with a filter on the module being loaded
    hook = POLICY[: POLICY.index('  - call: "do_init_module"')]
    bad = hook.replace('name: "module-load"', 'name: "module-bad"') + textwrap.indent(
        textwrap.dedent("""\
        selectors:
        - matchArgs:
          - index: 0
            operator: "Equal"
            values: ["dummy"]
        """),
        "    ",
    )
    path = tmp_path / "module-bad.yaml"
    path.write_text(textwrap.dedent(bad))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    msg = out.stdout + out.stderr
    assert "spec.kprobes[0].selectors[0].matchArgs[0].operator" in msg, msg
    assert "load_info" in msg, msg
