"""Challenge (step 02): log every request header on a line of its own, `Header: Name: value`.

Checked with `tutorial check --challenge` (or `pytest steps/02_protocol/challenge_headers.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

from harness import ServerError, request
from harness.checks import random_word, send

WAIT = 1.0  # seconds to wait for a Header line once the request is logged: they come together


def header_lines(server, ex, mark, last):
    """The `Header: ...` lines logged since ``mark``, once ``last`` (the request's last
    header line) is among them, or WAIT seconds have passed."""
    __tracebackhide__ = True  # pytest shows the failure from the test's line: the message says it all
    try:
        server.wait_for(last, since=mark, timeout=WAIT)
    except ServerError:
        pass  # the comparison below says what is missing
    lines = [line for line in server.log(since=mark).splitlines() if line.startswith("Header:")]
    if not lines:
        raise AssertionError(ex.explain(
            "no `Header: Name: value` line in the server's log: the parser calls on_header(name, value) "
            "for each header, but only if your Server has that method; keep each pair, then print one line per header"))
    return lines


def wait_for_request_line(server, ex, mark, start):
    __tracebackhide__ = True
    try:
        return server.wait_for(start, since=mark, timeout=3).string
    except ServerError:
        raise AssertionError(ex.explain(f"no line starting {start!r} in the server's log: the step's "
                                        "`Request: METHOD URL BODY` line must stay")) from None


def compare(ex, got, expected, advice):
    __tracebackhide__ = True
    shown = "\n".join(f"    {line}" for line in expected)
    found = "\n".join(f"    {line}" for line in got)
    if got != expected:  # (an assert would add pytest's own comparison after the explanation)
        raise AssertionError(ex.explain(f"expected these Header lines, in this order:\n{shown}\n"
                                        f"the server logged:\n{found}\n{advice}"))


def test_each_header_is_logged_on_a_line_of_its_own(server):
    path, body = f"/headers/{random_word()}", random_word().encode()
    name, other = f"X-Word-{random_word(4)}", f"X-Colon-{random_word(4)}"
    value, colons = random_word(), f"{random_word(4)}:{random_word(4)}"  # a value may contain ':'
    data = request("POST", path, body, headers={name: value, other: colons})
    expected = ["Header: Host: 127.0.0.1", f"Header: {name}: {value}", f"Header: {other}: {colons}",
                f"Header: Content-Length: {len(body)}"]
    mark = server.mark()
    ex = send(server, data, timeout=0.1)
    line = wait_for_request_line(server, ex, mark, f"Request: POST {path} ")
    got = header_lines(server, ex, mark, expected[-1])
    request_line = f"Request: POST {path} {body}"
    if line != request_line:
        raise AssertionError(ex.explain(f"the Request line changed: expected {request_line!r}, got {line!r}. "
                                        "Keep it as it was, and print each header on a line of its own"))
    compare(ex, got, expected, "One line per header, `Header: ` then the name and the value as the client "
            "sent them (the same case; the whole value, colons included), in the order they came.")


def test_a_header_sent_twice_is_logged_twice(server):
    path = f"/twice/{random_word()}"
    data = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tag: one\r\nX-Tag: two\r\nx-tag: three\r\n\r\n").encode()
    expected = ["Header: Host: 127.0.0.1", "Header: X-Tag: one", "Header: X-Tag: two", "Header: x-tag: three"]
    mark = server.mark()
    ex = send(server, data, timeout=0.1)
    wait_for_request_line(server, ex, mark, f"Request: GET {path} ")
    compare(ex, header_lines(server, ex, mark, expected[-1]), expected,
            "A name may come more than once: keep the headers in a list of (name, value) pairs, "
            "not a dict keyed by name, and keep each name's case as it was sent.")


def test_each_request_logs_only_its_own_headers(server):
    first, second = f"/first/{random_word()}", f"/second/{random_word()}"
    a, b = f"X-A-{random_word(4)}", f"X-B-{random_word(4)}"
    data = request("GET", first, headers={a: "1"}) + request("GET", second, headers={b: "2"})  # one connection
    expected = ["Header: Host: 127.0.0.1", f"Header: {a}: 1", "Header: Host: 127.0.0.1", f"Header: {b}: 2"]
    mark = server.mark()
    ex = send(server, data, timeout=0.1)
    wait_for_request_line(server, ex, mark, f"Request: GET {second} ")
    compare(ex, header_lines(server, ex, mark, expected[-1]), expected,
            "Two requests came on one connection: start an empty list for each request "
            "(in on_message_begin, as for the URL's pieces), so the second does not log the first one's headers.")
