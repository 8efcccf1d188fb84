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
import time

import pytest

from harness import chunked, parse_response, request

TIMEOUT = 5


def read_responses(sock, count, timeout=TIMEOUT):
    """Read from ``sock`` until ``count`` complete responses have arrived; return them and the raw bytes."""
    data, deadline = b"", time.monotonic() + timeout
    while True:
        responses, rest = [], data
        try:
            while rest and len(responses) < count:
                response, rest = parse_response(rest)
                responses.append(response)
        except ValueError:
            pass
        if len(responses) == count:
            return responses, data
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(65536)
        assert chunk, f"the server closed after {len(responses)} of {count} responses: {data!r}"
        data += chunk


def recv_until(sock, end, timeout=TIMEOUT):
    """Read until the bytes received end with ``end``; fail if the server closes or is silent."""
    data, deadline = b"", time.monotonic() + timeout
    while not data.endswith(end):
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(1)
        assert chunk, f"the server closed the connection; received {data!r}"
        data += chunk
    return data


def test_keep_alive_serves_several_requests_on_one_connection(server):
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        for _ in range(3):
            user_id = secrets.token_hex(3)
            sock.sendall(request("GET", f"/users/{user_id}"))
            (response,), _ = read_responses(sock, 1)
            assert json.loads(response.body)["user_id"] == user_id
            assert response.header("Connection") is None  # HTTP/1.1: open unless said otherwise


def test_pipelined_requests_are_answered_in_order_even_when_the_first_is_slow(server):
    tags = [secrets.token_hex(3) for _ in range(6)]
    pipeline = b"".join([
        request("GET", f"/sleep?seconds=0.3&tag={tags[0]}"),  # answered last if order were not kept
        request("GET", f"/users/{tags[1]}"),
        request("POST", "/json", json.dumps({"tag": tags[2]})),
        request("GET", f"/sleep?seconds=0.01&tag={tags[3]}"),
        request("GET", f"/teapot?message={tags[4]}"),
        request("GET", f"/users/{tags[5]}"),
    ])
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(pipeline)
        responses, data = read_responses(sock, 6)
    bodies = [json.loads(r.body) for r in responses]
    assert [bodies[0]["tag"], bodies[1]["user_id"], bodies[2]["received"]["tag"], bodies[3]["tag"],
            bodies[4]["message"], bodies[5]["user_id"]] == tags, data


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
    assert [r.header("Connection") for r in kept.responses] == ["keep-alive"] * 2, kept
    assert json.loads(kept.responses[1].body)["user_id"] == "2"


def test_http10_with_a_chunked_body_is_closed_after_its_answer(server, converse):
    # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means the framing cannot be trusted.
    head = b"POST /json HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
    result = converse(server, head + chunked(b"[1]", 2), request("GET", "/users/after"), then=1)
    assert len(result.responses) == 1 and result.closed, result
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
    assert len(bodies) == 4, result
    for body in bodies[0], bodies[2], bodies[3]:
        assert body == {"used": expected, "same_task": True}


def test_head_requests_in_a_pipeline_have_no_body(server):
    user_id = secrets.token_hex(3)
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(request("HEAD", f"/users/{user_id}") + request("GET", "/status/204")
                     + request("GET", f"/users/{user_id}"))
        data, deadline = b"", time.monotonic() + TIMEOUT
        while data.count(b"HTTP/1.1 ") < 3 or not data.endswith(b"}"):
            assert time.monotonic() < deadline, data
            chunk = sock.recv(65536)
            assert chunk, f"the server closed; received {data!r}"
            data += chunk
    head, no_content, get = data.split(b"HTTP/1.1 ")[1:]
    assert head.startswith(b"200 OK\r\n") and head.endswith(b"\r\n\r\n")  # no body
    assert no_content.startswith(b"204 No Content\r\n") and no_content.endswith(b"\r\n\r\n")
    assert b"Content-Length" not in no_content
    length = int(parse_response(b"HTTP/1.1 " + get)[0].header("Content-Length"))
    assert b"Content-Length: %d\r\n" % length in head


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
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(head)
        assert recv_until(sock, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(payload)
        (response,), _ = read_responses(sock, 1)
    assert response.status == 200 and json.loads(response.body) == {"received": json.loads(payload)}


def test_expect_100_continue_waits_for_the_answers_before_it(server):
    # The 100 Continue must not overtake the answer to a slower request sent before it.
    tag = secrets.token_hex(3)
    head = b"POST /json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(request("GET", f"/sleep?seconds=0.2&tag={tag}") + head)
        (first,), data = read_responses(sock, 1)
        assert json.loads(first.body)["tag"] == tag
        rest = data.split(b"\r\n\r\n", 1)[1][len(first.body):]
        if not rest.endswith(b"\r\n\r\n"):
            rest += recv_until(sock, b"\r\n\r\n")
        assert rest == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"[]")
        (response,), _ = read_responses(sock, 1)
    assert json.loads(response.body) == {"received": []}


def test_expect_with_a_body_over_the_limit_gets_413_instead_of_continue(server, send):
    head = (b"POST /json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % (2 * 1024 * 1024))
    result = send(server, head)
    assert result.response.status == 413 and result.closed
    assert b"100 Continue" not in result.received


def test_context_variables_do_not_leak_from_one_request_to_the_next(server):
    # Each handler's Task runs in a context of its own, whether it waits or not.
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(request("GET", "/context?set=a") + request("GET", "/context?set=b&wait=1")
                     + request("GET", "/context?set=c"))
        responses, _ = read_responses(sock, 3)
    assert [json.loads(r.body) for r in responses] == [{"before": None}] * 3


UPGRADE = {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAAQAAP__"}


def test_an_upgrade_request_is_answered_in_http11_then_closed(server, converse):
    # RFC 9110 7.8: a server may ignore Upgrade. httptools does not parse past such a
    # request, so the connection closes after the answer (the pipelined one is dropped).
    user_id = secrets.token_hex(3)
    result = converse(server, request("GET", f"/users/{user_id}", headers=UPGRADE), request("GET", "/users/2"),
                      then=1)
    assert len(result.responses) == 1 and result.closed, result
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
    assert len(result.responses) == 1 and result.closed, result
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
    assert len(result.responses) == 1 and result.closed, result
    (response,) = result.responses
    assert response.header("Connection") == "close"  # once: header() refuses duplicates
    assert response.header("Date") == "Tue, 01 Jan 2030 00:00:00 GMT"
    assert response.body == b"mine"


def test_the_client_address_is_host_and_port_over_ipv6_too(start_module_server):
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 on this machine")
    srv = start_module_server(host="::1")
    result = converse_once(srv.address, request("GET", "/echo"))
    client = json.loads(result.body)["client"]
    assert client[0] == "::1" and isinstance(client[1], int) and len(client) == 2


def converse_once(address, raw):
    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        sock.sendall(raw)
        (response,), _ = read_responses(sock, 1)
    return response
