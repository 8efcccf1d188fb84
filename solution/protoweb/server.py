"""HTTPServer: listening, one HTTPConnection per client, graceful shutdown; and run().

    run(app.dispatch, Config(), "127.0.0.1", 8000)   # what App.run and python -m protoweb call

The server takes what it uses, a dispatch callable (a Request in, its Response out)
and a Config, not the App: it serves anything that answers requests.

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
from types import FrameType
from typing import Any

from protoweb.config import Config
from protoweb.connection import HTTPConnection, NewTask, ServerState
from protoweb.log import AccessLog, configure_logging
from protoweb.request import Dispatch

logger = logging.getLogger("protoweb.server")


class HTTPServer:
    """The listening side: makes an HTTPConnection per client, sweeps their deadlines, shuts down."""

    def __init__(self, dispatch: Dispatch, config: Config) -> None:
        self.dispatch = dispatch  # App.dispatch, for an App
        self.config = config
        self.server_state: ServerState | None = None  # made in start(), on the running loop
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        # How often deadlines are checked: a tenth of the shortest timeout, so a timeout
        # fires at most 10% late (and never more than a second late).
        self.sweep_interval = min(1.0, max(0.01, min(
            self.config.keep_alive_timeout, self.config.request_timeout, self.config.send_timeout) / 10))

    def new_connection(self) -> HTTPConnection:
        assert self.server_state is not None, "start() first"
        return HTTPConnection(self.dispatch, self.config, self.server_state)

    async def start(self, host: str, port: int) -> list[tuple[str, int]]:
        """Bind and listen; return the real addresses (``port=0`` picks a free port)."""
        loop = asyncio.get_running_loop()
        access_log = AccessLog.for_server(self.config.access_log)
        self.server_state = ServerState(loop.time, self.task_maker(loop), access_log)
        self._server = await loop.create_server(self.new_connection, host, port, backlog=self.config.backlog)
        self._sweeper = loop.call_later(self.sweep_interval, self._sweep)
        addresses = [sock.getsockname()[:2] for sock in self._server.sockets]
        for bound_host, bound_port in addresses:
            logger.info("Listening on %s:%d", bound_host, bound_port)
        return addresses

    @staticmethod
    def task_maker(loop: asyncio.AbstractEventLoop) -> NewTask:
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
        self._sweeper = asyncio.get_running_loop().call_later(self.sweep_interval, self._sweep)
        assert self.server_state is not None  # start() made it, and scheduled this
        self.server_state.expire()

    async def shutdown(self) -> None:
        """Stop accepting, finish what is in flight (bounded), close every connection."""
        server_state = self.server_state
        assert self._server is not None and self._sweeper is not None and server_state is not None, "start() first"
        if server_state.access_log is not None:
            server_state.access_log.flush()  # the lines so far come before "Shutting down"
        logger.info("Shutting down")
        server_state.shutting_down = True
        self._server.close()
        connections = server_state.connections
        for connection in list(connections):
            connection.shutdown()
        if connections:
            logger.info("Waiting for %d connection(s) to finish", len(connections))
            try:
                await asyncio.wait_for(server_state.all_closed.wait(), self.config.shutdown_timeout)
            except asyncio.TimeoutError:
                pass
        if connections:
            logger.warning("Closing %d connection(s) that did not finish in time", len(connections))
            for connection in list(connections):
                connection.abort()
            await asyncio.sleep(0)  # let the aborted transports call connection_lost
        self._sweeper.cancel()
        await self._server.wait_closed()
        if server_state.access_log is not None:
            server_state.access_log.flush()  # no line lost to Ctrl-C

    def hurry(self) -> None:
        """Stop waiting for connections to finish (a second Ctrl-C)."""
        if self.server_state is not None:
            self.server_state.all_closed.set()


async def serve(dispatch: Dispatch, config: Config, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully: ``serve(app.dispatch, app.config, host, port)``."""
    server = HTTPServer(dispatch, config)
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


def _handle_signals_portably(
    loop: asyncio.AbstractEventLoop, signals: tuple[signal.Signals, ...], callback: Callable[[], None],
) -> Callable[[], None]:
    # A plain signal handler runs in the main thread between two bytecodes, perhaps in the
    # middle of the loop's own work, so all it does is ask the loop to call us back.
    def ask_the_loop(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)

    previous = {sig: signal.signal(sig, ask_the_loop) for sig in signals}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def run(dispatch: Dispatch, config: Config, host: str = "127.0.0.1", port: int = 8000,
        loop: str = "asyncio") -> None:
    """Serve in this process until SIGINT/SIGTERM (Ctrl-C): ``run(app.dispatch, app.config, host, port)``.

    ``loop="uvloop"`` runs it on uvloop (``pip install uvloop``), through ``uvloop.run``:
    no event loop policy, an API deprecated since Python 3.14.
    """
    configure_logging()
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            sys.exit("protoweb: loop='uvloop' needs uvloop: pip install uvloop")
        logger.info("Event loop: uvloop")
        start: Callable[[Coroutine[Any, Any, None]], None] = uvloop.run
    elif loop == "asyncio":
        start = asyncio.run
    else:
        raise ValueError(f"loop must be 'asyncio' or 'uvloop', not {loop!r}")
    try:
        start(serve(dispatch, config, host, port))
    except KeyboardInterrupt:  # a Ctrl-C before the signal handlers were in place
        pass
    except OSError as error:  # cannot listen: the port is taken, the address is not ours...
        logger.error("Cannot serve on %s:%d: %s", host, port, error)
        sys.exit(1)
