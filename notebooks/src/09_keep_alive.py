# %% [markdown]
# # Step 09: one connection, many requests
#
# So far the server hung up after every answer, and the second article makes that a rule:
# **no persistent connections**. This step lifts it. A connection stays open for the
# client's next request (**keep-alive**), and requests sent without waiting for the answers
# (**pipelining**) are answered one at a time, in the order they came.
#
# Where we are (new: a queue of requests per connection; the dotted arrow is the connection
# going round again):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser] --> Q[pipeline: one request at a time] --> R[router] --> F[handler] --> W[response]
#     W -. "connection stays open" .-> H
#     style Q fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```
#
# ## The change in brief
#
# Four ideas, each run live, then a measurement of what they buy:
#
# 1. **Keep the connection open** unless the client asks to close it.
# 2. **Answer pipelined requests in order**: a queue per connection, one task answering it,
#    and a slow route, `GET /sleep/{ms}`, to show why.
# 3. **Errors wait their turn** in that queue.
# 4. **Close an idle connection** after `--timeout` seconds.

# %%
from harness.show import diff_size, show_diff

OLD, NEW = "../steps/08_limits/server.py", "../steps/09_keep_alive/server.py"
added, removed = diff_size(OLD, NEW)
print(f"step 08 -> step 09: {added} lines added, {removed} removed")
show_diff(OLD, NEW, collapsed="The whole change, from step 08")

# %% [markdown]
# The docstring states the new promise. (A client names its HTTP version as the last word
# of its request line: `GET / HTTP/1.1` today, `HTTP/1.0` from old clients.)

# %%
show_diff(OLD, NEW, containing="Step 09: keep-alive and pipelining")

# %% [markdown]
# ## 1. Keep the connection open
#
# A `Request` now carries two facts about its connection: the HTTP version the client
# speaks, and `keep_alive`, whether the client will send more requests on it.

# %%
show_diff(OLD, NEW, containing="self.keep_alive = keep_alive")

# %% [markdown]
# At the end of `on_message_complete`, the parser knows both. `should_keep_alive()` is false
# when the request says `Connection: close`, and for HTTP/1.0 unless it says
# `Connection: keep-alive`. The last line hands the request to `enqueue` instead of starting
# a task: read it as "answer this request" for now; part 2 shows what it does.

# %%
show_diff(OLD, NEW, containing="http_version=self._request_parser.get_http_version(),")

# %% [markdown]
# Step 08 ran only a connection's first request (its answer closed the connection). Now
# every request is answered, and that guard goes:

# %%
show_diff(OLD, NEW, containing="if self.answering:")

# %% [markdown]
# `Response` stops saying `Connection: close` on every answer. Whether an answer ends its
# connection depends on the request, which `Response` does not know.

# %%
show_diff(OLD, NEW, containing="# a count of bytes, not of characters")

# %% [markdown]
# `response_writer` now receives the request it answers, and decides:
#
# - the client keeps the connection: write the answer, nothing more (but tell an HTTP/1.0
#   client `Connection: keep-alive`: HTTP/1.0 closes by default);
# - otherwise (the client asked to close, or `request` is `None`: the answer is an error
#   about bytes that never made a whole request, such as a 400 or a 408): add
#   `Connection: close`, write, drop any requests still queued (the queue of part 2), close.
#
# The lines about `HEAD` belong to the advanced deep dive at the end.

# %%
show_diff(OLD, NEW, containing="keep_alive = request is not None and request.keep_alive")

# %% [markdown]
# ### Run it

# %%
from harness import Connection, ServerProcess, exchange, request

STEP = "../steps/09_keep_alive"
server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# Two requests on one connection. `Connection`, from the harness, is a client that keeps its
# socket: `ask` sends a request and reads one whole response.

# %%
from harness.show import show_bytes, show_exchange

with Connection(server.host, server.port) as conn:
    conn.ask(request("GET", "/hello/one"))
    second = conn.ask(request("GET", "/hello/two"))  # the same socket: no new connection
show_exchange(conn.exchange)
assert second.body == b'{"hello": "two"}' and b"Connection: close" not in conn.exchange.received

# %% [markdown]
# Neither answer says `Connection: close`: in HTTP/1.1 a connection stays open unless
# someone says otherwise. Step 08's server said it on every answer, and closed. The same
# two requests to it:

# %%
from harness.wire import NoAnswer

old = ServerProcess("../steps/08_limits/server.py").start()
with Connection(old.host, old.port) as conn:
    first = conn.ask(request("GET", "/hello/one"))
    try:
        second = conn.ask(request("GET", "/hello/two"))
    except NoAnswer:  # not a byte of an answer came
        second = None
print(f"step 08, request 1: {first.status_line}, Connection: {first.header('Connection')}",
      "| request 2:", "no answer" if second is None else second.status_line)
assert second is None and old.stop() == 0

# %% [markdown]
# On a kept-alive connection, the client finds where a response ends only from its
# `Content-Length` (step 04): one byte off, and every later response is misread.
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
# In HTTP/1.0 a connection carries one request, unless the client asks for more with
# `Connection: keep-alive`; the answer then says it too. The status line still says
# `HTTP/1.1`: a server names the highest version it speaks, and the client reads the answer
# by the rules of its own version (RFC 9110, section 2.5).

# %%
def http10(target, keep_alive):
    extra = "Connection: keep-alive\r\n" if keep_alive else ""
    return f"GET {target} HTTP/1.0\r\nHost: {server.host}\r\n{extra}\r\n".encode()


plain = exchange(server.host, server.port, http10("/hello/old", keep_alive=False), timeout=2)
print(f"HTTP/1.0:                          {plain.response.status_line}, Connection:",
      plain.response.header("Connection"), "->", "closed" if plain.closed else "open")
with Connection(server.host, server.port) as conn:
    kept = conn.ask(http10("/hello/old", keep_alive=True))
    again = conn.ask(http10("/hello/again", keep_alive=True))  # the same connection, still open
print(f"HTTP/1.0 + Connection: keep-alive: {kept.status_line}, Connection:", kept.header("Connection"),
      f"-> {conn.answered} answers on one connection,", "closed" if conn.exchange.closed else "still open")
assert plain.closed and plain.response.header("Connection") == "close"
assert kept.header("Connection") == again.header("Connection") == "keep-alive" and not conn.exchange.closed

# %% [markdown]
# ## 2. Pipelining: answers in the order of the requests
#
# A client may send its next request before the answer to the last one has come. HTTP/1.1
# puts no request number on an answer, so it has one rule: **answers come in the order of
# the requests**.
#
# Step 08 started a task per request. With one request per connection that was fine; now
# two handlers of one connection could run at once, and the faster would answer first. So
# each connection gets a queue, `pipeline`: the complete requests waiting for their answer,
# in the order they came. It is a `deque` ("double-ended queue", said "deck"): a list that is
# quick to take from the front.

# %%
show_diff(OLD, NEW, containing="from collections import deque")

# %% [markdown]
# `_worker` is the one task that answers a connection's queue. The flags `_writing_paused`
# and `_eof`, and the counter `_requests_begun`, are for the advanced deep dive.

# %%
show_diff(OLD, NEW, containing="self.pipeline = deque()")

# %% [markdown]
# `enqueue(request)` puts a request at the back of the queue, and starts a worker if none
# runs. If one runs, `transport.pause_reading()` tells asyncio to read no more from this
# socket until `resume_reading()`. A client that sends faster than we answer is then held
# back by the operating system (its sends block once the socket buffers are full) instead
# of filling our memory: that is **back-pressure**. Pausing stops only later reads: requests
# already received are still parsed and queued.

# %%
from harness.show import show_code

show_code(NEW, "def enqueue")

# %% [markdown]
# `answer_in_order()` is the worker. It takes the first request and `await`s its whole
# answer before the next. Once the queue is empty it ends, the clock starts again
# (`start_timer`, part 4) and reading resumes. `self._worker` keeps the task alive (step
# 03's weak reference). A bug of ours in the loop would leave the client waiting for ever:
# `except Exception` logs it and **aborts** the connection (drops any unsent data and
# closes at once). The `HTTPError` branch is part 3's; `_eof` and `_writing_paused` are for
# the advanced deep dive.

# %%
show_code(NEW, "async def answer_in_order")

# %% [markdown]
# The slow route. `await asyncio.sleep` stands for a handler that waits for something (a
# database, another service) without blocking the loop. It accepts 0 to 1,000 ms, so that no
# one can hold a queue for long on purpose.

# %%
show_diff(OLD, NEW, containing="async def sleep(request, ms):")

# %% [markdown]
# ### Three requests in one write
#
# A small client of our own (plain sockets) sends three requests in **one** `sendall`, the
# slow one first, and notes when each answer is complete. Its helpers first. `read_answers`
# splits the stream: find the empty line that ends a head, read `Content-Length`, take that
# many bytes, repeat.

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
            head = buffer[:end + 2].lower()  # header names may come in any case
            length = int(re.search(rb"\r\ncontent-length: *(\d+)", head)[1])
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

# %% [markdown]
# Now the three requests:

# %%
PIPELINED = [request("GET", "/sleep/100"), request("GET", "/hello/fast"), request("GET", "/text")]
timeline = pipeline_with_times(server.address, PIPELINED)
for sent, (seconds, answer) in zip(PIPELINED, timeline):
    print(f"{sent.split(b' HTTP')[0].decode():16} answered after {seconds:.3f} s: {body_of(answer)}")
show_bytes(b"".join(PIPELINED), "→ one write from the client:")
show_bytes(b"".join(answer for _, answer in timeline), "← the answers, in the order they left the server:")
assert [body_of(answer) for _, answer in timeline] == ['{"slept_ms": 100}', '{"hello": "fast"}', "Hello, world"]
assert timeline[0][0] >= 0.09 and timeline[1][0] >= timeline[0][0]

# %% [markdown]
# `/hello/fast` needs no time, yet it was answered after `/sleep/100`: the fast requests
# waited for the slow one, then all three answers left at about 0.1 s.
#
# ```mermaid
# sequenceDiagram
#     participant C as client
#     participant S as server (one connection)
#     C->>S: GET /sleep/100 + GET /hello/fast + GET /text (one write)
#     Note over S: the parser finds 3 requests: pipeline = [sleep, fast, text]
#     Note over S: answer_in_order: sleep 100 ms
#     S-->>C: 200 {"slept_ms": 100}
#     S-->>C: 200 {"hello": "fast"}
#     S-->>C: 200 Hello, world
# ```
#
# ### The bug, put back: a task per request
#
# Step 09 with step 08's task per request put back (a copy of the step's file, from the
# tutorial's catalogue of bugs):

# %%
from harness.bugs import bug

task_per_request = bug("task-per-request").variant()
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
# Each answer left as soon as its handler finished, so the fast ones overtook the slow one.
# The client cannot tell: it took `{"hello": "fast"}` as the answer to `/sleep/100`, and so
# on down the line. With real data, that is one user's page sent to another.
#
# The step's own client does both: two requests one after the other, then three in one
# write, the third saying `Connection: close`:

# %%
from harness.show import run_client

done = run_client(f"{STEP}/client.py", "--port", str(server.port))
assert done.returncode == 0 and "The server closed the connection" in done.stdout

# %% [markdown]
# ## 3. Errors wait their turn
#
# `refuse(error)` no longer writes the error at once. It stops reading for good (after bytes
# that are not HTTP, no one can tell where a next request starts), and queues the error
# behind the requests that came before the bad bytes. `answer_in_order` writes it in turn.

# %%
show_code(NEW, "def refuse")

# %% [markdown]
# A good request, then bytes that are not HTTP, in one write. The good one is answered
# first; then the `400`, with `Connection: close`; then the server closes:

# %%
ex = exchange(server.host, server.port, request("GET", "/hello/good") + b"\x00 not HTTP\r\n\r\n")
show_exchange(ex)
statuses = [response.status for response in ex.responses()]
print("statuses:", statuses, "| closed:", ex.closed)
assert statuses == [200, 400] and ex.closed

# %% [markdown]
# Step 08's `refuse` wrote the `400` at once and closed: the answer to `/hello/good` would
# never have been sent.

# %% [markdown]
# ## 4. An idle connection does not stay for ever
#
# An open connection costs a file descriptor and some memory. Step 08's timer gave a client
# `--timeout` seconds from connecting to send its one request. Now the clock starts again
# each time the queue is empty (`answer_in_order` calls `start_timer`). As in step 08, it
# stops once a request is complete, so a handler's own time never counts. And when a client
# goes away, `connection_lost` drops the requests it left queued: nobody would read their
# answers.

# %%
show_diff(OLD, NEW, containing="def start_timer(self):")

# %% [markdown]
# A server with `--timeout 0.3`, one question, then silence:

# %%
short = ServerProcess(f"{STEP}/server.py", "--timeout", "0.3").start()
with Connection(short.host, short.port, timeout=5) as conn:
    conn.ask(request("GET", "/hello/idle"))
    answered = time.perf_counter()
    closed = conn.wait_closed(timeout=5)
    idle = time.perf_counter() - answered
print(f"closed by the server {idle:.2f} s after its answer" if closed else "still open")
assert closed and 0.2 <= idle <= 2.5

# %% [markdown]
# ## The speed-up, measured
#
# What does keeping the connection buy? We send `GET /hello/x` 2,000 times to the step 09
# server, three ways, with small clients of our own (plain sockets):
#
# - **(a) a new connection for each request**: the request says `Connection: close`, as
#   every client of step 08 had to;
# - **(b) one kept-alive connection**: send a request, wait for its answer, send the next;
# - **(c) pipelined in batches of 16**: send 16 requests in one write, read the 16 answers,
#   repeat.

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
# Other work on the machine easily slows a run this short, so each way runs three times,
# interleaved. The table and the bars use the fastest run; the dots show each run.

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
# These times include our client's own work, and change between machines and runs: on this
# tutorial's 2-core test machine, (b) came out about 1.5 to 5 times as fast as (a), and (c)
# 5 to 10 times. We assert only the order:

# %%
assert rate["(b) one kept-alive connection"] > rate["(a) new connection each"]
assert rate[f"(c) pipelined, {BATCH} at a time"] > rate["(b) one kept-alive connection"]

# %% [markdown]
# ## Stop the servers

# %%
statuses = {"step 09": server.stop(), "step 09 --timeout 0.3": short.stop(), "task per request": unordered.stop()}
print(statuses)
print(server.log().splitlines()[-1])
assert all(status == 0 for status in statuses.values())
assert "Traceback" not in server.log() + short.log() + unordered.log()

# %% [markdown]
# That is the step. The deep dives after *Try it* and *Where next* can be skipped.

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
# 2. **Challenge: at most 100 requests on one connection.** Real servers limit how many
#    requests one connection may carry (nginx's `keepalive_requests`, 1000 by default), so that
#    no client holds a connection for ever.
#
#    *The rule.* In your own server file, set the limit at 100: the answer to the 100th
#    request of a connection says `Connection: close`, and then the server closes the
#    connection, as if the client had asked. The 99th answer still keeps it open, and each
#    new connection counts from zero. (`tutorial start 09` makes `my_server.py` from step
#    08's server, or keeps the one you have; `tutorial check` tells you when it does all this
#    step does.)
#
#    *Try it by hand.* Start your server with `python my_server.py`. In a second terminal,
#    ask curl for the same URL 101 times: the `$(python -c ...)` part writes
#    `-o /dev/null http://...` 101 times into the command. curl reuses its connection as long
#    as it may, `%{num_connects}` says for each answer whether it needed a new connection (1)
#    or not (0), and `sort | uniq -c` counts each:
#
#    ```
#    curl -s -w '%{num_connects}\n' $(python -c "print(' '.join(['-o /dev/null http://127.0.0.1:8080/hello/x'] * 101))") | sort | uniq -c
#    ```
#
#    With the limit, `99 0` and `2 1`: two connections for 101 requests (without it, one).
#
#    *What the tests check.* They ask 100 times on one connection and expect
#    `Connection: close` on the 100th answer only, and the close; they take turns on two
#    connections, 60 requests each, and expect neither to close; and they send 100 requests in
#    one write and expect 100 answers, the last one closing.
#
#    ```
#    tutorial challenge 09         # the challenges, as their tests see them
#    tutorial check --challenge    # their tests, against your file
#    tutorial hint --challenge     # when you are stuck
#    ```
# 3. **Challenge: a `Keep-Alive` header.** A client cannot know when the server will close
#    its idle connection, and a request sent just then is lost. Tell it: every answer that
#    keeps its connection open says `Keep-Alive: timeout=N`, N being the server's `--timeout`
#    in whole seconds; an answer that closes its connection does not. Start your server with
#    `python my_server.py --timeout 2`, then compare
#    `curl -i --max-time 3 http://127.0.0.1:8080/hello_world` with the same command plus
#    `-H "Connection: close"`. The tests start your server with `--timeout 2` and look for
#    `Keep-Alive: timeout=2` on a `200`, a `404`, a `405` and an HTTP/1.0 keep-alive answer,
#    and for no `Keep-Alive` on answers that close. `tutorial check --challenge` checks both
#    challenges, and says which one fails first.
#
# ## Where next
#
# Step 10 gives the framework its face, the second article's `App`: routes declared with
# decorators (`@app.get("/hello/{name}")`), handlers that receive path parameters as
# arguments, and a graceful shutdown that lets a request in flight finish.

# %% [markdown]
# ## Deep dive: where the time goes
#
# **(a) A new connection each time.** Before the request can go out, TCP's handshake takes
# three small packets: the client sends SYN, the server's kernel answers SYN-ACK, the client
# sends ACK. Then the server's loop accepts the connection, and asyncio makes a transport and
# calls our factory: a new `Server`, a new `HttpRequestParser`, a timer. After the answer both
# sides close (a FIN packet each way) and `connection_lost` runs. Each socket is a file
# descriptor to create and free, with system calls at every stage, 2,000 times over. How much
# of (a) is only that? The same 2,000 connections, opened and closed with no request at all,
# on a fresh step 09 server. The client says at once that it will send nothing
# (`shutdown(SHUT_WR)`); the server sees the end of the stream and closes too:

# %%
def connect_and_close_only(address, n):
    for _ in range(n):
        with socket.create_connection(address, timeout=5) as sock:
            sock.shutdown(socket.SHUT_WR)  # "I will send nothing"
            assert sock.recv(1) == b""  # the server closed its side


timing = ServerProcess(f"{STEP}/server.py").start()
started = time.perf_counter()
connect_and_close_only(timing.address, N)
only_connections = time.perf_counter() - started
print(f"{N} connections without a request: {only_connections / N * 1e6:.0f} µs each, "
      f"{only_connections / best['(a) new connection each']:.0%} of the time of (a)")
assert timing.stop() == 0 and "Traceback" not in timing.log()

# %% [markdown]
# On the machine this tutorial was tested on, that was well over half of (a), at times
# all of it: most of the cost of (a) is the connections themselves, not HTTP.
#
# **(b) One kept-alive connection.** The connection is paid for once. But every request is
# still a **round trip**: the client writes and waits; the server's loop wakes up, reads,
# parses, starts a worker task, runs the handler, writes, and starts the idle timer again;
# the client wakes up and reads. The two processes take turns, and each turn costs system
# calls and a wake-up on each side. The wake-ups are why (b) varies so much between runs. On
# an idle test machine it took about 35 µs a request when the operating system ran client
# and server on the same core, and about 65 µs on two different cores (we checked by pinning
# each process to a core), and over 100 µs when the machine was busy: waking a process that
# waits on another core costs more than switching on the same one.
#
# **(c) Pipelined.** One write carries 16 requests, and the server's loop wakes up once for
# all of them: one read, one `data_received`, in which the parser finds 16 requests; one
# worker answers them in a row (`/hello/x` never waits, so the worker never pauses), and the
# timer starts again once. The client writes once per 16 requests. What is left per request
# is its own work: parsing, routing, the handler, building the response, and one
# `transport.write` (one system call) per answer. And the two processes no longer strictly
# take turns: with two cores or more, the client reads the first answers while the server
# writes the next.
#
# Here a round trip never leaves the machine and takes microseconds, so these numbers mostly
# count work: system calls, Python, wake-ups. Across a real network every round trip also
# costs the network's latency (well under a millisecond inside a data centre, tens of
# milliseconds across a continent), and then the number of round trips is what counts: a new
# connection adds one (the handshake, and more for HTTPS), keep-alive saves it, and
# pipelining shares one among many requests. The order of (a), (b) and (c) stays; the ratios
# do not.
#
# Browsers do not pipeline HTTP/1.1: too many proxies got it wrong, and one slow answer
# holds up the rest, as `/sleep/100` did in part 2. They keep a few connections alive per
# server instead, or use HTTP/2. Keep-alive itself, (b), is what every browser,
# `requests.Session` and `curl` with several URLs do.

# %% [markdown]
# ## Deep dive (advanced): clients that never read, close half-way, or ask with HEAD
#
# While every connection closed after one answer, three things a client can do did not
# matter. On a kept-alive connection they do:
#
# - **It sends but never reads.** Our answers pile up unsent in the transport. asyncio calls
#   the protocol's `pause_writing()` when more than 64 KiB wait, and `resume_writing()` once
#   they have drained. Meanwhile the server reads no more requests from it, so its answers
#   cannot fill our memory. If it still reads nothing when the clock runs out,
#   `timeout_expired` aborts the connection: `close()` would first wait for the unsent
#   answers, perhaps for ever. The client sees a reset (an RST packet), not a clean end.
# - **It closes its side after its last request** (a **half-close**: `shutdown(SHUT_WR)` on
#   its socket). It sends nothing more, but still reads. asyncio calls `eof_received()`;
#   returning `True` keeps our side open, and the server does that while it still owes
#   answers (`_eof` remembers it; the worker closes after the last answer). Returning
#   nothing, the default, makes asyncio close the connection: answers still being prepared
#   would never be sent.
# - **It asks with `HEAD`**: the head a `GET` would get, **without the body** (RFC 9110,
#   section 9.3.2). The client reads no body after it, so on a kept-alive connection body
#   bytes would be read as the start of the next response. `response_writer` cuts the body
#   off (part 1).
#
# `pause_writing`, `resume_writing` and `eof_received` are in the hunk that `refuse`,
# `enqueue` and `answer_in_order` (parts 2 and 3) came from, here whole:

# %%
show_diff(OLD, NEW, containing="async def answer_in_order(self):")

# %% [markdown]
# Its end, in `on_message_begin`, goes with the next hunk. That one holds the abort, and a
# fix to step 08's count of head bytes. Step 08 counted the bytes of a `data_received` call
# that leave the request incomplete and bring no body (head lines, which httptools keeps to
# itself until they end). Now one call can carry the end of request 1 and the first header
# line of request 2; those bytes must not count against request 2's 16 KiB. So
# `on_message_begin` counts requests (`_requests_begun`) and starts each one's `_head_size`
# at zero, and `data_received` counts a call's bytes only if no request began in it.

# %%
show_diff(OLD, NEW, containing="requests_before, body_before = self._requests_begun, self._body_size")

# %% [markdown]
# Now each of the three clients, run. A server with `--timeout 0.3` for all three:

# %%
import errno

edge = ServerProcess(f"{STEP}/server.py", "--timeout", "0.3").start()

# %% [markdown]
# ### A client that sends but never reads
#
# Large requests (an 8,000-byte query string, echoed back by `/echo_query`), sent in bursts
# of 20 as long as the server takes them, and never an answer read. When a send blocks for
# 0.1 s, the server has stopped reading us. Then we watch the socket's error status
# (`SO_ERROR`) until the server cuts us off.

# %%
burst = request("GET", "/echo_query?q=" + "x" * 8000) * 20
sent = 0
with socket.socket() as sock:
    # A small receive buffer, so that unread answers back up soon. Set before connecting:
    # the handshake tells the server how much it may send us.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(edge.address)
    sock.settimeout(0.1)
    give_up = time.monotonic() + 10
    try:
        while time.monotonic() < give_up:
            sock.sendall(burst)
            sent += len(burst)
    except TimeoutError:  # a send blocked: the server stopped reading us
        pass
    stopped = time.monotonic()
    print(f"we sent about {sent / 2**20:.1f} MiB of requests before a send blocked")
    error = 0
    while not error and time.monotonic() < stopped + 5:
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        time.sleep(0.02)
    print(f"{time.monotonic() - stopped:.2f} s later: {errno.errorcode.get(error, 'still connected')}")
assert error == errno.ECONNRESET  # aborted, not closed

after = exchange(edge.host, edge.port, request("GET", "/hello/next", headers={"Connection": "close"}))
print("the next client:", after.response.status_line, after.response.body)
assert after.response.status == 200

# %% [markdown]
# Megabytes, not 64 KiB: the operating system holds megabytes in socket buffers (requests
# the server has not read yet, answers we have not read) before asyncio's 64 KiB limit
# even starts to fill.
#
# `ECONNRESET`: the server aborted the connection, with answers still unsent. Its 0.3 s
# clock started when it had answered all it had read; we noticed only when our 0.1 s send
# timeout ran out, so we measure less. It serves the next client as usual.
#
# ### A half-close
#
# Two requests, then `shutdown(SHUT_WR)` at once (`shut_write=True`), before any answer:

# %%
half = exchange(edge.host, edge.port, request("GET", "/sleep/50") + request("GET", "/hello/half"),
                shut_write=True)
show_exchange(half)
assert [r.body for r in half.responses()] == [b'{"slept_ms": 50}', b'{"hello": "half"}'] and half.closed

# %% [markdown]
# Both answers came, after the client said it would send nothing more; then the server
# closed.
#
# ### HEAD on a kept-alive connection
#
# No route handles `HEAD` (the steps route it only in `solution/`), so the answer is a `405`.
# Its head announces a body (`Content-Length`), which is not sent. The next request on the
# connection shows that no stray bytes came:

# %%
with Connection(edge.host, edge.port) as conn:
    head = conn.ask(request("HEAD", "/hello_world"))
    next_one = conn.ask(request("GET", "/hello/after-head"))
show_exchange(conn.exchange)
print(f"HEAD: {head.status_line}, Content-Length {head.header('Content-Length')}, {len(head.body)} body bytes")
assert head.status == 405 and head.body == b"" and int(head.header("Content-Length")) > 0
assert next_one.status == 200 and next_one.body == b'{"hello": "after-head"}'

# %%
print("exit status:", edge.stop())
assert "Traceback" not in edge.log()
