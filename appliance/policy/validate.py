"""Offline validation of TracingPolicy files.

Three layers, each reporting ``Problem``s that carry the file, the YAML path
(``spec.kprobes[0].selectors[1].matchArgs[0].operator``), the line when known
and a reason:

1. YAML: syntax errors and duplicate keys (PyYAML would silently keep the last
   one).
2. Schema: the pydantic model of ``appliance.policy.model``; its errors are
   mapped back to YAML key names and list indexes.
3. Semantics: rules that span fields (an index refers to a declared argument,
   an operator suits the argument type, values parse for the operator, an
   action has the fields it needs, ``list:NAME`` exists...).

``unsupported()`` adds problems for features this engine does not implement
yet (the table is ``appliance.policy.support``).

Entry points: ``load_policies``, ``parse_policies``, ``validate_policy``,
``validate_text``, ``validate_file``, ``unsupported`` and ``validate_main``
(the body of ``tetra tracingpolicy validate``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from appliance.errors import PolicyError, PolicyLoadError
from appliance.policy import support
from appliance.policy.checker import check_policy
from appliance.policy.emit import generate
from appliance.policy.model import TracingPolicy
from appliance.policy.plan import AllFeatures, plan_policy
from appliance.policy.problems import (
    PathT,
    Problem,
    Severity,
    format_path,
    parse_path,
)
from appliance.policy.source import check_documents, doc_number, parse_documents, read_source
from appliance.policy.support import FEATURE_DESCRIPTIONS, features

__all__ = [
    "FEATURE_DESCRIPTIONS",
    "PathT",
    "PolicyLoadError",
    "Problem",
    "Severity",
    "engine_problems",
    "features",
    "format_path",
    "load_policies",
    "parse_policies",
    "unsupported",
    "validate_file",
    "validate_main",
    "validate_policy",
    "validate_text",
]


def parse_policies(
    source: str | os.PathLike[str], *, file: str | None = None, semantic: bool = True
) -> tuple[list[TracingPolicy], list[Problem]]:
    """Parse every policy of a file or YAML text without raising.

    Returns the policies free of errors and every problem found (warnings
    included). ``semantic=False`` stops after the schema checks.
    """
    try:
        text, name = read_source(source, file)
    except OSError as exc:
        name = file or os.fspath(source)
        return [], [Problem(name, "", f"cannot read: {exc.strerror or exc}")]
    docs, problems = parse_documents(text, name)
    policies: list[TracingPolicy] = []
    for doc in docs:
        problems.extend(doc.problems)
        if doc.policy is None:
            continue
        doc_problems: list[Problem] = []
        if semantic:
            doc_problems = check_policy(doc.policy, name, doc.lines, doc_number(doc, docs))
            problems.extend(doc_problems)
        if doc.policy.source is not None and not any(
            p.is_error for p in doc.problems + doc_problems
        ):
            policies.append(doc.policy)
    problems.extend(check_documents(docs, name))
    return policies, problems


def load_policies(
    path_or_text: str | os.PathLike[str], *, semantic: bool = True
) -> list[TracingPolicy]:
    """Load the policies of a file (or of a YAML text with one or more documents).

    Raises PolicyLoadError listing every problem when any document is invalid
    (warnings do not count). Policies keep their origin in ``policy.source``.
    """
    policies, problems = parse_policies(path_or_text, semantic=semantic)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise PolicyLoadError(errors)
    return policies


def validate_policy(
    policy: TracingPolicy, *, file: str | None = None, check_support: bool = False
) -> list[Problem]:
    """Semantic problems of an already built policy (and, optionally, unsupported features)."""
    src = policy.source
    name = file or (src.file if src else "<policy>")
    document = src.document if src and src.documents_in_file > 1 else None
    problems = check_policy(policy, name, None, document)
    if check_support:
        problems.extend(unsupported(policy, file=name))
    return problems


def engine_problems(policy: TracingPolicy, name: str, document) -> list[Problem]:
    """What the compiler refuses, on any kernel (it plans against one with every feature)."""
    try:
        # the C generator refuses some values too (syscall ABIs, ranges): run it, no clang
        generate(plan_policy(policy, AllFeatures(), offline=True))
    except PolicyError as e:
        msg = str(e)
        path, sep, reason = msg.partition(": ")
        if not sep or not path.startswith("spec"):
            path, reason = "spec", msg
        return [Problem(name, path, reason, "unsupported", document=document)]
    return []


def unsupported(policy: TracingPolicy, *, file: str | None = None) -> list[Problem]:
    """Problems for the features of ``policy`` listed in ``UNSUPPORTED``, and what the
    compiler cannot turn into BPF."""
    src = policy.source
    name = file or (src.file if src else "<policy>")
    document = src.document if src and src.documents_in_file > 1 else None
    problems = []
    for feature, paths in features(policy).items():
        if feature not in support.UNSUPPORTED:
            continue
        desc = FEATURE_DESCRIPTIONS.get(feature, feature)
        for path in paths:
            problems.append(
                Problem(
                    name,
                    format_path(path),
                    f"not supported by this engine yet: {desc}",
                    "unsupported",
                    document=document,
                )
            )
    if not problems:
        problems = engine_problems(policy, name, document)
    return problems


def validate_text(text: str, file: str = "<text>", *, check_support: bool = True) -> list[Problem]:
    """Every problem of a YAML text (one or more policy documents)."""
    docs, problems = parse_documents(text, file)
    for doc in docs:
        problems.extend(doc.problems)
        if doc.policy is None:
            continue
        docno = doc_number(doc, docs)
        problems.extend(check_policy(doc.policy, file, doc.lines, docno))
        if check_support:
            for prob in unsupported(doc.policy, file=file):
                line = doc.lines.line(parse_path(prob.path))
                problems.append(
                    Problem(prob.file, prob.path, prob.message, prob.severity, line, docno)
                )
    problems.extend(check_documents(docs, file))
    return problems


def validate_file(path: str | os.PathLike[str], *, check_support: bool = True) -> list[Problem]:
    """Every problem of a policy file: YAML, schema, semantics and (by default)
    features this engine does not support yet."""
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return [Problem(name, "", f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return [Problem(name, "", f"cannot read: not UTF-8 text ({exc.reason})")]
    return validate_text(text, name, check_support=check_support)


def _expand(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(
                os.path.join(root, f)
                for root, _, files in os.walk(p)
                for f in files
                if f.endswith((".yaml", ".yml"))
            )
            out.extend(found)
        else:
            out.append(p)
    return out


def _policy_names(path: str) -> list[str]:
    policies, _ = parse_policies(Path(path), semantic=False)
    return [p.name for p in policies]


def validate_main(paths: list[str]) -> int:
    """``tetra tracingpolicy validate FILE...``: print the result of each file.

    Prints ``FILE: ok (N policies: name, ...)`` for a valid file and one line
    per problem otherwise (warnings are printed but do not fail). A directory
    stands for the YAML files under it. Returns 1 if any file has an error or
    uses a feature this engine does not support yet, else 0.
    """
    status = 0
    files = _expand(paths)
    if not files:
        print("no policy file given", file=sys.stderr)
        return 1
    for path in files:
        problems = validate_file(path)
        for problem in problems:
            print(problem)
        if any(p.is_error for p in problems):
            status = 1
            continue
        names = _policy_names(path)
        noun = "policy" if len(names) == 1 else "policies"
        print(f"{path}: ok ({len(names)} {noun}: {', '.join(names)})")
    return status


if __name__ == "__main__":
    sys.exit(validate_main(sys.argv[1:]))
