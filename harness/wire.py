"""Talk HTTP/1.1 over a plain socket and look at the exact bytes, both ways.

A test (or a notebook cell) sends bytes with :func:`exchange` and gets an
:class:`Exchange` back: what was sent, every byte that came back, whether the server
closed the connection, and the response parsed strictly (CRLF line endings, a
status line with a reason phrase, a byte-exact ``Content-Length``). ``explain()``
turns it into the message a failing check shows: sent, received, and the ``curl``
command that sends the same request.

When the bytes are not HTTP/1.1 at all (a bare ``\\n`` ending a line, a
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

DEFAULT_TIMEOUT = 3.0
# Steps 02-05 answer nothing for a path or method that has no route: the first suspect.
NO_ANSWER = ("no answer: the server sent nothing back (a path or method your server has no route for "
             "gets no answer before step 06: is the route registered, for this method?)")


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
    lines, start = [], 0
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
    _parsed: tuple[Response, bytes] | None = field(default=None, repr=False)

    @property
    def response(self) -> Response:
        """The first response, parsed strictly (raises AssertionError with the exchange)."""
        __tracebackhide__ = True  # pytest shows a failure from the test's line, not from here
        if self._parsed is None:
            if not self.received:
                raise AssertionError(self.explain(NO_ANSWER))
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

    def parse(self, data: bytes, head_only: bool = False) -> tuple[Response, bytes]:
        """``parse_response(data)``; when that fails, an AssertionError that explains this
        exchange: a FramingFailure if no more bytes can make it valid HTTP/1.1 (a response
        left unfinished when the server closed the connection is one too)."""
        __tracebackhide__ = True
        try:
            return parse_response(data, head_only)
        except Incomplete as problem:
            if not self.closed:
                raise AssertionError(self.explain(f"no complete response: {problem}")) from None
            final = NotHTTP(problem.kind, f"{problem.summary}, and then the server closed the connection", problem.fix)
            raise self.framing_failure(final) from None
        except NotHTTP as problem:
            raise self.framing_failure(problem) from None

    def framing_failure(self, problem: NotHTTP) -> FramingFailure:
        """The failure for bytes that are not HTTP/1.1: the problem, the fix, the exchange,
        and a one-liner that shows the raw bytes (curl would hide some of these problems)."""
        why = LENIENT_CLIENTS.get(problem.kind, "To see the bytes exactly as they come")
        message = self.explain(f"The response is not valid HTTP/1.1: {problem.summary}.\nFix: {problem.fix}.",
                               raw=why)
        return FramingFailure(message, problem)

    def explain(self, problem: str = "", raw: str = "") -> str:
        """What was sent, what came back, and how to send the same request with curl; with
        ``raw`` (why curl would not do), a one-liner that prints the raw bytes instead."""
        sent = b"".join(self.sent)
        ending = "closed by the server" if self.closed else "reset by the server" if self.reset else "still open when we stopped waiting"
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
            parts.append(f"the server logged meanwhile ({len(lines)} lines{', the last 20' if len(lines) > 20 else ''}):")
            parts += ["    | " + line for line in lines[-20:]]
        yours = ("(this test's server is gone when you read this: start yours, e.g. `python my_server.py`, "
                 "and use its port, 8080 by default)")
        if raw:
            parts += [f"{raw}: send the same bytes and print what comes back, every \\r and \\n visible {yours}:",
                      "    " + raw_command(sent, self.host, self.port)]
        else:
            parts += [f"the same request with curl {yours}:", "    " + curl_command(sent, self.host, self.port)]
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
            conn.sock.shutdown(socket.SHUT_WR)
        deadline = conn.started + timeout
        while (until_closed or not _complete(conn.exchange.received)) and conn._receive(deadline):
            pass
    return conn.exchange


class Connection:
    """One connection kept open for several requests, as a keep-alive client uses it.

        with Connection(host, port) as conn:
            first = conn.ask(request("GET", "/a"))     # send, then read one whole response
            second = conn.ask(request("GET", "/b"))    # on the same connection
            conn.wait_closed()                         # True if the server closes it (bounded)

    ``conn.exchange`` holds everything sent and received so far, for the checks of
    harness.checks and for a failure's explanation.
    """

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.exchange = Exchange(host, port, [])
        self.started = time.monotonic()  # the exchange's seconds count from here
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._unread = b""  # received, not yet returned as a response

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.exchange.sent.append(data)
        self.sock.sendall(data)

    def ask(self, data: bytes) -> Response:
        self.send(data)
        return self.read_response(head_only=data.startswith(b"HEAD "))

    def read_response(self, timeout: float | None = None, head_only: bool = False) -> Response:
        """The next whole response (parsed strictly); AssertionError, with the whole
        conversation, if none comes within ``timeout`` seconds. ``head_only``: it answers
        a HEAD request (no body)."""
        __tracebackhide__ = True
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not _complete(self._unread, head_only) and self._receive(deadline):
            pass
        response, self._unread = self.exchange.parse(self._unread, head_only)
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
        except socket.timeout:
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


def curl_command(raw_request: bytes, host: str, port: int) -> str:
    """The curl command line that sends the same request, or a way to send the raw bytes."""
    head, sep, body = raw_request.partition(b"\r\n\r\n")
    try:
        lines = head.decode("ascii").split("\r\n")
        method, target, version = lines[0].split(" ")
    except (UnicodeDecodeError, ValueError):
        return f"(not an HTTP request curl can send; the raw bytes:) {raw_command(raw_request, host, port)}"
    if not sep or not target.startswith("/") or version != "HTTP/1.1":
        return f"(not an HTTP request curl can send; the raw bytes:) {raw_command(raw_request, host, port)}"
    words = ["curl", "-i", "--max-time", "5"]
    if method == "HEAD":
        words[1] = "-I"  # curl -X HEAD would wait for a body that never comes
    elif method != "GET" or body:
        words += ["-X", method]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length" and value.strip().isdigit():
            length = int(value)
        if name.lower() in ("host", "content-length"):
            continue
        words += ["-H", f"{name}:{value}"]
    if body:
        if b"Transfer-Encoding: chunked" in head:
            return f"(a chunked body: curl would re-encode it; the raw bytes:) {raw_command(raw_request, host, port)}"
        if len(body) != length:  # more bytes than one request's body: requests one after another
            return (f"(several requests on one connection: curl sends one; the raw bytes:) "
                    f"{raw_command(raw_request, host, port)}")
        words += ["--data-binary", body.decode("utf-8", "backslashreplace")]
    words.append(f"http://{host}:{port}{target}")
    return " ".join(shlex.quote(word) for word in words)


def raw_command(raw_request: bytes, host: str, port: int, limit: int = 400) -> str:
    """A ``python -c`` one-liner that sends these bytes and prints the first bytes that come
    back as a Python bytes literal, where every \\r and \\n shows. (A request longer than
    ``limit`` bytes is replaced by a GET of the same target: the answer's framing is what
    matters.)"""
    if len(raw_request) > limit:
        target = (raw_request.split(b" ", 2)[1:2] or [b"/"])[0].decode("latin-1")
        raw_request = request("GET", target if target.startswith("/") else "/", host=host)
    escapes = {"\r": "\\r", "\n": "\\n", "\t": "\\t", "\\": "\\\\", '"': '\\"', "'": "\\x27"}
    literal = "".join(escapes.get(c, c if " " <= c <= "~" else f"\\x{ord(c):02x}") for c in raw_request.decode("latin-1"))
    code = (f'import socket; s = socket.create_connection(("{host}", {port}), timeout=3); '
            f's.sendall(b"{literal}"); print(s.recv(65536))')
    return f"python -c {shlex.quote(code)}"
