# %% [markdown]
# # Step 08: a server that defends itself
#
# Until now the server trusted its clients to speak HTTP, to send a body of a sane size,
# and to finish their request some day. In this step it refuses what it will not handle,
# with a status code and a JSON message, and it gives every client a deadline.
#
# The deadline fixes a bug of the second article, *Simple Python Framework from Scratch*,
# which the steps from 07 on borrow from: we run its timer live, next to ours.
#
# Where we are (the highlighted boxes are what this step changes):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol + clock] --> H[HTTP parser + limits] --> R[router] --> F[handler] --> W[response]
#     style P fill:#ffd54f,stroke:#e65100,stroke-width:3px
#     style H fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## The change in brief
#
# The docstring at the top of the step's file says what the server now does:

# %%
import ast
from pathlib import Path

from harness.show import show_code, show_diff

OLD, NEW = "../steps/07_path_params/server.py", "../steps/08_limits/server.py"
print(ast.get_docstring(ast.parse(Path(NEW).read_text())))

# %% [markdown]
# The change adds 115 lines and removes 21. In the order this notebook takes them:
#
# 1. **Two options** (+9 / −4 lines), `--timeout` and `--max-body`.
# 2. **A clock per connection** (+17): `--timeout` seconds from connecting to send a request.
# 3. **The second article's clock**: its bug, put back and run.
# 4. **Refusing a request** (+48 / −9): `HTTPError` and `refuse`; `400` for what is not HTTP.
# 5. **Two limits** (+32): `413` for a body too large, `431` for a head too large.
#
# The docstring and one line of `response_writer` (see a deep dive) are the other +9 / −8.
# Every way a connection can now end:
#
# ```mermaid
# stateDiagram-v2
#     direction LR
#     state "waiting for a first byte" as waiting
#     state "receiving a request" as receiving
#     state "closed, no answer" as dropped
#     state "answered 408, closed" as late
#     state "refused with 400, 413 or 431, closed" as refused
#     state "handled, answered, closed" as handled
#     [*] --> waiting: connected, the clock starts
#     waiting --> dropped: the clock runs out
#     waiting --> receiving: the first byte
#     receiving --> late: the clock runs out
#     receiving --> refused: not HTTP, or too large
#     receiving --> handled: complete, the clock stops
# ```
#
# The whole diff, folded; its six parts follow the file's order, not the ideas':

# %%
show_diff(OLD, NEW, collapsed="The whole change, from step 07")

# %% [markdown]
# ## Two options, handed to every connection
#
# `--timeout` is in seconds (5 unless told), `--max-body` in bytes (1 MiB, 1,048,576,
# unless told). `main` hands both to every `Server`, as `self.timeout` and `self.max_body`:

# %%
show_diff(OLD, NEW, containing='parser.add_argument("--timeout"')
show_diff(OLD, NEW, containing="asyncio.run(main(args.host, args.port, args.timeout, args.max_body))")

# %% [markdown]
# `Server.__init__` keeps them, and starts four attributes the next sections use, before any
# request begins (the clock reads `_receiving` even for a client that sends nothing).

# %%
show_code(NEW, "def __init__(self, router, timeout, max_body)")

# %% [markdown]
# We start the server with a one-second clock, so that the demos wait little:

# %%
from harness import ServerProcess

STEP = "../steps/08_limits"
server = ServerProcess(f"{STEP}/server.py", "--timeout", "1").start()
print(server.log())

# %% [markdown]
# ## A clock per connection
#
# `loop.call_later(delay, function)` asks the event loop to call `function` in `delay`
# seconds, and returns a handle whose `cancel()` calls it off. Nothing waits meanwhile: the
# timer is an entry in the loop's list of things to do later.
#
# The clock starts in `connection_made`, the first call asyncio makes for a new connection;
# `connection_lost` calls it off:

# %%
show_code(NEW, "def connection_made")
show_code(NEW, "def connection_lost")

# %% [markdown]
# When the clock runs out, `timeout_expired` checks a flag, `_receiving`, which the parser's
# `on_message_begin` sets at the first byte of a request (we meet it with the limits, below).
# Part of a request came: the client gets `408 Request Timeout`. Nothing came: there is
# nobody to answer, so we just close.

# %%
show_code(NEW, "def timeout_expired")

# %% [markdown]
# The clock stops when the request is complete (`on_message_complete` cancels it), is
# refused, or the client leaves. Data that arrives never moves it: a client has `--timeout`
# seconds from connecting to send its whole request.
#
# Two clients: one sends a request without its final blank line (`[:-2]` cuts the last
# `\r\n`), the other sends nothing. `exchange` blocks until its connection ends, so each
# runs in a thread (`ThreadPoolExecutor`, from the standard library: `submit` starts a call
# in a thread, `result()` waits for its return value):

# %%
from concurrent.futures import ThreadPoolExecutor

from harness import exchange, request
from harness.show import show_exchange

incomplete = request("GET", "/hello_world")[:-2]
with ThreadPoolExecutor(2) as pool:
    partial = pool.submit(exchange, server.host, server.port, incomplete, timeout=3)
    silent = pool.submit(exchange, server.host, server.port, timeout=3)  # sends no bytes
    partial, silent = partial.result(), silent.result()
show_exchange(partial)
print(f"after {partial.seconds:.2f} s\n")
show_exchange(silent)
print(f"after {silent.seconds:.2f} s")
assert partial.response.status == 408 and partial.closed and 0.8 < partial.seconds < 3
assert silent.received == b"" and silent.closed and 0.8 < silent.seconds < 3

# %% [markdown]
# Both ended one second after they connected: one with a `408`, the other with no answer,
# since it never asked anything.

# %% [markdown]
# ## The second article's clock, live
#
# The second article's code starts a connection's timer at the first read that brings data,
# and restarts it at every such read. The article sees one consequence: a client that
# connects and sends nothing gets no timer, and enough such clients exhaust the server. Its
# proposed fix starts the timer at connection too, but every read would still restart it.
#
# `bug("late-timer")`, from the harness's catalogue of the articles' bugs, puts the
# article's code as published into a copy of the step: no clock in `connection_made`, a
# fresh one in every `data_received`:

# %%
from harness.bugs import bug

late_timer = bug("late-timer").variant()
show_diff(f"{STEP}/server.py", late_timer)

# %% [markdown]
# To see how many connections a server holds, we count its sockets. Each file or socket a
# process has open gets a number, a **file descriptor**; on Linux, `/proc/<pid>/fd` lists
# them, each a link to what it stands for (`socket:[...]` for a socket). On macOS or Windows, we count instead those of our own sockets the server has not
# closed.

# %%
import os
import select
import socket


def server_sockets(pid):
    """The number of sockets process ``pid`` has open (Linux only)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith("socket:"):
                count += 1
        except OSError:  # closed while we looked
            pass
    return count


def still_open(socks):
    """How many of our sockets the server has not closed."""
    # select.select(socks, [], [], 0) returns at once those of socks with something to read.
    readable, _, _ = select.select(socks, [], [], 0)
    # recv with MSG_PEEK looks at the next byte without taking it; b"" means the server closed.
    closed = [sock for sock in readable if sock.recv(1, socket.MSG_PEEK) == b""]
    return len(socks) - len(closed)


# %% [markdown]
# We start the copy with the same one-second clock, and count each server's sockets before
# the crowd comes:

# %%
late_server = ServerProcess(late_timer, "--timeout", "1").start()
servers = {"the article's clock": late_server, "the step's clock": server}
use_proc = Path(f"/proc/{server.pid}/fd").is_dir()
before = {name: server_sockets(srv.pid) if use_proc else 0 for name, srv in servers.items()}

# %% [markdown]
# Then, to each server, 200 clients that connect and say nothing, 50 at a time (the
# operating system holds only a limited queue of connections the server has not yet taken
# up). After each 50, a normal client asks for `/hello_world`:

# %%
import time

crowds = {name: [] for name in servers}
waits = {name: [] for name in servers}
started = time.monotonic()
for _ in range(4):
    for name, srv in servers.items():
        crowds[name] += [socket.create_connection(srv.address, timeout=3) for _ in range(50)]
        ex = exchange(srv.host, srv.port, request("GET", "/hello_world"))
        assert ex.response.status == 200
        waits[name].append(ex.seconds)
connected = time.monotonic()
print(f"the crowd took {connected - started:.2f} s to connect")
for name in servers:
    print(f"{name}: {len(crowds[name])} silent clients; a normal client waited at most "
          f"{max(waits[name]) * 1000:.0f} ms")
    assert max(waits[name]) < 1

# %% [markdown]
# Both served the normal clients at once: a silent connection costs an asyncio server a
# socket and a small object, no thread. Now we watch for two seconds how many silent
# clients each server still holds:

# %%
samples = {name: [] for name in servers}
times = []
while (now := time.monotonic() - connected) < 2.0:
    times.append(now)
    for name, srv in servers.items():
        samples[name].append(server_sockets(srv.pid) - before[name] if use_proc else still_open(crowds[name]))
    time.sleep(0.05)
print("counted in", "/proc/<pid>/fd" if use_proc else "our own sockets")
for name in servers:
    print(f"{name}: {samples[name][0]} open at the start, {samples[name][-1]} after {times[-1]:.1f} s")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 2.6))
for (name, counts), color in zip(samples.items(), ["#e65100", "#1e88e5"]):
    ax.step(times, counts, where="post", label=name, color=color, linewidth=2)
ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
ax.text(1.02, 40, "--timeout 1", color="grey")
ax.set_xlabel("seconds after the last silent client connected")
ax.set_ylabel("connections open")
ax.set_ylim(-10, 220)
ax.legend(loc="center right")
ax.set_title("200 clients that connect and say nothing")
plt.show()

# %% [markdown]
# The step's server let each silent client go one second after it connected (the crowd
# took the time printed above to connect, so its first clients leave that much before the
# dashed line). The article's kept all 200, until the clients leave. Each holds one of the
# server's file descriptors, and a process that has used up its quota cannot accept anyone
# (a deep dive shows the quota). We check, and let the crowd go:

# %%
assert samples["the article's clock"][-1] == 200
assert samples["the step's clock"][-1] == 0
for name in servers:
    for sock in crowds[name]:
        sock.close()

# %% [markdown]
# The article's proposed fix would let these silent clients go, but change nothing for the
# next client: one that sends a valid request one byte every 0.3 s, and gives up after
# 1.5 s. Each byte comes sooner than the 1 s timeout, so it restarts the article's clock
# before it runs out:

# %%
def trickle(srv, data, every=0.3, seconds=1.5):
    """Send a byte every ``every`` s; return what came back and when (s after connecting)."""
    started = time.monotonic()
    with socket.create_connection(srv.address, timeout=seconds) as sock:
        for byte in data:
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # the server has closed the connection
                break
            # Wait up to `every` s for something to read (an answer, or the server closing).
            readable, _, _ = select.select([sock], [], [], every)
            if readable:
                try:
                    return sock.recv(65536), time.monotonic() - started
                except ConnectionResetError:  # the deep dive on connection resets says why
                    return b"(connection reset)", time.monotonic() - started
            if time.monotonic() - started > seconds:
                break
    return b"", time.monotonic() - started


# %% [markdown]
# One such client for each server, both at once:

# %%
slow_request = request("GET", "/hello_world", headers={"X-Slow": "a" * 100})
print(f"the request: {len(slow_request)} bytes, {len(slow_request) * 0.3:.0f} s to send at this pace")
with ThreadPoolExecutor(2) as pool:
    results = dict(zip(servers, pool.map(lambda srv: trickle(srv, slow_request), servers.values())))
for name, (answer, seconds) in results.items():
    first_line = answer.split(b"\r\n")[0].decode() or "(nothing yet)"
    print(f"{name}: {first_line} after {seconds:.1f} s")
assert results["the article's clock"][0] == b""
assert results["the step's clock"][0].startswith(b"HTTP/1.1 408") or results["the step's clock"][0] == b"(connection reset)"

# %% [markdown]
# The article's server still waits, and would wait as patiently for a request that takes a
# year. The step's answered `408` one second after the client connected: one deadline per
# connection, set in `connection_made`, never moved by data. (Real servers keep several, such
# as one for an idle connection, which step 09 needs.)

# %% [markdown]
# ## Refusing a request
#
# `HTTPError` plays the part of Flask's `abort()`: code that meets a request it will not
# handle raises `HTTPError(status, message)`, and one method, `refuse`, answers it. The new
# imports are the httptools parser's exceptions. `MAX_HEADER_SIZE` is the limit on a
# request's head, 16 KiB (as in Node.js).

# %%
show_diff(OLD, NEW, containing="class HTTPError(Exception):")

# %% [markdown]
# `data_received` now calls `feed_data` inside a `try` (its first lines count the bytes of
# an unfinished head: they come with `431`, below). Its four `except` clauses:

# %%
show_code(NEW, "except HTTPError as error:")
show_code(NEW, "except HttpParserCallbackError as error:")
show_code(NEW, "except HttpParserUpgrade:")
show_code(NEW, "except HttpParserError as error:")

# %% [markdown]
# - `HTTPError`: raised by that head count, in `data_received` itself.
# - `HttpParserCallbackError`: one of our `on_...` methods raised an exception. httptools
#   raises its own instead, with ours as its `__context__` (where Python records the
#   exception being handled when another is raised). An `HTTPError` there is refused;
#   anything else is a bug of ours, and `raise` lets asyncio log it.
# - `HttpParserUpgrade`: the request asks to switch protocols. It is complete and answered
#   in HTTP/1.1 anyway.
# - `HttpParserError`: the bytes are not HTTP: `400`, with the parser's words.
#
# Until now these exceptions escaped: asyncio logged `Fatal error: protocol.data_received()
# call failed.` and closed the connection without a word (step 05 showed it).

# %% [markdown]
# `refuse` stops the clock and answers. One connection can carry several requests (step
# 09). After a refusal the parser has stopped, and cannot find where the next one starts,
# so we close (until step 09, `response_writer` closes after every answer anyway).

# %%
show_code(NEW, "def refuse")

# %% [markdown]
# `on_message_complete` stops the clock: the request came in time. The `400` for a body that
# is not JSON is now raised as an `HTTPError`, and a new `except` turns
# `HttpParserInvalidURLError` into one: a URL the parser lets through but `parse_url`
# refuses, such as `http://` alone.

# %%
show_code(NEW, "def on_message_complete")

# %% [markdown]
# Bytes that are not HTTP, byte for byte:

# %%
ex = exchange(server.host, server.port, b"HELLO? \r\n\r\n")
show_exchange(ex)
assert ex.response.status == 400 and ex.closed

# %% [markdown]
# The message passes on the parser's words. A few more:

# %%
malformed = {
    "a header without a colon": b"GET /hello_world HTTP/1.1\r\nNo colon here\r\n\r\n",
    "an unknown HTTP version": b"GET /hello_world HTTP/9.9\r\n\r\n",
    "two Content-Length headers": b"POST /hello_world HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "an invalid chunk size": b"POST /hello_world HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "a URL parse_url refuses": b"GET http:// HTTP/1.1\r\n\r\n",
}
for name, data in malformed.items():
    ex = exchange(server.host, server.port, data)
    print(f"{name:27} -> {ex.response.status} {ex.json()['message']}")
    assert ex.response.status == 400 and ex.closed

# %% [markdown]
# Two `Content-Length` headers are refused for a good reason: if a proxy in front believed
# one and the server the other, an attacker could slip a request past it ("request
# smuggling").

# %% [markdown]
# ## Two limits: the body and the head
#
# `on_message_begin` starts each request's counts at zero, and sets the clock's flag:

# %%
show_code(NEW, "def on_message_begin")

# %% [markdown]
# **413 Content Too Large** (before Python 3.13 its reason phrase was "Request Entity Too
# Large"; clients go by the code). `on_header` refuses a `Content-Length` over `--max-body`
# before a byte of the body is read. A chunked body announces no size, so `on_body` counts
# its bytes. (`on_header`'s first line adds up the head's size, for `431`.)

# %%
show_code(NEW, "def on_header")
show_code(NEW, "def on_body")

# %% [markdown]
# The head of a request that announces 2,000,000 bytes of body, and no body. The answer
# comes at once:

# %%
from http import HTTPStatus

head = request("POST", "/hello_world", headers={"Content-Type": "application/json", "Content-Length": "2000000"})
ex = exchange(server.host, server.port, head)
show_exchange(ex)
print(f"answered after {ex.seconds * 1000:.1f} ms")
assert ex.response.status == 413 and ex.closed and ex.seconds < 0.5
assert ex.response.status_line.endswith(HTTPStatus(413).phrase)

# %% [markdown]
# The server never reads, stores or waits for the 2 MB.
#
# Next, a chunked body one byte over the limit, in chunks of 64 KiB. `[:-5]` drops the final
# `0\r\n\r\n`, so the request never completes: the `413` cannot come from its end, only from
# `on_body`'s count.

# %%
from harness import chunked

head = request("POST", "/hello_world", headers={"Transfer-Encoding": "chunked"})
ex = exchange(server.host, server.port, head + chunked(b"x" * (1024 * 1024 + 1), 65536)[:-5])
print(ex.response.status_line, ex.json())
assert ex.response.status == 413

# %% [markdown]
# **431 Request Header Fields Too Large.** `on_url` and `on_header` add up the sizes of the
# URL and of the header fields in `_header_size`. `on_headers_complete`, called at the blank
# line that ends the head, checks it against `MAX_HEADER_SIZE`:

# %%
show_code(NEW, "def on_url")
show_code(NEW, "def on_headers_complete")

# %% [markdown]
# A header line that never ends never reaches `on_header`. So the first lines of
# `data_received` keep a second count, `_head_size`: the bytes that left the request
# unfinished and brought no body (`body_before` is `_body_size` before `feed_data`), or were
# the "trailer" lines a chunked body may end with (header lines after its last chunk):

# %%
show_code(NEW, "body_before = self._body_size")
show_code(NEW, "try:")

# %% [markdown]
# So `_header_size` counts the fields of a head that has ended, `_head_size` the raw bytes
# of one still arriving. A complete head too large, and a header line that never ends, are
# both refused at once:

# %%
huge = request("GET", "/hello_world", headers={"X-Big": "a" * 20_000})
endless = b"GET /hello_world HTTP/1.1\r\nX-Endless: " + b"a" * 20_000
for name, data in (("a complete head", huge), ("an endless header line", endless)):
    ex = exchange(server.host, server.port, data)
    print(f"{name:23} -> {ex.response.status_line} after {ex.seconds * 1000:.1f} ms")
    assert ex.response.status == 431 and ex.closed and ex.seconds < 0.5
print("the message:", ex.json()["message"])

# %% [markdown]
# ## The server served on
#
# Through all this, the step's server logged no error, and only complete, valid requests
# reached a handler. Its log has five `Handle:` lines: the four normal clients of the crowd
# demo, and this one.

# %%
ex = exchange(server.host, server.port, request("GET", "/hello_world"))
print(ex.response.status_line, ex.json())
handled = len(waits["the step's clock"]) + 1  # the normal clients among the crowd, and this one
server.wait_for("Handle:", count=handled)  # the log reaches us a moment after the answer
print(server.log())
assert ex.response.status == 200 and server.log().count("Handle:") == handled
assert "Traceback" not in server.log() and "Fatal error" not in server.log()

# %% [markdown]
# ## Stop the servers

# %%
print("the article's clock: exit status", late_server.stop())
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and late_server.returncode == 0
assert "Traceback" not in server.log() and "Fatal error" not in server.log()

# %% [markdown]
# That is the core of this step. The deep dives after "Try it" and "Where next" can be
# skipped.

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 0. **Build the step** in your own server file: `tutorial start 08` makes `my_server.py`
#    from step 07's server (or keeps the one you have), and `tutorial check` tells you when
#    it does all this step does.
# 1. **Challenge: a `--max-header` option.** The head's limit is a constant,
#    `MAX_HEADER_SIZE`, while the body's is an option. In `my_server.py`:
#
#    - add `--max-header N`, in bytes, 16384 unless told; `Server` gets it as an argument,
#      as it gets `max_body`;
#    - both checks of the head obey it: `on_headers_complete`'s, and the count of an
#      unfinished head in `data_received`;
#    - the `431`'s message names the limit in force.
#
#    Start your server with `python my_server.py --max-header 100`, and in a second terminal:
#
#    ```
#    curl -i --max-time 3 -H "X-Long: $(python -c "print('a' * 200)")" http://127.0.0.1:8080/hello_world
#    curl -i --max-time 3 http://127.0.0.1:8080/hello_world
#    ```
#
#    The first gets a `431` whose message says 100 bytes; the second still gets its `200`
#    (curl's own head is well under 100 bytes). The challenge's tests check the same, a header
#    line that never ends, and the default of 16 KiB:
#
#    ```
#    tutorial challenge 08         # the challenge, as its tests see it
#    tutorial check --challenge    # its tests, against your file
#    tutorial hint --challenge     # when you are stuck
#    ```
# 2. Put the article's clock back, in a copy of your file (`cp my_server.py late_timer.py`),
#    as in `server_late_timer.py` above: no clock in `connection_made`, a fresh one in every
#    `data_received`. `tutorial check --step 08 --file late_timer.py` stops at task 4, at the
#    client that connects and sends nothing; to see every failure, run pytest itself:
#
#    ```
#    pytest steps/08_limits --server late_timer.py
#    ```
#
#    Three fail, after a few seconds each: the silent client, the trickling client and the
#    200 clients. Each failure says what the server should do: start the timer in
#    `connection_made`, and do not restart it when data arrives. Then delete the copy.
#
# ## Where next
#
# Every answer still ends the connection. Step 09 keeps connections open for the next
# request (keep-alive) and answers several requests sent at once in order (pipelining); the
# clock then also closes connections left idle between requests.

# %% [markdown]
# ## Deep dive: how many silent clients a server can hold
#
# Each silent client holds one of the server's file descriptors, and a process may hold
# only so many (the servers inherit this notebook's limit):

# %%
try:
    import resource  # Unix only
    print(f"on this machine: {resource.getrlimit(resource.RLIMIT_NOFILE)[0]:,} file descriptors per process")
except ImportError:
    print("(no resource module here: Windows counts its limits differently)")

# %% [markdown]
# Once they are used up, the server cannot accept a new connection ("Too many open files").
# Silent clients cost an attacker almost nothing: they need no bandwidth. That is why the
# clock must start at `connection_made`, not at the first byte.

# %% [markdown]
# ## Deep dive: counting a head that has not ended
#
# httptools calls `on_header` only once a header line is complete. A line still arriving
# stays inside the parser, out of our sight, and grows there. We can watch it with a parser
# of our own and an object that records its calls:

# %%
from httptools import HttpRequestParser


class Recorder:
    def __init__(self):
        self.calls = []

    def on_url(self, url):
        self.calls.append(f"on_url {url.decode()}")

    def on_header(self, name, value):
        self.calls.append(f"on_header {name.decode()}")


recorder = Recorder()
HttpRequestParser(recorder).feed_data(b"GET /hello_world HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 20_000)
print(recorder.calls)
assert recorder.calls == ["on_url /hello_world", "on_header Host"]

# %% [markdown]
# 20,000 bytes of `X-Endless` went in, and no callback told us. So `data_received` counts
# for itself. Bytes that leave the request incomplete (`_receiving` is still set) and bring
# no body (`_body_size` has not moved) can only be head lines, or trailer lines: a chunked
# body may end with header lines of its own, "trailers", which the parser keeps out of
# sight the same way. `_head_size` adds up such bytes in a row, and `431` comes once they
# pass `MAX_HEADER_SIZE`. As soon as some body arrives, the head is behind us, and the
# count starts again at zero.
#
# So a head is counted twice, in two ways that agree to within a few bytes: the callbacks
# add up the URL and header fields of a complete head, and `data_received` every byte of an
# unfinished one, method and line ends included. A URL of 20,000 bytes gets its `431`
# whether it arrives all at once or in pieces. Strictly, HTTP has a code of its own for a
# URL that is too long, `414 URI Too Long`; the finished framework in `solution/` uses it.

# %% [markdown]
# ## Deep dive: how httptools hands our exceptions back
#
# An exception raised inside a callback does not come out of `feed_data` as it is. httptools
# catches it, raises its own `HttpParserCallbackError`, and sets that one's `__context__` to
# ours, by hand. (Python sets `__context__` itself on an exception raised while another is
# being handled; httptools uses the same attribute.) With a parser of our own:

# %%
from httptools import HttpParserCallbackError, HttpParserError, HttpParserUpgrade


class Refusal(Exception):
    pass


class Refuses:
    def on_header(self, name, value):
        raise Refusal(f"no {name.decode()} header, thanks")


try:
    HttpRequestParser(Refuses()).feed_data(b"GET / HTTP/1.1\r\nX-Thing: 1\r\n\r\n")
except HttpParserCallbackError as error:
    print(f"{type(error).__name__}: {error}")
    print("its __context__:", repr(error.__context__))
    assert isinstance(error.__context__, Refusal)

# %% [markdown]
# The order of `data_received`'s `except` clauses matters too. `HttpParserCallbackError` is a kind of
# `HttpParserError`, so it must come first, or the `400` clause would catch it.
# `HttpParserUpgrade` is not an `HttpParserError` at all: without its own clause it would
# escape. A parser raises it after a request with `Connection: Upgrade`, as `curl --http2`
# sends to ask for HTTP/2. Its argument is the number of bytes read, where the new protocol
# would start. httptools parses nothing after it.

# %%
print("HttpParserCallbackError is an HttpParserError:", issubclass(HttpParserCallbackError, HttpParserError))
print("HttpParserUpgrade is an HttpParserError:", issubclass(HttpParserUpgrade, HttpParserError))
upgrade = b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
try:
    HttpRequestParser(Recorder()).feed_data(upgrade)
except HttpParserUpgrade as error:
    print(f"{error!r} after a request of {len(upgrade)} bytes")

# %% [markdown]
# ## Deep dive: curl, a body over the limit, and connection resets
#
# A polite client sends a large body only once the server agrees. curl, for a body over
# 1 MiB, adds `Expect: 100-continue` ("tell me whether to go on") and waits a moment before
# sending the body. Our server never says `100 Continue`; it says `413` from the head, and
# curl stops there. With curl, if it is installed, and a body of 1.2 MB on a fresh server:

# %%
import shutil
import subprocess

if shutil.which("curl"):
    with ServerProcess(f"{STEP}/server.py") as curl_server:
        command = ["curl", "-sS", "-v", "--max-time", "5", "-H", "Content-Type: application/json",
                   "--data-binary", "@-", f"{curl_server.url}/hello_world"]
        done = subprocess.run(command, input=b'{"a": "' + b"x" * 1_200_000 + b'"}', capture_output=True, timeout=10)
    shown = [line for line in done.stderr.decode().splitlines() if line.startswith(("> ", "< ", "{ ", "} "))]
    print("\n".join(line for line in shown if not line.startswith(("> Host", "> User-Agent", "> Accept"))))
    print(done.stdout.decode())
    assert "> Expect: 100-continue" in shown and f"< HTTP/1.1 413 {HTTPStatus(413).phrase}" in shown
    assert not any(line.startswith("} ") for line in shown)  # no body data sent
else:
    print("(curl is not installed here)")

# %% [markdown]
# `>` lines are the head curl sent (without the `Host`, `User-Agent` and `Accept` lines it
# adds), `<` lines the head it received. `{` marks body bytes received, `}` body bytes sent:
# there is no `}` line, so no body went out.
#
# A client that does not wait, as in the chunked demo, may see something else. The server
# refuses at the chunk that passes the limit and closes without reading further. When a
# socket closes with bytes that arrived but were never read, the kernel *resets* the
# connection instead of closing it normally. A reset can wipe out the answer before the
# client reads it. So a client that keeps sending after a `413` may see "connection reset
# by peer" (curl usually still shows the `413`), and the trickling client may too.

# %% [markdown]
# ## Deep dive: an answer to a connection we are closing
#
# One more line changed, in `response_writer`. A client may send several requests in one
# write, even to a server that answers one per connection (step 09 is about such clients).
# The parser reads them all, and each gets a handler; the first answer, or a refusal,
# closes the connection. The other answers must not be written to a connection that is
# closing. asyncio would not send them anyway, but from the fifth write after the close on,
# it logs `socket.send() raised exception.` for each.

# %%
show_diff(OLD, NEW, containing="if self.transport is None or self.transport.is_closing():")

# %% [markdown]
# ## Deep dive: the second article's read loop that spins
#
# The article reads with asyncio **streams**, `data = await reader.read(1024)` in a loop,
# and worries that the loop could use up the whole CPU, since `read` would return `b""` when
# there is nothing to read. That is not quite how `read` behaves, and the difference matters. A
# stream server right here in the notebook (top-level `await` works in a notebook, as in
# step 02), and a client that connects to it:

# %%
import asyncio

accepted = asyncio.Queue()


async def keep_reader(reader, writer):
    await accepted.put((reader, writer))


stream_server = await asyncio.start_server(keep_reader, "127.0.0.1", 0)
client_reader, client_writer = await asyncio.open_connection(*stream_server.sockets[0].getsockname()[:2])
reader, writer = await asyncio.wait_for(accepted.get(), timeout=2)

# %% [markdown]
# While the client is connected and silent, `read` **waits**: nothing comes back within
# 0.1 s.

# %%
try:
    data = await asyncio.wait_for(reader.read(1024), timeout=0.1)
except asyncio.TimeoutError:
    data = None
print("read while the client is silent:", "still waiting after 0.1 s" if data is None else data)
assert data is None

# %% [markdown]
# Once the client has closed its end, `read` returns `b""`, "end of stream":

# %%
client_writer.close()
await client_writer.wait_closed()
print("the first read after the client closed:", await asyncio.wait_for(reader.read(1024), timeout=2))

# %% [markdown]
# And from then on it returns `b""` at once, at every call. A loop that only stops when the
# request is complete (here it never will be) goes round without ever waiting. We let it
# run for 0.1 s, and meanwhile a ticker task, standing in for the server's other clients,
# tries to note the time every 10 ms:

# %%
ticks = []


async def ticker():
    while True:
        ticks.append(time.monotonic())
        await asyncio.sleep(0.01)


ticking = asyncio.create_task(ticker())
await asyncio.sleep(0.05)  # let the ticker run a few times first
request_complete = False
rounds, returned = 0, set()
spin_start = time.monotonic()
while not request_complete and time.monotonic() - spin_start < 0.1:  # the time limit is ours, for the demo
    data = await reader.read(1024)
    rounds += 1
    returned.add(data)
spin_end = time.monotonic()
await asyncio.sleep(0.05)
ticking.cancel()
ticks_during = [t for t in ticks if spin_start < t < spin_end]
print(f"{rounds:,} reads in 0.1 s, all of them returned {returned}; the ticker ran {len(ticks_during)} times meanwhile")
assert rounds > 1000 and returned == {b""} and not ticks_during

# %% [markdown]
# Worse than burning the CPU: `read` at the end of the stream returns without ever handing
# control back to the event loop, so the loop ran nothing else, not the ticker, not another
# client, until our time limit stopped it. Without that limit the whole server would hang.
# The article's own loop happens to stop, since it also tests `reader.at_eof()`. But the
# cure it proposes for the spinning it fears, `await asyncio.sleep(0.1)` in the loop, would
# only slow such spinning down. The cure is to treat `b""` as the end: `if not data: break`.
#
# Our server uses a `Protocol`, and asyncio calls it, not the other way round: it calls
# `data_received` only with bytes, never with `b""`, and at the end of the stream it calls
# `eof_received`, then `connection_lost`, once each (step 02 traced those calls). There is
# no loop of ours to spin.

# %%
writer.close()
stream_server.close()
await stream_server.wait_closed()

# %% [markdown]
# ## Deep dive: the `Server` class's change, and the docstring's, in one piece
#
# In the diff, every change to the `Server` class falls in one long part, too long to read
# first. The core path took it method by method; here it is whole, with the lines each old
# method lost (`feed_data` moved into a `try`, the `400` for invalid JSON now raised):

# %%
show_diff(OLD, NEW, containing="def timeout_expired(self):")

# %% [markdown]
# The opening printed the new docstring; here is what it replaced:

# %%
show_diff(OLD, NEW, containing="Step 08: limits and timeouts")
