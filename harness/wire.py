"""Talk HTTP/1.1 over a plain socket and look at the exact bytes, both ways.

A test (or a notebook cell) sends bytes with :func:`exchange` and gets an
:class:`Exchange` back: what was sent, every byte that came back, whether the server
closed the connection, and the response parsed strictly (CRLF line endings, a
status line with a reason phrase, a byte-exact ``Content-Length``). ``explain()``
turns it into the message a failing check shows: sent, received, and the ``curl``
command that sends the same request.
"""

from __future__ import annotations

import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 3.0


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


def parse_response(data: bytes, head_only: bool = False) -> tuple[Response, bytes]:
    """Parse the first response in ``data``; return it and the bytes after it.

    Strict on purpose: lines must end in CRLF, and the body must be exactly
    ``Content-Length`` bytes. Raises ValueError saying what is wrong. ``head_only``: the
    answer to a HEAD request, which has no body whatever its headers say.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if b"\n\n" in data:
            raise ValueError("the head ends with a bare LF LF: HTTP lines must end in CRLF (\\r\\n)")
        raise ValueError("no complete response head (no blank CRLF line)")
    head = data[: end + 4]
    lines = data[:end].split(b"\r\n")
    for line in lines:
        if b"\n" in line or b"\r" in line:
            raise ValueError(f"a bare LF or CR inside the head: {line!r}; HTTP lines end in CRLF")
    status_line = lines[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 3 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"malformed status line {status_line!r}; expected e.g. 'HTTP/1.1 200 OK'")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"malformed header line {line!r}")
        headers.append((name, value.strip()))
    response = Response(status_line, parts[0], int(parts[1]), parts[2], headers, b"", head)
    rest = data[end + 4:]
    if head_only:  # an answer to HEAD has no body, whatever its headers say
        return response, rest
    length = response.header("Content-Length")
    if length is not None:
        if not length.isdigit():
            raise ValueError(f"Content-Length {length!r} is not a number")
        size = int(length)
        if len(rest) < size:
            raise ValueError(f"Content-Length says {size} bytes but only {len(rest)} arrived")
        response.body, rest = rest[:size], rest[size:]
    elif response.header("Transfer-Encoding") is None and 200 <= response.status and response.status not in (204, 304):
        response.body, rest = rest, b""  # the body runs until the server closes
    return response, rest


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
        if self._parsed is None:
            if not self.received:
                raise AssertionError(self.explain("no answer: the server sent nothing back"))
            try:
                self._parsed = parse_response(self.received)
            except ValueError as error:
                raise AssertionError(self.explain(f"the response is not valid HTTP: {error}")) from None
        return self._parsed[0]

    def responses(self) -> list[Response]:
        """Every response in what came back (pipelining / keep-alive)."""
        found, rest = [], self.received
        while rest:
            try:
                response, rest = parse_response(rest)
            except ValueError as error:
                raise AssertionError(self.explain(f"the response is not valid HTTP: {error}")) from None
            found.append(response)
        return found

    def json(self):
        import json

        return json.loads(self.response.body.decode("utf-8"))

    def explain(self, problem: str = "") -> str:
        """What was sent, what came back, and how to send the same request with curl."""
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
        parts += [
            "the same request with curl (this test's server is gone when you read this: start",
            "yours, e.g. `python my_server.py`, and use its port, 8080 by default):",
            "    " + curl_command(sent, self.host, self.port),
        ]
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
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not _complete(self._unread, head_only) and self._receive(deadline):
            pass
        try:
            response, self._unread = parse_response(self._unread, head_only)
        except ValueError as error:
            raise AssertionError(self.exchange.explain(f"no complete, valid response: {error}")) from None
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
    try:
        parse_response(data, head_only)
    except ValueError:
        return False
    return True


def curl_command(raw_request: bytes, host: str, port: int) -> str:
    """The curl command line that sends the same request, or a way to send the raw bytes."""
    raw_fallback = f"printf %s {shlex.quote(raw_request.decode('latin-1'))} | nc {host} {port}"
    head, sep, body = raw_request.partition(b"\r\n\r\n")
    try:
        lines = head.decode("ascii").split("\r\n")
        method, target, version = lines[0].split(" ")
    except (UnicodeDecodeError, ValueError):
        return f"(not an HTTP request curl can send; the raw bytes:) {raw_fallback}"
    if not sep or not target.startswith("/") or version != "HTTP/1.1":
        return f"(not an HTTP request curl can send; the raw bytes:) {raw_fallback}"
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
            return f"(a chunked body: curl would re-encode it; the raw bytes:) {raw_fallback}"
        if len(body) != length:  # more bytes than one request's body: requests one after another
            return f"(several requests on one connection: curl sends one; the raw bytes:) {raw_fallback}"
        words += ["--data-binary", body.decode("utf-8", "backslashreplace")]
    words.append(f"http://{host}:{port}{target}")
    return " ".join(shlex.quote(word) for word in words)
