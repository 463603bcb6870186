"""Hypothesis strategies for TracingPolicy documents: random ones built from the
policy vocabulary, and mutations of the repository's own example policies.

Seeds are the policies in tests/fixtures and every YAML policy written as a string
in the test modules (found by reading their syntax trees), so a new example in a
test becomes a fuzzing seed too.
"""

from __future__ import annotations

import ast
import copy
import os
import signal
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from appliance.policy import model

ROOT = Path(__file__).resolve().parents[2]
HANG_SECONDS = 5

# a short run in `make test`, a long one behind `make fuzz` (FUZZ_PROFILE=long)
settings.register_profile(
    "quick",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "3000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("FUZZ_PROFILE", "quick")
settings.load_profile(PROFILE)


def examples(quick: int) -> int:
    """Examples for one test: `quick` in make test, the profile's count otherwise."""
    return quick if PROFILE == "quick" else settings.get_profile(PROFILE).max_examples


class Hang(Exception):
    pass


@contextmanager
def no_hang(what: str, seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Fail (instead of spinning forever) when the body uses more than `seconds` of CPU
    time: a profiling timer, so a loaded machine does not make a slow example a hang."""
    fired = []

    def fire(_sig, _frame):
        fired.append(True)
        raise Hang(f"{what} ran longer than {seconds} s")

    old = signal.signal(signal.SIGPROF, fire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
    if fired:  # raised where it was swallowed (a gc callback, say)
        raise Hang(f"{what} ran longer than {seconds} s")


# -- seeds ------------------------------------------------------------------------------


def _policy_strings(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_text())
    except (SyntaxError, UnicodeDecodeError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "kind: TracingPolicy" in node.value and "spec:" in node.value:
                yield textwrap.dedent(node.value).strip("\n") + "\n"


def seed_texts() -> list[str]:
    """Example policies of the repository, as text (some are format templates)."""
    out = [p.read_text() for p in sorted((ROOT / "tests" / "fixtures").glob("*.yaml"))]
    for py in sorted((ROOT / "tests").rglob("test_*.py")):
        out.extend(_policy_strings(py))
    return list(dict.fromkeys(out))


def seed_documents() -> list[dict]:
    """The seeds that parse as one YAML mapping (templates filled with plain names)."""
    docs = []
    for text in seed_texts():
        text = text.replace("{name}", "seed").replace("{call}", "sys_lseek")
        try:
            loaded = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError:
            continue
        docs.extend(d for d in loaded if isinstance(d, dict) and "spec" in d)
    return docs


SEED_TEXTS = seed_texts()
SEED_DOCS = seed_documents()

# -- vocabulary -------------------------------------------------------------------------

KEYS = [
    "apiVersion", "kind", "metadata", "name", "namespace", "spec", "kprobes", "tracepoints",
    "lsmhooks", "fentries", "uprobes", "lists", "options", "podSelector", "call", "syscall",
    "return", "args", "returnArg", "index", "type", "sizeArgIndex", "returnCopy", "maxData",
    "label", "resolve", "selectors", "matchArgs", "matchReturnArgs", "matchPIDs",
    "matchBinaries", "matchParentBinaries", "matchNamespaces", "matchCapabilities",
    "matchActions", "matchReturnActions", "operator", "values", "followForks",
    "isNamespacePID", "action", "argError", "argSig", "argFd", "argName", "rateLimit",
    "rateLimitScope", "subsystem", "event", "raw", "message", "tags", "matchLabels",
    "matchExpressions", "key", "ignore", "callNotFound", "followChildren", "hook",
]  # fmt: skip
CALLS = ["sys_lseek", "sys_openat", "security_file_permission", "fd_install", "do_unlinkat",
         "tcp_connect", "security_bprm_check", "list:lst", "", "sys_nonexistent"]  # fmt: skip
INT_VALUES = ["-1", "0", "1", "4294967296", "-9223372036854775809", "0x10", "1:5", "a"]
STR_VALUES = ["/etc/passwd", "/usr/bin/", "", "x" * 600, "\u00e9", "/tmp/*", "\\0", "%s"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.sampled_from(INT_VALUES + STR_VALUES + CALLS),
    st.sampled_from(
        model.ARG_TYPES + model.ARG_OPERATORS + model.ACTION_NAMES + model.NAMESPACE_NAMES
    ),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)

# -- random policies --------------------------------------------------------------------


@st.composite
def arg(draw, index: int) -> dict:
    a: dict[str, Any] = {"index": index, "type": draw(st.sampled_from(model.ARG_TYPES))}
    if draw(st.booleans()):
        a["maxData"] = draw(st.booleans())
    if draw(st.integers(0, 5)) == 0:
        a["label"] = draw(st.text(max_size=10))
    return a


@st.composite
def selector(draw, nargs: int) -> dict:
    sel: dict[str, Any] = {}
    if nargs and draw(st.booleans()):
        sel["matchArgs"] = [
            {
                "index": draw(st.integers(-1, nargs)),
                "operator": draw(st.sampled_from(model.ARG_OPERATORS)),
                "values": draw(st.lists(st.sampled_from(INT_VALUES + STR_VALUES), max_size=3)),
            }
            for _ in range(draw(st.integers(1, 2)))
        ]
    if draw(st.booleans()):
        sel["matchBinaries"] = [
            {
                "operator": draw(st.sampled_from(model.BINARY_OPERATORS)),
                "values": draw(st.lists(st.sampled_from(STR_VALUES), min_size=1, max_size=3)),
            }
        ]
    if draw(st.integers(0, 3)) == 0:
        sel["matchPIDs"] = [
            {
                "operator": draw(st.sampled_from(model.SET_OPERATORS)),
                "values": draw(st.lists(st.integers(-1, 2**33), max_size=3)),
                "followForks": draw(st.booleans()),
            }
        ]
    if draw(st.integers(0, 3)) == 0:
        sel["matchNamespaces"] = [
            {
                "namespace": draw(st.sampled_from(model.NAMESPACE_NAMES)),
                "operator": draw(st.sampled_from(model.SET_OPERATORS)),
                "values": draw(st.lists(st.sampled_from(["host_ns", "4026531836", "x"]))),
            }
        ]
    if draw(st.booleans()):
        act: dict[str, Any] = {"action": draw(st.sampled_from(model.ACTION_NAMES))}
        if draw(st.booleans()):
            act["argError"] = draw(st.integers(-200, 10))
        if draw(st.integers(0, 3)) == 0:
            act["argSig"] = draw(st.integers(0, 70))
        if draw(st.integers(0, 3)) == 0:
            act["rateLimit"] = draw(st.sampled_from(["1m", "5s", "0", "x", "10"]))
        sel["matchActions"] = [act]
    return sel


@st.composite
def random_policy(draw) -> dict:
    nargs = draw(st.integers(0, 3))
    hook: dict[str, Any] = {
        "call": draw(st.sampled_from(CALLS)),
        "syscall": draw(st.booleans()),
        "args": [draw(arg(i)) for i in range(nargs)],
    }
    if draw(st.integers(0, 3)) == 0:
        hook["return"] = True
        hook["returnArg"] = {"index": 0, "type": draw(st.sampled_from(model.ARG_TYPES))}
    hook["selectors"] = [draw(selector(nargs)) for _ in range(draw(st.integers(0, 2)))]
    section = draw(st.sampled_from(["kprobes", "kprobes", "fentries", "lsmhooks"]))
    if section == "lsmhooks":
        hook = {"hook": "file_open", **{k: v for k, v in hook.items() if k != "call"}}
        hook.pop("syscall", None)
    doc: dict[str, Any] = {
        "apiVersion": "cilium.io/v1alpha1",
        "kind": draw(st.sampled_from(model.POLICY_KINDS)),
        "metadata": {"name": draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))},
        "spec": {section: [hook]},
    }
    if doc["kind"] == "TracingPolicyNamespaced":
        doc["metadata"]["namespace"] = "default"
    if draw(st.integers(0, 4)) == 0:
        doc["spec"]["lists"] = [{"name": "lst", "type": "syscalls", "values": ["sys_dup"]}]
    return doc


# -- mutations --------------------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated_policy(draw) -> dict:
    """A seed with one to four edits: a value replaced, a key dropped, an item
    duplicated, a known key added where it does not belong."""
    doc = copy.deepcopy(draw(st.sampled_from(SEED_DOCS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "drop", "duplicate", "add"]))
        if not path:
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(values)
        elif op == "drop":
            del parent[key]
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif op == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(KEYS))] = draw(values)
    return doc


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


JUNK = st.sampled_from(
    ["\t", ":", "'", '"', "- ", "\n", "{", "&a", "*a", "!!python/object ", "\x00"]
) | st.text(max_size=3)


@st.composite
def mutated_text(draw) -> str:
    """A seed's text with characters inserted, deleted or replaced (YAML syntax errors,
    tabs, stray quotes, truncation)."""
    text = draw(st.sampled_from(SEED_TEXTS))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "truncate"]))
        if op == "insert":
            text = text[:i] + draw(JUNK) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 8)) :]
        else:
            text = text[:i]
    return text
