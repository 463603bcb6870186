"""--redaction-filters: capture groups of matching patterns masked in process arguments."""

from __future__ import annotations

import pytest

from appliance.errors import FilterError
from appliance.events.redaction import MASK, parse_redaction_filters

PASSWORD = r'{"redact": ["(?:--password|-p)(?:\\s+|=)(\\S*)"]}'


def redacted(filters: str, arguments: str, binary: str = "/usr/bin/mysql") -> str:
    proc = {"binary": binary, "arguments": arguments}
    parse_redaction_filters(filters).redact(proc)
    return proc["arguments"]


def test_capture_groups_are_masked():
    assert redacted(PASSWORD, "--password=foo -u root") == f"--password={MASK} -u root"
    assert redacted(PASSWORD, "-u root -p secret --password bar") == (
        f"-u root -p {MASK} --password {MASK}"
    )
    assert redacted(PASSWORD, "-u root") == "-u root"


def test_a_pattern_without_groups_redacts_nothing():
    assert redacted('{"redact": ["secret"]}', "a secret") == "a secret"


def test_several_groups_and_overlaps():
    two = r'{"redact": ["user=(\\w+):(\\w+)"]}'
    assert redacted(two, "x user=al:pw y") == f"x user={MASK}:{MASK} y"
    nested = r'{"redact": ["key=((\\w+)-(\\w+))"]}'
    assert redacted(nested, "key=ab-cd") == f"key={MASK}"


def test_binary_regex_restricts_the_filter():
    f = r'{"redact": ["--key=(\\S+)"], "binary_regex": ["/curl$"]}'
    assert redacted(f, "--key=k", "/usr/bin/curl") == f"--key={MASK}"
    assert redacted(f, "--key=k", "/usr/bin/wget") == "--key=k"


def test_match_takes_event_filters():
    f = r'{"match": [{"binary_regex": ["^/usr/bin/curl$"]}], "redact": ["--key=(\\S+)"]}'
    assert redacted(f, "--key=k", "/usr/bin/curl") == f"--key={MASK}"
    assert redacted(f, "--key=k", "/usr/bin/wget") == "--key=k"


def test_several_filters_in_one_setting():
    fs = r'{"redact": ["a=(\\S+)"]}' + "\n" + r'{"redact": ["b=(\\S+)"]}'
    assert redacted(fs, "a=1 b=2 c=3") == f"a={MASK} b={MASK} c=3"


def test_nothing_to_redact():
    assert not parse_redaction_filters("")
    proc = {"binary": "/bin/true"}
    assert not parse_redaction_filters(PASSWORD).redact(proc) and "arguments" not in proc


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"redact": ["("]}', "filter 1: redact: invalid regular expression '('"),
        ('{"binary_regex": ["x"]}', "filter 1: redact: at least one regular expression"),
        ('{"redact": ["(a)"]} {"redact": "(b)", "bogus": 1}', "filter 2: unknown field 'bogus'"),
        ('{"redact": [1]}', "filter 1: redact: expected a list of regular expressions"),
        ('{"redact": ["(a)"], "match": [{"nope": 1}]}', "filter 1: match: "),
        ("[1]", "filter 1: expected a JSON object"),
        ('{"redact": ', "filter 1: not a JSON object"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(text, reason):
    with pytest.raises(FilterError) as e:
        parse_redaction_filters(text)
    assert reason in str(e.value)
