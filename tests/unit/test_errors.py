"""The exceptions module: its docstring's hierarchy is the real one, and one
``NoPolicyEngine`` serves both sides of the API."""

from __future__ import annotations

import inspect
import re
import textwrap

from appliance import errors


def _documented() -> dict[str, set[str]]:
    """Class name -> parent names, read from the tree drawn in the module docstring."""
    tree = textwrap.dedent(errors.__doc__.split("::", 1)[1].strip("\n").split("\n\n", 1)[0])
    parents: dict[int, str] = {}
    found: dict[str, set[str]] = {}
    for line in tree.splitlines():
        m = re.match(r"^((?:[│ ]   )*)(?:[├└]── )?(\w+)", line)
        depth = len(m.group(1)) // 4 + 1 if "──" in line else 0
        parents[depth] = m.group(2)
        if depth:
            found.setdefault(m.group(2), set()).add(parents[depth - 1])
    return found


def test_docstring_tree_matches_the_classes():
    classes = {
        n: c
        for n, c in vars(errors).items()
        if inspect.isclass(c) and issubclass(c, errors.ApplianceError)
    }
    documented = _documented()
    assert set(documented) == set(classes) - {"ApplianceError"}
    for name, parents in documented.items():
        own = {b.__name__ for b in classes[name].__bases__}
        assert parents <= own, (name, parents, own)


def test_no_policy_engine_is_one_class_for_agent_and_controller():
    e = errors.NoPolicyEngine()
    assert isinstance(e, errors.LiveError)
    assert isinstance(e, errors.AgentRefused)
    assert e.code == "UNIMPLEMENTED"
    assert "no policy engine" in str(e)
    assert str(errors.NoPolicyEngine("not implemented")) == "not implemented"
