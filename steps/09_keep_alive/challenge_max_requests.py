"""Challenge (step 09): at most 100 requests on one connection; the answer to the 100th
says Connection: close, and the server closes the connection.

Checked with `tutorial check --challenge` (or `pytest steps/09_keep_alive/challenge_max_requests.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

from harness import request
from harness.checks import connect, random_word, send

LIMIT = 100
COUNT = ("Count the requests of each connection (Server._requests_begun does) and give the 100th "
         "keep_alive=False: response_writer then says Connection: close and closes.")
BY_HAND = ("To see it by hand, with your server running on port 8080 (two connections for 101 requests print "
           "`99 0` and `2 1`):\n    curl -s -w '%{num_connects}\\n' $(python -c \"print(' '.join(['-o /dev/null "
           "http://127.0.0.1:8080/hello/x'] * 101))\") | sort | uniq -c")


def head_of(response) -> str:
    """The status line and headers of a response, one per line, indented."""
    return "\n".join("    " + line for line in response.head.decode("latin-1").strip().split("\r\n"))


def ask_number(conn, number: int):
    """Ask request ``number`` of the connection (a 200 from /hello/{name}) and return its answer."""
    name = f"{number}-{random_word()}"
    try:
        response = conn.ask(request("GET", f"/hello/{name}"))
    except AssertionError:
        if not (conn.exchange.closed or conn.exchange.reset):
            raise
        raise AssertionError(
            f"the server closed the connection instead of answering request {number} on it, and the answer "
            f"before did not say Connection: close. The limit is {LIMIT} requests: answers 1 to {LIMIT - 1} keep "
            f"the connection open, answer {LIMIT} says Connection: close, and then the server closes.\n"
            f"{BY_HAND}") from None
    assert response.status == 200 and response.body == f'{{"hello": "{name}"}}'.encode(), (
        f"expected 200 {{\"hello\": \"{name}\"}} as answer {number} on one connection, got:\n{head_of(response)}\n"
        f"    {response.body[:200]!r}")
    return response


def test_the_100th_answer_says_close_and_the_connection_closes(server):
    with connect(server, timeout=3) as conn:
        for number in range(1, LIMIT):
            answer = ask_number(conn, number)
            assert (answer.header("Connection") or "").lower() != "close", (
                f"answer {number} on one connection says Connection: close:\n{head_of(answer)}\nThe limit is "
                f"{LIMIT} requests per connection: the first {LIMIT - 1} answers keep it open.")
        last = ask_number(conn, LIMIT)
        closed = conn.wait_closed(1.0)
    assert (last.header("Connection") or "").lower() == "close", (
        f"answer {LIMIT} on one connection should say Connection: close, and came with this head:\n"
        f"{head_of(last)}\n{COUNT}\n{BY_HAND}")
    assert closed, (f"answer {LIMIT} said Connection: close, but the connection was still open 1 s later: close "
                    "the transport after writing it (response_writer does, when the request does not keep alive)")


def test_each_connection_counts_its_own_requests(server):
    # Two connections, 60 requests each, in turns: 120 requests to the server, none over the limit.
    with connect(server, timeout=3) as one, connect(server, timeout=3) as two:
        for number in range(1, 61):
            for conn in (one, two):
                answer = ask_number(conn, number)
                assert (answer.header("Connection") or "").lower() != "close", (
                    f"answer {number} of a connection says Connection: close, under the limit of {LIMIT} requests "
                    f"per connection (two connections take turns here, 60 requests each):\n"
                    f"{head_of(answer)}\nCount the requests of each connection (in its own Server object), not "
                    "of the whole server.")


def test_100_requests_sent_in_one_write_get_100_answers_then_the_close(server):
    names = [random_word() for _ in range(LIMIT)]
    ex = send(server, b"".join(request("GET", f"/hello/{name}") for name in names), timeout=1.5)
    responses = ex.responses()
    bodies = [response.body for response in responses]
    assert bodies == [f'{{"hello": "{name}"}}'.encode() for name in names], (
        f"{LIMIT} requests sent in one write: expected {LIMIT} answers, in order; got {len(responses)}")
    said = (responses[-1].header("Connection") or "").lower()
    assert said == "close", (f"the last of {LIMIT} requests sent in one write was answered with this head:\n"
                             f"{head_of(responses[-1])}\nexpected Connection: close. {COUNT}")
    assert ex.closed, f"answer {LIMIT} said Connection: close, but the connection stayed open: close it"
