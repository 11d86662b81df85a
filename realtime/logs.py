"""Logging set-up for a Convene process: console lines by default, one JSON object per line with LOG_FORMAT=json.

Every record, from our loggers, uvicorn's (server and access log) and any library's, goes through
one handler on the root logger, which adds the context (realtime/log_context.py) and masks secrets
(realtime/redaction.py). The rule an operator can rely on (docs/operations.md, "Logs"): every line
carries `request_id` or `connection_id`. A line written for an HTTP request carries its request id;
one written for a socket carries its connection id (and its handshake's request id); a line the
process writes on its own (start-up, shutdown, a background loop) carries `task`, the name of the
work, and `request_id` "task:<that name>", so one grep finds a background job's lines too.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from datetime import datetime, timezone
from typing import Literal

import orjson

from realtime import log_context
from realtime.redaction import RedactingFilter

LogFormat = Literal["console", "json"]
LOG_FORMATS: tuple[str, ...] = ("console", "json")
CONTEXT_FIELDS = ("request_id", "connection_id", "member_id", "room", "task")
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _work_name(default_task: str) -> str:
    """The name of what the process is doing on its own: a named asyncio task, a phase, a thread."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    if task is not None:
        name = task.get_name()
        if not name.startswith("Task-"):
            return name
    phase = log_context.phase.get()
    if phase:
        return phase
    thread = threading.current_thread()
    if thread is not threading.main_thread():
        return thread.name
    return default_task


class ContextFilter(logging.Filter):
    """Puts the request, socket, member, room and task in hand on each record."""

    def __init__(self, default_task: str) -> None:
        super().__init__()
        self.default_task = default_task

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = log_context.request_id.get()
        connection_id = log_context.connection_id.get()
        record.request_id = request_id
        record.connection_id = connection_id
        record.member_id = log_context.member_id.get()
        record.room = log_context.room.get()
        record.task = None
        if request_id is None and connection_id is None:
            record.task = _work_name(self.default_task)
            record.request_id = f"task:{record.task}"
        return True


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "event", "logger", "pid", request_id/connection_id/member_id/room/task, "exception"?}`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                          .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
            "pid": record.process,
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    """`time LEVEL logger: message [connection … member … room …]` for a developer's terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in ("connection_id", "member_id", "room")
                           if getattr(record, name, None) is not None)
        return f"{line} [{context}]" if context else line


class _ConveneHandler(logging.StreamHandler):
    """Ours, so set-up can replace it without touching handlers others installed (pytest's, say)."""


def configure_logging(log_format: str = "console", *, level: int = logging.INFO,
                      default_task: str = "server") -> None:
    """Installs the one handler (idempotent) and routes uvicorn's loggers through it.
    `default_task`: what lines written outside any request, socket or named task are attributed to."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = _ConveneHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    handler.addFilter(ContextFilter(default_task))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ConveneHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _UVICORN_LOGGERS:
        # uvicorn installed its own handlers before loading the app; its records now come to ours
        # (its levels, e.g. --log-level warning silencing the access log, still apply).
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    logging.captureWarnings(True)
    _log_uncaught()


def _log_uncaught() -> None:
    """An exception nobody caught is a log line too, not a bare traceback on stderr."""
    crash = logging.getLogger("convene.uncaught")

    def on_exception(kind, value, traceback) -> None:   # type: ignore[no-untyped-def]
        crash.critical("uncaught %s", kind.__name__, exc_info=(kind, value, traceback))

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit:
            crash.critical("uncaught %s in thread %s", args.exc_type.__name__,
                           args.thread.name if args.thread else "?",
                           exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception
