"""Property-based tests of the policy validator and compiler over random policies and
mutations of the repository's example policies.

For any input: no exception but PolicyError (no traceback reaches a user), nothing runs
longer than 5 s, every refusal names the file and where in the YAML, and C generated
for a policy the engine accepted compiles. `make test` runs a bounded, reproducible
number of examples; `make fuzz` a long random run.
"""

from __future__ import annotations

import re
import shutil

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from appliance.errors import PolicyError
from appliance.policy.compiler import compile_policy
from appliance.policy.emit import generate
from appliance.policy.manager import parse_policy
from appliance.policy.plan import AllFeatures, plan_policy
from appliance.policy.validate import validate_text
from tests.unit.policy_strategies import (
    SEED_DOCS,
    SEED_TEXTS,
    dump,
    examples,
    mutated_policy,
    mutated_text,
    no_hang,
    random_policy,
)

FILE = "fuzz.yaml"
documents = st.one_of(mutated_policy(), random_policy())
texts = st.one_of(mutated_text(), documents.map(dump))

# how a refusal from the compiler says where: a YAML path, or the document as a whole
WHERE = re.compile(
    r"\bspec\b|metadata|not valid YAML|expected one policy document|a policy is a YAML mapping"
    r"|\bkind\b|apiVersion"
    rf"|^{re.escape(FILE)}: \S+: "  # a top-level key of the document (any characters)
)


def test_there_are_seeds():
    assert len(SEED_TEXTS) >= 10 and len(SEED_DOCS) >= 10, (len(SEED_TEXTS), len(SEED_DOCS))


@settings(max_examples=examples(150))
@given(texts)
def test_validator_reports_problems_never_raises(text):
    note(text)
    with no_hang("validate_text"):
        problems = validate_text(text, FILE)
    for p in problems:
        assert p.file == FILE and isinstance(p.message, str) and p.message.strip(), p


def _build(text: str, offline: bool = False):
    """What the agent does with a policy before loading it: parse, plan, generate
    (`offline`: without looking functions up in this kernel's BTF, as validate does)."""
    model = parse_policy(text, FILE)
    plans = plan_policy(model, AllFeatures(), offline=offline)
    return generate(plans)


@settings(max_examples=examples(150))
@given(texts)
def test_compiler_front_end_refuses_with_a_reason_never_raises(text):
    note(text)
    with no_hang("parse, plan and generate"):
        try:
            source = _build(text)
        except PolicyError as e:
            assert WHERE.search(str(e)), f"refusal without a YAML path: {e}"
            return
    assert "SEC(" in source


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
@settings(max_examples=examples(12))
@given(documents)
def test_generated_c_compiles(tmp_path_factory, doc):
    text = dump(doc)
    note(text)
    with no_hang("parse, plan and generate"):
        try:
            source = _build(text)
        except PolicyError:
            return
    cache = tmp_path_factory.mktemp("objs")
    try:
        obj, _ = compile_policy(source, str(cache))
    except PolicyError as e:
        pytest.fail(f"accepted policy whose C does not compile:\n{text}\n{e}")
    assert obj.endswith(".bpf.o")


@settings(max_examples=examples(60))
@given(documents)
def test_a_policy_the_validator_accepts_is_accepted_by_the_compiler(doc):
    """`tetra tracingpolicy validate` and the agent agree: no policy passes the one and
    fails the other's planning."""
    text = dump(doc)
    note(text)
    with no_hang("validate and build"):
        if any(p.is_error for p in validate_text(text, FILE)):
            return
        try:
            _build(text, offline=True)
        except PolicyError as e:
            pytest.fail(f"validated, then refused by the compiler: {e}")
