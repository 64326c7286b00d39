"""`alarmfilter review` errors are one line and exit 2."""

from __future__ import annotations

import socket

import pytest

from alarmfilter.cli import main


def test_a_taken_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["review", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "Traceback" not in err


def test_no_broker_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens once closed
    monkeypatch.setenv("ALARMFILTER_BROKER", f"kafka://127.0.0.1:{dead}")
    assert main(["review", "--port", "0", "--broker-wait", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alarmfilter review: error: no broker at") and err.count("\n") == 1
