"""Black-box: HTTP/1.1 connection handling over real sockets.

Keep-alive, pipelining (answers in order even when an earlier handler is slower),
Connection: close, HTTP/1.0, HEAD, chunked request bodies, Expect: 100-continue.
"""

import json
import secrets
import socket
import time

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


def test_http10_closes_unless_keep_alive_is_asked_for(server, send):
    result = send(server, b"GET /users/10 HTTP/1.0\r\n\r\n")
    assert result.closed and result.response.status == 200
    assert result.response.header("Connection") == "close"
    assert result.response.status_line.startswith("HTTP/1.1 ")
    kept = send(server, b"GET /users/10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", until_closed=False, timeout=1)
    assert kept.response.header("Connection") == "keep-alive"
    assert not kept.closed


def test_head_requests_in_a_pipeline_have_no_body(server):
    user_id = secrets.token_hex(3)
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(request("HEAD", f"/users/{user_id}") + request("GET", "/status/204")
                     + request("GET", f"/users/{user_id}"))
        data, deadline = b"", time.monotonic() + TIMEOUT
        while data.count(b"HTTP/1.1 ") < 3 or not data.endswith(b"}"):
            assert time.monotonic() < deadline, data
            data += sock.recv(65536)
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
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += sock.recv(1)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
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
        while not rest.endswith(b"\r\n\r\n"):
            rest += sock.recv(1)
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
    # Handlers that finish at once run without a Task; each still gets a context of its own.
    with socket.create_connection(server.address, timeout=TIMEOUT) as sock:
        sock.sendall(request("GET", "/context?set=a") + request("GET", "/context?set=b&wait=1")
                     + request("GET", "/context?set=c"))
        responses, _ = read_responses(sock, 3)
    assert [json.loads(r.body) for r in responses] == [{"before": None}] * 3
