"""What a user reads after a typo, and the version they are shown."""

from __future__ import annotations

import pytest

from appliance.errors import SettingsError
from appliance.settings import load_settings
from appliance.version import from_describe


def test_a_mistyped_daemon_flag_gets_a_suggestion():
    with pytest.raises(SettingsError) as e:
        load_settings(["--export-filenam", "x"], {}, system_dirs=())
    assert "unrecognized arguments: --export-filenam x" in str(e.value)
    assert "(did you mean --export-filename?)" in str(e.value)


def test_tetra_shows_the_sub_commands_usage_and_a_suggestion(capsys):
    from appliance.cli.tetra import main

    with pytest.raises(SystemExit) as e:
        main(["getevents", "--outpt", "json"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: tetra getevents")
    assert "(did you mean --output?)" in err


@pytest.mark.parametrize(
    ("described", "commits", "dirty", "want"),
    [
        ("v1.2.0", 9, False, "1.2.0"),
        ("v1.2.0-3-gabc1234", 9, False, "1.2.0.dev3+gabc1234"),
        ("v1.2.0-3-gabc1234-dirty", 9, False, "1.2.0.dev3+gabc1234.dirty"),
        ("", 69, True, "0.1.0.dev69+gabc1234.dirty"),  # no release tag yet
    ],
)
def test_version_from_git(described, commits, dirty, want):
    assert from_describe(described, commits, "abc1234", dirty) == want


def test_the_checkout_has_a_real_version():
    from appliance import __version__

    assert __version__ != "0.1.0" and "+unknown" not in __version__
