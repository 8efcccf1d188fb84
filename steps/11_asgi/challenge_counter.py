"""Challenge (step 11): GET /count answers {"hits": N, "pid": ...}, a counter kept in the
module: one counter in our own server's one process, one per worker under uvicorn.

Checked with `tutorial check --challenge` (or `pytest steps/11_asgi/challenge_counter.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor

from harness import request
from harness.checks import CLOSE, json_response, send, wait_for_traceback

WORKER = re.compile(r"Started server process \[(\d+)\]")  # one line per uvicorn worker


def count(srv):
    """GET /count on a new connection: its decoded body, checked as {"hits": int, "pid": int}."""
    mark = srv.mark()
    ex = send(srv, request("GET", "/count", headers=CLOSE), timeout=2)
    if ex.response.status == 500:
        wait_for_traceback(srv, mark)
    if ex.response.status == 404:
        raise AssertionError(ex.explain(
            'GET /count got 404: there is no route for it yet. Declare one in hello_world_app with '
            '@app.get("/count") above an async def count(request)'))
    if ex.response.status == 500:
        raise AssertionError(ex.explain(
            "GET /count got a 500 (the server's log below shows the traceback). An UnboundLocalError? A handler that "
            "assigns hits makes it a local variable, unless it first says global hits; and hits = 0 must be "
            "at the module's top level"))
    body = json_response(ex, 200)
    assert isinstance(body, dict) and set(body) == {"hits", "pid"} and all(
        isinstance(body[key], int) and not isinstance(body[key], bool) for key in body), ex.explain(
        'expected a JSON object with two whole numbers, {"hits": ..., "pid": os.getpid()}')
    return body


def test_our_own_server_has_one_counter(start_server):
    srv = start_server()
    seen = [count(srv) for _ in range(4)]
    expected = [{"hits": n, "pid": srv.pid} for n in (1, 2, 3, 4)]
    assert seen == expected, (
        f"four GET /count, one after the other, to a server that has just started, answered {seen}; "
        f"expected {expected}: hits starts at 0, each request adds one before answering, and pid is "
        "os.getpid(), the id of the one process of our own server")


def test_each_uvicorn_worker_counts_its_own(start_uvicorn):
    """Four connections at a time until both workers have answered (bounded, as in
    test_step11.py): which worker takes a connection is up to the operating system."""
    srv = start_uvicorn(workers=2)
    workers = {int(pid) for pid in WORKER.findall(srv.log())}
    assert len(workers) == 2, f"expected two 'Started server process' lines:\n{srv.log()}"
    answers, deadline = [], time.monotonic() + 5
    with ThreadPoolExecutor(4) as pool:
        while len({a["pid"] for a in answers}) < 2 and len(answers) < 200 and time.monotonic() < deadline:
            answers += pool.map(lambda _: count(srv), range(4))
    pids = {a["pid"] for a in answers}
    assert pids <= workers, (
        f"GET /count answered the pids {sorted(pids)}, but the workers are {sorted(workers)}: "
        "pid must be os.getpid(), taken when the request is handled, in the process that handles it")
    assert pids == workers, (
        f"after {len(answers)} requests only the worker {sorted(pids)} had answered, of {sorted(workers)}: "
        "the operating system chose; run the check again")
    for pid in sorted(pids):
        hits = sorted(a["hits"] for a in answers if a["pid"] == pid)
        assert hits == list(range(1, len(hits) + 1)), (
            f"worker {pid} answered {len(hits)} requests with the hits {hits}; expected 1 to {len(hits)}: "
            "each worker has its own hits, from 0, and counts only the GET /count requests it answers. "
            f"All answers (hits, pid): {[(a['hits'], a['pid']) for a in answers]}")
