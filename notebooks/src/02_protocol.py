# %% [markdown]
# # Step 02: asyncio, a protocol, and an HTTP parser
#
# Step 01's server served one client at a time. Here we hand the waiting to **asyncio**,
# switch from UDP to **TCP** (a connection per client, carrying a stream of bytes in order;
# HTTP runs on it), and turn those bytes into HTTP requests with the `httptools` parser. The
# server logs each request; it answers from step 04 on.
#
# Where we are (the highlighted boxes are new in this step):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser] --> R[router] --> F[handler] --> W[response]
#     style P fill:#ffd54f,stroke:#e65100,stroke-width:3px
#     style H fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```
#
# ## What changes
#
# Step 02 rewrites step 01 rather than editing it, so we read the new file part by part, in
# this order:
#
# 1. **asyncio's event loop**: one thread that serves many connections.
# 2. **A protocol**: the object asyncio calls for each connection; TCP as a stream of bytes.
# 3. **The HTTP parser**: bytes in, calls such as `on_url` and `on_body` out.
# 4. **The step's server** built from them: `Request` (6 lines), `Server` (31 lines), `main`
#    (14 lines). Then we run it.
# 5. **The article's pitfall**: one protocol object shared by every connection, run live.

# %%
from harness.show import diff_size, show_diff

STEP = "../steps/02_protocol"
added, removed = diff_size("../steps/01_udp_socket/server.py", f"{STEP}/server.py")
print(f"step 01 -> step 02: {added} lines added, {removed} removed")
show_diff("../steps/01_udp_socket/server.py", f"{STEP}/server.py", collapsed="The whole change, from step 01")

# %% [markdown]
# ## asyncio in one paragraph
#
# asyncio runs an **event loop**: one loop, in one thread, that asks the operating system
# "which of my sockets have something for me?" and then calls *your* code for each one that
# is ready. Your code does a little work and returns quickly, so the loop can go on to the
# next socket. Nobody sits waiting on one client, and there are no threads to coordinate.
# Functions defined with `async def` are **coroutine functions**: calling one gives a
# coroutine, a function call that can pause at an `await` (say, "wait until this connection is
# made") and let the loop run other code meanwhile.
#
# A Jupyter kernel already runs an event loop, the one that runs your cells. That is why a
# cell may use `await` at the top level, and why `asyncio.run()`, which starts a *new* loop,
# refuses to work in a cell.

# %%
import asyncio

loop = asyncio.get_running_loop()
print(loop)
assert loop.is_running()

# %% [markdown]
# ## A protocol, and the calls asyncio makes to it
#
# With asyncio, a server is two objects per connection. The **transport** is asyncio's end
# of the connection: it reads and writes the socket for you. The **protocol** is your
# object: asyncio calls its methods (`connection_made`, `data_received`, `eof_received`,
# `connection_lost`) when something happens on that connection.
#
# This protocol only records each call, in an `asyncio.Queue` (`put_nowait` adds an item;
# `await events.get()` waits for one). `loop.create_server` opens a listening TCP socket.
# Its first argument is a **factory**: asyncio calls it for every new connection to get a
# fresh protocol object (a class will do). It all runs here, in the kernel's loop.

# %%
events = asyncio.Queue()  # the protocol's calls, in order, for the client below to read


class TracingProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        events.put_nowait(("connection_made", transport.get_extra_info("peername")))

    def data_received(self, data):
        events.put_nowait(("data_received", data))

    def eof_received(self):
        events.put_nowait(("eof_received",))

    def connection_lost(self, exc):
        events.put_nowait(("connection_lost", exc))


tracing_server = await loop.create_server(TracingProtocol, "127.0.0.1", 0)
tracing_port = tracing_server.sockets[0].getsockname()[1]
print("listening on port", tracing_port)

# %% [markdown]
# Now a client. For a short client, asyncio has **streams**: `open_connection` gives a
# `reader` and a `writer` for one TCP connection, used with `await`.
#
# The client sends a request in three pieces, and after each one it waits until the protocol
# has seen it (`asyncio.wait_for` gives up after 2 seconds, so the cell cannot hang). Then it
# calls `write_eof()`, a **half-close**: "I will send nothing more, but I still listen", and
# reads until the server closes its side:

# %%
async def server_side():
    name, *args = await asyncio.wait_for(events.get(), timeout=2)  # never wait forever
    print(f"    server side: {name}({', '.join(map(repr, args))})")
    return name


pieces = [b"GET /hel", b"lo HTTP/1.1\r\nHo", b"st: example.com\r\n\r\n"]
reader, writer = await asyncio.open_connection("127.0.0.1", tracing_port)
seen = [await server_side()]
for piece in pieces:
    print("client sends", piece)
    writer.write(piece)
    seen.append(await server_side())
print("client half-closes: write_eof()")
writer.write_eof()
seen.append(await server_side())
print("client reads", await asyncio.wait_for(reader.read(), timeout=2), "(end of stream)")
seen.append(await server_side())
writer.close()

# %% [markdown]
# The calls, in order:

# %%
print(" -> ".join(seen))
assert seen == ["connection_made"] + ["data_received"] * 3 + ["eof_received", "connection_lost"]

# %% [markdown]
# `connection_made` once; `data_received` for each piece; `eof_received` when the client had
# finished sending; `connection_lost` once, at the end. That order holds for every connection
# (a deep dive at the end gives the exact rule). Returning nothing from `eof_received` tells
# asyncio to close our side too, which is why the client's read came to the end of the
# stream.
#
# `data_received` got the three pieces as they were sent, but only because the client waited
# after each one. TCP is a **stream** of bytes: it keeps them in order, but not the
# boundaries between sends. The same three pieces, written one after the other without
# waiting, on a new connection:

# %%
reader, writer = await asyncio.open_connection("127.0.0.1", tracing_port)
await server_side()
for piece in pieces:
    writer.write(piece)  # no waiting in between
print("client wrote", len(pieces), "pieces")
assert await server_side() == "data_received"
writer.close()  # an ordinary close: the protocol still gets eof_received
assert [await server_side(), await server_side()] == ["eof_received", "connection_lost"]

# %% [markdown]
# One `data_received`, with the whole request. A request can arrive in any number of pieces,
# and two requests can arrive in one. Our code must cope with both.
#
# This little server has done its job; close it:

# %%
tracing_server.close()
await tracing_server.wait_closed()
print("serving:", tracing_server.is_serving())

# %% [markdown]
# ## The parser: bytes in, calls out
#
# An HTTP request is a few lines of text, each ending with `\r\n`, then maybe some data:
#
# - the **request line**: a **method** (`GET` to fetch, `POST` to send data, ...), the **URL**
#   (a path such as `/hello_world`, maybe followed by a query string `?name=ada`) and the
#   version, `HTTP/1.1`;
# - **headers**, one `Name: value` per line, such as `Host: example.com`;
# - an empty line, then the **body**, if any: `Content-Length` says how many bytes it has.
#
# The request line and the headers together are the **head**. An **HTTP parser** turns the
# bytes into those parts. `httptools.HttpRequestParser` (one of the parsers uvicorn uses)
# calls methods of an object of ours as it recognises each part: `on_url`, `on_header`,
# `on_body`, `on_message_complete` and a few more. This object prints every call, and keeps
# the URL and body pieces. Fed a whole request at once, it sees this:

# %%
from httptools import HttpRequestParser


class TracingCallbacks:
    def on_message_begin(self):
        print("    on_message_begin()")
        self.url_pieces, self.body_pieces = [], []

    def on_url(self, url):
        print(f"    on_url({url!r})")
        self.url_pieces.append(url)

    def on_header(self, name, value):
        print(f"    on_header({name!r}, {value!r})")

    def on_body(self, body):
        print(f"    on_body({body!r})")
        self.body_pieces.append(body)

    def on_message_complete(self):
        print("    on_message_complete()")


HttpRequestParser(TracingCallbacks()).feed_data(b"GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n")

# %% [markdown]
# Now a request with a body, cut at awkward places (inside the method, the URL, a header and
# the body) and fed piece by piece, as TCP may deliver it:

# %%
request_bytes = (b"POST /hello_world?name=ada HTTP/1.1\r\nHost: example.com\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
                 b'{"key1": "val1"}')
cuts = [b"ST /", b"_world", b"ple.com", b'1": "']
starts = [0] + [request_bytes.index(cut) for cut in cuts] + [len(request_bytes)]
pieces = [request_bytes[a:b] for a, b in zip(starts, starts[1:])]

callbacks = TracingCallbacks()
parser = HttpRequestParser(callbacks)
for piece in pieces:
    print("feed_data", piece)
    parser.feed_data(piece)
print("method:", parser.get_method())

# %% [markdown]
# `on_url` fired twice (`/hello`, then `_world?name=ada`) and so did `on_body`: the parser
# hands over what it has as soon as it has it. So a server must **collect the pieces** and
# use them only in `on_message_complete`:

# %%
print("URL pieces: ", callbacks.url_pieces, "-> joined:", b"".join(callbacks.url_pieces))
print("body pieces:", callbacks.body_pieces, "-> joined:", b"".join(callbacks.body_pieces))
assert len(callbacks.url_pieces) == 2 and len(callbacks.body_pieces) == 2
assert b"".join(callbacks.url_pieces) == b"/hello_world?name=ada"
assert b"".join(callbacks.body_pieces) == b'{"key1": "val1"}'

# %% [markdown]
# ## The step's server
#
# Here is the whole file, apart from its docstring, imports and `parse_args` (as in step 01).
# First, a `Request` holds what the parser found (its `encoding` is unused so far):

# %%
from harness.show import show_code

show_code(f"{STEP}/server.py", "class Request")

# %% [markdown]
# `Server` is the protocol, one object per connection (the name is the article's). It is
# also the parser's callback object: `HttpRequestParser(self)`. `data_received` only feeds
# the parser. `on_message_begin` starts empty lists, `on_url` and `on_body` append to them,
# and `on_message_complete` joins the pieces into a `Request` and logs it. `get_method()`
# asks the parser for the method it read.

# %%
show_code(f"{STEP}/server.py", "class Server")

# %% [markdown]
# `main` is a coroutine function. It gets the loop that runs it (`get_running_loop`) and
# creates the listening server (the local variable `server`, not a `Server`) with a factory
# that makes **a new `Server` for every connection**. (A `lambda` where the class alone would
# do: step 03 passes the `Server` an argument.)
#
# The server listens as soon as `create_server` returns; `main` then waits. An
# `asyncio.Event` is a flag that coroutines can wait for until someone sets it: `main` waits
# for `stop` (and the loop serves connections meanwhile) until Ctrl-C sets it. Ctrl-C sends the
# process the signal SIGINT, and `loop.add_signal_handler` has the loop call `stop.set` when
# it comes, between two pieces of work: no code is cut off in the middle. (Windows has no
# such handler; there Ctrl-C raises a `KeyboardInterrupt` wherever the code is.)
# `asyncio.run(main(...))` starts an event loop, runs `main` in it, and closes the loop at the
# end. (The article uses the deprecated `asyncio.get_event_loop()` instead; a deep dive at
# the end shows why not.)

# %%
show_code(f"{STEP}/server.py", "async def main")
show_code(f"{STEP}/server.py", 'if __name__ == "__main__"')

# %% [markdown]
# ## Run it
#
# As in step 01, `ServerProcess` starts the server in its own process on a free port and
# waits for its `Listening on` line.

# %%
from harness import ServerProcess

server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends the article's request (`GET /`), waits one second for an answer
# that this server never sends, and says so:

# %%
from harness.show import run_client

mark = server.mark()
assert run_client(f"{STEP}/client.py", "--port", str(server.port)).returncode == 0
print("server log:", server.wait_for("Request: GET / None", since=mark).string)

# %% [markdown]
# Now the exact bytes. `request()` builds an HTTP request; `exchange()` sends it in pieces,
# a little apart, and reads whatever comes back for at most half a second. A random part in
# the URL shows that the log line comes from this very request:

# %%
import secrets

from harness import exchange, request
from harness.show import show_exchange

word = secrets.token_hex(4)
raw = request("POST", f"/notes/{word}?draft=1", '{"text": "hi"}')
mark = server.mark()
ex = exchange(server.host, server.port, raw[:7], raw[7:40], raw[40:], pause=0.05, timeout=0.5)
for number, piece in enumerate(ex.sent, 1):
    print(f"piece {number}:", piece)
show_exchange(ex)
print("server log:", server.wait_for(f"Request: POST /notes/{word}", since=mark).string)
assert len(ex.sent) == 3 and ex.received == b"" and not ex.closed

# %% [markdown]
# Three pieces went out (`show_exchange` prints them joined, one protocol line per output
# line); the log shows one whole request. Nothing came back, and the connection was still
# open when the client stopped waiting.
#
# `requests` fares the same: it gives up after half a second (`timeout=0.5`), and the server
# logs the request anyway:

# %%
import requests

mark = server.mark()
try:
    requests.get(f"{server.url}/from-requests/{word}", timeout=0.5)
except requests.exceptions.Timeout as error:
    print("requests gave up:", type(error).__name__)
print("server log:", server.wait_for(f"Request: GET /from-requests/{word} None", since=mark).string)

# %% [markdown]
# From a terminal, `curl` sends an equivalent request (`--max-time` keeps it from waiting
# forever):

# %%
from harness import curl_command

print(curl_command(raw, server.host, server.port))

# %% [markdown]
# ## Pitfall: one protocol object for every connection
#
# The article creates **one** `Server` object and passes `lambda: protocol` as the factory,
# so every connection gets that same object, and with it the same parser. `bug(...)`, from
# the tutorial's catalogue of the articles' bugs, puts that back in a copy of the step's file:

# %%
from harness.bugs import bug

shared = bug("shared-protocol").variant()
show_diff(f"{STEP}/server.py", shared)

# %% [markdown]
# One client at a time would never notice. Two at once: A sends half its request and pauses
# (a slow phone, say); meanwhile B sends a whole request; then A sends the rest.

# %%
import socket
import time


def two_clients(server, a_request, b_request, cut):
    with socket.create_connection(server.address, timeout=2) as a, \
         socket.create_connection(server.address, timeout=2) as b:
        a.sendall(a_request[:cut])
        time.sleep(0.2)  # A pauses halfway
        b.sendall(b_request)
        time.sleep(0.2)
        a.sendall(a_request[cut:])
        time.sleep(0.1)  # let the last bytes reach the server before we hang up


word = secrets.token_hex(3)
a_request, b_request = request("GET", f"/alpha-{word}"), request("GET", f"/bravo-{word}")
cut = a_request.index(b".0.1\r\n\r\n")  # inside A's Host header
print("A sends first:", a_request[:cut])

# %% [markdown]
# The article's version first. We keep only the lines of its log that matter (asyncio
# prints a traceback for each error):

# %%
def summary(log):
    keep = ("Request:", "Fatal error", "httptools.")
    return "\n".join(line for line in log.splitlines() if line.startswith(keep))


buggy_server = ServerProcess(shared).start()
two_clients(buggy_server, a_request, b_request, cut)
buggy_server.wait_for("httptools.parser.errors.")
print(summary(buggy_server.log()))

# %% [markdown]
# Read it closely:
#
# - The server logged A's request, although A had not finished sending it.
# - B's request is not in the log at all, and B got no error either.
# - A's perfectly normal ending then failed to parse, as if it began a new request, and
#   asyncio closed that connection.
#
# The single parser was in the middle of A's `Host` header when B's bytes arrived: B's
# request line was glued onto A's `Host` value, and B's empty line ended A's request. One
# parser fed the bytes in that order, here in the kernel, shows it:

# %%
parser = HttpRequestParser(TracingCallbacks())
try:
    for piece in (a_request[:cut], b_request, a_request[cut:]):
        parser.feed_data(piece)
except Exception as error:
    print("    error:", type(error).__name__, error)

log = buggy_server.log()
assert f"Request: GET /alpha-{word}" in log and f"/bravo-{word}" not in log

# %% [markdown]
# The step's server makes a new `Server` for every connection, so each has its own parser.
# The same two clients, the same bytes in the same order:

# %%
mark = server.mark()
two_clients(server, a_request, b_request, cut)
server.wait_for(f"Request: GET /alpha-{word}", since=mark)
print(server.log(since=mark))
assert f"Request: GET /bravo-{word} None" in server.log(since=mark)

# %% [markdown]
# Each request was parsed whole, B's first because it was complete first. The rule:
# **state that belongs to one connection lives in the protocol object**, one per connection;
# things every connection shares (in the next step, the routes) live elsewhere.
#
# This also solves step 01's problem for slow *clients*: A stalled halfway, and B was served
# meanwhile. Slow *work* inside a callback (a `time.sleep`) would still stall everyone, since
# every callback runs in the loop's one thread; step 03 shows how to wait without blocking.
#
# ## Stop the servers
#
# Both stop as Ctrl-C stops them; the step's server logged no traceback at all.

# %%
print("article's version: exit status", buggy_server.stop())
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and "Traceback" not in server.log()
assert buggy_server.returncode == 0

# %% [markdown]
# That is the step. After the exercises come two deep dives, which you can skip: the exact
# rule for the order of a protocol's calls, and the article's `asyncio.get_event_loop()`.

# %% [markdown]
# ## Try it
#
# 1. Here: in `TracingProtocol`, make `eof_received` return `True` (it means "keep the
#    connection open, I will close it myself"). Run that cell (it starts a new tracing server
#    on a new port), then the client cell. The client's `reader.read()` now stops with a
#    `TimeoutError` after 2 seconds: why? And which of the protocol's calls has not come?
# 2. A challenge: make the server log each header of a request on a line of its own,
#    `Header: Name: value`, one line per header, in the order the client sent them, with the
#    name and the value as they came. A header sent twice is two lines, and each request logs
#    its own headers only (one connection may carry several requests). Keep the `Request:`
#    line exactly as it is. In a terminal, from the repository's root folder, with the
#    environment activated (`source .venv/bin/activate`), work in your own file:
#    `tutorial start 02` makes `my_server.py` from step 01's server, for you to build this
#    step (or keeps the one you have); to skip to the challenge, copy
#    `steps/02_protocol/server.py` over it. Start it with `python my_server.py` and send it
#    `curl --max-time 1 http://127.0.0.1:8080/x` from a second terminal: which headers does
#    curl send? Then let the challenge's tests judge it (they also check that the `Request:`
#    line is unchanged):
#
#    ```
#    tutorial challenge 02          # what the challenge asks, and the command to check it
#    tutorial check --challenge     # its tests, against my_server.py
#    ```
#
#    Stuck? `tutorial hint --challenge` gives a hint, then a better one.
#
# **Next:** step 03 adds a router, so a request reaches the handler for its path and method.

# %% [markdown]
# ## Deep dive: the exact order of a protocol's calls
#
# The order we saw is a rule asyncio keeps for every connection, a small **state machine**.
# It is written down in `asyncio.Protocol` itself:

# %%
rule = next(line.strip() for line in asyncio.Protocol.__doc__.splitlines() if "start ->" in line)
print(rule)
assert rule == "start -> CM [-> DR*] [-> ER?] -> CL -> end"

# %% [markdown]
# ```mermaid
# stateDiagram-v2
#     direction LR
#     [*] --> connection_made
#     connection_made --> data_received
#     data_received --> data_received
#     data_received --> eof_received
#     connection_made --> eof_received
#     data_received --> connection_lost
#     connection_made --> connection_lost
#     eof_received --> connection_lost
#     connection_lost --> [*]
# ```
#
# `connection_made` (CM) once; `data_received` (DR) any number of times, zero included;
# `eof_received` (ER) at most once, when the other side has finished sending: after a
# half-close like the client's `write_eof()`, and after an ordinary close too (both send the
# same end-of-data signal, a FIN), as the second client showed. Only a connection that is
# *reset* (cut off abruptly, without that signal) skips it. `connection_lost` (CL) comes
# exactly once, with `None` after a normal end, or with the exception that ended the
# connection.
#
# One more detail of the parser seen in the same light: httptools puts a header's pieces
# back together before it calls `on_header` (the `Host` header cut in two above arrived whole),
# but it does not do that for the URL or the body: those are the pieces the step collects.

# %% [markdown]
# ## Deep dive: `asyncio.get_event_loop()`
#
# The article starts its server with `loop = asyncio.get_event_loop()` and
# `loop.run_until_complete(...)`, outside any running loop. That form asks asyncio to
# invent a loop when there is none, which is deprecated: current 3.10 and 3.11 releases stay
# silent (some early patch releases warned), 3.12 and 3.13 emit a `DeprecationWarning`, and
# from 3.14 on it raises `RuntimeError` when there is no current event loop (the asyncio
# documentation: "Changed in version 3.14"). Here is what the Python running this notebook
# does with it:

# %%
import subprocess
import sys

code = "import asyncio; asyncio.get_event_loop()"
done = subprocess.run([sys.executable, "-W", "always", "-c", code],
                      capture_output=True, text=True, timeout=30)
said = [line for line in done.stderr.splitlines() if "Warning" in line or "Error" in line]
print(f"Python {sys.version.split()[0]}:", said[-1] if said else "(nothing: no warning here)")
if sys.version_info >= (3, 14):
    assert done.returncode != 0 and "RuntimeError" in done.stderr
elif sys.version_info >= (3, 12):
    assert "DeprecationWarning" in done.stderr

# %% [markdown]
# The step uses the modern form, which works the same on every version: `asyncio.run(main())`
# creates the loop, and code *inside* it asks for the loop that is running with
# `asyncio.get_running_loop()`. Outside a running loop that function does not guess; it fails
# at once with a clear message:

# %%
code = """
import asyncio
try:
    asyncio.get_running_loop()
except RuntimeError as error:
    print("RuntimeError:", error)
"""
done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
print(done.stdout.strip())
assert done.stdout.strip() == "RuntimeError: no running event loop"
