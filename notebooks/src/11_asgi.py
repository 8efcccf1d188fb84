# %% [markdown]
# # Step 11: ASGI, so that an existing server can run our App
#
# Our server runs in one process, so it uses one CPU core. Production servers such as
# **uvicorn** run an application in several processes. To run under one, an application
# speaks **ASGI**. Here our `App` learns it, through one new method,
# `async def __call__(self, scope, receive, send)` (`__call__` makes an object callable:
# `app(scope, receive, send)` runs it). The same file then runs two ways, from the
# repository's root:
#
# ```
# python steps/11_asgi/server.py                                                # our own server
# python -m uvicorn server:app --app-dir steps/11_asgi --workers 2 --port 8080  # uvicorn
# ```
#
# `server:app` names the object `app` in `server.py` (in the folder given by `--app-dir`).
# uvicorn *imports* that file, so its `if __name__ == "__main__":` block, which starts our
# own server, does not run.
#
# ```mermaid
# flowchart LR
#     C[client] --> O[our Server<br/>sockets, HTTP/1.1, timeouts]
#     C --> U[uvicorn<br/>sockets, HTTP/1.1, workers]
#     O --> R[router + handlers]
#     U -- "app(scope, receive, send)" --> A["App.__call__"] --> R
#     style A fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```
#
# The change in four ideas (the folded diff has 6 parts), in this notebook's order:
#
# 1. ASGI itself: the agreement between a server and an application.
# 2. Two pieces both servers share: `Response.header_fields()` and `run_handler` (+27/−19).
# 3. `App.__call__`, the App as an ASGI application (+48), and its body limit (+4/−1).
# 4. `GET /pid`, which names the process answering, and the docstring (+15/−9).
#
# Then a pitfall: routing on `scope["path"]`. The whole diff, folded (each part comes back
# with its explanation):

# %%
from harness.show import show_diff

OLD, NEW = "../steps/10_app/server.py", "../steps/11_asgi/server.py"
show_diff(OLD, NEW, collapsed="The whole change, from step 10")

# %% [markdown]
# ## ASGI in plain words
#
# ASGI (Asynchronous Server Gateway Interface) is an agreement between a **server**, which
# deals with the network, and an **application**, which decides what to answer. For each
# request the server calls the application with three arguments:
#
# - **`scope`**: a dict, the request's head already parsed: `"type": "http"`, `method`,
#   `path` (percent-decoded), `raw_path` (as the client sent it), `query_string`,
#   `http_version`, and `headers`, a list of `(name, value)` byte pairs.
# - **`receive`**: an async function for the body, which may be large and still arriving.
#   Each `await receive()` returns the next message: a piece of the body,
#   `{"type": "http.request", "body": b"...", "more_body": True}` (`False` on the last
#   piece), or `{"type": "http.disconnect"}` when the client has gone.
# - **`send`**: an async function that takes the answer as two messages:
#   `http.response.start`, with the status and header fields, then `http.response.body`.
#
# Dicts, bytes and two functions: no sockets, no HTTP text, so any ASGI application runs on
# any ASGI server. Flask behind gunicorn uses the older agreement, WSGI; ASGI is the same
# deal with an `async` application.
#
# ```mermaid
# sequenceDiagram
#     participant C as client
#     participant U as uvicorn (a worker process)
#     participant A as our App
#     C->>U: POST /hello_world HTTP/1.1, headers, body
#     Note over U: parses the head into the scope dict
#     U->>A: await app(scope, receive, send)
#     A->>U: await receive()
#     U-->>A: http.request message: body bytes, more_body False
#     Note over A: route, run the handler, make a Response
#     A->>U: await send(http.response.start: status, headers)
#     A->>U: await send(http.response.body: body bytes)
#     U->>C: HTTP/1.1 200 OK, headers, body
# ```
#
# Under uvicorn, what our `Server` class did (sockets, parsing, keep-alive, timeouts) is
# uvicorn's job. Routing, handlers, errors and a body limit stay ours.

# %% [markdown]
# ## The pieces both servers share
#
# Both servers must give the same answers, so the code that makes an answer moves where
# both can call it. `Response.__bytes__` wrote the whole head as text; an ASGI server wants
# the header fields as a list of pairs, and writes the head itself. So the list gets a
# method, `header_fields()`: `__bytes__` joins it into text, `__call__` hands it to `send`.
#
# The body of `Server.request_callback_handler` becomes a plain function, `run_handler`,
# unchanged: it awaits the handler and turns what it returns or raises into the `Response`
# to send.

# %%
show_diff(OLD, NEW, containing="def header_fields(self):")

# %% [markdown]
# What is left of `request_callback_handler`:

# %%
show_diff(OLD, NEW, containing="self.response_writer(await run_handler(method_handler, request), request)")

# %% [markdown]
# ## `App.__call__`: the App as an ASGI application

# %%
show_diff(OLD, NEW, containing="async def __call__(self, scope, receive, send):")

# %% [markdown]
# Part by part:
#
# - **Lifespan.** uvicorn also calls the app once per worker process with a scope of type
#   `"lifespan"`: one message when the process starts (an app could open its database
#   connections then), one when it stops. An app that treats this scope as a request
#   crashes on it; uvicorn then logs `ASGI 'lifespan' protocol appears unsupported.` or,
#   with `--lifespan on`, refuses to start. So we answer both, with nothing to prepare.
# - **Any other type** is a WebSocket (a long-lived two-way channel a browser can open),
#   which we refuse: `websocket.close` before accepting.
# - **`respond`** makes our `Response` the two messages. ASGI wants header names in lower
#   case, names and values as bytes (Latin-1, step 10: one byte per character).
# - **`callback_handler`** plays the part of `request_callback_handler`: it sends what
#   `run_handler` makes of the handler `dispatch` chose.
# - **The URL.** Our routes match the path as the client sent it, still percent-encoded, so
#   that `/hello/a%2Fb` gives one parameter, `a/b` (step 07): `raw_path`, not `path`. When
#   a server leaves `raw_path` out, `quote` encodes `path` again (losing any `%2F`; uvicorn
#   always sends `raw_path`). The headers already have the shape `Request` takes.
# - **The body** comes in messages, collected until `more_body` is `False`. uvicorn reads a
#   body of any size, so the limit is ours: a `413` as soon as `Content-Length`, or the
#   total so far, passes `max_body`. On `http.disconnect` nobody is left to answer, so no
#   handler runs.
#
# The limit, 1 MiB (our own server still enforces `--max-body` while parsing, as in step
# 08), under the App's docstring, which now names both ways to run an app:

# %%
show_diff(OLD, NEW, containing="max_body = 1024 * 1024  # bytes: the largest body __call__ reads")

# %% [markdown]
# ## ASGI without any server
#
# An ASGI application is just something we can call with three arguments and await, so we
# can call it ourselves, as uvicorn would, once we have imported `server.py` as uvicorn
# does (no server starts):

# %%
import importlib.util

STEP = "../steps/11_asgi"
# The step folder is not a package, so we import the file by its path, as the module `step11_server`.
spec = importlib.util.spec_from_file_location("step11_server", f"{STEP}/server.py")
step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step)
print("step.app is an", type(step.app).__name__, "object; its max_body:", step.app.max_body)

# %% [markdown]
# A `receive` that hands out messages from a list, and a `send` that keeps what the app
# sends; both print:

# %%
async def call_app(scope, messages):
    """Call the app as an ASGI server would; `messages` are what receive() returns, in order."""
    messages, sent = list(messages), []

    async def receive():
        message = messages.pop(0)
        print("  app <- receive():", message)
        return message

    async def send(message):
        print("  app -> send():   ", message)
        sent.append(message)

    await step.app(scope, receive, send)
    return sent

# %% [markdown]
# A `scope` as uvicorn would build it, here for `GET /hello/a%2Fb`. Note the two paths:

# %%
from urllib.parse import unquote_to_bytes


def http_scope(method, raw_path, query_string=b"", headers=()):
    # Every key uvicorn fills in; our App reads only type, method, raw_path, query_string,
    # headers and http_version. path is raw_path percent-decoded, as uvicorn decodes it.
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
        "method": method, "path": unquote_to_bytes(raw_path).decode("utf-8"), "raw_path": raw_path,
        "query_string": query_string, "root_path": "", "headers": [(b"host", b"example.com"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }


scope = http_scope("GET", b"/hello/a%2Fb")
print("path:", scope["path"], "   raw_path:", scope["raw_path"])

# %%
# A notebook cell may await outside a function (step 02).
sent = await call_app(scope, [{"type": "http.request", "body": b"", "more_body": False}])
assert sent[0]["status"] == 200 and sent[1]["body"] == b'{"hello": "a/b"}'

# %% [markdown]
# One `receive()` (a GET has an empty body), then two `send()`s. No status line, no `\r\n`:
# writing HTTP is the server's job. A `POST` whose body comes in two messages, as over a
# slow network:

# %%
scope = http_scope("POST", b"/hello_world", headers=[(b"content-type", b"application/json")])
sent = await call_app(scope, [{"type": "http.request", "body": b'{"key1": ', "more_body": True},
                              {"type": "http.request", "body": b'"value1"}', "more_body": False}])
assert sent[1]["body"] == b'{"key1": "value1", "hello": "back"}'

# %% [markdown]
# The handler ran (its `Handle: POST` line) once the whole body was there. And the
# lifespan conversation that uvicorn has with each worker:

# %%
sent = await call_app({"type": "lifespan", "asgi": {"version": "3.0"}},
                      [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

# %% [markdown]
# ## Run it both ways
#
# `ServerProcess.uvicorn` runs `python -m uvicorn server:app --workers 2` in the step's
# folder, on a free port, and waits until each worker says `Application startup complete.`:

# %%
from harness import ServerProcess

own = ServerProcess(f"{STEP}/server.py").start()
uvi = ServerProcess.uvicorn(f"{STEP}/server.py", workers=2).start()
print(own.log())
print(uvi.log())

# %% [markdown]
# uvicorn's log shows a **parent process**, the supervisor, then two **server processes**,
# the workers (processes, not step 09's `_worker` task), each with the lifespan
# conversation we had by hand. The supervisor opens the listening socket once and hands it
# to both workers. Each worker imports `server.py` itself: its own event loop, its own copy
# of the App. So what a handler keeps in memory, a counter or a dict of users, exists once
# per worker; shared data belongs in a database.
#
# ```mermaid
# flowchart LR
#     C1[clients] --> L[(one listening socket)]
#     L --> W1[worker 1: event loop + App]
#     L --> W2[worker 2: event loop + App]
#     P[uvicorn supervisor] -. starts, watches, stops .-> W1
#     P -. starts, watches, stops .-> W2
# ```
#
# ## The same answers from both
#
# Each row of the table is one request, sent to each server on a fresh connection; the
# cell checks that the two columns match:

# %%
from IPython.display import Markdown, display

from harness import exchange, request

JSON = {"Content-Type": "application/json", "Connection": "close"}
CLOSE = {"Connection": "close"}
asks = [
    ("GET", "/hello_world", b""), ("POST", "/hello_world", b'{"key1": "value1"}'),
    ("GET", "/hello/J%C3%BCrgen", b""), ("GET", "/hello/a%2Fb", b""), ("GET", "/hello/a/b", b""),
    ("GET", "/echo_query?q=a&q=b&empty=", b""), ("GET", "/text", b""), ("GET", "/headers", b""),
    ("DELETE", "/hello_world", b""), ("GET", "/nowhere", b""), ("GET", "/broken", b""),
    ("GET", "/teapot", b""), ("POST", "/hello_world", b"{oops"),
]


def answer(srv, method, path, body):
    ex = exchange(srv.host, srv.port, request(method, path, body, JSON if body else CLOSE))
    response = ex.response
    allow = f" (Allow: {response.header('Allow')})" if response.header("Allow") else ""
    return f"{response.status} `{response.body.decode()}`{allow}"


rows = ["| request | our own server | uvicorn, 2 workers |", "|---|---|---|"]
for method, path, body in asks:
    mine, theirs = answer(own, method, path, body), answer(uvi, method, path, body)
    sent = f"{method} {path} {body.decode()}".strip()
    rows.append(f"| `{sent}` | {mine} | {theirs} |")
    assert mine == theirs, (method, path, mine, theirs)
display(Markdown("\n".join(rows)))

# %% [markdown]
# The same answers, down to the `500` for a crashing handler and the `400` for a body that
# is not JSON: only the server around our code changed.
#
# ## Two processes answer
#
# `GET /pid` answers the id of the process that runs its handler, `os.getpid()`. The top of
# the file imports `os` for it, and `quote` for `__call__`, under a docstring that gives
# both ways to run the file from its folder, `steps/11_asgi/`:

# %%
show_diff(OLD, NEW, containing='@app.get("/pid")')
show_diff(OLD, NEW, containing="Step 11: ASGI; the same App runs under an existing server")

# %% [markdown]
# Our own server is one process, the one `ServerProcess` started:

# %%
ex = exchange(own.host, own.port, request("GET", "/pid", headers=CLOSE))
print("our own server:", ex.json(), "  the process we started:", own.pid)
assert ex.json() == {"pid": own.pid}

# %% [markdown]
# Under uvicorn, both workers wait on the same socket, and the operating system decides
# which one takes each connection. A burst often goes to a single worker (a deep dive below
# says why), so we open four connections at a time, from four threads (step 08's
# `ThreadPoolExecutor`; `pool.map` spreads four calls of `pid_of` over them), until both
# workers have answered:

# %%
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor


def pid_of(srv):
    return exchange(srv.host, srv.port, request("GET", "/pid", headers=CLOSE)).json()["pid"]


workers = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", uvi.log())}
answers = Counter()
with ThreadPoolExecutor(4) as pool:
    while len(answers) < 2 and sum(answers.values()) < 300:
        answers.update(pool.map(lambda _: pid_of(uvi), range(4)))
print("the workers:", sorted(workers), "  the supervisor:", uvi.pid)
print("answers so far:", dict(answers))
assert set(answers) == workers and uvi.pid not in answers

# %% [markdown]
# Two workers, neither of them the supervisor.
#
# ## Pitfall: routing on `scope["path"]`
#
# `scope["path"]` looks like the obvious URL, and works for most requests. The step's file
# with that mistake made, from the catalogue of bugs in `harness/bugs.py`:

# %%
from harness.bugs import bug

decoded = bug("decoded-path").variant()
show_diff(f"{STEP}/server.py", decoded)

# %% [markdown]
# Under uvicorn (one worker is enough), three paths:

# %%
decoded_uvi = ServerProcess.uvicorn(decoded, workers=1).start()
mark = decoded_uvi.mark()
for path in ("/hello/ada", "/hello/a%2Fb", "/hello/J%C3%BCrgen"):
    ex = exchange(decoded_uvi.host, decoded_uvi.port, request("GET", path, headers=CLOSE))
    print(f"GET {path} -> {ex.response.status_line}  {ex.response.header('content-type')}  {ex.response.body}")
decoded_uvi.wait_for('"GET /hello/J%C3%BCrgen HTTP/1.1" 500', since=mark)
log = decoded_uvi.log(since=mark)
# uvicorn's log, without the traceback's frames (its indented lines):
print("\n".join(line for line in log.splitlines() if not line.startswith(" ")))
assert "Exception in ASGI application" in log
print("decoded-path variant stopped: exit status", decoded_uvi.stop())
assert decoded_uvi.returncode == 0

# %% [markdown]
# - `/hello/ada` works, which is why the mistake survives a quick test.
# - `/hello/a%2Fb` gets `404`: the decoded path `/hello/a/b` has two segments, and `{name}`
#   matches one.
# - `/hello/J%C3%BCrgen` gets uvicorn's own plain-text `500`: `Request.__init__` parses the
#   URL with httptools' `parse_url` (step 03), which refuses a raw `ü`. That happens before
#   any handler runs, so the error escapes the App (`Exception in ASGI application`).
#
# The step uses `raw_path` and decodes each parameter after matching, as our own server
# does.
#
# That is the core of the step.

# %% [markdown]
# ## Try it
#
# In a terminal, at the repository's root, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. Your file is `my_server.py`, at the root. uvicorn imports it as the module
#    `my_server`, so the name must be a valid Python name.
#    - Built the steps with `tutorial`? You have it.
#    - If not: `cp steps/11_asgi/server.py my_server.py`, then `tutorial start 11` (it keeps
#      the file).
# 2. A challenge: add `GET /square/{n}`, answering `{"square": n * n}` when `n` is a whole
#    number (`12` gives `144`, `-3` gives `9`) and a `400` with a JSON message, raised as
#    `HTTPError`, when it is not (`abc`, `1.5`); the same answers from both servers. Run it
#    both ways, each in its own terminal:
#
#    ```
#    python my_server.py --port 8080
#    python -m uvicorn my_server:app --workers 2 --port 8081
#    ```
#
#    and ask both: `curl -i http://127.0.0.1:8080/square/12` and
#    `curl -i http://127.0.0.1:8081/square/12`. Same body, different heads. Ctrl-C stops each
#    (for uvicorn: the supervisor and both workers). The challenge's tests ask both servers
#    (they start uvicorn on your `app` themselves) for `12`, `-3` and a large number, then
#    for `abc`, `1.5` and a random word, which must each get a `400` with a `"message"`; no
#    error may escape the app under uvicorn.
#
#    ```
#    tutorial challenge 11          # this challenge, and the second one (item 4 below)
#    tutorial check --challenge     # their tests against your my_server.py, this one first
#    ```
#
#    Stuck? `tutorial hint --challenge`: each time you run it, the next of three hints.
# 3. The step's tests run your file both ways:
#
#    ```
#    pytest steps/11_asgi --server my_server.py
#    ```
#
#    With a new route only, they all pass. Then make the pitfall's mistake
#    (`url = scope["path"]`). Every test against your own server still passes; under
#    uvicorn:
#    - `test_path_parameters_are_decoded_after_matching[uvicorn]` fails with
#      `expected 200, got 404` and a message that names `raw_path`;
#    - two more fail where a non-ASCII name gets uvicorn's plain-text `500`; the first is
#      also reported as an error, since uvicorn logged `Exception in ASGI application`.
#
#    Or delete the two `http.disconnect` lines of `__call__`: only the test whose client
#    hangs up in the middle of its body notices.
# 4. A second challenge: see each worker's own copy of the App. In `my_server.py`, put
#    `hits = 0` just above `app = App()` (at the bottom), and add a route `GET /count` whose
#    handler does `global hits`, `hits += 1` and answers `{"hits": hits, "pid": os.getpid()}`.
#    Start both servers again and ask each a few times:
#
#    ```
#    for i in 1 2 3 4 5 6 7 8; do curl -s http://127.0.0.1:8081/count; echo; done
#    ```
#
#    Under uvicorn, two counters, one per pid, each counting what its own worker answered:
#    `{"hits": 5, ...}` from one pid can come just before `{"hits": 1, ...}` from the other
#    (or all eight go to one worker: the operating system decides). On port 8080, our own
#    server: one counter. The tests check both: four requests to your own server, just
#    started, answer `hits` 1 to 4 with its pid; under uvicorn, four at a time until both
#    workers have answered, and each pid's `hits` must run 1, 2, 3... with no gap.
#
#    ```
#    tutorial challenge 11          # both challenges, this one second
#    tutorial check --challenge     # the /square tests first, then these
#    ```
#
#    Stuck? `tutorial hint --challenge`, for the first challenge that fails.

# %% [markdown]
# ## Where next
#
# This is the tutorial's last step: from a UDP socket (step 01) to a framework with an ASGI
# face. The deep dives below are optional; the last one stops the two servers (so does
# restarting the kernel).
#
# The finished framework, [`protoweb`](../solution/README.md) in `solution/`, puts the
# steps' ideas in small modules (its README maps each to its step) and adds what a real
# service needs: `HEAD` requests, reading paused while a client leaves its answers unread,
# an access log, a command line, its own tests. Installed in `.venv`, its example runs both
# ways:
#
# ```
# python solution/examples/hello_world.py --port 8080                                  # its server
# python -m uvicorn hello_world:app --app-dir solution/examples --workers 2 --port 8081 # uvicorn
# ```
#
# Read `solution/protoweb/asgi.py` first: this step's `__call__`, plus apps served under a
# prefix such as `/api`.
#
# How fast is it? [`benchmarks/`](../benchmarks/README.md) compares protoweb with uvicorn,
# Starlette and aiohttp (using `wrk`, a load generator), and shows how to profile.

# %% [markdown]
# ## Deep dive: who does what under uvicorn
#
# Much of what we built in steps 02 to 10 is uvicorn's job under uvicorn; what makes our
# framework *ours* stays in the App:
#
# | | our own server (`python server.py`) | under uvicorn |
# |---|---|---|
# | listening socket, accepting connections | `App.serve` + `create_server` | uvicorn |
# | reading HTTP/1.1 (the parser, malformed requests) | `Server` + httptools | uvicorn (httptools too), with a plain-text `400` of its own |
# | keep-alive, pipelining, `Connection: close` | `Server.answer_in_order`, `response_writer` | uvicorn |
# | timeouts | `Server.start_timer` (`--timeout`) | uvicorn (its own, e.g. `--timeout-keep-alive`) |
# | graceful stop on Ctrl-C | `App.serve` | uvicorn, which tells the App (the lifespan) |
# | several processes | no: one process, one core | `--workers N` |
# | routing, path parameters, query, headers | `Router`, `Request` | the same code: ours |
# | handlers, `HTTPError`, `500` for a crash, JSON | `run_handler`, `Response` | the same code: ours |
# | the body size limit (`413`) | `Server.on_header`, `on_body` | `App.__call__`: uvicorn sets none |

# %% [markdown]
# ## Deep dive: the bytes on the wire
#
# The same answers, but not quite the same bytes. One request to each server:

# %%
from harness.show import show_exchange

for name, srv in (("our own server", own), ("uvicorn", uvi)):
    print(f"=== {name}")
    ex = exchange(srv.host, srv.port, request("GET", "/hello/J%C3%BCrgen", headers=CLOSE))
    show_exchange(ex)
assert ex.response.header("server") == "uvicorn"

# %% [markdown]
# uvicorn writes the head: the status line, a `date` and a `server: uvicorn` header of its
# own, then our fields, which `respond` lowered (header names are case-insensitive, so
# clients do not mind; HTTP/2 even requires lower case). The body is the same bytes. Without
# `Connection: close`, uvicorn keeps the connection open for the next request, as our
# server has done since step 09.

# %% [markdown]
# ## Deep dive: where a handler's error goes
#
# `/broken` got a `500` from both servers, with nothing about the error in the body. The
# traceback goes to uvicorn's log, printed by `run_handler`, the same function our own
# server uses:

# %%
mark = uvi.mark()
ex = exchange(uvi.host, uvi.port, request("GET", "/broken", headers=CLOSE))
print(ex.response.status_line, ex.json())
uvi.wait_for('"GET /broken HTTP/1.1" 500', since=mark)
print(uvi.log(since=mark))
assert "Exception in ASGI application" not in uvi.log(since=mark)

# %% [markdown]
# The traceback, then uvicorn's access log line for the `500`. What is *not* there matters
# too: `Exception in ASGI application`, the line uvicorn logs when an error escapes the app
# (as in the pitfall). uvicorn would then answer a plain-text `500` of its own. Our App
# catches the error and answers with its usual JSON, so a client cannot tell which server it
# talks to.

# %% [markdown]
# ## Deep dive: the body limit, and a client that hangs up
#
# Back to calling the App by hand. With its limit lowered to 10 bytes on this `app` object,
# the `POST` in two pieces from before:

# %%
scope = http_scope("POST", b"/hello_world", headers=[(b"content-type", b"application/json")])
# An attribute set on the object hides the class's max_body; deleting it brings 1 MiB back,
# even if the call fails.
step.app.max_body = 10
try:
    sent = await call_app(scope, [{"type": "http.request", "body": b'{"key1": ', "more_body": True},
                                  {"type": "http.request", "body": b'"value1"}', "more_body": False}])
finally:
    del step.app.max_body
assert sent[0]["status"] == 413

# %% [markdown]
# The second piece took the total past 10 bytes: a `413` at once, and no handler ran. A
# client that hangs up in the middle of its body:

# %%
sent = await call_app(scope, [{"type": "http.request", "body": b'{"key1": ', "more_body": True},
                              {"type": "http.disconnect"}])
print("sent:", sent)
assert sent == []

# %% [markdown]
# Nothing sent, no handler run. And through uvicorn, a body one byte over 1 MiB, chunked
# (so no `Content-Length` announces it): uvicorn reads it and hands it over in pieces, and
# the App counts them and refuses:

# %%
from harness import chunked

head = request("POST", "/hello_world", headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
too_big = head + chunked(b"x" * (1024 * 1024 + 1), 64 * 1024)
# No Connection: close, so uvicorn keeps the connection open: read one answer (up to 10 s).
ex = exchange(uvi.host, uvi.port, too_big, until_closed=False, timeout=10)
print(ex.response.status_line, ex.json(), "server:", ex.response.header("server"))
assert ex.response.status == 413

# %% [markdown]
# ## Deep dive: how the workers share connections
#
# Why four connections at a time in "Two processes answer"? Twenty opened all at once can
# all be taken by one worker: when a worker's event loop wakes up, asyncio accepts every
# connection waiting in the socket's queue in one go. The step's client does the same as
# that cell, twenty connections in batches of four, after one `GET /hello/J%C3%BCrgen`.
# Against our own server, then against uvicorn:

# %%
from harness.show import run_client

for srv in (own, uvi):
    done = run_client(f"{STEP}/client.py", "--port", str(srv.port))
    assert done.returncode == 0
    print()

# %% [markdown]
# ## Deep dive: stopping uvicorn
#
# Ctrl-C (SIGINT) for each server, as in a terminal. uvicorn's supervisor passes the word on
# to its workers (`Terminated child process`), each has the end of the lifespan
# conversation (`Waiting for application shutdown.` → `Application shutdown complete.`), and
# the supervisor exits last:

# %%
mark = uvi.mark()
uvicorn_status = uvi.stop()
print(uvi.log(since=mark), f"\n(exit status {uvicorn_status})")
own_status = own.stop()
print(own.log().splitlines()[-1], f"(exit status {own_status})")
assert uvicorn_status == 0 and own_status == 0
assert uvi.log().count("Application shutdown complete.") == 2
