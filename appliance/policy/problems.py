"""Findings about a policy file: ``Problem``, its severities, the YAML path it names
(``spec.kprobes[0].args[1].type``) and the reporter that collects problems for one
document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

Severity = Literal["error", "warning", "unsupported"]
PathT = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One finding about a policy file.

    ``path`` is a YAML path such as ``spec.kprobes[0].args[1].type`` (empty for
    file-level problems). ``severity`` is ``error`` (the policy is refused),
    ``unsupported`` (valid, but this engine cannot load it yet) or ``warning``
    (accepted; worth a look). ``document`` is set when the file holds several
    YAML documents (0-based).
    """

    file: str
    path: str
    message: str
    severity: Severity = "error"
    line: int | None = None
    document: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity != "warning"

    def __str__(self) -> str:
        where = self.file
        if self.document is not None:
            where += f" (document {self.document + 1})"
        text = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{where}: {self.path}: {text}" if self.path else f"{where}: {text}"


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def format_path(path: Iterable[str | int]) -> str:
    """Render ('spec', 'kprobes', 0, 'call') as ``spec.kprobes[0].call``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def parse_path(text: str) -> PathT:
    """The inverse of ``format_path``: ``spec.kprobes[0]`` -> ('spec', 'kprobes', 0)."""
    out: list[str | int] = []
    for m in re.finditer(r'([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["([^"]*)"\]', text):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(int(m.group(2)))
        else:
            out.append(m.group(3))
    return tuple(out)


class LineLookup(Protocol):
    """Where a YAML path starts in its file (``source.LineIndex``)."""

    def line(self, path: PathT) -> int | None: ...


class Reporter:
    """Collects the problems of one document, each with its line when known."""

    def __init__(self, file: str, lines: LineLookup | None, document: int | None):
        self.file = file
        self.lines = lines
        self.document = document
        self.problems: list[Problem] = []

    def add(self, path: PathT, message: str, severity: Severity = "error") -> None:
        line = self.lines.line(path) if self.lines else None
        self.problems.append(
            Problem(self.file, format_path(path), message, severity, line, self.document)
        )

    def error(self, path: PathT, message: str) -> None:
        self.add(path, message, "error")

    def warn(self, path: PathT, message: str) -> None:
        self.add(path, message, "warning")
