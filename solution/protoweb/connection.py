"""HTTPConnection: the asyncio.Protocol of one client connection.

asyncio creates one per accepted connection (step 06's lesson: a protocol object
holds that connection's state, so it must never be shared). It feeds the bytes that
arrive to its RequestParser, runs each request's handler in a Task of its own,
answers in the order the requests came (pipelining), and owns everything that has to
do with time and flow on this connection: the deadlines, pausing when the client does
not read, closing.

The states of a connection, and the deadline that runs in each:

    idle ──a request begins──▶ receiving ──it is complete──▶ busy ──answered──▶ idle
    keep_alive_timeout         request_timeout               none: the handler's time

    any of them ──an error, or an answer with Connection: close──▶ discarding ──▶ closed
                                                                   what is still sent is
                                                                   drained, for a moment

Receiving and busy overlap when a client pipelines (a request arrives while the
handler of the one before runs). A request that waits for our ``100 Continue`` is
not timed until we send it: it is behind a handler, not slow. While the client does
not read our answers, the send deadline takes over (send_timeout).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from contextvars import copy_context
from typing import TYPE_CHECKING

from protoweb.errors import HTTPError
from protoweb.parser import RequestParser
from protoweb.request import Request
from protoweb.response import Response

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

if sys.platform == "linux":  # how many bytes a socket's send queue holds: ioctl(fd, SIOCOUTQ)
    from fcntl import ioctl
    from termios import TIOCOUTQ as SIOCOUTQ
else:
    ioctl = None


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
        self.task: asyncio.Task | None = None  # the handler at work (one at a time, in order)
        self.keep_alive = True  # False: answer what is in flight, then close
        self.discarding = False  # after an error or a last answer: what still comes is not read
        self.eof = False  # the client has closed its side
        self.deadline: float | None = None  # loop time at which the server's sweep acts on us
        self._timing: tuple[str, int] | None = None  # the state whose deadline runs, and its request
        self._state_deadline: float | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._unsent = 0  # bytes the client had not taken when the send deadline was set
        self._access_log = server.access_log
        self._context = copy_context()  # what every request's own context starts as

    # -- asyncio.Protocol: the transport calls these -----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.parser.client = tuple(peer[:2]) if isinstance(peer, tuple) else peer  # IPv6 has 4 fields
        self.server.connections.add(self)
        # The clock starts now, not at the first byte: a client that connects and says
        # nothing is an idle connection like any other (the second article's DoS bug).
        self._update()

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return
        self.queue.extend(self.parser.feed(data))
        self._answer_queue()

    def eof_received(self) -> bool:
        self.eof = True
        if self.discarding:
            return False  # the client has our last answer (or gave up on it): let the transport close
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
        task = self._context.run(self.server.new_task, self._handle(request))
        if not task.done():
            self.task = task  # later answers wait for this one; _handle lets them go

    async def _handle(self, request: Request) -> None:
        try:
            response = await self.app.dispatch(request)  # never raises, but can be cancelled
        except asyncio.CancelledError:
            if self.transport is None:
                raise  # we cancelled it ourselves (abort): nobody to answer
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
        transport.write(error.response().render(CLOSE))
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
        """Close once what is buffered has been written (given send_timeout to go)."""
        self.keep_alive = False
        self.discarding = True
        self.queue.clear()
        if self.transport is not None:
            self.transport.close()
            self._set_deadline(self.config.send_timeout)

    def _log_access(self, request_line: str, status: int) -> None:
        client = self.parser.client
        who = f"{client[0]}:{client[1]}" if isinstance(client, tuple) else str(client)
        access_logger.info('%s - "%s" %d', who, request_line, status)

    # -- after each event: closing, 100 Continue, the deadline, reading ------------------

    def _update(self) -> None:
        if self.transport is None or self.discarding:
            return  # a closing connection keeps the deadline it was given
        busy = self.task is not None or bool(self.queue)
        if self.eof and not busy and not self.parser.receiving:
            self.transport.close()  # the client has closed its side and has all its answers
            return
        if self.parser.expect_continue and not busy:
            self._send_continue()
        self._update_deadline(busy)
        self._update_reading()

    def _send_continue(self) -> None:
        # The client waits for this before it sends the body. Only now: earlier
        # responses on this connection must go out first.
        self.transport.write(CONTINUE)  # type: ignore[union-attr]
        self.parser.expect_continue = False

    def _update_deadline(self, busy: bool) -> None:
        """Start the clock of the state we are in, when we have just entered it."""
        parser = self.parser
        if parser.receiving and not parser.expect_continue:
            state, seconds = "receiving", self.config.request_timeout
        elif parser.receiving or busy:
            state, seconds = "busy", None  # a handler at work: not the client's time
        else:
            state, seconds = "idle", self.config.keep_alive_timeout
        # The state, and the request it comes after: a request may begin and be answered
        # within one call (idle, then idle again), and blank lines between requests
        # (which begin none) must not restart the idle clock.
        timing = (state, parser.requests_begun)
        if timing != self._timing:
            self._timing = timing
            self._state_deadline = None if seconds is None else self.loop.time() + seconds
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
        self.deadline = self.loop.time() + seconds

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
        elif self.discarding:
            transport.abort()  # done lingering after an error, or a close that could not finish
        elif self.parser.receiving:
            self.queue.append(HTTPError(408, f"The request did not arrive within {self.config.request_timeout:g} s"))
            self.discarding = True  # what still comes is not read; the 408 goes out in its turn
            self._answer_queue()
        else:  # idle
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

