"""protoweb's logging: the default setup, and an access log cheap enough to leave on.

Three loggers: ``protoweb.server`` (listening, shutting down), ``protoweb.access`` (one
line per response), ``protoweb.error`` (tracebacks). ``configure_logging`` sends them
to stderr unless the program has configured logging itself.

Logging every response with ``logger.info`` costs about as much as answering it (a
LogRecord, the time formatted, a write and a flush per line: measured, keep-alive
throughput fell to 0.28x of the same server without its log). So in the default setup
a response only appends a tuple to the AccessLog, which formats the lines and writes
them in one piece: when a batch is full, a moment after the first line of a batch,
and when the server stops. A program that configures logging itself gets one
``protoweb.access`` record per response instead, at the time of the response: its
handlers, its choice of cost.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from typing import TextIO

access_logger = logging.getLogger("protoweb.access")

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # AccessLog writes lines of this shape
_default_handler: logging.StreamHandler[TextIO] | None = None  # the stderr handler configure_logging installed

FLUSH_AFTER = 0.1  # seconds: how long a line may wait to be written
BATCH = 256  # lines: written at once when this many are waiting

# A line waiting to be written: (time, client, method, url, HTTP version, status).
Line = tuple[float, tuple[str, int] | None, str | None, str, str, int]


def configure_logging(level: int | str | None = None) -> None:
    """Send protoweb's log to stderr, unless the program has configured logging itself."""
    global _default_handler
    package = logging.getLogger("protoweb")
    if level is not None:
        package.setLevel(level)
    if not logging.getLogger().handlers and not package.handlers:
        _default_handler = logging.StreamHandler(sys.stderr)
        _default_handler.setFormatter(logging.Formatter(FORMAT))
        package.addHandler(_default_handler)
        if package.level == logging.NOTSET:
            package.setLevel(logging.INFO)


class AccessLog:
    """``add`` one line per response; ``flush`` writes what is still waiting."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream  # None: each line is a record of access_logger, logged at once
        self._waiting: list[Line] = []
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def for_server(cls, enabled: bool) -> AccessLog | None:
        """The access log a server should keep: None when it is off (Config.access_log
        or the logger's level); batched onto stderr when protoweb's default setup is the
        only place its lines would go, unfiltered; line by line through logging otherwise."""
        if not enabled or not access_logger.isEnabledFor(logging.INFO):
            return None
        package = logging.getLogger("protoweb")
        if (_default_handler is not None and package.handlers == [_default_handler]
                and not access_logger.handlers and not logging.getLogger().handlers and access_logger.propagate
                and not (access_logger.filters or package.filters or _default_handler.filters)):
            return cls(_default_handler.stream)
        return cls()

    def add(self, client: tuple[str, int] | None, method: str | None, url: str, version: str, status: int) -> None:
        """One response; ``method`` None for an answer to a request that could not be read."""
        if self.stream is None:
            access_logger.info("%s", _message(client, method, url, version, status))
            return
        waiting = self._waiting
        waiting.append((time.time(), client, method, url, version, status))
        if len(waiting) >= BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, []
        if not waiting or self.stream is None:  # nothing waits when each line is a record
            return
        try:
            self.stream.write("".join(_lines(waiting)))
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed under us: as logging does, never stop serving for it
            pass


def _message(client: tuple[str, int] | None, method: str | None, url: str, version: str, status: int) -> str:
    """``127.0.0.1:50312 - "GET /users/1 HTTP/1.1" 200``"""
    who = f"{client[0]}:{client[1]}" if isinstance(client, tuple) else str(client or "-")
    return f'{who} - "{method} {url} HTTP/{version}" {status}' if method else f'{who} - "-" {status}'


def _lines(waiting: list[Line]) -> Iterator[str]:
    """The lines as FORMAT would make them (asctime as logging.Formatter writes it)."""
    second, stamp = -1, ""
    for created, client, method, url, version, status in waiting:
        if int(created) != second:  # time.strftime once a second, not once a line
            second = int(created)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        message = _message(client, method, url, version, status)
        yield f"{stamp},{int((created - second) * 1000):03d} INFO protoweb.access: {message}\n"
