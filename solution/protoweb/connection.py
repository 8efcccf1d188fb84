"""HTTPConnection: the asyncio.Protocol of one client connection.

asyncio creates one per accepted connection (step 06's lesson: a protocol object
holds that connection's state, so it must never be shared). It feeds the bytes that
arrive to its RequestParser, answers the requests in the order they came
(pipelining), and owns everything that has to do with time and flow on this
connection: the deadlines, pausing when the client does not read, closing.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections import deque
from contextvars import copy_context
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

from protoweb.errors import HTTPError
from protoweb.parser import RequestParser
from protoweb.request import Request
from protoweb.response import Response, error_response

if TYPE_CHECKING:
    from protoweb.server import HTTPServer

access_logger = logging.getLogger("protoweb.access")
logger = logging.getLogger("protoweb.error")

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CLOSE = b"Connection: close\r\n"
KEEP_ALIVE = b"Connection: keep-alive\r\n"  # an HTTP/1.0 client closes unless told this
# After an error we stop reading requests, but keep draining what the client still sends
# for a moment: closing a socket with unread bytes resets the connection, and the reset
# can destroy our error response before the client has read it.
LINGER_SECONDS = 2.0


@types.coroutine
def resume(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Generator[Any, Any, Any]:
    """Let a Task carry on a coroutine that has already run up to its first suspension.

    ``waiting_on`` is what the coroutine yielded then (the future it waits for). We hand
    it to the Task as if the coroutine had yielded it to the Task itself, and from then
    on pass everything through: values and exceptions in, futures out.
    """
    while True:
        try:
            sent = yield waiting_on
        except BaseException as error:  # e.g. the Task is cancelled: the coroutine must hear it
            try:
                waiting_on = coro.throw(error)
            except StopIteration as done:
                return done.value
        else:
            try:
                waiting_on = coro.send(sent)
            except StopIteration as done:
                return done.value


class HTTPConnection(asyncio.Protocol):
    """One client connection: parse, dispatch, answer in order, time out, close."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.app = server.app
        self.config = server.config
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.parser = RequestParser(self.config)
        self.queue: deque[Request | HTTPError] = deque()  # parsed, waiting for their turn
        self.task: asyncio.Task | None = None  # a handler that suspended and is still running
        self.keep_alive = True  # False: answer what is in flight, then close
        self.discarding = False  # after an error: the bytes that still come are not requests
        self.eof = False  # the client has closed its side
        self.deadline: float | None = None  # loop time at which the server's sweep acts on us
        self._reading_paused = False
        self._writing_paused = False
        self._unsent = 0  # bytes waiting in the transport when the send deadline was set
        self._timed_request = 0
        self._access_log = server.access_log
        self._context = copy_context()  # what every request's own context starts as

    # -- asyncio.Protocol: the transport calls these -----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.parser.client = transport.get_extra_info("peername")
        self.server.connections.add(self)
        # The clock starts now, not at the first byte: a client that connects and says
        # nothing is an idle connection like any other (the second article's DoS bug).
        self._set_deadline(self.config.keep_alive_timeout)

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return
        self.queue.extend(self.parser.feed(data))
        self._answer_queue()

    def eof_received(self) -> bool:
        self.eof = True
        if self.discarding:
            return False  # the client has our error (or gave up on it): let the transport close
        if self.parser.receiving:
            self.queue.append(HTTPError(400, "The connection was closed in the middle of a request"))
        self._answer_queue()
        return True  # our half stays open until the answers due are sent; _update then closes

    def connection_lost(self, exc: Exception | None) -> None:
        # A handler still running finishes; its answer finds no transport and is dropped.
        self.transport = None
        self.queue.clear()
        self.deadline = None
        self.parser.close()
        self.server.connection_closed(self)

    # Called by the transport around its write buffer's high-water mark: while the client
    # does not read our responses we stop reading its requests, so neither side can make
    # us hold an unbounded amount of data.
    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()
        self._unsent = self.transport.get_write_buffer_size()  # type: ignore[union-attr]
        self._set_deadline(self.config.send_timeout)  # a client that reads nothing is let go

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._answer_queue()

    # -- answering, in order ------------------------------------------------------------

    def _answer_queue(self) -> None:
        """Answer the waiting requests, in order, until one needs time (or we must wait)."""
        queue = self.queue
        while queue and self.task is None and not self._writing_paused and self.transport is not None:
            item = queue.popleft()
            if type(item) is Request:
                # Each request runs in a context of its own, as it would in a Task of its
                # own: context variables a handler sets do not leak into the next request.
                self._context.copy().run(self._dispatch, item)
            else:
                self._fail(item)  # type: ignore[arg-type]
        self._update()

    def _dispatch(self, request: Request) -> None:
        # Most handlers finish without ever waiting: run the coroutine ourselves and skip
        # the cost of a Task and a trip through the event loop. Only a handler that
        # really suspends gets a Task; the queue keeps later answers behind its answer.
        coro = self.app.dispatch(request)
        try:
            waiting_on = coro.send(None)
        except StopIteration as done:
            self._send(request, done.value)
        else:
            self.task = self.loop.create_task(self._dispatch_later(request, coro, waiting_on))

    async def _dispatch_later(self, request: Request, coro: Coroutine[Any, Any, Response], waiting_on: Any) -> None:
        try:
            response = await resume(coro, waiting_on)
        finally:
            self.task = None
        self._send(request, response)
        self._answer_queue()

    def _send(self, request: Request, response: Response) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client is gone: nobody to answer
        keep_alive = request.keep_alive and self.keep_alive
        if not keep_alive:
            connection = CLOSE
        elif request.http_version == "1.0":
            connection = KEEP_ALIVE
        else:
            connection = b""
        try:
            data = response.render(connection, request.method == "HEAD")
        except Exception:  # e.g. a body json cannot encode
            logger.exception("Cannot render the response to %s %s", request.method, request.url)
            response = error_response(HTTPError(500))
            data = response.render(connection, request.method == "HEAD")
        transport.write(data)
        if self._access_log:
            self._log_access(f"{request.method} {request.url} HTTP/{request.http_version}", response.status_code)
        if not keep_alive:
            self._close()

    def _fail(self, error: HTTPError) -> None:
        """Answer a request we could not read, then close: where it ends is unknown."""
        self.discarding = True
        self.keep_alive = False
        self.queue.clear()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(error_response(error).render(CLOSE))
        if self._access_log:
            self._log_access("-", error.status)
        if self.eof or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()  # sent once the response is; the client reads it, then closes
        self._reading_paused = False
        transport.resume_reading()
        self._set_deadline(LINGER_SECONDS)

    def _close(self) -> None:
        self.keep_alive = False
        self.discarding = True
        self.queue.clear()
        if self.transport is not None:
            self.transport.close()  # after what is still buffered has been written

    def _log_access(self, request_line: str, status: int) -> None:
        client = self.parser.client
        who = f"{client[0]}:{client[1]}" if isinstance(client, tuple) else str(client)
        access_logger.info('%s - "%s" %d', who, request_line, status)

    # -- state after each step: deadlines, reading, 100 Continue ------------------------

    def _update(self) -> None:
        transport = self.transport
        if transport is None or self.discarding:
            return
        parser = self.parser
        busy = self.task is not None or bool(self.queue)
        if not busy:
            if self.eof and not parser.receiving:
                transport.close()
                return
            if parser.expect_continue:
                # The client waits for this before it sends the body. Only now: earlier
                # responses on this connection must go out first.
                transport.write(CONTINUE)
                parser.expect_continue = False
        if self._writing_paused:
            pass  # the send deadline set by pause_writing holds
        elif parser.receiving:
            if parser.requests_begun != self._timed_request:
                self._timed_request = parser.requests_begun
                self._set_deadline(self.config.request_timeout)  # a new request: its whole time
        elif busy:
            self.deadline = None  # a handler is at work: not the client's time
        else:
            self._set_deadline(self.config.keep_alive_timeout)
        self._update_reading()

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
        self.deadline = self.loop.time() + seconds

    # -- called by the server ------------------------------------------------------------

    def deadline_passed(self) -> None:
        self.deadline = None
        transport = self.transport
        if transport is None:
            return
        if self._writing_paused:
            unsent = transport.get_write_buffer_size()
            if unsent < self._unsent:  # slow, but reading: give it another send_timeout
                self._unsent = unsent
                self._set_deadline(self.config.send_timeout)
                return
            logger.info("Closing a connection whose client read nothing for %g s", self.config.send_timeout)
            transport.abort()
        elif not self.discarding and self.parser.receiving:
            self.queue.append(HTTPError(408, f"The request did not arrive within {self.config.request_timeout:g} s"))
            self.discarding = True  # what still comes is not read; the 408 goes out in its turn
            self._answer_queue()
        else:  # idle, or done lingering after an error
            transport.close()

    def shutdown(self) -> None:
        """Stop after the request in flight; close now if there is none."""
        self.keep_alive = False
        if self.transport is None:
            return
        if self.task is None and not self.queue and not self.parser.receiving:
            self.transport.close()

    def abort(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()
