# %% [markdown]
# # Step 06: every request gets an answer
#
# Since step 03, a request for a path or a method without a handler was simply dropped: the
# client waited until it gave up. Here the router answers those with `404 Not Found`, through
# an ordinary handler, `not_found`, so the response goes through the same writer as every
# other one and the connection is closed. This is the last step of the article
# *A Python Web Framework*.
#
# Where we are (the highlighted box is what this step changes):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser] --> R[router + 404] --> F[handler] --> W[response]
#     style R fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## What changes
#
# A small change, in the order this notebook takes it:
#
# 1. **`not_found`**, a handler like any other (4 lines).
# 2. **`dispatch` always chooses exactly one handler** (3 lines instead of 6).
# 3. **Run it**: a 404 on the wire, a method a path lacks, the routes of before, and the
#    article's closing `curl` example.
# 4. **Two of the article's bugs**: no `return` after the 404, put back and run; and `await`
#    on a plain function, in miniature.

# %%
from harness.show import diff_size, show_diff

OLD, NEW = "../steps/05_body/server.py", "../steps/06_not_found/server.py"
added, removed = diff_size(OLD, NEW)
print(f"step 05 -> step 06: {added} lines added, {removed} removed")
show_diff(OLD, NEW, collapsed="The whole change, from step 05")

# %% [markdown]
# ## The code
#
# The docstring says what the step does:

# %%
show_diff(OLD, NEW, containing="Step 06: every request gets an answer")

# %% [markdown]
# `not_found` is a handler like `hello_world`: a coroutine that takes the request and returns a
# `Response`, here `404` with `{"message": "Not Found"}`.

# %%
show_diff(OLD, NEW, containing="async def not_found(request):")

# %% [markdown]
# `dispatch` loses its two early `return`s. `dict.get(key, default)` returns `default` when
# the key is missing: an unknown path gives an empty dictionary of methods, and a missing
# method gives `not_found`. Whatever happens, exactly one handler is chosen and handed to
# `callback_handler`, which writes its response and closes the connection. So every request
# the parser accepts, and whose handler finishes, gets an answer. (A request the parser
# rejects is still just closed: step 08 answers it with `400`. Timeouts for a handler that
# never finishes are in the finished framework, `solution/`.)

# %%
show_diff(OLD, NEW, containing="# An unknown path, or a known path without this method: not_found answers.")

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess

STEP = "../steps/06_not_found"
server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends the article's three requests: `GET` and `POST` to `/hello_world`,
# then the `POST` to `/not_created`, a route that does not exist:

# %%
from harness.show import run_client

assert "HTTP/1.1 404 Not Found" in run_client(f"{STEP}/client.py", "--port", str(server.port)).stdout

# %% [markdown]
# ## 404, on the wire
#
# An unknown path (random, so it cannot be a route by chance), byte for byte:

# %%
import secrets

from harness import exchange, request
from harness.show import show_exchange

mark = server.mark()
ex = exchange(server.host, server.port, request("GET", f"/{secrets.token_hex(4)}"))
show_exchange(ex)
print("server log:", server.log(since=mark) or "(nothing: not_found does not log)")
assert ex.response.status_line == "HTTP/1.1 404 Not Found" and ex.closed
assert ex.json() == {"message": "Not Found"}

# %% [markdown]
# A path that exists, with a method it does not have, gets the same answer. (Strictly, HTTP
# has a better code for this case, `405 Method Not Allowed`; the finished framework in
# `solution/` uses it.)

# %%
for method in ("DELETE", "PUT"):
    ex = exchange(server.host, server.port, request(method, "/hello_world"))
    print(f"{method} /hello_world -> {ex.response.status_line} {ex.json()} (closed: {ex.closed})")
    assert ex.response.status == 404 and ex.closed

# %% [markdown]
# A body that is not JSON still gets step 05's `400`, whatever the path: the body is decoded
# before routing, so an unknown path with a bad body gets `400`, not `404`:

# %%
ex = exchange(server.host, server.port, request("POST", f"/{secrets.token_hex(4)}", b"{oops"))
print(ex.response.status_line, ex.json())
assert ex.response.status == 400

# %% [markdown]
# The routes of the earlier steps still answer as before:

# %%
import requests

for method, path, body in [("GET", "/hello_world", None), ("POST", "/hello_world", {"n": 1}),
                           ("GET", "/broken", None)]:
    answer = requests.request(method, f"{server.url}{path}", json=body, timeout=3)
    print(f"{method} {path} -> {answer.status_code} {answer.json()}")
assert answer.status_code == 500

# %% [markdown]
# ## The article's curl example
#
# The article ends with this `curl` command. We run it for real if `curl` is installed, and
# otherwise send the same request with `requests`:

# %%
import shlex
import shutil
import subprocess

url = f"{server.url}/not_created"
command = ["curl", "-X", "POST", "-H", "Content-Type: application/json",
           "-d", '{"key1": "value1", "key2": "value2"}', url]
print("$", shlex.join(command))
if shutil.which("curl"):
    done = subprocess.run([*command, "--max-time", "3"], capture_output=True, text=True, timeout=10)
    body = done.stdout
else:
    print("(curl is not installed here; the same request with requests:)")
    body = requests.post(url, json={"key1": "value1", "key2": "value2"}, timeout=3).text
print(body)
assert body == '{"message": "Not Found"}'

# %% [markdown]
# Exactly the answer the article promises.

# %% [markdown]
# ## Pitfall: no `return` after the 404
#
# The article's 404 code writes a `404` when the path is unknown, and then **carries on**:
# there is no `return` after it, so the next line runs as if a path had been found.
# `bug(...)`, from the tutorial's catalogue of the articles' bugs, puts that shape back in a
# copy of the step, written with this step's names:

# %%
from harness.bugs import bug

no_return = bug("no-return").variant()
show_diff(f"{STEP}/server.py", no_return)

# %% [markdown]
# What the client sees is... fine: a correct `404`, and the connection closed.

# %%
no_return_server = ServerProcess(no_return).start()
ex = exchange(no_return_server.host, no_return_server.port, request("GET", "/nowhere"))
print(ex.response.status_line, ex.json(), "(closed)" if ex.closed else "(open)")
assert ex.response.status == 404

# %% [markdown]
# The server's log tells another story: after writing the `404`, `dispatch` went on to the
# next line and called `.get` on `None`:

# %%
no_return_server.wait_for("AttributeError")
print("\n".join(no_return_server.log().splitlines()[-4:]))

# %% [markdown]
# For a known path with a missing method it goes one step further: it calls the missing
# handler (`None`), which fails inside `request_callback_handler`, which then tries to send a
# `500` on a connection it has already closed. The client only saw the `404`; each such
# request adds a traceback to the log:

# %%
mark = no_return_server.mark()
ex = exchange(no_return_server.host, no_return_server.port, request("DELETE", "/hello_world"))
print("client:", ex.response.status_line, ex.json())
no_return_server.wait_for("TypeError", since=mark)
errors = [line for line in no_return_server.log(since=mark).splitlines() if "Error" in line]
print("server:", errors)
assert ex.response.status == 404 and len(ex.responses()) == 1

# %% [markdown]
# Errors that the client never sees are the ones that go unnoticed longest. The step's
# `dispatch` chooses exactly one handler, so nothing runs after the answer.
#
# ## Pitfall: `await` on something that is not a coroutine
#
# The article also writes `await self.response_writer(...)`, but `response_writer` is a plain
# function (`def`, not `async def`). It runs when called and returns `None`, and `await None`
# is an error. In miniature:

# %%
def response_writer():  # a plain function, like the step's response_writer
    print("writing the response")


await_failed = False
try:
    await response_writer()
except TypeError as error:
    print("TypeError:", error)
    await_failed = True
assert await_failed

# %% [markdown]
# The response *was* written (the function ran before `await` looked at its result), and
# then the coroutine stopped with an error. In the article's router the same would follow
# every 404 it writes: the answer goes out, then an error. `await` is for coroutines (and
# other awaitables); call a plain function without it. In the step, only `callback_handler`,
# a coroutine, is awaited.
#
# ## Stop the servers
#
# The step's server has one traceback in its log: the one `/broken` causes on purpose.

# %%
print("no-return version: exit status", no_return_server.stop())
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and no_return_server.returncode == 0
assert server.log().count("Traceback") == 1

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. **Challenge: a trailing slash.** `GET /hello_world/` gets a 404, though the client surely
#    meant `/hello_world`. In your own server file (`tutorial start 06` makes `my_server.py`
#    from step 05's server, or keeps the one you have), answer such a request with
#    `308 Permanent Redirect`, a `Location` header naming the path without its last slash, and
#    a small JSON body with a `"message"`. Keep the query string: `/hello_world/?x=1` gets
#    `Location: /hello_world?x=1`. Redirect only when the path without its slash has a route:
#    `/nowhere/` still gets the 404, and so does `/`. `Response` cannot send a `Location` yet:
#    give it a way to add headers. Why 308 and not the better-known 301: after a 308 the client
#    sends the same request again, method and body included, so a `POST` stays a `POST`;
#    after a 301 or a 302, many clients send a `GET` instead. Start your server with
#    `python my_server.py`, and in a second terminal:
#
#    ```
#    curl -i 'http://127.0.0.1:8080/hello_world/?x=1'
#    curl -iL -d '{"a": 1}' http://127.0.0.1:8080/hello_world/
#    ```
#
#    (`-L` follows the redirect: the second command shows the `308`, then the echo of
#    `POST /hello_world`.) Then let the challenge's tests judge it:
#
#    ```
#    tutorial challenge 06         # the challenge, as its tests see it
#    tutorial check --challenge    # its tests, against your file
#    tutorial hint --challenge     # when you are stuck
#    ```
# 2. An idea to try, and then to undo: make `not_found` say which path it did not find,
#    `{"message": "Not Found", "path": "/nowhere"}`. It cannot be a challenge, because it
#    breaks a promise: this step's tests, and every later step's, expect the 404's body to be
#    exactly the article's `{"message": "Not Found"}`. `tutorial check` stops at the
#    first failure; to see them all, run the tests the plain pytest way:
#
#    ```
#    pytest steps/06_not_found --server my_server.py
#    ```
#
#    8 of the 10 fail. Six of them say `expected the JSON body {"message": "Not Found"}, got
#    {...}`, then show the bytes sent, the bytes that came back, and the `curl` command that
#    sends the same request; the tests of the article's curl command and of the step's client
#    show the text they expected next to what they got. The two that pass check the routes of
#    step 05, and that a 404 runs no other handler. Then put the article's body back.
#
# ## Where next
#
# The article's framework is complete: it parses requests, routes them, reads JSON bodies and
# answers every request. The finished framework in `solution/` (the package `protoweb`) goes
# past it: path parameters such as `/users/{id}` and query strings, `405 Method Not Allowed`
# with an `Allow` header, timeouts so that an idle or trickling client cannot hold a
# connection forever, limits on the size of a request, and HTTP/1.1 keep-alive. Its
# [README](../solution/README.md) shows the API and maps each piece back to these steps;
# [`benchmarks/`](../benchmarks/README.md) measures it against uvicorn, Starlette and aiohttp.
