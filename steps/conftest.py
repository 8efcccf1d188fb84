"""Fixtures for the step tests: a step's server as a real process, and its client.

Every step's tests use the same three fixtures:

- ``server``: the step's ``server.py`` (or the file given with ``--server PATH`` /
  ``STEP_SERVER=PATH``) started once per test module on a free port;
- ``start_server``: a fresh server for tests that need one to themselves;
- ``run_client``: runs the step's ``client.py`` (or ``--client PATH`` / ``STEP_CLIENT=PATH``)
  against a port, bounded in time;

and step 11's also ``uvicorn_server`` / ``start_uvicorn``: the same file's ``app`` served by
uvicorn, an existing ASGI server.

After a server stops we check its log for DeprecationWarnings: the step code must
keep working on every Python from 3.10 on, and a deprecation is how that breaks first.
(harness.fixtures starts, stops and checks the servers, for the solution's tests too.)

One mistake, one failure: when a server's answer is not HTTP/1.1 at all (a bare \\n
ending a line, a Content-Length that counts characters), the first check that sees it
fails with the whole story (harness.wire.FramingFailure), and every later check of the
same server file that fails for the same problem is skipped, in one line that points
back to it. A server whose answers are valid HTTP never sees one of these skips. Nor
does a server that sends no byte at all: that is no framing problem, and it fails as
harness.wire.NoAnswer ("no answer to request N", with the likely causes) in every test
where it happens.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import FramingFailure, ServerProcess
from harness.fixtures import one_server, servers
from harness.process import run_script

CLIENT_TIMEOUT = 20.0


def _server_script(request: pytest.FixtureRequest) -> Path:
    return _script_for(request.config, Path(request.module.__file__))


def _script_for(config: pytest.Config, test_file: Path) -> Path:
    chosen = config.getoption("--server") or os.environ.get("STEP_SERVER")
    if chosen:
        return Path(chosen).resolve()
    return test_file.parent / "server.py"


# (server file, kind of problem) -> the test (node id) that showed it in full
_FRAMING_SHOWN: dict[tuple[Path, str], str] = {}


def _framing_failure(error: BaseException | None) -> FramingFailure | None:
    """The FramingFailure behind ``error``, if any: a test may catch one and raise its own
    AssertionError with more advice, which still has the FramingFailure as its cause."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, FramingFailure):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """The first framing failure of a server file fails in full; a later test that fails
    because of the same problem is skipped with a one-line reason instead."""
    try:
        return (yield)
    except Exception as error:
        failure = _framing_failure(error)
        if failure is None:
            raise
        problem = failure.problem
        item.framing_failure = problem  # for a fixture's teardown: the test already said what is wrong
        first = _FRAMING_SHOWN.setdefault((_script_for(item.config, item.path), problem.kind), item.nodeid)
        if first == item.nodeid:
            # (`tutorial check` stops at the first failure: there, no skip follows to explain.)
            if not item.config.pluginmanager.has_plugin("tutorial-task-runner"):
                failure.args = (f"{failure.args[0]}\n(Fix this first: the step's other checks that fail for the "
                                "same reason are skipped, with 'see the framing failure above'.)",)
            raise
        # The same reason for every such skip: pytest's summary folds them into one line.
        pytest.skip(f"see the framing failure above ({first.split('::')[-1]}: {problem.summary})")


def pytest_terminal_summary(terminalreporter) -> None:
    """List the skipped checks in the short summary (as ``-rs`` would), so that each one
    shows its reason: the framing failure it comes from."""
    if _FRAMING_SHOWN and "s" not in terminalreporter.reportchars:
        terminalreporter.reportchars += "s"


def _assert_no_deprecations(server: ServerProcess) -> None:
    log = server.log()
    assert "DeprecationWarning" not in log, f"the server's code raised a DeprecationWarning:\n{log}"


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest):
    yield from one_server(lambda: ServerProcess(_server_script(request)), _assert_no_deprecations)


@pytest.fixture
def start_server(request: pytest.FixtureRequest):
    """Start a server of this step to yourself: ``srv = start_server()``; stopped after the test."""
    yield from servers(lambda *args: ServerProcess(_server_script(request), *args), _assert_no_deprecations)


@pytest.fixture(scope="module")
def uvicorn_server(request: pytest.FixtureRequest):
    """The ``app`` of the step's server.py (or of ``--server PATH``) served by uvicorn, an
    existing ASGI server, with two worker processes; started once per test module."""
    yield from one_server(lambda: ServerProcess.uvicorn(_server_script(request), workers=2), _assert_no_deprecations)


@pytest.fixture
def start_uvicorn(request: pytest.FixtureRequest):
    """uvicorn serving this step's ``app`` to yourself: ``srv = start_uvicorn("--timeout-keep-alive", "1",
    workers=1)``; stopped after the test."""
    yield from servers(
        lambda *options, workers=1: ServerProcess.uvicorn(_server_script(request), *options, workers=workers),
        _assert_no_deprecations)


@pytest.fixture
def run_client(request: pytest.FixtureRequest):
    """Run this step's client.py against ``port``; returns the CompletedProcess (text)."""
    chosen = request.config.getoption("--client") or os.environ.get("STEP_CLIENT")
    client = Path(chosen).resolve() if chosen else Path(request.module.__file__).parent / "client.py"

    def run(port: int, *args: str, timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess[str]:
        done = run_script(client, "--host", "127.0.0.1", "--port", str(port), *args, timeout=timeout)
        assert "DeprecationWarning" not in done.stderr, done.stderr
        return done

    return run
