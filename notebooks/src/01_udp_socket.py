# %% [markdown]
# # Step 01: a server is a loop around a socket
#
# Every web framework sits on top of the same thing: a **socket**, the operating
# system's door to the network. Before HTTP, routers or asyncio, we write the smallest
# server there is: it waits for a message, prints it and answers. Then we measure its
# big weakness, which the rest of the tutorial fixes.
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
# 1. `socket.socket(AF_INET, SOCK_DGRAM)` asks for a **UDP** socket: it sends and receives
#    single messages, called *datagrams*. No connection is set up first (HTTP, later, runs on
#    TCP, which has connections).
# 2. `bind((host, port))` claims an address. Port `0` means "any free port"; `getsockname()`
#    then tells which one we got. The server prints it as `Listening on HOST:PORT`.
# 3. `recvfrom(MAX)` **waits** until a datagram arrives and returns its bytes and the
#    sender's address.
# 4. `sendto(answer, addr)` sends the answer back to that address.
#
# `serve()` repeats 3 and 4 forever. A datagram that starts with `slow` makes it sleep for half
# a second first, to stand for real work (a database query, say).

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
# The server logged who sent what:

# %%
server.wait_for("Hello, server!")
print(server.log())

# %% [markdown]
# ## The client, and a bug in the article
#
# The article's client prints `Waiting up to {delay} seconds`, but `delay` is never defined:
# it stops with a `NameError` before it sends anything useful. Ours defines it, and uses it
# for what the message promises: wait that long for an answer, send again if none came, and
# double the wait each time (*exponential backoff*). After the last try it gives up with a
# clear message and a non-zero exit status, so it can never hang.

# %%
show_code(f"{STEP}/client.py", "def main")

# %% [markdown]
# Run it as you would in a terminal, against our server:

# %%
import subprocess
import sys


def run_client(*args):
    done = subprocess.run([sys.executable, f"{STEP}/client.py", *args],
                          capture_output=True, text=True, timeout=30)
    print(done.stdout + done.stderr + f"(exit status {done.returncode})")
    return done


assert run_client("--port", str(server.port)).returncode == 0

# %% [markdown]
# And against a port where nobody listens: it retries with longer and longer waits, then
# gives up.

# %%
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spare:
    spare.bind(("127.0.0.1", 0))
    free_port = spare.getsockname()[1]  # a port that was free a moment ago

assert run_client("--port", str(free_port), "--tries", "4").returncode == 1

# %% [markdown]
# ## The cost of a blocking loop
#
# `recvfrom` and `sleep` **block**: while the server is busy with one datagram, it does not
# even look at the next. Let's measure it. Client A sends `slow` (half a second of work),
# client B sends `quick` a moment later. Each client runs in its own thread and records when
# it got its answer.

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


def race(b_message=b"quick"):
    results = {}
    threads = [threading.Thread(target=ask, args=(b"slow", results, "A: slow")),
               threading.Thread(target=ask, args=(b_message, results, "B: quick", 0.05))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


alone = {}
ask(b"quick", alone, "B alone")
results = race()
t0 = min(start for start, _ in results.values())
for name, (start, end) in results.items():
    print(f"{name:9} sent at {start - t0:5.3f} s, answered after {end - start:5.3f} s")
print(f"B alone   answered after {alone['B alone'][1] - alone['B alone'][0]:5.3f} s")

b_wait = results["B: quick"][1] - results["B: quick"][0]
assert b_wait > 0.3, "B should have waited for A's slow request"

# %% [markdown]
# B asked for almost nothing, yet it waited about as long as A's slow request, because the
# server was sleeping on A's behalf. As a picture (the bars are the time each client waited):

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 1.8))
for row, (name, (start, end)) in enumerate(results.items()):
    ax.barh(row, end - start, left=start - t0, color=["#ef6c00", "#1e88e5"][row])
    ax.text(end - t0 + 0.01, row, f"{end - start:.2f} s", va="center")
ax.set_yticks([0, 1], list(results))
ax.set_xlabel("seconds")
ax.set_xlim(0, max(end for _, end in results.values()) - t0 + 0.15)
ax.invert_yaxis()
ax.set_title("A blocking server answers one client at a time")
plt.show()

# %% [markdown]
# With a hundred clients, the last one would wait for all ninety-nine before it. The
# article's next idea: let the operating system tell us which clients have data ready,
# and never sit idle waiting on one of them. That is what **asyncio** does, in step 02.
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
# 1. In a terminal, run `python steps/01_udp_socket/server.py`, and in another
#    `python steps/01_udp_socket/client.py --message slow` while a third runs the client
#    without `--message`. Which answer comes first?
# 2. Copy the server to `my_server.py` and make it answer with the data it received,
#    in upper case. The step's tests check the parts that must not change; run them
#    against your copy (they expect the original answer, so one test will tell you
#    exactly what differs):
#
#    ```
#    pytest steps/01_udp_socket --server my_server.py
#    ```
#
# **Next:** step 02 replaces the blocking loop with asyncio, and speaks HTTP.
