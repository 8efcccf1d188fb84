"""Checks shared by the step tests. A failure says what was sent, what came back, and
a command that sends the same bytes the same way (see ``Exchange.explain``); when no
answer came, a ``NoAnswer`` says so and why that usually happens; when the answer is
not HTTP/1.1 at all, a ``FramingFailure`` says what to fix first."""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shlex
import signal
import threading
import time
from http import HTTPStatus

from harness.process import ServerError, ServerProcess
from harness.wire import Connection, Exchange, NoAnswer, exchange

# A few characters that take 2, 3 and 4 bytes in UTF-8.
NON_ASCII = "éüñ✓日本語😀"

# The last line of a Python traceback, "RuntimeError: ...": the exception's type at the
# start of the line (the source lines above it are indented). A test that makes a
# server print a traceback waits for this line, so the traceback is in the log before
# the next test marks where its own log begins.
TRACEBACK_END = re.compile(r"^\w+(Error|Exception)\b")


# Headers that ask the server to close the connection after its answer: a check sent with
# them passes against a learner's file at any step (from step 09 on, connections stay open).
CLOSE = {"Connection": "close"}


def fail(ex: Exchange, problem: str) -> None:
    """Fail with the problem, then what was sent and what came back (a plain raise, not an
    assert: pytest would add its own view of the compared values)."""
    __tracebackhide__ = True
    raise AssertionError(ex.explain(problem))


def wait_for_traceback(server: ServerProcess, mark: int, timeout: float = 2.0) -> None:
    """After a 500, give the server a moment to log its traceback, so that a failure message
    (which shows the server's log) shows it too; no traceback in that time is fine."""
    try:
        server.wait_for(TRACEBACK_END, since=mark, timeout=timeout)
    except ServerError:
        pass


def random_word(size: int = 8) -> str:
    """Random ASCII letters and digits: safe in a URL path, different on every run."""
    return secrets.token_hex(size // 2 + 1)[:size]


def random_text(size: int = 12) -> str:
    """Random text that mixes ASCII with multi-byte characters."""
    pool = "abcdefghijklmnopqrstuvwxyz0123456789 " + NON_ASCII
    return "".join(random.choice(pool) for _ in range(size)) + random.choice(NON_ASCII)


_ANY = object()


def json_response(ex: Exchange, status: int, expected: object = _ANY, *, index: int = 0,
                  closes: bool = True) -> object:
    """Check a complete JSON response with ``status`` (and body ``expected``, if given),
    then return its decoded body.

    Checks: the status line (version, code, reason phrase), CRLF line endings, a
    ``Content-Type: application/json`` header, ``Content-Length`` equal to the number
    of body bytes, and how the connection goes on. ``index`` picks a response when
    several came back on one connection (0, the first, by default). With ``closes``
    the response says ``Connection: close``, nothing comes after it, and the server
    closes the connection; with ``closes=False`` (keep-alive) it does not say
    ``Connection: close``.
    """
    __tracebackhide__ = True  # pytest shows a failure from the test's line: the message says it all
    response = _check_framing(ex, status, "application/json", index, closes)
    try:
        body = json.loads(response.body.decode("utf-8"))
    except ValueError as error:
        raise AssertionError(ex.explain(f"the body is not UTF-8 JSON: {error}")) from None
    if expected is not _ANY:
        assert body == expected, ex.explain(f"expected the JSON body {_short(expected)}, got {_short(body)}")
    return body


def text_response(ex: Exchange, status: int, expected: str, *, index: int = 0, closes: bool = True) -> None:
    """Like :func:`json_response`, for a ``text/plain; charset=utf-8`` body equal to ``expected``."""
    __tracebackhide__ = True
    response = _check_framing(ex, status, "text/plain; charset=utf-8", index, closes)
    body = response.body.decode("utf-8", "replace")
    assert body == expected, ex.explain(f"expected the text body {expected!r}, got {body!r}")


def _check_framing(ex: Exchange, status: int, content_type: str, index: int, closes: bool):
    __tracebackhide__ = True
    if index == 0:
        response = ex.response  # a strict parse: raises with the exchange if not valid HTTP
        end = len(response.head) + len(response.body)
        last = len(ex.received) == end
    else:
        responses = ex.responses()
        if index >= len(responses):
            raise NoAnswer(ex.explain(f"expected at least {index + 1} responses, got {len(responses)}: "
                                      + ex.no_answer(len(responses) + 1)))
        response, last = responses[index], index == len(responses) - 1
    status_line = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"
    assert response.status_line == status_line, ex.explain(f"expected the status line {status_line!r}")
    assert response.header("Content-Type") == content_type, ex.explain(f"expected Content-Type: {content_type}")
    # (The parse above already checked that Content-Length is the number of body bytes.)
    assert response.header("Content-Length") is not None, ex.explain("the response has no Content-Length")
    assert last or not closes, ex.explain("the response says Connection: close, but another response came after it")
    connection = (response.header("Connection") or "").lower()
    if closes:
        assert connection == "close", ex.explain("expected Connection: close")
        assert ex.closed, ex.explain("the server should close the connection after its response")
    else:
        assert connection != "close", ex.explain("expected the connection to stay open (keep-alive), "
                                                 "but the response says Connection: close")
    return response


def _short(value: object, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def assert_no_answer(ex: Exchange) -> None:
    """Nothing came back and the connection is still open: this step does not answer."""
    assert ex.received == b"" and not ex.closed, ex.explain("expected no answer and an open connection")


def assert_stops_cleanly(server: ServerProcess) -> None:
    """Ctrl-C (SIGINT) ends the server with exit status 0 and no traceback."""
    status = server.stop()
    assert status == 0, f"exit status {status} after Ctrl-C; the server's output:\n{server.log()}"
    assert "Traceback" not in server.log(), f"a traceback after Ctrl-C:\n{server.log()}"


def interleave(server: ServerProcess, first: bytes, second: bytes, split: int, timeout: float = 3.0,
               pause: float = 0.05):
    """Two clients at once: A sends ``first[:split]``, B sends all of ``second``, then A
    sends the rest. Returns both Exchanges (A, B); each reads until the server closes
    or ``timeout``.

    The pauses let the server read each piece on its own; without them A's two pieces
    may reach the server together and nothing interleaves. With one protocol object
    shared by all connections (the article's bug), A's and B's bytes then end up in
    the same parser, and their answers in the same transport.
    """
    with connect(server, timeout) as a, connect(server, timeout) as b:
        a.send(first[:split])
        time.sleep(pause)
        b.send(second)
        time.sleep(pause)
        a.send(first[split:])
        # What the test did, on both connections: the command a failure suggests does the same.
        a.exchange.connection, b.exchange.connection = "a", "b"
        a.exchange.actions[:] = b.exchange.actions[:] = [
            ("send", "a", first[:split]), ("sleep", pause), ("send", "b", second), ("sleep", pause),
            ("send", "a", first[split:])]
        # Both read at once, each in a thread, so that neither waits for the other's close.
        readers = [threading.Thread(target=conn.wait_closed, args=(timeout,)) for conn in (a, b)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout + 2)
    return a.exchange, b.exchange


def send(server: ServerProcess, *pieces: bytes, **options) -> Exchange:
    """``exchange`` with the server's address filled in; a failure also shows its log,
    and how to start the server by hand as the test did."""
    mark = server.mark()
    result = exchange(server.host, server.port, *pieces, **options)
    result.server_log = lambda: server.log(since=mark)
    result.start_hint, result.hand_port = start_hint(server), server.hand_port
    return result


def connect(server: ServerProcess, timeout: float = 3.0) -> Connection:
    """A :class:`harness.wire.Connection` (kept alive, several requests) to ``server``;
    a failure also shows what the server logged meanwhile, and how to start it by hand."""
    mark = server.mark()
    conn = Connection(server.host, server.port, timeout=timeout)
    conn.exchange.server_log = lambda: server.log(since=mark)
    conn.exchange.start_hint, conn.exchange.hand_port = start_hint(server), server.hand_port
    return conn


def server_command(server: ServerProcess, *more: str) -> str:
    """The command that starts ``server`` by hand, with the options the test gave it (and
    ``more``); the test's --host and --port, which come last, are left out: by hand, the
    defaults do."""
    options = [*server.args[:-4], *more]
    try:
        path = os.path.relpath(server.script)  # shorter, when the file is below the current folder
    except ValueError:  # another drive (Windows)
        path = str(server.script)
    if path.startswith(".."):
        path = str(server.script)
    if server.module:  # python -m uvicorn server:app ..., run in the file's folder
        return f"cd {shlex.quote(os.path.dirname(path) or '.')} && python -m {server.module} {shlex.join(options)}"
    return shlex.join(["python", path, *options])


def start_hint(server: ServerProcess) -> str:
    """How to start ``server`` by hand for a failure's reproduction (the commands then use its port)."""
    return f"start it as the test did, `{server_command(server)}`: it listens on port {server.hand_port}"


def shutdown_by_hand(server: ServerProcess, signum: int, target: str, expected: str, port: int = 8080) -> str:
    """How to see a shutdown problem by hand, since one request alone cannot show it: the
    signal has to reach the server while ``target`` is being answered. ``expected``: what
    a right server does then. (``port``: where the server listens, 8080 by default.)"""
    name = signal.Signals(signum).name
    kill = f"kill -{name.removeprefix('SIG')}"
    command = server_command(server, *(["--port", str(port)] if port != 8080 else []))
    curl = f"curl -i --max-time 5 http://127.0.0.1:{port}{target}"
    ctrl_c = " (or press Ctrl-C in the first terminal)" if signum == signal.SIGINT else ""
    # In one line: set -m, so that the server started in the background does not ignore
    # SIGINT (without job control, a shell makes its background commands ignore it).
    return (f"To see it by hand ({name} must come while {target} is being answered): in one terminal start "
            f"the server, `{command}`; in a second, `{curl}`; in a third, within half a second, "
            f"`{kill} <the server's pid>`{ctrl_c}. {expected} All in one line, in bash:\n"
            f"    (set -m; {command} & server=$!; sleep 1; {curl} & sleep 0.2; {kill} $server; wait)")


def assert_valid_http(server: ServerProcess, data: bytes) -> Exchange:
    """Send ``data``, read one answer and parse it strictly: a test that then asks curl,
    requests or the step's client the same thing calls this first. Those clients accept
    a bare \\n and stop reading at Content-Length, so a framing mistake would show up
    there as a puzzle (a body cut short) or not at all."""
    __tracebackhide__ = True
    ex = send(server, data, until_closed=False)
    if not ex.received:  # not a byte came back: say so, with the likely causes
        raise NoAnswer(ex.explain(ex.no_answer(1)))
    ex.responses()  # and all that came must be HTTP/1.1
    return ex


def http(method: str, url: str, **options):
    """``requests.request``, bounded in time (3 s unless given); when no valid answer
    comes, the failure is one line instead of pages of urllib3 internals."""
    import requests

    options.setdefault("timeout", 3)
    try:
        return requests.request(method, url, **options)
    except requests.RequestException as error:
        raise AssertionError(f"{method} {url} with requests: no valid answer ({error!r})") from None
