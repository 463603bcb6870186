"""Drop-in changes sent to a (fake) agent: live, restart-required, malformed, refused."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from appliance.errors import AgentUnavailable
from controller.config import ConfigSync, default_restart_command
from controller.metrics import Metrics


class FakeClient:
    def __init__(self) -> None:
        self.applied: list[dict] = []
        self.errors: list[str] = []
        self.error = ""
        self.restart: list[str] = []
        self.down = False

    def apply_settings(self, values, source="", sources=None, config_error=""):
        if self.down:
            raise AgentUnavailable("down")
        self.applied.append({"values": dict(values), "sources": dict(sources or {})})
        if self.error:
            return SimpleNamespace(applied=[], restart_required=[], overridden=[], error=self.error)
        restart = [k for k in values if k in self.restart]
        return SimpleNamespace(
            applied=[k for k in values if k not in restart],
            restart_required=restart,
            overridden=[],
            error="",
        )

    def report_error(self, message: str) -> None:
        self.errors.append(message)


@pytest.fixture
def setup(tmp_path: Path):
    dirs = [tmp_path / "usr-lib", tmp_path / "etc-conf.d"]
    for d in dirs:
        d.mkdir()
    conf = tmp_path / "conf.d"
    conf.mkdir()
    client = FakeClient()
    metrics = Metrics()
    marker = tmp_path / "restarted"
    sync = ConfigSync(
        ["--config-dir", str(conf)],
        {},
        {"system_dirs": tuple(str(d) for d in dirs), "yaml_file": str(tmp_path / "t.yaml")},
        client,
        metrics,
        restart_cmd=f"sh -c 'echo restart >> {marker}'",
    )
    assert sync.initial() is not None
    return conf, client, sync, metrics, marker


def count(metrics, name, kind):
    return metrics.registry.get_sample_value(f"tetragon_controller_{name}_total", {"kind": kind})


def test_a_live_change_is_sent_with_its_file(setup):
    conf, client, sync, metrics, _ = setup
    (conf / "export-filename").write_text("/var/log/other.log\n")
    new, diff = sync.reload()
    assert set(diff) == {"export_filename"}
    assert client.applied == [
        {
            "values": {"export-filename": "/var/log/other.log"},
            "sources": {"export-filename": str(conf / "export-filename")},
        }
    ]
    assert sync.loaded is new
    assert count(metrics, "applied", "settings") == 1
    assert sync.reload()[1] == {}  # nothing more to send
    assert len(client.applied) == 1


def test_an_empty_file_clears_back_to_the_default(setup):
    conf, client, sync, _, _ = setup
    (conf / "export-file-max-backups").write_text("2")
    sync.reload()
    (conf / "export-file-max-backups").write_text("")
    sync.reload()
    assert client.applied[-1]["values"] == {"export-file-max-backups": "5"}


def test_a_malformed_dropin_is_reported_and_ignored(setup):
    conf, client, sync, metrics, _ = setup
    good = sync.loaded
    (conf / "export-file-max-backups").write_text("x\n")
    assert sync.reload() is None
    assert sync.loaded is good and client.applied == []
    assert client.errors == [
        f"{conf / 'export-file-max-backups'}: invalid value 'x' for export-file-max-backups: "
        "expected an integer"
    ]
    assert count(metrics, "errors", "settings_invalid") == 1
    # the same error again is counted but not reported twice
    assert sync.reload() is None
    assert len(client.errors) == 1
    (conf / "export-file-max-backups").write_text("3\n")
    _, diff = sync.reload()
    assert set(diff) == {"export_file_max_backups"} and sync.current_error == ""


def test_a_refused_change_keeps_the_last_good_configuration(setup):
    conf, client, sync, metrics, _ = setup
    good = sync.loaded
    client.error = "export-allowlist: invalid regular expression"
    (conf / "export-allowlist").write_text('{"binary_regex": ["("]}')
    assert sync.reload() is None
    assert sync.loaded is good and not sync.pending
    assert count(metrics, "errors", "settings_rejected") == 1


def test_restart_required_settings_restart_the_agent(setup):
    conf, client, sync, metrics, marker = setup
    client.restart = ["process-cache-size"]
    (conf / "process-cache-size").write_text("1000")
    sync.reload()
    assert marker.read_text() == "restart\n"
    assert count(metrics, "applied", "restart") == 1
    sync.restart_cmd = ""
    (conf / "process-cache-size").write_text("2000")
    sync.reload()
    assert marker.read_text() == "restart\n"  # no command: logged only
    sync.restart_cmd = "false"
    assert sync.restart(["process-cache-size"]) is False
    assert count(metrics, "errors", "restart") == 1


def test_the_metadata_source_is_not_sent_as_a_setting(setup):
    conf, client, sync, _, _ = setup
    (conf / "metadata-source").write_text("cgroup")
    _, diff = sync.reload()
    assert "metadata_source" in diff and client.applied == []


def test_an_unreachable_agent_leaves_the_change_pending(setup):
    conf, client, sync, _, _ = setup
    old = sync.loaded
    client.down = True
    (conf / "export-filename").write_text("/tmp/x.log")
    with pytest.raises(AgentUnavailable):
        sync.reload()
    assert sync.pending and sync.loaded is old
    client.down = False
    _, diff = sync.reload()
    assert set(diff) == {"export_filename"} and not sync.pending


def test_default_restart_command():
    assert default_restart_command({"SUPERVISOR_ENABLED": "1"}) == "supervisorctl restart tetragon"
    assert default_restart_command({}) == ""
