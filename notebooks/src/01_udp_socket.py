# %% [markdown]
# # Step 01: a server is a loop around a socket
#
# Every web framework sits on top of the same thing: a **socket**, the operating
# system's door to the network. Before HTTP, routers or asyncio, we write the smallest
# server there is: it waits for a message, prints it and answers. Then we measure its
# big weakness, which the rest of the tutorial works on.
#
# In this notebook, in order: the whole server (four socket calls); running it and sending
# it a message; the step's client, which retries, and the article's client, which crashes;
# and the cost of a server that does one thing at a time, measured.
#
# Steps 01 to 06 follow the article *A Python Web Framework*, section by section: they keep
# its names (`Server`, `Router`, `Response`, ...) so you can read it alongside, and fix its
# bugs, each shown live before it is fixed. "The article", from here on, means that one.
#
# Where we are on the way from bytes to a web framework (the highlighted box is this step):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser] --> R[router] --> F[handler] --> W[response]
#     style S fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## The whole server
#
# This is `steps/01_udp_socket/server.py`, read from disk (what you see is what runs):

# %%
from harness.show import show_code

STEP = "../steps/01_udp_socket"
show_code(f"{STEP}/server.py")

# %% [markdown]
# Four calls do the networking:
#
# 1. `socket.socket(AF_INET, SOCK_DGRAM)` asks for an IPv4 (`AF_INET`) **UDP** socket: it
#    sends and receives single messages, called *datagrams*. No connection is set up first
#    (HTTP, later, runs on TCP, which has connections).
# 2. `bind((host, port))` claims an address. Port `0` means "any free port"; `getsockname()`
#    then tells which one we got. The server prints it as `Listening on HOST:PORT`.
# 3. `recvfrom(MAX)` **waits** until a datagram arrives and returns its bytes and the
#    sender's address.
# 4. `sendto(answer, addr)` sends the answer back to that address.
#
# `serve()` repeats 3 and 4 forever. A datagram that starts with `slow` makes it sleep for half
# a second first, to stand for real work (a database query, say). The `except
# ConnectionResetError` is for Windows, where `recvfrom` can report that an earlier answer
# found nobody at the other end; the server just goes on to the next datagram.

# %% [markdown]
# ## Run it
#
# `ServerProcess` starts the server in its own process, exactly as
# `python steps/01_udp_socket/server.py --port 0` would in a terminal, and waits for its
# `Listening on` line. (The step tests use the same helper.) The server stops when the
# notebook's kernel stops, and at the end of this notebook.

# %%
from harness import ServerProcess

server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# Now send it a datagram from here, with a plain socket. `settimeout` makes sure we never
# wait forever: UDP does not promise that an answer will come.

# %%
import socket

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
    client.settimeout(2)
    client.sendto(b"Hello, server!", (server.host, server.port))
    answer, sender = client.recvfrom(65535)

print("answer:", answer, "from", sender)
assert answer == b"Your data has been received"

# %% [markdown]
# The server logged who sent what. Its log reaches us through a pipe from the other process,
# a moment after the answer, so reading it at once could miss the line. `wait_for(text)` waits
# until a line of the log contains `text`, but never longer than its `timeout` (5 seconds
# unless told otherwise): after that it fails and shows the log so far, so a cell cannot
# hang. It returns the match; `.string` is the whole line.

# %%
print("found:", server.wait_for("Hello, server!").string)
print("the whole log:")
print(server.log())

# %% [markdown]
# ## The client
#
# The step's client sends a datagram and waits `delay` seconds for an answer; if none came,
# it sends again and doubles the wait each time (*exponential backoff*). After the last try
# it gives up with a clear message and a non-zero exit status, so it can never hang.
#
# It also calls `connect()` on its UDP socket, just after we said UDP has no connections. On a
# UDP socket `connect()` sends nothing: it only records the peer, so `send` and `recv` need no
# address, and the operating system can report "nobody listens on that port" as a
# `ConnectionRefusedError` (a `ConnectionResetError` on Windows). The client catches both as
# `ConnectionError`, waits out its delay and tries again: the server may just be starting.

# %%
show_code(f"{STEP}/client.py", "def main")

# %% [markdown]
# Run it as you would in a terminal, against our server. Before that, `server.mark()` notes
# where the server's log ends now; `wait_for(..., since=mark)` then looks only at the lines
# logged after that point, so a line from an earlier request cannot be mistaken for this one.

# %%
from harness.show import run_client, show_diff

mark = server.mark()
done = run_client(f"{STEP}/client.py", "--port", str(server.port))
line = server.wait_for("This is another message", since=mark).string
print("server log:", line)

client_port = done.stdout.splitlines()[0].rstrip(")").split(", ")[-1]  # from "('127.0.0.1', PORT)"
assert done.returncode == 0 and f", {client_port})" in line

# %% [markdown]
# We never typed `This is another message`: it is the client's default message (the
# article's), which `--message` replaces. And the port in the client's `Client socket name`
# line, which the operating system picked for it, is the one in the server's log line: that
# is how the server knows where to send its answer.
#
# Now against a port where nobody listens: it retries with longer and longer waits, then
# gives up.

# %%
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spare:
    spare.bind(("127.0.0.1", 0))
    free_port = spare.getsockname()[1]  # a port that was free a moment ago

assert run_client(f"{STEP}/client.py", "--port", str(free_port), "--tries", "4").returncode == 1

# %% [markdown]
# ## A bug in the article: an undefined `delay`
#
# The article's client prints `Waiting up to {delay} seconds`, but never defines `delay`.
# `bug(...)`, from the tutorial's catalogue of the articles' bugs, takes the line that
# defines it out of a copy of the step's client. `show_diff` shows what differs between two
# files (red: removed, green: added):

# %%
from harness.bugs import bug

article_client = bug("undefined-delay").variant()
show_diff(f"{STEP}/client.py", article_client)

# %% [markdown]
# Run against our server, it sends its first datagram, then crashes before it waits for any
# answer. The error is an `UnboundLocalError`, the kind of `NameError` Python raises for a
# function's own variable (the later `delay *= 2` makes `delay` one):

# %%
done = run_client(article_client, "--port", str(server.port))
assert done.returncode != 0 and "UnboundLocalError" in done.stderr

# %% [markdown]
# ## The cost of a blocking loop
#
# While the server sleeps on behalf of one datagram, it does not even look at the next one.
# (Waiting in `recvfrom` does no harm here: with nothing to read, there is nothing else to
# do. The `sleep` is the problem: work that keeps the only thread busy.) Let's measure it.
#
# First a baseline: client B sends `quick` to an idle server and records how long the answer
# took.

# %%
import threading
import time


def ask(message, results, name, delay=0.0):
    time.sleep(delay)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        started = time.perf_counter()
        sock.sendto(message, (server.host, server.port))
        sock.recvfrom(65535)
        results[name] = (started, time.perf_counter())


baseline = {}
ask(b"quick", baseline, "B alone")
b_alone = baseline["B alone"][1] - baseline["B alone"][0]
print(f"B alone: answered after {b_alone:5.3f} s")
assert b_alone < 0.3

# %% [markdown]
# Now a race: client A sends `slow` (half a second of work), and B sends `quick` 50 ms later.
# Each client runs in its own thread and records when it sent and when it got its answer.

# %%
def race():
    results = {}
    threads = [threading.Thread(target=ask, args=(b"slow", results, "A: slow")),
               threading.Thread(target=ask, args=(b"quick", results, "B: quick", 0.05))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


results = race()
t0 = min(start for start, _ in results.values())
for name, (start, end) in results.items():
    print(f"{name:9} sent at {start - t0:5.3f} s, answered after {end - start:5.3f} s")

b_wait = results["B: quick"][1] - results["B: quick"][0]
assert b_wait > 0.3, "B should have waited for A's slow request"

# %% [markdown]
# Alone, B was answered at once. In the race it asked for the same almost-nothing, yet it
# waited about as long as A's slow request, because the server was sleeping on A's behalf.
# As a picture (the bars are the time each client waited):

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 1.8))
for row, (start, end) in enumerate(results.values()):
    ax.barh(row, end - start, left=start - t0, color=["#ef6c00", "#1e88e5"][row])
    ax.text(end - t0 + 0.01, row, f"{end - start:.2f} s", va="center")
ax.set_yticks([0, 1], list(results))
ax.set_xlabel("seconds")
ax.set_xlim(0, max(end for _, end in results.values()) - t0 + 0.15)
ax.invert_yaxis()
ax.set_title("A blocking server answers one client at a time")
plt.show()

# %% [markdown]
# With a hundred clients, the last one would wait for all ninety-nine before it. Notice
# *what* held B up: not the network, but the server's own work, the sleep that stands for a
# database query. The fix the next steps build is **asyncio**: one thread that can wait for
# many things at once (sockets, timers, a database's answer), as long as the code waits with
# `await` instead of blocking. A `time.sleep` inside an asyncio server would stall every client
# just like this one; step 03 measures both ways.
#
# The server's log shows the order it worked in:

# %%
print(server.log())

# %% [markdown]
# ## Stop the server
#
# `stop()` sends the same signal as pressing Ctrl-C in a terminal. The server catches the
# `KeyboardInterrupt`, says so, and exits cleanly: no traceback.

# %%
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and "Traceback" not in server.log()

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`; on Windows `.venv\Scripts\activate`):
#
# 1. Start the server with `python steps/01_udp_socket/server.py` (it listens on port 8080).
#    In a second terminal, start a slow client and a quick one at the same moment:
#
#    ```
#    python steps/01_udp_socket/client.py --message slow & python steps/01_udp_socket/client.py; wait
#    ```
#
#    Run it a few times. The slow client always prints `Try 2` and `Try 3`: it waits only
#    0.1 s for its first answer, less than the server's half second of work, so it sends
#    again, and each `slow` it sends again is another half second of work. The two clients
#    race to the server; when the slow datagram gets there first (about every other run),
#    the quick client waits too, and re-sends too. A client that retries makes a busy server
#    busier. The server's terminal shows every datagram it got.
# 2. Write the server yourself, in a file of your own: `tutorial start 01` makes
#    `my_server.py` from a short starter whose four TODOs are the step's tasks, in order
#    (bind the socket; wait for a datagram and answer it; log who sent what; make `slow`
#    take half a second). Then:
#
#    ```
#    tutorial check    # the step's tests against my_server.py, task by task
#    tutorial watch    # the same, again each time you save the file (Ctrl-C stops)
#    tutorial hint     # stuck: a hint for the first task that fails (again: the next hint)
#    ```
# 3. Once your `my_server.py` passes (or with a copy of the step's server in its place), make
#    it answer with the data it received, in upper case: `data.upper()` instead of the fixed
#    answer. Then run all the step's tests against it, the plain pytest way, which runs every test
#    instead of stopping at the first task that fails:
#
#    ```
#    pytest steps/01_udp_socket --server my_server.py
#    ```
#
#    Three of the seven tests fail, because they expect the answer
#    `b'Your data has been received'`: two compare it with the random bytes they sent, now
#    upper-cased, and the client test shows that the client printed
#    `b'THIS IS ANOTHER MESSAGE'`. The other four pass: the log line, the slow request holding
#    up the next one, the client giving up, and Ctrl-C still work as before.
#
# **Next:** step 02 replaces the blocking loop with asyncio, and speaks HTTP.
