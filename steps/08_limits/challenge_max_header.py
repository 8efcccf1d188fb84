"""Challenge (step 08): a --max-header option (16 KiB unless told) for the size of a
request's head, obeyed by both of the head's checks.

Checked with `tutorial check --challenge` (or `pytest steps/08_limits/challenge_max_header.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import time

import pytest

from harness import Connection, ServerError, request
from harness.checks import CLOSE, json_response, random_word, send

# Sent with the requests that should get a 200: this step closes the connection after every
# answer anyway, and from step 09 on, when your file keeps connections open, it still will.

SMALL = 100  # the limit the tests start the server with, in bytes
DEFAULT = 16 * 1024


@pytest.fixture
def small(start_server):
    """The server started with `--max-header 100`: say so plainly if it refuses the option."""
    try:
        return start_server("--max-header", str(SMALL))
    except ServerError as error:
        printed = str(error).partition("Its output:\n")[2].strip() or "(nothing)"
        shown = "\n".join("    | " + line for line in printed.splitlines()[-6:])
        raise AssertionError(
            f"your server did not start with `--max-header {SMALL}`: give parse_args a --max-header option "
            f"(type=int, default MAX_HEADER_SIZE, as --max-body has), and pass it from main to every Server. "
            f"It printed:\n{shown}") from None


def message_of_431(ex, limit: int) -> str:
    """The message of a complete 431 refusal that closes the connection."""
    if ex.reset and not ex.closed and ex.received:
        ex.closed = True  # closed with some of our bytes unread: the reset ends it too
    body = json_response(ex, 431)
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and str(DEFAULT) in message and str(limit) not in message:
        cause = "it says the constant MAX_HEADER_SIZE: make the message with the server's own limit"
    else:
        cause = f"put the limit's number in the message (... exceed {limit} bytes)"
    assert isinstance(message, str) and str(limit) in message, ex.explain(
        f'expected {{"message": "..."}} that says the limit in bytes, {limit}, got {body!r}: {cause}')
    return message


def test_a_header_over_max_header_gets_431_and_a_small_request_is_served(small):
    ex = send(small, request("GET", "/hello_world", headers={"X-Long": "a" * 200}))
    assert ex.received, ex.explain(f"no answer to a head over --max-header {SMALL}")
    if ex.response.status_line == "HTTP/1.1 200 OK":
        raise AssertionError(ex.explain(
            f"a 200 for a head of about 250 bytes, with --max-header {SMALL}: on_headers_complete should "
            "compare the head's size with the server's own limit (self.max_header, say), not with MAX_HEADER_SIZE"))
    message_of_431(ex, SMALL)
    ex = send(small, request("GET", "/hello_world", headers=CLOSE))
    assert ex.received, ex.explain(f"no answer to a small request, with --max-header {SMALL}")
    json_response(ex, 200, {"hello": "world"})


def test_an_unfinished_header_line_over_max_header_gets_431_at_once(small):
    # The line never ends, so on_header never sees it: the count of data_received must use the limit.
    start, rest = b"GET /hello_world HTTP/1.1\r\nX-Endless: ", random_word(2 * SMALL).encode()
    with Connection(small.host, small.port, timeout=2) as conn:
        conn.send(start)
        time.sleep(0.05)  # the rest of the line comes in a read of its own
        conn.send(rest)
        conn.wait_closed(1.5)  # a server that waits for the end of the line answers 408 only after --timeout (5 s)
    ex = conn.exchange
    assert ex.received, ex.explain(
        f"no answer within 1.5 s to a header line of more than {2 * SMALL} bytes that never ends, with --max-header "
        f"{SMALL}: data_received counts the bytes of an unfinished head; compare that count with the "
        "server's own limit too, not with MAX_HEADER_SIZE")
    message_of_431(ex, SMALL)


def test_the_default_is_still_16_kib(server):
    cookie = "; ".join(f"{random_word()}={random_word(40)}" for _ in range(4 * 1024 // 50))  # about 4 KiB
    ex = send(server, request("GET", "/hello_world", headers={"Cookie": cookie, **CLOSE}))
    assert ex.received and not ex.response.status_line.startswith("HTTP/1.1 431"), ex.explain(
        f"a head of about 4 KiB refused, started without --max-header: the default is {DEFAULT} bytes (16 KiB)")
    json_response(ex, 200, {"hello": "world"})
    ex = send(server, request("GET", "/hello_world", headers={"X-Big": random_word(DEFAULT + 100)}))
    message_of_431(ex, DEFAULT)
