"""The policy directory kept in step with a (fake) agent: add, replace, delete, errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from appliance.errors import AgentRefused, AgentUnavailable, NoPolicyEngine
from controller.client import LoadedPolicy
from controller.metrics import Metrics
from controller.policies import PolicySync, is_policy_file, scan


def policy(name: str, value: str = "-1", kind: str = "TracingPolicy") -> str:
    return f"""\
apiVersion: cilium.io/v1alpha1
kind: {kind}
metadata:
  name: {name}
spec:
  kprobes:
  - call: sys_lseek
    syscall: true
    args:
    - index: 0
      type: int
    selectors:
    - matchArgs:
      - index: 0
        operator: Equal
        values:
        - "{value}"
      matchActions:
      - action: Sigkill
"""


class FakeAgent:
    """Holds policies by name, like the agent's ListTracingPolicies shows them."""

    def __init__(self) -> None:
        self.loaded: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.refuse: set[str] = set()
        self.down = False
        self.engine = True
        self.loads_after_list: dict[str, str] = {}  # loaded by the agent itself, late
        self.loaded_by_itself: set[str] = set()

    def _name(self, text: str) -> str:
        import yaml

        return yaml.safe_load(text)["metadata"]["name"]

    def list_policies(self):
        if self.down:
            raise AgentUnavailable("down")
        if not self.engine:
            raise NoPolicyEngine("tracing policies are not enabled")
        out = [LoadedPolicy(n, "", "TP_STATE_ENABLED", "") for n in self.loaded]
        self.loaded.update(self.loads_after_list)
        self.loaded_by_itself |= set(self.loads_after_list)
        self.loads_after_list = {}
        return out

    def add_policy(self, text: str) -> None:
        if self.down:
            raise AgentUnavailable("down")
        name = self._name(text)
        if name in self.refuse:
            raise AgentRefused("INVALID_ARGUMENT", f"policy {name}: cannot attach")
        if name in self.loaded_by_itself:
            raise AgentRefused("INVALID_ARGUMENT", f"policy {name} already exists")
        assert name not in self.loaded, f"{name} added twice"
        self.loaded[name] = text
        self.calls.append(("add", name))

    def replace_policy(self, text: str, source: str = "") -> str:
        name = self._name(text)
        if name in self.refuse:
            raise AgentRefused("INVALID_ARGUMENT", f"{source}: policy {name}: cannot attach")
        self.loaded[name] = text
        self.calls.append(("replace", name))
        return name

    def delete_policy(self, name: str, namespace: str = "") -> None:
        if name not in self.loaded:
            raise AgentRefused("INVALID_ARGUMENT", f"policy {name} not found")
        del self.loaded[name]
        self.calls.append(("delete", name))

    def report_error(self, message: str) -> None:
        self.errors.append(message)


@pytest.fixture
def setup(tmp_path: Path):
    d = tmp_path / "tp.d"
    d.mkdir()
    agent = FakeAgent()
    metrics = Metrics()
    sync = PolicySync(str(d), agent, metrics, state_file=str(tmp_path / "state.json"))
    return d, agent, sync, metrics


def count(metrics: Metrics, name: str, kind: str) -> float:
    return metrics.registry.get_sample_value(f"tetragon_controller_{name}_total", {"kind": kind})


def test_policy_file_names():
    assert is_policy_file("/x/lseek.yaml") and is_policy_file("/x/a.yml")
    for leftover in (".lseek.yaml.swp", "lseek.yaml~", ".#lseek.yaml", "#lseek.yaml#",
                     "lseek.yaml.tmp", "4913", "lseek.yaml.dpkg-new", ".hidden.yaml",
                     "notes.txt"):  # fmt: skip
        assert not is_policy_file(f"/x/{leftover}"), leftover


def test_scan_is_recursive_and_skips_hidden_directories(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "..data").mkdir()
    for p in ("one.yaml", "a/two.yml", "a/b/three.yaml", "..data/four.yaml", "a/junk.txt"):
        (tmp_path / p).write_text("x")
    assert [os.path.relpath(p, tmp_path) for p in scan(str(tmp_path))] == [
        "one.yaml",
        "a/two.yml",
        "a/b/three.yaml",
    ]


def test_add_replace_delete(setup):
    d, agent, sync, metrics = setup
    path = d / "lseek.yaml"
    path.write_text(policy("lseek"))
    sync.apply_path(str(path))
    assert agent.calls == [("add", "lseek")]
    sync.apply_path(str(path))  # unchanged content: nothing to do
    assert agent.calls == [("add", "lseek")]
    path.write_text(policy("lseek", "-2"))
    sync.apply_path(str(path))
    assert agent.calls[-1] == ("replace", "lseek")
    assert '"-2"' in agent.loaded["lseek"]
    path.unlink()
    sync.apply_path(str(path))
    assert agent.calls[-1] == ("delete", "lseek") and not agent.loaded
    assert count(metrics, "applied", "policy_add") == 1
    assert count(metrics, "applied", "policy_replace") == 1
    assert count(metrics, "applied", "policy_delete") == 1


def test_renamed_policy_is_added_before_the_old_one_goes(setup):
    d, agent, sync, _ = setup
    path = d / "p.yaml"
    path.write_text(policy("old"))
    sync.apply_path(str(path))
    path.write_text(policy("new"))
    sync.apply_path(str(path))
    assert agent.calls == [("add", "old"), ("add", "new"), ("delete", "old")]


def test_several_documents_in_one_file(setup):
    d, agent, sync, _ = setup
    path = d / "two.yaml"
    path.write_text(policy("a") + "---\n" + policy("b", "-2"))
    sync.apply_path(str(path))
    assert sorted(agent.loaded) == ["a", "b"]
    path.write_text(policy("b", "-3"))
    sync.apply_path(str(path))
    assert agent.calls[-2:] == [("replace", "b"), ("delete", "a")]


def test_invalid_file_keeps_the_last_good_version(setup):
    d, agent, sync, metrics = setup
    path = d / "lseek.yaml"
    path.write_text(policy("lseek"))
    sync.apply_path(str(path))
    good = agent.loaded["lseek"]
    path.write_text(policy("lseek").replace("operator: Equal", "operator: Equalz"))
    sync.apply_path(str(path))
    assert agent.loaded["lseek"] == good and agent.calls == [("add", "lseek")]
    assert len(agent.errors) == 1
    assert str(path) in agent.errors[0] and "Equalz" in agent.errors[0]
    assert "operator" in agent.errors[0]
    assert count(metrics, "errors", "policy_invalid") == 1
    sync.apply_path(str(path))  # the same bad version is reported once
    assert count(metrics, "errors", "policy_invalid") == 1
    path.write_text("kind: [")
    sync.apply_path(str(path))
    assert count(metrics, "errors", "policy_invalid") == 2
    path.write_text(policy("lseek", "-5"))
    sync.apply_path(str(path))
    assert agent.calls[-1] == ("replace", "lseek")


def test_a_name_loaded_from_another_file_is_refused(setup):
    d, agent, sync, _ = setup
    (d / "a.yaml").write_text(policy("same"))
    (d / "b.yaml").write_text(policy("same", "-2"))
    sync.apply_path(str(d / "a.yaml"))
    sync.apply_path(str(d / "b.yaml"))
    assert agent.calls == [("add", "same")]
    assert "already loaded from" in agent.errors[-1] and str(d / "a.yaml") in agent.errors[-1]


def test_agent_refusal_is_reported(setup):
    d, agent, sync, metrics = setup
    agent.refuse.add("bad")
    path = d / "bad.yaml"
    path.write_text(policy("bad"))
    sync.apply_path(str(path))
    assert not agent.loaded
    assert str(path) in agent.errors[-1] and "cannot attach" in agent.errors[-1]
    assert count(metrics, "errors", "policy_rejected") == 1


def test_a_removed_directory_deletes_its_policies(setup):
    d, agent, sync, _ = setup
    sub = d / "team"
    sub.mkdir()
    (sub / "a.yaml").write_text(policy("a"))
    (sub / "b.yaml").write_text(policy("b"))
    sync.apply_path(str(sub))
    assert sorted(agent.loaded) == ["a", "b"]
    for p in sub.iterdir():
        p.unlink()
    sub.rmdir()
    sync.apply_path(str(sub))
    assert not agent.loaded


def test_sync_re_adds_what_a_restarted_agent_lost(setup):
    d, agent, sync, _ = setup
    (d / "a.yaml").write_text(policy("a"))
    sync.sync()
    assert agent.calls == [("add", "a")]
    agent.loaded.clear()  # the agent restarted without loading the directory
    sync.sync()
    assert agent.calls[-1] == ("add", "a")


def test_sync_adopts_what_the_agent_loaded_at_start(setup):
    d, agent, sync, _ = setup
    (d / "a.yaml").write_text(policy("a"))
    agent.loaded["a"] = policy("a")
    sync.sync(agent_start_time=time.time() + 1)  # the file is older than the agent
    assert agent.calls == []
    (d / "a.yaml").write_text(policy("a", "-7"))
    sync.sync()
    assert agent.calls == [("replace", "a")]


def test_a_restarted_controller_deletes_files_removed_meanwhile(setup, tmp_path):
    d, agent, sync, _ = setup
    (d / "a.yaml").write_text(policy("a"))
    (d / "b.yaml").write_text(policy("b"))
    sync.sync()
    (d / "a.yaml").unlink()
    again = PolicySync(str(d), agent, None, state_file=str(tmp_path / "state.json"))
    again.sync(agent_start_time=0)
    assert sorted(agent.loaded) == ["b"]
    assert agent.calls[-1] == ("delete", "a")
    assert ("add", "b") in agent.calls and agent.calls.count(("add", "b")) == 1


class KilledAfterAdd(BaseException):
    """The controller process dying right after the agent accepted an add."""


def test_a_controller_killed_after_an_add_does_not_apply_it_again(setup, tmp_path):
    d, agent, sync, _ = setup
    (d / "a.yaml").write_text(policy("a"))
    real_add = agent.add_policy

    def add_then_die(text: str) -> None:
        real_add(text)
        raise KilledAfterAdd

    agent.add_policy = add_then_die
    with pytest.raises(KilledAfterAdd):
        sync.apply_path(str(d / "a.yaml"))
    agent.add_policy = real_add
    # the state written before the add is all a restarted controller finds
    again = PolicySync(str(d), agent, None, state_file=str(tmp_path / "state.json"))
    again.sync(agent_start_time=0)
    assert agent.calls == [("add", "a")]
    # a file changed while no controller ran is applied (a replace), not taken as done
    (d / "a.yaml").write_text(policy("a", "-3"))
    third = PolicySync(str(d), agent, None, state_file=str(tmp_path / "state.json"))
    third.sync(agent_start_time=0)
    assert agent.calls == [("add", "a"), ("replace", "a")]


def test_unreachable_agent_is_retried(setup):
    d, agent, sync, _ = setup
    (d / "a.yaml").write_text(policy("a"))
    agent.down = True
    with pytest.raises(AgentUnavailable):
        sync.apply_path(str(d / "a.yaml"))
    agent.down = False
    sync.sync()
    assert agent.calls == [("add", "a")]


def test_an_agent_without_policy_engine(setup):
    d, agent, sync, _ = setup
    agent.engine = False
    (d / "a.yaml").write_text(policy("a"))
    sync.sync()
    sync.apply_path(str(d / "a.yaml"))
    assert sync.engine is False and agent.calls == []


def test_other_directories_are_ignored(setup, tmp_path):
    _, agent, sync, _ = setup
    other = tmp_path / "elsewhere.yaml"
    other.write_text(policy("x"))
    sync.apply_path(str(other))
    assert agent.calls == []


def test_a_policy_the_agent_loads_meanwhile_is_replaced_and_held(setup):
    """The agent lists nothing, then loads the file itself before the controller's add:
    the add is refused as existing, the controller replaces it and still owns it."""
    d, agent, sync, metrics = setup
    path = d / "lseek.yaml"
    path.write_text(policy("lseek"))
    agent.loads_after_list = {"lseek": policy("lseek")}
    sync.sync(agent_start_time=0.0)
    assert agent.calls == [("replace", "lseek")]
    assert sync.files[str(path)].policies == [("lseek", "")]
    assert not agent.errors
    path.unlink()
    sync.apply_path(str(path))
    assert agent.calls[-1] == ("delete", "lseek") and not agent.loaded


def test_the_refusal_says_whether_an_earlier_version_runs(setup, caplog):
    d, agent, sync, _metrics = setup
    bad = policy("lseek").replace("operator: Equal", "operator: Equalz")
    path = d / "lseek.yaml"
    path.write_text(bad)  # refused the first time it is seen: nothing of it ever ran
    with caplog.at_level("ERROR", logger="tetragon.controller"):
        sync.apply_path(str(path))
    assert "no policy from it runs" in caplog.text
    assert "last good version" not in caplog.text
    caplog.clear()
    path.write_text(policy("lseek"))
    sync.apply_path(str(path))
    path.write_text(bad)
    with caplog.at_level("ERROR", logger="tetragon.controller"):
        sync.apply_path(str(path))
    assert "the policies of its last good version keep running (lseek)" in caplog.text
