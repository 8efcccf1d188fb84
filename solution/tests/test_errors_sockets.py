"""Black-box: every error is a JSON answer with a message, the server keeps serving.

400 (malformed, CONNECT, Host rules, invalid JSON), 413 (answered before
the body is read), 414, 431, 500 (traceback in the server's log, never sent), 501,
505. Connections whose state is unknown after the error are closed; the others stay
usable: a second request on the same connection is answered.
"""

import json
import secrets
import socket
import subprocess
import sys
import time
from http import HTTPStatus

import pytest
import requests

from harness import request

TIMEOUT = 5
LIMITS = ("--max-body-size", "1000", "--max-url-size", "200", "--max-header-size", "600")


@pytest.fixture(scope="module")
def small(start_module_server):
    return start_module_server(*LIMITS)


def line(status):
    """The status line, with the reason phrase of this Python's http.HTTPStatus (3.13 renamed a few)."""
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"


def assert_json_error(result, status_line):
    """``result``: an exchange read until the server closed (as it must after these errors)."""
    response = result.response
    assert response.status_line == status_line, result.explain()
    assert response.header("Content-Type") == "application/json"
    assert isinstance(json.loads(response.body)["message"], str)
    assert b"Traceback" not in result.received
    assert result.closed or result.reset, result.explain("the connection should be closed")
    assert response.header("Connection") == "close"
    return json.loads(response.body)["message"]


def assert_error_then_served(srv, converse, raw, status_line):
    """``raw`` gets a JSON error, and the connection stays usable: the next request is answered."""
    value = secrets.token_hex(3)
    result = converse(srv, raw, request("GET", f"/users/{value}"))
    assert len(result.responses) == 2, result.explain()
    error, after = result.responses
    assert error.status_line == status_line, result.explain()
    assert error.header("Content-Type") == "application/json" and error.header("Connection") is None
    assert b"Traceback" not in result.received
    assert json.loads(after.body)["user_id"] == value
    return json.loads(error.body)["message"]


def assert_still_serving(srv):
    value = secrets.token_hex(4)
    assert requests.get(f"{srv.url}/users/{value}", timeout=TIMEOUT).json()["user_id"] == value


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello sent to plain HTTP
    ],
)
def test_malformed_requests_get_400_and_the_connection_is_closed(server, send, raw):
    message = assert_json_error(send(server, raw), "HTTP/1.1 400 Bad Request")
    assert message.startswith("Malformed request")
    assert_still_serving(server)


def test_an_unknown_method_gets_501(server, send):
    message = assert_json_error(send(server, b"GARBAGE / HTTP/1.1\r\nHost: x\r\n\r\n"), line(501))
    assert message == "Unknown method 'GARBAGE'"
    assert_still_serving(server)


@pytest.mark.parametrize("raw", [b"GET /users/1 HTTP/2.0\r\nHost: x\r\n\r\n", b"GET /users/1\r\n\r\n"],
                         ids=["HTTP/2.0", "HTTP/0.9"])
def test_other_http_versions_get_505(server, send, raw):
    assert "not supported" in assert_json_error(send(server, raw), line(505))


def test_connect_gets_400_not_a_crash(server, send):
    # httptools raises HttpParserUpgrade for CONNECT (not an HttpParserError): we open no tunnels.
    message = assert_json_error(send(server, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
                                "HTTP/1.1 400 Bad Request")
    assert "CONNECT" in message
    assert_still_serving(server)


@pytest.mark.parametrize("target", ["http://h:abc/p/x", "http://[::1/p/x", "http:///p/x", "http://@/p/x",
                                    "http://h%/p", "http://h:99999/p/x"])
def test_a_malformed_absolute_target_gets_400(server, send, target):
    mark = server.mark()
    result = send(server, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert "Malformed request-target" in assert_json_error(result, "HTTP/1.1 400 Bad Request")
    assert "Traceback" not in server.log(since=mark)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET /users/1 HTTP/1.1\r\n\r\n", "Missing Host header"),
        (b"GET /users/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "exactly one Host"),
    ],
)
def test_missing_or_duplicated_host_gets_400(server, send, raw, expected):
    assert expected in assert_json_error(send(server, raw), "HTTP/1.1 400 Bad Request")


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe\x00garbage", b'{"a": 1', b"[NaN]", b'{"a": Infinity}', b"[1e400]",
     b"[" * 100_000 + b"]" * 100_000,  # nested deeper than Python's recursion limit
     b'["\xed\xa0\x80"]'],  # the UTF-8 of a lone surrogate, which is not UTF-8
    ids=["not-json", "empty", "not-text", "unfinished", "NaN", "Infinity", "1e400", "deep", "surrogate-bytes"],
)
def test_invalid_json_gets_400_and_the_connection_stays_open(server, converse, body):
    raw = request("POST", "/json", body, {"Content-Type": "application/json"}) if body else \
        b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    mark = server.mark()
    assert "JSON" in assert_error_then_served(server, converse, raw, "HTTP/1.1 400 Bad Request")
    assert "Traceback" not in server.log(since=mark)


def test_json_with_a_lone_surrogate_round_trips(server, send):
    # "\ud800" is valid JSON syntax, but no UTF-8: the answer escapes it, as it came.
    mark = server.mark()
    result = send(server, request("POST", "/json", '["\\ud800", "é"]'), until_closed=False)
    assert result.response.status == 200, result.explain()
    assert result.response.body == b'{"received": ["\\ud800", "\\u00e9"]}'
    assert json.loads(result.response.body) == {"received": ["\ud800", "é"]}
    assert "Traceback" not in server.log(since=mark)


def test_413_is_answered_before_the_body_is_sent(small):
    head = b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n"
    started = time.monotonic()
    with socket.create_connection(small.address, timeout=TIMEOUT) as sock:
        sock.sendall(head)  # and not one byte of the 50 MB
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert time.monotonic() - started < 2
    assert data.startswith(line(413).encode() + b"\r\n"), data
    assert b'"message": "The request body exceeds 1000 bytes"' in data


def test_413_reaches_a_client_that_sends_its_whole_body_first(small):
    # Many clients send the whole body before they read. Closing a socket that still has
    # unread bytes resets the connection: their send fails, and the 413 can be lost. So
    # the server drains for a moment after answering; the client's send completes.
    body = b"x" * 20_000_000
    with socket.create_connection(small.address, timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(line(413).encode() + b"\r\n"), data
    assert data.endswith(b'{"message": "The request body exceeds 1000 bytes"}')
    assert_still_serving(small)


def test_a_chunked_body_over_the_limit_gets_413(small, send):
    head = b"POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    result = send(small, head, b"200\r\n" + b"a" * 512 + b"\r\n", b"200\r\n" + b"b" * 512 + b"\r\n", pause=0.05)
    assert_json_error(result, line(413))


def test_a_url_over_the_limit_gets_414(small, send):
    result = send(small, request("GET", "/users/" + "u" * 300))
    assert_json_error(result, line(414))
    assert_still_serving(small)


def test_headers_over_the_limit_get_431(small, send):
    result = send(small, request("GET", "/users/1", headers={f"X-H{i}": "v" * 50 for i in range(20)}))
    assert_json_error(result, line(431))


def test_an_endless_header_line_gets_431(small, send):
    pieces = [b"GET /users/1 HTTP/1.1\r\nHost: x\r\nX-Endless: "] + [b"z" * 100] * 20
    result = send(small, *pieces, pause=0.01)
    assert_json_error(result, line(431))
    assert_still_serving(small)


def test_a_handler_exception_is_500_logged_with_traceback_but_not_sent(server, converse):
    tag = secrets.token_hex(6)
    mark = server.mark()
    raw = request("GET", f"/boom?tag={tag}")
    message = assert_error_then_served(server, converse, raw, "HTTP/1.1 500 Internal Server Error")
    assert message == "Internal Server Error"
    server.wait_for(f"RuntimeError: secret detail {tag}", since=mark)
    assert "Traceback (most recent call last)" in server.log(since=mark)


@pytest.mark.parametrize(
    ("path", "error"),
    [("/none", "TypeError: a handler returned NoneType"), ("/unserializable", "is not JSON serializable"),
     ("/nan", "Out of range float values are not JSON compliant"), ("/status/100", "ValueError: 100 is not"),
     ("/http-error/600", "ValueError: 600 is not"), ("/http-error/99?wait=1", "ValueError: 99 is not"),
     ("/http-error/404x", "ValueError: '404x' is not"), ("/http-error/401?header=a%0D%0Ab", "contains CR, LF"),
     ("/http-error/401?header=a%0D%0Ab&wait=1", "contains CR, LF")],
)
def test_a_handler_making_an_unsendable_answer_is_500_and_logged(server, converse, path, error):
    # Including an HTTPError no response could carry: refused where it is made.
    mark = server.mark()
    assert_error_then_served(server, converse, request("GET", path), "HTTP/1.1 500 Internal Server Error")
    server.wait_for(error, since=mark)
    assert "Traceback" in server.log(since=mark)


@pytest.mark.parametrize("path", ["/cancelled", "/cancelled?wait=1"])
def test_a_cancelled_handler_is_500_logged_and_the_connection_closed(server, converse, path):
    # CancelledError is not an Exception: it goes past dispatch, to the connection.
    mark = server.mark()
    result = converse(server, request("GET", path), request("GET", "/users/after"), then=1)
    assert len(result.responses) == 1 and result.closed, result.explain()
    assert result.responses[0].status == 500 and result.responses[0].header("Connection") == "close"
    server.wait_for(f"The handler for GET {path} was cancelled", since=mark)
    assert_still_serving(server)


def test_cancelled_handlers_with_pipelined_requests_leave_no_connection_behind(start_server, fd_count):
    srv = start_server("--keep-alive-timeout", "5")
    baseline = fd_count(srv.pid)
    sockets = []
    for _ in range(20):
        sock = socket.create_connection(srv.address, timeout=TIMEOUT)
        sock.sendall(request("GET", "/cancelled?wait=1") + request("GET", "/users/after"))
        sockets.append(sock)
    for sock in sockets:
        sock.close()
    deadline = time.monotonic() + 2  # well before the 5 s keep-alive timeout could close them
    while fd_count(srv.pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fd_count(srv.pid) <= baseline


def test_a_port_in_use_is_a_one_line_error(server):
    done = subprocess.run([sys.executable, "-m", "protoweb", "feature_app:app", "--port", str(server.port)],
                          cwd=server.cwd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done
    assert f"Cannot serve on 127.0.0.1:{server.port}" in done.stderr and "Traceback" not in done.stderr
