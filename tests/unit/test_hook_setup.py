"""tetragon-oci-hook-setup: the documented containerd diff, idempotence, hooks.d files."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys

import pytest
import tomlkit

from appliance.rthooks import setup_cmd, toml_patch

FIXTURE = os.path.join(
    os.path.dirname(__file__), "..", "fixtures", "rthooks", "containerd-minikube.toml"
)
SETUP = os.path.join(os.path.dirname(sys.executable), "tetragon-oci-hook-setup")

# the hunk `diff -u old new` prints in the runtime hooks configuration guide
DOCS_HUNK = """\
@@ -67,3 +67,11 @@
     mutation_threshold = 100
     schedule_delay = "0s"
     startup_delay = "100ms"
+  [plugins."io.containerd.nri.v1.nri"]
+    disable = false
+    disable_connections = false
+    plugin_config_path = "/etc/nri/conf.d"
+    plugin_path = "/opt/nri/plugins"
+    plugin_registration_timeout = "5s"
+    plugin_request_timeout = "2s"
+    socket_path = "/var/run/nri/nri.sock"
"""


def old_config() -> str:
    with open(FIXTURE, encoding="utf-8") as f:
        return f.read()


def hunks(old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True), "old", "new")
    return "".join(list(lines)[2:])


def run_setup(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SETUP, *args], capture_output=True, text=True, timeout=60)


def test_enable_nri_reproduces_the_docs_diff(tmp_path):
    out = tmp_path / "new-config.toml"
    r = run_setup(
        "patch-containerd-conf", "enable-nri", f"--config-file={FIXTURE}", f"--output={out}"
    )
    assert r.returncode == 0, r.stderr
    assert hunks(old_config(), out.read_text()) == DOCS_HUNK
    if shutil.which("diff"):
        d = subprocess.run(["diff", "-u", FIXTURE, str(out)], capture_output=True, text=True)
        assert d.stdout[d.stdout.index("@@") :] == DOCS_HUNK


def test_enable_nri_is_idempotent_and_keeps_comments():
    once = toml_patch.enable_nri(old_config(), "c.toml")
    assert toml_patch.enable_nri(once, "c.toml") == once
    assert "# imports are merged in order\n" in once
    assert once.startswith(old_config())


def test_enable_nri_turns_a_disabled_plugin_on():
    text = '[plugins]\n  [plugins."io.containerd.nri.v1.nri"]\n    disable = true  # off\n'
    new = toml_patch.enable_nri(text, "c.toml")
    assert new == text.replace("disable = true", "disable = false")


def test_enable_nri_without_plugins_table():
    new = toml_patch.enable_nri("version = 2\n", "c.toml")
    assert tomlkit.parse(new)["plugins"][toml_patch.NRI_PLUGIN]["disable"] is False


def test_add_oci_hook_sets_base_runtime_spec_only(tmp_path):
    spec = "/etc/containerd/base-spec.json"
    old = old_config()
    new = toml_patch.add_oci_hook(old, "c.toml", spec)
    diff = [line for line in hunks(old, new).splitlines() if line[:1] in "+-" and line[:2] != "@@"]
    assert diff == [f'+          base_runtime_spec = "{spec}"']
    doc = tomlkit.parse(new)
    runc = doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runc"]
    assert runc["base_runtime_spec"] == spec
    assert runc["options"]["SystemdCgroup"] is False
    assert toml_patch.add_oci_hook(new, "c.toml", spec) == new


def test_add_oci_hook_adds_a_runc_runtime_when_none():
    text = 'version = 2\n# keep me\n[grpc]\n  address = "/run/containerd/containerd.sock"\n'
    new = toml_patch.add_oci_hook(text, "c.toml", "/s.json")
    assert new.startswith(text)
    runc = tomlkit.parse(new)["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"][
        "runc"
    ]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["base_runtime_spec"] == "/s.json"
    assert toml_patch.add_oci_hook(new, "c.toml", "/s.json") == new


def test_add_oci_hook_cli_writes_the_spec_with_the_hook(tmp_path):
    spec, out = tmp_path / "base-spec.json", tmp_path / "new.toml"
    args = (
        "patch-containerd-conf",
        "add-oci-hook",
        f"--config-file={FIXTURE}",
        f"--output={out}",
        f"--runtime-spec={spec}",
        "--hook-path=/opt/tetragon/tetragon-oci-hook",
    )
    assert run_setup(*args).returncode == 0
    first_spec, first_out = spec.read_text(), out.read_text()
    data = json.loads(first_spec)
    assert data["hooks"]["createRuntime"] == [
        {
            "path": "/opt/tetragon/tetragon-oci-hook",
            "args": ["/opt/tetragon/tetragon-oci-hook", "createRuntime"],
        }
    ]
    assert data["ociVersion"] and data["linux"]["namespaces"]
    assert f'base_runtime_spec = "{spec}"' in first_out
    assert run_setup(*args).returncode == 0
    assert (spec.read_text(), out.read_text()) == (first_spec, first_out)


def test_existing_base_spec_is_kept_and_gets_the_hook(tmp_path):
    old_spec = tmp_path / "custom.json"
    old_spec.write_text(json.dumps({"ociVersion": "1.0.2", "process": {"cwd": "/x"}}))
    conf = tmp_path / "c.toml"
    conf.write_text(
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n'
        f'  runtime_type = "io.containerd.runc.v2"\n  base_runtime_spec = "{old_spec}"\n'
    )
    spec = tmp_path / "base-spec.json"
    r = run_setup(
        "patch-containerd-conf",
        "add-oci-hook",
        f"--config-file={conf}",
        f"--output={tmp_path / 'n.toml'}",
        f"--runtime-spec={spec}",
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(spec.read_text())
    assert data["process"]["cwd"] == "/x" and data["hooks"]["createRuntime"]
    assert f'base_runtime_spec = "{spec}"' in (tmp_path / "n.toml").read_text()


def test_embedded_default_spec_is_like_ctr_oci_spec():
    if not shutil.which("ctr"):
        pytest.skip("ctr not installed: nothing to compare the embedded default spec with")
    ctr = json.loads(subprocess.run(["ctr", "oci", "spec"], capture_output=True).stdout)
    emb = setup_cmd.EMBEDDED_SPEC
    assert emb["mounts"] == ctr["mounts"]
    assert emb["process"]["capabilities"] == ctr["process"]["capabilities"]
    assert emb["linux"]["namespaces"] == ctr["linux"]["namespaces"]
    assert emb["linux"]["maskedPaths"] == ctr["linux"]["maskedPaths"]


def test_crio_hooks_dir():
    text = '[crio]\n# comment\n[crio.runtime]\n# hooks_dir = []\ndefault_runtime = "runc"\n'
    new = toml_patch.add_crio_hooks_dir(text, "crio.conf", setup_cmd.DEFAULT_HOOKS_DIR)
    assert new == text + 'hooks_dir = ["/usr/share/containers/oci/hooks.d"]\n'
    assert toml_patch.add_crio_hooks_dir(new, "crio.conf", setup_cmd.DEFAULT_HOOKS_DIR) == new
    more = toml_patch.add_crio_hooks_dir(new, "crio.conf", "/etc/containers/oci/hooks.d")
    assert tomlkit.parse(more)["crio"]["runtime"]["hooks_dir"] == [
        "/usr/share/containers/oci/hooks.d",
        "/etc/containers/oci/hooks.d",
    ]


def test_crio_without_runtime_table():
    new = toml_patch.add_crio_hooks_dir("# crio\n", "crio.conf", "/h")
    assert new.startswith("# crio\n")
    assert tomlkit.parse(new)["crio"]["runtime"]["hooks_dir"] == ["/h"]


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "cannot read: no such file"),
        ("x = [\n", "invalid TOML"),
        ('version = 2\nplugins = "x"\n', "plugins is a String, expected a table"),
        ("version = 7\n", "version = 7: expected 1, 2 or 3"),
    ],
)
def test_bad_input_names_the_file_and_exits_2(tmp_path, content, reason):
    conf = tmp_path / "config.toml"
    if content is not None:
        conf.write_text(content)
    r = run_setup(
        "patch-containerd-conf",
        "enable-nri",
        f"--config-file={conf}",
        f"--output={tmp_path / 'out.toml'}",
    )
    assert r.returncode == 2
    assert f"{conf}: " in r.stderr and reason in r.stderr
    assert "Traceback" not in r.stderr


def test_print_config_is_the_hooks_d_file():
    r = run_setup("print-config", "--interface=oci-hooks")
    assert r.returncode == 0
    hook = "/opt/tetragon/tetragon-oci-hook"
    assert json.loads(r.stdout) == {
        "version": "1.0.0",
        "hook": {"path": hook, "args": [hook, "createRuntime"]},
        "when": {"always": True},
        "stages": ["createRuntime"],
    }


def test_install_and_uninstall(tmp_path):
    inst, hooks = tmp_path / "opt-tetragon", tmp_path / "hooks.d"
    r = run_setup(
        "install",
        "--interface=oci-hooks",
        f"--local-install-dir={inst}",
        f"--hooks-dir={hooks}",
        "--grpc-address=unix:///tmp/nowhere.sock",
        "--grpc-timeout=1s",
        "--fail-allow-namespaces=ns1,ns2",
    )
    assert r.returncode == 0, r.stderr
    hook = str(inst / "tetragon-oci-hook")
    assert json.loads((hooks / "tetragon-oci-hook.json").read_text()) == (
        setup_cmd.oci_hooks_config(hook)
    )
    assert json.loads((inst / "tetragon-oci-hook.json").read_text()) == {
        "grpc-address": "unix:///tmp/nowhere.sock",
        "grpc-timeout": "1s",
        "fail-allow-namespaces": "ns1,ns2",
    }
    assert os.access(hook, os.X_OK)
    # the installed hook runs, reads its JSON file and logs beside itself
    bad = subprocess.run([hook, "createRuntime"], input="not json", capture_output=True, text=True)
    assert bad.returncode == 1
    assert str(inst / "tetragon-oci-hook.log") in bad.stderr
    lines = [json.loads(x) for x in (inst / "tetragon-oci-hook.log").read_text().splitlines()]
    assert lines[-1]["msg"] == "failing container"

    uninstall = ("uninstall", f"--local-install-dir={inst}", f"--hooks-dir={hooks}")
    assert run_setup(*uninstall).returncode == 0
    assert not (hooks / "tetragon-oci-hook.json").exists()
    assert not os.path.exists(hook) and not (inst / "tetragon-oci-hook.json").exists()
    # a second uninstall has nothing left to remove and still succeeds
    assert run_setup(*uninstall).returncode == 0


def test_install_unwritable_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_setup("install", f"--local-install-dir={blocker}/x", f"--hooks-dir={tmp_path}")
    assert r.returncode == 2 and f"{blocker}/x/tetragon-oci-hook: cannot write" in r.stderr


def test_install_passes_arguments_after_double_dash_to_the_hook(tmp_path):
    hooks = tmp_path / "hooks.d"
    r = run_setup(
        "install",
        f"--local-install-dir={tmp_path / 'inst'}",
        f"--hooks-dir={hooks}",
        "--",
        "--log-level=debug",
    )
    assert r.returncode == 0, r.stderr
    args = json.loads((hooks / "tetragon-oci-hook.json").read_text())["hook"]["args"]
    assert args[1:] == ["createRuntime", "--log-level=debug"]


@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="no /usr/bin/python3")
def test_install_with_host_python_is_self_contained(tmp_path):
    """As the tetragon-rthooks DaemonSet installs it: the node has neither this virtualenv nor
    this checkout, so the hook must run from its install dir with the node's Python."""
    inst, hooks = tmp_path / "node-opt-tetragon", tmp_path / "hooks.d"
    r = run_setup("install", f"--local-install-dir={inst}", f"--hooks-dir={hooks}",
                  "--host-python=/usr/bin/python3", "--disable-grpc")  # fmt: skip
    assert r.returncode == 0, r.stderr
    launcher = (inst / "tetragon-oci-hook").read_text()
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert "exec /usr/bin/python3 -I -S" in launcher
    assert checkout not in launcher and sys.prefix not in launcher
    for rel in setup_cmd.HOOK_MODULES:
        assert (inst / "lib" / "appliance" / rel).is_file(), rel
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    spec = {"root": {"path": "rootfs"}, "linux": {"cgroupsPath": "/kubepods/podx/abc"},
            "annotations": {"io.kubernetes.cri.container-name": "c"}}  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(spec))
    state = json.dumps({"ociVersion": "1.0.2", "id": "abc", "bundle": str(bundle)})
    run = subprocess.run([str(inst / "tetragon-oci-hook"), "createRuntime"], input=state,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert run.returncode == 0, run.stderr
    last = json.loads((inst / "tetragon-oci-hook.log").read_text().splitlines()[-1])
    assert last["msg"] == "gRPC was disabled, so will not be contacting the agent"
    assert last["req-containerName"] == "c"
    assert run_setup("uninstall", f"--local-install-dir={inst}",
                     f"--hooks-dir={hooks}").returncode == 0  # fmt: skip
    assert not (inst / "lib" / "appliance").exists()
