"""Challenge (step 04): GET /time answers {"time": <seconds since 1970>}.

Checked with `tutorial check --challenge` (or `pytest steps/04_response/challenge_time.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import time

from harness import request
from harness.checks import CLOSE, json_response, send


def test_get_time_answers_the_current_time(server):
    before = time.time()
    ex = send(server, request("GET", "/time", headers=CLOSE))
    body = json_response(ex, 200)
    after = time.time()
    assert isinstance(body, dict) and "time" in body, ex.explain('expected a JSON object with a "time" key')
    value = body["time"]
    assert isinstance(value, (int, float)) and not isinstance(value, bool), ex.explain(
        f'"time" should be a number of seconds since 1970 (time.time()), got {value!r}')
    assert before - 2 <= value <= after + 2, ex.explain(
        f'"time" is {value}, but the time is {after:.0f}: is it time.time(), seconds since 1970?')


def test_the_other_routes_still_answer(server):
    # Any JSON: {"hello": "back"} at step 04, {"hello": "world"} from step 05 on (a file that
    # has moved on may come back to this challenge).
    json_response(send(server, request("GET", "/hello_world", headers=CLOSE)), 200)
