"""Challenge (step 11): GET /square/{n} answers {"square": n * n}, and a 400 through
HTTPError when n is not a whole number; from our own server and from uvicorn alike.

Checked with `tutorial check --challenge` (or `pytest steps/11_asgi/challenge_square.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import random

from harness import request
from harness.checks import CLOSE, json_response, random_word, send, wait_for_traceback


def ask_square(srv, n):
    """GET /square/{n} on a new connection; a 404, or an answer that is not uvicorn's, is named at once."""
    mark = srv.mark()
    ex = send(srv, request("GET", f"/square/{n}", headers=CLOSE))
    if ex.response.status == 500:
        wait_for_traceback(srv, mark)
    who = "uvicorn, running your file's app," if srv.module == "uvicorn" else "your own server"
    if ex.response.status == 404:
        raise AssertionError(ex.explain(
            f"GET /square/{n} got 404 from {who}: there is no route for it yet. Declare one in "
            'hello_world_app with @app.get("/square/{n}") above an async def square(request, n)'))
    if srv.module == "uvicorn":
        assert ex.response.header("server") == "uvicorn", ex.explain(
            "expected the header server: uvicorn: is this really uvicorn answering?")
    return ex, who


def test_the_square_of_a_whole_number(target):
    for n in (12, -3, random.randint(1000, 99_999)):
        ex, who = ask_square(target, n)
        if ex.response.status == 500:
            raise AssertionError(ex.explain(
                f"GET /square/{n} got a 500 from {who}: the handler failed (the server's log below shows "
                "its traceback). n arrives as the text of the path, a str: int(n) makes it a number"))
        if ex.response.status == 400 and n < 0:
            raise AssertionError(ex.explain(
                f"{n} got a 400, but it is a whole number too: int(n) reads the minus sign, where a test "
                "like n.isdecimal() refuses it"))
        body = json_response(ex, 200)
        assert body == {"square": n * n}, ex.explain(
            f'expected the JSON body {{"square": {n * n}}} from {who}: the number n times itself, as a JSON '
            'number (not text, not the str "12" repeated)')


def test_not_a_whole_number_gets_a_400(target):
    for n in ("abc", "1.5", random_word() + "x"):
        ex, who = ask_square(target, n)
        if ex.response.status == 200:
            raise AssertionError(ex.explain(
                f"GET /square/{n} got 200 from {who}: {n!r} is not a whole number, so the client should get "
                'a 400: raise HTTPError(400, "...") when int(n) raises ValueError'))
        if ex.response.status == 500:
            raise AssertionError(ex.explain(
                f"GET /square/{n} got a 500 from {who}: int({n!r}) raised ValueError and nothing turned it "
                'into an answer. Catch it and raise HTTPError(400, "...") instead: the client made the '
                "mistake, not the server"))
        body = json_response(ex, 400)
        assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip(), (
            ex.explain('expected a JSON object {"message": "..."} that says n must be a whole number: '
                       "HTTPError(400, message) makes one"))
