"""Fixtures for protoweb's tests: the feature app served by ``python -m protoweb``, as a real process.

- ``server``: one server per test module, default configuration;
- ``start_server(*options, app=..., env=...)``: a server to yourself, e.g. with short timeouts
  (``start_module_server``: the same, shared by a test module);
- ``send(srv, *pieces, ...)``: harness.exchange against that server; ``fd_count(pid)``.

Every server's log is checked when it stops: no DeprecationWarning and none of the
messages asyncio prints when a protocol or a task misbehaves.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from harness import ServerProcess, exchange

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


def protoweb_server(*options: str, app: str = "feature_app:app", env: dict[str, str] | None = None) -> ServerProcess:
    """A ``python -m protoweb APP OPTIONS`` server (not started yet), run from tests/apps."""
    return ServerProcess(CLI, app, *options, env={"PYTHONWARNINGS": "default", **(env or {})})


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

    def start(*options: str, app: str = "feature_app:app", env: dict[str, str] | None = None) -> ServerProcess:
        srv = protoweb_server(*options, app=app, env=env)
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


@pytest.fixture
def fd_count():
    """``fd_count(pid)``: how many file descriptors that process has open (Linux only)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("counting file descriptors needs /proc")
    return lambda pid: len(os.listdir(f"/proc/{pid}/fd"))
