"""The live worker's log, carried into the server's: the worker writes records as JSON lines on its
stderr, and a thread in the server logs each again through the server's own set-up.

So the worker's lines share the server's format (console or LOG_FORMAT=json), context and secret
masking, and whatever else reaches its stderr (a native library's message, a crash) still arrives
as a proper log record rather than a stray line in a JSON log.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import IO

import orjson

WORKER_LOGGER = "recordings.live.worker"


class LineFormatter(logging.Formatter):
    """Worker side: one JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelno, "logger": record.name, "event": record.getMessage()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def log_to_server() -> None:
    """Called first thing in the worker process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def _relay(stream: IO[bytes]) -> None:
    for raw in stream:
        text = raw.decode(errors="replace").rstrip("\n")
        if not text:
            continue
        try:
            line = orjson.loads(text)
            level, name, event = int(line["level"]), str(line["logger"]), str(line["event"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            level, name, event, line = logging.WARNING, WORKER_LOGGER, text, {}
        if line.get("exception"):
            event = f"{event}\n{line['exception']}"
        logging.getLogger(name).log(level, "%s", event)


def relay_in_thread(stream: IO[bytes], name: str) -> threading.Thread:
    """Server side: relays the worker's stderr until it closes (the worker exited)."""
    thread = threading.Thread(target=_relay, args=(stream,), name=name, daemon=True)
    thread.start()
    return thread
