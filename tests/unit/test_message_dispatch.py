"""Ring-buffer messages reach the sensor that registered their kind, and only it."""

from __future__ import annotations

import pytest

from appliance.events.common import Clock
from appliance.events.process import ProcessTracker
from appliance.process.cache import ProcessCache
from appliance.sensors import wire
from appliance.sensors.dispatch import MessageTable, UnknownMessage
from appliance.sensors.process import ProcessSensor
from tests.unit.test_events import _exec_msg


def _table() -> tuple[MessageTable, list[dict]]:
    events: list[dict] = []
    tracker = ProcessTracker("node1", ProcessCache(64), Clock())
    table = MessageTable()
    ProcessSensor(tracker, events.append).register(table)
    return table, events


def test_the_process_sensor_owns_exec_clone_and_exit():
    table, _ = _table()
    assert table.owners() == {wire.MSG_EXEC: "process", wire.MSG_CLONE: "process",
                              wire.MSG_EXIT: "process"}  # fmt: skip


def test_exec_then_exit_become_events_in_order():
    table, events = _table()
    table.dispatch(_exec_msg(300, 1, 5_000, ["true"], "/usr/bin/true", "/"))
    exit_raw = wire.HEADER.pack(wire.MSG_EXIT, 0, 0, 40, 300, 300, 6_000) + wire.EXIT.pack(
        0, 0, 5_000
    )
    table.dispatch(exit_raw)
    assert [next(iter(ev)) for ev in events] == ["process_exec", "process_exit"]
    assert events[0]["process_exec"]["process"]["binary"] == "/usr/bin/true"


def test_a_kind_nobody_registered_is_an_error_naming_it():
    table, events = _table()
    with pytest.raises(UnknownMessage, match="message kind 4 has no handler"):
        table.dispatch(bytes([wire.MSG_POLICY]) + bytes(40))
    assert events == []


def test_a_kind_has_one_owner():
    table, _ = _table()
    with pytest.raises(ValueError, match="already handled by the process sensor"):
        table.register(wire.MSG_EXEC, "policy", lambda data: None)


def test_a_second_sensor_adds_its_kind_without_touching_the_others():
    table, _ = _table()
    seen: list[bytes] = []
    table.register(wire.MSG_POLICY, "policy", seen.append)
    msg = bytes([wire.MSG_POLICY]) + bytes(7)
    table.dispatch(msg)
    assert seen == [msg]
