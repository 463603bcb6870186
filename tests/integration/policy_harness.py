"""Load a TracingPolicy into a running agent, trigger it and collect its events: the
steps every policy test and the policy benchmark share, written once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence

import orjson
import pytest

from .conftest import ROOT, RunningAgent, _clean_env, start_policy_agent

PY = os.path.realpath(sys.executable)


def tetra(agent: RunningAgent, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The real ``tetra`` client against ``agent``; ``check`` asserts it succeeded."""
    cmd = [sys.executable, "-m", "appliance.cli.tetra", "--server-address", agent.address, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_clean_env())
    if check:
        assert out.returncode == 0, out.stderr
    return out


class Policy:
    """A policy added with ``tetra tracingpolicy add`` on entry, deleted on exit."""

    def __init__(self, agent: RunningAgent, tmp_path, text: str):
        self.agent = agent
        self.name = [ln.split(":", 1)[1].strip().strip('"') for ln in text.splitlines()
                     if ln.strip().startswith("name:")][0]  # fmt: skip
        self.path = tmp_path / f"{self.name}.yaml"
        self.path.write_text(textwrap.dedent(text))

    def __enter__(self):
        tetra(self.agent, "tracingpolicy", "add", str(self.path))
        return self

    def __exit__(self, *exc):
        tetra(self.agent, "tracingpolicy", "delete", self.name, check=False)

    def counters(self) -> dict[str, int]:
        out = tetra(self.agent, "tracingpolicy", "list", "-o", "json").stdout
        for p in orjson.loads(out).get("policies", []):
            if p["name"] == self.name:
                return {k: int(v) for k, v in (kv.split("=") for kv in p["info"].split()
                        if "=" in kv and kv.split("=")[1].isdigit())}  # fmt: skip
        raise AssertionError(f"{self.name} not listed")


def kprobe_events(agent: RunningAgent, policy: str, kind: str = "process_kprobe") -> list[dict]:
    """Every ``kind`` event of ``policy`` exported so far."""
    return [e[kind] for e in agent.events() if e.get(kind, {}).get("policy_name") == policy]


def wait_policy_event(
    agent: RunningAgent,
    policy: str,
    where: Callable[[dict], bool] | None = None,
    *,
    kind: str = "process_kprobe",
    timeout: float = 10,
) -> dict:
    """The first ``kind`` event of ``policy`` (its body) that ``where`` accepts, waiting
    up to ``timeout``: other processes of the host may match the same policy."""

    def pred(e: dict) -> bool:
        body = e.get(kind, {})
        return body.get("policy_name") == policy and (where is None or where(body))

    try:
        return agent.wait_for(pred, timeout)[kind]
    except AssertionError as e:  # what the agent said about the policy tells why
        log = agent.log.read_text(errors="replace")
        listed = tetra(agent, "tracingpolicy", "list", check=False).stdout
        raise AssertionError(
            f"{e}: no {kind} event of policy {policy}\n--- tracingpolicy list ---\n"
            f"{listed}\n--- agent log (end) ---\n{log[-4000:]}"
        ) from None


def py(code: str, *, exe: str = PY) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter: the trigger most policies watch for."""
    return subprocess.run([exe, "-c", code], capture_output=True, text=True)


def policy_yaml(
    name: str,
    call: str,
    args: Sequence[str | tuple] = (),
    selectors: str = "",
    *,
    hook: str = "kprobes",
    syscall: bool | None = True,
    call_extra: str = "",
    spec_extra: str = "",
) -> str:
    """A one-hook TracingPolicy (``call`` is "subsystem/event" for tracepoints): ``args``
    are types (indexed in order) or (index, type[, {more keys}]);
    ``selectors`` is the YAML list under ``selectors:``; ``call_extra`` more keys of the
    hook, ``spec_extra`` more keys of the spec (both YAML, dedented here)."""
    lines = [
        "apiVersion: cilium.io/v1alpha1",
        "kind: TracingPolicy",
        "metadata:",
        f'  name: "{name}"',
        "spec:",
        f"  {hook}:",
    ]
    if hook == "tracepoints":
        subsystem, event = call.split("/", 1)
        lines += [f'  - subsystem: "{subsystem}"', f'    event: "{event}"']
    else:
        lines.append(f'  - {"hook" if hook == "lsmhooks" else "call"}: "{call}"')
    if syscall is not None:
        lines.append(f"    syscall: {'true' if syscall else 'false'}")
    lines += _block(call_extra, "    ")
    if args:
        lines.append("    args:")
        for i, a in enumerate(args):
            index, type_, *more = a if isinstance(a, tuple) else (i, a)
            lines += [f"    - index: {index}", f'      type: "{type_}"']
            lines += [f'      {k}: "{v}"' for extra in more for k, v in extra.items()]
    if selectors:
        lines.append("    selectors:")
        lines += _block(selectors, "    ")
    lines += _block(spec_extra, "  ")
    return "\n".join(lines) + "\n"


def arg_selector(index: int, operator: str, *values: object, then: str = "") -> str:
    """One selector matching argument ``index`` with ``operator`` on ``values``; ``then``
    holds more keys of the same selector (matchActions, matchBinaries, ...)."""
    lines = ["- matchArgs:", f"  - index: {index}", f'    operator: "{operator}"', "    values:"]
    lines += [f'    - "{v}"' for v in values]
    lines += _block(then, "  ")
    return "\n".join(lines) + "\n"


def _block(text: str, prefix: str) -> list[str]:
    """``text`` dedented and indented by ``prefix``, as lines (none when empty)."""
    text = textwrap.dedent(text).strip("\n")
    return textwrap.indent(text, prefix).splitlines() if text else []


def agent_fixture():
    """A module-scoped ``agent`` fixture: one agent with a policy cache for the module's
    tests (``agent = agent_fixture()`` at module level)."""

    @pytest.fixture(scope="module", name="agent")
    def _agent(tmp_path_factory) -> Iterator[RunningAgent]:
        a = start_policy_agent(tmp_path_factory)
        yield a
        a.stop()

    return _agent
