"""A policy file that is still a template is refused with how to render it."""

from __future__ import annotations

import textwrap

from appliance.policy.validate import validate_text

TEMPLATE = textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "egress"   # ${NOT_A_PROBLEM} in a comment
    spec:
      kprobes:
      - call: "tcp_connect"
        syscall: false
        args:
        - index: 0
          type: "sock"
        selectors:
        - matchArgs:
          - index: 0
            operator: "NotDAddr"
            values:
            - 127.0.0.1
            - ${PODCIDR}
          matchPIDs:
          - operator: In
            values:
            - {{.Pid}}
    """)


def test_template_variables_refused_with_envsubst_hint():
    problems = [p for p in validate_text(TEMPLATE, "egress.yaml") if p.severity == "error"]
    msgs = [(p.line, p.message) for p in problems]
    assert len(msgs) == 2, msgs
    assert msgs[0][0] == 19 and "${PODCIDR} is not substituted" in msgs[0][1]
    assert "envsubst < egress.yaml" in msgs[0][1]
    assert msgs[1][0] == 23 and "{{.Pid}} is an unrendered Go template" in msgs[1][1]


def test_substituted_file_accepted():
    text = TEMPLATE.replace("${PODCIDR}", "10.0.0.0/8").replace("{{.Pid}}", "1")
    assert not [p for p in validate_text(text, "egress.yaml") if p.severity == "error"]
