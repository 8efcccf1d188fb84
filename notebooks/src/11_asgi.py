# %% [markdown]
# # Step 11: ASGI, so that an existing server can run our App
#
# Our own server has one process, so it uses one CPU core. Production servers such as
# **uvicorn** can run an application in several processes, and they have been tested by far
# more clients than ours. To use one, the App must speak the language those servers speak:
# **ASGI**. In this step the `App` learns it. It gets one new method,
# `async def __call__(self, scope, receive, send)` (`__call__` is what makes an object
# callable: `app(scope, receive, send)` runs it), and the same file now runs two ways, from
# the repository's root:
#
# ```
# python steps/11_asgi/server.py                                                # our own server
# python -m uvicorn server:app --app-dir steps/11_asgi --workers 2 --port 8080  # uvicorn
# ```
#
# `server:app` tells uvicorn what to run: the object `app` in the module `server`, that is
# the file `server.py`, found in the folder `--app-dir` names. uvicorn *imports* that file,
# so its `if __name__ == "__main__":` block, the one that starts our own server, does not
# run. Without `--port`, uvicorn listens on port 8000, not 8080.
#
# Both give the same answers to the same requests. Where we are (the highlighted box is new):
#
# ```mermaid
# flowchart LR
#     C[client] --> O[our Server<br/>sockets, HTTP/1.1, timeouts]
#     C --> U[uvicorn<br/>sockets, HTTP/1.1, workers]
#     O --> R[router + handlers]
#     U -- "app(scope, receive, send)" --> A["App.__call__"] --> R
#     style A fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## ASGI in plain words
#
# ASGI (Asynchronous Server Gateway Interface) is an agreement between two programs. The
# **server** deals with the network: it accepts connections and reads and writes HTTP. The
# **application** decides what to answer. The application is one `async` function (or an
# object with an `async def __call__`, like our `App`), and for each request the server calls
# it with three things:
#
# - **`scope`**: a dictionary that describes the request, with its head already parsed:
#   `"type": "http"` (other types exist: `"lifespan"`, below, and `"websocket"`), the
#   `method`, the `path` (percent-decoded), the `raw_path` (as the client sent it), the
#   `query_string` (bytes), the `headers` (a list of `(name, value)` pairs of bytes, names in
#   lower case), the `http_version`, and who is talking to whom;
# - **`receive`**: an async function. The body is not in `scope`: it may be large, and still
#   arriving, so the app asks for it. Each `await receive()` returns the next message from the
#   server: a piece of the body, `{"type": "http.request", "body": b"...", "more_body": True}`
#   (`more_body` is `False` on the last piece), or `{"type": "http.disconnect"}` when the
#   client has gone;
# - **`send`**: an async function the application calls with its answer, as messages too:
#   first `{"type": "http.response.start", "status": 200, "headers": [...]}`, then the body,
#   `{"type": "http.response.body", "body": b"..."}`.
#
# Only dictionaries, bytes and two functions: no sockets, no HTTP text. That is why any ASGI
# application runs on any ASGI server (uvicorn, Hypercorn, Daphne, Granian), and why neither
# needs the other's code. If you have deployed Flask or Django behind gunicorn, you have seen
# the older agreement, WSGI: gunicorn is the server, and Flask's `app` (or the `application`
# in Django's `wsgi.py`) is an ordinary, not `async`, callable that gunicorn calls for each
# request. ASGI is the same deal with an `async` application, so that one process can be
# waiting on many requests at once, as our server has done since step 02.
#
# One request, from the client to our App and back:
#
# ```mermaid
# sequenceDiagram
#     participant C as client
#     participant U as uvicorn (a worker process)
#     participant A as our App
#     C->>U: POST /hello_world HTTP/1.1, headers, body
#     Note over U: parses the head into the scope dictionary
#     U->>A: await app(scope, receive, send)
#     A->>U: await receive()
#     U-->>A: http.request message: body bytes, more_body False
#     Note over A: route, run the handler, make a Response
#     A->>U: await send(http.response.start: status, headers)
#     A->>U: await send(http.response.body: body bytes)
#     U->>C: HTTP/1.1 200 OK, headers, body
# ```

# %% [markdown]
# ## What changed since step 10
#
# The whole change, computed from the two files in `steps/`. Skim it; we take it apart below.

# %%
from harness.show import show_diff

OLD, NEW = "../steps/10_app/server.py", "../steps/11_asgi/server.py"
show_diff(OLD, NEW)

# %% [markdown]
# The docstring says what the step is about and how to run the file both ways. Two new
# imports: `os`, for the process id that `GET /pid` answers, and `quote`, which percent-encodes
# a path again (we will see why below).

# %%
show_diff(OLD, NEW, containing="Step 11: ASGI; the same App runs under an existing server")

# %% [markdown]
# ## Who does what now
#
# Under uvicorn, a large part of what we built in steps 02 to 10 is uvicorn's job; what
# makes our framework *ours* stays in the App:
#
# | | our own server (`python server.py`) | under uvicorn |
# |---|---|---|
# | listening socket, accepting connections | `App.serve` + `create_server` | uvicorn |
# | reading HTTP/1.1 (the parser, malformed requests) | `Server` + httptools | uvicorn (httptools too), with a plain-text `400` of its own |
# | keep-alive, pipelining, `Connection: close` | `Server.answer_in_order`, `response_writer` | uvicorn |
# | timeouts | `Server.start_timer` (`--timeout`) | uvicorn (its own, e.g. `--timeout-keep-alive`) |
# | graceful stop on Ctrl-C | `App.serve` | uvicorn, which tells the App (the *lifespan*, below) |
# | several processes | no: one process, one core | `--workers N` |
# | routing, path parameters, query, headers | `Router`, `Request` | the same code: ours |
# | handlers, `HTTPError`, `500` for a crash, JSON | `run_handler`, `Response` | the same code: ours |
# | the body size limit (`413`) | `Server.on_header`, `on_body` | `App.__call__`: uvicorn sets none |

# %% [markdown]
# ## The pieces both servers share
#
# Until now `Response.__bytes__` wrote the whole head as text. An ASGI server wants the header
# fields as a list of pairs instead, and writes the head itself. So the list moves to a method
# of its own, `header_fields()`, which serves both: `__bytes__` joins it into text for our
# server, and `__call__` hands it to `send`.
#
# The body of `request_callback_handler` moves out of the `Server` class into a plain
# function, `run_handler`, unchanged: it awaits the handler and turns whatever comes back
# (a `Response`, a `dict`, a `str`) or whatever is raised (`HTTPError`, any other exception)
# into the `Response` to send. Both servers call it, so both give the same answers, and a
# crashing handler gets the same `500` with its traceback in the log, never in the response.

# %%
show_diff(OLD, NEW, containing="def header_fields(self):")

# %% [markdown]
# What is left of `request_callback_handler`: run the handler, write the answer.

# %%
show_diff(OLD, NEW, containing="self.response_writer(await run_handler(method_handler, request), request)")

# %% [markdown]
# The App's docstring shows the second way to run it, and the App gets a body size limit of
# its own, 1 MiB, for requests that come through ASGI. Our `Server` enforced `--max-body`
# while parsing (step 08), and still does when we run it ourselves (the code comment's "run()
# has its own"); uvicorn has no such option: it reads a body of any size and hands it over
# piece by piece, so under uvicorn counting the bytes is the App's job.

# %%
show_diff(OLD, NEW, containing="max_body = 1024 * 1024  # bytes: the largest body __call__ reads")

# %% [markdown]
# ## `App.__call__`: the App as an ASGI application
#
# The heart of the step:

# %%
show_diff(OLD, NEW, containing="async def __call__(self, scope, receive, send):")

# %% [markdown]
# Part by part:
#
# - **Lifespan.** Besides requests, uvicorn calls the app once per worker process with a scope
#   of type `"lifespan"`: a conversation that lasts as long as the process. The first message
#   says the process starts (an app could open its database connections here), the second
#   says it stops. Our App has nothing to prepare, but it answers both, so uvicorn knows that
#   the App understands them. (An app that assumes every scope is a request fails on this
#   one; uvicorn then logs `ASGI 'lifespan' protocol appears unsupported.` and goes on, or,
#   with `--lifespan on`, refuses to start.)
# - **Anything else** (a `"websocket"` scope: a browser opening a WebSocket, which uvicorn
#   can accept when the `websockets` package is installed) is not for us: sending
#   `websocket.close` before accepting tells the server to refuse the handshake.
# - **`respond`** turns our `Response` into the two messages: the status and the header fields
#   (`header_fields()`, names in lower case as ASGI asks, as bytes), then the body.
# - **`callback_handler`** is to `__call__` what `request_callback_handler` is to a `Server`:
#   `dispatch` hands it the chosen handler, and it sends what `run_handler` makes of it.
# - **The Request** is built from `scope`. Our routes match the path **as the client sent
#   it**, still percent-encoded, so that `/hello/a%2Fb` is one parameter, `a/b` (step 07).
#   ASGI gives two paths: `path` is already decoded (`/hello/a/b`), `raw_path` is the original
#   bytes. We use `raw_path`; the spec lets a server leave it out, and then `quote` encodes
#   `path` again, the best we can do. The query string comes separately, as bytes. The
#   headers need no work: `scope["headers"]` is a list of `(name, value)` byte pairs, the same
#   shape as the list our parser collects in `on_header`, so `Request` takes it as it is.
# - **The body** comes in `http.request` messages: we collect them until one says
#   `more_body: False`, and stop with a `413` as soon as the total passes `max_body`, without
#   reading the rest. An `http.disconnect` means the client is gone: nobody to answer, and the
#   body we have is incomplete, so no handler runs.
# - Then the same `Router.dispatch` as in our own server.

# %% [markdown]
# Last, a route that says which process answers it: `os.getpid()`, the process id.

# %%
show_diff(OLD, NEW, containing='@app.get("/pid")')

# %% [markdown]
# ## ASGI without any server
#
# An ASGI application is just an async function, so we can call it ourselves, exactly as
# uvicorn would, and watch the messages. We load the step's `server.py` as a module (this runs
# its top level, which creates `app`; it does not start a server: that only happens when the
# file is run as a script):

# %%
import importlib.util

spec = importlib.util.spec_from_file_location("step11_server", "../steps/11_asgi/server.py")
step11 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step11)
print("step11.app is an", type(step11.app).__name__, "object; its max_body:", step11.app.max_body)

# %% [markdown]
# A `receive` that hands out messages from a list, and a `send` that prints and keeps what the
# app sends. Both print, so we see the conversation in order:

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

    await step11.app(scope, receive, send)
    return sent

# %% [markdown]
# And a `scope` as uvicorn would build it, here for `GET /hello/a%2Fb`. Note the two paths:

# %%
from urllib.parse import unquote_to_bytes


def http_scope(method, raw_path, query_string=b"", headers=()):
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
        "method": method, "path": unquote_to_bytes(raw_path).decode("utf-8"), "raw_path": raw_path,
        "query_string": query_string, "root_path": "", "headers": [(b"host", b"example.com"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }


scope = http_scope("GET", b"/hello/a%2Fb")
print("path:", scope["path"], "   raw_path:", scope["raw_path"])

# %% [markdown]
# Now we call the App with it, as uvicorn would:

# %%
sent = await call_app(scope, [{"type": "http.request", "body": b"", "more_body": False}])
assert sent[0]["status"] == 200 and sent[1]["body"] == b'{"hello": "a/b"}'

# %% [markdown]
# One `receive()` (a GET has an empty body), then two `send()`s: the status with the header
# fields, and the body. No status line, no `\r\n`: writing those is the server's job.
#
# A `POST` whose body comes in two messages, as it would over a slow network:

# %%
scope = http_scope("POST", b"/hello_world", headers=[(b"content-type", b"application/json")])
sent = await call_app(scope, [{"type": "http.request", "body": b'{"key1": ', "more_body": True},
                              {"type": "http.request", "body": b'"value1"}', "more_body": False}])
assert sent[1]["body"] == b'{"key1": "value1", "hello": "back"}'

# %% [markdown]
# The handler's own log line (`Handle: POST ...`) came when the whole body was there. Now the
# body limit, lowered to 10 bytes on this `app` object for the demonstration:

# %%
step11.app.max_body = 10
sent = await call_app(scope, [{"type": "http.request", "body": b'{"key1": ', "more_body": True},
                              {"type": "http.request", "body": b'"value1"}', "more_body": False}])
del step11.app.max_body  # back to the class's 1 MiB
assert sent[0]["status"] == 413

# %% [markdown]
# The second piece took the total past 10 bytes: a `413` at once, and no handler ran. A client
# that hangs up in the middle of its body:

# %%
sent = await call_app(scope, [{"type": "http.request", "body": b'{"key1": ', "more_body": True},
                              {"type": "http.disconnect"}])
print("sent:", sent)
assert sent == []

# %% [markdown]
# Nothing sent, no handler run. And the lifespan conversation, which uvicorn has with each
# worker process when it starts and when it stops:

# %%
sent = await call_app({"type": "lifespan", "asgi": {"version": "3.0"}},
                      [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

# %% [markdown]
# ## Run it both ways
#
# Our own server, as in step 10, and uvicorn with two worker processes, each serving the same
# file's `app`. `ServerProcess.uvicorn` runs `python -m uvicorn server:app --workers 2` in the
# step's folder (with `--port 0`, a free port) and waits until uvicorn says it listens and
# each worker says `Application startup complete.`:

# %%
from harness import ServerProcess

STEP = "../steps/11_asgi"
own = ServerProcess(f"{STEP}/server.py").start()
uvi = ServerProcess.uvicorn(f"{STEP}/server.py", workers=2).start()
print(own.log())
print(uvi.log())

# %% [markdown]
# uvicorn's log tells the story: a **parent process** (the supervisor: it starts the workers,
# restarts one that dies, and stops them on Ctrl-C), then two **server processes**, the
# workers. Each one had the lifespan conversation we just saw (`Waiting for application
# startup.` → `Application startup complete.`).
#
# How can two processes listen on one port? Two copies of `python server.py` cannot: the
# second fails with `address already in use`. uvicorn's supervisor opens the listening socket
# itself, once, before it starts the workers, and hands it to each of them. Each worker then
# imports `server.py` on its own: its own event loop, its own copy of our App. So anything a
# handler keeps in memory, a counter or a dict of users, exists once per worker, and two
# requests in a row may see two different copies (try it, below): data that all the workers
# must share belongs in a database, outside the processes.
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
# The same requests to both servers, each on its own connection (with `Connection: close`, so
# both close after the answer):

# %%
from harness import exchange, request
from IPython.display import Markdown, display

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
# Column for column the same: path parameters decoded after matching, the query, `404`,
# `405` with `Allow`, a `500` that says nothing about the error, `HTTPError`'s `418`, the
# `400` for a body that is not JSON. Our routes, handlers and errors did not change; only
# the server around them did.
#
# ## The bytes differ a little
#
# One request to each, byte for byte:

# %%
from harness.show import show_exchange

for name, srv in (("our own server", own), ("uvicorn", uvi)):
    print(f"=== {name}")
    ex = exchange(srv.host, srv.port, request("GET", "/hello/J%C3%BCrgen", headers=CLOSE))
    show_exchange(ex)
assert ex.response.header("server") == "uvicorn"

# %% [markdown]
# uvicorn writes the head: the status line, then a `date` and a `server: uvicorn` header it
# adds, then our fields in lower case (HTTP header names are case-insensitive, so clients do
# not mind; HTTP/2 even requires lower case). The body is the same bytes. Without
# `Connection: close`, uvicorn keeps the connection open for the next request, as our server
# does since step 09: keep-alive is now uvicorn's business.
#
# ## A handler that fails
#
# `/broken` got a `500` from both, with nothing in the body about the error. Where did the
# traceback go? Into uvicorn's log, printed by `run_handler`, the same function our own server
# uses:

# %%
mark = uvi.mark()
ex = exchange(uvi.host, uvi.port, request("GET", "/broken", headers=CLOSE))
print(ex.response.status_line, ex.json())
uvi.wait_for('"GET /broken HTTP/1.1" 500', since=mark)
print(uvi.log(since=mark))
assert "Exception in ASGI application" not in uvi.log(since=mark)

# %% [markdown]
# The traceback, then uvicorn's access log line for the `500`. What is *not* there matters
# too: `Exception in ASGI application`, the line uvicorn logs when an error escapes the app.
# uvicorn would then answer a plain-text `500` of its own. Our App catches the error itself
# and answers with its usual JSON, so a client cannot tell which server it talks to.
#
# ## The body limit is ours now
#
# A body one byte over 1 MiB. uvicorn reads it and hands it over; the App counts and refuses:

# %%
too_big = request("POST", "/hello_world", b"x" * (1024 * 1024 + 1), {"Content-Type": "application/json"})
ex = exchange(uvi.host, uvi.port, too_big, until_closed=False, timeout=10)
print(ex.response.status_line, ex.json(), "server:", ex.response.header("server"))
assert ex.response.status == 413

# %% [markdown]
# ## Two processes answer
#
# `GET /pid` answers the id of the process that ran the handler. Our own server is one
# process, the one `ServerProcess` started:

# %%
ex = exchange(own.host, own.port, request("GET", "/pid", headers=CLOSE))
print("our own server:", ex.json(), "  the process we started:", own.pid)
assert ex.json() == {"pid": own.pid}

# %% [markdown]
# Under uvicorn, the two workers share one listening socket, and whichever is free takes the
# next connection. Connections four at a time, until both have answered (never more than
# 300 requests):

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
# Two worker processes, each with its own pid, neither of them the supervisor's. The split
# is up to the operating system, so do not expect a balance. Four at a time matters: twenty
# connections opened all at once are usually all taken by one worker, because asyncio accepts
# every connection waiting in the socket's queue in one go when it wakes up.
#
# The step's client does the same, twenty connections in batches of four, after one
# `GET /hello/J%C3%BCrgen`. Against our own server, then against uvicorn:

# %%
from harness.show import run_client

for srv in (own, uvi):
    done = run_client(f"{STEP}/client.py", "--port", str(srv.port))
    assert done.returncode == 0
    print()

# %% [markdown]
# ## Pitfall: routing on `scope["path"]`
#
# `scope["path"]` looks like the obvious choice, and it works for most requests. A copy of the
# step's file that uses it:

# %%
from harness.variant import variant

decoded = variant(f"{STEP}/server.py", (
    '        url = (scope.get("raw_path") or quote(scope["path"]).encode()).decode("latin-1")\n',
    '        url = scope["path"]  # already percent-decoded\n'),
    name="server_decoded_path.py")
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
print("\n".join(line for line in log.splitlines() if not line.startswith(" ")))
assert "Exception in ASGI application" in log

# %% [markdown]
# - `/hello/ada` works, which is why the mistake survives a quick test.
# - `/hello/a%2Fb` gets `404`: the decoded path is `/hello/a/b`, two segments, and
#   `{name}` matches one. Even uvicorn's access log shows the decoded path.
# - `/hello/J%C3%BCrgen` gets uvicorn's own plain-text `500`: the decoded path contains `ü`,
#   which is not allowed in a URL, so building the `Request` fails (`parse_url` refuses it)
#   before any handler runs, and the error escapes the app.
#
# The step's `__call__` uses `raw_path`, the bytes the client sent, and decodes each parameter
# only after matching, exactly as our own server does. The step's tests send both paths to
# both servers.

# %% [markdown]
# ## Stop the servers
#
# Ctrl-C (SIGINT) for each, as in a terminal. uvicorn's supervisor passes the word on to its
# workers (`Terminated child process`), each one has the end of the lifespan conversation
# (`Waiting for application shutdown.` → `Application shutdown complete.`), and the
# supervisor exits last:

# %%
print("decoded-path variant: exit status", decoded_uvi.stop())
mark = uvi.mark()
uvicorn_status = uvi.stop()
print(uvi.log(since=mark), f"\n(exit status {uvicorn_status})")
own_status = own.stop()
print(own.log().splitlines()[-1], f"(exit status {own_status})")
assert uvicorn_status == 0 and own_status == 0 and decoded_uvi.returncode == 0
assert uvi.log().count("Application shutdown complete.") == 2

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. Copy the step's server to `my_server.py` at the root, `cp steps/11_asgi/server.py my_server.py`
#    (uvicorn imports it as the module `my_server`, so the name must be a valid Python name),
#    and add a route, say
#    `GET /square/{n}` answering `{"square": n * n}` (a `400` through `HTTPError` when `n` is not
#    a number). Run it both ways, each in its own terminal:
#
#    ```
#    python my_server.py --port 8080
#    python -m uvicorn my_server:app --workers 2 --port 8081
#    ```
#
#    and ask both: `curl -i http://127.0.0.1:8080/square/12` and
#    `curl -i http://127.0.0.1:8081/square/12`. Same body, different heads. Ctrl-C stops each
#    (for uvicorn: the supervisor and both workers).
# 2. Run the step's tests against your copy; they start it both ways (uvicorn loads your
#    file's `app`):
#
#    ```
#    pytest steps/11_asgi --server my_server.py
#    ```
#
#    With a new route only, they all pass. Then put back the pitfall above (`url = scope["path"]`).
#    Every test against your own server still passes; under uvicorn,
#    `test_path_parameters_are_decoded_after_matching[uvicorn]` fails with `expected 200, got 404`
#    and a message that names `raw_path`, and two more fail where a non-ASCII name gets uvicorn's
#    plain-text `500` (the first of them is also reported as an error: uvicorn logged
#    `Exception in ASGI application`). Or delete the two `http.disconnect` lines of `__call__`:
#    one test notices, the one whose client hangs up in the middle of its body.
# 3. See each worker's own copy of the App: in `my_server.py`, put `hits = 0` just above
#    `app = App()` (at the bottom), and add a route `GET /count` whose handler does
#    `global hits`, `hits += 1` and answers `{"hits": hits, "pid": os.getpid()}`. Start both
#    servers again and ask each a few times:
#
#    ```
#    for i in 1 2 3 4 5 6 7 8; do curl -s http://127.0.0.1:8081/count; echo; done
#    ```
#
#    Under uvicorn you get two counters, one per pid, each counting only what its worker
#    answered (`{"hits": 5, ...}`, then `{"hits": 1, ...}` from the other pid). On port 8080,
#    our own server: one counter.
#
# ## Where next
#
# This is the last step of the tutorial. From a UDP socket in step 01 we have come to a
# framework with routes, path parameters, JSON, limits, keep-alive, a graceful stop, and an
# ASGI face that lets a production server run it in several processes.
#
# The finished framework, [`protoweb`](../solution/README.md) in `solution/`, is the steps'
# ideas put in order, in small modules, with what a real service needs on top: `HEAD`
# requests, `Expect: 100-continue`, a lingering close (so a client still sending does not
# lose its answer), back-pressure on writes (a slow reader does not fill the server's
# memory), an access log, form bodies, a command line, and its own test suite. Its README
# maps each module back to the step that introduced it. It is already installed in `.venv`
# (the Quickstart's `-e ./solution`), and its example runs both ways too:
#
# ```
# python solution/examples/hello_world.py --port 8080                                  # its server
# python -m uvicorn hello_world:app --app-dir solution/examples --workers 2 --port 8081 # uvicorn
# ```
#
# The module to read first, after this step, is `solution/protoweb/asgi.py`: this step's
# `__call__`, about a hundred lines with its comments, plus a `413` as soon as the
# `Content-Length` header announces too much (before reading any of the body), the
# `root_path` (for an app that uvicorn serves under a prefix, `--root-path /api`), and its
# own refusal of WebSocket connections.
#
# And how fast is it? [`benchmarks/`](../benchmarks/README.md) measures protoweb's own server
# next to uvicorn (with a bare ASGI app, and with Starlette, the toolkit FastAPI is built on),
# aiohttp and several of the steps' servers, each in one process: it compares the work each
# does per request, not how many cores it can use. It also explains where the time goes, and
# shows how to profile a server yourself. It needs `wrk`, a load generator; its README says
# how to install it.
