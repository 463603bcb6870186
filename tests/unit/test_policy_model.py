"""Tests of the TracingPolicy model, its loader and the offline validator."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from appliance.policy import support
from appliance.policy.model import (
    ActionSelector,
    ArgSelector,
    KProbeSpec,
    TracepointSpec,
    TracingPolicy,
    TracingPolicyNamespaced,
    parse_rate_limit,
    resolve_arg_selector,
)
from appliance.policy.validate import (
    PolicyLoadError,
    Problem,
    features,
    load_policies,
    parse_policies,
    unsupported,
    validate_file,
    validate_main,
    validate_text,
)

EXAMPLES = Path("/tmp/tetragon-examples")


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


def only_error(problems: list[Problem]) -> Problem:
    errs = errors(problems)
    assert len(errs) == 1, "\n".join(map(str, problems))
    return errs[0]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(y(text))
    return path


# ---------------------------------------------------------------------------
# Seed policies (written after the upstream documentation)
# ---------------------------------------------------------------------------

LSEEK = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "lseek-test"
spec:
  kprobes:
  - call: "sys_lseek"
    syscall: true
    args:
    - index: 0
      type: "int"
    selectors:
    - matchArgs:
      - index: 0
        operator: "Equal"
        values:
        - "-1"
      matchActions:
      - action: Sigkill
"""

CAT_OPEN = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "cat-open"
spec:
  kprobes:
  - call: "sys_openat"
    syscall: true
    args:
    - index: 0
      type: int
    - index: 1
      type: "string"
    - index: 2
      type: "int"
    selectors:
    - matchBinaries:
      - operator: "In"
        values:
        - "/usr/bin/cat"
  - call: "fd_install"
    syscall: false
    args:
    - index: 0
      type: int
    - index: 1
      type: "file"
    selectors:
    - matchBinaries:
      - operator: "In"
        values:
        - "/usr/bin/cat"
"""

FILE_ACCESS = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "file-access"
spec:
  kprobes:
  - call: "security_file_permission"
    syscall: false
    return: true
    args:
    - index: 0
      type: "file" # (struct file *) used for getting the path
    - index: 1
      type: "int" # 0x04 is MAY_READ, 0x02 is MAY_WRITE
    returnArg:
      index: 0
      type: "int"
    returnArgAction: "Post"
    selectors:
    - matchArgs:
      - index: 0
        operator: "Prefix"
        values:
        - "/etc/"
      - index: 1
        operator: "Mask"
        values:
        - "2"
  - call: "fd_install"
    syscall: false
    args:
    - index: 0
      type: int
    - index: 1
      type: "file"
    selectors:
    - matchArgs:
      - index: 1
        operator: "Equal"
        values:
        - "/etc/shadow"
        - "/etc/passwd"
      matchActions:
      - action: Sigkill
"""

ALL_SYSCALLS = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "all-syscalls-of-kill"
spec:
  lists:
  - name: "all-syscalls"
    type: "generated_syscalls"
  kprobes:
  - call: "list:all-syscalls"
    selectors:
    - matchBinaries:
      - operator: "In"
        values:
        - "/usr/bin/kill"
      matchActions:
      - action: Post
        rateLimit: "1m"
        rateLimitScope: "process"
"""

SEEDS = {
    "lseek": LSEEK,
    "cat-open": CAT_OPEN,
    "file-access": FILE_ACCESS,
    "all-syscalls-of-kill": ALL_SYSCALLS,
}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_policies_validate_clean(name):
    problems = validate_text(y(SEEDS[name]), f"{name}.yaml")
    assert problems == [], "\n".join(map(str, problems))


def test_lseek_model():
    [policy] = load_policies(y(LSEEK))
    assert isinstance(policy, TracingPolicy)
    assert policy.api_version == "cilium.io/v1alpha1"
    assert policy.name == "lseek-test"
    kp = policy.spec.kprobes[0]
    assert kp.call == "sys_lseek" and kp.syscall is True and kp.return_ is False
    assert kp.args[0].index == 0 and kp.args[0].type == "int"
    sel = kp.selectors[0]
    assert sel.match_args[0].operator == "Equal"
    assert sel.match_args[0].values == ["-1"]
    assert sel.match_actions[0].action == "Sigkill"
    res = resolve_arg_selector(kp, sel.match_args[0], "matchArgs")
    assert res.error is None and res.targets == ((0, kp.args[0]),)


def test_cat_open_model():
    [policy] = load_policies(y(CAT_OPEN))
    calls = [kp.call for kp in policy.spec.kprobes]
    assert calls == ["sys_openat", "fd_install"]
    for kp in policy.spec.kprobes:
        mb = kp.selectors[0].match_binaries[0]
        assert mb.operator == "In" and mb.values == ["/usr/bin/cat"]
        assert mb.follow_children is False
    assert policy.spec.kprobes[1].syscall is False


def test_file_access_model():
    [policy] = load_policies(y(FILE_ACCESS))
    perm, install = policy.spec.kprobes
    assert perm.return_ and perm.return_arg is not None and perm.return_arg.type == "int"
    assert perm.return_arg_action == "Post"
    assert [m.operator for m in perm.selectors[0].match_args] == ["Prefix", "Mask"]
    assert install.selectors[0].match_args[0].values == ["/etc/shadow", "/etc/passwd"]
    assert install.selectors[0].match_actions[0].action == "Sigkill"


def test_generated_syscalls_list_and_rate_limit():
    [policy] = load_policies(y(ALL_SYSCALLS))
    kp = policy.spec.kprobes[0]
    assert kp.list_name == "all-syscalls"
    lst = policy.spec.list_named("all-syscalls")
    assert lst is not None and lst.type == "generated_syscalls" and lst.values == []
    act = kp.selectors[0].match_actions[0]
    assert act.rate_limit == "1m" and act.rate_limit_seconds == 60
    assert act.rate_limit_scope == "process"
    assert features(policy)["list:generated_syscalls"] == [("spec", "lists", 0, "type")]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30), ("10s", 10), ("1m", 60), ("5m", 300), ("2h", 7200), (" 3 h ", 10800)],
)
def test_parse_rate_limit(text, seconds):
    assert parse_rate_limit(text) == seconds


@pytest.mark.parametrize("text", ["5/minute", "30/60s", "1d", "", "m", "-5", "0", "1.5m"])
def test_parse_rate_limit_refuses(text):
    with pytest.raises(ValueError, match="rateLimit"):
        parse_rate_limit(text)


def test_yaml_integers_are_values_and_rate_limit():
    text = y(
        """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata: {name: ints}
        spec:
          kprobes:
          - call: ip_output
            syscall: false
            args: [{index: 2, type: skb}]
            selectors:
            - matchArgs:
              - {index: 2, operator: DPort, values: [53]}
              matchActions:
              - {action: Post, rateLimit: 5}
        """
    )
    [policy] = load_policies(text)
    sel = policy.spec.kprobes[0].selectors[0]
    assert sel.match_args[0].values == ["53"]
    assert sel.match_actions[0].rate_limit == "5"


def test_python_names_are_accepted_too():
    policy = TracingPolicy.model_validate(
        {
            "api_version": "cilium.io/v1alpha1",
            "metadata": {"name": "py"},
            "spec": {"kprobes": [{"call": "sys_write", "return_": True}]},
        }
    )
    assert policy.spec.kprobes[0].return_ is True


def test_multi_document_and_namespaced():
    text = (
        LSEEK
        + "\n---\n"
        + y(
            """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicyNamespaced
        metadata:
          name: ns-policy
          namespace: default
          labels: {app: demo}
        spec:
          podSelector:
            matchLabels: {app: demo}
          kprobes:
          - call: sys_mount
        """
        )
    )
    first, second = load_policies(text)
    assert first.name == "lseek-test" and type(first) is TracingPolicy
    assert isinstance(second, TracingPolicyNamespaced)
    assert second.namespace == "default" and second.metadata.labels == {"app": "demo"}
    assert second.spec.pod_selector is not None
    assert second.spec.pod_selector.match_labels == {"app": "demo"}
    assert second.source is not None and second.source.document == 1


def test_load_from_path_keeps_source(tmp_path):
    path = write(tmp_path, "lseek.yaml", LSEEK)
    [policy] = load_policies(path)
    assert policy.source is not None and policy.source.file == str(path)
    [again] = load_policies(str(path))
    assert again.name == "lseek-test"


def test_case_insensitive_enums_are_canonical_with_a_warning():
    text = LSEEK.replace("action: Sigkill", "action: SigKill").replace('"Equal"', '"equal"')
    problems = validate_text(y(text), "p.yaml")
    assert errors(problems) == []
    paths = {p.path: p.message for p in warnings(problems)}
    assert paths["spec.kprobes[0].selectors[0].matchActions[0].action"] == (
        "'SigKill' is spelled 'Sigkill' in the upstream schema"
    )
    [policy] = load_policies(y(text))
    sel = policy.spec.kprobes[0].selectors[0]
    assert sel.match_actions[0].action == "Sigkill"
    assert sel.match_args[0].operator == "Equal"


def test_operator_synonyms_fold_to_canonical():
    assert ArgSelector.model_validate({"operator": "GreaterThan"}).operator == "GT"
    assert ArgSelector.model_validate({"operator": "lt"}).operator == "LT"
    assert ArgSelector.model_validate({"operator": "NotSportPriv"}).operator == "NotSPortPriv"
    assert ActionSelector.model_validate({"action": "NotifyKiller"}).action == "NotifyEnforcer"


# ---------------------------------------------------------------------------
# Schema errors: file, YAML path, reason
# ---------------------------------------------------------------------------


def test_unknown_arg_type(tmp_path):
    path = write(tmp_path, "p.yaml", LSEEK.replace('type: "int"', 'type: "chr_buf"'))
    p = only_error(validate_file(path))
    assert p.file == str(path)
    assert p.path == "spec.kprobes[0].args[0].type"
    assert p.message.startswith("unknown type 'chr_buf' (expected one of: auto, int, ")
    assert "char_buf" in p.message
    assert p.line == 11
    assert str(p) == f"{path}: spec.kprobes[0].args[0].type: {p.message}"


def test_unknown_key_is_reported_with_suggestion():
    p = only_error(validate_text(y(LSEEK.replace("matchArgs:", "matchArg:")), "p.yaml"))
    assert p.path == "spec.kprobes[0].selectors[0].matchArg"
    assert p.message == "unknown field 'matchArg' (did you mean 'matchArgs'?)"


def test_unknown_key_without_close_match_lists_fields():
    text = LSEEK.replace("syscall: true", "syscall: true\n    bogus: 1")
    p = only_error(validate_text(y(text), "p.yaml"))
    assert p.path == "spec.kprobes[0].bogus"
    assert p.message.startswith("unknown field 'bogus' (expected one of: call, syscall, return,")


def test_unknown_operator_and_action():
    text = LSEEK.replace('"Equal"', '"Equals"').replace("Sigkill", "Sigkil")
    errs = errors(validate_text(y(text), "p.yaml"))
    by_path = {p.path: p.message for p in errs}
    op = by_path["spec.kprobes[0].selectors[0].matchArgs[0].operator"]
    assert op.startswith("unknown operator 'Equals' (expected one of: Equal, NotEqual,")
    act = by_path["spec.kprobes[0].selectors[0].matchActions[0].action"]
    assert act.startswith("unknown action 'Sigkil' (expected one of: Post, NoPost, Sigkill,")


def test_missing_name_kind_and_bad_api_version():
    text = y(
        """
        apiVersion: cilium.io/v1
        metadata: {}
        spec: {}
        """
    )
    errs = {p.path: p.message for p in errors(validate_text(text, "p.yaml"))}
    assert errs["kind"] == (
        "required field missing (expected one of: TracingPolicy, TracingPolicyNamespaced)"
    )
    assert errs["metadata.name"] == "required field missing"
    assert errs["apiVersion"] == (
        "unsupported apiVersion 'cilium.io/v1' (expected cilium.io/v1alpha1)"
    )


def test_missing_api_version_is_read_as_v1alpha1_with_a_warning():
    # Tetragon's raw_syscalls.yaml example has none; Tetragon loads it
    text = y(LSEEK).replace("apiVersion: cilium.io/v1alpha1\n", "")
    assert "apiVersion" not in text
    problems = validate_text(text, "p.yaml")
    assert not errors(problems)
    warn = [p for p in problems if p.severity == "warning"]
    assert [p.message for p in warn] == [
        "apiVersion missing: read as cilium.io/v1alpha1 (kubectl apply needs it written)"
    ]


def test_unknown_kind():
    p = only_error(validate_text(y(LSEEK.replace("kind: TracingPolicy", "kind: Policy")), "f"))
    assert p.path == "kind"
    assert p.message.startswith("unknown kind 'Policy' (expected one of: TracingPolicy,")


POD = """
apiVersion: v1
kind: Pod
metadata:
  name: bigsecret
spec:
  containers:
  - image: ubuntu
    name: c
"""


def test_kubectl_manifest_skips_other_objects():
    """A manifest for kubectl apply: the Pod beside the policy is skipped with a warning."""
    text = y(POD) + "---\n" + y(LSEEK)
    (policy,) = load_policies(text)
    assert policy.name == "lseek-test" and policy.source.document == 1
    problems = validate_text(text, "m.yaml")
    assert not errors(problems)
    (warn,) = warnings(problems)
    assert warn.path == "apiVersion" and warn.line == 1
    assert warn.message == "not a policy (kind Pod of v1): document skipped"


def test_manifest_without_policy_still_refused():
    """With no cilium.io object in the file, a Pod is an unknown kind, as before."""
    errs = {p.path: p.message for p in errors(validate_text(y(POD), "pod.yaml"))}
    assert errs["kind"].startswith("unknown kind 'Pod'")
    with pytest.raises(PolicyLoadError):
        load_policies(y(POD))


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "- index: 0\n      type",
            "- index: -1\n      type",
            "spec.kprobes[0].args[0].index",
            "must be at least 0, got -1",
        ),
        (
            "syscall: true",
            "syscall: maybe",
            "spec.kprobes[0].syscall",
            "expected true or false, got 'maybe'",
        ),
        (
            "- action: Sigkill",
            "- action: Signal\n        argSig: nine",
            "spec.kprobes[0].selectors[0].matchActions[0].argSig",
            "expected an integer, got 'nine'",
        ),
    ],
)
def test_schema_type_errors(old, new, path, message):
    text = LSEEK.replace(old, new)
    assert text != LSEEK
    p = only_error(validate_text(y(text), "p.yaml"))
    assert (p.path, p.message) == (path, message)


def test_unknown_capability_and_namespace_names():
    text = y(
        """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata: {name: caps}
        spec:
          kprobes:
          - call: sys_setuid
            selectors:
            - matchCapabilities:
              - {operator: In, values: [CAP_SYS_ADMIN, CAP_FOO]}
              matchNamespaces:
              - {namespace: Mount, operator: In, values: [host_ns]}
              matchNamespaceChanges:
              - {operator: In, values: [Mnt, Nett]}
        """
    )
    errs = {p.path: p.message for p in errors(validate_text(text, "p.yaml"))}
    sel = "spec.kprobes[0].selectors[0]"
    assert errs[f"{sel}.matchCapabilities[0].values[1]"].startswith(
        "unknown capability 'CAP_FOO' (expected one of: CAP_CHOWN, "
    )
    assert errs[f"{sel}.matchNamespaces[0].namespace"].startswith(
        "unknown namespace 'Mount' (expected one of: Uts, Ipc, Mnt, Pid,"
    )
    assert errs[f"{sel}.matchNamespaceChanges[0].values[1]"].startswith("unknown namespace 'Nett'")


def test_pid_values_must_be_integers():
    text = LSEEK.replace(
        "    - matchArgs:",
        "    - matchPIDs:\n      - operator: NotIn\n        values: [pid1]\n      matchArgs:",
    )
    p = only_error(validate_text(y(text), "p.yaml"))
    assert p.path == "spec.kprobes[0].selectors[0].matchPIDs[0].values[0]"
    assert p.message == "expected an integer, got 'pid1'"


def test_tags_limit():
    tags = "[" + ", ".join(f"t{i}" for i in range(17)) + "]"
    text = LSEEK.replace("syscall: true", f"syscall: true\n    tags: {tags}")
    p = only_error(validate_text(y(text), "p.yaml"))
    assert p.path == "spec.kprobes[0].tags"
    assert p.message == "at most 16 entries are allowed, got 17"


# ---------------------------------------------------------------------------
# YAML-level errors
# ---------------------------------------------------------------------------


def test_yaml_syntax_error_has_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "apiVersion: cilium.io/v1alpha1\nkind: [TracingPolicy\n")
    p = only_error(validate_file(path))
    assert p.path == "" and p.message.startswith("invalid YAML at line ")
    assert p.line is not None


def test_duplicate_key_is_an_error():
    text = LSEEK.replace("      matchActions:", "      matchArgs: []\n      matchActions:")
    p = only_error(validate_text(y(text), "p.yaml"))
    assert "duplicate key 'matchArgs' (first defined at line 13)" in p.message


def test_template_placeholder_hint():
    text = LSEEK.replace('- "-1"', "- {{.Value}}")
    p = only_error(validate_text(y(text), "p.yaml"))
    assert "{{.Value}} is an unrendered Go template placeholder" in p.message


def test_empty_file(tmp_path):
    path = write(tmp_path, "empty.yaml", "# nothing\n")
    assert only_error(validate_file(path)).message.startswith("no policy found")


def test_missing_file(tmp_path):
    p = only_error(validate_file(tmp_path / "nope.yaml"))
    assert p.message.startswith("cannot read: ")


def test_second_document_error_names_the_document():
    text = LSEEK + "\n---\n" + LSEEK.replace("lseek-test", "two").replace("Equal", "Equl")
    p = only_error(validate_text(y(text), "multi.yaml"))
    assert p.document == 1
    assert str(p).startswith(
        "multi.yaml (document 2): spec.kprobes[0].selectors[0].matchArgs[0].operator: "
    )


def test_duplicate_policy_names_in_one_file():
    p = only_error(validate_text(y(LSEEK + "\n---\n" + LSEEK), "dup.yaml"))
    assert p.path == "metadata.name" and p.document == 1
    assert p.message == "policy name 'lseek-test' is already used by document 1"


# ---------------------------------------------------------------------------
# Semantic rules
# ---------------------------------------------------------------------------


def kprobe_policy(body: str) -> str:
    """A policy with one kprobe; body is the kprobe entry (indented 2)."""
    head = "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\nspec:\n"
    head += "  kprobes:\n"
    return head + textwrap.indent(y(body), "  ")


def check(body: str) -> list[Problem]:
    return validate_text(kprobe_policy(body), "t.yaml")


def test_match_args_index_must_be_declared():
    p = only_error(
        check(
            """
            - call: sys_lseek
              args: [{index: 0, type: int}]
              selectors:
              - matchArgs: [{index: 2, operator: Equal, values: ["1"]}]
            """
        )
    )
    assert p.path == "spec.kprobes[0].selectors[0].matchArgs[0].index"
    assert p.message == "no argument with index 2 is declared in args (declared indexes: 0)"


def test_match_args_args_positions():
    body = """
    - call: sys_lseek
      args: [{index: 2, type: int}, {index: 0, type: int}]
      selectors:
      - matchArgs: [{args: [1], operator: Equal, values: ["3"]}]
    """
    assert check(body) == []
    bad = body.replace("args: [1]", "args: [2]")
    p = only_error(check(bad))
    assert p.path == "spec.kprobes[0].selectors[0].matchArgs[0].args"
    assert p.message == "args refers to args[2] but only 2 are declared"
    both = body.replace("args: [1]", "index: 0, args: [1]")
    p = only_error(check(both))
    assert (p.path, p.message) == (
        "spec.kprobes[0].selectors[0].matchArgs[0]",
        "give either index or args, not both",
    )


def test_tracepoint_index_falls_back_to_position():
    text = y(
        """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata: {name: raw}
        spec:
          lists: [{name: dups, type: syscalls, values: [sys_dup, i386/sys_dup]}]
          tracepoints:
          - subsystem: raw_syscalls
            event: sys_enter
            args: [{index: 4, type: syscall64}]
            selectors:
            - matchArgs: [{index: 0, operator: InMap, values: ["list:dups"]}]
        """
    )
    problems = validate_text(text, "t.yaml")
    assert errors(problems) == []
    [w] = warnings(problems)
    assert w.path == "spec.tracepoints[0].selectors[0].matchArgs[0].index"
    assert "read as the position in args: args[0] (declared with index 4)" in w.message
    [policy] = load_policies(text)
    tp = policy.spec.tracepoints[0]
    assert isinstance(tp, TracepointSpec)
    res = resolve_arg_selector(tp, tp.selectors[0].match_args[0], "matchArgs")
    assert res.targets[0][1].type == "syscall64"


def test_override_needs_arg_error_and_signal_needs_arg_sig():
    problems = check(
        """
        - call: sys_openat
          args: [{index: 1, type: string}]
          selectors:
          - matchArgs: [{index: 1, operator: Equal, values: [/etc/passwd]}]
            matchActions: [{action: Override}]
          - matchActions: [{action: Signal}]
          - matchActions: [{action: Signal, argSig: 99}]
        """
    )
    errs = {p.path: p.message for p in errors(problems)}
    sel = "spec.kprobes[0].selectors"
    assert errs[f"{sel}[0].matchActions[0]"] == (
        "Override needs argError (the value returned instead of calling the function)"
    )
    assert errs[f"{sel}[1].matchActions[0]"] == "Signal needs argSig (the signal number, e.g. 9)"
    assert errs[f"{sel}[2].matchActions[0].argSig"] == "argSig 99 is not a signal number (1..64)"


def test_override_on_tracepoint_is_refused():
    text = y(
        """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata: {name: tp}
        spec:
          tracepoints:
          - subsystem: syscalls
            event: sys_enter_lseek
            selectors:
            - matchActions: [{action: Override, argError: -1}]
        """
    )
    p = only_error(validate_text(text, "t.yaml"))
    assert p.path == "spec.tracepoints[0].selectors[0].matchActions[0].action"
    assert p.message == "Override cannot change the result of a tracepoint"


def test_rate_limit_syntax_and_post_only_fields():
    problems = check(
        """
        - call: sys_write
          selectors:
          - matchActions: [{action: Post, rateLimit: 5/minute}]
          - matchActions: [{action: Sigkill, rateLimit: 1m}]
          - matchActions: [{action: Post, rateLimitScope: global}]
        """
    )
    errs = {p.path: p.message for p in errors(problems)}
    sel = "spec.kprobes[0].selectors"
    assert errs[f"{sel}[0].matchActions[0].rateLimit"].startswith(
        "invalid rateLimit '5/minute': expected a number of seconds"
    )
    assert errs[f"{sel}[1].matchActions[0].rateLimit"] == (
        "rateLimit is only valid with the Post action, not Sigkill"
    )
    assert errs[f"{sel}[2].matchActions[0].rateLimitScope"] == "rateLimitScope needs a rateLimit"


def test_list_reference_must_exist():
    problems = check(
        """
        - call: "list:dups"
        """
    )
    p = only_error(problems)
    assert p.path == "spec.kprobes[0].call"
    assert p.message == (
        "call refers to list 'dups' which is not defined in spec.lists (spec.lists is empty)"
    )


def test_in_map_list_reference_must_exist():
    problems = check(
        """
        - call: sys_dup
          args: [{index: 0, type: uint64}]
          selectors:
          - matchArgs: [{index: 0, operator: InMap, values: ["list:nope", "7"]}]
        """
    )
    p = only_error(problems)
    assert p.path == "spec.kprobes[0].selectors[0].matchArgs[0].values[0]"
    assert "list 'nope' which is not defined in spec.lists" in p.message


@pytest.mark.parametrize(
    ("arg_type", "operator", "value", "message"),
    [
        (
            "int",
            "SPort",
            "80",
            "operator SPort does not apply to an argument of type int (it applies to socket types)",
        ),
        (
            "int",
            "Prefix",
            "/etc",
            "operator Prefix does not apply to an argument of type int "
            "(it applies to string types, path types, dns, net_device)",
        ),
        (
            "string",
            "GT",
            "1",
            "operator GT does not apply to an argument of type string "
            "(it applies to integer types)",
        ),
        (
            "skb",
            "State",
            "TCP_LISTEN",
            "operator State does not apply to an argument of type skb (it applies to sock, socket)",
        ),
        (
            "int",
            "FileType",
            "reg",
            "operator FileType does not apply to an argument of type int "
            "(it applies to file, path)",
        ),
        (
            "cred",
            "Equal",
            "0",
            "arguments of type cred cannot be filtered (they are only reported)",
        ),
    ],
)
def test_operator_must_suit_the_argument_type(arg_type, operator, value, message):
    p = only_error(
        check(
            f"""
            - call: f
              syscall: false
              args: [{{index: 0, type: {arg_type}}}]
              selectors:
              - matchArgs: [{{index: 0, operator: {operator}, values: ["{value}"]}}]
            """
        )
    )
    assert p.path == "spec.kprobes[0].selectors[0].matchArgs[0].operator"
    assert p.message == message


@pytest.mark.parametrize(
    ("arg_type", "operator", "value", "message"),
    [
        ("int", "Equal", "abc", "'abc' is not an integer (decimal, 0x hexadecimal or 0 octal)"),
        ("uint32", "Equal", "-1", "-1 does not fit type uint32 (0..4294967295)"),
        ("int8", "GT", "300", "300 does not fit type int8 (-128..127)"),
        ("int", "InRange", "5:1", "range '5:1' is empty: 5 is greater than 1"),
        ("int", "InRange", "5", "'5' is not a range: expected min:max, e.g. 1:5"),
        ("sock", "DAddr", "300.1.1.1", "'300.1.1.1' is not an IPv4/IPv6 address or CIDR"),
        ("skb", "NotDAddr", "10.0.0.0/33", "'10.0.0.0/33' is not an IPv4/IPv6 address or CIDR"),
        ("sock", "SPort", "70000", "port 70000 is out of range (0..65535)"),
        ("sock", "DPort", "100:10", "port range '100:10' is empty: 100 is greater than 10"),
        ("sock", "Protocol", "IPPROTO_FOO", "unknown protocol 'IPPROTO_FOO' (expected a number"),
        ("sockaddr", "Family", "AF_FOO", "unknown address family 'AF_FOO' (expected a number"),
        ("sock", "State", "TCP_OPEN", "unknown TCP state 'TCP_OPEN' (expected a number"),
        ("file", "FileType", "door", "unknown file type 'door' (expected one of: sock, socket,"),
        ("kernel_cap_t", "Mask", "CAP_FOO", "unknown capability 'CAP_FOO' (expected CAP_* name"),
    ],
)
def test_values_must_parse_for_the_operator(arg_type, operator, value, message):
    p = only_error(
        check(
            f"""
            - call: f
              syscall: false
              args: [{{index: 0, type: {arg_type}}}]
              selectors:
              - matchArgs: [{{index: 0, operator: {operator}, values: ["{value}"]}}]
            """
        )
    )
    assert p.path == "spec.kprobes[0].selectors[0].matchArgs[0].values[0]"
    assert p.message.startswith(message)


@pytest.mark.parametrize(
    ("arg_type", "operator", "value"),
    [
        ("int", "Equal", "-1"),
        ("uint32", "Mask", "0x40"),
        ("int", "InRange", "1:5"),
        ("sock", "DAddr", "127.0.0.1/8"),
        ("skb", "SAddr", "2a1:56::1/128"),
        ("sock", "DPort", "1:1023"),
        ("sock", "Protocol", "IPPROTO_UDP"),
        ("sock", "Protocol", "17"),
        ("sockaddr", "Family", "AF_INET6"),
        ("socket", "State", "TCP_ESTABLISHED"),
        ("path", "FileType", "reg"),
        ("file", "Postfix", "passwd"),
        ("char_buf", "SubString", "secret"),
        ("syscall64", "Equal", "i386/sys_dup"),
        ("kernel_cap_t", "Mask", "CAP_SYS_ADMIN"),
    ],
)
def test_values_accepted(arg_type, operator, value):
    assert (
        errors(
            check(
                f"""
            - call: f
              syscall: false
              args: [{{index: 0, type: {arg_type}}}]
              selectors:
              - matchArgs: [{{index: 0, operator: {operator}, values: ["{value}"]}}]
            """
            )
        )
        == []
    )


def test_namespace_values():
    problems = check(
        """
        - call: f
          selectors:
          - matchNamespaces:
            - {namespace: Pid, operator: NotIn, values: [host_ns, "4026531836", hostns]}
        """
    )
    p = only_error(problems)
    assert p.path == "spec.kprobes[0].selectors[0].matchNamespaces[0].values[2]"
    assert p.message == "'hostns' is not a namespace inode number or 'host_ns'"


def test_return_arg_action_needs_return():
    problems = check(
        """
        - call: sk_alloc
          syscall: false
          returnArg: {type: sock}
          returnArgAction: TrackSock
        """
    )
    p = only_error(problems)
    assert p.path == "spec.kprobes[0].returnArgAction"
    assert p.message == "returnArgAction needs return: true"
    w = warnings(problems)[0]
    assert (w.path, w.message) == (
        "spec.kprobes[0].returnArg",
        "returnArg is ignored without return: true",
    )


def test_track_sock_needs_a_sock_return():
    p = only_error(
        check(
            """
            - call: sk_alloc
              syscall: false
              return: true
              returnArg: {type: int}
              returnArgAction: TrackSock
            """
        )
    )
    assert p.message == "TrackSock needs a returnArg of type sock, got type int"


def test_match_return_args_need_return():
    p = only_error(
        check(
            """
            - call: sys_openat
              selectors:
              - matchReturnArgs: [{index: 0, operator: GT, values: ["0"]}]
            """
        )
    )
    assert (p.path, p.message) == (
        "spec.kprobes[0].selectors[0].matchReturnArgs",
        "matchReturnArgs needs return: true",
    )


def test_size_arg_index_rules():
    problems = check(
        """
        - call: sys_write
          args:
          - {index: 0, type: fd}
          - {index: 1, type: char_buf, sizeArgIndex: 9}
          - {index: 2, type: size_t, sizeArgIndex: 1}
        """
    )
    errs = {p.path: p.message for p in errors(problems)}
    assert errs["spec.kprobes[0].args[1].sizeArgIndex"].startswith(
        "sizeArgIndex 9 is out of range (1..6; it is 1-based"
    )
    assert errs["spec.kprobes[0].args[2].sizeArgIndex"] == (
        "sizeArgIndex is only used by char_buf and char_iovec, not size_t"
    )
    ok = check(
        """
        - call: sys_write
          args:
          - {index: 0, type: fd}
          - {index: 1, type: char_buf, sizeArgIndex: 3}
          - {index: 2, type: size_t}
        """
    )
    assert ok == []
    self_ref = check(
        """
        - call: sys_write
          args:
          - {index: 1, type: char_buf, sizeArgIndex: 2}
          - {index: 2, type: size_t}
        """
    )
    [w] = warnings(self_ref)
    assert w.message == (
        "sizeArgIndex is 1-based: 2 designates the argument at index 1, which is this buffer "
        "itself; the size at index 2 is sizeArgIndex 3"
    )


def test_follow_fd_args_must_be_declared():
    p = only_error(
        check(
            """
            - call: fd_install
              syscall: false
              args: [{index: 0, type: int}, {index: 1, type: file}]
              selectors:
              - matchActions: [{action: FollowFD, argFd: 0, argName: 3}]
            """
        )
    )
    assert p.path == "spec.kprobes[0].selectors[0].matchActions[0].argName"
    assert p.message == "argName 3 refers to no declared argument (declared indexes: 0, 1)"


def test_get_url_and_dns_lookup():
    problems = check(
        """
        - call: f
          selectors:
          - matchActions: [{action: GetUrl, argUrl: "ftp://x"}]
          - matchActions: [{action: DnsLookup}]
        """
    )
    errs = {p.path: p.message for p in errors(problems)}
    assert errs["spec.kprobes[0].selectors[0].matchActions[0].argUrl"] == (
        "'ftp://x' is not an http:// or https:// URL"
    )
    assert errs["spec.kprobes[0].selectors[1].matchActions[0]"] == (
        "DnsLookup needs argFqdn (the name to resolve)"
    )


def test_notify_enforcer_needs_an_enforcer():
    p = only_error(
        check(
            """
            - call: sys_dup
              selectors:
              - matchActions: [{action: NotifyEnforcer, argSig: 9}]
            """
        )
    )
    assert p.message == "NotifyEnforcer needs an enforcer (spec.enforcers)"


def test_list_rules():
    text = y(
        """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata: {name: lists}
        spec:
          lists:
          - {name: a, type: syscalls, values: [sys_dup, open]}
          - {name: a, type: generated_ftrace}
          - {name: c, type: generated_ftrace, pattern: "ksys_(["}
          kprobes:
          - call: "list:a"
        """
    )
    errs = {p.path: p.message for p in errors(validate_text(text, "l.yaml"))}
    assert errs["spec.lists[0].values[1]"].startswith("'open' is not a syscall function name")
    assert errs["spec.lists[1].name"] == "list 'a' is already defined by lists[0]"
    assert errs["spec.lists[1]"] == "a generated_ftrace list needs a pattern (a regular expression)"
    assert errs["spec.lists[2].pattern"].startswith("invalid regular expression: ")


def test_options():
    text = LSEEK.replace(
        "spec:\n",
        "spec:\n  options:\n  - {name: disable-kprobe-multi, value: maybe}\n"
        "  - {name: policy-mode, value: enforce}\n  - {name: whatever, value: 1}\n",
    )
    problems = validate_text(y(text), "o.yaml")
    p = only_error(problems)
    assert p.path == "spec.options[0].value"
    assert p.message.startswith("option 'disable-kprobe-multi': 'maybe' is not a boolean")
    assert any(w.path == "spec.options[2].name" for w in warnings(problems))


def test_label_selectors():
    text = y(
        """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicyNamespaced
        metadata: {name: sel, namespace: default}
        spec:
          hostSelector: {}
          containerSelector:
            matchExpressions:
            - {key: image, operator: Exists}
          podSelector:
            matchExpressions:
            - {key: app, operator: In}
            - {key: tier, operator: Exists, values: [x]}
          kprobes: [{call: sys_mount}]
        """
    )
    errs = {p.path: p.message for p in errors(validate_text(text, "s.yaml"))}
    assert errs["spec.hostSelector"] == (
        "TracingPolicyNamespaced cannot match host workloads so spec.hostSelector should be null"
    )
    assert errs["spec.containerSelector.matchExpressions[0].key"] == (
        "containerSelector only supports the 'name' and 'repo' keys"
    )
    assert errs["spec.podSelector.matchExpressions[0].values"] == (
        "operator In needs at least one value"
    )
    assert errs["spec.podSelector.matchExpressions[1].values"] == "operator Exists takes no values"


def test_uprobe_rules_and_legacy_symbol():
    text = y(
        """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata: {name: up}
        spec:
          uprobes:
          - path: /bin/bash
            symbol: readline
          - path: /bin/bash
          - path: /bin/bash
            symbols: [main]
            resolvePathInContainer: true
        """
    )
    problems = validate_text(text, "u.yaml")
    errs = {p.path: p.message for p in errors(problems)}
    assert errs["spec.uprobes[1]"] == "a uprobe needs exactly one of symbols, offsets or addrs"
    assert errs["spec.uprobes[2].resolvePathInContainer"] == (
        "resolvePathInContainer requires spec.podSelector"
    )
    assert any(w.path == "spec.uprobes[0].symbol" for w in warnings(problems))
    policies, _ = parse_policies(text, semantic=False)
    assert policies[0].spec.uprobes[0].symbols == ["readline"]


def test_line_numbers_point_at_the_key():
    text = y(LSEEK.replace('"Equal"', '"SPort"'))
    p = only_error(validate_text(text, "p.yaml"))
    assert p.line == text.splitlines().index('        operator: "SPort"') + 1


# ---------------------------------------------------------------------------
# Engine support
# ---------------------------------------------------------------------------

LSM = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "lsm-file-open"
spec:
  loader: true
  lsmhooks:
  - hook: "file_open"
    args:
    - index: 0
      type: "file"
    selectors:
    - matchArgs:
      - index: 0
        operator: "Equal"
        values:
        - "/etc/passwd"
"""


def test_loader_is_supported():
    """spec.loader (process_loader events) loads beside any hook."""
    [policy] = load_policies(y(LSM))
    assert policy.spec.loader is True
    assert unsupported(policy) == []
    assert validate_text(y(LSM), "lsm.yaml") == []


def test_unsupported_set_is_driven_by_the_module_set(monkeypatch):
    [policy] = load_policies(y(LSEEK))
    assert unsupported(policy) == []
    monkeypatch.setattr(support, "UNSUPPORTED", {"action:Sigkill"})
    [p] = unsupported(policy)
    assert p.path == "spec.kprobes[0].selectors[0].matchActions[0].action"
    assert p.message == "not supported by this engine yet: action:Sigkill"


def test_pod_selector_is_supported_on_a_plain_host():
    text = LSEEK.replace("spec:\n", "spec:\n  podSelector:\n    matchLabels: {app: web}\n")
    assert validate_text(y(text), "p.yaml") == []


# ---------------------------------------------------------------------------
# load_policies and the command
# ---------------------------------------------------------------------------


def test_load_policies_raises_with_every_problem(tmp_path):
    path = write(tmp_path, "bad.yaml", LSEEK.replace("int", "integer").replace("Equal", "Equals"))
    with pytest.raises(PolicyLoadError) as info:
        load_policies(path)
    paths = [p.path for p in info.value.problems]
    assert paths == [
        "spec.kprobes[0].args[0].type",
        "spec.kprobes[0].selectors[0].matchArgs[0].operator",
    ]
    assert all(p.file == str(path) for p in info.value.problems)
    assert str(path) in str(info.value)


def test_validate_main_ok_and_problems(tmp_path, capsys):
    good = write(tmp_path, "good.yaml", LSEEK + "\n---\n" + CAT_OPEN)
    bad = write(tmp_path, "bad.yaml", LSEEK.replace('type: "int"', 'type: "chr_buf"'))
    assert validate_main([str(good)]) == 0
    out = capsys.readouterr().out
    assert out == f"{good}: ok (2 policies: lseek-test, cat-open)\n"

    assert validate_main([str(good), str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{good}: ok (2 policies: lseek-test, cat-open)"
    assert lines[1].startswith(
        f"{bad}: spec.kprobes[0].args[0].type: unknown type 'chr_buf' (expected one of: "
    )
    assert len(lines) == 2


def test_validate_main_warnings_do_not_fail(tmp_path, capsys):
    path = write(tmp_path, "w.yaml", LSEEK.replace("action: Sigkill", "action: SIGKILL"))
    assert validate_main([str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{path}: spec.kprobes[0].selectors[0].matchActions[0].action: "
        "warning: 'SIGKILL' is spelled 'Sigkill' in the upstream schema",
        f"{path}: ok (1 policy: lseek-test)",
    ]


def test_validate_main_unsupported_fails(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(support, "UNSUPPORTED", {"loader"})
    path = write(tmp_path, "lsm.yaml", LSM)
    assert validate_main([str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: spec.loader: not supported by this engine yet: loader events" in out


def test_validate_main_directory(tmp_path, capsys):
    write(tmp_path, "a.yaml", LSEEK)
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/b.yml", CAT_OPEN)
    write(tmp_path, "notes.txt", "not a policy")
    assert validate_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": ok")[0] for line in out] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "sub" / "b.yml"),
    ]


def test_kprobe_defaults():
    kp = KProbeSpec.model_validate({"call": "sys_write"})
    assert kp.syscall is True and kp.return_ is False and kp.selectors == []
    assert kp.list_name is None


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="upstream example set not fetched")
def test_upstream_examples_are_accepted_or_refused_with_a_reason():
    files = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml"))
    assert files
    for path in files:
        for problem in validate_file(path):
            assert problem.file == str(path)
            assert problem.message
            assert problem.path or "YAML" in problem.message or "policy" in problem.message


DRAFT_RAWTP = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "rawtp"
spec:
  tracepoints:
  - subsystem: "syscalls"
    event: "sys_enter_lseek"
  rawtracepoints:
  - subsystem: "sched"
    event: "sched_process_exec"
    args:
    - index: 2
      type: "linux_binprm"
"""


def test_draft_rawtracepoints_are_raw_tracepoints_with_a_warning():
    """Tetragon's rawtp.yaml still writes the draft spec.rawtracepoints: it loads as a
    tracepoints entry with raw: true, and the warning says where it went."""
    (policy,) = load_policies(y(DRAFT_RAWTP))
    tps = policy.spec.tracepoints
    assert [(t.event, t.raw) for t in tps] == [
        ("sys_enter_lseek", False),
        ("sched_process_exec", True),
    ]
    problems = validate_text(y(DRAFT_RAWTP), "rawtp.yaml")
    assert not errors(problems)
    (warn,) = warnings(problems)
    assert warn.path == "spec.rawtracepoints"
    assert "read as spec.tracepoints[1] with raw: true" in warn.message


def test_regs_action_rules():
    text = y(
        """
        apiVersion: cilium.io/v1alpha1
        kind: TracingPolicy
        metadata: {name: regs}
        spec:
          uprobes:
          - path: /bin/bash
            symbols: [readline]
            selectors:
            - matchActions:
              - action: Regs
                argReg: ["rax:0x123", "rbp"]
              - action: Regs
          kprobes:
          - call: security_file_open
            selectors:
            - matchActions:
              - action: Regs
                argReg: ["rax:1"]
        """
    )
    errs = {p.path: p.message for p in errors(validate_text(text, "r.yaml"))}
    up = "spec.uprobes[0].selectors[0].matchActions"
    assert errs[f"{up}[0].argReg[1]"] == (
        "'rbp' is not an assignment (register:value, e.g. rax:0x123)"
    )
    assert errs[f"{up}[1]"] == "Regs needs argReg (register:value entries, e.g. rax:0x123)"
    assert errs["spec.kprobes[0].selectors[0].matchActions[0].action"] == (
        "Regs sets a traced program's registers: uprobes only"
    )
    assert f"{up}[0]" not in errs
