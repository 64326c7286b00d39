"""Logging for the long-running drivers: one record per line of meaning, text or JSON.

`configure_logging(level, fmt)` replaces whatever handlers the root logger has with one on
stderr. Library start-up chatter (faust, mode, aiokafka at INFO) is shown at DEBUG only, so
the worker's own lines (start-up summary, status, failures) are what an operator reads;
library warnings and errors still show. A traceback stays with its record: in text as the
lines under it, in JSON inside the one object (`exc_info`), never one token per line.

>>> import io
>>> stream = io.StringIO()
>>> configure_logging("info", "json", stream=stream)
>>> logging.getLogger("alarmfilter.x").info("decided %d alarms", 3)
>>> logging.getLogger("faust.worker").info("Starting...")      # boilerplate: DEBUG only
>>> rec = json.loads(stream.getvalue())
>>> rec["level"], rec["logger"], rec["message"]
('INFO', 'alarmfilter.x', 'decided 3 alarms')
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: loggers whose INFO records are start-up and rebalance chatter: shown at DEBUG
CHATTY_LOGGERS = ("faust", "mode", "aiokafka", "kafka")
#: a library's warning or error repeated within this many seconds is counted, not printed again
#: (aiokafka logs "Unable connect to node" dozens of times a second while the broker is down)
LIBRARY_REPEAT_SECONDS = 30.0


class _DemoteChatter(logging.Filter):
    """Library INFO records become DEBUG: dropped unless the level is DEBUG."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.name.split(".", 1)[0] in CHATTY_LOGGERS:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.level <= logging.DEBUG
        return True


class _LibraryRepeats(logging.Filter):
    """A library's warning or error (same logger and message template) shows once per
    LIBRARY_REPEAT_SECONDS; the next one after that says how many were held back."""

    def __init__(self, clock: Any = None) -> None:
        super().__init__()
        import time

        self.clock = clock or time.monotonic
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # key -> (shown at, held back since)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.name.split(".", 1)[0] not in CHATTY_LOGGERS:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        shown, held = self._seen.get(key, (float("-inf"), 0))
        if now - shown < LIBRARY_REPEAT_SECONDS:
            self._seen[key] = (shown, held + 1)
            return False
        if len(self._seen) > 1000:  # bounded: forget old templates
            self._seen.clear()
        self._seen[key] = (now, 0)
        if held:
            record.msg, record.args = f"{record.getMessage()} [{held} more like this held back]", None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (ISO 8601 UTC), level, logger, message, exc_info when any."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str | int, fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Root logger: one handler on `stream` (stderr), `fmt` text or json; library chatter at DEBUG."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: expected one of {', '.join(FORMATS)}")
    numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise ValueError(  # noqa: TRY004 -- a bad setting value, reported as one line like the others
            f"log level {level!r}: expected debug, info, warning or error")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_DemoteChatter(numeric))
    handler.addFilter(_LibraryRepeats())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    threading.excepthook = _thread_excepthook  # a dying thread's traceback goes through the same handler


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    """Uncaught exceptions of threads (faust's consumer thread) as one log record, not raw stderr;
    a cancellation while the worker stops is expected and shown at DEBUG only."""
    if args.exc_type is SystemExit:
        return
    level = logging.DEBUG if args.exc_type is asyncio.CancelledError else logging.ERROR
    name = args.thread.name if args.thread is not None else "?"
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback) if args.exc_value is not None else None
    logging.getLogger("alarmfilter.threads").log(level, "uncaught %s in thread %s", args.exc_type.__name__, name,
                                                 exc_info=exc_info)
