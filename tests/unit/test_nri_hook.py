"""tetragon-nri-hook fed NRI v0.1 requests by hand, and its install into conf.json."""

from __future__ import annotations

import io
import json

from appliance.rthooks import nri_hook, setup_cmd


def request(tmp_path, ns: str, state: str = "create") -> io.StringIO:
    return io.StringIO(json.dumps({
        "version": "0.1", "state": state, "id": "c1", "sandboxID": "s1", "pid": 5,
        "spec": {"cgroupsPath": "/kubepods/besteffort/podx/c1",
                 "annotations": {"io.kubernetes.cri.container-name": "c",
                                 "io.kubernetes.cri.sandbox-namespace": ns}},
        "conf": {"grpc-address": f"unix://{tmp_path}/none.sock", "grpc-timeout": "1s",
                 "log-fname": str(tmp_path / "nri.log")},
    }))  # fmt: skip


def test_agent_down_fails_default_and_allows_kube_system(tmp_path):
    out = io.StringIO()
    assert nri_hook.main(["invoke"], request(tmp_path, "default"), out) == 1
    res = json.loads(out.getvalue())
    # containerd 1.6.20's client fails the start on Result.error; v0.1.0 read message
    assert res["error"].startswith("failing container:") and res["message"] == res["error"]
    out = io.StringIO()
    assert nri_hook.main(["invoke"], request(tmp_path, "kube-system"), out) == 0
    assert json.loads(out.getvalue()) == {
        "plugin": "tetragon-nri-hook", "version": "0.1", "metadata": {}}  # fmt: skip
    log = (tmp_path / "nri.log").read_text()
    assert '"msg":"failing container","hook":"nri-create"' in log
    assert "failCheck determined that we should not fail this container" in log


def test_delete_is_answered_without_the_agent(tmp_path):
    out = io.StringIO()
    assert nri_hook.main(["invoke"], request(tmp_path, "default", "delete"), out) == 0


def test_install_is_idempotent_and_uninstall_removes(tmp_path):
    conf = tmp_path / "conf.json"
    conf.write_text(json.dumps({"version": "0.1", "plugins": [{"type": "other"}]}))
    args = ["--interface=nri-hook", f"--nri-bin-dir={tmp_path}/bin", f"--nri-conf={conf}"]
    for _ in range(2):
        assert setup_cmd.main(["install", *args, f"--local-install-dir={tmp_path}"]) == 0
    types = [p["type"] for p in json.loads(conf.read_text())["plugins"]]
    assert types == ["other", "tetragon-nri-hook"]
    assert (tmp_path / "bin" / "tetragon-nri-hook").exists()
    assert setup_cmd.main(["uninstall", *args]) == 0
    assert [p["type"] for p in json.loads(conf.read_text())["plugins"]] == ["other"]
    assert not (tmp_path / "bin" / "tetragon-nri-hook").exists()
