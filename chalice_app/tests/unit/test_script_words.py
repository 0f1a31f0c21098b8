"""What the QA phase scripts and trace.py say and take on their command line."""

import sys

import pytest
from scripts import trace

from tests.support import free_port, run_phase
from tests.test_websocket_basic import run as basic_phase


def test_a_phase_against_a_port_where_nothing_listens_says_how_to_start_a_stack(monkeypatch, capsys):
    uri = f"ws://127.0.0.1:{free_port()}/api"
    monkeypatch.setattr(sys, "argv", ["test_websocket_basic.py", "--uri", uri, "--timeout", "5"])
    assert run_phase(basic_phase, "QA phase 1", default_timeout=5) == 1
    out = capsys.readouterr().out
    assert f"cannot connect to {uri}: no server listens there" in out
    assert "make run" in out
    assert "ConnectionRefusedError" not in out


def test_a_phase_that_fails_otherwise_still_names_the_error(monkeypatch, capsys):
    def broken(uri, timeout):
        raise ValueError("bad frame")

    monkeypatch.setattr(sys, "argv", ["phase", "--uri", "ws://127.0.0.1:1/api"])
    assert run_phase(broken, "QA phase", default_timeout=5) == 1
    assert "FAIL: ValueError: bad frame" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--log-dir", "--logs-dir"])
def test_trace_takes_the_log_folder_flag_of_local_py_and_the_older_spelling(flag):
    assert trace.parse_args(["some-message-id", flag, "elsewhere/logs"]).log_dir == "elsewhere/logs"
