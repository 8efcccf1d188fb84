# %% [markdown]
# # Step 09: one connection, many requests
#
# Every server so far answered one request and hung up: `Connection: close`, then a new TCP
# connection for the next request. The second article makes that a rule of its design: among
# its constraints it lists **no persistent connections**. This step lifts that constraint.
#
# - An HTTP/1.1 connection now **stays open** after an answer (a "persistent" or "keep-alive"
#   connection), ready for the client's next request.
# - It closes when the client asks (`Connection: close`, or HTTP/1.0 without
#   `Connection: keep-alive`), after an error that leaves the stream unreadable (400, 408,
#   413, 431), or after `--timeout` seconds with nothing to do.
# - A client may send several requests without waiting for the answers (**pipelining**). The
#   server answers them **in the order they came**, one at a time, even when an earlier one is
#   slower. A new route, `GET /sleep/{ms}`, is that slow request.
#
# Where we are (the highlighted box is new: a queue of requests per connection, and the
# dotted arrow is the connection going round again):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser] --> Q[pipeline: one request at a time] --> R[router] --> F[handler] --> W[response]
#     W -. "connection stays open" .-> H
#     style Q fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## What changed since step 08
#
# The whole change, computed from the two files in `steps/`. Skim it; we take it apart below.

# %%
from harness.show import show_diff

OLD, NEW = "../steps/08_limits/server.py", "../steps/09_keep_alive/server.py"
show_diff(OLD, NEW)

# %% [markdown]
# The docstring says what the step promises:

# %%
show_diff(OLD, NEW, containing="Step 09: keep-alive and pipelining")

# %% [markdown]
# A `deque` ("double-ended queue", said "deck") is a list that is quick to take from the
# front: `popleft()` does not shift every other item as `list.pop(0)` does. The requests of a
# connection wait in one, first in, first out.

# %%
show_diff(OLD, NEW, containing="from collections import deque")

# %% [markdown]
# A `Request` now records two facts about the connection it came on: the HTTP version the
# client speaks, and whether the client will send more requests on this connection.

# %%
show_diff(OLD, NEW, containing="self.keep_alive = keep_alive")

# %% [markdown]
# `Response` no longer says `Connection: close` by itself. Whether a response ends its
# connection depends on the request it answers, which `Response` does not know: the writer
# decides that now (further down).

# %%
show_diff(OLD, NEW, containing="# a count of bytes, not of characters")

# %% [markdown]
# Step 08 started a task per request and kept it in `self.tasks`. That is gone. Instead,
# each connection has a **pipeline**: the complete requests that wait for their answer, in
# the order they arrived, and `_worker`, the task that answers them (never more than one at
# a time per connection). Two flags follow what the client does with its side of the
# connection: `_writing_paused`, it does not read our answers; `_eof`, it has closed its
# side (both explained below). `_requests_begun` counts the requests the parser has started;
# it helps with the header limit, below.

# %%
show_diff(OLD, NEW, containing="self.pipeline = deque()")

# %% [markdown]
# The timer of step 08 gave a client `--timeout` seconds, from connecting, to send its one
# request. With many requests per connection the clock must start again each time the server
# has nothing left to answer, so starting it becomes a method of its own, `start_timer`. And
# when the client goes away, `connection_lost` throws away the requests it left in the
# pipeline: nobody is there to read their answers.

# %%
show_diff(OLD, NEW, containing="def start_timer(self):")

# %% [markdown]
# Step 08 counted the bytes that leave a request incomplete and bring no body (head or
# trailer lines, which httptools keeps to itself until they end). With one request per
# connection, all such bytes belonged to that one request. Now one piece of data can hold
# the end of one request and the beginning of the next. So the piece counts only if it is
# still the *same* request as before this piece (no `on_message_begin` happened in
# between).
#
# The same hunk starts with two lines for `timeout_expired`: a connection whose answers
# are still unsent when the clock runs out belongs to a client that does not read them
# (more on that below). `close()` would wait for them to be sent, which may be never;
# `abort()` closes at once and drops them.

# %%
show_diff(OLD, NEW, containing="requests_before, body_before = self._requests_begun, self._body_size")

# %% [markdown]
# The heart of the step, in three methods.
#
# - `enqueue(request)` puts a complete request at the back of the pipeline. If no worker is
#   running, it starts one. If one is, the server is busy: it **pauses reading**
#   (`transport.pause_reading()`), so asyncio stops reading from this socket for now. This is
#   **back-pressure**: a client that sends requests faster than we answer fills its own
#   buffers, not our memory.
# - `answer_in_order()` is the worker: while the pipeline has a request, take the first one,
#   and `await` its whole answer before looking at the next. One request at a time, in order.
#   When the pipeline is empty, the worker ends (`_worker = None`; the next request starts a
#   new one) and the connection is idle: the timer starts again and reading resumes. A bug
#   of ours inside the worker (the handlers' own errors are caught earlier, in
#   `request_callback_handler`) must not end it silently: those last lines would never run,
#   so `_worker` would still point at the dead task, no new worker would ever start, and the
#   connection would stay open with nobody answering and no timer running. `except
#   Exception` logs the bug and aborts the connection instead.
# - `refuse(error)` no longer writes the error at once. The requests before the bad bytes may
#   still be waiting for their answers, so the error joins the queue behind them (an
#   `HTTPError` where a request would be), and the worker answers it in its turn. Reading
#   stops for good: after bytes that are not HTTP, nobody can tell where a next request would
#   start.
#
# And two things a client can do that closing every connection used to hide:
#
# - **It sends but does not read.** Our answers then pile up in the transport, unsent. asyncio
#   tells the protocol: `pause_writing()` when more than 64 KiB wait, `resume_writing()` when
#   they have drained. Meanwhile we read no more requests from it, so its answers cannot fill
#   our memory; and if it still reads nothing when the clock runs out, `timeout_expired`
#   aborts the connection.
# - **It closes its side after its last request** (a "half-close": `shutdown(SHUT_WR)` on its
#   socket). It will send nothing more, but it can still read. asyncio calls `eof_received`;
#   returning `True` keeps our side open, and we do that while we still owe answers. The
#   worker then closes the connection after the last one. (Returning nothing, as the
#   `Protocol` default does, makes asyncio close the connection at once, answers unsent.)
#
# `on_message_begin` counts the request and starts its head count at zero, which used to be
# fresh for every connection.

# %%
show_diff(OLD, NEW, containing="async def answer_in_order(self):")

# %% [markdown]
# When a request is complete, the parser knows its HTTP version and whether the connection
# should stay open: `should_keep_alive()` is false when the request says `Connection: close`,
# and for HTTP/1.0 unless it says `Connection: keep-alive`. (After a `Connection: Upgrade`
# request httptools parses nothing more on the connection, so that one closes too.) The
# request then goes to `enqueue` instead of a task of its own.

# %%
show_diff(OLD, NEW, containing="http_version=self._request_parser.get_http_version(),")

# %% [markdown]
# `response_writer` now knows which request it answers, and so how to end:
#
# - the client keeps the connection: write the answer, nothing more. An HTTP/1.0 client also
#   needs `Connection: keep-alive` in the answer, since for HTTP/1.0 closing is the default;
# - otherwise (the client asked to close, or `request` is `None` because the answer is an
#   error about bytes that were no request): say `Connection: close`, write, drop whatever is
#   still queued, and close.
#
# And one rule that closing every connection used to hide: the answer to a `HEAD` request
# has the head a `GET` would get, **without the body** (a client sends `HEAD` to read the
# headers only, and so does not read a body). Once a connection carries more requests,
# body bytes nobody reads would be taken for the start of the next response.

# %%
show_diff(OLD, NEW, containing="keep_alive = request is not None and request.keep_alive")

# %% [markdown]
# Last, the slow route. `await asyncio.sleep` stands for a handler that waits for something (a
# database, another service) without blocking the loop. It refuses more than a second, so
# that nobody can hold a connection's queue for long on purpose, and anything but digits.
# (The length is checked before `int()`: Python refuses to turn more than 4,300 digits into
# a number, with a `ValueError` that would make a 500 of a bad request.)

# %%
show_diff(OLD, NEW, containing="async def sleep(request, ms):")

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess

STEP = "../steps/09_keep_alive"
server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client reads one response at a time: its head up to the empty line, then exactly
# `Content-Length` bytes of body. It can no longer read "until the server closes", since the
# server does not close. It asks two questions one after the other, then sends three requests
# in one write, the slow one first:

# %%
from harness.show import run_client

done = run_client(f"{STEP}/client.py", "--port", str(server.port))
assert done.returncode == 0 and "The server closed the connection" in done.stdout

# %% [markdown]
# ## Two requests on one connection, byte for byte
#
# `Connection` (from the harness) is a client that keeps its socket: `ask` sends a request
# and reads one whole response. Two questions on the same socket:

# %%
import secrets

from harness import Connection, request
from harness.show import show_bytes, show_exchange

names = [secrets.token_hex(3), secrets.token_hex(3)]
with Connection(server.host, server.port) as conn:
    port_used = conn.sock.getsockname()[1]
    for name in names:
        conn.ask(request("GET", f"/hello/{name}"))
    still_ours = conn.sock.getsockname()[1] == port_used
show_exchange(conn.exchange)
print(f"both answers came on the one connection from our port {port_used}")
assert still_ours and not conn.exchange.closed and len(conn.exchange.responses()) == 2
assert b"Connection: close" not in conn.exchange.received

# %% [markdown]
# Two requests went out, two responses came back, and neither says `Connection: close`: in
# HTTP/1.1 a connection stays open unless someone says otherwise. How does the client know
# where the first response ends and the second begins? Only from `Content-Length`. That is
# why a byte-exact `Content-Length` (step 04) matters even more now: one byte off, and every
# later response on the connection is read wrong.
#
# A client that is done says so, and the server closes after that answer:

# %%
with Connection(server.host, server.port) as conn:
    conn.ask(request("GET", "/hello/first"))
    conn.ask(request("GET", "/hello/last", headers={"Connection": "close"}))
    closed = conn.wait_closed()
show_bytes(conn.exchange.received, f"← both answers (then the server {'closed' if closed else 'did NOT close'} the connection):")
assert closed and conn.exchange.responses()[1].header("Connection") == "close"

# %% [markdown]
# ### HTTP/1.0, both ways
#
# HTTP/1.0 came first, and in it a connection carries one request unless the client asks for
# more with `Connection: keep-alive`. The server's answer then confirms it with the same
# header:

# %%
from harness import exchange


def http10(target, keep_alive):
    extra = "Connection: keep-alive\r\n" if keep_alive else ""
    return f"GET {target} HTTP/1.0\r\nHost: {server.host}\r\n{extra}\r\n".encode()


plain = exchange(server.host, server.port, http10("/hello/old", keep_alive=False), timeout=2)
print("HTTP/1.0:                         Connection:", plain.response.header("Connection"),
      "->", "closed" if plain.closed else "open")
with Connection(server.host, server.port) as conn:
    kept = conn.ask(http10("/hello/old", keep_alive=True))
    again = conn.ask(http10("/hello/again", keep_alive=True))  # the same connection, still open
print("HTTP/1.0 + Connection: keep-alive: Connection:", kept.header("Connection"), "-> open, answered twice")
assert plain.closed and plain.response.header("Connection") == "close"
assert kept.header("Connection") == again.header("Connection") == "keep-alive"

# %% [markdown]
# ## Pipelining: three requests in one write
#
# A client does not have to wait for an answer before it sends the next request. Below, a
# small client of our own (plain sockets) sends three requests in **one** `sendall`, the slow
# one first, and notes the time at which each answer is complete. `read_answers` is all it
# needs to split the stream: find the empty line that ends a head, read `Content-Length`, take
# that many bytes of body, repeat.

# %%
import re
import socket
import time


def read_answers(sock, count, buffer=b""):
    """Receive until `count` whole responses are in; return them and any bytes after them."""
    answers = []
    while len(answers) < count:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", buffer[:end + 2])[1])
            if len(buffer) >= end + 4 + length:
                answers.append(buffer[:end + 4 + length])
                buffer = buffer[end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(answers)} of {count} answers")
        buffer += chunk
    return answers, buffer


def body_of(answer):
    return answer.split(b"\r\n\r\n", 1)[1].decode()


def pipeline_with_times(address, requests):
    """Send all `requests` in one write; return (seconds after sending, answer) for each answer."""
    timeline, buffer = [], b""
    with socket.create_connection(address, timeout=5) as sock:
        started = time.perf_counter()
        sock.sendall(b"".join(requests))
        for _ in requests:
            (answer,), buffer = read_answers(sock, 1, buffer)
            timeline.append((time.perf_counter() - started, answer))
    return timeline


PIPELINED = [request("GET", "/sleep/300"), request("GET", "/hello/fast"), request("GET", "/text")]
timeline = pipeline_with_times(server.address, PIPELINED)
for sent, (seconds, answer) in zip(PIPELINED, timeline):
    print(f"{sent.split(b' HTTP')[0].decode():16} answered after {seconds:.3f} s: {body_of(answer)}")

# %% [markdown]
# The bytes that went out, and the ones that came back, in one piece each:

# %%
show_bytes(b"".join(PIPELINED), "→ one write from the client:")
show_bytes(b"".join(answer for _, answer in timeline), "← the answers, in the order they left the server:")
assert [body_of(answer) for _, answer in timeline] == ['{"slept_ms": 300}', '{"hello": "fast"}', "Hello, world"]
assert timeline[0][0] >= 0.29 and timeline[1][0] >= timeline[0][0]

# %% [markdown]
# `/hello/fast` needs no time at all, yet it was answered only after `/sleep/300`, and all
# three answers left the server at about 0.3 s. Nobody paid the 0.3 s twice: the fast
# requests waited for the slow one, then went out at once. On a sequence diagram:
#
# ```mermaid
# sequenceDiagram
#     participant C as client
#     participant S as server (one connection)
#     C->>S: GET /sleep/300 + GET /hello/fast + GET /text (one write)
#     Note over S: the parser finds 3 requests: pipeline = [sleep, fast, text]
#     Note over S: answer_in_order: sleep 300 ms
#     S-->>C: 200 {"slept_ms": 300}
#     S-->>C: 200 {"hello": "fast"}
#     S-->>C: 200 Hello, world
# ```
#
# ## Why one at a time
#
# Step 08 started one task per request, so several handlers of the same connection could run
# at once. That was harmless when a connection carried one request. Here is step 09 with
# step 08's way put back (a copy of the step's file):

# %%
from harness.variant import variant

task_per_request = variant(
    f"{STEP}/server.py",
    ("        self.enqueue(request)\n\n    async def request_callback_handler",
     "        task = asyncio.get_running_loop().create_task(\n"
     "            self.router.dispatch(request, self.request_callback_handler)\n"
     "        )\n"
     "        self.tasks.add(task)\n"
     "        task.add_done_callback(self.tasks.discard)\n\n    async def request_callback_handler"),
    ("        self.pipeline = deque()\n", "        self.pipeline = deque()\n        self.tasks = set()\n"),
    name="server_task_per_request.py")
show_diff(f"{STEP}/server.py", task_per_request)

# %% [markdown]
# The same three requests, sent the same way:

# %%
unordered = ServerProcess(task_per_request).start()
wrong = pipeline_with_times(unordered.address, PIPELINED)
for sent, (seconds, answer) in zip(PIPELINED, wrong):
    print(f"{sent.split(b' HTTP')[0].decode():16} gets the answer after {seconds:.3f} s: {body_of(answer)}")
assert wrong[0][1].endswith(b'{"hello": "fast"}')

# %% [markdown]
# Each answer went out as soon as its handler finished, so the fast ones overtook the slow
# one. The client cannot know: HTTP/1.1 puts no request number on an answer, and the only
# rule is "answers come in the order of the requests". So it took `{"hello": "fast"}` as the
# answer to `/sleep/300`, and so on down the line. With real data, that is one user's page
# sent to another request. (HTTP/2 solves this differently: every request and answer carries
# a stream number, so answers may come in any order.) The step's queue is what prevents it.

# %% [markdown]
# ## Errors still close, in their turn
#
# A good request followed by bytes that are not HTTP, in one write. The good one is answered
# first; then the `400`, with `Connection: close`; then the server closes, because after
# garbage it cannot tell where a next request would start:

# %%
ex = exchange(server.host, server.port, request("GET", "/hello/good") + b"\x00 not HTTP\r\n\r\n")
show_exchange(ex)
statuses = [response.status for response in ex.responses()]
print("statuses:", statuses, "| closed:", ex.closed)
assert statuses == [200, 400] and ex.closed

# %% [markdown]
# ## An idle connection does not stay for ever
#
# An open connection costs the server a file descriptor and some memory, so one that has
# nothing more to ask is closed after `--timeout` seconds (5 by default). A server with
# `--timeout 1`, one question, then silence:

# %%
short = ServerProcess(f"{STEP}/server.py", "--timeout", "1").start()
with Connection(short.host, short.port, timeout=5) as conn:
    conn.ask(request("GET", "/hello/idle"))
    answered = time.perf_counter()
    closed = conn.wait_closed(timeout=5)
    idle = time.perf_counter() - answered
print(f"closed by the server {idle:.2f} s after its answer" if closed else "still open")
assert closed and 0.8 <= idle <= 3

# %% [markdown]
# ## The speed-up, measured
#
# What does keeping the connection buy? We send the same `GET /hello/x` 2,000 times, three
# ways, with a small client of our own (plain blocking sockets, in this kernel), always to
# the step 09 server:
#
# - **(a) a new connection for each request**: the request says `Connection: close`, so the
#   server closes after its answer. That is what every client of step 08 had to do;
# - **(b) one kept-alive connection**: send a request, wait for its answer, send the next;
# - **(c) pipelined in batches of 16** (an arbitrary size): send 16 requests in one write,
#   read the 16 answers, repeat.
#
# The server and its handler are the same for all three: only the way the client uses
# connections changes.

# %%
N, BATCH = 2000, 16
REQUEST = request("GET", "/hello/x")
ANSWER = b'{"hello": "x"}'


def new_connection_each(address, n):
    closing = request("GET", "/hello/x", headers={"Connection": "close"})
    for _ in range(n):
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(closing)
            (answer,), _ = read_answers(sock, 1)
            assert answer.endswith(ANSWER)


def one_kept_alive(address, n):
    with socket.create_connection(address, timeout=5) as sock:
        buffer = b""
        for _ in range(n):
            sock.sendall(REQUEST)
            (answer,), buffer = read_answers(sock, 1, buffer)
            assert answer.endswith(ANSWER)


def pipelined(address, n, batch=BATCH):
    with socket.create_connection(address, timeout=5) as sock:
        buffer = b""
        for first in range(0, n, batch):
            count = min(batch, n - first)
            sock.sendall(REQUEST * count)
            answers, buffer = read_answers(sock, count, buffer)
            assert all(answer.endswith(ANSWER) for answer in answers)


MODES = {
    "(a) new connection each": new_connection_each,
    "(b) one kept-alive connection": one_kept_alive,
    f"(c) pipelined, {BATCH} at a time": pipelined,
}

# %% [markdown]
# Each way runs three times, the rounds interleaved. A run this short (a few hundredths to a
# few tenths of a second) is easily slowed down by whatever else the machine does, so we
# keep every run: the table and the bars use the fastest of the three, and the chart also
# shows each run as a dot, so that you can see how far apart they are.

# %%
runs = {mode: [] for mode in MODES}  # seconds for the N requests, one entry per run
for _ in range(3):
    for mode, send_all in MODES.items():
        started = time.perf_counter()
        send_all(server.address, N)
        runs[mode].append(time.perf_counter() - started)

best = {mode: min(seconds) for mode, seconds in runs.items()}
rate = {mode: N / seconds for mode, seconds in best.items()}
base = rate["(a) new connection each"]
print(f"{'':32}{'µs/request':>11}{'requests/s':>12}{'vs (a)':>8}")
for mode, seconds in best.items():
    print(f"{mode:32}{seconds / N * 1e6:11.0f}{rate[mode]:12,.0f}{rate[mode] / base:7.1f}x")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 2.6))
modes = list(rate)
ax.barh(modes, [rate[mode] for mode in modes], color=["#90a4ae", "#1e88e5", "#ef6c00"])
for row, mode in enumerate(modes):
    ax.plot([N / seconds for seconds in runs[mode]], [row] * len(runs[mode]), "k.")
    ax.annotate(f"{rate[mode]:,.0f}/s", (rate[mode], row), xytext=(6, 0), textcoords="offset points", va="center")
ax.set_xlabel(f"requests per second: bar = fastest of 3 runs, dots = each run ({N:,} requests)")
ax.set_xlim(0, max(rate.values()) * 1.25)
ax.xaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
ax.invert_yaxis()
ax.set_title("The same requests, three ways (client and server on this machine)")
plt.show()

# %% [markdown]
# Read these numbers for what they are. The times include our client's own work: it is
# Python too, running in this kernel on the same machine, so they are not the server's speed
# alone. And they change from machine to machine, and from one run of the notebook to the
# next, more than the dots suggest: on this tutorial's 2-core test machine, (b) came out 2
# to 5 times as fast as (a), and (c) 7 to 10 times (we come back to why (b) moves so much).
# What we assert is only the order:

# %%
assert rate["(b) one kept-alive connection"] > rate["(a) new connection each"]
assert rate[f"(c) pipelined, {BATCH} at a time"] > rate["(b) one kept-alive connection"]

# %% [markdown]
# ### Where the time goes
#
# **(a) A new connection each time.** Before the request can go out, TCP's handshake, three
# small packets: the client sends SYN, the server's kernel answers SYN-ACK, the client sends
# ACK. Then the server's loop accepts the connection, asyncio makes a transport and calls
# our factory: a new `Server` object, a new `HttpRequestParser`, a timer. After the answer
# both sides close (a FIN packet each way), `connection_lost` runs, and the client's socket
# and the server's are file descriptors to create and free, with system calls for each step,
# 2,000 times over. How much of (a) is only that? The same 2,000 connections, opened and
# closed with no request at all (the client half-closes, the server sees the end of the
# stream and closes too):

# %%
def connect_and_close_only(address, n):
    for _ in range(n):
        with socket.create_connection(address, timeout=5) as sock:
            sock.shutdown(socket.SHUT_WR)  # "I will send nothing"
            assert sock.recv(1) == b""  # the server closed its side


started = time.perf_counter()
connect_and_close_only(server.address, N)
only_connections = time.perf_counter() - started
print(f"{N} connections without a request: {only_connections / N * 1e6:.0f} µs each, "
      f"{only_connections / best['(a) new connection each']:.0%} of the time of (a)")

# %% [markdown]
# On the machine this tutorial was tested on, that was 60 to 80% of (a): most of the cost
# of (a) is the connections themselves, not HTTP.
#
# **(b) One kept-alive connection.** The connection is paid for once. But every request is
# still a **round trip**: the client writes and waits; the server's loop wakes up, reads,
# parses, starts a worker task, runs the handler, writes, and starts the idle timer again;
# the client wakes up and reads. Two processes take turns, and each turn costs system calls
# and a wake-up on each side. The wake-ups are why (b) moves so much from one run of the
# notebook to the next. On the test machine it took about 35 µs a request when the operating
# system happened to run the client and the server on the same core, and about 65 µs when
# it ran them on two different cores (we checked by pinning each process to a core): waking
# up a process that waits on another, idle, core costs more than switching on the same one.
#
# **(c) Pipelined.** One write carries 16 requests, and the server's loop wakes up once for
# all of them: one read, one `data_received`, in which the parser finds the 16 requests;
# one worker task answers them in a row (`/hello/x` never has to wait, so the worker never
# pauses between them), and the timer starts again once. The client, for its part, writes
# once per 16 requests. What is left for each request is its own work: parsing, routing, the
# handler, building the response, and one `transport.write`, so one system call, per answer.
# And the two processes no longer strictly take turns: on a machine with two cores or more,
# the client can read the first answers while the server is still writing the next ones.
#
# One more caution before you quote these ratios. Here a round trip never leaves the machine
# and takes microseconds, so the numbers above mostly count work: system calls, Python,
# wake-ups. Across a real network every round trip also costs the network's latency (well
# under a millisecond inside a data centre, tens of milliseconds across a continent), and
# then the number of round trips is what counts: a new connection adds one (the handshake,
# and more for HTTPS), keep-alive saves it, and pipelining shares one round trip among many
# requests. The order of (a), (b) and (c) stays the same; the ratios do not.
#
# Real-world note: browsers do not pipeline HTTP/1.1 (too many proxies got it wrong, and one
# slow answer holds up all the others, as `/sleep/300` did above). They open a few kept-alive
# connections per server instead, or use HTTP/2. Keep-alive itself, (b), is what every
# browser, `requests.Session` and `curl` with several URLs do.

# %% [markdown]
# ## Stop the servers

# %%
statuses = {"step 09": server.stop(), "step 09 --timeout 1": short.stop(), "task per request": unordered.stop()}
print(statuses)
print(server.log().splitlines()[-1])
assert all(status == 0 for status in statuses.values())
assert "Traceback" not in server.log() + unordered.log()

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. Watch curl reuse its connection for two URLs (`-v` shows what curl does):
#
#    ```
#    python steps/09_keep_alive/server.py
#    curl -v --max-time 5 http://127.0.0.1:8080/hello/one http://127.0.0.1:8080/hello/two
#    ```
#
#    Look for `Re-using existing connection` before the second request.
# 2. Real servers also limit how many requests one connection may carry (nginx's
#    `keepalive_requests`, 1000 by default), so that no client holds a connection for ever.
#    Copy the step's server to `my_server.py` and give it a limit of 100: count the requests
#    of a connection, and answer the 100th with `Connection: close`, then close. Then run the
#    step's tests against your copy:
#
#    ```
#    pytest steps/09_keep_alive --server my_server.py
#    ```
#
#    No test sends 100 requests on one connection, so they all pass: they check that your
#    copy still keeps every promise of this step (order, keep-alive, HTTP/1.0, errors,
#    timeouts, 100 clients at once), not the new limit. Check the limit yourself: 100
#    `conn.ask(...)` on one `harness.Connection`, as in this notebook; the 100th answer should
#    say `Connection: close`, and `conn.wait_closed()` should return `True`.
#
# ## Where next
#
# Step 10 gives the framework its face, the second article's `App`: routes declared with
# decorators (`@app.get("/hello/{name}")`), handlers that receive path parameters as
# arguments, `request.headers` and `request.json()`, and a graceful shutdown that lets a
# request in flight (a `GET /sleep/500`, say) finish before the server stops.
