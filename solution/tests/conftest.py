"""Fixtures for protoweb's tests: the feature app served by ``python -m protoweb``, as a real process.

- ``server``: one server per test module, default configuration;
- ``start_server(*options, app=..., env=...)``: a server to yourself, e.g. with short timeouts
  (``start_module_server``: the same, shared by a test module);
- ``send(srv, *pieces, ...)``: harness.exchange against that server;
- ``converse(srv, *requests)``: several requests on one connection, every answer back;
- ``fd_count(pid)``.

Every server's log is checked when it stops: no DeprecationWarning and none of the
messages asyncio prints when a protocol or a task misbehaves.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import Response, ServerProcess, exchange, parse_response

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
    return ServerProcess(CLI, app, *options, env={"PYTHONWARNINGS": "default", **(env or {})}, host=host)


@pytest.fixture(scope="module")
def server():
    srv = protoweb_server().start()
    try:
        yield srv
    finally:
        srv.stop()
    check_log(srv)


def _server_factory():
    started: list[ServerProcess] = []

    def start(*options: str, app: str = "feature_app:app", env: dict[str, str] | None = None,
              host: str = "127.0.0.1") -> ServerProcess:
        srv = protoweb_server(*options, app=app, env=env, host=host)
        started.append(srv)
        return srv.start()

    return start, started


def _stop_all(started: list[ServerProcess]) -> None:
    for srv in started:
        srv.stop()
    for srv in started:
        check_log(srv)


@pytest.fixture
def start_server():
    """``start_server(*options, app=..., env=...)``: a server of your own, stopped after the test."""
    start, started = _server_factory()
    yield start
    _stop_all(started)


@pytest.fixture(scope="module")
def start_module_server():
    """The same, shared by the tests of a module: stopped after the module's last test."""
    start, started = _server_factory()
    yield start
    _stop_all(started)


@pytest.fixture
def send():
    """``send(srv, *pieces, **options)``: raw bytes to ``srv``, its answer back (harness.exchange)."""
    def send(srv: ServerProcess, *pieces: bytes, **options):
        return exchange(srv.host, srv.port, *pieces, **options)
    return send


@dataclass
class Conversation:
    """The answers to requests sent on one connection, and whether the server then closed it."""

    responses: list[Response]
    closed: bool
    received: bytes

    def __str__(self) -> str:
        return f"{len(self.responses)} answer(s), connection {'closed' if self.closed else 'open'}: {self.received!r:.2000}"


def parse_all(data: bytes) -> list[Response]:
    """Every complete response at the start of ``data``."""
    responses = []
    try:
        while data:
            response, data = parse_response(data)
            responses.append(response)
    except ValueError:
        pass
    return responses


def converse(address, *requests: bytes, timeout: float = 5.0, then: float = 0.0) -> Conversation:
    """Send ``requests`` on one connection (pipelined); read until each has its answer,
    or the server closes, or ``timeout``; then up to ``then`` seconds more, to see a close."""
    data, closed = b"", False

    def receive(until: float) -> bool:  # False once the time is up
        nonlocal data, closed
        left = until - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            chunk = b""
        closed = not chunk
        data += chunk
        return True

    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(b"".join(requests))
        deadline = time.monotonic() + timeout
        while not closed and len(parse_all(data)) < len(requests) and receive(deadline):
            pass
        deadline = time.monotonic() + then
        while not closed and receive(deadline):
            pass
    return Conversation(parse_all(data), closed, data)


@pytest.fixture(name="converse")
def converse_fixture():
    """``converse(srv, *requests, timeout=5, then=0)``: see :func:`converse`."""
    return lambda srv, *requests, **options: converse(srv.address, *requests, **options)


@pytest.fixture
def fd_count():
    """``fd_count(pid)``: how many file descriptors that process has open (Linux only)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("counting file descriptors needs /proc")
    return lambda pid: len(os.listdir(f"/proc/{pid}/fd"))
