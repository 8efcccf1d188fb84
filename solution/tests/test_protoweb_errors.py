"""Black-box: every error is a JSON answer with a message, the server keeps serving.

400 (malformed, upgrade, Host rules, invalid JSON), 413 (answered before the body is
read), 414, 431, 500 (traceback in the server's log, never sent). Connections whose
state is unknown after the error are closed; the others stay usable.
"""

import json
import secrets
import socket
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


def assert_json_error(result, status_line, closed=True):
    response = result.response
    assert response.status_line == status_line, result.explain()
    assert response.header("Content-Type") == "application/json"
    assert isinstance(json.loads(response.body)["message"], str)
    assert b"Traceback" not in result.received
    if closed:
        assert result.closed or result.reset, result.explain("the connection should be closed")
        assert response.header("Connection") == "close"
    return json.loads(response.body)["message"]


def assert_still_serving(srv):
    value = secrets.token_hex(4)
    assert requests.get(f"{srv.url}/users/{value}", timeout=TIMEOUT).json()["user_id"] == value


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE / HTTP/1.1\r\nHost: x\r\n\r\n",
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


@pytest.mark.parametrize(
    "raw",
    [
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        b"GET /users/1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    ],
)
def test_upgrades_get_400_not_a_crash(server, send, raw):
    # httptools raises HttpParserUpgrade for these, which is not an HttpParserError.
    message = assert_json_error(send(server, raw), "HTTP/1.1 400 Bad Request")
    assert "upgrade" in message.lower()
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET /users/1 HTTP/1.1\r\n\r\n", "Missing Host header"),
        (b"GET /users/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "exactly one Host"),
    ],
)
def test_missing_or_duplicated_host_gets_400(server, send, raw, expected):
    assert expected in assert_json_error(send(server, raw), "HTTP/1.1 400 Bad Request")


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00garbage", b'{"a": 1'])
def test_invalid_json_gets_400_and_the_connection_stays_open(server, send, body):
    raw = request("POST", "/json", body, {"Content-Type": "application/json"}) if body else \
        b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    result = send(server, raw + request("GET", "/users/after"), until_closed=False, timeout=1)
    message = assert_json_error(result, "HTTP/1.1 400 Bad Request", closed=False)
    assert "JSON" in message
    deadline = time.monotonic() + TIMEOUT
    while len(result.responses()) < 2 and time.monotonic() < deadline:  # the second answer may lag
        result = send(server, raw + request("GET", "/users/after"), until_closed=False, timeout=0.3)
    assert json.loads(result.responses()[1].body)["user_id"] == "after"


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


def test_a_handler_exception_is_500_logged_with_traceback_but_not_sent(server, send):
    tag = secrets.token_hex(6)
    mark = server.mark()
    result = send(server, request("GET", f"/boom?tag={tag}"), until_closed=False)
    assert_json_error(result, "HTTP/1.1 500 Internal Server Error", closed=False)
    assert result.json() == {"message": "Internal Server Error"}
    assert tag.encode() not in result.received
    server.wait_for(f"RuntimeError: secret detail {tag}", since=mark)
    assert "Traceback (most recent call last)" in server.log(since=mark)
    assert_still_serving(server)


@pytest.mark.parametrize("path", ["/none", "/unserializable"])
def test_a_handler_returning_something_unsendable_is_500(server, send, path):
    mark = server.mark()
    result = send(server, request("GET", path), until_closed=False)
    assert_json_error(result, "HTTP/1.1 500 Internal Server Error", closed=False)
    server.wait_for("Traceback", since=mark)
