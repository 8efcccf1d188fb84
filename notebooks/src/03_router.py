# %% [markdown]
# # Step 03: a router hands each request to its handler
#
# Step 02's server understood requests, but did the same thing (log it) for all of them. A
# web framework lets you write one function per page: a **handler**. This step adds a
# **router**, a table from a URL's path to the handlers for each HTTP method, and runs the
# matching handler for each request. The handler still only logs; the client still gets no
# answer.
#
# Where we are (the highlighted boxes are new in this step):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser] --> R[router] --> F[handler] --> W[response]
#     style R fill:#ffd54f,stroke:#e65100,stroke-width:3px
#     style F fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## What changes
#
# The ideas, in the order this notebook takes them:
#
# 1. **A table of routes**: what a router does, in a few words.
# 2. **Coroutines and tasks**: how a parser callback starts an `async def` handler without
#    waiting for it, tried in the kernel.
# 3. **The code**: the path without its query string (3 lines), the `Router` (about 20
#    lines), `dispatch` started as a task (6 lines), and the app with its one router for
#    every connection (12 lines).
# 4. **Run it**, routing on the path, and the article's routing bug put back, live.
# 5. **Waiting without blocking**: a slow handler with `await`, and with `time.sleep`.

# %%
from harness.show import diff_size, show_diff

OLD, NEW = "../steps/02_protocol/server.py", "../steps/03_router/server.py"
added, removed = diff_size(OLD, NEW)
print(f"step 02 -> step 03: {added} lines added, {removed} removed")
show_diff(OLD, NEW, collapsed="The whole change, from step 02")

# %% [markdown]
# ## A table of routes
#
# If you know Flask, you know this part from the outside: `@app.route("/hello_world",
# methods=["GET"])` records your function in a table of routes. Here we build the table.
# The router's `mapping` is a dictionary from a path to another dictionary, from a method to
# a handler, like `{"/hello_world": {"GET": hello_world}}`. `add_route` fills it in.
# `dispatch` looks up the request's path, then its method, and runs that handler. If either is
# missing it returns, and the request is dropped (even when step 04 starts answering, these
# requests get nothing until step 06 adds `404 Not Found`).
#
# Handlers, and `dispatch`, are `async def` functions, so that a handler can wait (for a
# database, say) without stopping the server. Two asyncio ideas make that work.

# %% [markdown]
# ## Coroutines and tasks
#
# Calling an `async def` function does **not** run it: it makes a **coroutine** object, a
# paused function call. Something must then run it. Inside another coroutine you can `await`
# it; a cell can too:

# %%
async def hello(name):
    print("hello", name)


coroutine = hello("world")
print("hello(...) returned", coroutine, "and printed nothing yet")
await coroutine

# %% [markdown]
# But the server learns that a request is complete in `on_message_complete`, a plain function
# called by the parser: it cannot `await`. Instead it hands the coroutine to the event loop as
# a **task**: `create_task` schedules it to run on the loop's next turn, after the current
# callback has returned, and gives back a `Task` object that tracks it. The parser goes on,
# and the handler runs a moment later.
#
# Here `plain_callback` plays the part of `on_message_complete`: a plain function that creates
# the task and returns, without waiting for it.

# %%
import asyncio


def plain_callback():
    task = asyncio.get_running_loop().create_task(hello("from a task"))
    print("task created; done?", task.done())
    return task


task = plain_callback()
print("callback returned; done?", task.done())
await asyncio.sleep(0)  # give the loop one turn: it runs the task
print("after one turn of the loop; done?", task.done())
assert task.done()

# %% [markdown]
# Nothing ran while the callback ran: the task's code started only when the loop got control
# back, which a cell gives it at an `await`.
#
# One more rule: the event loop keeps only a **weak reference** to a task, one that does not
# keep it alive. A task that nobody else refers to may be thrown away by Python's garbage
# collector before it finishes. So the server keeps each task in a set, `self.tasks`, until it
# is done (a deep dive at the end shows a forgotten task vanish).

# %% [markdown]
# ## The code
#
# First the top of the file: a new docstring, and `parse_url` from httptools.

# %%
show_diff(OLD, NEW, containing="import HttpRequestParser, parse_url")

# %% [markdown]
# `parse_url` splits a URL into its parts, such as the path and the query string (the part
# after `?`):

# %%
from httptools import parse_url

parts = parse_url(b"/hello_world?x=1&lang=en")
print("path:", parts.path, " query:", parts.query)
assert parts.path == b"/hello_world"

# %% [markdown]
# `Request` gains a `path`, the URL without its query string. Then the `Router`. Last,
# `Server` (still one per connection) now receives the router when it is made, and starts its
# empty set of tasks.

# %%
show_diff(OLD, NEW, containing="class Router:")

# %% [markdown]
# When a request is complete, the `Server` no longer prints it: it starts
# `router.dispatch(request)` as a task and keeps it in that set until it is done (the done
# callback removes it). Then `hello_world_app` registers the one handler of this step, which
# logs what it got.

# %%
show_diff(OLD, NEW, containing="self.router.dispatch(request)")

# %% [markdown]
# Last, `main` makes **one** router, registers the app's routes on it, and gives that same
# router to every `Server` it makes. Routes are shared by all connections; parser state is
# not (that was step 02's lesson).

# %%
show_diff(OLD, NEW, containing="router = Router()")

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess

STEP = "../steps/03_router"
server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends the article's `GET /hello_world`. The server logs the line the
# article promises, `Handle: GET /hello_world None` (`None` because a GET has no body), and
# the client still waits in vain for an answer.

# %%
from harness.show import run_client

mark = server.mark()
assert run_client(f"{STEP}/client.py", "--port", str(server.port)).returncode == 0
print("server log:", server.wait_for("Handle: GET /hello_world None", since=mark).string)

# %% [markdown]
# ## Routing is on the path
#
# A query string does not change the route: `/hello_world?x=...` reaches the same handler,
# and the handler sees the full URL. The exact bytes both ways (we wait half a second for an
# answer that does not come):

# %%
import secrets

from harness import exchange, request
from harness.show import show_exchange

url = f"/hello_world?x={secrets.token_hex(4)}"
mark = server.mark()
ex = exchange(server.host, server.port, request("GET", url), timeout=0.5)
show_exchange(ex)
print("server log:", server.wait_for(f"Handle: GET {url} None", since=mark).string)
assert ex.received == b"" and not ex.closed

# %% [markdown]
# A request whose path or method has no handler reaches nothing. Three requests, in this
# order: an unknown path, a known path with a method it does not have, and a good one. The
# log is in order, so once the good one is logged, the other two have been dealt with:

# %%
mark = server.mark()
probe = f"/hello_world?probe={secrets.token_hex(4)}"
for method, target in [("GET", "/nowhere"), ("POST", "/hello_world"), ("GET", probe)]:
    ex = exchange(server.host, server.port, request(method, target), timeout=0.2)
    print(f"{method} {target}: {len(ex.received)} bytes back")
server.wait_for(f"Handle: GET {probe} None", since=mark)
print("server log:", server.log(since=mark))
assert server.log(since=mark).count("Handle:") == 1

# %% [markdown]
# With `requests`, and with `curl` from a terminal, it is the same story: the handler runs,
# the client gives up waiting.

# %%
import requests

from harness import curl_command

mark = server.mark()
try:
    requests.get(f"{server.url}/hello_world", params={"from": "requests"}, timeout=0.5)
except requests.exceptions.Timeout as error:
    print("requests gave up:", type(error).__name__)
print("server log:", server.wait_for("Handle: GET /hello_world?from=requests", since=mark).string)
print("with curl:", curl_command(request("GET", "/hello_world"), server.host, server.port))

# %% [markdown]
# ## Pitfall: routing on the whole URL
#
# The article's `dispatch` looks up `request.url`, the path *and* the query string.
# `bug(...)`, from the tutorial's catalogue of the articles' bugs, makes a copy of the step
# with that one change:

# %%
from harness.bugs import bug

by_url = bug("route-on-url").variant()
show_diff(f"{STEP}/server.py", by_url)

# %% [markdown]
# It finds `/hello_world`, but not `/hello_world?x=1`: any link with a query string, even
# a tracking parameter a website appends, misses the route.

# %%
by_url_server = ServerProcess(by_url).start()
for target in ["/hello_world?x=1", "/hello_world"]:
    exchange(by_url_server.host, by_url_server.port, request("GET", target), timeout=0.2)
by_url_server.wait_for("Handle: GET /hello_world None")
print(by_url_server.log())
assert "?x=1" not in by_url_server.log()

# %% [markdown]
# ## Waiting without blocking
#
# Step 01 measured the cost of a server that blocks: B asked for almost nothing and waited
# for A's half second of work. Tasks are how asyncio avoids it, *if* the handler waits the
# asyncio way. Two copies of the step's server whose `hello_world` works for half a second
# when the URL says `slow`: the first waits with `await asyncio.sleep(0.5)` (standing for
# `await` on a database's answer), the second with `time.sleep(0.5)`. Each logs `Working on`
# before its wait, and `Handle:` after it.

# %%
from harness.variant import variant

slow_work = '''    async def hello_world(request):
        if "slow" in request.url:
            print(f"Working on {request.url}", flush=True)
            WAIT
'''
awaiting = variant(f"{STEP}/server.py",
                   ("    async def hello_world(request):\n",
                    slow_work.replace("WAIT", "await asyncio.sleep(0.5)  # the loop serves others meanwhile")),
                   name="server_await_sleep.py")
blocking = variant(f"{STEP}/server.py",
                   ("import asyncio\n", "import asyncio\nimport time\n"),
                   ("    async def hello_world(request):\n",
                    slow_work.replace("WAIT", "time.sleep(0.5)  # blocks the loop's only thread")),
                   name="server_time_sleep.py")
show_diff(f"{STEP}/server.py", awaiting)

# %% [markdown]
# The second copy differs from the first in two lines: it imports `time`, and it sleeps
# with `time.sleep`.

# %%
show_diff(awaiting, blocking)

# %% [markdown]
# Against each copy, client A asks for
# `/hello_world?slow`; as soon as A's handler has started its wait (its `Working on` line is
# in the log), client B asks for `/hello_world?quick`. We time how long B's request takes to
# be handled (its `Handle:` line):

# %%
import socket
import time


def b_waits(srv):
    mark = srv.mark()
    with socket.create_connection(srv.address, timeout=2) as a, \
         socket.create_connection(srv.address, timeout=2) as b:
        a.sendall(request("GET", "/hello_world?slow"))
        srv.wait_for("Working on /hello_world?slow", since=mark)
        started = time.perf_counter()
        b.sendall(request("GET", "/hello_world?quick"))
        srv.wait_for("Handle: GET /hello_world?quick", since=mark)
        waited = time.perf_counter() - started
        srv.wait_for("Handle: GET /hello_world?slow", since=mark)
    print(srv.log(since=mark))
    print(f"-> B's request was handled {waited:.3f} s after B sent it\n")
    return waited


sleepers = {"await asyncio.sleep": ServerProcess(awaiting).start(),
            "time.sleep": ServerProcess(blocking).start()}
waits = {}
for name, srv in sleepers.items():
    print(f"With {name}:")
    waits[name] = b_waits(srv)
assert waits["await asyncio.sleep"] < 0.3 < waits["time.sleep"]

# %% [markdown]
# With `await`, B was handled at once, while A's handler was still waiting: an `await` hands
# the thread back to the event loop, which goes on with other connections and tasks. With
# `time.sleep`, B waited for the rest of A's half second, exactly as in step 01: the sleep
# holds the loop's only thread, and nothing else runs, not even the reading of B's bytes. In an
# asyncio server, a handler that waits must wait with `await`; a blocking call (a
# `time.sleep`, a synchronous database driver, `requests.get`) stalls every client.
#
# ## Stop the servers

# %%
stopped = [srv.stop() for srv in (by_url_server, *sleepers.values())]
print("the variants' exit statuses:", stopped)
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and "Traceback" not in server.log() and stopped == [0, 0, 0]

# %% [markdown]
# That is the step. After the exercises comes one deep dive, which you can skip: a task that
# nobody keeps, thrown away half-way.

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. A challenge: add a second route, `GET /goodbye`, with a handler that logs `Bye: ` and
#    the request's whole URL, query string included: `Bye: /goodbye?x=1`. Only GET reaches
#    it (`POST /goodbye` and `/goodbye/extra` reach no handler), and `GET /hello_world`
#    still logs its `Handle:` line. Work in your own file: `tutorial start 03` makes
#    `my_server.py` from step 02's server, for you to build this step (or keeps the one you
#    have); to skip to the challenge, copy `steps/03_router/server.py` over it. Start it
#    with `python my_server.py`, and in a second terminal run
#    `curl --max-time 1 'http://127.0.0.1:8080/goodbye?x=1'`. curl gives up after a second
#    (`Operation timed out`: nobody answers yet); does your line appear in the server's
#    terminal? Then let the challenge's tests judge it:
#
#    ```
#    tutorial challenge 03          # what the challenge asks, and the command to check it
#    tutorial check --challenge     # its tests, against my_server.py
#    ```
#
#    Stuck? `tutorial hint --challenge` gives a hint, then a better one. Your handler returns
#    nothing, like every handler of this step. Step 04 makes handlers answer: each returns a
#    `Response`, and until yours does, `GET /goodbye` gets a `500` there.
# 2. Check that your file still does everything this step promises: `tutorial check` runs
#    the step's tests against it, task by task (all four tasks should pass).
#
# **Next:** step 04 gives handlers a way to answer: they return a `Response`, and the
# server writes it back to the client.

# %% [markdown]
# ## Deep dive: a task nobody keeps
#
# Why does `Server` keep its tasks in `self.tasks` until they are done? Because the event
# loop keeps only a weak reference to a task. Here is a task that waits for a signal (an
# `asyncio.Event` that nobody sets); we drop our reference and let the garbage collector run:

# %%
import gc
import weakref


async def wait_for_signal():
    await asyncio.Event().wait()  # a signal that nobody will ever send


# A weak reference lets us ask later whether the task still exists, without keeping it alive.
forgotten = weakref.ref(asyncio.get_running_loop().create_task(wait_for_signal()))
await asyncio.sleep(0)  # let the task start, and wait
gc.collect()
print("is the task still there?", forgotten() is not None)
assert forgotten() is None

# %% [markdown]
# asyncio complains ("Task was destroyed but it is pending!") and the task is gone, in the
# middle of its work. Kept in a set, as the step's `Server` does, it survives. (The step's
# handler finishes at once, so there this is insurance; it matters for a task that waits for
# something that only it refers to, like this one.)

# %%
tasks = set()
task = asyncio.get_running_loop().create_task(wait_for_signal())
tasks.add(task)
task.add_done_callback(tasks.discard)  # forget it once it is done, as the step does
kept = weakref.ref(task)
del task
await asyncio.sleep(0)
gc.collect()
alive = kept() is not None
tasks.pop().cancel()  # we are done with it
print("is the task still there?", alive)
assert alive
