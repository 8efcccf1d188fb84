"""Server fixtures for pytest: the one copy, for the step tests (steps/conftest.py) and
the solution's (solution/tests/conftest.py).

``servers(make, check)`` is the body of a fixture that hands the test a function to
start servers with: each call makes a server with ``make`` and starts it; after the
test (or the module, for a module-scoped fixture) every one of them is stopped, then
``check`` looks at each one's log. ``one_server(make, check)`` is the same for a
fixture that is one server, started before its tests:

    @pytest.fixture
    def start_server():
        yield from servers(lambda *options: ServerProcess("server.py", *options), check=no_traceback)

    @pytest.fixture(scope="module")
    def server():
        yield from one_server(lambda: ServerProcess("server.py"), check=no_traceback)

``check(server)`` raises (an AssertionError, say) if the log shows something wrong: a
DeprecationWarning, what asyncio prints when a task fails unobserved... It runs after
every server has stopped, so that a server's last lines are in its log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from harness.process import ServerProcess

Check = Callable[[ServerProcess], None]


def servers(make: Callable[..., ServerProcess], check: Check | None = None) -> Iterator[Callable[..., ServerProcess]]:
    """Yield ``start(*args, **options)``, which makes a server with ``make(*args, **options)``,
    starts it and returns it; then stop every server started, and ``check`` each one's log."""
    started: list[ServerProcess] = []

    def start(*args: object, **options: object) -> ServerProcess:
        server = make(*args, **options)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()
    if check is not None:
        for server in started:
            check(server)


def one_server(make: Callable[[], ServerProcess], check: Check | None = None) -> Iterator[ServerProcess]:
    """Yield the server ``make()`` makes, started; then stop it and ``check`` its log."""
    started = servers(make, check)
    yield next(started)()
    next(started, None)  # resumes ``servers``: it stops the server, checks its log, and ends
