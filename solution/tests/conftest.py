"""Fixtures for protoweb's tests: the feature app served by ``python -m protoweb``, as a real process.

- ``server``: one server per test module, default configuration;
- ``start_server(*options, app=..., env=...)``: a server to yourself, e.g. with short timeouts
  (``start_module_server``: the same, shared by a test module);
- ``send(srv, *pieces, ...)``: harness.checks.send against that server;
- ``converse(srv, *requests)``: several requests on one connection, every answer back;
- ``fd_count(pid)``.

Servers are started and stopped by harness.fixtures, as the step tests' are. Every
server's log is checked when it stops: no DeprecationWarning and none of the messages
asyncio prints when a protocol or a task misbehaves. A failure of ``send`` or
``converse`` shows what was sent and received, and what the server logged meanwhile.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import Connection, Exchange, FramingFailure, Response, ServerProcess
from harness.checks import connect, send
from harness.fixtures import one_server, servers

APPS = Path(__file__).parent / "apps"
CLI = APPS / "protoweb_cli.py"

# What asyncio logs when a callback raises, a task fails unobserved, a transport dies badly.
ASYNCIO_TROUBLE = re.compile(
    r"Exception in callback|exception was never retrieved|Task was destroyed|Fatal error|"
    r"call failed|Unhandled exception|DeprecationWarning|ResourceWarning"
)


def check_log(srv: ServerProcess) -> None:
    found = ASYNCIO_TROUBLE.search(srv.log())
    assert found is None, f"the server logged {found.group(0)!r}:\n{srv.log()}"


def protoweb_server(*options: str, app: str = "feature_app:app", env: dict[str, str] | None = None,
                    host: str = "127.0.0.1") -> ServerProcess:
    """A ``python -m protoweb APP OPTIONS`` server (not started yet), run from tests/apps."""
    return ServerProcess(CLI, app, *options, env={"PYTHONWARNINGS": "default", **(env or {})}, host=host,
                         hand_port=8000)  # protoweb's default, as uvicorn's


@pytest.fixture(scope="module")
def server():
    yield from one_server(protoweb_server, check_log)


@pytest.fixture
def start_server():
    """``start_server(*options, app=..., env=...)``: a server of your own, stopped after the test."""
    yield from servers(protoweb_server, check_log)


@pytest.fixture(scope="module")
def start_module_server():
    """The same, shared by the tests of a module: stopped after the module's last test."""
    yield from servers(protoweb_server, check_log)


@pytest.fixture(name="send")
def send_fixture():
    """``send(srv, *pieces, **options)``: raw bytes to ``srv``, its answer back (harness.checks.send)."""
    return send


@dataclass
class Conversation:
    """Requests sent on one connection and the answers read back (``responses``), with
    the whole exchange: what was sent and received, what the server logged meanwhile."""

    exchange: Exchange
    responses: list[Response]
    stopped: str = ""  # why reading stopped before every request had its answer ('' if it did not)

    @property
    def closed(self) -> bool:
        """The server closed the connection (or reset it)."""
        return self.exchange.closed or self.exchange.reset

    @property
    def received(self) -> bytes:
        return self.exchange.received

    def summary(self) -> str:
        said = f"{len(self.responses)} answer(s), connection {'closed' if self.closed else 'open'}"
        return said + (f"; then {self.stopped}" if self.stopped else "")

    def explain(self, problem: str = "") -> str:
        """For a failing check (``assert ..., result.explain()``): the answers, why reading
        stopped, what was sent and received, what the server logged meanwhile."""
        return self.exchange.explain("\n".join(filter(None, [problem, self.summary()])))

    def __repr__(self) -> str:
        return f"<Conversation: {self.summary()}>"

    def read(self, conn: Connection, heads: list[bool], until: float) -> None:
        """Read answers until one does not come whole by ``until`` (monotonic time): an
        answer to each request in ``heads`` (True: a HEAD request, whose answer has no
        body), and any further answer already received."""
        while True:
            number = len(self.responses)
            expected = number < len(heads)
            try:
                self.responses.append(conn.read_response(max(until - time.monotonic(), 0) if expected else 0,
                                                         head_only=expected and heads[number]))
            except FramingFailure:
                raise  # bytes that no more bytes can make HTTP/1.1: a failure, whatever the test counts
            except AssertionError as error:  # no answer (the server closed, or was silent), or half of one
                if expected:
                    self.stopped = str(error).split("\n", 1)[0]
                return
            self.stopped = ""


def converse(srv: ServerProcess, *requests: bytes, timeout: float = 5.0, then: float = 0.0) -> Conversation:
    """Send ``requests`` on one connection, in one write (pipelined); read an answer to each,
    strictly (harness.wire.Connection), until one does not come: the server closes, says
    nothing more, or ``timeout`` passes; then up to ``then`` seconds more, to see a close.

    Reading stops quietly where an answer does not come whole, so that a test can count
    the answers and see the close (``stopped`` says why it stopped); bytes that cannot
    be HTTP/1.1 fail at once (harness.FramingFailure)."""
    heads = [raw.startswith(b"HEAD ") for raw in requests]
    with connect(srv, timeout) as conn:
        conn.send(b"".join(requests))
        conversation = Conversation(conn.exchange, [])
        conversation.read(conn, heads, time.monotonic() + timeout)
        if then and not conversation.closed:
            conn.wait_closed(then)
            conversation.read(conn, heads, 0)  # what came meanwhile
    return conversation


@pytest.fixture(name="converse")
def converse_fixture():
    """``converse(srv, *requests, timeout=5, then=0)``: see :func:`converse`."""
    return converse


@pytest.fixture
def fd_count():
    """``fd_count(pid)``: how many file descriptors that process has open (Linux only)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("counting file descriptors needs /proc")
    return lambda pid: len(os.listdir(f"/proc/{pid}/fd"))
