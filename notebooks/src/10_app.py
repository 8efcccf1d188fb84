# %% [markdown]
# # Step 10: the App, and a graceful shutdown
#
# Until now a route was added by hand: `router.add_route("/hello/{name}", {"GET": hello})`,
# far from the function it names. This step gives the framework the face of the second
# article (*Simple Python Framework from Scratch*), and of Flask or FastAPI: an `App` whose
# **decorators** put the route right above its handler,
#
# ```python
# @app.get("/hello/{name}")
# async def hello(request, name):
#     return {"hello": name}
# ```
#
# and a `Request` that handlers can question: `request.headers` (any case),
# `request.query`, `request.json()` (a `400` for the client when the body is not JSON). A
# handler that wants to refuse raises `HTTPError(status, message)`. And the server learns to
# stop **gracefully**: on SIGTERM or Ctrl-C it lets the requests it is working on finish
# before it exits.
#
# Where we are (the highlighted boxes are what this step adds):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol<br/>one per connection] --> H[HTTP parser] --> R[router] --> F[handler] --> W[response]
#     A["App: @app.get, @app.post, app.route"] -. registers handlers in .-> R
#     G["SIGTERM / SIGINT"] -. graceful shutdown .-> P
#     style A fill:#ffd54f,stroke:#e65100,stroke-width:3px
#     style G fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## What changed since step 09
#
# The biggest diff of the tutorial, computed from the two files in `steps/`. Skim it; we take
# it apart below, grouped by idea: the `App`, the request's new methods, `HTTPError`, and the
# shutdown.

# %%
from harness.show import show_diff

OLD, NEW = "../steps/09_keep_alive/server.py", "../steps/10_app/server.py"
show_diff(OLD, NEW)

# %% [markdown]
# The docstring says what the step does, and `signal` is imported for the shutdown:

# %%
show_diff(OLD, NEW, containing="Step 10: the App, the framework's face; and a graceful shutdown.")

# %% [markdown]
# ## The App and its decorators
#
# The largest hunk. Read `route`, `get`, `post` and the new `hello_world_app` now; `run` and
# `serve` are the shutdown, further down.
#
# A **decorator** is a function that receives the function defined below it, and whatever it
# returns takes that function's name. Writing `@app.get("/hello/{name}")` above
# `async def hello` does the same as `hello = app.get("/hello/{name}")(hello)` after it.
#
# Note the two pairs of parentheses: there are **two calls**. First `app.get(path)` runs. It
# is short for `app.route(path, methods=["GET"])`, which does not register anything yet: it
# defines and returns a small function, `register`. Then Python calls `register(hello)`.
# `register` was defined inside `route`, so it still sees `path` and `methods` after `route`
# has returned (a *closure*). It adds the handler to the router, then hands it back
# unchanged, so `hello` is still the function we wrote:
#
# ```mermaid
# sequenceDiagram
#     participant M as the module, as Python imports it
#     participant A as app
#     participant R as app.router
#     M->>A: app.get("/hello/{name}")
#     A->>A: route("/hello/{name}", methods=["GET"])
#     A-->>M: register (it remembers the path and the methods)
#     M->>M: define async def hello(...)
#     M->>A: register(hello)
#     A->>R: add_route("/hello/{name}", {"GET": hello})
#     A-->>M: hello, unchanged
# ```
#
# `app.route(path, methods=[...])` is the general form; `get` and `post` are short for one
# method each. `hello_world_app` declares every route of step 09 this way, plus two new ones,
# `/headers` and `/teapot`. Three small changes ride along: the handlers no longer log
# `request.body` (it is raw bytes now, decoded only when a handler asks); `process_request`
# decodes it itself with `request.json()` (so a `POST` with no body at all now gets
# "The request body is not valid JSON" rather than "Send a JSON object", still a `400`); and
# `/sleep/{ms}` refuses a bad `ms` with `raise HTTPError(400, ...)` instead of returning a
# `Response`.

# %%
show_diff(OLD, NEW, containing="class App:")

# %% [markdown]
# The end of the file: `main` is gone. Its job moved into `App.run` and `App.serve`, and the
# module now makes the `app` and fills it at import time, the way a Flask or FastAPI module
# does. (Step 11 hands such an `app` to another server.) The `except KeyboardInterrupt`
# around `asyncio.run` goes too: from now on the server handles Ctrl-C itself, as part of the
# graceful shutdown (further down).

# %%
show_diff(OLD, NEW, containing="async def main(host, port, timeout, max_body):")

# %% [markdown]
# Step 09's `add_route` received all the methods of a path at once. With decorators,
# `@app.get("/hello_world")` and `@app.post("/hello_world")` arrive one after the other, so
# `add_route` now merges them into one route (`setdefault` returns the route already there,
# or adds a new one). Registering the same method and path twice is almost certainly a
# copy-paste mistake, so it raises `ValueError` at import time, before any request comes,
# instead of letting one handler silently hide the other.

# %%
show_diff(OLD, NEW, containing="has a handler already")

# %% [markdown]
# ### From the learner's side
#
# Importing the step's `server.py` runs the decorators but not the server (that only happens
# under `if __name__ == "__main__"`), so we can look at what they registered:

# %%
import importlib.util

STEP = "../steps/10_app"
# The step folder is not a package, so we import the file by its path, as the module `step`.
spec = importlib.util.spec_from_file_location("step10_server", f"{STEP}/server.py")
step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step)

# router.routes: path -> (its compiled pattern, {method: handler})
for path, (pattern, handlers) in step.app.router.routes.items():
    print(f"{path:15} {pattern.pattern:32} {', '.join(f'{m}: {h.__name__}' for m, h in handlers.items())}")
assert set(step.app.router.routes["/hello_world"][1]) == {"GET", "POST"}

# %% [markdown]
# A fresh `App` of our own, and a decorator taken apart: the two calls that `@` makes,
# one at a time.

# %%
mine = step.App()


async def ping(request):
    return {"pong": True}


register = mine.get("/ping")  # first call: nothing registered yet, we get `register`
print("mine.get('/ping') returned", register.__qualname__, "(made inside App.route)")
print("routes so far:", list(mine.router.routes))
returned = register(ping)  # second call: the handler goes into the router
print("register(ping) registered", {m: h.__name__ for m, h in mine.router.routes["/ping"][1].items()},
      "and returned ping itself:", returned is ping)
assert returned is ping and mine.router.routes["/ping"][1] == {"GET": ping}

# %% [markdown]
# The same with `@`, for a route with two methods. The decorator hands the function back
# untouched, so `item` is still an ordinary coroutine function that we can call ourselves,
# with a `Request` built by hand and the path parameter as a keyword argument, exactly as the
# server would:

# %%
@mine.route("/items/{item_id}", methods=["GET", "PUT"])
async def item(request, item_id):
    return {"item": item_id, "method": request.method}


handlers = mine.router.routes["/items/{item_id}"][1]
print({method: handler.__name__ for method, handler in handlers.items()})
print(await item(step.Request("PUT", "/items/7"), item_id="7"))
assert handlers == {"GET": item, "PUT": item}

# %% [markdown]
# And the mistake `add_route` refuses, a second `GET` for the same path:

# %%
try:
    @mine.get("/items/{item_id}")
    async def item_again(request, item_id):
        return {}
    refused = None
except ValueError as error:
    refused = error
print("ValueError:", refused)
assert refused is not None

# %% [markdown]
# ## `request.headers`
#
# Step 09 let httptools hand each header to `on_header` and only looked at `Content-Length`.
# Now every `(name, value)` pair is kept, as the bytes the parser gives:

# %%
show_diff(OLD, NEW, containing="self._headers.append((name, value))")

# %% [markdown]
# `on_message_complete` passes them to the `Request`, with the body as raw bytes. The body
# is no longer decoded here: a handler that wants JSON asks for it with `request.json()`
# (below). So a body that is not JSON is no longer refused before routing, and a `400` for bad
# JSON no longer closes the connection: the parser read that request cleanly, and the next
# request on the connection can be read too.

# %%
show_diff(OLD, NEW, containing="headers=self._headers,")

# %% [markdown]
# The pairs become a `Headers` object. HTTP header names are case-insensitive (`Host`, `host`
# and `HOST` are the same field), so `Headers` stores them in lower case and lowers the name
# you look up. The bytes are decoded as Latin-1, which maps every byte to one character and so
# never fails. A field sent twice has its values joined with `", "`, as RFC 9110 allows for
# list-valued fields; a plain `dict` would keep only the last one.
#
# At the end of the hunk, the `Request` keeps them as `request.headers`, and its body stays
# bytes. At its start, `HTTPError`'s docstring says that handlers raise it now, and its
# `__init__` gets two guards, explained with `HTTPError` below.

# %%
show_diff(OLD, NEW, containing="class Headers(dict):")

# %% [markdown]
# In miniature, with a request built by hand:

# %%
by_hand = step.Request("GET", "/headers", headers=[(b"Host", b"localhost:8080"),
                                                   (b"Accept", b"text/html"), (b"ACCEPT", b"application/json")])
print(by_hand.headers)
print(by_hand.headers["HOST"], "|", by_hand.headers.get("X-Missing", "(no such field)"), "|", "accept" in by_hand.headers)
assert by_hand.headers["Host"] == "localhost:8080"
assert by_hand.headers["accept"] == "text/html, application/json"

# %% [markdown]
# ## `request.json()`, `HTTPError`, and reason phrases
#
# `request.json()` decodes the body when the handler asks. If it is not JSON, it raises
# `HTTPError(400, ...)`. The same hunk moves the reason-phrase lookup into
# `Response.__init__`: `HTTPStatus(499)` raises `ValueError` because HTTP defines no 499, and
# it now does so inside the handler that made the `Response`, where it becomes a `500` (since
# step 04, the errors of a handler are caught). Looked up later, while the answer is
# written, it would fail outside that safety net, and the client would get no answer at all
# (a pitfall below shows that live).

# %%
show_diff(OLD, NEW, containing="def json(self):")

# %% [markdown]
# So `__bytes__` only uses the phrase found earlier:

# %%
show_diff(OLD, NEW, containing='f"HTTP/{self.version} {self.status_code} {self.reason}",')

# %% [markdown]
# And `request_callback_handler` learns the one new rule: an `HTTPError` from a handler is not
# a bug, it is the handler's answer. It becomes a response with that status and
# `{"message": ...}`, and no traceback is logged. Any other exception is still a bug: a
# traceback in the log and a `500` for the client.

# %%
show_diff(OLD, NEW, containing="except HTTPError as error:  # the handler refuses the request, and says why")

# %% [markdown]
# In miniature: `Response(418)` works, `Response(499)` fails at once.

# %%
print(step.Response(418, {"message": "teapot"}).reason)
try:
    step.Response(499, {"message": "?"})
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# The two guards in `HTTPError.__init__` (in the `Headers` hunk above) exist for the same
# reason. The new `except HTTPError` clause builds `Response(error.status_code,
# {"message": error.message})`, and whatever fails *there*, inside an `except` clause, is
# caught by nothing in `request_callback_handler`. So `HTTPError` checks its status when the
# handler raises it, in the handler, where a mistake becomes a plain `500`; and it turns its
# message into a `str`, which JSON can always encode (a handler may well pass a number or an
# exception):

# %%
try:
    step.HTTPError(499, "?")
except ValueError as error:
    print("HTTPError(499, ...) -> ValueError:", error)
print(repr(step.HTTPError(404, 42).message), repr(step.HTTPError(400, ValueError("not a number")).message))
assert step.HTTPError(404, 42).message == "42"

# %% [markdown]
# ## The graceful shutdown
#
# Until now, stopping the server meant stopping the process: whatever a connection was doing
# was lost (we will see it happen to step 09 below). To stop *gracefully*, the server must
# find every open connection, tell each one to finish, and wait until they have. So each
# connection's `Server` gets three new attributes:
#
# - `connections`: one set shared by all connections (`App.serve` makes it), holding the
#   `Server` of every open connection;
# - `stopping`: set when the server shuts down;
# - `closed`: an asyncio **future**, done once this connection has closed.

# %%
show_diff(OLD, NEW, containing="self.connections = connections  # every open connection's Server, for the shutdown")

# %% [markdown]
# A **future** is a box for a result that is not there yet. Code can `await` it and is woken
# when someone calls `set_result(...)` on it; the result here is just `None`, what counts is
# *that* the connection closed. `asyncio.wait([...], timeout=...)` waits for many futures at
# once, but not longer than the timeout, and says which are done and which are still pending.
# That is how the server will wait for its connections; in miniature, with two futures, one
# set after 0.1 s and one never:

# %%
import asyncio

loop = asyncio.get_running_loop()
quick, stuck = loop.create_future(), loop.create_future()
loop.call_later(0.1, quick.set_result, None)  # this "connection" closes after 0.1 s
done, pending = await asyncio.wait([quick, stuck], timeout=0.3)  # that one never does
print(f"after 0.3 s: {len(done)} done (quick: {quick.done()}), {len(pending)} pending (stuck: {stuck.done()})")
assert done == {quick} and pending == {stuck}

# %% [markdown]
# A connection joins the set when it opens...

# %%
show_diff(OLD, NEW, containing="self.connections.add(self)")

# %% [markdown]
# ...and leaves it when it closes, completing its `closed` future. The new `shutdown` method
# is what the server calls on each connection when it stops. A connection that owes no
# answer (`_worker`, step 09's task that answers the requests, is `None`) is closed at once,
# even if half a request has arrived, since a client that has not finished sending would
# otherwise hold up the stop. A busy one is marked `stopping` and closes after its current
# answer.

# %%
show_diff(OLD, NEW, containing="def shutdown(self):")

# %% [markdown]
# That answer says so: while stopping, `response_writer` treats every request as the last one
# on its connection, so it sends `Connection: close` and then closes. (A request the client
# had pipelined behind it is dropped unanswered; `Connection: close` tells the client that
# nothing more will come on this connection.)

# %%
show_diff(OLD, NEW, containing="and not self.stopping")

# %% [markdown]
# The conductor is `App.serve`, the second half of the big hunk above:

# %%
from harness.show import show_code

show_code(f"{STEP}/server.py", "async def serve(self")

# %% [markdown]
# The whole sequence first, for a server with one idle connection and one busy one:
#
# ```mermaid
# sequenceDiagram
#     participant K as kill / Ctrl-C
#     participant A as App.serve
#     participant I as idle connection
#     participant B as busy connection
#     K->>A: SIGTERM or SIGINT: stop.set()
#     A->>A: server.close(): refuse new connections
#     A->>I: shutdown(): it owes no answer, so it closes now
#     I-->>A: closed (its future is done)
#     A->>B: shutdown(): stopping = True
#     Note over A: asyncio.wait for every closed future, at most --timeout seconds
#     B->>B: the handler finishes: 200 with Connection: close, then close
#     B-->>A: closed (its future is done)
#     A->>A: abort() what is left (nothing here), print "Server stopped", return
# ```
#
# Then line by line:
#
# 1. `stop` is an `asyncio.Event`, as in step 02. `loop.add_signal_handler` asks the event
#    loop to call `stop.set` when SIGINT (Ctrl-C) or SIGTERM (what `kill`, systemd and
#    Docker send) arrives. The handler runs inside the loop, between two callbacks, so it can
#    safely touch asyncio objects. It also replaces Python's own SIGINT handler, the one that
#    raised `KeyboardInterrupt`: Ctrl-C no longer interrupts whatever code was running.
#    Windows has no `add_signal_handler` (`NotImplementedError`); there a plain
#    `signal.signal` handler passes the news to the loop with `call_soon_threadsafe`.
# 2. `await stop.wait()`: the server serves until a signal comes.
# 3. `server.close()` closes the listening socket: new connections are refused from now on.
#    The connections already open are not touched by it; the next lines deal with them.
# 4. `shutdown()` on every connection: idle ones close now, busy ones after their answer.
# 5. Wait until every connection's `closed` future is done, but at most `timeout` seconds
#    (`--timeout`, 5 by default), so a handler that never ends cannot keep the server alive
#    for ever. (A second Ctrl-C does not hurry it: `stop` is set already.)
# 6. `abort()` whatever is still open: unlike `close()`, it does not wait to send what is
#    still buffered, it cuts the connection now. Then print `Server stopped` and return:
#    `asyncio.run` cancels the tasks still running (a handler cut off mid-sleep), and the
#    process exits with status 0.

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess

server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends three requests on one kept-alive connection: `GET /headers` with
# two extra headers, a JSON `POST`, and `GET /teapot`:

# %%
from harness.show import run_client

done = run_client(f"{STEP}/client.py", "--port", str(server.port))
assert done.returncode == 0 and '"host": "localhost:8080"' in done.stdout

# %% [markdown]
# ## Headers on the wire
#
# `GET /headers` answers with the request's headers as JSON. A header sent twice, in two
# spellings, comes back once with both values; every name is in lower case; the values are
# exactly as sent, colons included:

# %%
import json

from harness import Connection
from harness.show import show_bytes

sent = (b"GET /headers HTTP/1.1\r\nHost: localhost:8080\r\nX-Clock: 12:34:56\r\n"
        b"Accept: text/html\r\nACCEPT: application/json\r\n\r\n")
with Connection(server.host, server.port) as conn:
    answer = conn.ask(sent)
show_bytes(sent, "→ sent:")
show_bytes(conn.exchange.received, "← received:")
seen = json.loads(answer.body)
assert seen == {"host": "localhost:8080", "x-clock": "12:34:56", "accept": "text/html, application/json"}

# %% [markdown]
# ## The second article's header bug
#
# The second article reads requests with a parser of its own: it splits the bytes into
# lines, and each header line at **every** colon, keeping the first two pieces as name and
# value. That is fine for `Content-Type: application/json`; not for a value that contains a
# colon. Which values do? The very first header almost every client sends: `Host`, which
# carries the port whenever it is not 80.
#
# To see the bytes a real client sends, a tiny listening socket that records one request and
# answers `204 No Content`; `requests` talks to it as it would to any server:

# %%
import socket
import threading

import requests

captured = []
listener = socket.create_server(("127.0.0.1", 0))
listener.settimeout(5)


def record_one_request():
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(3)
        data = b""
        while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
            data += chunk
        captured.append(data)
        conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")


recorder = threading.Thread(target=record_one_request)
recorder.start()
port = listener.getsockname()[1]
requests.get(f"http://localhost:{port}/headers", headers={"X-Clock": "12:34:56"}, timeout=3)
recorder.join(5)
listener.close()
show_bytes(captured[0], "what requests sent:")

# %% [markdown]
# A header parser in the article's style (our own few lines): split each line at its colons,
# the name is the first piece and the value the second:

# %%
def parse_headers_by_hand(head):
    fields = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:  # [0] is the request line
        if line:
            pieces = line.split(":")  # at every colon
            fields[pieces[0].strip().lower()] = pieces[1].strip()
    return fields


by_colons = parse_headers_by_hand(captured[0])
print({name: by_colons[name] for name in ("host", "x-clock", "accept")})
assert by_colons["host"] == "localhost" and by_colons["x-clock"] == "12"

# %% [markdown]
# The port is gone (`localhost`), and the clock says `12`, while a value without a colon
# (`accept`) comes through fine. Nothing failed: the damage is silent, and surfaces far
# away, when something builds a URL from `Host` and drops the port. Written the "obvious"
# way, unpacking into exactly two names, the same idea crashes instead:

# %%
try:
    for line in captured[0].decode("latin-1").split("\r\n")[1:]:
        if line:
            name, value = line.split(":")
    crashed = None
except ValueError as error:
    crashed = error
print("ValueError:", crashed)
assert crashed is not None

# %% [markdown]
# A header line is a name, **one** colon, and a value that may contain anything, colons
# included. The fix by hand is `line.split(":", 1)` (or `line.partition(":")`). The steps
# never had this bug to fix: httptools' C parser finds the end of the name and calls
# `on_header(name, value)` with the two already apart. Fed the same bytes:

# %%
from httptools import HttpRequestParser


class ShowHeaders:
    def on_header(self, name, value):
        print(f"on_header({name!r}, {value!r})")


HttpRequestParser(ShowHeaders()).feed_data(captured[0])

# %% [markdown]
# And the step's server, asked by `requests` in the same way, keeps the port:

# %%
seen = requests.get(f"http://localhost:{server.port}/headers", headers={"X-Clock": "12:34:56"}, timeout=3).json()
print({name: seen[name] for name in ("host", "x-clock", "accept")})
assert seen["host"] == f"localhost:{server.port}" and seen["x-clock"] == "12:34:56"

# %% [markdown]
# (The step's tests send `Host: localhost:8080` and headers with random names and values full
# of colons, and check that each comes back intact.)
#
# ## `HTTPError` on the wire
#
# `GET /teapot` raises `HTTPError(418, "teapot")` (418 is an old April Fools' code that Python
# knows as "I'm a Teapot"). The client gets that status, a JSON message, and the connection
# stays open for its next request, here a body that is not JSON, then a valid one:

# %%
from http import HTTPStatus

from harness import request

with Connection(server.host, server.port) as conn:
    teapot = conn.ask(request("GET", "/teapot"))
    bad_json = conn.ask(request("POST", "/hello_world", b"{oops", {"Content-Type": "application/json"}))
    good = conn.ask(request("POST", "/hello_world", b'{"a": 1}', {"Content-Type": "application/json"}))
    for answer in (teapot, bad_json, good):
        print(answer.status_line, answer.body.decode(), f"(Connection: {answer.header('Connection') or 'kept open'})")
assert teapot.status_line == f"HTTP/1.1 418 {HTTPStatus(418).phrase}" and json.loads(teapot.body) == {"message": "teapot"}
assert bad_json.status == 400 and good.status == 200 and not conn.exchange.closed

# %% [markdown]
# ## Pitfall: `json.dumps` where `json.loads` was meant
#
# The second article's code picks a body parser by `Content-Type`, and for JSON it picks
# `json.dumps`, the function that goes the other way (Python object → JSON text). An easy
# slip: the two names differ by one letter. A copy of the step with that slip in
# `Request.json`:

# %%
from harness.variant import variant

dumps = variant(f"{STEP}/server.py",
                ("            return json.loads(self.body)", "            return json.dumps(self.body)"),
                name="server_json_dumps.py")
show_diff(f"{STEP}/server.py", dumps)

# %% [markdown]
# A valid JSON `POST`, the article's own example:

# %%
dumps_server = ServerProcess(dumps).start()
answer = requests.post(f"{dumps_server.url}/hello_world", json={"key1": "value1"}, timeout=3)
print(answer.status_code, answer.json())
dumps_server.wait_for("TypeError")
print(dumps_server.log().splitlines()[-1])
assert answer.status_code == 500

# %% [markdown]
# `json.dumps` cannot encode bytes, so it raises `TypeError`. That is not one of the
# exceptions `Request.json` turns into a `400` (`ValueError`, `RecursionError`), so it
# reaches `request_callback_handler` as a bug: a traceback in the log and a `500` for a
# request that was perfectly fine. Had the body been a `str`, it would have been worse:
# `json.dumps` happily returns a *string*, and no error at all:

# %%
print(repr(json.dumps('{"key1": "value1"}')), "vs", json.loads('{"key1": "value1"}'))

# %% [markdown]
# ## Pitfall: a hand-written table of reason phrases
#
# The second article writes its status line from its own dictionary of reason phrases, with
# eleven codes in it. Any other code is a `KeyError`. A copy of the step with a small table of
# the codes this server used most, and the lookup in it:

# %%
table = variant(f"{STEP}/server.py",
                ("class Response:\n",
                 "class Response:\n"
                 '    reason_phrases = {200: "OK", 400: "Bad Request", 404: "Not Found",\n'
                 '                      405: "Method Not Allowed", 500: "Internal Server Error"}\n\n'),
                ('        self.reason = HTTPStatus(status_code).phrase  # 200 -> "OK", 404 -> "Not Found"',
                 "        self.reason = self.reason_phrases[status_code]  # a KeyError for any other code"),
                name="server_reason_table.py")
show_diff(f"{STEP}/server.py", table)

# %% [markdown]
# `GET /teapot`, waiting at most one second. Is it a `500`?

# %%
from harness import exchange
from harness.show import show_exchange

table_server = ServerProcess(table).start()
mark = table_server.mark()
ex = exchange(table_server.host, table_server.port, request("GET", "/teapot"), timeout=1)
show_exchange(ex)
assert ex.received == b"" and (ex.closed or ex.reset)

# %% [markdown]
# No: no answer at all, and the connection cut. The `KeyError` is raised by
# `Response(418, ...)` *inside* the `except HTTPError` clause of `request_callback_handler`.
# An exception raised in an `except` clause is not caught by the other clauses of the same
# `try` (the `except Exception` below it), so it escapes, through `dispatch`, into
# `answer_in_order`. Its `except Exception` is the last line of defence since step 09: it
# logs the traceback and aborts the connection. Without it the task answering this
# connection would die unseen, and since the request's timer was cancelled when the request
# arrived, the connection would stay open, silent, until the client gave up. The log:

# %%
table_server.wait_for("KeyError: 418", since=mark)
print("\n".join(table_server.log(since=mark).splitlines()[-3:]))

# %% [markdown]
# Every other route still works:

# %%
ex = exchange(table_server.host, table_server.port, request("GET", "/hello_world"), until_closed=False)
print(ex.response.status_line, ex.json())
assert ex.response.status == 200
print("exit status", table_server.stop())

# %% [markdown]
# `HTTPStatus` is the fix. It is the standard library's list of the status codes HTTP
# defines (and a few more in common use, 418 among them), each with its phrase, so there is
# no table of our own to keep up to date:

# %%
print(len(HTTPStatus), "codes, for example:",
      ", ".join(f"{code} {HTTPStatus(code).phrase}" for code in (405, 418, 429, 431)))

# %% [markdown]
# And a code that HTTP does not define fails in `Response(...)`, inside the handler (we saw
# `Response(499)` raise `ValueError` above), where the step's `request_callback_handler`
# catches it and answers `500`.
#
# ## A graceful shutdown, live
#
# First, what stopping did before this step. Step 09's server, a request `GET /sleep/500`
# (half a second) in flight, and SIGTERM a tenth of a second into it, as `kill` would send it
# (`os.kill` sends a signal to a process, by its id):

# %%
import os
import signal
import time

stop_with = signal.SIGTERM  # or signal.SIGINT, what Ctrl-C sends

old_server = ServerProcess("../steps/09_keep_alive/server.py").start()
old_busy = Connection(old_server.host, old_server.port, timeout=5)
old_busy.send(request("GET", "/sleep/500"))
time.sleep(0.1)  # the request has reached the server; its handler is asleep
os.kill(old_server.pid, stop_with)
old_busy.wait_closed(timeout=3)
old_server.process.wait(timeout=5)
old_server.stop()  # it has exited already: this only collects its output
print("bytes received for GET /sleep/500:", old_busy.exchange.received)
print("exit status:", old_server.returncode)
print("'Server stopped' in its log:", "Server stopped" in old_server.log())
old_busy.sock.close()
assert old_busy.exchange.received == b""
assert old_server.returncode == (-signal.SIGTERM if stop_with == signal.SIGTERM else 0)

# %% [markdown]
# Nothing at all. SIGTERM's default action is to end the process on the spot (a negative
# exit status is how Python reports a process killed by a signal: -15, SIGTERM). The handler
# died mid-sleep, the connection closed with the process, and the client cannot even tell
# whether its request was carried out. SIGTERM is what `kill`, systemd and Docker send to
# stop a service, so every restart of a step 09 server would cut the requests in flight.
# Ctrl-C (SIGINT) was not much better: the `KeyboardInterrupt` let step 09 print
# `Server stopped` and exit with 0, but the request in flight was lost the same way (set
# `stop_with = signal.SIGINT` above and run the cell again).
#
# Now step 10, with two connections: one kept alive and idle, and one with the same
# `GET /sleep/500` in flight:

# %%
idle = Connection(server.host, server.port, timeout=5)
idle.ask(request("GET", "/hello_world"))  # answered; the connection stays open, idle
busy = Connection(server.host, server.port, timeout=5)
busy.send(request("GET", "/sleep/500"))
time.sleep(0.1)  # the request has reached the server; its handler is asleep
started = time.monotonic()
os.kill(server.pid, signal.SIGTERM)

# What each client sees, and when:

idle_closed = idle.wait_closed(timeout=2)
idle_after = time.monotonic() - started
try:
    socket.create_connection(server.address, timeout=1).close()
    refused = False
except ConnectionRefusedError:
    refused = True
refused_after = time.monotonic() - started
last = busy.read_response(timeout=3)
answer_after = time.monotonic() - started
busy.wait_closed(timeout=2)
exit_status = server.process.wait(timeout=5)
exit_after = time.monotonic() - started

print(f"{0:5.2f} s  SIGTERM sent")
print(f"{idle_after:5.2f} s  the idle connection is closed by the server: {idle_closed}")
print(f"{refused_after:5.2f} s  a new connection is refused: {refused}")
print(f"{answer_after:5.2f} s  the answer to GET /sleep/500 arrives: {last.status_line} {last.body.decode()}")
print(f"{exit_after:5.2f} s  the process exits with status {exit_status}")
idle.sock.close()
busy.sock.close()
assert idle_closed and refused and exit_status == 0
assert idle_after < answer_after and last.status == 200 and json.loads(last.body) == {"slept_ms": 500}

# %% [markdown]
# The idle connection went at once, the door closed to newcomers, and the request in flight
# got its whole answer, about 0.4 s later. Its bytes, with `Connection: close`, because the
# server was stopping:

# %%
show_bytes(busy.exchange.received, "← received on the busy connection (then the server closed it):")
assert last.header("Connection") == "close" and busy.exchange.closed

# %% [markdown]
# The server's log ends as promised:

# %%
exit_status = server.stop()  # already exited: this only collects its output
print(server.log())
assert exit_status == 0 and server.log().splitlines()[-1] == "Server stopped"
assert "Traceback" not in server.log()

# %% [markdown]
# The wait has a limit (step 5 of `serve`): whoever sent SIGTERM will not wait for ever either
# (`docker stop`, for one, sends SIGKILL 10 seconds later). A server started with
# `--timeout 0.3` (the same option that gives a client that long to send its request) and a
# `GET /sleep/1000` in flight:

# %%
impatient = ServerProcess(f"{STEP}/server.py", "--timeout", "0.3").start()
slow = Connection(impatient.host, impatient.port, timeout=5)
slow.send(request("GET", "/sleep/1000"))
time.sleep(0.1)  # the handler is asleep, for 0.9 s more
started = time.monotonic()
os.kill(impatient.pid, signal.SIGTERM)
slow.wait_closed(timeout=3)
cut_after = time.monotonic() - started
impatient.process.wait(timeout=5)  # it ends by itself; stop() would send it a Ctrl-C
impatient.stop()  # it has exited already: this only collects its output
print(f"the connection is closed {cut_after:.1f} s after SIGTERM; bytes received: {slow.exchange.received}")
print("exit status:", impatient.returncode, "| the log's last line:", impatient.log().splitlines()[-1])
slow.sock.close()
assert slow.exchange.received == b"" and 0.2 < cut_after < 2
assert impatient.returncode == 0 and impatient.log().splitlines()[-1] == "Server stopped"

# %% [markdown]
# This request got no answer: after 0.3 s, `abort()` cut its connection and `asyncio.run`
# cancelled the sleeping handler. But the server did not hang, and it still stopped cleanly,
# with `Server stopped` and status 0.
#
# ## Stop the servers
#
# The step's servers (and step 09's) stopped themselves above. What is left is the
# `json.dumps` copy; the reason-table copy was stopped while we read its log.

# %%
print("json.dumps copy: exit status", dumps_server.stop())
assert dumps_server.returncode == 0 and table_server.returncode == 0
assert not any(process.running for process in (server, old_server, impatient))

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. Copy the step's server to `my_server.py` and add a route of your own with the App API,
#    for example `GET /whoami`, answering `{"user_agent": ...}` from
#    `request.headers.get("User-Agent")`, and raising `HTTPError(400, ...)` when there is no
#    such header. Start it with `python my_server.py`, then try
#    `curl -i --max-time 5 http://127.0.0.1:8080/whoami` and
#    `curl -i --max-time 5 -H "User-Agent:" http://127.0.0.1:8080/whoami` (an empty
#    `-H "Name:"` makes curl leave that header out). Stop it with Ctrl-C: `Server stopped`.
# 2. Run the step's tests against your copy:
#
#    ```
#    pytest steps/10_app --server my_server.py
#    ```
#
#    They test the step's routes, not yours, so they all pass as long as you only added.
# 3. Now break the shutdown on purpose: in `App.serve`, delete the lines that call
#    `shutdown()` on each connection and wait for them, so that every connection is
#    aborted at once. Run the tests again: the two graceful-shutdown tests fail, with "the
#    GET /sleep/500 in flight when SIGTERM came got no answer" (and the same for SIGINT), and
#    show the bytes that did come back: only the answer to the request before it.
#
# ## Where next
#
# Step 11 makes this same `App` an **ASGI** application: a standard interface between a
# framework and a server, so that an existing server such as uvicorn can run the App in
# several processes, while `python server.py` still uses our own server.
