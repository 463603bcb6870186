"""The dynamic log level signals: SIGRTMIN+20 debug, +21 trace, +22 the configured level."""

from __future__ import annotations

import logging
import os
import signal

import pytest

from appliance import logging_setup


@pytest.fixture
def restore():
    root = logging.getLogger()
    level = root.level
    saved = {n: signal.getsignal(signal.SIGRTMIN + n) for n in (20, 21, 22)}
    yield root
    root.setLevel(level)
    for n, handler in saved.items():
        signal.signal(signal.SIGRTMIN + n, handler)


def test_level_signals(restore):
    root = restore
    root.setLevel(logging.INFO)
    logging_setup.install_level_signals()
    os.kill(os.getpid(), signal.SIGRTMIN + 20)
    assert root.level == logging.DEBUG
    os.kill(os.getpid(), signal.SIGRTMIN + 21)
    assert root.level == 5  # trace
    os.kill(os.getpid(), signal.SIGRTMIN + 22)
    assert root.level == logging.INFO


def test_back_to_a_level_changed_at_run_time(restore):
    root = restore
    root.setLevel(logging.INFO)
    logging_setup.install_level_signals()
    logging_setup.set_configured_level("warn")  # a live --log-level change
    assert root.level == logging.WARNING
    os.kill(os.getpid(), signal.SIGRTMIN + 20)
    assert root.level == logging.DEBUG
    os.kill(os.getpid(), signal.SIGRTMIN + 22)
    assert root.level == logging.WARNING
