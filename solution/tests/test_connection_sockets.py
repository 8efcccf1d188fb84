"""Black-box: HTTP/1.1 connection handling over real sockets.

Keep-alive, pipelining (answers in order even when an earlier handler is slower),
handlers in Tasks, Connection: close, HTTP/1.0, HEAD, chunked request bodies,
Expect: 100-continue, Upgrade.
"""

import json
import secrets
import shutil
import socket
import subprocess
import sys

import pytest

from harness import chunked, request
from harness.checks import connect

TIMEOUT = 5


def test_keep_alive_serves_several_requests_on_one_connection(server):
    with connect(server, TIMEOUT) as conn:
        for _ in range(3):
            user_id = secrets.token_hex(3)
            response = conn.ask(request("GET", f"/users/{user_id}"))  # a whole answer, strictly read
            assert json.loads(response.body)["user_id"] == user_id, conn.exchange.explain()
            # HTTP/1.1: open unless said otherwise
            assert response.header("Connection") is None, conn.exchange.explain()


def test_pipelined_requests_are_answered_in_order_even_when_the_first_is_slow(server, converse):
    tags = [secrets.token_hex(3) for _ in range(6)]
    result = converse(
        server,
        request("GET", f"/sleep?seconds=0.3&tag={tags[0]}"),  # answered last if order were not kept
        request("GET", f"/users/{tags[1]}"),
        request("POST", "/json", json.dumps({"tag": tags[2]})),
        request("GET", f"/sleep?seconds=0.01&tag={tags[3]}"),
        request("GET", f"/teapot?message={tags[4]}"),
        request("GET", f"/users/{tags[5]}"),
    )
    assert len(result.responses) == 6, result.explain()
    bodies = [json.loads(r.body) for r in result.responses]
    assert [bodies[0]["tag"], bodies[1]["user_id"], bodies[2]["received"]["tag"], bodies[3]["tag"],
            bodies[4]["message"], bodies[5]["user_id"]] == tags, result.explain()


def test_connection_close_is_honoured(server, send):
    result = send(server, request("GET", "/users/1", headers={"Connection": "close"}) + request("GET", "/users/2"))
    assert result.closed, result.explain()
    (response,) = result.responses()  # the pipelined second request is not answered
    assert response.header("Connection") == "close"


def test_http10_closes_unless_keep_alive_is_asked_for(server, send, converse):
    result = send(server, b"GET /users/10 HTTP/1.0\r\n\r\n")
    assert result.closed and result.response.status == 200
    assert result.response.header("Connection") == "close"
    assert result.response.status_line.startswith("HTTP/1.1 ")
    keep_alive = b"GET /users/%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    kept = converse(server, keep_alive % 1, keep_alive % 2)
    assert [r.header("Connection") for r in kept.responses] == ["keep-alive"] * 2, kept.explain()
    assert json.loads(kept.responses[1].body)["user_id"] == "2"


def test_http10_with_a_chunked_body_is_closed_after_its_answer(server, converse):
    # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means the framing cannot be trusted.
    head = b"POST /json HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
    result = converse(server, head + chunked(b"[1]", 2), request("GET", "/users/after"), then=1)
    assert len(result.responses) == 1 and result.closed, result.explain()
    assert result.responses[0].header("Connection") == "close"
    assert json.loads(result.responses[0].body) == {"received": [1]}


def test_handlers_run_in_a_task_from_their_first_line(server, converse):
    # asyncio.timeout, TaskGroup (3.11+) and wait_for need a current Task, and so do the
    # HTTP clients built on them (httpx, aiohttp, anyio): there must be one at once, not
    # only after the handler's first await. Alone, and behind a slower request.
    expected = ["current_task", "timeout", "TaskGroup", "wait_for"] if sys.version_info >= (3, 11) else \
        ["current_task", "wait_for"]
    result = converse(server, request("GET", "/in-a-task"), request("GET", "/sleep?seconds=0.1"),
                      request("GET", "/in-a-task"), request("GET", "/in-a-task"))
    bodies = [json.loads(r.body) for r in result.responses]
    assert len(bodies) == 4, result.explain()
    for body in bodies[0], bodies[2], bodies[3]:
        assert body == {"used": expected, "same_task": True}


def test_head_requests_in_a_pipeline_have_no_body(server, converse):
    user_id = secrets.token_hex(3)
    result = converse(server, request("HEAD", f"/users/{user_id}"), request("GET", "/status/204"),
                      request("GET", f"/users/{user_id}"))
    # Each answer is parsed where the one before it ends: a body after HEAD's or 204's head
    # would be taken for the next status line, and fail (harness.FramingFailure).
    assert len(result.responses) == 3, result.explain()
    head, no_content, get = result.responses
    assert head.status_line == "HTTP/1.1 200 OK" and head.body == b"", result.explain()
    assert no_content.status_line == "HTTP/1.1 204 No Content" and no_content.body == b"", result.explain()
    assert no_content.header("Content-Length") is None, result.explain()
    assert head.header("Content-Length") == get.header("Content-Length") == str(len(get.body)), result.explain()


def test_chunked_request_body(server, send):
    payload = json.dumps({"v": secrets.token_hex(50), "ü": "✓"}).encode()
    head = (b"POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\n")
    result = send(server, head, chunked(payload, 7), pause=0.05, until_closed=False)
    assert result.json() == {"received": json.loads(payload)}


def test_expect_100_continue_is_answered_before_the_body_is_sent(server):
    payload = json.dumps({"id": secrets.token_hex(4)}).encode()
    head = (b"POST /json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(payload))
    with connect(server, TIMEOUT) as conn:
        conn.send(head)
        interim = conn.read_response()
        assert (interim.head, interim.body) == (b"HTTP/1.1 100 Continue\r\n\r\n", b""), conn.exchange.explain()
        conn.send(payload)
        response = conn.read_response()
    assert response.status == 200, conn.exchange.explain()
    assert json.loads(response.body) == {"received": json.loads(payload)}, conn.exchange.explain()


def test_expect_with_a_body_over_the_limit_gets_413_instead_of_continue(server, send):
    head = (b"POST /json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % (2 * 1024 * 1024))
    result = send(server, head)
    assert result.response.status == 413 and result.closed
    assert b"100 Continue" not in result.received


def test_context_variables_do_not_leak_from_one_request_to_the_next(server, converse):
    # Each handler's Task runs in a context of its own, whether it waits or not.
    result = converse(server, request("GET", "/context?set=a"), request("GET", "/context?set=b&wait=1"),
                      request("GET", "/context?set=c"))
    assert [json.loads(r.body) for r in result.responses] == [{"before": None}] * 3, result.explain()


UPGRADE = {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAAQAAP__"}


def test_an_upgrade_request_is_answered_in_http11_then_closed(server, converse):
    # RFC 9110 7.8: a server may ignore Upgrade. httptools does not parse past such a
    # request, so the connection closes after the answer (the pipelined one is dropped).
    user_id = secrets.token_hex(3)
    result = converse(server, request("GET", f"/users/{user_id}", headers=UPGRADE), request("GET", "/users/2"),
                      then=1)
    assert len(result.responses) == 1 and result.closed, result.explain()
    (response,) = result.responses
    assert response.status == 200 and json.loads(response.body)["user_id"] == user_id
    assert response.header("Connection") == "close"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_http2_gets_its_answer_in_http11(server):
    # curl --http2 asks for h2c with "Connection: Upgrade, HTTP2-Settings".
    done = subprocess.run(["curl", "-s", "--http2", "--max-time", "5", f"{server.url}/users/h2c"],
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 0 and json.loads(done.stdout)["user_id"] == "h2c", done


@pytest.mark.parametrize("chunked", [False, True])
def test_an_upgrade_request_with_a_body_is_answered_with_that_body_then_closed(server, converse, chunked):
    # httptools skips the body of such a request and stops: the parser reads the body itself.
    value = secrets.token_hex(4)
    body = json.dumps({"a": value}).encode()
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
    raw = request("POST", "/json", headers={**UPGRADE, **framing, "Content-Type": "application/json"}, body=b"")
    raw += b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if chunked else body
    result = converse(server, raw, request("GET", "/users/2"), then=1)
    assert len(result.responses) == 1 and result.closed, result.explain()
    (response,) = result.responses
    assert response.status_line == "HTTP/1.1 200 OK" and json.loads(response.body) == {"received": {"a": value}}
    assert response.header("Connection") == "close"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_http2_post_gets_its_answer_in_http11(server):
    # What the issue asked for: curl --http2 -X POST -d '{"a":1}' asks for h2c with a body.
    value = secrets.token_hex(4)
    done = subprocess.run(["curl", "-s", "-i", "--http2", "--max-time", "5", "-X", "POST", "-H",
                           "Content-Type: application/json", "-d", json.dumps({"a": value}), f"{server.url}/json"],
                          capture_output=True, timeout=10)
    assert done.returncode == 0, done
    assert done.stdout.startswith(b"HTTP/1.1 200 OK\r\n"), done.stdout
    assert json.loads(done.stdout.split(b"\r\n\r\n", 1)[1]) == {"received": {"a": value}}


def test_a_handler_may_close_the_connection_and_set_its_own_date(server, converse):
    result = converse(server, request("GET", "/own-headers"), request("GET", "/users/2"), then=1)
    assert len(result.responses) == 1 and result.closed, result.explain()
    (response,) = result.responses
    assert response.header("Connection") == "close"  # once: header() refuses duplicates
    assert response.header("Date") == "Tue, 01 Jan 2030 00:00:00 GMT"
    assert response.body == b"mine"


def test_the_client_address_is_host_and_port_over_ipv6_too(start_module_server, converse):
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 on this machine")
    srv = start_module_server(host="::1")
    result = converse(srv, request("GET", "/echo"))
    assert len(result.responses) == 1, result.explain()
    client = json.loads(result.responses[0].body)["client"]
    assert client[0] == "::1" and isinstance(client[1], int) and len(client) == 2, result.explain()
