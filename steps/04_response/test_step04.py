"""Step 04: handlers return a Response; the server writes it and closes the connection."""

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import request
from harness.checks import (
    TRACEBACK_END,
    assert_no_answer,
    assert_stops_cleanly,
    assert_valid_http,
    http,
    interleave,
    json_response,
    random_word,
    send,
)

HELLO = {"hello": "back"}


def test_get_hello_world_is_a_complete_json_response(server):
    ex = send(server, request("GET", "/hello_world"))
    json_response(ex, 200, HELLO)
    server.wait_for("Handle: GET /hello_world None")


def test_the_bytes_on_the_wire(server):
    """Status line, CRLF after every line, an empty line, then exactly Content-Length bytes."""
    ex = send(server, request("GET", "/hello_world"))
    _ = ex.response  # the strict parse first: a framing mistake fails here, named, with its fix
    head, _, body = ex.received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK", ex.explain(
        f"the status line is {lines[0]!r}; expected b'HTTP/1.1 200 OK': the version, the code, then the "
        "reason phrase exactly as RFC 9110 spells it (http.HTTPStatus(200).phrase)")
    assert b"\n" not in head.replace(b"\r\n", b""), ex.explain("a bare LF in the head")
    assert b"Content-Length: %d" % len(body) in lines, ex.explain(
        f"expected the header line Content-Length: {len(body)}, the body's length in bytes: without it a client "
        "cannot tell where the body ends, except by waiting for the connection to close")


def test_query_string_routes_to_the_same_handler(server):
    ex = send(server, request("GET", f"/hello_world?x={random_word()}"))
    json_response(ex, 200, HELLO)


def test_requests_library(server):
    assert_valid_http(server, request("GET", "/hello_world"))
    response = http("GET", f"{server.url}/hello_world")
    assert response.status_code == 200 and response.reason == "OK"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == HELLO


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl(server):
    assert_valid_http(server, request("GET", "/hello_world"))  # curl accepts a bare \n: check the bytes first
    done = subprocess.run(["curl", "-sSi", "--max-time", "3", f"{server.url}/hello_world"],
                          capture_output=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert done.stdout.endswith(b'\r\n\r\n{"hello": "back"}')


def test_a_handler_that_raises_gets_a_500_and_the_server_carries_on(server):
    mark = server.mark()
    ex = send(server, request("GET", "/broken"))
    json_response(ex, 500, {"message": "Internal Server Error"})
    assert b"Traceback" not in ex.received and b"RuntimeError" not in ex.received
    # The details are in the server's log. Wait for the traceback's last line: the next
    # test's log mark must not fall in the middle of it.
    server.wait_for(TRACEBACK_END, since=mark)
    json_response(send(server, request("GET", "/hello_world")), 200, HELLO)


def test_unknown_path_gets_no_answer_yet(server):
    """Step 06 fixes this: here the connection just stays open."""
    assert_no_answer(send(server, request("GET", f"/{random_word()}"), timeout=0.5))


def test_two_clients_at_once_each_get_their_answer(server):
    """With one protocol object for all connections, A's answer would go to B."""
    a, b = interleave(server, request("GET", "/hello_world?who=a"), request("GET", "/hello_world?who=b"), split=10)
    json_response(a, 200, HELLO)
    json_response(b, 200, HELLO)


def test_many_clients_at_once(server):
    assert_valid_http(server, request("GET", "/hello_world"))

    def get(_):
        return http("GET", f"{server.url}/hello_world", timeout=5).json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(get, range(100))) == [HELLO] * 100


def test_bad_input_does_not_stop_the_server(server):
    send(server, b"\x00\xff garbage \r\n\r\n", timeout=0.5)
    send(server, request("GET", "/hello_world")[:20], timeout=0.1)  # hang up mid-request
    json_response(send(server, request("GET", "/hello_world")), 200, HELLO)


def test_client_prints_the_response(server, run_client):
    assert_valid_http(server, request("GET", "/hello_world"))  # the client shows what comes, valid or not
    done = run_client(server.port)
    why = (" It reads until the server closes the connection: does response_writer close the transport after "
           "writing the answer?") if "No complete answer" in done.stderr else ""
    assert done.returncode == 0, f"the step's client.py failed: {done.stderr.strip()}{why}"
    assert "HTTP/1.1 200 OK" in done.stdout and '{"hello": "back"}' in done.stdout


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    json_response(send(server, request("GET", "/hello_world")), 200, HELLO)
    assert_stops_cleanly(server)
