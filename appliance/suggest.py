"""'Did you mean' for a mistyped command-line flag, from the parser's own options."""

from __future__ import annotations

import argparse
import difflib

_UNRECOGNIZED = "unrecognized arguments: "


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings]


def did_you_mean(unknown: list[str], parser: argparse.ArgumentParser) -> str:
    """`` (did you mean --output?)`` for the first unknown flag close to a known one."""
    known = option_strings(parser)
    for arg in unknown:
        if not arg.startswith("-"):
            continue
        flag = arg.split("=", 1)[0]
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
        if close:
            return f" (did you mean {close[0]}?)"
    return ""


def with_suggestion(message: str, parser: argparse.ArgumentParser) -> str:
    """argparse's error ``message`` with a suggestion when it names unknown arguments."""
    if message.startswith(_UNRECOGNIZED):
        return message + did_you_mean(message[len(_UNRECOGNIZED) :].split(), parser)
    return message
