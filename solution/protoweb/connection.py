"""HTTPConnection: the asyncio.Protocol of one client connection.

asyncio creates one per accepted connection (step 06's lesson: a protocol object
holds that connection's state, so it must never be shared). It feeds the bytes that
arrive to its RequestParser, runs each request's handler in a Task of its own,
answers in the order the requests came (pipelining), and owns what has to do with
time on this connection: the deadlines, and closing. How fast the bytes go each way
(pausing when the client does not read) is flow.py's FlowControl.

The states of a connection (``self.state``, a State), and the deadline that runs in each:

    idle ──a request begins──▶ receiving ──it is complete──▶ busy ──answered──▶ idle
    keep_alive_timeout         request_timeout               none: our time

    any of them ──an error, or an answer with Connection: close──▶ discarding ──▶ closed
                                                                   what is still sent is
                                                                   drained, for a moment

Busy means the next move is ours, not the client's: a handler is at work, answers
wait their turn, or a request waits for our ``100 Continue``. When a client
pipelines, a request can arrive while the handler of the one before runs: the state
is then receiving, the client's clock.

``_enter`` is the only writer of ``self.state``, and starts the clock of the state it
enters. ``_update`` works out, after every event, which of idle, receiving and busy
the connection is in (from the parser and the queue); ``_fail`` and ``_close`` enter
discarding, ``connection_lost`` closed; ``deadline_passed``, called by the server's
sweep, acts on the state it finds.

Besides State, these change what happens:

    keep_alive       False: answer what is in flight, then close (Connection: close from
                     either side, an error, the server shutting down)
    eof              the client has closed its side: close once it has its answers
    flow             FlowControl (flow.py): reading_paused; writing_paused, while the
                     client does not read our answers (the send deadline then runs
                     instead of the state's); draining, idle but the client still taking
                     our last answer; unsent, what it had not taken at the last look
    _state_deadline  when the state's time is up; _state_request, the request its clock
                     started with (a new request restarts it, as a new state does)
    deadline         what the server's sweep acts on: _state_deadline, or the send or
                     drain deadline while one of those runs
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from contextvars import copy_context
from typing import Any, Final, cast

from protoweb.config import Config
from protoweb.errors import HTTPError
from protoweb.flow import FlowControl
from protoweb.log import AccessLog
from protoweb.parser import RequestParser
from protoweb.request import Dispatch, Request
from protoweb.response import Response

logger = logging.getLogger("protoweb.error")

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CLOSE = b"Connection: close\r\n"
KEEP_ALIVE = b"Connection: keep-alive\r\n"  # an HTTP/1.0 client closes unless told this
# After an error we stop reading requests, but keep draining what the client still sends
# for a moment: closing a socket with unread bytes resets the connection, and the reset
# can destroy our error response before the client has read it.
LINGER_SECONDS = 2.0

NewTask = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]  # makes a handler's Task


class State(enum.Enum):
    """Where a connection is; see the module's docstring for the deadline of each."""

    IDLE = "idle"  # waiting for a request: keep_alive_timeout
    RECEIVING = "receiving"  # a request has begun and is not complete: request_timeout
    BUSY = "busy"  # our move: a handler at work, answers due, or a 100 Continue due
    DISCARDING = "discarding"  # the last answer is going out; what still arrives is not read
    CLOSED = "closed"


# The states as module names too: on Python 3.11, State.IDLE costs ~50 ns a lookup (a
# global, ~6 ns), and the hot path asks several times per request. Each is assigned by
# name, not unpacked in order: reordering State cannot give a name the wrong state.
IDLE: Final = State.IDLE
RECEIVING: Final = State.RECEIVING
BUSY: Final = State.BUSY
DISCARDING: Final = State.DISCARDING
CLOSED: Final = State.CLOSED


class ServerState:
    """What the connections of one server share, and the server reads.

    A connection depends on this, its Config and a dispatch callable, never on the
    server itself (as uvicorn's protocols depend on Config and ServerState): so it can
    be made, and tested, with a fake transport and a clock of the test's own.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        new_task: NewTask,
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
        self.transport: asyncio.Transport | None = None  # None again once the connection is lost
        # Made by connection_made: the parser once the client is known, the flow control
        # around the transport, and the first state, whose clock starts then.
        self.parser: RequestParser
        self.flow: FlowControl
        self.state: State
        self.client: tuple[str, int] | None = None
        self.keep_alive = True  # False: answer what is in flight, then close
        self.eof = False  # the client has closed its side
        self._context = copy_context()  # what every request's own context starts as
        # -- time
        self.deadline: float | None = None  # clock time at which the server's sweep acts on us
        self._state_deadline: float | None = None  # when the current state's time is up
        self._state_request = 0  # parser.requests_begun when the current state's clock started
        # -- the requests
        self.queue: deque[Request | HTTPError] = deque()  # parsed, waiting for their turn
        self.task: asyncio.Task[None] | None = None  # the handler at work (one at a time, in order)

    # -- asyncio.Protocol: the transport calls these -----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's signature says BaseTransport; create_server gives a stream a Transport.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.client = peer[:2] if isinstance(peer, tuple) else peer  # IPv6 has 4 fields
        self.parser = RequestParser(self.config, self.client)
        self.flow = FlowControl(transport)
        self.server_state.connections.add(self)
        if self.server_state.shutting_down:  # accepted just before the server stopped listening
            self.keep_alive = False  # one answer, then closed
        # The clock starts now, not at the first byte: a client that connects and says
        # nothing is an idle connection like any other (the second article's DoS bug).
        self._enter(IDLE)

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
        self._enter(CLOSED)
        self.transport = None
        self.queue.clear()
        self.deadline = None
        self.parser.close()
        self.flow.close()
        self.server_state.discard(self)

    # Called by the transport around its write buffer's high-water mark: while the client
    # does not read our responses we stop reading its requests, so neither side can make
    # us hold an unbounded amount of data.
    def pause_writing(self) -> None:
        self.flow.writing_paused = True
        self.flow.look()  # what the client has not taken: it must fall before send_timeout
        self.flow.pause_reading()
        self._set_deadline(self.config.send_timeout)  # a client that reads nothing is let go

    def resume_writing(self) -> None:
        self.flow.writing_paused = False
        self.deadline = self._state_deadline  # the state's deadline again
        self._answer_queue()

    # -- answering, in order ------------------------------------------------------------

    def _answer_queue(self) -> None:
        """Answer the waiting requests, in order, until a handler needs time (or we must wait)."""
        while self.queue and self.task is None and not self.flow.writing_paused and self.transport is not None:
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
        self.keep_alive = False
        self.queue.clear()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(error.response().render(CLOSE))
            access_log = self.server_state.access_log
            if access_log is not None:
                access_log.add(self.client, None, "", "", error.status)
            if not self.eof and transport.can_write_eof():
                transport.write_eof()  # sent once the response is; the client reads it, then closes
                self._enter(DISCARDING, LINGER_SECONDS)
                self.flow.resume_reading()  # to drain what it still sends (LINGER_SECONDS)
                return
        self._close()

    def _close(self) -> None:
        """Close once what is buffered has been written (given send_timeout to go)."""
        self.keep_alive = False
        self.queue.clear()
        if self.transport is not None:
            self._enter(DISCARDING, self.config.send_timeout)
            self.transport.close()

    # -- the state, and its clock ---------------------------------------------------------

    def _update(self) -> None:
        """After an event: send 100 Continue if it is due, enter idle, receiving or busy,
        and pause or resume reading."""
        transport = self.transport
        if transport is None or self.state is DISCARDING:
            return  # a closing connection keeps the deadline it was given
        parser = self.parser
        answering = self.task is not None or bool(self.queue)
        if parser.expect_continue and not answering:
            # The client waits for this before it sends the body. Only now: earlier
            # responses on this connection must go out first.
            transport.write(CONTINUE)
            parser.continue_sent()
        if parser.receiving and not parser.expect_continue:
            state = RECEIVING
        elif parser.receiving or answering:
            state = BUSY  # our move, not the client's
        elif self.eof:
            self._close()  # the client has closed its side and has all its answers
            return
        else:
            state = IDLE
        # A new state's clock starts, and so does the same state's when a request has
        # begun since (a request may begin and be answered within one call: idle, then
        # idle again); blank lines between requests, which begin none, do not restart it.
        if state is not self.state or parser.requests_begun != self._state_request:
            self._enter(state)
        # While answers wait (or the client does not read them), read no more requests.
        flow = self.flow
        if self.queue or flow.writing_paused:
            if not flow.reading_paused:
                flow.pause_reading()
        elif flow.reading_paused:
            flow.resume_reading()

    def _enter(self, state: State, seconds: float | None = None) -> None:
        """Be in ``state`` from now on, and start its clock: the one writer of ``self.state``.

        Idle has keep_alive_timeout, receiving request_timeout; discarding the
        ``seconds`` it is given (None: no deadline); busy and closed none.
        """
        self.state = state
        self._state_request = self.parser.requests_begun
        if state is IDLE:
            seconds = self.config.keep_alive_timeout
        elif state is RECEIVING:
            seconds = self.config.request_timeout
        self._state_deadline = deadline = None if seconds is None else self.server_state.clock() + seconds
        flow = self.flow
        flow.draining = False
        if not flow.writing_paused:  # else the send deadline holds, until resume_writing
            self.deadline = deadline

    def _set_deadline(self, seconds: float) -> None:
        # No timer per connection: the server sweeps its connections a few times per
        # timeout and calls deadline_passed on those whose time is up. Moving a
        # deadline, which happens on every request, is then just storing a number.
        self.deadline = self.server_state.clock() + seconds

    # -- called by the server ------------------------------------------------------------

    def deadline_passed(self) -> None:
        self.deadline = None
        transport = self.transport
        if transport is None:
            return
        if self.flow.writing_paused:
            if self.flow.look():  # slow, but reading: give it another send_timeout
                self._set_deadline(self.config.send_timeout)
                return
            logger.info("Closing a connection whose client read nothing for %g s", self.config.send_timeout)
            transport.abort()
        elif self.state is DISCARDING:
            transport.abort()  # done lingering after an error, or a close that could not finish
        elif self.state is RECEIVING:
            self.queue.append(HTTPError(408, f"The request did not arrive within {self.config.request_timeout:g} s"))
            self._enter(DISCARDING)  # what still comes is not read; the 408 goes out in its turn
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
        flow = self.flow
        taking = flow.look()
        if flow.unsent and (taking or not flow.draining):
            flow.draining = True
            self._set_deadline(self.config.send_timeout)
        elif flow.draining and not flow.unsent:
            self._enter(IDLE)  # the idle clock starts again, now
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
