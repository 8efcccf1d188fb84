"""Step 09: keep-alive and pipelining; one connection carries many requests, answered in order."""

import http.client
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from harness import FramingFailure, request
from harness.checks import (
    TRACEBACK_END,
    assert_stops_cleanly,
    assert_valid_http,
    connect,
    json_response,
    random_text,
    random_word,
    send,
    text_response,
)

JSON = {"Content-Type": "application/json"}
IN_ORDER = ("HTTP/1.1 answers the requests of a connection in the order they came (the client has no "
            "other way to tell which answer is which): keep a queue of requests per connection and "
            "answer one at a time, even when a later handler would finish first")
BAD_LOG = ("Traceback", "Task exception was never retrieved", "Fatal error", "Exception in callback")


def get(target, **headers):
    return request("GET", target, headers={name.replace("_", "-"): value for name, value in headers.items()})


def http10(target, keep_alive=False):
    """A GET in HTTP/1.0, which closes after each answer unless it asks to keep alive."""
    extra = "Connection: keep-alive\r\n" if keep_alive else ""
    return f"GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode("ascii")


def bodies(ex):
    """The bodies of every response on the connection, in the order they came: decoded
    JSON, or the text when a body is not JSON."""
    found = []
    for response in ex.responses():
        text = response.body.decode("utf-8", "replace")
        try:
            found.append(json.loads(text))
        except ValueError:
            found.append(text)
    return found


def ask_on(conn, data):
    """``conn.ask(data)``; when the server hung up instead of answering, say so: that is how a
    server that still closes after every answer fails first."""
    try:
        return conn.ask(data)
    except FramingFailure:  # an answer came, but not in HTTP/1.1: that says it all
        raise
    except AssertionError:
        if not (conn.exchange.closed or conn.exchange.reset):
            raise
        raise AssertionError(conn.exchange.explain(
            "the server closed the connection instead of answering the next request on it: a connection "
            "stays open after an answer unless the request said Connection: close (or was HTTP/1.0 without "
            "Connection: keep-alive); don't say Connection: close and don't close the transport")) from None


def test_http11_connection_stays_open_for_more_requests(server):
    name, word, text = random_word(), random_word(), random_text()
    with connect(server) as conn:
        ask_on(conn, get(f"/hello/{name}"))
        ask_on(conn, get(f"/echo_query?q={word}&q={word[::-1]}"))
        ask_on(conn, request("POST", "/hello_world", json.dumps({word: text}, ensure_ascii=False), JSON))
        ask_on(conn, get("/text"))
        ask_on(conn, get(f"/hello/{word}"))
    ex = conn.exchange
    assert not ex.closed, ex.explain("the server closed a connection the client meant to use again")
    json_response(ex, 200, {"hello": name}, index=0, closes=False)
    json_response(ex, 200, {"q": [word, word[::-1]]}, index=1, closes=False)
    json_response(ex, 200, {word: text, "hello": "back"}, index=2, closes=False)
    text_response(ex, 200, "Hello, world", index=3, closes=False)
    json_response(ex, 200, {"hello": word}, index=4, closes=False)  # and none said Connection: close


def test_connection_close_is_answered_with_close_then_closed(server):
    first, last = random_word(), random_word()
    with connect(server) as conn:
        ask_on(conn, get(f"/hello/{first}"))
        ask_on(conn, get(f"/hello/{last}", Connection="close"))
        closed = conn.wait_closed()
    assert closed, conn.exchange.explain("the client said Connection: close; the server should close after answering")
    json_response(conn.exchange, 200, {"hello": first}, index=0, closes=False)
    json_response(conn.exchange, 200, {"hello": last}, index=1, closes=True)
    # On its own, as the first and only request of a connection:
    text_response(send(server, get("/text", Connection="close")), 200, "Hello, world", closes=True)


def test_http10_without_keep_alive_is_answered_with_close_then_closed(server):
    name = random_word()
    ex = send(server, http10(f"/hello/{name}"))
    json_response(ex, 200, {"hello": name}, closes=True)


def test_http10_with_keep_alive_stays_open(server):
    names = [random_word() for _ in range(3)]
    with connect(server) as conn:
        ask_on(conn, http10(f"/hello/{names[0]}", keep_alive=True))
        ask_on(conn, http10(f"/hello/{names[1]}", keep_alive=True))
        ask_on(conn, http10(f"/hello/{names[2]}"))  # this one does not ask: the last
        closed = conn.wait_closed()
    ex = conn.exchange
    for index in (0, 1):
        json_response(ex, 200, {"hello": names[index]}, index=index, closes=False)
        connection = ex.responses()[index].header("Connection")
        assert (connection or "").lower() == "keep-alive", ex.explain(
            "an HTTP/1.0 client that sent Connection: keep-alive must be told the connection stays "
            f"open: expected Connection: keep-alive in response {index + 1}, got {connection!r}")
    assert closed, ex.explain("HTTP/1.0 without Connection: keep-alive: the server should close after answering")
    json_response(ex, 200, {"hello": names[2]}, index=2, closes=True)


def test_pipelined_requests_are_answered_in_order_even_when_the_first_is_slow(server):
    a, b, word, text = random_word(), random_word(), random_word(), random_text()
    pipelined = [  # (request, expected body), all sent in one write
        (get("/sleep/400"), {"slept_ms": 400}),
        (get(f"/hello/{a}"), {"hello": a}),
        (get("/sleep/100"), {"slept_ms": 100}),
        (get(f"/echo_query?w={word}"), {"w": [word]}),
        (get("/text"), "Hello, world"),
        (request("POST", "/hello_world", json.dumps({word: text}, ensure_ascii=False), JSON),
         {word: text, "hello": "back"}),
        (get(f"/hello/{b}", Connection="close"), {"hello": b}),
    ]
    ex = send(server, b"".join(data for data, _ in pipelined))
    got, expected = bodies(ex), [body for _, body in pipelined]
    if got != expected[:len(got)] and all(body in expected for body in got):
        raise AssertionError(ex.explain(f"the answers came out of order. {IN_ORDER}"))
    assert len(got) == len(expected), ex.explain(
        f"{len(expected)} requests sent in one write, {len(got)} answered: one data_received can hold "
        "several requests (and more can arrive while one is being answered); every one needs an answer")
    for index, (_, body) in enumerate(pipelined):
        last = index == len(pipelined) - 1
        if isinstance(body, str):
            text_response(ex, 200, body, index=index, closes=last)
        else:
            json_response(ex, 200, body, index=index, closes=last)
    # 0.5 s of sleeping in all: the fast requests wait for the slow one, but nobody pays it twice.
    assert 0.45 <= ex.seconds <= 1.6, ex.explain(f"expected about 0.5 s for all the answers, took {ex.seconds:.2f} s")


def test_a_request_sent_while_another_is_answered_is_answered_after_it(server):
    name, later = random_word(), random_word()
    with connect(server) as conn:
        conn.send(get("/sleep/300"))
        time.sleep(0.1)  # the server is busy with the first request when the second arrives
        conn.send(get(f"/hello/{name}"))
        for _ in range(2):
            try:
                conn.read_response()
            except AssertionError as error:
                raise AssertionError(f"expected two answers, in order, got {len(conn.exchange.responses())}: "
                                     f"a request that arrives while another is being answered waits its turn, "
                                     f"it is not dropped\n{error}") from None
        try:  # the queue is empty again: the server reads the next request
            ask_on(conn, get(f"/hello/{later}"))
        except AssertionError as error:
            raise AssertionError("no answer to a request sent once the first two were answered: a server that "
                                 "stops reading while it is busy (transport.pause_reading()) must read again "
                                 f"(resume_reading()) when every request has been answered\n{error}") from None
    ex = conn.exchange
    assert bodies(ex)[:2] != [{"hello": name}, {"slept_ms": 300}], ex.explain(f"out of order. {IN_ORDER}")
    json_response(ex, 200, {"slept_ms": 300}, index=0, closes=False)
    json_response(ex, 200, {"hello": name}, index=1, closes=False)
    json_response(ex, 200, {"hello": later}, index=2, closes=False)


def test_a_head_request_is_answered_without_a_body(server):
    # HEAD: the head a GET would get, and no body (RFC 9110 9.3.2). The steps have no HEAD
    # route, so it is a 405; the next request on the connection shows that no body came.
    name = random_word()
    with connect(server) as conn:
        head = ask_on(conn, request("HEAD", "/hello_world"))
        assert head.status == 405 and head.header("Allow") == "GET, POST", conn.exchange.explain("expected a 405")
        after = ask_on(conn, get(f"/hello/{name}"))
    ex = conn.exchange
    assert after.status_line == "HTTP/1.1 200 OK" and after.body == json.dumps({"hello": name}).encode(), ex.explain(
        "the answer to HEAD must stop after its head (no body, whatever its Content-Length says): "
        "on a kept-alive connection the client reads body bytes as the start of the next response")


def test_sleep_answers_after_that_many_milliseconds(server):
    ms = random.randint(150, 250)
    with connect(server) as conn:
        started = time.monotonic()
        ask_on(conn, get(f"/sleep/{ms}"))
        waited = time.monotonic() - started
        ask_on(conn, get("/sleep/0"))
    json_response(conn.exchange, 200, {"slept_ms": ms}, index=0, closes=False)
    json_response(conn.exchange, 200, {"slept_ms": 0}, index=1, closes=False)
    assert ms / 1000 - 0.01 <= waited <= ms / 1000 + 1.5, conn.exchange.explain(
        f"GET /sleep/{ms} should answer after {ms} ms, took {waited * 1000:.0f} ms")
    for bad in ("1001", "5000", random_word(), "-1", "0" * 5000 + "1"):  # int() refuses 4,300+ digits
        # Connection: close makes the ending certain, whatever the server does after a handler's 400.
        ex = send(server, get(f"/sleep/{bad}", Connection="close"))
        message = json_response(ex, 400, closes=True).get("message")
        assert message, ex.explain('expected {"message": ...} saying what ms may be (0 to 1000)')


def test_earlier_routes_answer_as_before_on_one_connection(server):
    word, text = random_word(), random_text()
    with connect(server) as conn:
        mark = server.mark()
        ask_on(conn, get("/hello_world"))
        ask_on(conn, request("POST", "/hello_world", json.dumps({word: text}, ensure_ascii=False), JSON))
        ask_on(conn, get("/hello/J%C3%BCrgen"))
        ask_on(conn, get(f"/{random_word()}"))
        ask_on(conn, request("DELETE", "/hello_world"))
        ask_on(conn, get("/broken"))
        server.wait_for(TRACEBACK_END, since=mark)  # the traceback is logged, not sent
        ask_on(conn, get(f"/hello/{word}"))  # the connection outlives a 404, a 405 and a 500
    ex = conn.exchange
    json_response(ex, 200, {"hello": "world"}, index=0, closes=False)
    json_response(ex, 200, {word: text, "hello": "back"}, index=1, closes=False)
    json_response(ex, 200, {"hello": "Jürgen"}, index=2, closes=False)
    json_response(ex, 404, {"message": "Not Found"}, index=3, closes=False)
    json_response(ex, 405, {"message": "Method Not Allowed"}, index=4, closes=False)
    assert ex.responses()[4].header("Allow") == "GET, POST", ex.explain("expected Allow: GET, POST on the 405")
    json_response(ex, 500, {"message": "Internal Server Error"}, index=5, closes=False)
    json_response(ex, 200, {"hello": word}, index=6, closes=False)
    server.wait_for("Handle: GET /hello_world None", since=mark)


REFUSALS = {  # a request the server must refuse, and then close: the stream can no longer be read
    "garbage": (b"\x00\x01 not HTTP \r\n\r\n", 400),
    "invalid JSON": (request("POST", "/hello_world", b"{oops", JSON), 400),
    "body too large": (request("POST", "/hello_world", headers={**JSON, "Content-Length": str(2 ** 30)}), 413),
    "head too large": (get("/hello_world", X_Padding="a" * 17000), 431),
}


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_a_refusal_answers_the_requests_before_it_then_closes(server, kind):
    bad, status = REFUSALS[kind]
    before, after = random_word(), random_word()
    ex = send(server, get(f"/hello/{before}") + bad + get(f"/hello/{after}"))
    json_response(ex, 200, {"hello": before}, index=0, closes=False)
    message = json_response(ex, status, index=1, closes=True).get("message")
    assert message, ex.explain('expected {"message": ...} saying what was wrong')
    assert len(ex.responses()) == 2, ex.explain(
        f"after a {status} the stream cannot be trusted: nothing after the bad request is answered")
    json_response(send(server, get(f"/hello/{after}", Connection="close")), 200, {"hello": after})


def check_an_idle_connection_is_closed_after_the_timeout(server):
    names = [random_word(), random_word()]
    with connect(server, timeout=4) as conn:
        ask_on(conn, get(f"/hello/{names[0]}"))
        time.sleep(0.5)  # the client pauses, less than the timeout
        ask_on(conn, get(f"/hello/{names[1]}"))
        answered = time.monotonic()
        closed = conn.wait_closed(timeout=4)
        idle = time.monotonic() - answered
    ex = conn.exchange
    json_response(ex, 200, {"hello": names[0]}, index=0, closes=False)
    json_response(ex, 200, {"hello": names[1]}, index=1, closes=False)
    assert closed, ex.explain("an idle kept-alive connection should be closed after --timeout (1 s here): "
                              "start the timer again each time every request has been answered")
    assert 0.8 <= idle <= 3, ex.explain(
        f"closed {idle:.2f} s after its last answer; expected about 1 s (--timeout 1), counted from the "
        "last answer, not from the connection's start")
    assert len(ex.responses()) == 2, ex.explain("nothing was asked: the idle close sends no response")


def check_a_partial_request_after_an_answered_one_gets_408(server):
    name = random_word()
    with connect(server, timeout=4) as conn:
        ask_on(conn, get(f"/hello/{name}"))
        conn.send(get(f"/hello/{name}")[:-2])  # the head never ends
        sent = time.monotonic()
        conn.read_response(timeout=4)
        waited = time.monotonic() - sent
        conn.wait_closed(timeout=2)
    ex = conn.exchange
    json_response(ex, 200, {"hello": name}, index=0, closes=False)
    assert json_response(ex, 408, index=1, closes=True).get("message"), ex.explain('expected {"message": ...}')
    assert 0.8 <= waited <= 3, ex.explain(f"the 408 came {waited:.2f} s after the partial request; expected about 1 s")


def test_timeouts_on_kept_alive_connections(start_server):
    """An idle connection is closed after --timeout, counted from its last answer; a request
    still incomplete --timeout after the last answer gets 408. Both at once on one server
    (--timeout 1), so that the file stays fast."""
    server = start_server("--timeout", "1")
    with ThreadPoolExecutor(2) as pool:
        idle = pool.submit(check_an_idle_connection_is_closed_after_the_timeout, server)
        partial = pool.submit(check_a_partial_request_after_an_answered_one_gets_408, server)
        idle.result(timeout=15)
        partial.result(timeout=15)


def test_a_real_keep_alive_client_reuses_its_connection(server):
    assert_valid_http(server, get("/hello/x"))  # http.client and requests accept a bare \n
    names = [random_word() for _ in range(4)]
    conn = http.client.HTTPConnection(server.host, server.port, timeout=3)
    sockets = set()
    try:
        for name in names:
            conn.request("GET", f"/hello/{name}")
            answer = conn.getresponse()
            assert answer.status == 200 and json.loads(answer.read()) == {"hello": name}
            assert conn.sock is not None, ("http.client closed the connection after the answer: the "
                                           "response said Connection: close")
            sockets.add(conn.sock.getsockname())
    finally:
        conn.close()
    assert len(sockets) == 1, f"http.client needed {len(sockets)} connections for {len(names)} requests, not 1"

    with requests.Session() as session:
        for name in names:
            answer = session.get(f"{server.url}/hello/{name}", timeout=3)
            assert answer.status_code == 200 and answer.json() == {"hello": name}
        pools = session.get_adapter(server.url).poolmanager.pools  # urllib3's, one per host and port
        opened = sum(pools[key].num_connections for key in pools.keys())
        assert opened == 1, f"requests opened {opened} connections for {len(names)} requests, not 1"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_reuses_the_connection_for_two_urls(server):
    assert_valid_http(server, get("/hello/x"))  # curl accepts a bare \n
    first, second = random_word(), random_word()
    done = subprocess.run(
        ["curl", "-sv", "--max-time", "5", f"{server.url}/hello/{first}", f"{server.url}/hello/{second}"],
        capture_output=True, text=True, timeout=15,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f'{{"hello": "{first}"}}{{"hello": "{second}"}}', done.stdout
    assert "Re-using existing connection" in done.stderr, f"curl opened a second connection:\n{done.stderr}"


def wait_until(condition, timeout):
    """Poll ``condition`` (something only /proc shows, no log line says it) for up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts the server's file descriptors in /proc (Linux)")
def test_a_client_that_leaves_with_requests_queued_costs_nothing(start_server):
    server = start_server()

    def open_files():
        return len(os.listdir(f"/proc/{server.pid}/fd"))

    at_start = open_files()
    queued = get("/hello_world") + get("/sleep/200") + get("/hello_world") + get("/sleep/200") + get("/hello_world")
    for abrupt in (False, True):
        mark = server.mark()
        sock = socket.create_connection(server.address, timeout=3)
        sock.sendall(queued)
        server.wait_for("Handle: GET /hello_world None", since=mark)  # the first is answered, the rest queued
        if abrupt:  # close with a reset (RST) instead of an orderly end (FIN)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        left = wait_until(lambda: open_files() == at_start, timeout=5)
        assert left, (f"the server still holds {open_files() - at_start} more file descriptors than at its start, "
                      "5 s after the client left: close the connection and drop its queued requests "
                      f"in connection_lost.\nIts log:\n{server.log()}")
    # Any sleep that began before this one has ended when this one answers.
    json_response(send(server, get("/sleep/200", Connection="close")), 200, {"slept_ms": 200})
    for bad in BAD_LOG:
        assert bad not in server.log(), f"{bad!r} in the server's log after a client left early:\n{server.log()}"
    assert_stops_cleanly(server)
    for bad in BAD_LOG:
        assert bad not in server.log(), f"{bad!r} in the server's log at shutdown:\n{server.log()}"


def test_a_client_that_closes_its_side_still_gets_its_answers(server):
    # A half-close (shutdown(SHUT_WR)): the client sends nothing more, but reads on.
    name = random_word()
    ex = send(server, get("/sleep/150"), shut_write=True)
    assert ex.closed and bodies(ex) == [{"slept_ms": 150}], ex.explain(
        "a client that closes its sending side after its request still reads: answer it, then close "
        "(return True from eof_received while answers are owed)")
    ex = send(server, get("/sleep/100") + get(f"/hello/{name}"), shut_write=True)
    assert ex.closed and bodies(ex) == [{"slept_ms": 100}, {"hello": name}], ex.explain(
        "every request sent before the half-close is answered, in order, then the connection closes")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts the server's file descriptors in /proc (Linux)")
def test_a_client_that_sends_without_reading_is_cut_off(start_server):
    server = start_server("--timeout", "1")
    at_start = len(os.listdir(f"/proc/{server.pid}/fd"))
    flood = get("/hello/x") * 2000
    with socket.create_connection(server.address, timeout=3) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and we never read
        sock.settimeout(0.2)
        stop = time.monotonic() + 1.0
        try:
            while time.monotonic() < stop:
                sock.sendall(flood)
        except (TimeoutError, OSError):  # the server stopped reading us (or cut us off)
            pass
        opened = len(os.listdir(f"/proc/{server.pid}/fd"))
        gone = wait_until(lambda: len(os.listdir(f"/proc/{server.pid}/fd")) == at_start, timeout=4)
        assert gone, (f"a client that sends requests and never reads the answers still has its connection "
                      f"({opened - at_start} more descriptor(s)) 4 s after it stopped, with --timeout 1: read no "
                      f"more while answers pile up unsent (pause_writing), and abort (not close) when the "
                      f"clock runs out with answers unsent.\nIts log:\n{server.log()}")
    json_response(send(server, get("/hello_world", Connection="close")), 200, {"hello": "world"})


def test_100_concurrent_keep_alive_clients(server):
    clients, requests_each = 100, 5
    all_connected = threading.Barrier(clients, timeout=10)

    def client(number):
        with connect(server, timeout=5) as conn:
            all_connected.wait()  # 100 connections open at once before anyone asks
            for index in range(requests_each):
                name = f"{number}-{random_word()}"
                ask_on(conn, get(f"/hello/{name}"))
                json_response(conn.exchange, 200, {"hello": name}, index=index, closes=False)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client, number) for number in range(clients)]:
            future.result(timeout=30)


def test_client_shows_both_ways(server, run_client):
    assert_valid_http(server, get("/text"))  # the client shows what comes, valid or not
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in ('{"hello": "one"}', '{"hello": "two"}', '{"slept_ms": 300}', '{"hello": "fast"}', "Hello, world"):
        assert expected in out, f"{expected!r} not in the client's output:\n{out}"
    assert out.index('{"slept_ms": 300}') < out.index('{"hello": "fast"}') < out.index("Hello, world"), out
    assert "The server closed the connection" in out, out


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    with connect(server) as conn:
        ask_on(conn, get("/sleep/0"))
        json_response(conn.exchange, 200, {"slept_ms": 0}, closes=False)
        assert_stops_cleanly(server)  # with a kept-alive connection still open
