# %% [markdown]
# # Step 10: the App, and a graceful shutdown
#
# Until now a route was added by hand, far from its handler:
# `router.add_route("/hello/{name}", {"GET": hello})`. This step gives the framework its
# public API, the part you write apps against, as in the second article and in Flask: an
# `App` whose **decorators** put the route right above its handler,
#
# ```python
# @app.get("/hello/{name}")
# async def hello(request, name):
#     return {"hello": name}
# ```
#
# And the server learns to stop **gracefully** on SIGTERM (what `kill` sends) as on SIGINT
# (what Ctrl-C sends): the requests in flight finish first.
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
#
# ## The change in brief
#
# Four ideas, each run live, and the second article's bugs put back:
#
# 1. **The App and its decorators**, which take over from `main`.
# 2. **`request.json()` and `HTTPError`**: the body is decoded when a handler asks; a
#    handler refuses a request by raising.
# 3. **`request.headers`**: every header kept, found in any case.
# 4. **A graceful shutdown** on SIGTERM or SIGINT (Ctrl-C).

# %%
from harness.show import diff_size, show_diff

OLD, NEW = "../steps/09_keep_alive/server.py", "../steps/10_app/server.py"
added, removed = diff_size(OLD, NEW)
print(f"step 09 -> step 10: {added} lines added, {removed} removed")
show_diff(OLD, NEW, collapsed="The whole change, from step 09")

# %% [markdown]
# The docstring states the new promise:

# %%
show_diff(OLD, NEW, containing="Step 10: the App, the framework's face; and a graceful shutdown.")

# %% [markdown]
# ## 1. The App and its decorators
#
# A **decorator** is a function that receives the function defined below it; whatever it
# returns takes that function's name. `@app.get("/hello/{name}")` above `async def hello`
# does the same as `hello = app.get("/hello/{name}")(hello)` after it.
#
# So there are **two calls**. `app.get(path)` is short for `app.route(path, methods=["GET"])`,
# which registers nothing yet: it returns a small function, `register`. Then Python calls
# `register(hello)`, which adds the handler to the router and hands it back unchanged.
# Defined inside `route`, `register` still knows `path` and `methods` (a *closure*).
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
# The three methods, in the `App` class (an `App` holds a `Router`, `app.router`):

# %%
from harness.show import show_code

for method in ("def route(self", "def get(self, path)", "def post(self, path)"):
    show_code(NEW, method)

# %% [markdown]
# `hello_world_app` declares step 09's routes with decorators, plus `GET /headers` and
# `GET /teapot`. (`request.json()` and `HTTPError` are part 2; `request.headers`, part 3.)

# %%
show_code(NEW, "def hello_world_app")

# %% [markdown]
# `main` is gone: the module makes the `app` and fills it when imported, as a Flask module
# does, and `app.run()` starts the server. What `main` did (listen, wait for Ctrl-C, stop
# listening) moves into `App.serve`, part 4.

# %%
show_diff(OLD, NEW, containing="async def main(host, port, timeout, max_body):")

# %% [markdown]
# Decorators bring a path's methods one at a time (`@app.get("/hello_world")`, then
# `@app.post("/hello_world")`), so `add_route` now merges them into one route (`setdefault`
# returns the route already there, or adds one). The same method and path twice is surely a
# copy-paste slip: a `ValueError` at import time.

# %%
show_diff(OLD, NEW, containing="has a handler already")

# %% [markdown]
# ### From the learner's side
#
# Importing the step's `server.py` runs the decorators, not the server (that is under
# `if __name__ == "__main__"`). What they registered:

# %%
import importlib.util

STEP = "../steps/10_app"
# The step folder is not a package, so we import the file by its path, as the module `step10_server`.
spec = importlib.util.spec_from_file_location("step10_server", f"{STEP}/server.py")
step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step)

# router.routes: path -> (its compiled pattern, {method: handler})
for path, (pattern, handlers) in step.app.router.routes.items():
    print(f"{path:15} {pattern.pattern:32} {', '.join(f'{m}: {h.__name__}' for m, h in handlers.items())}")
assert set(step.app.router.routes["/hello_world"][1]) == {"GET", "POST"}

# %% [markdown]
# A decorator taken apart, on a fresh `App`: the two calls that `@` makes, one at a time.

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
# And the slip that `add_route` refuses, a second `GET` for the same path:

# %%
try:
    @mine.get("/ping")
    async def ping_again(request):
        return {}
    refused = None
except ValueError as error:
    refused = error
print("ValueError:", refused)
assert refused is not None

# %% [markdown]
# ## 2. `request.json()` and `HTTPError`
#
# Step 09 decoded every body as JSON before routing. Now the `Request` keeps the raw bytes,
# and `request.json()` decodes them when a handler asks; a body that is not JSON raises
# `HTTPError(400, ...)`, and so does JSON holding half a character (`"\ud800"`), which no
# UTF-8 text can hold. (The hunk's `Response` lines are for the deep dive "failing in the
# handler".)

# %%
show_diff(OLD, NEW, containing="def json(self):")

# %% [markdown]
# So the JSON decoding moves out of `on_message_complete`, into `request.json()` (the
# `headers` line is part 3). A body that is not JSON no longer stops the parser: the
# handler answers `400`, and the connection stays open.

# %%
show_diff(OLD, NEW, containing="headers=self._headers,")

# %% [markdown]
# One log line changes: steps 03 to 09 printed `Handle: GET /hello_world None`, the `None`
# standing for the missing body; now `hello_world` prints `Handle: GET /hello_world`.

# %% [markdown]
# `HTTPError` has refused unreadable requests since step 08. Now handlers raise it too, as
# Flask's `abort()`. (Its two checks: the same deep dive.)

# %%
show_code(NEW, "class HTTPError")

# %% [markdown]
# `request_callback_handler` (the method that calls the handler and turns its return value
# into a `Response`, since step 04) answers an `HTTPError` with its status and
# `{"message": ...}`, and no traceback. Any other exception is still a bug: a traceback, and
# a `500`.

# %%
show_diff(OLD, NEW, containing="except HTTPError as error:  # the handler refuses the request, and says why")

# %% [markdown]
# ## 3. `request.headers`
#
# `on_header` used to look only at `Content-Length`. Now it keeps every `(name, value)`
# pair, as the parser's bytes:

# %%
show_diff(OLD, NEW, containing="self._headers.append((name, value))")

# %% [markdown]
# `on_message_complete` passes them to the `Request` (part 2's hunk), which makes them a
# `Headers`: a `dict` with names in lower case, since `Host` and `HOST` are one field; it
# lowers the name you look up too. It decodes the bytes as Latin-1, which maps every byte to
# a character, so it never fails, where UTF-8 could: header bytes are not promised to be
# UTF-8. A field sent
# twice has its values joined with `", "` (RFC 9110); a plain `dict` would keep the last.
# The hunk below opens with `HTTPError`, seen in part 2.

# %%
show_diff(OLD, NEW, containing="class Headers(dict):")

# %% [markdown]
# In miniature, with a `Request` made by hand:

# %%
by_hand = step.Request("GET", "/headers", headers=[(b"Host", b"localhost:8080"),
                                                   (b"Accept", b"text/html"), (b"ACCEPT", b"application/json")])
print(by_hand.headers)
print(by_hand.headers["HOST"], "|", by_hand.headers.get("X-Missing", "(no such field)"), "|", "accept" in by_hand.headers)
assert by_hand.headers["Host"] == "localhost:8080"
assert by_hand.headers["accept"] == "text/html, application/json"

# %% [markdown]
# ## Run it
#
# The step's client: `GET /headers`, a JSON `POST` and `GET /teapot`, on one kept-alive
# connection. It sends `Host: localhost:8080` whatever the port (the client writes `Host`
# itself; the server does not check it):

# %%
from harness import ServerProcess
from harness.show import run_client

server = ServerProcess(f"{STEP}/server.py").start()
done = run_client(f"{STEP}/client.py", "--port", str(server.port))
assert done.returncode == 0 and '"host": "localhost:8080"' in done.stdout

# %% [markdown]
# A header sent twice, in two spellings, comes back once with both values; names in lower
# case; values exactly as sent, colons included:

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
assert json.loads(answer.body) == {"host": "localhost:8080", "x-clock": "12:34:56",
                                   "accept": "text/html, application/json"}

# %% [markdown]
# `GET /teapot` raises `HTTPError(418, "teapot")` (an old April Fools' code, "I'm a
# Teapot"). The connection stays open after it, and after the `400` for a body that is not
# JSON:

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
# ## The second article's bugs, live
#
# `harness/bugs.py` puts each one back into a copy of the step (a third is in the deep dive
# "failing in the handler").
#
# ### A header value cut at its colon
#
# The article's parser splits each header line at **every** colon and keeps the first two
# pieces: fine for `Content-Type: application/json`, not for `Host: localhost:8080`, which
# nearly every client sends. The same cut, in a copy of the step:

# %%
from harness.bugs import bug

cut = bug("header-cut-at-colon").variant()
show_diff(f"{STEP}/server.py", cut)

# %% [markdown]
# `requests` asks both servers for `/headers`, with a clock in a header:

# %%
import requests

cut_server = ServerProcess(cut).start()
seen = {}
for name, srv in (("the step", server), ("the copy", cut_server)):
    seen[name] = requests.get(f"http://localhost:{srv.port}/headers", headers={"X-Clock": "12:34:56"}, timeout=3).json()
    print(f"{name:8}  host: {seen[name]['host']!r:18}  x-clock: {seen[name]['x-clock']!r}")
print("the copy: exit status", cut_server.stop())
assert seen["the step"]["host"] == f"localhost:{server.port}" and seen["the step"]["x-clock"] == "12:34:56"
assert seen["the copy"]["host"] == "localhost" and seen["the copy"]["x-clock"] == "12"

# %% [markdown]
# The port is gone and the clock says `12`, silently: the damage surfaces far away, when
# something builds a URL from `Host`. httptools hands `on_header` the name and the value
# already apart.
#
# ### `json.dumps` where `json.loads` was meant
#
# To decode a JSON body, the article calls `json.dumps`, which goes the other way (Python
# object → JSON text):

# %%
dumps = bug("json-dumps").variant()
show_diff(f"{STEP}/server.py", dumps)

# %% [markdown]
# A valid JSON `POST`, the article's own example:

# %%
dumps_server = ServerProcess(dumps).start()
answer = requests.post(f"{dumps_server.url}/hello_world", json={"key1": "value1"}, timeout=3)
print(answer.status_code, answer.json())
dumps_server.wait_for("TypeError")
print(dumps_server.log().splitlines()[-1])
print("the copy: exit status", dumps_server.stop())
assert answer.status_code == 500

# %% [markdown]
# `json.dumps` cannot encode the body's bytes: a `TypeError`, which `request.json()` does
# not turn into a `400`. So a traceback, and a `500` for a good request.
#
# ## 4. A graceful shutdown
#
# A **signal** is a short notice the OS delivers to a process. **SIGTERM** asks a service to
# stop (`kill`, systemd and Docker send it); **SIGINT** is what Ctrl-C sends. Step 09
# handles SIGINT only. Here it is with a `GET /sleep/500` in flight and SIGTERM 0.1 s into
# it (`os.kill` sends a signal):

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
old_busy.sock.close()
assert old_busy.exchange.received == b""
assert old_server.returncode == (-signal.SIGTERM if stop_with == signal.SIGTERM else 0)

# %% [markdown]
# Nothing. With no handler for SIGTERM, the process ends on the spot (status -15: killed by
# signal 15, as `subprocess` reports it), and the request in flight is lost: its client
# cannot tell if it was carried out. Ctrl-C loses it too (set `stop_with = signal.SIGINT`
# and rerun): step 09 exits cleanly, but it only stops listening, and the handler dies with
# the process.
#
# Step 10's `App.serve` stops in five moves:

# %%
show_code(NEW, "async def serve(self")

# %% [markdown]
# 1. As in step 09, `loop.add_signal_handler` makes the loop call `stop.set`, now on SIGTERM
#    too, and `serve` waits for that `asyncio.Event`. (The `except NotImplementedError`
#    branch is for Windows; see the deep dive.)
# 2. `server.close()` closes the listening socket: new connections are refused.
# 3. `shutdown()` on each open connection (the set `connections`: each joins it when it
#    opens, leaves it when it closes). An idle one closes now; a busy one answers, with
#    `Connection: close`, then closes.
# 4. Each connection has a `closed` future, a placeholder that becomes done when the
#    connection closes; `asyncio.wait` waits for all of them, at most `--timeout` seconds
#    (5 by default).
# 5. `abort()` cuts whatever is still open. Then `Server stopped`, status 0.
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
#     A->>B: shutdown(): finish, then close
#     Note over A: wait for every connection to close, at most --timeout seconds
#     B->>B: the handler finishes: 200 with Connection: close, then close
#     A->>A: abort() what is left (nothing here), print "Server stopped", return
# ```
#
# Live: one kept-alive connection, idle, and one with a `GET /sleep/500` in flight. SIGTERM,
# then we note when each thing happens:

# %%
import socket

idle = Connection(server.host, server.port, timeout=5)
idle.ask(request("GET", "/hello_world"))  # answered; the connection stays open, idle
busy = Connection(server.host, server.port, timeout=5)
busy.send(request("GET", "/sleep/500"))
time.sleep(0.1)  # the request has reached the server; its handler is asleep
started = time.monotonic()
os.kill(server.pid, signal.SIGTERM)

# Then watch, timing each event from SIGTERM.
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
idle.sock.close()
busy.sock.close()

# %% [markdown]
# What each client saw, and when (the answer comes 0.4 s after SIGTERM: the handler had
# already slept 0.1 s):

# %%
print(f"{0:5.2f} s  SIGTERM sent")
print(f"{idle_after:5.2f} s  the idle connection is closed by the server: {idle_closed}")
print(f"{refused_after:5.2f} s  a new connection is refused: {refused}")
print(f"{answer_after:5.2f} s  the answer to GET /sleep/500 arrives: {last.status_line} {last.body.decode()}")
print(f"{exit_after:5.2f} s  the process exits with status {exit_status}")
assert idle_closed and refused and exit_status == 0
assert idle_after < answer_after and last.status == 200 and json.loads(last.body) == {"slept_ms": 500}

# %% [markdown]
# The idle connection went at once, new connections were refused, and the request in flight
# got its whole answer, with `Connection: close`:

# %%
show_bytes(busy.exchange.received, "← received on the busy connection (then the server closed it):")
assert last.header("Connection") == "close" and busy.exchange.closed

# %% [markdown]
# The log ends as promised:

# %%
exit_status = server.stop()  # already exited: this only collects its output
print(server.log())
assert exit_status == 0 and server.log().splitlines()[-1] == "Server stopped"
assert "Handle: GET /hello_world" in server.log().splitlines() and "Traceback" not in server.log()
assert not any(srv.running for srv in (server, old_server, cut_server, dumps_server))

# %% [markdown]
# That is the step, and every server has stopped. The deep dives after *Try it* and *Where
# next* can be skipped.

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. **A challenge**: `GET /whoami`, a route of your own with the App API. It answers
#    `{"user_agent": ...}` with the request's `User-Agent` header
#    (`request.headers.get("User-Agent")`) or, when there is none, a `400` with a JSON
#    message (`raise HTTPError(400, ...)`).
#    - **Write** it in your own file: your `my_server.py` if you have built the steps with
#      `tutorial`; if not, `cp steps/10_app/server.py my_server.py`, then `tutorial start 10`
#      (it keeps the file).
#    - **Run** `python my_server.py`.
#    - **Try** it from a second terminal: `curl -i --max-time 5 http://127.0.0.1:8080/whoami`,
#      then `curl -i --max-time 5 -H "User-Agent:" http://127.0.0.1:8080/whoami` (an empty
#      `-H "Name:"` leaves that header out). Ctrl-C stops the server: `Server stopped`.
#    - **Check** it: the challenge's tests send a `User-Agent` (once with its name in lower
#      case) and expect it back whole, then send none and expect a `400` with a
#      `"message"`, and no traceback in the server's log.
#
#      ```
#      tutorial challenge 10          # what to build, again
#      tutorial check --challenge     # the challenge's tests against your my_server.py
#      ```
#
#      Stuck? `tutorial hint --challenge` gives the next of three hints each time.
# 2. Run the step's own tests, all of them, against your file (`tutorial check` runs them
#    task by task, stopping at the first failure). They test the step's routes, not yours:
#    all pass as long as you only added.
#
#    ```
#    pytest steps/10_app --server my_server.py
#    ```
# 3. Break the shutdown on purpose: in `App.serve`, delete these four lines, so that every
#    connection is aborted at once:
#
#    ```python
#    for connection in list(connections):
#        connection.shutdown()
#    if connections:
#        await asyncio.wait([connection.closed for connection in connections], timeout=timeout)
#    ```
#
#    Run the tests again: both graceful-shutdown tests fail, SIGTERM's first, SIGINT's the
#    same way. SIGTERM's message begins "the GET /sleep/500 in flight when SIGTERM came got
#    no answer", goes on "the answer to request 1 came (the test sends `GET /hello_world`
#    first, on the same connection), then the server closed the connection without a byte
#    of its answer", and gives the likely causes (here: the
#    connection was aborted before the answer was written). Each failure ends with how to
#    see it by hand: start your server; in a second terminal,
#    `curl -i --max-time 5 http://127.0.0.1:8080/sleep/500`; within half a second,
#    `kill -TERM` the server from a third. curl says `curl: (52) Empty reply from server`
#    instead of `{"slept_ms": 500}`.
#
# ## Where next
#
# Step 11 makes this same `App` an **ASGI** application: a standard interface between a
# framework and a server, so that an existing server such as uvicorn can run the App in
# several processes, while `python server.py` still uses our own server.

# %% [markdown]
# ## Deep dive: each connection's part in the shutdown
#
# Parts 1 and 4 showed the `App` in pieces. Its hunk whole, folded (the class, `serve`
# included, and `hello_world_app`):

# %%
show_diff(OLD, NEW, containing="class App:", collapsed="The App's hunk")

# %% [markdown]
# `serve` can only stop the connections it can find, and wait only for what it can watch.
# So each connection's `Server` gets three attributes:
#
# - `connections`: the one set that `App.serve` makes and every connection shares;
# - `stopping`: set when the server shuts down;
# - `closed`: an asyncio **future**, done once this connection has closed.

# %%
show_diff(OLD, NEW, containing="self.connections = connections  # every open connection's Server, for the shutdown")

# %% [markdown]
# A **future** is a box for a result that is not there yet. Code can `await` it, and is
# woken when someone calls `set_result(...)` on it. Here the result is just `None`: what
# counts is *that* the connection closed. `asyncio.wait([...], timeout=...)` waits for many
# futures at once, but not longer than the timeout, and says which are done and which are
# still pending. In miniature, with one future set after 0.05 s and one never:

# %%
import asyncio

loop = asyncio.get_running_loop()
quick, stuck = loop.create_future(), loop.create_future()
loop.call_later(0.05, quick.set_result, None)  # this "connection" closes after 0.05 s
done, pending = await asyncio.wait([quick, stuck], timeout=0.2)  # that one never does
print(f"after 0.2 s: {len(done)} done (quick: {quick.done()}), {len(pending)} pending (stuck: {stuck.done()})")
assert done == {quick} and pending == {stuck}

# %% [markdown]
# A connection joins the set when it opens...

# %%
show_diff(OLD, NEW, containing="self.connections.add(self)")

# %% [markdown]
# ...and leaves it when it closes, completing its `closed` future. `shutdown` marks the
# connection `stopping`, and closes it at once if it owes no answer (`_worker`, step 09's
# task that answers the queue, is `None`), even with half a request received: a client that
# has not finished sending must not hold up the stop.

# %%
show_diff(OLD, NEW, containing="def shutdown(self):")

# %% [markdown]
# While stopping, `response_writer` treats every request as the last one on its connection:
# `Connection: close`, then close. A request the client had pipelined behind it is dropped
# unanswered; `Connection: close` tells the client that nothing more will come.

# %%
show_diff(OLD, NEW, containing="and not self.stopping")

# %% [markdown]
# ### Signals, and `close()` versus `abort()`
#
# - `loop.add_signal_handler` runs `stop.set` inside the event loop, between two pieces of
#   work, so it can safely touch asyncio objects. Step 09 used it for SIGINT; step 10 adds
#   SIGTERM. A second Ctrl-C does not hurry the stop: `stop` is set already.
# - Windows has no `add_signal_handler` (`NotImplementedError`). There step 09 let Ctrl-C
#   raise `KeyboardInterrupt`, which ended the server at once (its `except KeyboardInterrupt`
#   goes in part 1's hunk). Step 10 installs a plain `signal.signal` handler instead, which
#   passes the news to the loop with `call_soon_threadsafe`.
# - `transport.close()` first sends what is still buffered; `abort()` drops it and cuts the
#   connection now. After `abort()`, `serve` returns, and `asyncio.run` cancels the tasks
#   still running (a handler cut off mid-sleep).
#
# ### The wait has a limit
#
# Whoever sent SIGTERM will not wait for ever either (`docker stop`, for one, sends SIGKILL
# 10 seconds later). A server started with `--timeout 0.3` (the same option that gives a
# client that long to send its request) and a `GET /sleep/1000` in flight:

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
# This request got no answer: after 0.3 s, `abort()` cut its connection. But the server did
# not hang, and it still stopped cleanly, with `Server stopped` and status 0.

# %% [markdown]
# ## Deep dive: failing in the handler, not while answering
#
# The second article's third bug: its status line takes its phrase from its own table of
# eleven codes, and any other code is a `KeyError`. A copy of the step with a small table:

# %%
table = bug("reason-table").variant()
show_diff(f"{STEP}/server.py", table)

# %% [markdown]
# `GET /teapot`, waiting at most one second. Is it a `500`?

# %%
from harness import exchange
from harness.show import show_exchange

table_server = ServerProcess(table).start()
ex = exchange(table_server.host, table_server.port, request("GET", "/teapot"), timeout=1)
show_exchange(ex)
assert ex.received == b"" and (ex.closed or ex.reset)

# %% [markdown]
# No answer at all. The handler raised `HTTPError(418, "teapot")`, and
# `request_callback_handler` made its answer inside the `except HTTPError` clause:
# `Response(418, ...)`, where the table fails. What an `except` clause raises is not caught
# by the clauses beside it, `except Exception` included. In miniature:

# %%
try:
    try:
        raise step.HTTPError(418, "teapot")  # the handler refuses the request
    except step.HTTPError:
        {}[418]  # making the answer fails, as with the small table: KeyError
    except Exception:
        print("except Exception: a 500")  # never reached
except KeyError as error:
    print("escaped the whole try:", repr(error))

# %% [markdown]
# So the `KeyError` goes up to step 09's last defence, the `except Exception` in
# `answer_in_order`, which logs it and closes the connection at once (`transport.abort()`):

# %%
table_server.wait_for("KeyError: 418")
print("\n".join(table_server.log().splitlines()[-3:]))
print("the copy: exit status", table_server.stop())

# %% [markdown]
# The step has no table: the standard library's `HTTPStatus` knows every code and phrase.
# And `Response` looks its phrase up when it is made (part 2's hunk), not when it is
# written. `__bytes__` uses the phrase `__init__` stored:

# %%
show_diff(OLD, NEW, containing='f"HTTP/{self.version} {self.status_code} {self.reason}",')

# %% [markdown]
# So `Response(499)`, a status HTTP does not define, fails in the handler, inside the `try`
# that turns a failure into a `500`. `HTTPError` checks its status the same way when it is
# made, and turns its message into a `str`, which JSON can always encode:

# %%
print("Response(418).reason:", step.Response(418, {"message": "teapot"}).reason)
for make in (lambda: step.Response(499, {"message": "?"}), lambda: step.HTTPError(499, "?")):
    try:
        make()
    except ValueError as error:
        print("ValueError:", error)
print(repr(step.HTTPError(404, 42).message), repr(step.HTTPError(400, ValueError("not a number")).message))
assert step.HTTPError(404, 42).message == "42"

# %% [markdown]
# ## Deep dive: how httptools keeps a header's colons
#
# A header parser in the article's style (our own few lines), on the bytes we sent to
# `/headers`: split each line at its colons, the name is the first piece and the value the
# second.

# %%
def parse_headers_by_hand(head):
    fields = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:  # [0] is the request line
        if line:
            pieces = line.split(":")  # at every colon
            fields[pieces[0].strip().lower()] = pieces[1].strip()
    return fields


print(parse_headers_by_hand(sent))
assert parse_headers_by_hand(sent)["host"] == "localhost"

# %% [markdown]
# The same damage as the copy's, and as silent (the second `Accept` even replaced the
# first). Written the "obvious" way, unpacking into exactly two names, the same idea crashes
# instead:

# %%
try:
    for line in sent.decode("latin-1").split("\r\n")[1:]:
        if line:
            name, value = line.split(":")
    crashed = None
except ValueError as error:
    crashed = error
print("ValueError:", crashed)
assert crashed is not None

# %% [markdown]
# The fix by hand is `line.split(":", 1)`, or `line.partition(":")`. httptools' C parser
# finds the end of the name and calls `on_header(name, value)` with the two already apart.
# Fed the same bytes:

# %%
from httptools import HttpRequestParser


class ShowHeaders:
    def on_header(self, name, value):
        print(f"on_header({name!r}, {value!r})")


HttpRequestParser(ShowHeaders()).feed_data(sent)

# %% [markdown]
# (The step's tests send `Host: localhost:8080`, and headers with random names and values
# full of colons, and check that each comes back intact.)
