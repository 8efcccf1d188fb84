"""Step 02: an asyncio Protocol parses HTTP requests and logs them; it does not answer yet."""

from harness import chunked, request
from harness.checks import assert_no_answer, assert_stops_cleanly, interleave, random_text, random_word, send


def logged(server, method, url, body, since=0):
    """Wait for the log line of one parsed request."""
    return server.wait_for(f"Request: {method} {url} {body}", since=since)


def test_logs_a_parsed_request_and_does_not_answer(server):
    path = f"/{random_word()}"
    ex = send(server, request("GET", path), timeout=0.5)
    assert_no_answer(ex)
    logged(server, "GET", path, None)


def test_logs_the_body_as_bytes(server):
    body = random_text().encode("utf-8")
    send(server, request("POST", "/echo", body), timeout=0.1)
    logged(server, "POST", "/echo", body)


def test_query_string_stays_in_the_url(server):
    url = f"/search?q={random_word()}&page=2"
    send(server, request("GET", url), timeout=0.1)
    logged(server, "GET", url, None)


def test_pieces_split_at_odd_places_are_put_back_together(server):
    """on_url and on_body fire once per piece; the server must collect the pieces."""
    url, body = f"/split/{random_word(12)}?x={random_word()}", random_text(20).encode()
    data = request("POST", url, body)
    cuts = [2, 9, 14, 30, len(data) - len(body) + 3, len(data) - 2]  # in the method, URL, headers, body
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    send(server, *pieces, pause=0.02, timeout=0.1)
    logged(server, "POST", url, body)


def test_a_large_body_in_many_pieces_is_read_whole(server):
    body = random_word(16).encode() * 20_000  # 320 kB: many data_received calls
    mark = server.mark()
    send(server, request("POST", "/big", body), timeout=0.1)
    line = server.wait_for("Request: POST /big ", since=mark).string
    assert line == f"Request: POST /big {body}", "the body in the log is not the body that was sent"


def test_a_chunked_body_is_decoded(server):
    body = random_text(30).encode()
    data = request("POST", "/chunked", headers={"Transfer-Encoding": "chunked"}) + chunked(body, 7)
    send(server, data, timeout=0.1)
    logged(server, "POST", "/chunked", body)


def test_two_clients_at_once_are_parsed_independently(server):
    """One protocol object per connection: interleaved bytes do not mix."""
    first, second = f"/a/{random_word()}", f"/b/{random_word()}"
    mark = server.mark()
    interleave(server, request("GET", first), request("GET", second), split=9, timeout=0.3)
    logged(server, "GET", first, None, since=mark)
    logged(server, "GET", second, None, since=mark)


def test_bad_input_does_not_stop_the_server(server):
    for junk in (b"\x00\xffNOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
        send(server, junk, timeout=0.5)
    send(server, request("GET", "/half-sent")[:10], timeout=0.1)  # then hang up mid-request
    path = f"/after/{random_word()}"
    send(server, request("GET", path), timeout=0.1)
    logged(server, "GET", path, None)


def test_client_sends_the_articles_request(server, run_client):
    mark = server.mark()
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert "No answer" in done.stdout
    logged(server, "GET", "/", None, since=mark)


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    send(server, request("GET", "/"), timeout=0.2)
    assert_stops_cleanly(server)
