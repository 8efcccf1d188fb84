"""HTTPConnection: the asyncio.Protocol of one client connection.

asyncio creates one per accepted connection (step 06's lesson: a protocol object
holds that connection's state, so it must never be shared). It feeds the bytes that
arrive to its RequestParser, runs each request's handler in a Task of its own,
answers in the order the requests came (pipelining), and owns everything that has to
do with time and flow on this connection: the deadlines, pausing when the client does
not read, closing.

The states of a connection (``self.state``, a State), and the deadline that runs in each:

    idle ──a request begins──▶ receiving ──it is complete──▶ busy ──answered──▶ idle
    keep_alive_timeout         request_timeout               none: the handler's time

    any of them ──an error, or an answer with Connection: close──▶ discarding ──▶ closed
                                                                   what is still sent is
                                                                   drained, for a moment

``_update`` decides the state after every event, ``_enter`` starts its clock, and
``deadline_passed`` (called by the server's sweep) acts on the state it finds. When a
client pipelines, a request can arrive while the handler of the one before runs: the
state is then receiving, the client's clock. A request that waits for our
``100 Continue`` is busy until we send it: it is behind a handler, not slow. While the
client does not read our answers, the send deadline takes over (send_timeout), in
whatever state.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import copy_context

from protoweb.config import Config
from protoweb.errors import HTTPError
from protoweb.log import AccessLog
from protoweb.parser import RequestParser
from protoweb.request import Request
from protoweb.response import Response

logger = logging.getLogger("protoweb.error")

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CLOSE = b"Connection: close\r\n"
KEEP_ALIVE = b"Connection: keep-alive\r\n"  # an HTTP/1.0 client closes unless told this
# After an error we stop reading requests, but keep draining what the client still sends
# for a moment: closing a socket with unread bytes resets the connection, and the reset
# can destroy our error response before the client has read it.
LINGER_SECONDS = 2.0

if sys.platform == "linux":  # how many bytes a socket's send queue holds: ioctl(fd, SIOCOUTQ)
    from fcntl import ioctl
    from termios import TIOCOUTQ as SIOCOUTQ
else:
    ioctl = None

Dispatch = Callable[[Request], Awaitable[Response]]


class State(enum.Enum):
    """Where a connection is; each state but busy has a deadline (see the module's docstring)."""

    IDLE = "idle"  # waiting for a request: keep_alive_timeout
    RECEIVING = "receiving"  # a request has begun and is not complete: request_timeout
    BUSY = "busy"  # a handler at work, answers due, or a request waiting for our 100 Continue
    DISCARDING = "discarding"  # the last answer is going out; what still arrives is not read
    CLOSED = "closed"


# The states as module names too: on Python 3.11, State.IDLE costs ~50 ns a lookup (a
# global, ~6 ns), and the hot path asks several times per request.
IDLE, RECEIVING, BUSY, DISCARDING, CLOSED = State


class ServerState:
    """What the connections of one server share, and the server reads.

    A connection depends on this, its Config and a dispatch callable, never on the
    server itself (as uvicorn's protocols depend on Config and ServerState): so it can
    be made, and tested, with a fake transport and a clock of the test's own.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        new_task: Callable[[Coroutine], asyncio.Task],
        access_log: AccessLog | None = None,
    ) -> None:
        self.clock = clock  # the event loop's time() in a server
        self.new_task = new_task  # makes each handler's Task (see HTTPServer.task_maker)
        self.access_log = access_log  # None: off
        self.connections: set[HTTPConnection] = set()
        self.shutting_down = False
        self.all_closed = asyncio.Event()  # set when shutting down and the last connection has closed

    def expire(self) -> None:
        """Act on every connection whose deadline has passed."""
        now = self.clock()
        for connection in [c for c in self.connections if c.deadline is not None and c.deadline <= now]:
            connection.deadline_passed()

    def discard(self, connection: HTTPConnection) -> None:
        self.connections.discard(connection)
        if self.shutting_down and not self.connections:
            self.all_closed.set()


class HTTPConnection(asyncio.Protocol):
    """One client connection: parse, dispatch, answer in order, time out, close."""

    def __init__(self, dispatch: Dispatch, config: Config, server_state: ServerState) -> None:
        # -- the connection
        self.dispatch = dispatch  # App.dispatch: a Request in, its Response out; never raises
        self.config = config
        self.server_state = server_state
        self.transport: asyncio.Transport | None = None
        self.parser: RequestParser = None  # type: ignore[assignment]  # made once the client is known
        self.client: tuple[str, int] | None = None
        self.keep_alive = True  # False: answer what is in flight, then close
        self.eof = False  # the client has closed its side
        self._context = copy_context()  # what every request's own context starts as
        # -- its state, and time
        self.state = IDLE
        self.deadline: float | None = None  # clock time at which the server's sweep acts on us
        self._state_deadline: float | None = None  # when the current state's time is up
        self._state_request = -1  # parser.requests_begun when the current state's clock started
        # -- flow: neither side may make us hold an unbounded amount of data
        self._reading_paused = False
        self._writing_paused = False  # the client does not read: the send deadline runs
        self._unsent = 0  # bytes the client had not taken when the send deadline was set
        self._draining = False  # idle in name, but the client is still taking our last answer
        # -- the requests
        self.queue: deque[Request | HTTPError] = deque()  # parsed, waiting for their turn
        self.task: asyncio.Task | None = None  # the handler at work (one at a time, in order)

    # -- asyncio.Protocol: the transport calls these -----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.client = tuple(peer[:2]) if isinstance(peer, tuple) else peer  # IPv6 has 4 fields
        self.parser = RequestParser(self.config, self.client)
        self.server_state.connections.add(self)
        if self.server_state.shutting_down:  # accepted just before the server stopped listening
            self.keep_alive = False  # one answer, then closed
        # The clock starts now, not at the first byte: a client that connects and says
        # nothing is an idle connection like any other (the second article's DoS bug).
        self._update()

    def data_received(self, data: bytes) -> None:
        if self.state is DISCARDING:
            return
        self.queue.extend(self.parser.feed(data))
        self._answer_queue()

    def eof_received(self) -> bool:
        self.eof = True
        if self.state is DISCARDING:
            return False  # the client has our last answer (or gave up on it): let the transport close
        if self.parser.receiving:
            self.queue.append(HTTPError(400, "The connection was closed in the middle of a request"))
        self._answer_queue()
        return True  # our half stays open until the answers due are sent; _update then closes

    def connection_lost(self, exc: Exception | None) -> None:
        # A handler still running finishes; its answer finds no transport and is dropped.
        self.state = CLOSED
        self.transport = None
        self.queue.clear()
        self.deadline = None
        self.parser.close()
        self.server_state.discard(self)

    # Called by the transport around its write buffer's high-water mark: while the client
    # does not read our responses we stop reading its requests, so neither side can make
    # us hold an unbounded amount of data.
    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()
        self._unsent = self._unsent_bytes()
        self._set_deadline(self.config.send_timeout)  # a client that reads nothing is let go

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._answer_queue()  # which puts back the deadline of the state we are in

    # -- answering, in order ------------------------------------------------------------

    def _answer_queue(self) -> None:
        """Answer the waiting requests, in order, until a handler needs time (or we must wait)."""
        while self.queue and self.task is None and not self._writing_paused and self.transport is not None:
            item = self.queue.popleft()
            if isinstance(item, Request):
                self._start_handler(item)
            else:
                self._fail(item)
        self._update()

    def _start_handler(self, request: Request) -> None:
        """Run the request's handler in a Task of its own, which also sends the answer.

        A Task, so that asyncio.timeout, TaskGroup and the libraries built on them work
        from the handler's first line; started in the connection's context, which the
        Task copies, so that context variables a handler sets do not leak into the
        next request. On Python 3.12+ the Task starts eagerly: it runs right now, up to
        the handler's first await, and most handlers, which never wait, have been
        answered when this returns. Before 3.12 it starts on the loop's next turn.
        """
        task = self._context.run(self.server_state.new_task, self._handle(request))
        if not task.done():
            self.task = task  # later answers wait for this one; _handle lets them go

    async def _handle(self, request: Request) -> None:
        try:
            response = await self.dispatch(request)  # never raises, but can be cancelled
        except asyncio.CancelledError:
            if self.transport is None or self.transport.is_closing():
                raise  # we cancelled it ourselves (abort), or nobody is left to answer
            # A cancellation we did not ask for (say, a handler awaiting a task someone
            # else cancelled): who knows what state that left behind; the connection closes.
            logger.error("The handler for %s %s was cancelled", request.method, request.url)
            self.keep_alive = False
            response = HTTPError(500).response()
        except Exception:  # App.dispatch answers every handler's error: this would be our bug
            logger.exception("Dispatching %s %s failed", request.method, request.url)
            self.keep_alive = False
            response = HTTPError(500).response()
        try:
            self._send(request, response)
        finally:
            # Ran later, as a Task of its own: let the requests that waited go, whatever
            # happened. (Run eagerly, it is still inside _start_handler, whose caller
            # goes on with the queue itself.)
            if self.task is not None:
                self.task = None
                self._answer_queue()

    def _send(self, request: Request, response: Response) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client is gone: nobody to answer
        keep_alive = self.keep_alive and request.keep_alive and not response.closes_connection
        if not keep_alive:
            connection = CLOSE
        elif request.http_version == "1.0":
            connection = KEEP_ALIVE
        else:
            connection = b""
        transport.write(response.render(connection, request.method == "HEAD"))
        access_log = self.server_state.access_log
        if access_log is not None:
            access_log.add(self.client, request.method, request.url, request.http_version, response.status_code)
        if not keep_alive:
            self._close()

    def _fail(self, error: HTTPError) -> None:
        """Answer a request we could not read, then close: where it ends is unknown."""
        self.state = DISCARDING
        self.keep_alive = False
        self.queue.clear()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(error.response().render(CLOSE))
        access_log = self.server_state.access_log
        if access_log is not None:
            access_log.add(self.client, None, "", "", error.status)
        if self.eof or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()  # sent once the response is; the client reads it, then closes
        self._reading_paused = False
        transport.resume_reading()
        self._set_deadline(LINGER_SECONDS)

    def _close(self) -> None:
        """Close once what is buffered has been written (given send_timeout to go)."""
        self.state = DISCARDING
        self.keep_alive = False
        self.queue.clear()
        if self.transport is not None:
            self.transport.close()
            self._set_deadline(self.config.send_timeout)

    # -- after each event: the state, 100 Continue, the deadline, reading ----------------

    def _update(self) -> None:
        """Enter the state the connection is now in; send 100 Continue when it is due."""
        if self.transport is None or self.state is DISCARDING:
            return  # a closing connection keeps the deadline it was given
        parser = self.parser
        answering = self.task is not None or bool(self.queue)
        if parser.expect_continue and not answering:
            # The client waits for this before it sends the body. Only now: earlier
            # responses on this connection must go out first.
            self.transport.write(CONTINUE)
            parser.continue_sent()
        if parser.receiving and not parser.expect_continue:
            self._enter(RECEIVING)
        elif parser.receiving or answering:
            self._enter(BUSY)  # a handler at work: not the client's time
        elif self.eof:
            self._close()  # the client has closed its side and has all its answers
            return
        else:
            self._enter(IDLE)
        self._update_reading()

    def _enter(self, state: State) -> None:
        """Be in ``state``; its clock starts if we have just entered it, or a request began."""
        # A request may begin and be answered within one call (idle, then idle again),
        # and blank lines between requests (which begin none) must not restart the clock.
        requests = self.parser.requests_begun
        if state is not self.state or requests != self._state_request:
            self.state, self._state_request = state, requests
            self._draining = False
            if state is IDLE:
                self._state_deadline = self.server_state.clock() + self.config.keep_alive_timeout
            elif state is RECEIVING:
                self._state_deadline = self.server_state.clock() + self.config.request_timeout
            else:
                self._state_deadline = None
        if not self._writing_paused:  # else the send deadline holds
            self.deadline = self._state_deadline

    def _update_reading(self) -> None:
        pause = bool(self.queue) or self._writing_paused
        if pause != self._reading_paused and self.transport is not None:
            self._reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _set_deadline(self, seconds: float) -> None:
        # No timer per connection: the server sweeps its connections a few times per
        # timeout and calls deadline_passed on those whose time is up. Moving a
        # deadline, which happens on every request, is then just storing a number.
        self.deadline = self.server_state.clock() + seconds

    def _unsent_bytes(self) -> int:
        """Bytes of ours the client has not taken yet: in the transport's buffer, and on
        Linux in the kernel's send queue too. Without the kernel's part, its send buffer
        growing (the kernel taking more from us) would look like the client reading."""
        unsent = self.transport.get_write_buffer_size()  # type: ignore[union-attr]
        sock = self.transport.get_extra_info("socket")  # type: ignore[union-attr]
        if ioctl is not None and sock is not None:
            try:
                unsent += int.from_bytes(ioctl(sock.fileno(), SIOCOUTQ, bytes(4)), sys.byteorder)
            except OSError:  # closed under us
                pass
        return unsent

    # -- called by the server ------------------------------------------------------------

    def deadline_passed(self) -> None:
        self.deadline = None
        transport = self.transport
        if transport is None:
            return
        if self._writing_paused:
            unsent = self._unsent_bytes()
            if unsent < self._unsent:  # slow, but reading: give it another send_timeout
                self._unsent = unsent
                self._set_deadline(self.config.send_timeout)
                return
            logger.info("Closing a connection whose client read nothing for %g s", self.config.send_timeout)
            transport.abort()
        elif self.state is DISCARDING:
            transport.abort()  # done lingering after an error, or a close that could not finish
        elif self.state is RECEIVING:
            self.queue.append(HTTPError(408, f"The request did not arrive within {self.config.request_timeout:g} s"))
            self.state = DISCARDING  # what still comes is not read; the 408 goes out in its turn
            self._answer_queue()
        elif self.state is IDLE:
            self._idle_deadline_passed()

    def _idle_deadline_passed(self) -> None:
        """Close an idle connection, unless the client is still taking our last answer.

        The idle clock starts when the answer is handed to the transport, but the kernel
        can hold megabytes of it: a client reading it slowly is not idle, and closing now
        would lose the request it sends next. While what it has not taken keeps falling,
        wait; once it has taken everything, its idle time starts again.
        """
        unsent = self._unsent_bytes()
        if unsent and (not self._draining or unsent < self._unsent):
            self._draining, self._unsent = True, unsent
            self._set_deadline(self.config.send_timeout)
        elif self._draining and not unsent:
            self._state_request = -1  # the idle clock starts again, now
            self._update()
        else:
            self._close()

    def shutdown(self) -> None:
        """Stop after the request in flight; close now if there is none."""
        self.keep_alive = False
        if self.transport is not None and self.state is IDLE:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # first: the cancelled handler then finds nobody to answer
        if self.task is not None:
            self.task.cancel()
