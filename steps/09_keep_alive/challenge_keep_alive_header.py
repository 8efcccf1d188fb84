"""Challenge (step 09): `Keep-Alive: timeout=N` (N: the server's --timeout, in whole seconds)
on every answer that keeps its connection open, and on no answer that closes it.

Checked with `tutorial check --challenge` (or `pytest steps/09_keep_alive/challenge_keep_alive_header.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import pytest

from harness import request
from harness.checks import connect, json_response, random_word, send

TIMEOUT = 2  # the server's --timeout in these tests
EXPECTED = f"timeout={TIMEOUT}"
WHERE = ("add it in response_writer, where keep_alive is known: a Keep-Alive header whose value is "
         "timeout= followed by int(self.timeout)")


@pytest.fixture
def server_2s(start_server):
    return start_server("--timeout", str(TIMEOUT))


def check_says_timeout(ex, index: int, what: str) -> None:
    said = ex.responses()[index].header("Keep-Alive")
    assert said is not None, ex.explain(
        f"{what} keeps the connection open, but has no Keep-Alive header: expected Keep-Alive: {EXPECTED} "
        f"(the server runs with --timeout {TIMEOUT}); {WHERE}")
    # Its value is a list of parameters (timeout=5, max=100 as many servers send): other
    # parameters may come with it; the timeout one must be there, once, a whole number.
    parameters = [part.partition("=") for part in said.split(",")]
    timeouts = [value.strip() for name, _, value in parameters if name.strip().lower() == "timeout"]
    assert len(timeouts) == 1, ex.explain(
        f"{what} says Keep-Alive: {said}; expected a timeout parameter, once: Keep-Alive: {EXPECTED} (the server's "
        f"--timeout, {TIMEOUT}; other parameters such as max=N may follow it, after a comma)")
    float_hint = " (int(self.timeout), not the float 2.0)" if "." in timeouts[0] else ""
    assert timeouts[0] == str(TIMEOUT), ex.explain(
        f"{what} says Keep-Alive: {said}; expected {EXPECTED}: the server's --timeout, {TIMEOUT}, "
        f"in whole seconds{float_hint}")


def test_every_kept_alive_answer_says_how_long_the_connection_may_stay_idle(server_2s):
    name = random_word()
    with connect(server_2s) as conn:
        conn.ask(request("GET", "/hello_world"))
        conn.ask(request("GET", f"/{random_word()}"))  # 404
        conn.ask(request("DELETE", "/hello_world"))  # 405
        conn.ask(request("GET", f"/hello/{name}"))
    ex = conn.exchange
    json_response(ex, 200, {"hello": "world"}, index=0, closes=False)
    json_response(ex, 404, index=1, closes=False)
    json_response(ex, 405, index=2, closes=False)
    json_response(ex, 200, {"hello": name}, index=3, closes=False)
    for index, what in enumerate(("the 200 to GET /hello_world", "a 404", "a 405", "the 200 after them")):
        check_says_timeout(ex, index, what)


def test_http10_keep_alive_is_told_too(server_2s):
    with connect(server_2s) as conn:
        conn.ask(b"GET /hello_world HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
    check_says_timeout(conn.exchange, 0, "the answer to an HTTP/1.0 request with Connection: keep-alive")


def test_an_answer_that_closes_has_no_keep_alive_header(server_2s):
    closing = {
        "a request with Connection: close": request("GET", "/hello_world", headers={"Connection": "close"}),
        "an HTTP/1.0 request without keep-alive": b"GET /hello_world HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
        "a 400 for bytes that are not HTTP": b"HELLO? \r\n\r\n",
    }
    for what, data in closing.items():
        ex = send(server_2s, data, timeout=2)
        response = ex.response
        assert (response.header("Connection") or "").lower() == "close", ex.explain(
            f"the answer to {what} should say Connection: close, as in the step")
        assert response.header("Keep-Alive") is None, ex.explain(
            f"the answer to {what} closes the connection, but says Keep-Alive: {response.header('Keep-Alive')}: "
            "add the header only when keep_alive is true")
