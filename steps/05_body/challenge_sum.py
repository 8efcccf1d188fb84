"""Challenge (step 05): POST /sum adds up a JSON list of numbers; any other body gets a 400.

Checked with `tutorial check --challenge` (or `pytest steps/05_body/challenge_sum.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import json
import random

from harness import request
from harness.checks import fail, json_response, send

# Connection: close, so that a server that keeps connections open (step 09 on) closes this one too:
# the checks then pass at any later step.
JSON = {"Content-Type": "application/json", "Connection": "close"}


def post_sum(server, body: bytes):
    # A short wait: until step 06 a path with no route gets no answer at all, and a
    # correct server answers at once.
    ex = send(server, request("POST", "/sum", body, JSON), timeout=1)
    if not ex.received:
        fail(ex, "no answer to POST /sum: is the route registered, for POST? "
                 '(router.add_route("/sum", {"POST": ...}) in hello_world_app; before step 06 a path or '
                 "method without a route gets no answer at all)")
    return ex


def test_post_sum_adds_up_the_numbers(server):
    ints = [random.randint(-1000, 1000) for _ in range(5)]
    for numbers, total in (([1, 2, 3.5], 6.5), ([], 0), (ints, sum(ints)), ([0.25, -1500], -1499.75)):
        ex = post_sum(server, json.dumps(numbers).encode())
        if ex.response.status != 200:
            fail(ex, f"{numbers} is a list of numbers: expected 200 OK")
        body = json_response(ex, 200)
        if body != {"sum": total}:
            fail(ex, f'expected {{"sum": {total}}}, the total of {numbers}, got {json.dumps(body)}')


def test_a_body_that_is_not_a_list_of_numbers_gets_a_400(server):
    for body in (b'{"numbers": [1, 2]}', b'[1, "2"]', b"[1, [2]]", b"[1, true]", b'"12"', b"null", b""):
        shown = body.decode() if body else "no body at all"
        ex = post_sum(server, body)
        status = ex.response.status
        if status == 500:
            fail(ex, f"{shown} got a 500: your handler raised (its traceback is in the server's log, below). "
                     "Check that the body is a list of numbers before adding it up, and answer 400 when it is not")
        if status != 400 and body == b"[1, true]":
            fail(ex, "true is not a number in JSON, but Python's bool is a kind of int (isinstance(True, int) "
                     "is True), so sum() takes it for 1: rule out bool before you accept an int")
        if status != 400:
            fail(ex, f"{shown} is not a list of numbers: expected 400 Bad Request")
        answer = json_response(ex, 400)
        if not (isinstance(answer, dict) and answer.get("message")):
            fail(ex, 'expected a JSON object with a "message" that says what to send')


def test_the_other_routes_still_answer(server):
    json_response(send(server, request("GET", "/hello_world", headers={"Connection": "close"})), 200,
                  {"hello": "world"})
    ex = send(server, request("POST", "/hello_world", b'{"a": 1}', JSON))
    json_response(ex, 200, {"a": 1, "hello": "back"})
