"""Step 08: a server defends itself: 400 for malformed requests, 413, 431, 408, and a clock
that starts when the client connects."""

import json
import re
import selectors
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from urllib.parse import quote

import pytest

from harness import Connection, Exchange, ServerProcess, chunked, request
from harness.checks import (
    NON_ASCII,
    TRACEBACK_END,
    assert_stops_cleanly,
    assert_valid_http,
    json_response,
    random_text,
    random_word,
    send,
    start_hint,
)

JSON = {"Content-Type": "application/json"}
MAX_BODY = 1024 * 1024  # the default --max-body
MAX_HEADER = 16 * 1024  # header fields larger than this get 431
# The short-limit server: a 1-second clock and 100-byte bodies, so that timing tests are quick.
TIMEOUT, SMALL_BODY = 1, 100
# "Closed after the timeout" means, on a busy machine: not much before it, not long after.
EARLIEST, LATEST = 0.8 * TIMEOUT, 3.0 * TIMEOUT
ARMED_AT_CONNECT = ("start the timer in connection_made (not at the first byte read), do not restart it "
                    "when data arrives, and when it fires answer 408 (part of a request came) or just "
                    "close the connection (nothing came)")


@pytest.fixture(scope="module")
def limited(server):
    """The same server file started with `--timeout 1 --max-body 100`, shared by this module."""
    srv = ServerProcess(server.script, "--timeout", str(TIMEOUT), "--max-body", str(SMALL_BODY)).start()
    try:
        yield srv
    finally:
        srv.stop()
    assert "DeprecationWarning" not in srv.log(), srv.log()


def body_of_size(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least 10), with random text."""
    text = random_word(size)
    body = json.dumps({"t": text}).encode()
    return json.dumps({"t": text[: size - (len(body) - len(text))]}).encode()


def message_of(ex: Exchange, status: int) -> str:
    """Check a complete JSON refusal with ``status`` that closes the connection; return its message."""
    if ex.reset and not ex.closed and ex.received:
        # The server closed with some of our bytes unread, so its kernel reset the
        # connection after the answer: that ends the connection too.
        ex.closed = True
    body = json_response(ex, status)
    assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"], ex.explain(
        'expected a JSON object {"message": "..."} that says why the request is refused')
    return body["message"]


def stream(server, head: bytes, pieces, pause: float = 0.0, timeout: float = 4.0) -> Exchange:
    """Send ``head`` then ``pieces`` (with ``pause`` between them) and read the answer.

    Unlike harness.exchange, it stops sending, without failing, when the server has
    already answered and closed (a send then fails: broken pipe or reset), and keeps what
    came back.
    """
    with Connection(server.host, server.port, timeout=timeout) as conn:
        try:
            conn.send(head)
            for piece in pieces:
                if pause:
                    time.sleep(pause)
                conn.send(piece)
        except OSError:  # the server has closed the connection: read what it said
            pass
        conn.wait_closed(conn.started + timeout - time.monotonic())
    return conn.exchange


def trickle(server, data: bytes, every: float, timeout: float) -> Exchange:
    """Send ``data`` one byte every ``every`` seconds, reading meanwhile, until the server
    ends the connection or ``timeout`` seconds pass. ``seconds`` is when it ended.

    A byte that reaches the server just as it closes is unread there, and its kernel then
    resets the connection; the reset may overtake the answer. So the connection ending is
    what tells the deadline; the answer is checked when it arrived.
    """
    # The failure's command then trickles too, and the server is started with the test's options.
    ex = Exchange(server.host, server.port, [data], actions=[("trickle", "s", data, every)],
                  start_hint=start_hint(server))
    started = time.monotonic()
    with socket.create_connection(server.address, timeout=timeout) as sock:
        left_to_send = list(data)
        next_send = started
        while (now := time.monotonic()) < started + timeout:
            if left_to_send and now >= next_send:
                try:
                    sock.sendall(bytes([left_to_send.pop(0)]))
                except OSError:  # the server has gone: see what it said
                    left_to_send = []
                next_send = now + every
            wake = min(next_send, started + timeout) if left_to_send else started + timeout
            sock.settimeout(max(wake - time.monotonic(), 0.001))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                ex.reset = True
                break
            if not chunk:
                ex.closed = True
                break
            ex.received += chunk
    ex.seconds = time.monotonic() - started
    return ex


def still_serves(server):
    json_response(send(server, request("GET", "/hello_world")), 200, {"hello": "world"})


# -- 400: requests the parser rejects ------------------------------------------------------

MALFORMED = {
    "not a request line": b"HELLO? \r\n\r\n",
    "binary garbage": b"\x00\xff\xfe garbage \r\n\r\n",
    "an unknown HTTP version": b"GET /hello_world HTTP/9.9\r\nHost: x\r\n\r\n",
    "a space inside the target": b"GET /hello world HTTP/1.1\r\nHost: x\r\n\r\n",
    "a header line without a colon": b"GET /hello_world HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "a space before a header's colon": b"GET /hello_world HTTP/1.1\r\nHost : x\r\n\r\n",
    "a Content-Length that is not a number": b"POST /hello_world HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
    "two Content-Length headers": b"POST /hello_world HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                  b"Content-Length: 3\r\n\r\n{}",
    "Content-Length with chunked": b"POST /hello_world HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "an invalid chunk size": b"POST /hello_world HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"zz\r\n{}\r\n0\r\n\r\n",
    "a URL parse_url rejects": b"GET http:// HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_gets_400_and_the_connection_closes(server, data):
    ex = send(server, data)
    assert ex.received, ex.explain(
        "no answer: a request the parser rejects must get a 400, not a dropped connection. Catch "
        "httptools.HttpParserError around feed_data() in data_received (parse_url raises "
        "HttpParserInvalidURLError) and answer 400 with a JSON message")
    message = message_of(ex, 400)
    assert message.startswith("Malformed request"), ex.explain(
        'expected a message like {"message": "Malformed request: <what the parser said>"}')
    assert ex.seconds < 2, ex.explain("the 400 should come at once, not at the timeout")


def test_bad_inputs_leave_no_fatal_error_in_the_log_and_the_server_serves_on(server):
    mark = server.mark()
    for data in MALFORMED.values():
        send(server, data)
        still_serves(server)
    send(server, request("POST", "/hello_world", headers={**JSON, "Content-Length": str(MAX_BODY + 1)}))
    send(server, request("GET", "/hello_world", headers={"X-Big": "a" * (MAX_HEADER + 1)}))
    send(server, request("POST", "/hello_world", b"{not json", JSON))
    send(server, request("POST", "/hello_world", b'{"a": 1}', JSON)[:-3], timeout=0.1)  # hangs up mid-body
    send(server, b"GET /hello_world HTTP/1.1\r\nHo", timeout=0.1)  # hangs up mid-head
    sentinel = f"/hello_world?{random_word()}"
    json_response(send(server, request("GET", sentinel)), 200, {"hello": "world"})
    server.wait_for(f"Handle: GET {sentinel} None", since=mark)  # every earlier line is in the log now
    log = server.log(since=mark)
    for sign in ("Fatal error", "Traceback", "Exception"):
        assert sign not in log, (
            f"{sign!r} in the server's log after bad input: catch the parser's errors "
            f"(httptools.HttpParserError) and answer 400 instead.\nThe log:\n{log}")


def test_a_request_asking_for_an_upgrade_is_answered_in_http_1_1(server):
    """`curl --http2 http://...` asks to upgrade that way; httptools then raises HttpParserUpgrade,
    which is not an HttpParserError. The request itself is complete and must be answered."""
    ex = send(server, request("GET", "/hello_world", headers={"Connection": "Upgrade, HTTP2-Settings",
                                                            "Upgrade": "h2c", "HTTP2-Settings": ""}))
    json_response(ex, 200, {"hello": "world"})


# -- 413: bodies over --max-body -----------------------------------------------------------

def test_a_content_length_over_the_limit_gets_413_before_the_body_is_sent(server):
    head = request("POST", "/hello_world", headers={**JSON, "Content-Length": str(MAX_BODY + 1)})
    ex = send(server, head, timeout=4)  # only the head: no body follows
    assert ex.received, ex.explain(
        f"no answer to a head announcing {MAX_BODY + 1} bytes of body: refuse it with 413 from the "
        "Content-Length header (in on_header), without waiting for a body that may never come")
    message = message_of(ex, 413)
    assert str(MAX_BODY) in message, ex.explain(f"the message should say the limit, {MAX_BODY} bytes")
    assert ex.seconds < 2, ex.explain("the 413 should come from the head at once, without waiting for the body")
    still_serves(server)


def test_the_body_limit_is_configurable(limited):
    exact = body_of_size(SMALL_BODY)
    assert len(exact) == SMALL_BODY
    ex = send(limited, request("POST", "/hello_world", exact, JSON))
    json_response(ex, 200, {**json.loads(exact), "hello": "back"})
    # One byte more: announced in the head only, then sent whole.
    over = body_of_size(SMALL_BODY + 1)
    head_only = request("POST", "/hello_world", headers={**JSON, "Content-Length": str(len(over))})
    ex = send(limited, head_only, timeout=2 * LATEST)
    assert str(SMALL_BODY) in message_of(ex, 413), ex.explain(f"the message should say the limit, {SMALL_BODY} bytes")
    assert ex.seconds < EARLIEST, ex.explain("the 413 should come before the timeout: the body is not needed")
    message_of(stream(limited, request("POST", "/hello_world", over, JSON), []), 413)


def test_a_chunked_body_over_the_limit_gets_413(limited):
    head = request("POST", "/hello_world", headers={**JSON, "Transfer-Encoding": "chunked"})
    exact = body_of_size(SMALL_BODY)
    json_response(send(limited, head + chunked(exact, 30)), 200, {**json.loads(exact), "hello": "back"})
    # A chunked body announces no size: the server counts as the chunks arrive. We stop
    # sending at the chunk that passes the limit, so the server has read all we sent
    # when it closes (a server that closes with bytes unread resets the connection).
    pieces = [b"%x\r\n%s\r\n" % (40, random_word(40).encode()) for _ in range(3)]  # 120 bytes
    ex = stream(limited, head, pieces, pause=0.02)
    assert str(SMALL_BODY) in message_of(ex, 413), ex.explain(f"the message should say the limit, {SMALL_BODY} bytes")


def test_a_chunked_body_over_the_default_limit_gets_413(server):
    head = request("POST", "/hello_world", headers={**JSON, "Transfer-Encoding": "chunked"})
    piece = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    ex = stream(server, head, [piece] * (MAX_BODY // 65536) + [b"1\r\nx\r\n"])  # 1 MiB + 1 byte
    assert str(MAX_BODY) in message_of(ex, 413), ex.explain(f"the message should say the limit, {MAX_BODY} bytes")
    still_serves(server)


# -- 431: header fields over 16 KiB --------------------------------------------------------

def test_header_fields_over_16_kib_get_431(server):
    many = {f"X-{random_word()}": random_word(1000) for _ in range(MAX_HEADER // 1000 + 2)}
    one = {"X-Big": random_word(MAX_HEADER + 100)}
    for headers in (many, one):
        ex = send(server, request("GET", "/hello_world", headers=headers))
        assert str(MAX_HEADER) in message_of(ex, 431), ex.explain(
            f"the message should say the limit, {MAX_HEADER} bytes")
    still_serves(server)


def test_an_endless_header_line_gets_431_before_the_timeout(server):
    """The parser keeps an unfinished header line to itself: count the bytes of the head."""
    data = b"GET /hello_world HTTP/1.1\r\nX-Endless: " + random_word(MAX_HEADER + 500).encode()
    ex = stream(server, data, [])  # no end of line, no end of head
    assert ex.received, ex.explain(
        "no answer to a header line longer than 16 KiB that never ends: httptools calls on_header "
        "only for complete lines, so count the bytes of an unfinished head in data_received")
    assert str(MAX_HEADER) in message_of(ex, 431), ex.explain(f"the message should say the limit, {MAX_HEADER} bytes")
    assert ex.seconds < 2, ex.explain("the 431 should come as soon as the head passes 16 KiB, not at the timeout")
    still_serves(server)


def test_an_endless_trailer_line_gets_431(server):
    """After a chunked body, header lines may follow (trailers): the parser keeps an
    unfinished one to itself too, so the count must go on after the body."""
    head = b"POST /hello_world HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: "
    # In pieces, so that they arrive in reads of their own (the body's read resets the count).
    ex = stream(server, head, [random_word(4096).encode() for _ in range(MAX_HEADER // 4096 + 3)], pause=0.02)
    assert ex.received, ex.explain(
        "no answer to a trailer line longer than 16 KiB that never ends: count the bytes that leave "
        "the request incomplete and bring no body, after the body too")
    assert str(MAX_HEADER) in message_of(ex, 431), ex.explain(f"the message should say the limit, {MAX_HEADER} bytes")
    still_serves(server)


def test_requests_sent_together_get_one_answer_and_no_errors_logged(server):
    # This step answers one request per connection; a client that sends several in one
    # write gets the first answer, then the connection closes, and nothing else is written.
    mark = server.mark()
    ex = send(server, request("GET", f"/hello/{random_word()}") * 20)
    assert len(ex.responses()) == 1 and ex.closed, ex.explain("expected exactly one answer, then the close")
    still_serves(server)
    assert "socket.send() raised exception" not in server.log(since=mark), ex.explain(
        "after the answer that closes the connection, write nothing more to it "
        "(check transport.is_closing() in response_writer)")


def test_a_request_sent_behind_the_first_is_not_run(server):
    """The answer closes the connection: the handler of a request behind the first must not run."""
    mark = server.mark()
    ex = send(server, request("GET", f"/hello/{random_word()}") + request("GET", "/broken"))
    assert len(ex.responses()) == 1 and ex.closed, ex.explain("expected exactly one answer, then the close")
    still_serves(server)
    server.wait_for("Handle: GET /hello_world", since=mark)
    assert "Traceback" not in server.log(since=mark), ex.explain(
        "the handler of GET /broken, sent behind the first request, ran and raised: once a request is complete, "
        "ignore the requests behind it (on_message_complete), since the connection closes after the first answer")


def test_a_large_but_allowed_head_is_served(server):
    cookie = "; ".join(f"{random_word()}={random_word(40)}" for _ in range(8 * 1024 // 50))  # about 8 KiB
    json_response(send(server, request("GET", "/hello_world", headers={"Cookie": cookie})), 200, {"hello": "world"})


# -- time: the clock starts at connect -----------------------------------------------------

def test_a_client_that_sends_nothing_is_closed_after_the_timeout(limited):
    ex = send(limited, timeout=LATEST + 1)  # connect, send nothing, read
    assert ex.closed and ex.received == b"", ex.explain(
        f"a client that connects and sends nothing must be disconnected after --timeout {TIMEOUT}, "
        f"with no answer; {ARMED_AT_CONNECT}")
    assert EARLIEST <= ex.seconds < LATEST, ex.explain(f"closed after {ex.seconds:.2f} s with --timeout {TIMEOUT}")


def test_an_incomplete_request_gets_408_after_the_timeout(limited):
    incomplete = {
        "head": request("GET", "/hello_world")[:-2],  # the blank line never comes
        "body": request("POST", "/hello_world", body_of_size(50), JSON)[:-10],  # 10 bytes short
    }
    with ThreadPoolExecutor(len(incomplete)) as pool:
        exchanges = list(pool.map(lambda data: send(limited, data, timeout=LATEST + 1), incomplete.values()))
    for ex in exchanges:
        message = message_of(ex, 408)
        assert re.search(rf"\b{TIMEOUT}(\.0+)?\b", message), ex.explain(
            f"the message should say the time limit, {TIMEOUT} s")
        assert EARLIEST <= ex.seconds < LATEST, ex.explain(
            f"the 408 came after {ex.seconds:.2f} s with --timeout {TIMEOUT}")


def test_a_trickling_client_gets_408_at_the_deadline_counted_from_connect(limited):
    data = request("GET", "/hello_world", headers={"X-Slow": random_word(100)})  # 40 s at this pace
    ex = trickle(limited, data, every=0.3, timeout=LATEST + 1)
    assert ex.closed or ex.reset, ex.explain(
        f"a byte every 0.3 s, and the connection still open after {ex.seconds:.1f} s: the deadline "
        f"must not move when data arrives; {ARMED_AT_CONNECT}")
    assert EARLIEST <= ex.seconds < LATEST, ex.explain(f"the connection ended {ex.seconds:.2f} s after "
                                                       f"connecting, with --timeout {TIMEOUT}")
    if ex.received or not ex.reset:  # see trickle(): a reset may overtake the 408
        message_of(ex, 408)


def open_connections(server, count: int, batch: int = 50) -> list[tuple[socket.socket, float]]:
    """``count`` connections, each with the time it was made. After each batch a normal
    request must be served at once. Its answer also tells that the server has accepted the
    batch: a listening socket queues only so many connections not yet accepted, and one
    more would wait a second for the client's kernel to try again."""
    made = []
    for first in range(0, count, batch):
        for _ in range(min(batch, count - first)):
            made.append((socket.create_connection(server.address, timeout=LATEST), time.monotonic()))
        ex = send(server, request("GET", "/hello_world"))
        json_response(ex, 200, {"hello": "world"})
        assert ex.seconds < 1, ex.explain(f"a normal client waited {ex.seconds:.2f} s while {len(made)} others "
                                          "were connected: a slow client must not hold up the others")
    return made


def wait_until_all_end(connections, patience: float) -> dict[socket.socket, tuple[float | None, bytes]]:
    """For each connection: (seconds from its connect to the server ending it, or None if it
    did not end within ``patience`` s of the last connect; what the server sent)."""
    selector = selectors.DefaultSelector()
    received, ended = {}, {}
    for sock, connected in connections:
        selector.register(sock, selectors.EVENT_READ, connected)
        received[sock] = b""
    give_up = max(connected for _, connected in connections) + patience
    try:
        while selector.get_map() and (left := give_up - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                try:
                    chunk = key.fileobj.recv(65536)
                except ConnectionResetError:  # see trickle()
                    chunk = b""
                if chunk:
                    received[key.fileobj] += chunk
                else:
                    ended[key.fileobj] = time.monotonic() - key.data
                    selector.unregister(key.fileobj)
    finally:
        selector.close()
    return {sock: (ended.get(sock), received[sock]) for sock, _ in connections}


def test_200_silent_and_trickling_clients_do_not_hold_up_others_and_are_all_closed(limited):
    slow_data = request("GET", "/hello_world")
    slow = open_connections(limited, 20)
    stop = threading.Event()

    def drip():  # one byte to each slow client, five times a second
        for index in range(len(slow_data)):
            for sock, _ in slow:
                try:
                    sock.send(slow_data[index:index + 1])
                except OSError:  # closed by the server
                    pass
            if stop.wait(0.2):
                return

    dripping = threading.Thread(target=drip, daemon=True)
    dripping.start()
    try:
        silent = open_connections(limited, 200)  # a normal request is served after every 50
        ends = wait_until_all_end(silent + slow, patience=LATEST)
    finally:
        stop.set()
        dripping.join(2)
        for sock, _ in silent + slow:
            sock.close()
    problems = []
    for kind, connections in (("silent", silent), ("trickling", slow)):
        open_ = [sock for sock, _ in connections if ends[sock][0] is None]
        if open_:
            problems.append(f"{len(open_)} of {len(connections)} {kind} clients were still connected "
                            f"{LATEST:g} s after connecting; {ARMED_AT_CONNECT}")
        early = sorted(seconds for sock, _ in connections
                       if (seconds := ends[sock][0]) is not None and seconds < EARLIEST)
        if early:
            problems.append(f"{len(early)} {kind} clients were closed before the timeout, after {early[0]:.2f} s")
        for sock, _ in connections:
            answer = ends[sock][1]
            if kind == "silent" and answer:
                problems.append(f"a silent client got an answer: {answer[:100]!r}; expected none, just the close")
                break
            if kind == "trickling" and answer and not answer.startswith(
                    f"HTTP/1.1 408 {HTTPStatus(408).phrase}\r\n".encode()):
                problems.append(f"a trickling client got {answer[:100]!r}; expected a 408")
                break
    assert not problems, f"with --timeout {TIMEOUT}:\n" + "\n".join(problems)
    still_serves(limited)


# -- the routes of step 07, the client, curl, Ctrl-C --------------------------------------

def test_the_routes_of_step_07_still_work(server):
    name = random_text()
    json_response(send(server, request("GET", f"/hello/{quote(name)}")), 200, {"hello": name})
    json_response(send(server, request("GET", "/echo_query?q=a&q=b&empty=")), 200, {"q": ["a", "b"], "empty": [""]})
    ex = send(server, request("DELETE", "/hello_world"))
    json_response(ex, 405, {"message": "Method Not Allowed"})
    assert ex.response.header("Allow") == "GET, POST", ex.explain("expected Allow: GET, POST")
    json_response(send(server, request("GET", f"/{random_word()}")), 404, {"message": "Not Found"})
    sent = {random_word(): random_text() + NON_ASCII}
    ex = send(server, request("POST", "/hello_world", json.dumps(sent, ensure_ascii=False).encode(), JSON))
    json_response(ex, 200, {**sent, "hello": "back"})
    assert json_response(send(server, request("POST", "/hello_world", b"{oops", JSON)), 400)["message"]
    mark = server.mark()
    json_response(send(server, request("GET", "/broken")), 500, {"message": "Internal Server Error"})
    server.wait_for(TRACEBACK_END, since=mark)  # the traceback is logged, not sent


CURL_CASES = {
    # name: (curl's options, the bytes on its standard input, the status expected)
    "400 for a method that does not exist": (["-X", "HELLO?"], None, 400),
    "413 for a large body (curl asks Expect: 100-continue)":
        (["-H", "Content-Type: application/json", "--data-binary", "@-"], b"x" * (MAX_BODY + 1000), 413),
    "413 for a large chunked body":
        (["-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary", "@-"], b"x" * (MAX_BODY + 1), 413),
    "431 for a huge header": (["-H", "X-Big: " + "a" * (MAX_HEADER + 100)], None, 431),
}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("case", CURL_CASES.values(), ids=CURL_CASES.keys())
def test_curl_sees_each_refusal(server, case):
    assert_valid_http(server, b"HELLO? /hello_world HTTP/1.1\r\nHost: x\r\n\r\n")  # curl accepts a bare \n
    args, stdin, status = case
    done = subprocess.run(["curl", "-sS", "-i", "--max-time", "5", *args, f"{server.url}/hello_world"],
                          input=stdin, capture_output=True, timeout=10)
    first_line = done.stdout.split(b"\r\n", 1)[0].decode("latin-1")
    assert first_line == f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", (done.stdout[:300], done.stderr)
    assert done.returncode == 0, done.stderr
    assert b'{"message": ' in done.stdout, done.stdout


def test_client_prints_the_413_and_the_400(server, run_client):
    assert_valid_http(server, b"HELLO? /hello_world HTTP/1.1\r\nHost: x\r\n\r\n")  # the client shows anything
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert f"HTTP/1.1 413 {HTTPStatus(413).phrase}" in done.stdout, done.stdout
    assert "HTTP/1.1 400 Bad Request" in done.stdout, done.stdout


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    message_of(send(server, b"HELLO? \r\n\r\n"), 400)
    json_response(send(server, request("GET", "/hello_world")), 200, {"hello": "world"})
    assert_stops_cleanly(server)
