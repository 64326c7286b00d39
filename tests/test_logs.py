"""Worker logging: a traceback stays with its record (text: the lines under it; JSON: one object);
faust's own stdout redirect (one WARNING line per written token) is off."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from alarmfilter.logs import configure_logging


@pytest.fixture
def restore_root_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # a library configured in-process by an earlier test (faust's dictConfig disables the loggers that
    # exist then) must not hide what these tests log: enable them here, restore them after
    loggers = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.disabled, lg.level, lg.propagate) for lg in loggers]
    globally_disabled = logging.root.manager.disable
    logging.disable(logging.NOTSET)
    for lg in loggers:
        lg.disabled, lg.propagate = False, True
        lg.setLevel(logging.NOTSET)
    yield
    for lg, disabled, lg_level, propagate in saved:
        lg.disabled, lg.propagate = disabled, propagate
        lg.setLevel(lg_level)
    logging.disable(globally_disabled)
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def _boom(log: logging.Logger) -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("engine failed on bed %s", "ICU1-03")


def test_text_traceback_is_one_record(restore_root_logging) -> None:
    stream = io.StringIO()
    configure_logging("info", "text", stream=stream)
    _boom(logging.getLogger("alarmfilter.test"))
    lines = stream.getvalue().splitlines()
    assert " ERROR alarmfilter.test: engine failed on bed ICU1-03" in lines[0]
    assert lines[1] == "Traceback (most recent call last):" and lines[-1].startswith("ZeroDivisionError")
    assert sum(" ERROR " in x or " WARNING " in x for x in lines) == 1  # not one log line per token


def test_json_traceback_is_one_line(restore_root_logging) -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream=stream)
    logging.getLogger("alarmfilter.test").info("not shown at warning")
    _boom(logging.getLogger("alarmfilter.test"))
    (line,) = stream.getvalue().splitlines()
    rec = json.loads(line)
    assert rec["level"] == "ERROR" and rec["message"] == "engine failed on bed ICU1-03"
    assert rec["exc_info"].startswith("Traceback") and "ZeroDivisionError" in rec["exc_info"]


def test_library_chatter_only_at_debug(restore_root_logging) -> None:
    for level, shown in (("info", False), ("debug", True)):
        stream = io.StringIO()
        configure_logging(level, "text", stream=stream)
        logging.getLogger("faust.worker").info("[^Worker]: Starting...")
        logging.getLogger("aiokafka.consumer").warning("Heartbeat failed")  # a library's warning always shows
        text = stream.getvalue()
        assert ("Starting..." in text) is shown and "Heartbeat failed" in text


def test_bad_format_or_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        configure_logging("info", "xml")
    with pytest.raises(ValueError, match="log level"):
        configure_logging("loud", "text")


def test_the_faust_worker_leaves_logging_and_stdout_alone(tmp_path: Path, restore_root_logging) -> None:
    from alarmfilter.cli.engines import engine_factory
    from alarmfilter.kafka.app import BoundedStopWorker, KafkaWorker
    from alarmfilter.settings import Settings

    settings = Settings(_env_file=None, metrics_port=0, data_dir=tmp_path)
    worker = BoundedStopWorker(KafkaWorker(settings, engine_factory(quiet=True)), "info")
    assert not worker.redirect_stdouts and not worker.override_logging and worker.spinner is None


def test_a_library_error_repeated_while_the_broker_is_down_shows_once_per_window(restore_root_logging) -> None:
    from alarmfilter.logs import LIBRARY_REPEAT_SECONDS, _LibraryRepeats

    now = [0.0]
    quiet = _LibraryRepeats(clock=lambda: now[0])
    stream = io.StringIO()
    configure_logging("info", "text", stream=stream)
    handler = logging.getLogger().handlers[0]
    handler.filters = [f for f in handler.filters if not isinstance(f, _LibraryRepeats)] + [quiet]
    lib, own = logging.getLogger("aiokafka"), logging.getLogger("alarmfilter.kafka.app")
    for _ in range(300):  # ten seconds of "Unable connect to node" at 30 a second
        lib.error("Unable connect to node with id %s: %s", 111, "Connect call failed")
        own.warning("our own warnings are never held back")
        now[0] += 1 / 30
    now[0] = LIBRARY_REPEAT_SECONDS + 1
    lib.error("Unable connect to node with id %s: %s", 111, "Connect call failed")
    lines = stream.getvalue().splitlines()
    library = [x for x in lines if "Unable connect" in x]
    assert len(library) == 2 and "[299 more like this held back]" in library[1], library
    assert sum("our own warnings" in x for x in lines) == 300


def test_a_dying_thread_is_one_log_record(restore_root_logging) -> None:
    import threading

    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        t = threading.Thread(target=lambda: 1 / 0, name="consumer-thread")
        t.start()
        t.join()
    finally:
        threading.excepthook = threading.__excepthook__
    (line,) = stream.getvalue().splitlines()
    rec = json.loads(line)
    assert rec["message"] == "uncaught ZeroDivisionError in thread consumer-thread" and "Traceback" in rec["exc_info"]
