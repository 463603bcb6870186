"""YAML source of policy files: reading, line numbers of every key, duplicate keys
refused, the split into documents and their schema check.

PyYAML keeps the last of duplicate keys silently; ``UniqueKeyLoader`` refuses them,
and ``LineIndex`` lets every problem name its line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from appliance.policy.model import (
    API_VERSION,
    POLICY_CLASSES,
    POLICY_KINDS,
    SourceInfo,
    TracingPolicy,
    describe_value,
)
from appliance.policy.problems import PathT, Problem, Reporter
from appliance.policy.schema_errors import loc_path, schema_message


class LineIndex:
    """Line (1-based) of every key and list item of a composed YAML document."""

    def __init__(self, node: yaml.Node | None):
        self._lines: dict[PathT, int] = {}
        if node is not None:
            self._lines[()] = node.start_mark.line + 1
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: PathT) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                k = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
                self._lines[path + (k,)] = key.start_mark.line + 1
                self._walk(value, path + (k,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._lines[path + (i,)] = item.start_mark.line + 1
                self._walk(item, path + (i,))

    def line(self, path: PathT) -> int | None:
        for n in range(len(path), -1, -1):
            found = self._lines.get(path[:n])
            if found is not None:
                return found
        return None


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate mapping keys."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unhashable key",
                    key_node.start_mark,
                ) from None
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first defined at line {first})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


@dataclass
class Document:
    index: int
    data: Any
    lines: LineIndex
    policy: TracingPolicy | None = None
    problems: list[Problem] = field(default_factory=list)


def read_source(source: str | os.PathLike[str], file: str | None) -> tuple[str, str]:
    """Return (text, file name) for a path or a YAML text."""
    if isinstance(source, os.PathLike):
        path = Path(source)
        return path.read_text(encoding="utf-8"), file or str(path)
    text = str(source)
    looks_like_yaml = "\n" in text or text.lstrip().startswith(("---", "{", "apiVersion"))
    if not looks_like_yaml and (os.path.exists(text) or text.endswith((".yaml", ".yml"))):
        return Path(text).read_text(encoding="utf-8"), file or text
    return text, file or "<text>"


_SHELL_VAR = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Z_][A-Z0-9_]*\b")
_GO_TEMPLATE = re.compile(r"\{\{[^}]*\}\}")


def template_problems(text: str, file: str) -> list[Problem]:
    """A policy file that is still a template: ``${VAR}`` (shell) or ``{{ .X }}`` (Go)
    placeholders outside comments. Each is refused with how to render the file."""
    problems: list[Problem] = []
    base = os.path.basename(file) or "FILE"
    for n, line in enumerate(text.splitlines(), 1):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        shell = [m for m in _SHELL_VAR.findall(code) if m.startswith("${")]
        if shell:
            msg = (
                f"{', '.join(dict.fromkeys(shell))} is not substituted: this policy file is a "
                f"template; set the variables and substitute them first, e.g. "
                f"`envsubst < {base} > policy.yaml`"
            )
            problems.append(Problem(file, "", msg, line=n))
        go = _GO_TEMPLATE.findall(code)
        if go:
            msg = (
                f"{', '.join(dict.fromkeys(go))} is an unrendered Go template placeholder: "
                "render the policy template (fill in its values) before loading"
            )
            problems.append(Problem(file, "", msg, line=n))
    return problems


def parse_documents(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """Split a YAML stream into documents and validate each against the schema."""
    docs: list[Document] = []
    problems: list[Problem] = template_problems(text, file)
    if problems:
        return docs, problems  # a template: nothing else is worth reporting before rendering
    loader = UniqueKeyLoader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node)
            if data is None:
                continue
            docs.append(Document(index, data, LineIndex(node)))
            index += 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        hint = ""
        if mark is not None:
            src_lines = text.splitlines()
            if mark.line < len(src_lines) and "{{" in src_lines[mark.line]:
                hint = " (unrendered template placeholder?)"
        problems.append(Problem(file, "", f"invalid YAML{where}: {reason}{hint}", line=line))
    finally:
        loader.dispose()

    if not docs and not problems:
        problems.append(Problem(file, "", "no policy found (the file has no YAML document)"))

    several = len(docs) > 1
    has_policy_group = any(_policy_group(doc.data) for doc in docs)
    for doc in docs:
        docno = doc.index if several else None
        rep = Reporter(file, doc.lines, docno)
        data = doc.data
        if not isinstance(data, dict):
            rep.error((), f"a policy document must be a mapping, got {describe_value(data)}")
            doc.problems = rep.problems
            continue
        if has_policy_group and _foreign_object(data):
            # A manifest for kubectl apply: its other objects (a Pod, a Namespace)
            # are the API server's business, the policies beside them are ours.
            rep.warn(
                ("apiVersion",),
                f"not a policy (kind {data.get('kind')} of {data.get('apiVersion')}): "
                "document skipped",
            )
            doc.problems = rep.problems
            continue
        kind = data.get("kind")
        cls = POLICY_CLASSES.get(kind) if isinstance(kind, str) else None
        if kind is None:
            rep.error(
                ("kind",), f"required field missing (expected one of: {', '.join(POLICY_KINDS)})"
            )
        elif cls is None:
            rep.error(
                ("kind",),
                f"unknown kind {describe_value(kind)} (expected one of: {', '.join(POLICY_KINDS)})",
            )
        if cls is not None and "apiVersion" not in data:
            # Tetragon loads a policy file without one (its raw_syscalls.yaml example);
            # kubectl apply would not
            rep.warn(
                ("kind",),
                f"apiVersion missing: read as {API_VERSION} (kubectl apply needs it written)",
            )
            data = {**data, "apiVersion": API_VERSION}
        valid_kind = cls is not None
        if cls is None:
            cls = TracingPolicy
            data = {**data, "kind": "TracingPolicy"}
        try:
            policy = cls.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                rep.error(loc_path(err["loc"]), schema_message(err, cls))
        else:
            policy._source = SourceInfo(file, doc.index, len(docs))
            doc.policy = policy
            if not valid_kind:
                # Checked for the remaining rules, but never returned as loaded.
                doc.policy._source = None
        doc.problems = rep.problems
    return docs, problems


def _policy_group(data: object) -> bool:
    """Whether a document claims Tetragon's API group (cilium.io)."""
    if not isinstance(data, dict):
        return False
    api = data.get("apiVersion")
    return isinstance(api, str) and api.split("/", 1)[0] == "cilium.io"


def _foreign_object(data: dict) -> bool:
    """A Kubernetes object of another API group: both apiVersion and kind set, not cilium.io."""
    api, kind = data.get("apiVersion"), data.get("kind")
    return isinstance(api, str) and isinstance(kind, str) and not _policy_group(data)


def doc_number(doc: Document, docs: list[Document]) -> int | None:
    return doc.index if len(docs) > 1 else None


def check_documents(docs: list[Document], file: str) -> list[Problem]:
    """Rules across the documents of one file: names must be unique."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str | None], int] = {}
    for doc in docs:
        policy = doc.policy
        if policy is None:
            continue
        key = (policy.name, policy.namespace)
        if key in seen:
            rep = Reporter(file, doc.lines, doc_number(doc, docs))
            rep.error(
                ("metadata", "name"),
                f"policy name '{policy.name}' is already used by document {seen[key] + 1}",
            )
            problems.extend(rep.problems)
        else:
            seen[key] = doc.index
    return problems
