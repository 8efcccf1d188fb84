"""An app with a route for each feature the black-box tests exercise.

Served with ``python -m protoweb feature_app:app`` (from this folder).
"""

import asyncio
import contextvars
import os

from protoweb import App, HTTPError, Response

app = App()


@app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def echo(request):
    """What the server understood of the request."""
    return {
        "method": request.method,
        "url": request.url,
        "path": request.path,
        "query_string": request.query_string,
        "query": request.query.to_dict(),
        "headers": request.headers.multi_items(),
        "body": request.body.decode("utf-8", "replace"),
        "body_size": len(request.body),
        "http_version": request.http_version,
        "client": list(request.client) if request.client else None,
    }


@app.get("/headers/{name}")
async def one_header(request, name):
    """Case-insensitive, multi-valued header lookup."""
    return {"first": request.headers.get(name), "all": request.headers.getall(name)}


@app.get("/users/{user_id}")
async def user(request, user_id):
    return {"user_id": user_id, "path_params": request.path_params}


@app.get("/users/{user_id}/posts/{post_id}")
async def user_post(request, user_id, post_id):
    return {"user_id": user_id, "post_id": post_id}


@app.post("/json")
async def json_body(request):
    return {"received": request.json()}


@app.post("/form")
async def form(request):
    return request.form().to_dict()


@app.post("/text")
async def text(request):
    return request.text.upper()  # a str: text/plain


@app.get("/bytes")
async def raw_bytes(request):
    return bytes(range(256))


@app.get("/custom")
async def custom(request):
    response = Response(201, "made", headers={"X-One": "1"})
    response.headers.append("X-Many", "a")
    response.headers.append("X-Many", "b")
    response.headers.set("X-One", "one")
    return response


@app.get("/refuse-header")
async def refuse_header(request):
    value = request.query["value"]
    try:
        Response(200).headers.set("X-Echo", value)
    except ValueError as error:
        return {"refused": str(error)}
    return {"refused": None}


@app.get("/status/{code}")
async def status(request, code):
    return Response(int(code), {"code": int(code)})


@app.get("/teapot")
async def teapot(request):
    raise HTTPError(418, request.query.get("message", "short and stout"))


@app.get("/boom")
async def boom(request):
    raise RuntimeError(f"secret detail {request.query.get('tag', '')}")


@app.get("/none")
async def returns_none(request):
    return None


@app.get("/unserializable")
async def unserializable(request):
    return Response(200, {"value": object()})


@app.get("/sleep")
async def sleep(request):
    print(f"sleeping {request.query.get('tag')}", flush=True)  # tests wait for this line
    await asyncio.sleep(float(request.query.get("seconds", "0.1")))
    await asyncio.sleep(0)  # a second suspension, to be driven by the Task too
    return {"slept": float(request.query.get("seconds", "0.1")), "tag": request.query.get("tag")}


@app.get("/forever")
async def forever(request):
    print("forever", flush=True)
    await asyncio.sleep(3600)
    return "unreachable"


current_user = contextvars.ContextVar("current_user", default=None)


@app.get("/context")
async def context(request):
    """Sets a context variable; answers what it was before (always None: no leaks)."""
    before = current_user.get()
    current_user.set(request.query["set"])
    if "wait" in request.query:
        await asyncio.sleep(0.01)
        assert current_user.get() == request.query["set"]  # kept across the suspension
    return {"before": before}


@app.get("/tasks")
async def tasks(request):
    """How many asyncio tasks exist in the server right now, this handler's own not counted."""
    return {"tasks": len(asyncio.all_tasks()) - 1}


@app.get("/in-a-task")
async def in_a_task(request):
    """What needs a Task from the first line on: asyncio.timeout, TaskGroup, wait_for."""
    task = asyncio.current_task()
    used = ["current_task"] if task is not None else []
    if hasattr(asyncio, "timeout"):  # Python 3.11+
        async with asyncio.timeout(1):
            used.append("timeout")
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(0))
        used.append("TaskGroup")
    await asyncio.wait_for(asyncio.sleep(0), 1)
    used.append("wait_for")
    return {"used": used, "same_task": asyncio.current_task() is task}


@app.get("/http-error/{code}")
async def http_error(request, code):
    """HTTPError with what a handler may wrongly pass it: a status out of range, a str, a bad header."""
    if "wait" in request.query:
        await asyncio.sleep(0.01)
    if "header" in request.query:
        raise HTTPError(401, headers={"WWW-Authenticate": request.query["header"]})
    raise HTTPError(int(code) if code.isdigit() else code)


@app.get("/cancelled")
async def cancelled(request):
    """Awaits a task that someone else cancels: the CancelledError reaches dispatch."""
    if "wait" not in request.query:
        raise asyncio.CancelledError()
    other = asyncio.get_running_loop().create_task(asyncio.sleep(10))
    asyncio.get_running_loop().call_later(0.01, other.cancel)
    await other
    return "unreachable"


@app.get("/nan")
async def nan(request):
    return {"value": float("nan")}


@app.get("/params/{name}")
async def params(request, name):
    return {"name": name, "path": request.path, "raw_path": request.raw_path}


@app.get("/files/{name}/raw")
async def file_raw(request, name):
    return {"raw": name}


@app.get("/own-headers")
async def own_headers(request):
    """A handler that sets Date and Connection itself."""
    return Response(200, "mine", headers={"Date": "Tue, 01 Jan 2030 00:00:00 GMT", "Connection": "close"})


@app.get("/big")
async def big(request):
    size = int(request.query.get("size", "1048576"))
    return b"x" * size


if os.environ.get("PROTOWEB_TEST_NO_LOOP_SIGNALS"):
    # Pretend to be on Windows, where event loops have no add_signal_handler: the server
    # must fall back to plain signal handlers and still shut down gracefully.
    def _no_signal_handler(self, sig, callback, *args):
        raise NotImplementedError

    asyncio.SelectorEventLoop.add_signal_handler = _no_signal_handler
