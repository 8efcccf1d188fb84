"""Talk HTTP/1.1 over a plain socket and look at the exact bytes, both ways.

A test (or a notebook cell) sends bytes with :func:`exchange` and gets an
:class:`Exchange` back: what was sent, every byte that came back, whether the server
closed the connection, and the response parsed strictly (CRLF line endings, a
status line with a reason phrase, a byte-exact ``Content-Length``). ``explain()``
turns it into the message a failing check shows: sent, received, and a command that
sends the same bytes the same way (``curl`` when one request in one write is all the
test sent, else a ``python -c`` one-liner).

When no byte of an answer came (the server closed the connection, or stayed silent),
the check raises :class:`NoAnswer`, "no answer to request N", with the likely causes.
When bytes came but they are not HTTP/1.1 at all (a bare ``\\n`` ending a line, a
``Content-Length`` that counts characters, no status line), the check raises a
:class:`FramingFailure`: it names the problem and the fix, and shows how to see the raw
bytes, since curl and requests accept some of these mistakes without a word.
"""

from __future__ import annotations

import re
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.process import excerpt

DEFAULT_TIMEOUT = 3.0
# The one-liners that reproduce an exchange read until the server closes the connection or
# says nothing for this many seconds: longer than a step server's default --timeout (5 s),
# so that a server that closes a silent client is seen doing it.
QUIET_SECONDS = 10


def request(method: str, target: str, body: bytes | str = b"", headers: dict[str, str] | None = None,
            host: str = "127.0.0.1") -> bytes:
    """The bytes of one HTTP/1.1 request; ``Content-Length`` is added when there is a body."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body and not any(name.lower() == "transfer-encoding" for name in headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, size: int) -> bytes:
    """``body`` in the chunked transfer coding, in chunks of ``size`` bytes."""
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@dataclass
class Response:
    """A response parsed strictly from the bytes a server sent."""

    status_line: str
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    head: bytes  # everything before the body, CRLFs included

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        if len(values) > 1:
            raise ValueError(f"header {name!r} appears {len(values)} times")
        return values[0] if values else None


class BadResponse(ValueError):
    """Bytes that are not (yet) a valid response: ``kind`` names the problem in a few
    words, ``summary`` says what is wrong in one line, ``fix`` what the server should do."""

    def __init__(self, kind: str, summary: str, fix: str) -> None:
        super().__init__(summary)
        self.kind, self.summary, self.fix = kind, summary, fix


class NotHTTP(BadResponse):
    """No bytes that could still come would make this a valid HTTP/1.1 response."""


class Incomplete(BadResponse):
    """Not a whole response yet; more bytes may complete it."""


class NoAnswer(AssertionError):
    """A check failed because no byte of an answer came: the server closed the connection
    without answering, or said nothing before we stopped waiting. Not a framing problem:
    nothing came that could be framed wrong (steps/conftest.py skips nothing for it)."""


class FramingFailure(AssertionError):
    """A check failed because the server's bytes are not HTTP/1.1 (``problem`` says how).

    The step tests (steps/conftest.py) show the first such failure in full and skip the
    step's later checks that fail for the same problem."""

    def __init__(self, message: str, problem: NotHTTP) -> None:
        super().__init__(message)
        self.problem = problem


CRLF_FIX = ("the status line and every header line must end with \\r\\n (CR LF), and an empty line ends the "
            "head: ('\\r\\n'.join(lines) + '\\r\\n\\r\\n').encode() + body")
LENGTH_FIX = ("Content-Length is the number of bytes of the body as sent: len() of the encoded bytes, "
              "not of the text ('é' is one character but two bytes in UTF-8)")
# What curl and requests show of each problem: the reason a failure shows the raw bytes.
LENIENT_CLIENTS = {
    "bare LF": "curl, requests and browsers accept a bare \\n, so `curl -i` would show nothing wrong",
    "Content-Length": "curl and requests read Content-Length bytes and stop: they show a body cut short, "
                      "and no error",
}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # the characters a header name may have


def _line(data: bytes) -> str:
    return repr(data.decode("latin-1"))


def parse_response(data: bytes, head_only: bool = False) -> tuple[Response, bytes]:
    """Parse the first response in ``data``; return it and the bytes after it.

    Strict on purpose: lines must end in CRLF, and the body must be exactly
    ``Content-Length`` bytes. Raises :class:`Incomplete` when more bytes could still
    complete the response, :class:`NotHTTP` when none could (both say what is wrong).
    ``head_only``: the answer to a HEAD request, which has no body whatever its headers say.
    """
    if not data.startswith(b"HTTP/"[:len(data)]):
        raise NotHTTP("no status line", f"the answer starts with {data[:40]!r}, not with a status line "
                      "such as 'HTTP/1.1 200 OK'", "send the status line first ('HTTP/1.1 200 OK\\r\\n'), "
                      "then the header lines, an empty line, and the body")
    lines: list[bytes] = []
    start = 0
    while True:  # the head: lines that each end in CRLF, up to an empty one
        end = data.find(b"\n", start)
        if end < 0:
            raise Incomplete("unfinished head", "the head has not ended: no empty line (\\r\\n\\r\\n) "
                             "after the header lines", CRLF_FIX)
        if data[end - 1:end] != b"\r":
            where = f"after {_line(data[start:end])}" if end > start else f"for the empty line after {_line(lines[-1])}"
            raise NotHTTP("bare LF", f"your server sent a bare \\n {where}", CRLF_FIX)
        line, start = data[start:end - 1], end + 1
        if not line:
            break
        if b"\r" in line:
            raise NotHTTP("bare CR", f"a \\r that ends no line, in {_line(line)}", CRLF_FIX)
        lines.append(line)
    head, rest = data[:start], data[start:]
    status_line = lines[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 3 or not parts[0].startswith("HTTP/") or not (len(parts[1]) == 3 and parts[1].isdigit()):
        raise NotHTTP("status line", f"malformed status line {status_line!r}; expected e.g. 'HTTP/1.1 200 OK'",
                      "the status line is 'HTTP/1.1', a space, the 3-digit code, a space and the reason "
                      "phrase (http.HTTPStatus(code).phrase)")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise NotHTTP("header line", f"malformed header line {_line(line)}; expected 'Name: value'",
                          "each header line is a name (no spaces), a colon and the value, then '\\r\\n'")
        headers.append((name, value.strip()))
    response = Response(status_line, parts[0], int(parts[1]), parts[2], headers, b"", head)
    if head_only:  # an answer to HEAD has no body, whatever its headers say
        return response, rest
    length = response.header("Content-Length")
    if length is not None:
        if not length.isdigit():
            raise NotHTTP("Content-Length", f"Content-Length {length!r} is not a number", LENGTH_FIX)
        size = int(length)
        if len(rest) < size:
            raise Incomplete("Content-Length", f"Content-Length says {size} bytes but only {len(rest)} came",
                             LENGTH_FIX)
        response.body, after = rest[:size], rest[size:]
        if not after.startswith(b"HTTP/"[:len(after)]):  # neither the end nor another response
            raise _length_problem(size, rest)
        return response, after
    if response.header("Transfer-Encoding") is None and 200 <= response.status and response.status not in (204, 304):
        response.body, rest = rest, b""  # the body runs until the server closes
    return response, rest


def _length_problem(size: int, rest: bytes) -> NotHTTP:
    """More bytes came after ``size`` body bytes than can be another response: say whether
    ``size`` counted the body's characters instead of its bytes."""
    text = rest.decode("utf-8", "surrogateescape")  # an undecodable byte stays one character
    counted = len(text[:size].encode("utf-8", "surrogateescape"))
    after = rest[counted:]
    if counted > size and after.startswith(b"HTTP/"[:len(after)]):
        return NotHTTP("Content-Length", f"Content-Length says {size}, the number of characters of the body; "
                       f"it must count bytes: the body is {counted} bytes in UTF-8", LENGTH_FIX)
    return NotHTTP("Content-Length", f"Content-Length says {size} bytes, but more came after them: "
                   f"{rest[size:size + 30]!r} is not the start of another response", LENGTH_FIX)


@dataclass
class Exchange:
    """One connection: what we sent, and every byte the server sent back."""

    host: str
    port: int
    sent: list[bytes]
    received: bytes = b""
    closed: bool = False  # the server closed the connection (we read end-of-file)
    reset: bool = False  # the server reset the connection
    seconds: float = 0.0
    # What the server logged since the request was sent (set by harness.checks.send):
    # when an answer is wrong, the server's traceback usually says why.
    server_log: Callable[[], str] | None = field(default=None, repr=False)
    # How the test sent ``sent``, so that the command a failure suggests does the same (a
    # Connection records it): ("send", conn, bytes), ("sleep", seconds), ("read", conn): an
    # answer read before going on, ("shut", conn): shutdown(SHUT_WR), ("trickle", conn,
    # bytes, seconds): one byte at a time. Empty: all of ``sent`` in one write.
    actions: list[tuple] = field(default_factory=list, repr=False)
    connection: str = "s"  # this connection's name in ``actions``
    # How to start the test's server by hand, with the test's options (set by harness.checks).
    start_hint: str = field(default="start yours, e.g. `python my_server.py`, and use its port, 8080 by default",
                            repr=False)
    # The port the commands a failure suggests connect to: the one a server started by hand
    # listens on (8080 for a step, set by harness.checks); None: this exchange's own port.
    hand_port: int | None = field(default=None, repr=False)
    # Set by a test whose failure the bytes alone cannot show (a signal sent meanwhile, say):
    # how to reproduce it by hand, shown instead of a command that sends the bytes.
    by_hand: str = field(default="", repr=False)
    _parsed: tuple[Response, bytes] | None = field(default=None, repr=False)

    @property
    def response(self) -> Response:
        """The first response, parsed strictly (raises AssertionError with the exchange)."""
        __tracebackhide__ = True  # pytest shows a failure from the test's line, not from here
        if self._parsed is None:
            self._parsed = self.parse(self.received)
        return self._parsed[0]

    def responses(self) -> list[Response]:
        """Every response in what came back (pipelining / keep-alive)."""
        __tracebackhide__ = True
        found, rest = [], self.received
        while rest:
            response, rest = self.parse(rest)
            found.append(response)
        return found

    def json(self):
        import json

        return json.loads(self.response.body.decode("utf-8"))

    def parse(self, data: bytes, head_only: bool = False, number: int = 1) -> tuple[Response, bytes]:
        """``parse_response(data)``, where ``data`` is what came for request ``number`` and
        after; when that fails, an AssertionError that explains this exchange: NoAnswer if
        not a byte came, a FramingFailure if no more bytes can make it valid HTTP/1.1 (a
        response left unfinished when the server closed the connection is one too)."""
        __tracebackhide__ = True
        if not data:
            raise NoAnswer(self.explain(self.no_answer(number)))
        try:
            return parse_response(data, head_only)
        except Incomplete as problem:
            if not self.closed:
                raise AssertionError(self.explain(f"no complete response: {problem}")) from None
            final = NotHTTP(problem.kind, f"{problem.summary}, and then the server closed the connection", problem.fix)
            raise self.framing_failure(final) from None
        except NotHTTP as problem:
            raise self.framing_failure(problem) from None

    def no_answer(self, number: int = 1) -> str:
        """What a failure says when not a byte of the answer to request ``number`` came:
        which request, how the connection ended, and what usually causes that."""
        found = _requests(b"".join(self.sent))
        which = f"request {number}" + (f" ({_request_line(found[number - 1])})" if number <= len(found) else "")
        before = ""
        if number > 1:
            earlier = "request 1" if number == 2 else f"requests 1 to {number - 1}"
            before = f"the answer{'' if number == 2 else 's'} to {earlier} came, then "
        log = self.server_log() if self.server_log else ""
        see_log = "the server's log (below) should say which" if log else "the server logged nothing meanwhile"
        if self.closed or self.reset:
            how = "closed the connection" if self.closed else "reset the connection"
            causes = [f"its handler was cancelled, or the connection was closed or aborted (transport.close(), "
                      f"transport.abort()) before the answer was written, or the server crashed: {see_log}"]
            if before and self._said_close():
                causes.insert(0, "the answer before it said Connection: close, and the server did close the "
                                 "connection (a server that keeps connections alive does not say that)")
            return (f"no answer to {which}: {before}the server {how} without a byte of its answer. "
                    f"Likely causes: {'; or '.join(causes)}.")
        unread = "." if log else (
            "; or the bytes never reached your code: asyncio calls a Protocol's methods by their exact names "
            "(connection_made, data_received), and one misspelt is never called, without an error: is "
            "data_received spelled exactly, and does it feed the parser?")
        return (f"no answer to {which}: {before}nothing came for it, and the connection is still open. "
                "Likely causes: no route for its path and method (before step 06 such a request gets no "
                "answer: is the route registered, for this method?), or a handler still running, or one "
                f"that died without answering (an exception in a task nobody awaits): {see_log}{unread}")

    def _said_close(self) -> bool:
        """Whether the last answer that came said Connection: close."""
        try:
            responses = self.responses()
        except AssertionError:
            return False
        return bool(responses) and (responses[-1].header("Connection") or "").lower() == "close"

    def framing_failure(self, problem: NotHTTP) -> FramingFailure:
        """The failure for bytes that are not HTTP/1.1: the problem, the fix, the exchange,
        and a one-liner that shows the raw bytes (curl would hide some of these problems)."""
        why = LENIENT_CLIENTS.get(problem.kind, "To see the bytes exactly as they come")
        message = self.explain(f"The response is not valid HTTP/1.1: {problem.summary}.\nFix: {problem.fix}.",
                               raw=why)
        return FramingFailure(message, problem)

    def script(self) -> list[tuple]:
        """What the test did on the connection, as ``actions`` lists it (``sent`` in one
        write when nothing was recorded)."""
        if self.actions:
            return self.actions
        data = b"".join(self.sent)
        return [("send", self.connection, data)] if data else []

    def command(self) -> tuple[str, str]:
        """A shell command that sends what the test sent, the same way, and shows what comes
        back: curl when it can (one request, in one write), else a python one-liner. Returns
        the command and, for the one-liner, why curl would not do ('' for curl)."""
        script = self.script()
        if len(script) == 1 and script[0][0] == "send":
            words, why = _curl(script[0][2], self.host)
            if words is not None:
                words.append(f"http://{self.host}:{self.hand_port or self.port}{words.pop()}")
                return " ".join(shlex.quote(word) for word in words), ""
        else:
            why = _describe(script)
        return python_command(script, self.host, self.hand_port or self.port), why

    def explain(self, problem: str = "", raw: str = "") -> str:
        """What was sent, what came back, and how to do the same by hand (curl, or a python
        one-liner when curl cannot send it the way the test did); with ``raw`` (why curl
        would not do), the one-liner, which prints the raw bytes."""
        sent = b"".join(self.sent)
        ending = ("closed by the server" if self.closed else "reset by the server" if self.reset
                  else "still open when we stopped waiting")
        parts = [problem] if problem else []
        parts += [
            f"sent to {self.host}:{self.port} ({len(sent)} bytes):",
            "    " + _show(sent),
            f"received ({len(self.received)} bytes, connection {ending} after {self.seconds:.2f} s):",
            "    " + (_show(self.received) if self.received else "(nothing)"),
        ]
        log = self.server_log() if self.server_log else ""
        if log:
            lines = log.splitlines()
            parts += [f"the server logged meanwhile ({len(lines)} line{'s' if len(lines) != 1 else ''}):",
                      excerpt(lines)]
        yours = f"(this test's server is gone when you read this: {self.start_hint})"
        if self.by_hand:
            parts.append(self.by_hand)
        elif raw:
            parts += [f"{raw}: send the same bytes and print what comes back, every \\r and \\n visible {yours}:",
                      "    " + python_command(self.script(), self.host, self.hand_port or self.port)]
        else:
            command, why = self.command()
            if why:
                parts.append(f"the same bytes, sent as the test sent them ({why}), with Python, which prints what "
                             f"comes back as it comes, every \\r and \\n visible {yours}:")
            else:
                parts.append(f"the same request with curl {yours}:")
            parts.append("    " + command)
        return "\n".join(parts)


def _show(data: bytes, limit: int = 600) -> str:
    text = repr(data)
    return text if len(text) <= limit else text[:limit] + f"... ({len(data)} bytes in all)"


def exchange(
    host: str,
    port: int,
    *pieces: bytes,
    pause: float = 0.0,
    timeout: float = DEFAULT_TIMEOUT,
    until_closed: bool = True,
    shut_write: bool = False,
) -> Exchange:
    """Connect, send ``pieces`` (with ``pause`` seconds between them), read the answer.

    Reads until the server closes the connection, or, when ``until_closed`` is false,
    until one complete response has arrived; never longer than ``timeout`` seconds.
    ``shut_write`` half-closes our side after sending (the server reads end-of-file).
    """
    with Connection(host, port, timeout) as conn:
        for index, piece in enumerate(pieces):
            if index and pause:
                time.sleep(pause)
            conn.send(piece)
        if shut_write:
            conn.shut_write()
        deadline = conn.started + timeout
        while (until_closed or not _complete(conn.exchange.received)) and conn._receive(deadline):
            pass
    return conn.exchange


# A gap between two writes at least this long was the test's own pause (or its wait for an
# answer), and the command that reproduces the exchange makes it too; a shorter one is
# just the time between two calls.
PAUSE = 0.015


class Connection:
    """One connection kept open for several requests, as a keep-alive client uses it.

        with Connection(host, port) as conn:
            first = conn.ask(request("GET", "/a"))     # send, then read one whole response
            second = conn.ask(request("GET", "/b"))    # on the same connection
            conn.wait_closed()                         # True if the server closes it (bounded)

    ``conn.exchange`` holds everything sent and received so far, for the checks of
    harness.checks and for a failure's explanation, and how it was sent (pauses, answers
    read in between), so that the command a failure suggests does the same.
    """

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.exchange = Exchange(host, port, [])
        self.started = time.monotonic()  # the exchange's seconds count from here
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except ConnectionRefusedError:
            # A UDP server (step 01's) says "Listening on" too: name that first.
            raise AssertionError(
                f"connection refused: nothing accepts TCP connections on {host}:{port}, although the server "
                "said it listens there. Does it listen for TCP (loop.create_server from step 02 on; a UDP "
                "socket, SOCK_DGRAM, does not accept connections), on the port it printed?") from None
        self._unread = b""  # received, not yet returned as a response
        self.answered = 0  # responses returned by read_response so far
        self._last_write = self._last_read = self.started  # when our last send ended, our last bytes came
        self._read_before_write = 0  # bytes received when our last send ended

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self._record(data)
        self.exchange.sent.append(data)
        self.sock.sendall(data)
        self._last_write = time.monotonic()
        self._read_before_write = len(self.exchange.received)

    def _record(self, data: bytes) -> None:
        """Add this write to ``exchange.actions``, after what the test did since the last one:
        read an answer, paused, or neither (then the two writes are one)."""
        actions, name = self.exchange.actions, self.exchange.connection
        since = self._last_write
        if len(self.exchange.received) > self._read_before_write:
            actions.append(("read", name))
            since = self._last_read
        gap = time.monotonic() - since
        if gap >= PAUSE:
            actions.append(("sleep", round(gap, 2)))
        if actions and actions[-1][0] == "send":
            actions[-1] = ("send", name, actions[-1][2] + data)
        else:
            actions.append(("send", name, data))

    def shut_write(self) -> None:
        """Half-close: the server reads end-of-file; we can still read its answers."""
        self.exchange.actions.append(("shut", self.exchange.connection))
        self.sock.shutdown(socket.SHUT_WR)

    def ask(self, data: bytes) -> Response:
        __tracebackhide__ = True
        self.send(data)
        return self.read_response(head_only=data.startswith(b"HEAD "))

    def read_response(self, timeout: float | None = None, head_only: bool = False) -> Response:
        """The next whole response (parsed strictly); AssertionError, with the whole
        conversation, if none comes within ``timeout`` seconds (NoAnswer if not a byte of
        it came). ``head_only``: it answers a HEAD request (no body)."""
        __tracebackhide__ = True
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not _complete(self._unread, head_only) and self._receive(deadline):
            pass
        response, self._unread = self.exchange.parse(self._unread, head_only, number=self.answered + 1)
        self.answered += 1
        return response

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Read until the server closes the connection (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self._receive(deadline):
            pass
        return self.exchange.closed

    def _receive(self, deadline: float) -> bool:
        """Receive once; False when nothing more can come (closed, reset, or out of time)."""
        left = deadline - time.monotonic()
        if left <= 0 or self.exchange.closed or self.exchange.reset:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            self.exchange.reset = True
            return False
        finally:
            self.exchange.seconds = time.monotonic() - self.started
        if not chunk:
            self.exchange.closed = True
            return False
        self._unread += chunk
        self.exchange.received += chunk
        self._last_read = time.monotonic()
        return True


def _complete(data: bytes, head_only: bool = False) -> bool:
    """Whether to stop reading: a whole response is here, or bytes no response can start with."""
    try:
        parse_response(data, head_only)
    except Incomplete:
        return False
    except NotHTTP:
        return True
    return True


def _requests(data: bytes) -> list[bytes]:
    """The whole requests at the start of ``data`` (several when pipelined), as far as their
    framing can be followed: a head, then a Content-Length or chunked body."""
    found: list[bytes] = []
    start = 0
    while (end := data.find(b"\r\n\r\n", start)) >= 0:
        fields = {}
        for line in data[start:end].decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip().lower()
        stop = end + 4
        if "chunked" in fields.get("transfer-encoding", ""):
            while True:  # size line, chunk, CRLF; the last chunk (size 0), then trailers and an empty line
                line_end = data.find(b"\r\n", stop)
                size = data[stop:line_end].split(b";")[0].strip()
                if line_end < 0 or not size or any(c not in b"0123456789abcdefABCDEF" for c in size):
                    return found
                stop = line_end + 2
                if int(size, 16) == 0:
                    while (line_end := data.find(b"\r\n", stop)) > stop:  # trailer lines
                        stop = line_end + 2
                    if line_end < 0:
                        return found
                    stop = line_end + 2
                    break
                stop += int(size, 16) + 2
        elif fields.get("content-length", "").isdigit():
            stop += int(fields["content-length"])
        if stop > len(data):
            break
        found.append(data[start:stop])
        start = stop
    return found


def _request_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode("latin-1")


# Longer bodies go in the python one-liner, which writes repeated bytes as b"x" * N.
CURL_BODY_LIMIT = 1000


def _curl(raw_request: bytes, host: str) -> tuple[list[str] | None, str]:
    """curl's words that send this request (the last one is the target, for the caller to
    make a URL of), or None and why curl cannot send it as it is.

    curl adds headers of its own (User-Agent, Accept), and sends Host as host:port when the
    request's Host is ``host`` itself (the harness's default); everything else is sent as
    the request has it: the method, the target, each header line, the body."""
    head, sep, body = raw_request.partition(b"\r\n\r\n")
    try:
        lines = head.decode("ascii").split("\r\n")
        method, target, version = lines[0].split(" ")
    except (UnicodeDecodeError, ValueError):
        return None, "not an HTTP request"
    if not sep or not _TOKEN.fullmatch(method) or not target.startswith("/") or version != "HTTP/1.1":
        return None, "not an HTTP/1.1 request with a path"
    if "#" in target:
        return None, "a '#' in the target, which curl leaves out"
    words = ["curl", "-i", "--max-time", "5"]
    if method == "HEAD":
        words[1] = "-I"  # curl -X HEAD would wait for a body that never comes
    elif method != "GET" or body:
        words += ["-X", method]
    if re.search(r"[][{}]", target):
        words.append("--globoff")  # brackets and braces are URL globbing to curl
    if re.search(r"/\.\.?(/|\?|$)", target):
        words.append("--path-as-is")  # curl would resolve /./ and /../ itself
    length, hosts, content_type = None, [], False
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            return None, f"the header line {line!r}, which curl would not send as it is"
        lower = name.lower()
        if lower == "content-length":
            if length is not None or not value.strip().isdigit():
                return None, "two Content-Length headers, or one that is not a number"
            length = int(value)
        elif lower == "transfer-encoding":
            return None, "a Transfer-Encoding: curl encodes bodies its own way"
        elif lower == "host":
            hosts.append(value.strip())
        else:
            content_type = content_type or lower == "content-type"
            # -H 'Name:' would remove the header; 'Name;' sends it with an empty value.
            words += ["-H", f"{name}:{value}" if value.strip() else f"{name};"]
    if len(hosts) > 1:
        return None, "two Host headers"
    if not hosts:
        words += ["-H", "Host:"]  # curl sends none then
    elif hosts[0] != host:
        words += ["-H", f"Host: {hosts[0]}"]
    if length is None or len(body) > length:
        if body:  # bytes after the request: another request (or bytes that are none)
            return None, "several requests in one write"
    elif len(body) < length:
        if body:
            return None, f"a body cut short: {len(body)} of the {length} bytes announced"
        words += ["-H", f"Content-Length: {length}"]  # announced, never sent: curl sends the head alone
    if body:
        if len(body) > CURL_BODY_LIMIT:
            return None, f"a body of {len(body)} bytes, too long to paste"
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None, "a body that is not UTF-8 text"
        if "\0" in text or text.startswith("@"):  # a shell word has no NUL; @ names a file to curl
            return None, "a body that starts with @ or holds a NUL byte"
        words += ["--data-binary", text]
        if not content_type:
            words += ["-H", "Content-Type:"]  # else curl adds its own (application/x-www-form-urlencoded)
    words.append(target)
    return words, ""


def curl_command(raw_request: bytes, host: str, port: int) -> str:
    """The curl command line that sends the same request, or, when curl cannot (several
    requests, a chunked body, bytes that are not HTTP), a one-liner that sends the bytes."""
    words, why = _curl(raw_request, host)
    if words is None:
        return f"(not for curl: {why}; the raw bytes:) {raw_command(raw_request, host, port)}"
    words.append(f"http://{host}:{port}{words.pop()}")
    return " ".join(shlex.quote(word) for word in words)


def _describe(script: list[tuple]) -> str:
    """How the test sent its bytes, in a few words: why one curl command would not do."""
    kinds = [action[0] for action in script]
    names = {action[1] for action in script if action[0] != "sleep"}
    sends = [action[2] for action in script if action[0] == "send"]
    said = []
    if len(names) > 1:
        said.append(f"on {len(names)} connections at once ({', '.join(sorted(names))})")
    if "trickle" in kinds:
        every = next(action[3] for action in script if action[0] == "trickle")
        said.append(f"one byte every {every:g} s")
    if "read" in kinds:
        said.append("each request after the answer to the one before")
    elif "sleep" in kinds:
        said.append("in pieces, with pauses between them")
    elif any(len(_requests(data)) > 1 for data in sends):
        said.append("several requests in one write")
    if "shut" in kinds:
        said.append("then closing its sending side (shutdown(SHUT_WR))")
    if not sends and "trickle" not in kinds:
        said.append("nothing: it connected, sent no byte and waited")
    return ", ".join(said) or "bytes sent in an unusual way"


def python_command(script: list[tuple], host: str, port: int) -> str:
    """A ``python -c`` one-liner that does what ``script`` says (see ``Exchange.actions``)
    and prints what comes back as Python bytes literals, where every \\r and \\n shows, as
    it comes, until the server closes the connection or says nothing for QUIET_SECONDS.
    Every byte is sent as the test sent it: long runs of one byte, or of a few, are written
    as ``b"x" * 1000`` so that a megabyte body still makes a short command."""
    names = list(dict.fromkeys(action[1] for action in script if action[0] != "sleep")) or ["s"]
    modules = "select, socket" + (", time" if any(action[0] in ("sleep", "trickle") for action in script) else "")
    code = [f"import {modules}"]
    code += [f'{name} = socket.create_connection(("{host}", {port}))' for name in names]
    code.append(f'answer = lambda c: c.recv(65536) if select.select([c], [], [], {QUIET_SECONDS})[0] else b""')
    label = (lambda name: f'"{name}:", ') if len(names) > 1 else (lambda name: "")
    for action in script:
        kind = action[0]
        if kind == "send":
            code.append(f"{action[1]}.sendall({_bytes_expression(action[2])})")
        elif kind == "sleep":
            code.append(f"time.sleep({action[1]:g})")
        elif kind == "read":
            code.append(f"print({label(action[1])}answer({action[1]}))")
        elif kind == "shut":
            code.append(f"{action[1]}.shutdown(socket.SHUT_WR)")
        elif kind == "trickle":  # stops sending once the server has answered or closed
            _, name, data, every = action
            code.append(f"[{name}.sendall(bytes([byte])) or time.sleep({every:g}) "
                        f"for byte in {_bytes_expression(data)} if not select.select([{name}], [], [], 0)[0]]")
    code += [f'[print({label(name)}chunk) for chunk in iter(lambda: answer({name}), b"")]' for name in names]
    return "python -c " + shlex.quote("; ".join(code))


def raw_command(raw_request: bytes, host: str, port: int) -> str:
    """A ``python -c`` one-liner that sends exactly these bytes in one write and prints what
    comes back as Python bytes literals, where every \\r and \\n shows."""
    return python_command([("send", "s", raw_request)] if raw_request else [], host, port)


# A run of 8 or more copies of a unit of up to 64 bytes: b"x" * 100000, b"0123456789abcdef" * 4096
_REPEATED = re.compile(rb"(.{1,64}?)\1{7,}", re.DOTALL)
_ESCAPES = {"\r": "\\r", "\n": "\\n", "\t": "\\t", "\\": "\\\\", '"': '\\"', "'": "\\x27"}


def _literal(data: bytes) -> str:
    """A bytes literal in double quotes and without a single quote (the shell's), for ``data``."""
    text = "".join(_ESCAPES.get(c, c if " " <= c <= "~" else f"\\x{ord(c):02x}") for c in data.decode("latin-1"))
    return f'b"{text}"'


def _bytes_expression(data: bytes) -> str:
    """A Python expression whose value is exactly ``data``: bytes literals, with each long
    run of a repeated unit written ``b"unit" * N``."""
    parts, start, pos = [], 0, 0
    while found := _REPEATED.search(data, pos):
        unit = found.group(1)
        if len(found.group(0)) < 32:  # as short written out: not worth a "* N"
            pos = found.start() + 1
            continue
        if found.start() > start:
            parts.append(_literal(data[start:found.start()]))
        parts.append(f"{_literal(unit)} * {len(found.group(0)) // len(unit)}")
        start = pos = found.end()
    if start < len(data) or not parts:
        parts.append(_literal(data[start:]))
    return " + ".join(_fold(parts))


def _fold(parts: list[str]) -> list[str]:
    """``parts`` with each run of 3 or more copies of a group of 2 to 4 parts written
    ``(a + b) * N``: a chunked body of 16 equal chunks is one term, not 32."""
    folded, index = [], 0
    while index < len(parts):
        for size in (2, 3, 4):
            group, copies = parts[index:index + size], 1
            while parts[index + copies * size:index + (copies + 1) * size] == group:
                copies += 1
            if len(group) == size and copies >= 3:
                folded.append(f"({' + '.join(group)}) * {copies}")
                index += copies * size
                break
        else:
            folded.append(parts[index])
            index += 1
    return folded
