# %% [markdown]
# # Step 08: a server that defends itself
#
# Until now the server trusted its clients: that they speak HTTP, send a body of a sensible
# size, and finish their request some day. A server on a network cannot. In this step it
# answers every request it cannot or will not handle, and closes the connection:
#
# - bytes that are not HTTP (a bad request line, header or chunk size, a URL that
#   `parse_url` refuses) get `400 Bad Request`, where step 07 dropped the connection
#   without a word;
# - a body larger than `--max-body` (1 MiB, that is 1,048,576 bytes, unless told) gets
#   `413`, decided from the request's `Content-Length` header before a byte of the body
#   is read;
# - header fields over 16 KiB (16 × 1,024 = 16,384 bytes) get
#   `431 Request Header Fields Too Large`;
# - a clock starts when the client **connects**: a client that has sent nothing after
#   `--timeout` seconds (5 unless told) is disconnected, and one whose request is still
#   incomplete gets `408 Request Timeout`.
#
# The second article (`diy_framework`) had a connection timer too, but it started the
# clock at the first byte it read and restarted it at every read. We run that version
# next to this step's below, with 200 clients that connect and say nothing.
#
# Where we are (the highlighted boxes are what this step changes):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol + clock] --> H[HTTP parser + limits] --> R[router] --> F[handler] --> W[response]
#     style P fill:#ffd54f,stroke:#e65100,stroke-width:3px
#     style H fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```
#
# And the ways a connection can now end:
#
# ```mermaid
# stateDiagram-v2
#     direction LR
#     [*] --> connected: connection_made, the clock starts
#     connected --> closed: the clock runs out, nothing came (no answer)
#     connected --> receiving: the first byte
#     receiving --> answered_408: the clock runs out
#     receiving --> answered_400_413_431: not HTTP, body or head too large
#     receiving --> handled: the request is complete, the clock stops
#     handled --> answered: the handler's response
# ```

# %% [markdown]
# ## What changed since step 07
#
# The whole change, computed from the two files in `steps/`. Skim it; we take it apart below.

# %%
from harness.show import show_code, show_diff

OLD, NEW = "../steps/07_path_params/server.py", "../steps/08_limits/server.py"
show_diff(OLD, NEW)

# %% [markdown]
# The docstring sums up the step:

# %%
show_diff(OLD, NEW, containing="Step 08: limits and timeouts")

# %% [markdown]
# New names from `httptools`: the exceptions its parser raises. `HttpParserError` is the
# parent of the errors for bytes that are not HTTP; `HttpParserCallbackError` means that one
# of *our* `on_...` methods raised while the parser was calling it; `HttpParserInvalidURLError`
# comes from `parse_url`; `HttpParserUpgrade` is not an error at all (more below).
#
# `MAX_HEADER_SIZE` is the limit for the head of a request, its URL and header fields:
# 16 KiB (Node.js has the same default), and `HEAD_TOO_LARGE` the message that goes with a
# `431`. And a small exception of our
# own, `HTTPError`: "refuse this request with this status and this message". Code deep
# inside the parser's callbacks raises it, and one place, `refuse`, turns it into a
# response.

# %%
show_diff(OLD, NEW, containing="class HTTPError(Exception):")

# %% [markdown]
# The heart of the step is one long hunk in the `Server` class. Here it is whole, then
# method by method:

# %%
show_diff(OLD, NEW, containing="def timeout_expired(self):")

# %% [markdown]
# **The clock.** `connection_made` is the first call asyncio makes for a new connection, so
# that is where the clock starts: `loop.call_later(delay, function)` asks the event loop to
# call `function` after `delay` seconds, and returns a handle whose `cancel()` calls it off.
# Nothing else in the server waits for it: the timer is an entry in the loop's list of
# things to do later. `connection_lost` calls it off when the connection ends first.

# %%
show_code(NEW, "def connection_made")
show_code(NEW, "def connection_lost")

# %% [markdown]
# When the clock runs out, `timeout_expired` looks at what arrived. Part of a request
# (`_receiving` is set by `on_message_begin`, at the first byte of a request): the client
# gets `408`. Nothing at all: there is nobody to answer, so the connection is just closed.
# The clock is never restarted when data comes: the client has `--timeout` seconds from
# connecting to send its whole request, however it sends it.

# %%
show_code(NEW, "def timeout_expired")

# %% [markdown]
# **Refusing.** `data_received` now catches what `feed_data` can raise:
#
# - `HTTPError`, raised by `data_received` itself when the head grows past the limit;
# - `HttpParserCallbackError`: one of our `on_...` methods raised. httptools wraps it, and
#   the original exception is the new one's `__context__` (Python sets that on any exception
#   raised while another is being handled). If it is one of our `HTTPError`s we answer it;
#   anything else is a bug in our code, and we let asyncio log it;
# - `HttpParserUpgrade`: the request asks to switch protocols (`Connection: Upgrade`;
#   `curl --http2` asks for HTTP/2 this way). The request itself is complete and already
#   being answered in plain HTTP/1.1, so there is nothing to do. It is not an
#   `HttpParserError`, so without this line it would escape;
# - `HttpParserError`: the bytes are not HTTP. `400`, with the parser's own words.
#
# An exception that escapes `data_received` is caught by asyncio, which logs
# `Fatal error: protocol.data_received() call failed.` and closes the connection: the
# client gets nothing. You saw that in step 05, with a body that was not JSON; step 07 did
# the same with every one of these.
#
# The `_head_size` count is there because the parser calls `on_header` only for a header
# line that is complete. A line that never ends is kept inside the parser, out of our
# sight, so we count ourselves the bytes that leave a request incomplete and bring no
# body: those are head lines, or trailer lines (a chunked body may end with header lines
# of its own, "trailers", which the parser keeps out of sight the same way). As soon as
# some body arrives, the head is behind us and the count starts again.

# %%
show_code(NEW, "def data_received")

# %% [markdown]
# `refuse` stops the clock and sends the error. After a parser error we cannot tell where
# the next request would start, so the connection is closed (`response_writer` closes it
# after every answer anyway, until step 09).

# %%
show_code(NEW, "def refuse")

# %% [markdown]
# **The limits.** Each request starts its counts at zero in `on_message_begin`, which also
# notes that a request has begun arriving (for `timeout_expired`). `on_url` and `on_header`
# add up the size of the URL and of the header fields; `on_headers_complete`, called once
# the blank line that ends the head has arrived, checks that total against the limit:

# %%
show_code(NEW, "def on_message_begin")
show_code(NEW, "def on_headers_complete")

# %% [markdown]
# `on_header` also sees `Content-Length`: a body announced as larger than `--max-body` is refused right there,
# before any of it is read. (The parser has already checked that the value is a number:
# `int(value)` cannot fail.) A chunked body announces no size, so `on_body` counts the bytes
# as they arrive and refuses the chunk that passes the limit.

# %%
show_code(NEW, "def on_header")
show_code(NEW, "def on_body")

# %% [markdown]
# (So the head is counted twice over, in two ways that agree to within a few bytes: the
# callbacks add up the URL and the header fields of a head that is complete, and
# `data_received` every byte of a head that is not yet, the method and the line ends
# included. A URL of 20,000 bytes gets its `431` whether it arrives all at once or in
# pieces. Strictly, HTTP has a code of its own for a URL that is too long, `414 URI Too
# Long`; the finished framework in `solution/` uses it.)

# %% [markdown]
# `on_message_complete` stops the clock (the whole request came in time), and its two
# errors become `HTTPError`s: invalid JSON, as in step 05, and a URL that the parser let
# through but `parse_url` refuses, such as `http://` alone. Raised inside a callback, each
# comes back to `data_received` as an `HttpParserCallbackError`, and `refuse` answers it.

# %%
show_code(NEW, "def on_message_complete")

# %% [markdown]
# One more line, in `response_writer`. A client may send several requests in one write
# even to a server that answers one per connection (step 09 is about such clients). The
# parser reads them all, and each gets a handler; the first answer closes the connection.
# The others must not be written to a connection we are closing: asyncio would drop them
# and log `socket.send() raised exception.` for each one.

# %%
show_diff(OLD, NEW, containing="if self.transport is None or self.transport.is_closing():")

# %% [markdown]
# Two command-line options give the limits, and `main` hands them to every `Server`:

# %%
show_diff(OLD, NEW, containing='parser.add_argument("--timeout"')

# %%
show_diff(OLD, NEW, containing="asyncio.run(main(args.host, args.port, args.timeout, args.max_body))")

# %% [markdown]
# ## Run it
#
# With a one-second clock, so that we do not wait long below:

# %%
from harness import ServerProcess

STEP = "../steps/08_limits"
server = ServerProcess(f"{STEP}/server.py", "--timeout", "1").start()
print(server.log())

# %% [markdown]
# The step's client announces a body of 2,000,000 bytes (and sends only the head), then sends
# a line that is not HTTP:

# %%
from http import HTTPStatus

from harness.show import run_client

done = run_client(f"{STEP}/client.py", "--port", str(server.port))
assert f"413 {HTTPStatus(413).phrase}" in done.stdout and "400 Bad Request" in done.stdout

# %% [markdown]
# The reason phrase of `413` depends on your Python: `HTTPStatus(413).phrase` is
# "Content Too Large" from Python 3.13 on (the name HTTP itself uses since 2022) and
# "Request Entity Too Large" before. The code is what clients go by.
#
# ## Each refusal, on the wire
#
# **400.** Bytes that are not HTTP, byte for byte:

# %%
from harness import exchange, request
from harness.show import show_exchange

ex = exchange(server.host, server.port, b"HELLO? \r\n\r\n")
show_exchange(ex)
assert ex.response.status == 400 and ex.closed

# %% [markdown]
# The parser says what it disliked, and the message passes it on. A few more:

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
# Two `Content-Length` headers that disagree are refused for a good reason: if a proxy in
# front of the server believed one and the server the other, they would disagree about where
# the next request starts, and an attacker could slip a request past the proxy ("request
# smuggling"). A strict parser is a safe parser.
#
# **413, before the body.** Only the head of a request, announcing 2,000,000 bytes of body;
# the body never comes. The answer arrives at once, long before the one-second clock:

# %%
head = request("POST", "/hello_world", headers={"Content-Type": "application/json", "Content-Length": "2000000"})
ex = exchange(server.host, server.port, head)
show_exchange(ex)
print(f"answered after {ex.seconds * 1000:.1f} ms")
assert ex.response.status == 413 and ex.closed and ex.seconds < 0.5

# %% [markdown]
# Why bother answering from the head? The server never reads, stores or waits for the 2 MB.
# And a polite client sends the head alone first: curl, for a body over 1 MiB, adds
# `Expect: 100-continue` ("tell me whether to go on") and waits for a moment before sending
# the body. Our server does not say `100 Continue`; it says `413`, and curl stops there. With
# curl, if it is installed, piping in a body of 1.2 MB:

# %%
import shutil
import subprocess

if shutil.which("curl"):
    command = ["curl", "-sS", "-v", "--max-time", "5", "-H", "Content-Type: application/json",
               "--data-binary", "@-", f"{server.url}/hello_world"]
    done = subprocess.run(command, input=b'{"a": "' + b"x" * 1_200_000 + b'"}', capture_output=True, timeout=10)
    shown = [line for line in done.stderr.decode().splitlines() if line.startswith(("> ", "< "))]
    print("\n".join(line for line in shown if not line.startswith(("> Host", "> User-Agent", "> Accept"))))
    print(done.stdout.decode())
    assert "> Expect: 100-continue" in shown and f"< HTTP/1.1 413 {HTTPStatus(413).phrase}" in shown
else:
    print("(curl is not installed here)")

# %% [markdown]
# (`>` lines are what curl sent, `<` lines what it received; we left out the `Host`,
# `User-Agent` and `Accept` lines curl adds. No body went out.)
#
# **413 for a chunked body.** A chunked body says nothing of its size in advance, so the
# server counts. Exactly one byte over the limit, in chunks of 64 KiB:

# %%
from harness import chunked

head = request("POST", "/hello_world", headers={"Transfer-Encoding": "chunked"})
ex = exchange(server.host, server.port, head + chunked(b"x" * (1024 * 1024 + 1), 65536)[:-5])
print(ex.response.status_line, ex.json())
assert ex.response.status == 413

# %% [markdown]
# (We left out the final empty chunk, `0\r\n\r\n`, on purpose. The server refuses at the
# chunk that passes the limit and closes the connection without reading further. Bytes
# that have arrived but were not read when it closes make its kernel *reset* the connection
# instead of closing it normally, and a reset can wipe out the answer before the client has
# read it. So a client that keeps sending after a `413` may see "connection reset by peer";
# curl usually still shows the `413`.)
#
# **431.** Header fields over 16 KiB: a complete head, then a header line that never ends.
# Both are refused at once, without waiting for the clock:

# %%
huge = request("GET", "/hello_world", headers={"X-Big": "a" * 20_000})
endless = b"GET /hello_world HTTP/1.1\r\nX-Endless: " + b"a" * 20_000
for name, data in (("a complete head", huge), ("an endless header line", endless)):
    ex = exchange(server.host, server.port, data)
    print(f"{name:23} -> {ex.response.status_line} after {ex.seconds * 1000:.1f} ms")
    assert ex.response.status == 431 and ex.closed and ex.seconds < 0.5
print("the message:", ex.json()["message"])

# %% [markdown]
# **408, and the silent client.** Two clients: one sends a request without its final blank
# line (`[:-2]` cuts the last `\r\n`), one sends nothing, and each waits up to three seconds
# for an answer. `exchange` blocks until its connection ends, so we run the two in two
# threads (a `ThreadPoolExecutor` from the standard library: `submit` starts a call in a
# thread, `result()` waits for its return value) to wait one second instead of two:

# %%
from concurrent.futures import ThreadPoolExecutor

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
#
# Through all this, the server kept serving. Its whole log holds no error, and a single
# `Handle:` line, for this last request: none of the refused ones reached a handler.

# %%
ex = exchange(server.host, server.port, request("GET", "/hello_world"))
print(ex.response.status_line, ex.json())
print(server.log())
assert ex.response.status == 200 and "Traceback" not in server.log() and "Fatal error" not in server.log()

# %% [markdown]
# ## The second article's bug, live: a clock that starts at the first byte
#
# The second article reads each connection in a loop, and after each read that brought data
# it restarts the connection's timer. The article spots the consequence itself: the timer
# does not exist until the first byte arrives, so a client that connects and sends nothing is
# never timed out, and enough of them exhaust the server. Its fix is to start the timer when
# the connection is set up. But the timer is still restarted by every read, so a client that
# sends a byte every few seconds holds its connection forever too.
#
# A copy of the step with the article's timer: no clock in `connection_made`, a fresh clock in
# every `data_received` (and `connection_lost` must then cope with a connection that never
# had one):

# %%
from harness.variant import variant

late_timer = variant(f"{STEP}/server.py", (
    """        # The clock starts now, when the client connects, not at its first byte: a
        # client that connects and sends nothing must not keep its connection (a file
        # descriptor and some memory of ours) for ever.
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)""",
    """        self._timer = None  # the article: no clock until the first byte"""), (
    """        self.transport = None  # the client is gone: nothing to write to any more
        self._timer.cancel()""",
    """        self.transport = None  # the client is gone: nothing to write to any more
        if self._timer is not None:  # a client that sent nothing has no clock
            self._timer.cancel()"""), (
    """    def data_received(self, data):
        body_before = self._body_size""",
    """    def data_received(self, data):
        # The article: every read restarts the clock.
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)
        body_before = self._body_size"""),
    name="server_late_timer.py")
show_diff(f"{STEP}/server.py", late_timer)

# %% [markdown]
# To see how many connections a server holds, we count its sockets. The operating system
# gives each file or socket a process has open a small number, a **file descriptor** (fd),
# and it lets a process hold only so many at once. On Linux the folder `/proc/<pid>/fd`
# lists a process's file descriptors, one entry each, and says which ones are sockets.
# Elsewhere we ask our own sockets instead: the ones on which we read "end of stream" were
# closed by the server.

# %%
import os
import select
import socket
from pathlib import Path


def server_sockets(pid):
    """The number of sockets process ``pid`` has open (Linux only)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:  # closed while we looked
            pass
    return count


def still_open(socks):
    """How many of our sockets the server has not closed (we read no end of stream on them)."""
    readable, _, _ = select.select(socks, [], [], 0)
    return len(socks) - sum(sock.recv(1, socket.MSG_PEEK) == b"" for sock in readable)


# %% [markdown]
# We start the copy with the same one-second clock. Then, against both servers at once, 200
# clients each that connect and say nothing. The clients are opened 50 at a time, and after
# each 50 a normal client asks for `/hello_world`: it is served at once by both servers,
# since a silent connection costs an asyncio server almost nothing while it waits (a socket
# and a small object; no thread, no work). (Opening them in batches also keeps the operating
# system happy: it queues only so many connections that the server has not yet accepted.)

# %%
import time

late_server = ServerProcess(late_timer, "--timeout", "1").start()
servers = {"the article's clock": late_server, "the step's clock": server}
use_proc = Path(f"/proc/{server.pid}/fd").is_dir()
before = {name: server_sockets(srv.pid) if use_proc else 0 for name, srv in servers.items()}
crowds = {name: [] for name in servers}
waits = {name: [] for name in servers}
for batch in range(4):
    for name, srv in servers.items():
        crowds[name] += [socket.create_connection(srv.address, timeout=3) for _ in range(50)]
        ex = exchange(srv.host, srv.port, request("GET", "/hello_world"))
        assert ex.response.status == 200
        waits[name].append(ex.seconds)
connected = time.monotonic()
for name in servers:
    print(f"{name}: {len(crowds[name])} silent clients; a normal client waited at most "
          f"{max(waits[name]) * 1000:.0f} ms")
    assert max(waits[name]) < 1

# %% [markdown]
# Milliseconds either way are noise here (a process that has just started answers its
# first requests a little slower): both are far below the one-second clock, so the silent
# crowd did not hold up the normal clients of either server.

# %% [markdown]
# Now we watch for two seconds how many of them each server still has open (its sockets,
# minus the ones it had before the crowd came). The clock counts from the moment the last
# batch connected; the first batch came a few milliseconds earlier, and leaves a little
# earlier too:

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

# %% [markdown]
# As a picture:

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
# The step's server let each silent client go one second after it came. The article's kept
# all 200, and would keep them until the clients leave. We check that, and let the crowd go:

# %%
assert samples["the article's clock"][-1] == 200
assert samples["the step's clock"][-1] == 0
for name in servers:
    for sock in crowds[name]:
        sock.close()

# %% [markdown]
# Why does it matter? Every silent client holds a file descriptor of the server and some
# memory, and a process may only hold so many file descriptors: often 1,024 on Linux and
# 256 on macOS (the servers inherit the limit of the process that starts them, here this
# notebook's):

# %%
try:
    import resource  # Unix only
    print(f"on this machine: {resource.getrlimit(resource.RLIMIT_NOFILE)[0]:,} file descriptors per process")
except ImportError:
    print("(no resource module here: Windows counts its limits differently)")

# %% [markdown]
# When they are used up, the server can accept no one else: its `accept` fails with
# "Too many open files". Reaching that takes silent clients by the thousand, which cost an
# attacker almost nothing: a connection that sends nothing needs no bandwidth.

# %% [markdown]
# The article's own fix, a clock set when the connection starts, would still be restarted at
# every read, as it is in our copy. So a client that sends a byte now and then is never timed
# out either. To show it, a client that sends a valid request one byte at a time: it sends
# a byte, waits up to 0.3 s for an answer, sends the next, and so on, and gives up after
# two seconds:

# %%
def trickle(srv, data, every=0.3, seconds=2.0):
    """Send a byte every ``every`` s; return what came back and when (s after connecting)."""
    started = time.monotonic()
    with socket.create_connection(srv.address, timeout=seconds) as sock:
        for byte in data:
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # the server has closed the connection
                break
            readable, _, _ = select.select([sock], [], [], every)
            if readable:
                try:
                    return sock.recv(65536), time.monotonic() - started
                except ConnectionResetError:  # see the note on resets above
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
# After two seconds the article's server was still waiting for that request, and it would
# wait just as patiently for one that takes a year. The step's gave up one second after the
# client connected, with a `408`.
#
# The fix is the one deadline per connection: set in `connection_made`, never moved by data,
# called off only when the request is complete or the connection ends. (Real servers have
# a few such clocks, for the head, the body and an idle connection; step 09, where a
# connection carries several requests, needs the last one.)
#
# ## The article's other trap: a read loop that spins
#
# The article reads with asyncio **streams**, `data = await reader.read(1024)` in a loop,
# and worries that the loop "eats the CPU" because `read` would return `b""` when there is
# nothing to read. That is not quite how `read` behaves, and the difference matters. A
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
# The article's loop escapes because it also tests `reader.at_eof()`; the cure it suggests,
# `await asyncio.sleep(0.1)` in the loop, would only slow the spinning down. The cure is to
# treat `b""` as the end: `if not data: break`.
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
# ## Stop the servers

# %%
print("the article's clock: exit status", late_server.stop())
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and late_server.returncode == 0
assert "Traceback" not in server.log() and "Fatal error" not in server.log()

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. Copy the step's server to `my_server.py` and make the header limit an option,
#    `--max-header` (16 KiB unless told), like `--max-body`: `Server` gets it as an
#    argument, and both checks that use `MAX_HEADER_SIZE` (in `data_received` and in
#    `on_headers_complete`) use it instead, with a message that names it. Start it with
#    `python my_server.py --max-header 100` and, in a second terminal, try
#    `curl -i --max-time 3 -H "X-Long: $(python -c "print('a' * 200)")" http://127.0.0.1:8080/hello_world`:
#    a `431`. Without the header, `curl -i --max-time 3 http://127.0.0.1:8080/hello_world`
#    still gets its `200` (curl's own headers are well under 100 bytes).
# 2. Check that your copy keeps every promise of this step (all the tests should pass: they
#    use the default limit):
#
#    ```
#    pytest steps/08_limits --server my_server.py
#    ```
#
# 3. Now put the article's clock back in your copy, as in `server_late_timer.py` above, and
#    run the tests again. Three fail, after a few seconds each: the silent client, the
#    trickling client and the 200 clients. Each failure says what the server should do: start
#    the timer in `connection_made`, and do not restart it when data arrives.
#
# ## Where next
#
# Every answer still ends the connection. Step 09 keeps connections open for the next
# request (keep-alive) and answers several requests sent at once in order (pipelining). The
# clock then also has to close connections that sit idle between requests, and the refusals
# of this step are exactly the cases where a connection cannot go on.
