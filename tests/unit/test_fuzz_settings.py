"""Property-based tests of the drop-in settings parser: any file name and content in a
drop-in directory, any value of any setting, any tetragon.yaml.

Reading never raises anything but SettingsError (which names the file, the setting and
the reason), never runs longer than 5 s, and a refused value names its source.
"""

from __future__ import annotations

import string

from hypothesis import given, note, settings
from hypothesis import strategies as st

from appliance.errors import SettingsError
from appliance.settings import FLAG_NAMES, Settings, load_settings, parse_one
from tests.unit.policy_strategies import examples, no_hang

NAMES = sorted(FLAG_NAMES) + sorted(Settings.model_fields)
# values that look like what each kind of setting takes, and what it does not
VALUE_PARTS = [
    "true", "false", "yes", "0", "1", "-1", "2147483648", "18446744073709551616", "1.5",
    "10s", "1m", "2h", "-5s", "1h30m", "0x10", "0644", "0999", "localhost:54321",
    "unix:///var/run/tetragon/tetragon.sock", ":2112", "[::1]:80", "host:", "/var/log/x.log",
    "info", "debug", "json", "text", '{"event_set": ["PROCESS_EXEC"]}', "{", "[", "a,b",
    "\u00e9", "\x00", "\t", "\n", " ", '"', "'", "%s", "${X}", "~", "*",
]  # fmt: skip
values = st.one_of(
    st.lists(st.sampled_from(VALUE_PARTS), max_size=4).map("".join),
    st.text(max_size=60),
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "replace")),
)
names = st.one_of(
    st.sampled_from(NAMES),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.~#", min_size=1, max_size=30),
)


@settings(max_examples=examples(300))
@given(st.sampled_from(NAMES), values)
def test_one_value_parses_or_is_refused_with_its_source(name, text):
    note(repr(text))
    with no_hang("parse_one"):
        try:
            parse_one(name, text, "/etc/tetragon/tetragon.conf.d/" + name)
        except SettingsError as e:
            assert e.source.endswith(name) and e.reason, e
            assert name in str(e) or (e.key and e.key in str(e)), e


def _valid_name(n: str) -> bool:
    return n not in (".", "..") and "/" not in n and "\x00" not in n


@settings(max_examples=examples(60))
@given(
    st.dictionaries(names.filter(_valid_name), values, max_size=6),
    st.one_of(st.none(), values),
)
def test_a_dropin_directory_and_yaml_file_load_or_fail_with_a_reason(tmp_path_factory, files, yml):
    d = tmp_path_factory.mktemp("conf.d")
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8", errors="surrogateescape")
    yaml_file = d.parent / f"{d.name}.yaml"
    if yml is not None:
        yaml_file.write_text(yml, encoding="utf-8", errors="surrogateescape")
    note(repr(files))
    note(repr(yml))
    with no_hang("load_settings"):
        try:
            loaded = load_settings(
                argv=[], environ={}, system_dirs=[str(d)], yaml_file=str(yaml_file)
            )
        except SettingsError as e:
            assert e.source and e.reason, e
            assert e.source.startswith(str(d)) or e.source.startswith(str(yaml_file)), e
            return
    assert isinstance(loaded.settings, Settings)
