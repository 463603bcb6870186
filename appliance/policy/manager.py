"""Loads, attaches, replaces and removes TracingPolicies in the running agent.

A policy is validated, planned (attach method per hook), generated as C,
compiled (cached), loaded sharing the agent's ring buffer and binary map, and
attached. Any failure leaves the previously loaded policies untouched.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from appliance.api.tetragon import sensors_pb2
from appliance.bpf import pins
from appliance.bpf.libbpf import BpfObject
from appliance.bpf.syscalls import arch_prefix, syscall_names
from appliance.errors import BpfError, PolicyError
from appliance.metrics import read_percpu_counters
from appliance.policy import loader
from appliance.sensors.dispatch import MessageTable
from appliance.sensors.wire import MSG_POLICY

if TYPE_CHECKING:
    from appliance.policy.filter import FilterSpec
    from appliance.policy.plan import HookPlan

log = logging.getLogger("tetragon.policy")

PC_NAMES = ["emitted", "lost", "rate_limited", "actions", "matched"]
STARTUP_GRACE = 30.0  # seconds: pins not claimed by then are removed (see startup_done)


@dataclass
class LoadedPolicy:
    id: int
    name: str
    namespace: str
    yaml_text: str
    source: str
    plans: list[HookPlan]
    obj: BpfObject | None = None
    enabled: bool = True
    error: str = ""
    load_ms: float = 0.0
    cached: bool = False
    hooks_info: list[str] = field(default_factory=list)
    filter: FilterSpec | None = None  # namespace / pod / container filter, if any
    events_by_hook: dict[int, int] = field(default_factory=dict)
    obj_hash: str = ""  # the compiled object's content hash (the compiler's cache key)
    pinned: pins.Pinned | None = None  # where its links are pinned, if they are
    ima_warned: set[int] = field(default_factory=set)  # why imaHash events had no hash

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def _equivalents(plans: list[HookPlan]) -> dict[str, str]:
    """Function -> description of the equivalent attached for it, in plan order."""
    out: dict[str, str] = {}
    for p in plans:
        if p.equivalent:
            out.setdefault(p.function_name, p.equivalent)
    return out


def parse_policy(text: str, source: str = ""):
    """YAML -> model, with problems named by file, YAML path and reason."""
    import yaml

    from appliance.policy.model import TracingPolicy, TracingPolicyNamespaced

    where = f"{source}: " if source else ""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise PolicyError(f"{where}not valid YAML: {e}") from None
    if len(docs) != 1:
        raise PolicyError(f"{where}expected one policy document, found {len(docs)}")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}a policy is a YAML mapping")
    cls = TracingPolicyNamespaced if doc.get("kind") == "TracingPolicyNamespaced" else TracingPolicy
    try:
        return cls.model_validate(doc)
    except Exception as e:  # pydantic ValidationError: keep the first lines
        problems = _pydantic_problems(e)
        raise PolicyError(f"{where}{problems}") from None


def _pydantic_problems(e) -> str:
    errs = getattr(e, "errors", None)
    if not callable(errs):
        return str(e)
    out = []
    for err in errs():
        loc = ""
        for part in err.get("loc", ()):
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        out.append(f"{loc}: {err.get('msg')}")
    return "; ".join(out)


class PolicyManager:
    def __init__(self, agent):
        self.agent = agent
        self.policies: dict[tuple[str, str], LoadedPolicy] = {}
        self.by_id: dict[int, LoadedPolicy] = {}
        self._next_id = 1
        self._lock = threading.RLock()
        self.decode_errors = 0
        self._syscalls = syscall_names()
        cache = getattr(agent.settings, "policy_cache_dir", "") or "/var/cache/tetragon/policies"
        self.cache_dir = cache
        self._init_pins(agent.settings)

    # -- pins: enforcement that outlives the agent ----------------------------------------
    def _init_pins(self, settings) -> None:
        """Pins left by a previous agent are held until the same policy is attached again
        (then replaced) or start-up ends without it (then removed)."""
        self.release_pins = bool(getattr(settings, "release_pinned_bpf", True))
        self.pins = pins.open_store(
            getattr(settings, "bpf_dir", "tetragon"), pin_new=not self.release_pins
        )
        self._inherited: dict[str, list[pins.Pinned]] = {}
        self._startup_timer: threading.Timer | None = None
        # TracingPolicy resources come from the controller after start: they get the grace
        # period rather than losing their pins once the policy directory is loaded
        self._crd_policies = bool(
            getattr(settings, "enable_k8s_api", False)
            and getattr(settings, "enable_tracing_policy_crd", False)
        )
        if self.pins is None:
            return
        self._inherited = self.pins.found()
        if self._inherited:
            log.info(
                "found pinned policies from a previous agent in %s: %s (kept until loaded "
                "again or start-up ends)",
                self.pins.root, ", ".join(sorted(self._inherited)),
            )  # fmt: skip
            # when nothing marks the end of start-up (no policy directory), a grace period does
            self._startup_timer = threading.Timer(STARTUP_GRACE, self.startup_done)
            self._startup_timer.daemon = True
            self._startup_timer.start()

    def _pin(self, lp: LoadedPolicy) -> None:
        """With --release-pinned-bpf=false the links stay attached if the agent dies."""
        if self.pins is None or self.release_pins or lp.obj is None:
            return
        try:
            lp.pinned = self.pins.pin(
                pins.pin_name(lp.namespace, lp.name), lp.obj_hash, f"{os.getpid()}_{lp.id}",
                lp.obj,
            )  # fmt: skip
        except (BpfError, OSError) as e:
            log.warning("policy %s: not pinned, it stops when the agent stops: %s", lp.name, e)

    def _unpin(self, lp: LoadedPolicy) -> None:
        if lp.pinned is not None and self.pins is not None:
            self.pins.remove(lp.pinned)
            lp.pinned = None

    def _settle_inherited(self, lp: LoadedPolicy) -> None:
        """`lp` is attached: the previous agent's pins of the same policy can go."""
        with self._lock:
            old = self._inherited.pop(pins.pin_name(lp.namespace, lp.name), [])
        for p in old:
            self.pins.remove(p)
            if p.hash == lp.obj_hash:
                log.info(
                    "adopted pinned policy %s (same object %s): enforced without a gap, "
                    "now attached by this agent",
                    lp.name, p.hash,
                )  # fmt: skip
            else:
                log.info(
                    "replaced pinned policy %s (object %s -> %s): the new version was "
                    "attached before the old one was unpinned",
                    lp.name, p.hash, lp.obj_hash,
                )  # fmt: skip

    def policy_dir_loaded(self) -> None:
        if not self._crd_policies:
            self.startup_done()

    def startup_done(self) -> None:
        """Pins of policies not loaded again at start are removed: nobody wants them."""
        if self._startup_timer is not None:
            self._startup_timer.cancel()
        with self._lock:
            left, self._inherited = self._inherited, {}
        for ps in left.values():
            for p in ps:
                self.pins.remove(p)
                log.info("removed pinned policy %s (object %s): not loaded again", p.policy, p.hash)

    # -- loading -------------------------------------------------------------------------
    def _build(self, text: str, source: str) -> LoadedPolicy:
        # the compiler's modules are imported with the first policy: an agent with the base
        # sensors only does not hold them (4 MB of its RSS)
        from appliance.policy.compiler import compile_policy
        from appliance.policy.emit import generate
        from appliance.policy.filter import MAP_NAME, filter_spec
        from appliance.policy.inmap import fill_value_maps
        from appliance.policy.plan import plan_policy

        t0 = time.monotonic()
        model = parse_policy(text, source)
        name = model.metadata.name
        ns = getattr(model.metadata, "namespace", "") or ""
        where = f"{source + ': ' if source else ''}policy {name}"
        fspec = filter_spec(model)
        pfilter = getattr(self.agent, "policy_filter", None)
        if fspec is not None and pfilter is None:
            raise PolicyError(f"{where}: {_no_filter_reason(model, self.agent)}")
        try:
            equivalents = getattr(self.agent.settings, "kprobe_equivalents", True)
            plans = plan_policy(model, self.agent.features, equivalents=equivalents)
            c_src = generate(plans, policy_filter=fspec is not None)
            obj_path, cached = compile_policy(c_src, self.cache_dir)
        except PolicyError as e:
            raise PolicyError(f"{source + ': ' if source else ''}policy {name}: {e}") from None
        with self._lock:
            pid = self._next_id
            self._next_id += 1
        lp = LoadedPolicy(pid, name, ns, text, source, plans, cached=cached, filter=fspec)
        lp.obj_hash = os.path.basename(obj_path).split(".", 1)[0]
        obj = None
        try:
            obj = BpfObject.open(obj_path, self.agent.btf)
            sensor = self.agent.sensor
            obj.map("events").reuse_fd(sensor.map("events").fd)
            obj.map("execve_map").reuse_fd(sensor.map("execve_map").fd)
            obj.load()
            obj.map("policy_conf").update(b"\0\0\0\0", struct.pack("<I", pid))
            fill_value_maps(obj, plans)
            if fspec is not None:
                # the pods already running are in the map before the first hook attaches
                n = pfilter.add_policy(pid, fspec, obj.map(MAP_NAME))
                lp.hooks_info.append(f"filter: {fspec.describe()} ({n} cgroups)")
            for p in plans:
                # the return half first: an entry never stashes an event nobody finishes
                if p.ret:
                    obj.attach(f"hook_{p.hook_id}_ret", *p.ret_attach)
                for prog, how, aux in p.pre_attach:  # run after the hook's program
                    obj.attach(prog, how, aux)
                method, target = p.attach
                obj.attach(f"hook_{p.hook_id}", method, target)
                for prog, how, aux in p.aux_attach:  # e.g. the verdict cache's invalidators
                    obj.attach(prog, how, aux)
                where = target or p.section.split("/", 1)[-1]
                if p.ret:
                    where += " + " + (p.ret_attach[1] or p.ret_section)
                if not p.equivalent:
                    lp.hooks_info.append(f"{p.name}: {p.method} {where}")
            for fn, eq in _equivalents(plans).items():
                lp.hooks_info.append(f"{fn}: {eq}")
                log.warning(
                    "policy %s: %s cannot be hooked on this kernel (no kprobes, no fentry); "
                    "attached its %s; --kprobe-equivalents=false refuses it instead",
                    name, fn, eq,
                )  # fmt: skip
        except BpfError as e:
            if fspec is not None:
                pfilter.remove_policy(pid)
            if obj is not None:
                obj.close()  # detaches whatever was attached: never half loaded
            from appliance.policy.load_hints import load_hint

            hint = load_hint(e.log)
            raise PolicyError(
                f"{source + ': ' if source else ''}policy {name}: {e}"
                f"{': ' + hint if hint else ''}\n{_tail(e.log)}"
            ) from None
        lp.obj = obj
        self._pin(lp)
        lp.load_ms = (time.monotonic() - t0) * 1000
        log.info(
            "policy %s loaded in %.0f ms (%s): %s",
            name, lp.load_ms, "cached" if cached else "compiled", "; ".join(lp.hooks_info),
        )  # fmt: skip
        return lp

    def add_yaml(self, text: str, source: str = "") -> str:
        model = parse_policy(text, source)
        key = (getattr(model.metadata, "namespace", "") or "", model.metadata.name)
        with self._lock:
            if key in self.policies:
                raise PolicyError(f"policy {key[1]} already exists")
        lp = self._build(text, source)
        with self._lock:
            if lp.key in self.policies:
                self._unpin(lp)
                lp.obj.close()
                raise PolicyError(f"policy {lp.name} already exists")
            self.policies[lp.key] = lp
            self.by_id[lp.id] = lp
        self._settle_inherited(lp)
        return lp.name

    def replace_yaml(self, text: str, source: str = "") -> str:
        """The new version is attached before the old one is detached: no gap."""
        lp = self._build(text, source)
        with self._lock:
            old = self.policies.get(lp.key)
            self.policies[lp.key] = lp
            self.by_id[lp.id] = lp
        if old is not None:
            self._unload(old)
        self._settle_inherited(lp)
        return lp.name

    def add_file(self, path: str) -> str:
        with open(path) as f:
            return self.add_yaml(f.read(), path)

    def delete(self, name: str, namespace: str = "") -> None:
        with self._lock:
            lp = self.policies.pop((namespace, name), None)
        if lp is None:
            raise PolicyError(f"policy {name} not found")
        self._unload(lp)

    def _release_filter(self, lp: LoadedPolicy) -> None:
        pfilter = getattr(self.agent, "policy_filter", None)
        if lp.filter is not None and pfilter is not None:
            pfilter.remove_policy(lp.id)

    def _unload(self, lp: LoadedPolicy) -> None:
        self._release_filter(lp)
        self._unpin(lp)
        if lp.obj is not None:
            lp.obj.close()
            lp.obj = None
        # keep by_id a little longer: events already in the ring buffer still decode
        threading.Timer(5.0, lambda: self.by_id.pop(lp.id, None)).start()
        log.info("policy %s removed", lp.name)

    def set_enabled(self, name: str, namespace: str, enabled: bool) -> None:
        with self._lock:
            lp = self.policies.get((namespace, name))
        if lp is None:
            raise PolicyError(f"policy {name} not found")
        if enabled == lp.enabled:
            return
        if enabled:
            new = self._build(lp.yaml_text, lp.source)
            with self._lock:
                self.policies[new.key] = new
                self.by_id[new.id] = new
        else:
            self._release_filter(lp)
            self._unpin(lp)
            if lp.obj is not None:
                lp.obj.close()
                lp.obj = None
            lp.enabled = False

    def names(self) -> list[str]:
        return [lp.name for lp in self.policies.values()]

    def close(self) -> None:
        """Detach everything, unless pinned (--release-pinned-bpf=false): enforcement
        then stays in the kernel for the next agent to adopt."""
        with self._lock:
            pols = list(self.policies.values())
            self.policies.clear()
        if self._startup_timer is not None:
            self._startup_timer.cancel()
        if self.release_pins:
            for lp in pols:
                self._unpin(lp)
            self.release_all()
        kept = [lp.name for lp in pols if lp.pinned is not None]
        for lp in pols:
            if lp.obj is not None:
                lp.obj.close()
        if kept and self.pins is not None:
            log.info(
                "left %d policies pinned in %s, enforced while no agent runs: %s",
                len(kept), self.pins.root, ", ".join(kept),
            )  # fmt: skip

    def release_all(self) -> None:
        """Unpin every policy in the BPF directory, ours and any left from before."""
        if self.pins is None:
            return
        names = set()
        with self._lock:
            left, self._inherited = self._inherited, {}
        for ps in list(left.values()) + list(self.pins.found().values()):
            for p in ps:
                names.add(p.policy)
                self.pins.remove(p)
        self.pins.remove_root_if_empty()
        if names:
            log.info("released pinned policies: %s", ", ".join(sorted(names)))

    # -- events --------------------------------------------------------------------------
    def register(self, table: MessageTable) -> None:
        """Policy programs' messages (struct pmsg) come to this manager."""
        table.register(MSG_POLICY, "policy", self.on_message)

    def on_message(self, data: bytes) -> None:
        ev = self.decode(data)
        if ev is not None:
            self.agent.emit(ev)

    def decode(self, data: bytes) -> dict | None:
        from appliance.policy import decode  # loaded with the first policy already

        (_t, _f, _p, _size, pid, tid, ktime, policy_id, hook_id, action, sel, ret,
         *rest) = decode.PMSG.unpack_from(data)  # fmt: skip
        ints, lens, aflags = rest[0:6], rest[6:12], rest[12:18]
        lp = self.by_id.get(policy_id)
        if lp is None or hook_id >= len(lp.plans):
            self.decode_errors += 1
            return None
        plan = lp.plans[hook_id]
        lp.events_by_hook[hook_id] = lp.events_by_hook.get(hook_id, 0) + 1
        agent = self.agent
        entry = agent.cache.get(pid)
        proc = entry.process if entry is not None else {"pid": pid, "tid": tid}
        if proc.get("tid") != tid:
            proc = dict(proc, tid=tid)
        body: dict = {"process": proc}
        parent = agent.cache.parent_of(entry) if entry is not None else None
        if parent is not None:
            body["parent"] = parent.process
        args = decode.decode_args(plan, data, ints, lens, aflags)
        if plan.kind == "kprobe":
            if plan.all_syscalls:
                name = self._syscalls.get(ret, f"syscall_{ret}")
                body["function_name"] = arch_prefix() + "sys_" + name
            else:
                body["function_name"] = plan.function_name
            if args:
                body["args"] = args
            entries = decode.decode_args(plan, data, ints, lens, aflags, of_data=True)
            if entries:
                body["data"] = entries
            if plan.ret and not plan.ret_hidden:
                body["return"] = decode.return_value(plan, data, ret)
            body["action"] = decode.action_name(action)
            body["policy_name"] = lp.name
            body.update(decode.stack_traces(plan, data, lp.obj, pid, self._expose_stacks()))
            key = "process_kprobe"
        elif plan.kind == "lsm":
            body["function_name"] = plan.function_name
            body["policy_name"] = lp.name
            if args:
                body["args"] = args
            body["action"] = decode.action_name(action)
            ima = decode.ima_hash(plan, data, sel)
            body.update(ima)
            if not ima:
                self._warn_no_ima_hash(lp, plan, data, sel)
            key = "process_lsm"
        elif plan.loader:
            body = loader.event_body(body, args, pid)
            if body is None:
                return None  # an anonymous executable mapping: no file to report
            key = "process_loader"
        elif plan.kind == "tracepoint":
            body["subsys"] = plan.subsys
            body["event"] = plan.event
            if args:
                body["args"] = args
            body["policy_name"] = lp.name
            body["action"] = decode.action_name(action)
            key = "process_tracepoint"
        elif plan.kind == "usdt":
            body["path"] = plan.path
            body["provider"] = plan.symbol
            body["name"] = plan.function_name
            body["policy_name"] = lp.name
            if args:
                body["args"] = args
            body["action"] = decode.action_name(action)
            key = "process_usdt"
        else:
            body["path"] = plan.path
            if plan.symbol:
                body["symbol"] = plan.symbol
            else:  # by offset or address
                body["offset"] = str(plan.uprobe_offset)
            if plan.ref_ctr:
                body["ref_ctr_offset"] = str(plan.ref_ctr)
            body["policy_name"] = lp.name
            if args:
                body["args"] = args
            if plan.ret and not plan.ret_hidden:
                body["return"] = decode.return_value(plan, data, ret)
            body["action"] = decode.action_name(action)
            key = "process_uprobe"
        if plan.return_action:
            body["return_action"] = "KPROBE_ACTION_" + plan.return_action.upper()
        if plan.message:
            body["message"] = plan.message
        if plan.tags:
            body["tags"] = plan.tags
        for act in plan.userspace_actions.get(sel, []):
            decode.run_userspace_action(act)
        if parent is not None:
            agent.tracker.add_ancestors(body, parent, key.removeprefix("process_"))
        return {key: body, "node_name": agent.node, "time": agent.clock.ktime_str(ktime)}

    def _warn_no_ima_hash(self, lp: LoadedPolicy, plan, data: bytes, sel: int) -> None:
        """An imaHash event without a hash: say why once per policy and reason."""
        from appliance.policy import decode

        algo = decode.ima_algo(plan, data, sel)
        if algo is not None and algo not in lp.ima_warned:
            lp.ima_warned.add(algo)
            log.warning(
                "policy %s: %s event without ima_hash: %s",
                lp.name, plan.function_name, decode.ima_error(algo),
            )  # fmt: skip

    def _expose_stacks(self) -> bool:
        """--expose-stack-addresses (or --expose-kernel-addresses): real addresses."""
        s = getattr(self.agent, "settings", None)
        return bool(getattr(s, "stack_addresses_exposed", False))

    # -- counters ------------------------------------------------------------------------
    def counters(self, lp: LoadedPolicy) -> dict[str, int]:
        if lp.obj is None:
            return {}
        ncpus = self.agent._ncpus
        m = lp.obj.map("pcounters")
        n = len(lp.plans) * 8
        vals = read_percpu_counters(
            lambda i: m.lookup(i.to_bytes(4, "little"), 8 * ncpus), ncpus, n
        )
        out = dict.fromkeys(PC_NAMES, 0)
        for h in range(len(lp.plans)):
            for k, name in enumerate(PC_NAMES):
                out[name] += vals[h * 8 + k]
        return out

    def lost_counts(self) -> dict[str, int]:
        lost = sum(self.counters(lp).get("lost", 0) for lp in list(self.policies.values()))
        return {"policy_ring_buffer": lost}

    def metrics(self):
        from prometheus_client.core import CounterMetricFamily

        fam = CounterMetricFamily(
            "tetragon_policy_events",
            "Policy events in the kernel, by policy and outcome",
            labels=["policy", "outcome"],
        )
        for lp in list(self.policies.values()):
            for k, v in self.counters(lp).items():
                fam.add_metric([lp.name, k], v)
        return [fam]

    # -- gRPC ----------------------------------------------------------------------------
    def _guard(self, context, fn):
        try:
            return fn()
        except PolicyError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))

    def add(self, request, context):
        self._guard(context, lambda: self.add_yaml(request.yaml))
        return sensors_pb2.AddTracingPolicyResponse()

    def delete_rpc(self, request, context):
        self._guard(context, lambda: self.delete(request.name, request.namespace))
        return sensors_pb2.DeleteTracingPolicyResponse()

    def enable(self, request, context):
        self._guard(context, lambda: self.set_enabled(request.name, request.namespace, True))
        return sensors_pb2.EnableTracingPolicyResponse()

    def disable(self, request, context):
        self._guard(context, lambda: self.set_enabled(request.name, request.namespace, False))
        return sensors_pb2.DisableTracingPolicyResponse()

    def configure(self, request, context):
        if request.HasField("enable"):
            self._guard(
                context, lambda: self.set_enabled(request.name, request.namespace, request.enable)
            )
        return sensors_pb2.ConfigureTracingPolicyResponse()

    def list(self, request, context):
        out = sensors_pb2.ListTracingPoliciesResponse()
        for lp in list(self.policies.values()):
            c = self.counters(lp)
            st = out.policies.add()
            st.id = lp.id
            st.name = lp.name
            st.namespace = lp.namespace
            st.sensors.extend(lp.hooks_info)
            st.enabled = lp.enabled
            st.error = lp.error
            st.state = sensors_pb2.TP_STATE_ENABLED if lp.enabled else sensors_pb2.TP_STATE_DISABLED
            st.mode = sensors_pb2.TP_MODE_ENFORCE
            st.info = (
                f"events={c.get('emitted', 0)} matched={c.get('matched', 0)} "
                f"actions={c.get('actions', 0)} rate_limited={c.get('rate_limited', 0)} "
                f"lost={c.get('lost', 0)} load_ms={lp.load_ms:.0f}"
                f"{' (cached)' if lp.cached else ''}"
            )
            ac = st.stats.action_counters
            ac.post = c.get("emitted", 0)
            ac.signal = c.get("actions", 0) if lp.plans and _has_signal(lp) else 0
            ac.override = c.get("actions", 0) if _has(lp, "Override") else 0
        return out


def _no_filter_reason(model, agent) -> str:
    """Why a namespaced or pod-selected policy cannot load here, and what to do."""
    spec = model.spec
    k8s = getattr(getattr(agent, "metadata", None), "kind", "") == "kubernetes"
    if not k8s:
        for key, value in (
            ("podSelector", spec.pod_selector),
            ("containerSelector", spec.container_selector),
        ):
            if value is not None:
                return f"{key} not allowed in non-k8s environment"
        return (
            "TracingPolicyNamespaced not allowed in non-k8s environment: namespaced "
            "policies act on the pods of their namespace (metadata-source kubernetes)"
        )
    return (
        "the policy filter is disabled: namespaced and pod-selected policies need "
        "--enable-policy-filter"
    )


def _has(lp: LoadedPolicy, action: str) -> bool:
    return any(action in p.actions for p in lp.plans)


def _has_signal(lp: LoadedPolicy) -> bool:
    return _has(lp, "Sigkill") or _has(lp, "Signal")


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


def load_policy_dir(manager: PolicyManager, directory: str) -> list[str]:
    """--tracing-policy-dir at start: every *.yaml / *.yml, subdirectories included."""
    errors = []
    if not os.path.isdir(directory):
        manager.policy_dir_loaded()
        return errors
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if f.startswith(".") or not f.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(root, f)
            try:
                manager.add_file(path)
            except (PolicyError, OSError) as e:
                errors.append(str(e))
                log.error("%s", e)
    manager.policy_dir_loaded()
    return errors
