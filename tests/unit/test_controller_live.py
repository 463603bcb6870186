"""Settings applied to a running agent (appliance.live) on an agent-shaped object."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from appliance import live
from appliance.errors import NoPolicyEngine, SettingsError
from appliance.export.pipeline import JsonLinesSink, Pipeline
from appliance.settings import Settings, config_locations, parse_one


class Hub:
    def emit(self, event):
        pass

    def flush(self):
        pass

    def close(self):
        pass


class FakeAgent:
    def __init__(self, tmp_path: Path, **settings):
        self.settings = Settings(export_filename=str(tmp_path / "events.log"), **settings)
        self.pipeline = Pipeline()
        self.hub = Hub()
        self.policies = None
        self.settings_sources = {}
        self.tracker = SimpleNamespace(redactor=None, metadata=None)
        self.metadata = None
        self.btf = ""
        live.configure_exporters(self.pipeline, self.hub, self.settings)

    def write(self, event: dict) -> None:
        self.pipeline.emit(event)
        self.pipeline.flush()

    def drop_counts(self) -> dict[str, int]:
        return {"export_file": self.pipeline.write_lost}

    def error_counts(self) -> dict[str, int]:
        return dict(self.pipeline.errors)


EXEC = {"process_exec": {"process": {"binary": "/bin/true", "pid": 1}}}


@pytest.fixture
def agent(tmp_path):
    a = FakeAgent(tmp_path)
    yield a
    a.pipeline.close()


@pytest.fixture(autouse=True)
def _keep_log_level():
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


def test_start_up_exporters(agent, tmp_path):
    assert set(agent.pipeline.sinks) == {"file", "grpc"}
    agent.write(EXEC)
    assert "/bin/true" in (tmp_path / "events.log").read_text()


def test_export_file_moves(agent, tmp_path):
    other = tmp_path / "sub" / "other.log"
    res = live.apply_settings(agent, {"export-filename": str(other)}, "test")
    assert res.applied == ["export-filename"] and not res.error
    agent.write(EXEC)
    assert "/bin/true" in other.read_text()
    assert agent.settings.export_filename == str(other)
    st = live.status(agent)
    line = next(x for x in st.settings if x.startswith("export-filename="))
    assert line == f"export-filename={other} (applied live from test)"
    assert st.config_changes == 1 and st.pid == os.getpid()


def test_rotation_settings_take_a_new_file_sink(agent):
    old = agent.pipeline.sinks["file"]
    res = live.apply_settings(
        agent,
        {"export-file-max-size-mb": "1", "export-file-max-backups": "2"},
        sources={"export-file-max-size-mb": "/conf/export-file-max-size-mb"},
    )
    assert res.applied == ["export-file-max-backups", "export-file-max-size-mb"]
    sink = agent.pipeline.sinks["file"]
    assert sink is not old and isinstance(sink, JsonLinesSink)
    assert sink.target.max_bytes == 1 << 20 and sink.target.max_backups == 2


def test_a_bad_value_changes_nothing(agent):
    before, sink = agent.settings, agent.pipeline.sinks["file"]
    res = live.apply_settings(
        agent,
        {"export-filename": "/tmp/elsewhere.log", "export-file-max-backups": "x"},
        "controller",
        {"export-file-max-backups": "/etc/tetragon/tetragon.conf.d/export-file-max-backups"},
    )
    assert res.error == (
        "/etc/tetragon/tetragon.conf.d/export-file-max-backups: invalid value 'x' for "
        "export-file-max-backups: expected an integer"
    )
    assert res.applied == [] and agent.settings is before
    assert agent.pipeline.sinks["file"] is sink
    st = live.status(agent)
    assert st.last_config_error == res.error and st.config_errors == 1


def test_an_export_file_that_cannot_be_opened_changes_nothing(agent, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    sink = agent.pipeline.sinks["file"]
    res = live.apply_settings(agent, {"export-filename": str(blocker / "x.log")}, "test")
    assert "cannot open the export file" in res.error
    assert agent.pipeline.sinks["file"] is sink


def test_export_filters(agent):
    res = live.apply_settings(agent, {"export-denylist": '{"binary_regex": ["^/bin/true$"]}'})
    assert not res.error
    assert not agent.pipeline.export_filter(EXEC)
    flt = agent.pipeline.export_filter
    res = live.apply_settings(agent, {"export-allowlist": '{"binary_regex": ["("]}'}, "t")
    assert "export filters" in res.error and agent.pipeline.export_filter is flt


def test_stdout_exporter(agent):
    live.apply_settings(agent, {"export-stdout": "true"})
    assert "stdout" in agent.pipeline.sinks
    live.apply_settings(agent, {"export-stdout": ""})  # empty: back to the default (off)
    assert "stdout" not in agent.pipeline.sinks


def test_restart_required_and_overridden(agent):
    agent.settings_sources = {"cluster_name": "flag --cluster-name"}
    res = live.apply_settings(
        agent, {"process-cache-size": "10", "cluster-name": "x", "log-level": "warn"}
    )
    assert res.restart_required == ["process-cache-size"]
    assert res.overridden == ["cluster-name"]
    assert res.applied == ["log-level"]
    assert agent.settings.process_cache_size == 65536  # until the agent restarts
    assert logging.getLogger().level == logging.WARNING
    assert live.status(agent).log_level == "warn"


def test_unknown_setting(agent):
    res = live.apply_settings(agent, {"no-such-setting": "1"}, "x")
    assert res.error == "x: no-such-setting: unknown setting"


def test_btf_is_checked_before_it_is_stored(agent, tmp_path):
    bad = tmp_path / "not-btf"
    bad.write_text("hello")
    res = live.apply_settings(agent, {"btf": str(bad)}, "conf/btf")
    assert "not a BTF file" in res.error and agent.settings.btf == ""


def test_reported_errors_are_kept(agent):
    live.apply_settings(agent, {}, "controller", config_error="/x/policy.yaml: bad")
    st = live.status(agent)
    assert st.last_config_error == "/x/policy.yaml: bad" and st.last_config_error_time.seconds


def test_policy_calls_without_an_engine(agent):
    with pytest.raises(NoPolicyEngine):
        live.replace_policy(agent, "kind: TracingPolicy", "x.yaml")
    assert live.status(agent).policies_enabled is False


def test_parse_one():
    assert parse_one("export-file-max-size-mb", "", "s") == ("export_file_max_size_mb", 10)
    assert parse_one("server-address", "", "s") == ("server_address", "")
    assert parse_one("export_stdout", "yes", "s") == ("export_stdout", True)
    with pytest.raises(SettingsError, match=r"^s: no-such: unknown setting$"):
        parse_one("no-such", "1", "s")
    with pytest.raises(SettingsError, match=r"^s: invalid value 'x' for export-stdout: "):
        parse_one("export-stdout", " x\n", "s")


def test_config_locations():
    loc = config_locations(
        {"APPLIANCE_SYSTEM_CONF_DIRS": "/a:/b", "APPLIANCE_SYSTEM_CONF_YAML": "/c.yaml"}
    )
    assert loc == {"system_dirs": ("/a", "/b"), "yaml_file": "/c.yaml"}
    assert config_locations({})["yaml_file"] == "/etc/tetragon/tetragon.yaml"


def test_events_handed_to_the_old_file_just_before_a_swap_are_kept(agent, tmp_path):
    old = agent.pipeline.sinks["file"]
    live.apply_settings(agent, {"export-filename": str(tmp_path / "new.log")})
    old.emit({"process_exec": {"process": {"binary": "/bin/straggler"}}})  # event loop's view
    deadline = time.monotonic() + 5
    while "/bin/straggler" not in (tmp_path / "events.log").read_text():
        assert time.monotonic() < deadline, "the old sink was not flushed"
        time.sleep(0.05)


def test_field_filters_alone_apply_live(agent, tmp_path):
    res = live.apply_settings(
        agent, {"field-filters": '{"fields": "process.pid", "action": "EXCLUDE"}'}, "t"
    )
    assert res.applied == ["field-filters"] and not res.error
    agent.write(EXEC)
    assert '"pid"' not in (tmp_path / "events.log").read_text()


def test_redaction_filters_apply_to_processes_that_start_next(agent):
    agent.tracker = SimpleNamespace(redactor=None)
    res = live.apply_settings(agent, {"redaction-filters": '{"redact": ["--token=(\\\\S+)"]}'})
    assert res.applied == ["redaction-filters"] and not res.error
    proc = {"binary": "/bin/app", "arguments": "--token=abc --x"}
    assert agent.tracker.redactor.redact(proc) and proc["arguments"] == "--token=***** --x"
    kept = agent.tracker.redactor
    res = live.apply_settings(agent, {"redaction-filters": '{"redact": ["("]}'}, "t")
    assert "redaction filters: filter 1: redact: invalid regular expression" in res.error
    assert agent.tracker.redactor is kept


def test_a_setting_without_effect_needs_no_restart(agent, caplog):
    res = live.apply_settings(agent, {"cluster-name": "prod", "process-cache-size": "10"}, "t")
    assert res.applied == ["cluster-name"] and res.restart_required == ["process-cache-size"]
    assert "cluster-name=prod is accepted for compatibility" in caplog.text
