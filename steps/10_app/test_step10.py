"""Step 10: the App API (decorators, request.headers, request.json(), HTTPError) and a
graceful shutdown on SIGTERM / SIGINT."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from http import HTTPStatus
from urllib.parse import quote

import pytest

from harness import FramingFailure, request
from harness.checks import (
    TRACEBACK_END,
    assert_stops_cleanly,
    assert_valid_http,
    connect,
    http,
    json_response,
    random_text,
    random_word,
    send,
    shutdown_by_hand,
    text_response,
)

JSON = {"Content-Type": "application/json"}
NOT_FOUND = {"message": "Not Found"}
TEAPOT_LINE = f"HTTP/1.1 418 {HTTPStatus(418).phrase}"  # "I'm a Teapot" (the phrase is Python's)
POSIX_SIGNALS = pytest.mark.skipif(os.name != "posix", reason="sends POSIX signals to the server")


NO_ANSWER_HINT = (
    "If the server's log is silent, look for a task that died: an exception raised while "
    "answering (a KeyError from a hand-written table of reason phrases, say: take the phrase "
    "from http.HTTPStatus(code).phrase, which knows every code) leaves the client waiting.")


# What a right server does with the request in flight when the signal comes: the by-hand recipe
# of a shutdown failure says it (shutdown_by_hand), since one request cannot show the problem.
GRACEFUL = ("A graceful shutdown lets curl print HTTP/1.1 200 OK and {\"slept_ms\": 500}, and the server print "
            "Server stopped and exit; `curl: (52) Empty reply from server` means the request in flight was cut.")
BOUNDED = ("With --timeout 0.3 the server waits 0.3 s for the request in flight, then cuts it (`curl: (52) Empty "
           "reply from server`), prints Server stopped and exits with status 0 (`echo $?` then says 0), "
           "with no traceback.")


def ask(conn, data, status, *expected, closes=False):
    """Send one request on a kept-alive connection, read its answer and check it as JSON;
    return the decoded body. With ``closes``, the answer must close the connection."""
    conn.send(data)
    try:
        conn.read_response()
    except FramingFailure:  # an answer came, but not in HTTP/1.1: the hint below is beside the point
        raise
    except AssertionError as error:
        raise AssertionError(f"{error}\n{NO_ANSWER_HINT}") from None
    if closes:
        conn.wait_closed()
    index = len(conn.exchange.responses()) - 1
    return json_response(conn.exchange, status, *expected, index=index, closes=closes)


def headers_request(*lines, host="localhost:8080"):
    """GET /headers with these exact header lines (a name may repeat), and no others but Host."""
    head = ["GET /headers HTTP/1.1", f"Host: {host}", *lines]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")


# -- what step 10 adds ------------------------------------------------------------------------


def test_headers_come_back_with_lower_case_names_and_values_intact(server):
    names = [f"X-{random_word(6).upper()}-{random_word(4)}" for _ in range(3)]
    values = [
        f"{random_word()}:{random_word()}: {random_word()}",  # colons inside the value
        f"http://{random_word()}.example:8443/{random_word()}?a=b",
        random_word(20),
    ]
    repeated, first, second = f"X-Repeated-{random_word(4)}", random_word(), f"{random_word()}:{random_word()}"
    data = headers_request(*(f"{n}: {v}" for n, v in zip(names, values, strict=True)),
                           f"{repeated}: {first}", f"{repeated.upper()}: {second}")
    ex = send(server, data, until_closed=False)
    expected = {"host": "localhost:8080", **{n.lower(): v for n, v in zip(names, values, strict=True)},
                repeated.lower(): f"{first}, {second}"}
    got = json_response(ex, 200, closes=False)
    assert got.get("host") == "localhost:8080", ex.explain(
        f"Host: localhost:8080 came back as {got.get('host')!r}: a header line splits at its FIRST colon "
        "only (name, value = line.split(':', 1)); the value may contain more colons")
    json_response(ex, 200, expected, closes=False)


def test_headers_through_requests_keep_the_port_of_the_host(server):
    assert_valid_http(server, request("GET", "/headers"))  # requests accepts a bare \n
    name, value = f"X-{random_word()}", f"{random_word()}:{random_word()}"
    answer = http("GET", f"{server.url}/headers", headers={name: value})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got.get("host") == f"127.0.0.1:{server.port}", f"requests sent Host: 127.0.0.1:{server.port}, got {got}"
    assert got.get(name.lower()) == value and got.get("user-agent", "").startswith("python-requests/"), got
    assert all(key == key.lower() for key in got), f"header names should be lower case: {list(got)}"


def test_an_http_error_from_a_handler_gets_its_status_and_message(server):
    with connect(server) as conn:
        ask(conn, request("GET", "/teapot"), 418, {"message": "teapot"})
        line = conn.exchange.responses()[0].status_line
        assert line == TEAPOT_LINE, conn.exchange.explain(f"expected the status line {TEAPOT_LINE!r}")
        message = ask(conn, request("GET", f"/sleep/{random_word()}x"), 400)["message"]
        assert "ms must be" in message, conn.exchange.explain("expected HTTPError(400)'s message from /sleep/{ms}")
        ask(conn, request("GET", "/hello_world"), 200, {"hello": "world"})  # the connection goes on


def test_invalid_json_gets_a_400_and_the_connection_stays_open(server):
    sent = {random_word(): random_text()}
    mark = server.mark()
    with connect(server) as conn:
        # ... and half a character: a lone surrogate, escaped and as (not valid) UTF-8 bytes.
        for bad in (b"{oops", "just text é".encode(), b"\xff\xfe garbage", b"[" * 100_000,
                    b'{"a": "\\ud800"}', b'{"a": "\xed\xa0\x80"}'):
            answer = ask(conn, request("POST", "/hello_world", bad, JSON), 400)
            assert isinstance(answer, dict) and answer.get("message"), conn.exchange.explain(
                'expected {"message": ...}')
        assert ask(conn, request("POST", "/hello_world", b"[1, 2]", JSON), 400).get("message")
        body = json.dumps(sent, ensure_ascii=False).encode()
        ask(conn, request("POST", "/hello_world", body, JSON), 200, {**sent, "hello": "back"})
    server.wait_for(f"Handle: POST /hello_world {sent}", since=mark)
    assert "Traceback" not in server.log(since=mark), server.log(since=mark)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_sees_the_headers_and_the_teapot(server):
    assert_valid_http(server, request("GET", "/headers"))  # curl accepts a bare \n
    value = f"{random_word()}:{random_word()}"
    done = subprocess.run(["curl", "-sS", "--max-time", "3", "-H", f"X-Clock: {value}", f"{server.url}/headers"],
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["host"] == f"127.0.0.1:{server.port}" and got["x-clock"] == value, got
    done = subprocess.run(["curl", "-sS", "-i", "--max-time", "3", f"{server.url}/teapot"],
                          capture_output=True, timeout=10)  # bytes: text mode would turn \r\n into \n
    assert done.returncode == 0, done.stderr
    answer = done.stdout.decode("latin-1")
    assert answer.startswith(TEAPOT_LINE + "\r\n") and answer.endswith('\r\n\r\n{"message": "teapot"}'), answer


# -- graceful shutdown ----------------------------------------------------------------------


@POSIX_SIGNALS
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_graceful_shutdown_lets_the_request_in_flight_finish(start_server, signum):
    server = start_server("--timeout", "5")
    with connect(server, timeout=5) as idle, connect(server, timeout=5) as busy:
        ask(idle, request("GET", "/hello_world"), 200, {"hello": "world"})  # kept alive, now idle
        # Two requests in one write: once the first is answered, the server has read the second.
        busy.send(request("GET", "/hello_world") + request("GET", "/sleep/500"))
        busy.read_response()
        time.sleep(0.1)  # the slow handler is asleep now
        # From here on, what went wrong depends on the signal: the bytes alone cannot show it.
        by_hand = shutdown_by_hand(server, signum, "/sleep/500", GRACEFUL)
        idle.exchange.by_hand = busy.exchange.by_hand = by_hand
        signalled = time.monotonic()
        server.process.send_signal(signum)

        assert idle.wait_closed(timeout=2), idle.exchange.explain(
            f"an idle kept-alive connection was still open 2 s after {signum.name} (--timeout is 5 s): "
            "a graceful shutdown closes idle connections at once")
        try:
            late = socket.create_connection(server.address, timeout=1)
        except ConnectionRefusedError:
            pass
        else:
            late.close()
            pytest.fail(f"a new connection was accepted after {signum.name}: stop accepting first (server.close())\n"
                        f"{by_hand}")

        try:
            busy.read_response(timeout=3)
        except AssertionError as error:
            raise AssertionError(
                f"the GET /sleep/500 in flight when {signum.name} came got no answer: a graceful shutdown "
                f"lets requests in flight finish before it closes their connections.\n{error}") from None
        busy.wait_closed(timeout=2)
        json_response(busy.exchange, 200, {"slept_ms": 500}, index=1, closes=True)
    try:
        server.process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server was still running 3 s after {signum.name}, with no connection left to wait for\n"
                    f"{by_hand}")
    waited = time.monotonic() - signalled
    status = server.stop()
    log = server.log()
    assert status == 0, f"exit status {status} after {signum.name}; the server's output:\n{log}\n{by_hand}"
    assert log.splitlines()[-1] == "Server stopped", f"the log should end with 'Server stopped':\n{log}\n{by_hand}"
    assert "Traceback" not in log, f"a traceback during the shutdown:\n{log}\n{by_hand}"
    assert waited < 4, f"the shutdown took {waited:.1f} s\n{by_hand}"


@POSIX_SIGNALS
def test_the_wait_for_requests_in_flight_is_bounded(start_server):
    """With --timeout 0.3, a GET /sleep/1000 in flight is cut when the wait ends; the
    server still stops cleanly (a handler cancelled mid-sleep prints no traceback)."""
    server = start_server("--timeout", "0.3")
    with connect(server) as busy:
        busy.send(request("GET", "/hello_world") + request("GET", "/sleep/1000"))
        busy.read_response()
        time.sleep(0.05)  # the slow handler is asleep now
        by_hand = busy.exchange.by_hand = shutdown_by_hand(server, signal.SIGTERM, "/sleep/1000", BOUNDED)
        server.process.send_signal(signal.SIGTERM)
        assert busy.wait_closed(timeout=3), busy.exchange.explain("the connection was still open 3 s after SIGTERM")
    try:
        server.process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server was still running 3 s after SIGTERM (--timeout 0.3)\n{by_hand}")
    status = server.stop()
    log = server.log()
    assert status == 0 and log.splitlines()[-1] == "Server stopped", f"exit status {status}; the log:\n{log}\n{by_hand}"
    assert "Traceback" not in log and "Task was destroyed" not in log, f"{log}\n{by_hand}"


# -- the routes of step 09, now declared with the App API -----------------------------------


def test_the_routes_of_step_09_answer_as_before_on_one_connection(server):
    name, word, other = random_text(), random_word(), random_word()
    sent = {random_word(): random_text(), "n": len(word)}
    mark = server.mark()
    with connect(server) as conn:
        ask(conn, request("GET", "/hello_world"), 200, {"hello": "world"})
        body = json.dumps(sent, ensure_ascii=False).encode()
        ask(conn, request("POST", "/hello_world", body, JSON), 200, {**sent, "hello": "back"})
        ask(conn, request("GET", f"/hello/{quote(name)}"), 200, {"hello": name})
        ask(conn, request("GET", f"/hello/{word}%2F{other}"), 200, {"hello": f"{word}/{other}"})
        ask(conn, request("GET", f"/hello/{word}/{other}"), 404, NOT_FOUND)
        ask(conn, request("GET", f"/echo_query?q={word}&q={other}&empty="), 200, {"q": [word, other], "empty": [""]})
        ask(conn, request("DELETE", "/hello_world"), 405, {"message": "Method Not Allowed"})
        allow = conn.exchange.responses()[-1].header("Allow")
        assert allow == "GET, POST", conn.exchange.explain(f"expected Allow: GET, POST on the 405, got {allow!r}")
        ask(conn, request("GET", f"/{word}"), 404, NOT_FOUND)
        ask(conn, request("GET", "/sleep/20"), 200, {"slept_ms": 20})
        ask(conn, request("GET", "/broken"), 500, {"message": "Internal Server Error"})
        conn.send(request("GET", "/text"))
        conn.read_response()
        text_response(conn.exchange, 200, "Hello, world", index=len(conn.exchange.responses()) - 1, closes=False)
    server.wait_for(TRACEBACK_END, since=mark)  # /broken's traceback is logged, not sent
    server.wait_for(f"Handle: POST /hello_world {sent}", since=mark)


def test_pipelined_requests_are_answered_in_order(server):
    words = [random_word() for _ in range(2)]
    with connect(server) as conn:
        conn.send(request("GET", "/sleep/300") + request("GET", f"/hello/{words[0]}")
                  + request("GET", "/sleep/0") + request("GET", f"/hello/{words[1]}"))
        for _ in range(4):
            conn.read_response()
        expected = [{"slept_ms": 300}, {"hello": words[0]}, {"slept_ms": 0}, {"hello": words[1]}]
        for index, body in enumerate(expected):
            json_response(conn.exchange, 200, body, index=index, closes=False)


def test_connection_close_and_http_1_0_still_close(server):
    json_response(send(server, request("GET", "/hello_world", headers={"Connection": "close"})), 200)
    json_response(send(server, b"GET /hello_world HTTP/1.0\r\n\r\n"), 200, {"hello": "world"})
    with connect(server) as conn:
        conn.send(b"GET /hello_world HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        said = conn.read_response().header("Connection")
        assert said == "keep-alive", conn.exchange.explain("an HTTP/1.0 client that asks for keep-alive must be told")
        ask(conn, request("GET", "/hello_world", headers={"Connection": "close"}), 200, {"hello": "world"}, closes=True)


def test_errors_that_leave_the_stream_unreadable_still_close(server):
    assert json_response(send(server, b"NOT HTTP AT ALL\r\n\r\n"), 400)["message"]
    too_large = request("POST", "/hello_world", headers={**JSON, "Content-Length": str(2 ** 30)})
    ex = send(server, too_large)
    assert ex.received, ex.explain(f"no answer to a body over the limit (expected 413). {NO_ANSWER_HINT}")
    assert json_response(ex, 413)["message"]


def test_an_idle_connection_is_closed_after_the_timeout(start_server):
    server = start_server("--timeout", "0.5")
    with connect(server) as conn:
        ask(conn, request("GET", "/hello_world"), 200, {"hello": "world"})
        answered = time.monotonic()
        assert conn.wait_closed(timeout=3), conn.exchange.explain("an idle connection should close after --timeout 0.5")
        idle = time.monotonic() - answered
    assert 0.4 <= idle <= 2.5, f"the idle connection closed after {idle:.2f} s, expected about 0.5 s (--timeout 0.5)"


# -- the client, and Ctrl-C ----------------------------------------------------------------


def test_client_prints_the_three_answers(server, run_client):
    assert_valid_http(server, request("GET", "/headers"))  # the client shows what comes, valid or not
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert '"host": "localhost:8080"' in done.stdout, done.stdout
    assert '"x-request-id": "42"' in done.stdout and '"accept": "application/json"' in done.stdout, done.stdout
    assert '{"key1": "value1", "hello": "back"}' in done.stdout, done.stdout
    assert TEAPOT_LINE in done.stdout and '{"message": "teapot"}' in done.stdout, done.stdout


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    json_response(send(server, request("GET", "/teapot"), until_closed=False), 418, {"message": "teapot"}, closes=False)
    assert_stops_cleanly(server)
    assert server.log().splitlines()[-1] == "Server stopped", server.log()
