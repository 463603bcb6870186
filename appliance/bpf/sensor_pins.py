"""The process sensor pinned beside the policies, so process state outlives the agent.

Pinned policies read the sensor's execve_map (the binary of every process, for
matchBinaries). With --release-pinned-bpf=false the sensor's links and that map are
pinned too: while no agent runs, exec, fork and exit keep the map current, and the next
agent's sensor shares the very same map instead of starting from an empty one, so no
process it tracked is lost. The old sensor links are unpinned once the new ones are
attached. Layout under the BPF directory::

    sensors/<sensor>/<pid>/links/<program>
    sensors/<sensor>/<pid>/maps/<map>
"""

from __future__ import annotations

import logging
import os
import shutil

from appliance.bpf.libbpf import BpfError, BpfObject, pinned_map
from appliance.bpf.pins import PinStore

log = logging.getLogger("tetragon.pins")

# maps whose content must survive a restart (the others are per-agent: ring buffer,
# counters, scratch space)
STATE_MAPS = ("execve_map",)


class SensorPins:
    """The pins of one sensor under a PinStore (None: nothing is pinned or adopted)."""

    def __init__(self, store: PinStore | None, pin_new: bool, sensor: str = "process"):
        self.store = store
        self.pin_new = pin_new
        self.sensor = sensor
        self.dir = os.path.join(store.root, "sensors", sensor) if store else ""
        self.own = ""
        self.previous = sorted(os.listdir(self.dir)) if self.dir and os.path.isdir(self.dir) else []

    def share_state_maps(self, obj: BpfObject) -> list[str]:
        """Before the sensor loads: use the state maps a previous agent pinned, when they
        have this object's shape; the names of those shared."""
        shared = []
        for name in STATE_MAPS:
            for inst in reversed(self.previous):
                path = os.path.join(self.dir, inst, "maps", name)
                if not os.path.exists(path):
                    continue
                try:
                    fd, (_type, key, value, entries) = pinned_map(path)
                except BpfError as e:
                    log.warning("pinned %s not usable: %s", path, e)
                    continue
                try:
                    want = obj.map(name).shape()
                    if (key, value, entries) != want:
                        log.warning(
                            "pinned %s has another layout (%s, not %s): not shared",
                            path, (key, value, entries), want,
                        )  # fmt: skip
                        continue
                    obj.map(name).reuse_fd(fd)
                    shared.append(name)
                    break
                finally:
                    os.close(fd)
        return shared

    def pin(self, obj: BpfObject) -> None:
        """After attaching: pin the links and state maps (when pins are kept)."""
        if self.store is None or not self.pin_new:
            return
        path = os.path.join(self.dir, str(os.getpid()))
        try:
            os.makedirs(os.path.join(path, "links"))
            os.makedirs(os.path.join(path, "maps"))
            for link in obj.links:
                link.pin(os.path.join(path, "links", link.program))
            for name in STATE_MAPS:
                obj.map(name).pin(os.path.join(path, "maps", name))
        except (BpfError, OSError) as e:
            shutil.rmtree(path, ignore_errors=True)
            log.warning("sensor %s: not pinned, processes started while no agent runs "
                        "are not tracked: %s", self.sensor, e)  # fmt: skip
            return
        self.own = path

    def settle(self) -> None:
        """The new sensor runs: the previous agents' sensor pins can go."""
        for inst in self.previous:
            shutil.rmtree(os.path.join(self.dir, inst), ignore_errors=True)
        if self.previous:
            log.info("sensor %s: took over from the pinned one of a previous agent", self.sensor)
        self.previous = []

    def release(self) -> None:
        """A clean exit with --release-pinned-bpf=true: nothing of the sensor stays."""
        if self.own:
            shutil.rmtree(self.own, ignore_errors=True)
            self.own = ""
        remove_empty(self.store)

    def kept(self) -> bool:
        return bool(self.own)


def remove_empty(store: PinStore | None) -> None:
    """Remove the sensors directories, then the BPF directory itself, if empty."""
    if store is None:
        return
    sensors = os.path.join(store.root, "sensors")
    if os.path.isdir(sensors):
        for d in os.listdir(sensors):
            try:
                os.rmdir(os.path.join(sensors, d))
            except OSError:
                pass
        try:
            os.rmdir(sensors)
        except OSError:
            pass
    store.remove_root_if_empty()


def release_all(store: PinStore) -> tuple[list[str], list[str]]:
    """Unpin everything under the store: (policies, sensors) removed."""
    policies = sorted(store.found())
    for insts in store.found().values():
        for p in insts:
            store.remove(p)
    sensors_dir = os.path.join(store.root, "sensors")
    sensors = sorted(os.listdir(sensors_dir)) if os.path.isdir(sensors_dir) else []
    for s in sensors:
        shutil.rmtree(os.path.join(sensors_dir, s), ignore_errors=True)
    remove_empty(store)
    return policies, sensors
