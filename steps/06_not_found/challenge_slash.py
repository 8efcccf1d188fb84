"""Challenge (step 06): a path with a trailing slash is redirected, 308, to the route without it.

Checked with `tutorial check --challenge` (or `pytest steps/06_not_found/challenge_slash.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import json

from harness import request
from harness.checks import fail, http, json_response, random_word, send

NOT_FOUND = {"message": "Not Found"}
WHY_308 = ("use 308 Permanent Redirect: after a 301 or a 302 a client may send a GET instead of the "
           "POST it was sending, and 307 says the move is only for now")


def get(server, target):
    # Connection: close, so that a server that keeps connections open (step 09 on) closes this
    # one too: the checks then pass at any later step.
    return send(server, request("GET", target, headers={"Connection": "close"}), timeout=2)


def check_redirect(ex, target, location):
    __tracebackhide__ = True
    status = ex.response.status
    route = location.partition("?")[0]
    if status == 404:
        fail(ex, f"{route} is a route, so {target} should not be a 404: answer 308 Permanent Redirect with "
                 f"Location: {location}")
    if status in (301, 302, 303, 307):
        fail(ex, f"a {status} redirect: {WHY_308}")
    body = json_response(ex, 308)
    if not (isinstance(body, dict) and body.get("message")):
        fail(ex, 'expected a small JSON body with a "message", e.g. {"message": "Moved to /hello_world"}')
    got = ex.response.header("Location")
    if got is None:
        fail(ex, f"the 308 has no Location header: it tells the client where to go, {location}")
    if got != location:
        kept = ", with the query string kept" if "?" in location else ""
        fail(ex, f"expected Location: {location} (the path without its last slash{kept}), got Location: {got}")


def test_a_trailing_slash_is_redirected_to_the_route(server):
    word = random_word()
    for target, location in (("/hello_world/", "/hello_world"),
                             (f"/hello_world/?x=1&{word}=2", f"/hello_world?x=1&{word}=2"),
                             ("/broken/", "/broken")):
        check_redirect(get(server, target), target, location)


def test_a_post_is_sent_again_to_the_route(server):
    sent = {random_word(): random_word()}
    url = f"{server.url}/hello_world/"
    response = http("POST", url, json=sent)  # requests follows redirects, as browsers do
    statuses = [r.status_code for r in response.history] + [response.status_code]
    if statuses[0] != 308:
        raise AssertionError(f"POST {url} with requests: expected 308 first, got the statuses {statuses}")
    if response.status_code != 200 or response.json() != {**sent, "hello": "back"}:
        raise AssertionError(f"POST {url} with requests: after the 308, expected the echo of POST /hello_world, "
                             f"{json.dumps({**sent, 'hello': 'back'})}, got {response.status_code} {response.text}")


def test_only_a_path_with_a_route_is_redirected(server):
    for target in (f"/{random_word()}/", f"/hello_world/{random_word()}/", "/"):
        ex = get(server, target)
        if ex.response.status == 308:
            without = target[:-1] or "(nothing)"
            fail(ex, f"{target} was redirected to {ex.response.header('Location')}, but {without} is no route "
                     "either: redirect only when the path without its last slash has a route, and answer 404 "
                     "otherwise")
        json_response(ex, 404, NOT_FOUND)
    json_response(get(server, "/hello_world"), 200, {"hello": "world"})
