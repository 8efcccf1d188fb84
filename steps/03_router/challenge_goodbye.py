"""Challenge (step 03): a second route, GET /goodbye, whose handler logs `Bye: ` and the URL.

Checked with `tutorial check --challenge` (or `pytest steps/03_router/challenge_goodbye.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

from harness import ServerError, request
from harness.checks import random_word, send

WAIT = 1.0  # seconds: a handler that exists logs at once


def bye_line(server, ex, mark, url):
    """The `Bye: ...` line logged since ``mark`` for ``url``; a clear failure if none comes."""
    __tracebackhide__ = True  # pytest shows the failure from the test's line: the message says it all
    try:
        server.wait_for(f"Bye: {url}", since=mark, timeout=WAIT)
    except ServerError:
        logged = [line for line in server.log(since=mark).splitlines() if "Bye:" in line]
        if logged:
            raise AssertionError(ex.explain(
                f"expected the line {'Bye: ' + url!r}, got {logged[0]!r}: `Bye: ` then the request's whole "
                "URL (request.url, its query string included)")) from None
        raise AssertionError(ex.explain(
            f"no `Bye: ` line in the server's log {WAIT:g} s after GET {url}: register a handler for "
            "GET /goodbye (router.add_route, in hello_world_app) that prints `Bye: ` and the request's URL, "
            "with flush=True")) from None
    return [line for line in server.log(since=mark).splitlines() if "Bye:" in line]


def test_get_goodbye_logs_bye_and_the_url(server):
    url = f"/goodbye?x={random_word()}"
    mark = server.mark()
    ex = send(server, request("GET", url), timeout=0.1)
    lines = bye_line(server, ex, mark, url)
    if lines != [f"Bye: {url}"]:  # (an assert would add pytest's own comparison after the explanation)
        raise AssertionError(ex.explain(
            f"expected one line {'Bye: ' + url!r}, got {lines}: the line is `Bye: ` and the URL, nothing else"))


def test_only_get_goodbye_says_bye(server):
    mark = server.mark()
    for data in (request("POST", "/goodbye", b'{"a": 1}'), request("GET", "/goodbye/extra"),
                 request("GET", "/hello_world")):
        send(server, data, timeout=0.1)
    probe = f"/goodbye?probe={random_word()}"
    ex = send(server, request("GET", probe), timeout=0.1)
    lines = bye_line(server, ex, mark, probe)  # the log is in order: the others came before
    if lines != [f"Bye: {probe}"]:
        raise AssertionError(ex.explain(
            f"only GET /goodbye says Bye, but the log has {lines}: POST /goodbye and GET /goodbye/extra should "
            "reach no handler (register the handler for GET only; the router matches whole paths)"))
    if "Handle: GET /hello_world None" not in server.log(since=mark):
        raise AssertionError(ex.explain(
            "GET /hello_world should still run its own handler and log `Handle: GET /hello_world None`"))
