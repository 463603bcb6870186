"""--redaction-filters and --field-filters on the real agent: secrets in arguments never leave
it (export file, gRPC, child processes' parent blocks), and exported fields are trimmed."""

from __future__ import annotations

import subprocess
import time

import pytest

from .conftest import RunningAgent, exec_of, exit_of, first_streamed_exec

REDACT = r'{"redact": ["(?:--password|-p)(?:\\s+|=)(\\S*)"]}'
TOKENS = r'{"redact": ["--token=(\\S+)"], "binary_regex": ["^/usr/bin/env$"]}'
FIELDS = '{"fields": "process.cwd,parent.cwd", "action": "EXCLUDE"}'


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = RunningAgent(
        tmp_path_factory.mktemp("redaction-agent"),
        ["--redaction-filters", REDACT + "\n" + TOKENS, "--field-filters", FIELDS],
    )
    yield a
    a.stop()


def test_password_redacted_everywhere(agent):
    marker = f"redact-{time.time_ns()}"
    # the builtin last: sh does not exec the child in its own place
    script = f"/bin/true {marker}-child; : {marker} --password hunter2"
    cmd = ["/bin/sh", "-c", script, "-p", "s3cret"]

    proc = first_streamed_exec(agent, marker, lambda: subprocess.run(cmd, check=True))
    assert "hunter2" not in proc.arguments and "s3cret" not in proc.arguments
    assert "--password *****" in proc.arguments and proc.arguments.endswith("-p *****")

    ex = agent.wait_for(exec_of("/bin/sh", marker))["process_exec"]["process"]
    assert ex["arguments"] == proc.arguments
    child = agent.wait_for(exec_of("/bin/true", f"{marker}-child"))["process_exec"]
    assert child["parent"]["arguments"] == proc.arguments
    end = agent.wait_for(exit_of("/bin/sh", marker))["process_exit"]["process"]
    assert end["arguments"] == proc.arguments
    text = agent.export.read_text()
    assert "hunter2" not in text and "s3cret" not in text
    assert "tetragon_redacted_processes_total" in agent.metrics()


def test_binary_regex_limits_a_filter(agent):
    marker = f"token-{time.time_ns()}"
    subprocess.run(["/usr/bin/env", "true", marker, "--token=abc"], check=True)
    subprocess.run(["/bin/echo", marker, "--token=abc"], check=True, capture_output=True)
    env = agent.wait_for(exec_of("/usr/bin/env", marker))["process_exec"]["process"]
    echo = agent.wait_for(exec_of("/bin/echo", marker))["process_exec"]["process"]
    assert env["arguments"].endswith("--token=*****")
    assert echo["arguments"].endswith("--token=abc")


def test_field_filters_trim_the_export_only(agent):
    marker = f"fields-{time.time_ns()}"
    proc = first_streamed_exec(
        agent, marker, lambda: subprocess.run(["/bin/true", marker], check=True)
    )
    assert proc.cwd  # gRPC clients choose their own field filters
    ev = agent.wait_for(exec_of("/bin/true", marker))["process_exec"]
    assert "cwd" not in ev["process"] and "cwd" not in ev.get("parent", {})
    assert ev["process"]["exec_id"] and ev["process"]["binary"] == "/bin/true"


def test_bad_filters_stop_the_start_with_the_reason(tmp_path):
    for flag, value, reason in (
        ("--redaction-filters", '{"redact": ["("]}', "redaction filters: filter 1: redact"),
        ("--field-filters", '{"fields": "", "action": "EXCLUDE"}', "field filters:"),
    ):
        with pytest.raises(RuntimeError) as e:
            RunningAgent(tmp_path, [flag, value])
        assert reason in str(e.value) and "Traceback" not in str(e.value)
