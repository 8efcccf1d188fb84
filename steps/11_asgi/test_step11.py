"""Step 11: the App is also an ASGI application. uvicorn, an existing server, runs the
same file's ``app`` in two worker processes and gives the same answers as our own server."""

import json
import re
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from harness import ServerError, chunked, request
from harness.checks import (
    TRACEBACK_END,
    assert_stops_cleanly,
    assert_valid_http,
    http,
    json_response,
    random_text,
    random_word,
    send,
    text_response,
)

JSON = {"Content-Type": "application/json"}
CLOSE = {"Connection": "close"}
NOT_FOUND = {"message": "Not Found"}
MAX_BODY = 1024 * 1024  # the App's body limit under an ASGI server
WORKER = re.compile(r"Started server process \[(\d+)\]")  # one line per uvicorn worker
ASGI_CRASH = "Exception in ASGI application"  # uvicorn's line when the app lets an error out


def is_uvicorn(srv):
    return srv.module == "uvicorn"



def ask(srv, method, target, body=b"", headers=None, host="127.0.0.1", **options):
    """One request on a new connection that the request asks the server to close;
    under uvicorn, check that uvicorn really answered it (its ``server`` header)."""
    ex = send(srv, request(method, target, body, {**CLOSE, **(headers or {})}, host=host), **options)
    if is_uvicorn(srv):
        assert ex.response.header("server") == "uvicorn", ex.explain(
            "expected the header server: uvicorn: is this really uvicorn answering?")
    return ex


def expect_status(ex, status, hint):
    """A first check with a hint that names the likely cause, before the full checks."""
    if ex.response.status != status:
        raise AssertionError(ex.explain(f"expected {status}, got {ex.response.status}: {hint}"))


def worker_pids(srv):
    return {int(pid) for pid in WORKER.findall(srv.log())}


# -- the same routes, the same answers, from both servers -------------------------------------


RAW_PATH = ("routes match the path as the client sent it, percent-encoded: under ASGI that is "
            "scope['raw_path']; scope['path'] is already decoded, so its %2F is a / that splits the parameter")


def test_path_parameters_are_decoded_after_matching(target):
    for path, name in (("/hello/a%2Fb", "a/b"), ("/hello/J%C3%BCrgen", "Jürgen")):
        ex = ask(target, "GET", path)
        expect_status(ex, 200, RAW_PATH)
        json_response(ex, 200, {"hello": name})
    name, first, second = random_text(), random_word(), random_word()
    json_response(ask(target, "GET", f"/hello/{quote(name, safe='')}"), 200, {"hello": name})
    ex = ask(target, "GET", f"/hello/{first}%2F{second}")
    json_response(ex, 200, {"hello": f"{first}/{second}"})
    json_response(ask(target, "GET", f"/hello/{first}/{second}"), 404, NOT_FOUND)


def test_the_query_string(target):
    name, first, second = random_word(), random_word(), random_text()
    for query, expected in (("q=a&q=b&empty=", {"q": ["a", "b"], "empty": [""]}),
                            (f"{name}={first}&{name}={quote(second)}&x=", {name: [first, second], "x": [""]})):
        ex = ask(target, "GET", f"/echo_query?{query}")
        answer = json_response(ex, 200)
        assert answer == expected, ex.explain(
            f"expected {expected}, got {answer}; under ASGI the query is not part of scope['path'] "
            "or scope['raw_path']: it comes apart, as the bytes scope['query_string']")


def test_text_404_and_405_with_allow(target):
    text_response(ask(target, "GET", "/text"), 200, "Hello, world")
    for method in ("GET", "POST"):
        json_response(ask(target, method, f"/{random_word()}/{random_word()}"), 404, NOT_FOUND)
    ex = ask(target, "DELETE", "/hello_world")
    json_response(ex, 405, {"message": "Method Not Allowed"})
    assert ex.response.header("Allow") == "GET, POST", ex.explain("expected the header Allow: GET, POST")


def test_a_handler_that_raises_gets_a_500_without_a_traceback(target):
    mark = target.mark()
    ex = ask(target, "GET", "/broken")
    json_response(ex, 500, {"message": "Internal Server Error"})
    assert b"Traceback" not in ex.received and b"RuntimeError" not in ex.received, ex.explain(
        "the traceback belongs in the server's log, not in the response")
    target.wait_for(TRACEBACK_END, since=mark)  # the traceback is in the log instead
    if is_uvicorn(target):
        target.wait_for('"GET /broken HTTP/1.1" 500', since=mark)  # uvicorn's access line comes last
        log = target.log(since=mark)
        assert ASGI_CRASH not in log, f"the app must answer the 500 itself, not let uvicorn do it:\n{log}"


def test_http_error_from_a_handler(target):
    json_response(ask(target, "GET", "/teapot"), 418, {"message": "teapot"})


def test_headers_reach_the_handler(target):
    name, value = f"X-{random_word()}", f"{random_word()}:{random_word()}: {random_word()}"
    ex = ask(target, "GET", "/headers", headers={name: value}, host="localhost:8080")
    answer = json_response(ex, 200)
    assert answer.get(name.lower()) == value, ex.explain(
        f"expected {name.lower()!r}: {value!r} in the JSON; under ASGI the request's header fields are "
        "scope['headers'], a list of (name, value) pairs of bytes")
    assert answer.get("host") == "localhost:8080", ex.explain("expected 'host': 'localhost:8080', value intact")


def test_post_json_is_echoed_and_invalid_json_gets_a_400(target):
    sent = {random_word(): random_text(), "n": len(random_word()), "nested": [random_text(), None]}
    mark = target.mark()
    ex = ask(target, "POST", "/hello_world", json.dumps(sent, ensure_ascii=False).encode(), JSON)
    json_response(ex, 200, {**sent, "hello": "back"})
    target.wait_for(f"Handle: POST /hello_world {sent}", since=mark)
    for bad in (b"{oops", "texte é".encode(), b'{"a": "\\ud800"}', b'{"a": "\xed\xa0\x80"}'):  # half a character
        assert json_response(ask(target, "POST", "/hello_world", bad, JSON), 400)["message"]


def test_a_chunked_body(target):
    sent = {random_word(): random_text(40)}
    body = json.dumps(sent, ensure_ascii=False).encode()
    ex = send(target, request("POST", "/hello_world", headers={**JSON, **CLOSE, "Transfer-Encoding": "chunked"})
              + chunked(body, 7))
    json_response(ex, 200, {**sent, "hello": "back"})


def test_a_body_that_arrives_in_two_pieces_is_read_whole(target):
    """Exactly MAX_BODY bytes (the limit: still allowed), sent in two writes with a pause:
    under uvicorn the app receives at least two http.request messages (more_body)."""
    prefix = f'{{"{random_word()}": "'.encode()
    body = prefix + b"y" * (MAX_BODY - len(prefix) - 2) + b'"}'
    assert len(body) == MAX_BODY
    data = request("POST", "/hello_world", body, JSON)  # kept alive: nobody closes while we send
    half = len(data) // 2
    ex = send(target, data[:half], data[half:], pause=0.1, timeout=10, until_closed=False)
    expect_status(ex, 200, f"a body of exactly {MAX_BODY} bytes is allowed: too large means past the limit"
                  if ex.response.status == 413 else "the whole body must be read: under ASGI, call "
                  "receive() again while a message says more_body=True, and join the pieces")
    json_response(ex, 200, {**json.loads(body), "hello": "back"}, closes=False)


def test_a_client_that_hangs_up_mid_body_gets_no_handler_run(target, start_uvicorn):
    """The client announces 60 more bytes than it sends, pauses, and hangs up. The
    handler must not run with the part that came (here a valid JSON object)."""
    srv = start_uvicorn() if is_uvicorn(target) else target  # one worker: one log, in order
    key = random_word()
    part = json.dumps({key: random_word()}).encode()
    head = request("POST", "/hello_world", headers={**JSON, "Content-Length": str(len(part) + 60)})
    mark = srv.mark()
    with socket.create_connection(srv.address, timeout=3) as sock:
        sock.sendall(head + part)
        time.sleep(0.2)  # the server reads this part on its own: an incomplete body in hand
    json_response(ask(srv, "GET", "/hello_world"), 200, {"hello": "world"})
    srv.wait_for("Handle: GET /hello_world", since=mark)
    assert key not in srv.log(since=mark), (
        "the handler ran with a body cut short by a client that hung up; under ASGI, "
        "receive() returns {'type': 'http.disconnect'} then: stop, answer nothing.\n" + srv.log(since=mark))


def test_a_real_client_and_curl(target):
    name = random_text()
    assert_valid_http(target, request("GET", f"/hello/{quote(name)}"))  # requests and curl accept a bare \n
    answer = http("GET", f"{target.url}/hello/{quote(name)}")
    assert answer.status_code == 200 and answer.json() == {"hello": name}, answer.text
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    done = subprocess.run(["curl", "-sS", "-i", "--max-time", "3", "-X", "DELETE", f"{target.url}/hello_world"],
                          capture_output=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"), done.stdout
    assert re.search(rb"(?im)^allow: GET, POST\r$", done.stdout), done.stdout


# -- what only one of the two does --------------------------------------------------------------


def test_a_body_over_the_limit_gets_a_413_under_uvicorn(uvicorn_server):
    """uvicorn has no limit of its own on a body: the app counts what receive() gives it."""
    too_big = b"x" * (MAX_BODY + 1)
    for data in (request("POST", "/hello_world", too_big, JSON),
                 request("POST", "/hello_world", headers={**JSON, "Transfer-Encoding": "chunked"})
                 + chunked(too_big, 64 * 1024)):
        ex = send(uvicorn_server, data, until_closed=False, timeout=10)
        expect_status(ex, 413, f"uvicorn reads bodies of any size: the app counts the bytes receive() "
                      f"gives it and answers 413 once they pass App.max_body ({MAX_BODY})")
        assert json_response(ex, 413, closes=False)["message"]
        assert ex.response.header("server") == "uvicorn", ex.explain("expected uvicorn's answer")


def test_a_content_length_over_the_limit_gets_a_413_at_once_under_uvicorn(uvicorn_server):
    """The head announces too much: the app answers before a byte of the body is sent."""
    ex = send(uvicorn_server, request("POST", "/hello_world", headers={**JSON, "Content-Length": "2000000"}),
              until_closed=False, timeout=5)
    expect_status(ex, 413, "the Content-Length header already says the body is too large: answer 413 from "
                  "the head, before receive() is awaited (the client has sent no body, and would wait)")
    assert ex.seconds < 2, ex.explain(f"the 413 took {ex.seconds:.1f} s: it should not wait for the body")


def test_pid_is_the_own_servers_process(server):
    json_response(ask(server, "GET", "/pid"), 200, {"pid": server.pid})


def test_two_uvicorn_workers_answer_pid(uvicorn_server):
    """Connections four at a time until both workers have answered (bounded): which one
    accepts a connection is up to the operating system, so no balance is asserted."""
    workers = worker_pids(uvicorn_server)
    assert len(workers) == 2, f"expected two 'Started server process' lines:\n{uvicorn_server.log()}"
    seen, asked, deadline = set(), 0, time.monotonic() + 5
    with ThreadPoolExecutor(4) as pool:
        while len(seen) < 2 and asked < 300 and time.monotonic() < deadline:
            for ex in pool.map(lambda _: ask(uvicorn_server, "GET", "/pid"), range(4)):
                seen.add(json_response(ex, 200)["pid"])
            asked += 4
    assert uvicorn_server.pid not in seen, "the uvicorn supervisor itself answered; its workers should"
    assert seen == workers, (
        f"after {asked} requests the pids {sorted(seen)} answered; the workers are {sorted(workers)}.\n"
        "GET /pid must answer os.getpid(), the process that runs the handler")


def test_the_client_against_the_own_server(server, run_client):
    assert_valid_http(server, request("GET", "/hello/J%C3%BCrgen"))  # the client shows what comes, valid or not
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert '{"hello": "Jürgen"}' in done.stdout, done.stdout
    assert "answered by 1 process(es)" in done.stdout and f"pid {server.pid}: 20 answers" in done.stdout, done.stdout


def test_the_client_against_uvicorn(uvicorn_server, run_client):
    assert_valid_http(uvicorn_server, request("GET", "/hello/J%C3%BCrgen"))
    done = run_client(uvicorn_server.port)
    assert done.returncode == 0, done.stderr
    assert '{"hello": "Jürgen"}' in done.stdout and "server: uvicorn" in done.stdout, done.stdout
    answered = {int(pid): int(count) for pid, count in re.findall(r"pid (\d+): (\d+) answers", done.stdout)}
    assert answered and set(answered) <= worker_pids(uvicorn_server), done.stdout
    assert sum(answered.values()) == 20, done.stdout


def test_ctrl_c_stops_the_own_server_cleanly(start_server):
    srv = start_server()
    json_response(ask(srv, "GET", "/pid"), 200, {"pid": srv.pid})
    assert_stops_cleanly(srv)
    assert "Server stopped" in srv.log(), srv.log()


def test_uvicorn_runs_the_lifespan_and_stops_cleanly(start_uvicorn):
    """With --lifespan on, uvicorn refuses to start an app that does not answer the
    lifespan messages; Ctrl-C then ends it with status 0 after the app's shutdown."""
    try:
        srv = start_uvicorn("--lifespan", "on", workers=2)
    except ServerError as error:
        raise AssertionError(
            "uvicorn --lifespan on did not start: app(scope, receive, send) must answer a scope of "
            "type 'lifespan' (lifespan.startup -> lifespan.startup.complete, lifespan.shutdown -> "
            f"lifespan.shutdown.complete).\n{error}") from None
    json_response(ask(srv, "GET", "/teapot"), 418, {"message": "teapot"})
    assert_stops_cleanly(srv)
    log = srv.log()
    assert log.count("Application shutdown complete.") == 2, log
    assert "lifespan' protocol appears unsupported" not in log, log
