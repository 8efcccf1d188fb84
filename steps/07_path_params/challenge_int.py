"""Challenge (step 07): typed path parameters, {name:int}: digits only, and an int for the handler.

Checked with `tutorial check --challenge` (or `pytest steps/07_path_params/challenge_int.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import json
import random

from harness import request
from harness.checks import fail, json_response, send

NOT_FOUND = {"message": "Not Found"}
ROUTE = "/add/{a:int}/{b:int}"


def get(server, target):
    # Connection: close, so that a server that keeps connections open (step 09 on) closes this
    # one too: the checks then pass at any later step.
    return send(server, request("GET", target, headers={"Connection": "close"}), timeout=2)


def test_add_answers_the_sum_of_two_ints(server):
    a, b = random.randint(0, 10**6), random.randint(0, 10**6)
    for target, total in ((f"/add/{a}/{b}", a + b), ("/add/2/40", 42)):
        ex = get(server, target)
        status = ex.response.status
        if status == 404:
            fail(ex, f"{target} should match the route {ROUTE}: is it added, and does compile_path turn {{a:int}} "
                     "into a group that matches digits, [0-9]+?")
        if status == 500:
            fail(ex, f"{target} got a 500: the handler raised, or was called with the wrong arguments (the "
                     "traceback is in the server's log, below)")
        body = json_response(ex, 200)
        if isinstance(body, dict) and isinstance(body.get("sum"), str):
            fail(ex, f'"sum" is the text {body["sum"]!r}: the handler got its parameters as str, and + joined '
                     "them. Convert an {name:int} parameter with int() once the path has matched, before the "
                     "handler runs")
        if body != {"sum": total}:
            fail(ex, f'expected {{"sum": {total}}}, got {json.dumps(body)}')


def test_a_segment_that_is_not_digits_matches_no_route(server):
    for target in ("/add/2/x", "/add/x/2", "/add/2/-3", "/add/1.5/2", "/add/2/", "/add/2/3/4"):
        ex = get(server, target)
        status = ex.response.status
        if status == 500:
            fail(ex, f"{target} got a 500 (the traceback is in the server's log, below): did int() fail in the "
                     "handler? With {b:int} the pattern itself refuses a segment that is not digits, so no route "
                     "matches, the answer is the 404, and the handler never runs")
        if status == 400:
            fail(ex, f"{target} got a 400: that is a handler checking its value by hand. Here the pattern does "
                     "the checking: {b:int} matches digits only, so this path is no route at all: 404 Not Found")
        if status == 200:
            fail(ex, f"{target} matched {ROUTE}, but not every parameter is digits: an int parameter is [0-9]+, "
                     "one or more digits, with no sign and no point, and the pattern matches the whole path (^...$)")
        json_response(ex, 404, NOT_FOUND)


def test_a_plain_parameter_is_still_text(server):
    ex = get(server, "/hello/42")
    body = json_response(ex, 200)
    if body != {"hello": "42"}:
        fail(ex, f'expected {{"hello": "42"}}, got {json.dumps(body)}: a plain {{name}} is text, whatever it '
                 "looks like; only {name:int} is converted")
    json_response(get(server, "/hello/J%C3%BCrgen"), 200, {"hello": "Jürgen"})


def test_a_number_too_long_for_int_still_gets_an_answer(server):
    # Digits, but 5,000 of them: int() refuses strings of over 4,300 digits (ValueError, since
    # Python 3.11 and 3.10.7: converting them takes quadratic time). Either answer is fine: the
    # 404 of a segment that is no int after all, or the sum, from a Python without that limit.
    digits = "9" * 5000
    ex = get(server, f"/add/{digits}/1")
    if not ex.received:
        fail(ex, "no answer to /add/<5,000 digits>/1: int() raised ValueError (Python refuses to convert "
                 "over 4,300 digits; the server's log, below, shows it) and the request was never answered. "
                 "Treat a value int() refuses as a segment that does not match: try the next route, or 404")
    if ex.response.status == 404:
        json_response(ex, 404, NOT_FOUND)
        return
    json_response(ex, 200, {"sum": int(digits) + 1})
