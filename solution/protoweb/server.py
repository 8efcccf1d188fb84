"""HTTPServer: listening, one HTTPConnection per client, graceful shutdown; and run().

    run(app, "127.0.0.1", 8000, Config())   # what App.run and python -m protoweb call

On SIGINT or SIGTERM the server stops accepting, closes idle connections, lets the
requests in flight finish (for at most ``Config.shutdown_timeout``), then closes the
rest. A second signal skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING

from protoweb.config import Config
from protoweb.connection import HTTPConnection, access_logger

if TYPE_CHECKING:
    from protoweb.app import App

logger = logging.getLogger("protoweb.server")


class HTTPServer:
    """The listening side: what every HTTPConnection shares (app, config, registry)."""

    def __init__(self, app: App, config: Config | None = None) -> None:
        self.app = app
        self.config = config if config is not None else app.config
        self.connections: set[HTTPConnection] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._done: asyncio.Event | None = None  # set when shutdown may stop waiting
        self._sweeper: asyncio.TimerHandle | None = None
        self.new_task: Callable[[Coroutine], asyncio.Task] = asyncio.ensure_future  # start() picks the best
        self.shutting_down = False
        self.access_log = self.config.access_log and access_logger.isEnabledFor(logging.INFO)
        # How often deadlines are checked: a tenth of the shortest timeout, so a timeout
        # fires at most 10% late (and never more than a second late).
        self.sweep_interval = min(1.0, max(0.01, min(
            self.config.keep_alive_timeout, self.config.request_timeout, self.config.send_timeout) / 10))

    async def start(self, host: str, port: int) -> list[tuple[str, int]]:
        """Bind and listen; return the real addresses (``port=0`` picks a free port)."""
        self.loop = asyncio.get_running_loop()
        self.new_task = self._task_maker(self.loop)
        self._done = asyncio.Event()
        self._server = await self.loop.create_server(
            lambda: HTTPConnection(self), host, port, backlog=self.config.backlog
        )
        self._sweeper = self.loop.call_later(self.sweep_interval, self._sweep)
        addresses = [sock.getsockname()[:2] for sock in self._server.sockets]
        for bound_host, bound_port in addresses:
            logger.info("Listening on %s:%d", bound_host, bound_port)
        return addresses

    @staticmethod
    def _task_maker(loop: asyncio.AbstractEventLoop) -> Callable[[Coroutine], asyncio.Task]:
        """How each handler's Task is made: ``new_task(coroutine)``."""
        if loop.get_task_factory() is not None:
            return loop.create_task  # the loop has a task factory of its own: it stays in charge
        if sys.version_info >= (3, 12):
            # An eager Task runs its coroutine at once, up to its first await, rather than
            # on the loop's next turn (asyncio.Task's eager_start, new in 3.12).
            return partial(asyncio.Task, loop=loop, eager_start=True)
        return partial(asyncio.Task, loop=loop)

    def _sweep(self) -> None:
        """Act on every connection whose deadline has passed; come back in a moment."""
        # Rescheduled first: should one connection fail here, the others still get swept.
        self._sweeper = self.loop.call_later(self.sweep_interval, self._sweep)  # type: ignore[union-attr]
        now = self.loop.time()  # type: ignore[union-attr]
        for connection in [c for c in self.connections if c.deadline is not None and c.deadline <= now]:
            connection.deadline_passed()

    def connection_closed(self, connection: HTTPConnection) -> None:
        self.connections.discard(connection)
        if self.shutting_down and not self.connections:
            self._done.set()  # type: ignore[union-attr]

    async def shutdown(self) -> None:
        """Stop accepting, finish what is in flight (bounded), close every connection."""
        assert self._server is not None and self._done is not None
        self.shutting_down = True
        self._server.close()
        for connection in list(self.connections):
            connection.shutdown()
        if self.connections:
            logger.info("Waiting for %d connection(s) to finish", len(self.connections))
            try:
                await asyncio.wait_for(self._done.wait(), self.config.shutdown_timeout)
            except asyncio.TimeoutError:
                pass
        if self.connections:
            logger.warning("Closing %d connection(s) that did not finish in time", len(self.connections))
            for connection in list(self.connections):
                connection.abort()
            await asyncio.sleep(0)  # let the aborted transports call connection_lost
        self._sweeper.cancel()  # type: ignore[union-attr]
        await self._server.wait_closed()

    def hurry(self) -> None:
        """Stop waiting for connections to finish (a second Ctrl-C)."""
        if self._done is not None:
            self._done.set()


async def serve(app: App, host: str, port: int, config: Config | None = None) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully."""
    server = HTTPServer(app, config)
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            server.hurry()
        stop.set()

    # The handlers first: a Ctrl-C that comes the moment we say "Listening on" must find
    # them in place, or it would skip the graceful shutdown.
    restore = _handle_signals(on_signal)
    try:
        await server.start(host, port)
        await stop.wait()
        logger.info("Shutting down")
        await server.shutdown()
    finally:
        restore()
    logger.info("Stopped")


def _handle_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` on SIGINT/SIGTERM; return the function that undoes it."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    try:
        for sig in signals:
            loop.add_signal_handler(sig, callback)
    except NotImplementedError:  # Windows: its event loops have no add_signal_handler
        return _handle_signals_portably(loop, signals, callback)
    except (RuntimeError, ValueError):  # not the main thread: signals are not ours to handle
        return lambda: None

    def restore() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    return restore


def _handle_signals_portably(loop, signals, callback):  # type: ignore[no-untyped-def]
    # A plain signal handler runs in the main thread between two bytecodes, perhaps in the
    # middle of the loop's own work, so all it does is ask the loop to call us back.
    previous = {sig: signal.signal(sig, lambda signum, frame: loop.call_soon_threadsafe(callback)) for sig in signals}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def configure_logging(level: int | str | None = None) -> None:
    """Send protoweb's log to stderr, unless the program has configured logging itself."""
    package = logging.getLogger("protoweb")
    if level is not None:
        package.setLevel(level)
    if not logging.getLogger().handlers and not package.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)
        if package.level == logging.NOTSET:
            package.setLevel(logging.INFO)


def run(app: App, host: str = "127.0.0.1", port: int = 8000, config: Config | None = None) -> None:
    """Serve ``app`` in this process until SIGINT/SIGTERM (Ctrl-C)."""
    configure_logging()
    try:
        asyncio.run(serve(app, host, port, config))
    except KeyboardInterrupt:  # a Ctrl-C before the signal handlers were in place
        pass
    except OSError as error:  # cannot listen: the port is taken, the address is not ours...
        logger.error("Cannot serve on %s:%d: %s", host, port, error)
        sys.exit(1)
