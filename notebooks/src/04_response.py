# %% [markdown]
# # Step 04: the server answers
#
# Until now every client waited in vain. In this step a handler **returns** a `Response`
# (a status code and a JSON body), and the server turns it into the bytes of an HTTP
# response, writes them to the client and closes the connection. A handler that crashes
# gets the client a `500` error instead of silence.
#
# Where we are (the highlighted box is new in this step):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser] --> R[router] --> F[handler] --> W[response]
#     style W fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## What changes
#
# The ideas, in the order this notebook takes them:
#
# 1. **An HTTP response**, and the `Response` class that builds its bytes (26 lines).
# 2. **Writing it back**: the `Server` keeps its connection's transport (8 lines), runs the
#    handler, writes the answer, and turns a failure into a `500` (25 lines).
# 3. **The router hands over**: `dispatch` passes the handler to the `Server` (2 lines).
# 4. **Run it**: the bytes on the wire, real clients, a handler that fails.
# 5. **Three of the article's bugs**, put back and run: `\n` line endings, `Content-Length`
#    in characters, and an error that leaves the client hanging.

# %%
from harness.show import diff_size, show_diff

OLD, NEW = "../steps/03_router/server.py", "../steps/04_response/server.py"
added, removed = diff_size(OLD, NEW)
print(f"step 03 -> step 04: {added} lines added, {removed} removed")
show_diff(OLD, NEW, collapsed="The whole change, from step 03")

# %% [markdown]
# ## An HTTP response
#
# A response has the same shape as a request:
#
# - a **status line**: the version, a three-digit code, and a short **reason phrase** meant
#   for humans, as in `HTTP/1.1 200 OK`;
# - **headers**, `Name: value` lines about the body and the connection;
# - an empty line that ends the head, then the **body**.
#
# Every line of the head ends in `\r\n` (carriage return + line feed, "CRLF"). The file gets
# three new imports for it: `json` to write the body, `traceback` to log a handler's errors,
# and `HTTPStatus`, which knows the reason phrase of every status code.

# %%
show_diff(OLD, NEW, containing="from http import HTTPStatus")

# %% [markdown]
# (The article gets the same phrases from `BaseHTTPRequestHandler.responses`.)

# %%
from http import HTTPStatus

for code in (200, 400, 404, 500):
    print(code, HTTPStatus(code).phrase)
assert HTTPStatus(404).phrase == "Not Found"

# %% [markdown]
# The `Response` class. `__init__` encodes the body at once: `json.dumps` turns it into JSON
# text, `.encode("utf-8")` turns that text into the bytes to send, kept in `self.content`.
# `ensure_ascii=False` keeps `ü` as it is, so it goes out as its two UTF-8 bytes (without it,
# `json.dumps` writes the six ASCII characters `\u00fc`).
#
# `bytes(response)` calls its `__bytes__`, which builds the head and appends the body.
# `Content-Length` is the number of *bytes* in the body, so the client knows where it ends.
# `Connection: close` tells the client that the server closes the connection after this one
# response. (Keeping it open for more requests, "keep-alive", comes in a later step.)

# %%
show_diff(OLD, NEW, containing="class Response:")

# %% [markdown]
# `ensure_ascii` at work: with `ensure_ascii=False`, a body's number of bytes and its number
# of characters differ.

# %%
import json

for ensure_ascii in (True, False):
    text = json.dumps({"city": "Zürich"}, ensure_ascii=ensure_ascii)
    print(f"ensure_ascii={ensure_ascii!s:5}: {text}  {len(text)} characters, "
          f"{len(text.encode('utf-8'))} bytes")

# %% [markdown]
# ## Writing it back
#
# To write an answer, the `Server` needs its connection's **transport** (asyncio's end of
# the connection, which has `write()` and `close()`). asyncio passes it to `connection_made`,
# the first of the calls step 02 traced; `connection_lost`, the last, forgets it.

# %%
show_diff(OLD, NEW, containing="self.transport = None")

# %% [markdown]
# Then the answer itself:
#
# - the task now runs `dispatch(request, self.request_callback_handler)`: the router will
#   call that method with the handler it chose;
# - `request_callback_handler` awaits the handler and checks that it returned a `Response`.
#   If anything goes wrong it prints the **traceback** (Python's report of where the error
#   happened) to the server's log, and answers `500 Internal Server Error` instead. So a
#   handler that returns a dictionary (as a Flask view may) or forgets its `return` also gets
#   the client a `500`. This is also why `Response` encodes its body in `__init__`: a body
#   that JSON cannot encode fails inside the handler, within this safety net, and not later
#   in `response_writer`, where the client would get nothing;
# - `response_writer` writes the bytes and closes the connection (`close()` first sends
#   whatever is still buffered), unless the client has already gone (`transport` is `None`
#   after `connection_lost`);
# - `hello_world` returns `Response(200, {"hello": "back"})`, and a new route, `/broken`,
#   fails on purpose.

# %%
show_diff(OLD, NEW, containing="task = asyncio.get_running_loop().create_task(")

# %% [markdown]
# ## The router hands over
#
# `dispatch` no longer runs the handler itself: it passes the handler and the request to the
# `callback_handler` it was given, the `Server`'s `request_callback_handler`. The router
# decides *who* handles a request; the connection decides how the answer gets to its client.
# (`method_handler`, `callback_handler`, `request_callback_handler`: three "handlers" in one
# line. The design is the article's; the router of the finished framework in `solution/`
# simply returns the handler instead.)

# %%
show_diff(OLD, NEW, containing="async def dispatch(self, request, callback_handler):")

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess
from harness.show import show_code

STEP = "../steps/04_response"
server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends the article's request, then reads until the server closes the
# connection (`reader.read()` with no size reads to the end of the stream): that is how it
# knows the answer is complete, and why `Connection: close` matters to it. `main` wraps
# `send` in `asyncio.wait_for`, so it gives up after 5 s.

# %%
show_code(f"{STEP}/client.py", "async def send")

# %% [markdown]
# For the first time, it prints an answer:

# %%
from harness.show import run_client

assert "HTTP/1.1 200 OK" in run_client(f"{STEP}/client.py", "--port", str(server.port)).stdout

# %% [markdown]
# ## The bytes on the wire
#
# Every byte, both ways, with the line endings visible:

# %%
from harness import exchange, request
from harness.show import show_exchange

mark = server.mark()
ex = exchange(server.host, server.port, request("GET", "/hello_world"))
show_exchange(ex)
print("server log:", server.wait_for("Handle: GET /hello_world None", since=mark).string)
response = ex.response  # parsed strictly: CRLF endings, a byte-exact Content-Length
assert response.status_line == "HTTP/1.1 200 OK" and ex.closed
assert response.header("Content-Length") == str(len(response.body))
assert ex.json() == {"hello": "back"}

# %% [markdown]
# The status line, three headers, the empty line (`\r\n` alone), then exactly 17 bytes of
# body, and the server closed the connection, as its `Connection: close` said it would.
#
# ## With real clients
#
# `requests` reads the same bytes and hands us the pieces:

# %%
import requests

answer = requests.get(f"{server.url}/hello_world", timeout=3)
print(answer.status_code, answer.reason)
print(dict(answer.headers))
print(answer.json())
assert answer.status_code == 200 and answer.json() == {"hello": "back"}

# %% [markdown]
# And `curl`, the command-line client (`-i` shows the head too), run here if it is installed
# (with `-s`, which hides its progress meter):

# %%
import shlex
import shutil
import subprocess

from harness import curl_command

command = curl_command(request("GET", "/hello_world"), server.host, server.port)
print("$", command)
if shutil.which("curl"):
    done = subprocess.run([*shlex.split(command), "-s"], capture_output=True, timeout=10)
    print(done.stdout.decode())
    assert done.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
else:
    print("(curl is not installed here)")

# %% [markdown]
# ## A handler that fails
#
# `/broken` raises an exception. The client gets a plain `500` with a short JSON message:

# %%
mark = server.mark()
ex = exchange(server.host, server.port, request("GET", "/broken"))
show_exchange(ex)
assert ex.response.status == 500 and ex.json() == {"message": "Internal Server Error"}

# %% [markdown]
# The details went to the server's log, where the developer can read them, and not to the
# client (a traceback can reveal file paths, code and data to a stranger). The last lines:

# %%
server.wait_for("RuntimeError: this handler fails on purpose", since=mark)
print("\n".join(server.log(since=mark).splitlines()[-3:]))
assert b"Traceback" not in ex.received and b"RuntimeError" not in ex.received

# %% [markdown]
# And the server carries on serving:

# %%
ex = exchange(server.host, server.port, request("GET", "/hello_world"))
print(ex.response.status_line, ex.json())
assert ex.json() == {"hello": "back"}

# %% [markdown]
# Two everyday mistakes end the same way. `variant` copies the step's file with a few exact
# replacements; this copy has two more handlers: one returns a `datetime` in its body, which
# JSON cannot encode, and one returns a plain dictionary instead of a `Response`:

# %%
from harness.variant import variant

mistakes = variant(f"{STEP}/server.py",
                   ("import traceback\n", "import traceback\nfrom datetime import datetime\n"),
                   ('    router.add_route("/broken", {"GET": broken})\n',
                    '    router.add_route("/broken", {"GET": broken})\n'
                    "\n"
                    "    async def now(request):\n"
                    '        return Response(200, {"now": datetime.now()})  # not JSON\n'
                    "\n"
                    "    async def plain_dict(request):\n"
                    '        return {"hello": "back"}  # not a Response\n'
                    "\n"
                    '    router.add_route("/now", {"GET": now})\n'
                    '    router.add_route("/dict", {"GET": plain_dict})\n'),
                   name="server_mistakes.py")
show_diff(f"{STEP}/server.py", mistakes)

# %% [markdown]
# Each gets the client a `500`, and the log says what went wrong (here its `TypeError` lines):

# %%
mistakes_server = ServerProcess(mistakes).start()
for path in ("/now", "/dict"):
    ex = exchange(mistakes_server.host, mistakes_server.port, request("GET", path))
    print(f"GET {path} -> {ex.response.status_line} {ex.json()}")
    assert ex.response.status == 500
mistakes_server.wait_for("TypeError: expected a Response from the handler")
print("\n".join(line for line in mistakes_server.log().splitlines() if line.startswith("TypeError")))

# %% [markdown]
# ## Still unanswered: an unknown path
#
# `dispatch` still just returns when no route matches, so nobody writes an answer and the
# connection stays open. We wait one second:

# %%
ex = exchange(server.host, server.port, request("GET", "/nowhere"), timeout=1)
show_exchange(ex)
assert ex.received == b"" and not ex.closed

# %% [markdown]
# A real client would hang until its own timeout. Step 06 fixes this.

# %% [markdown]
# ## Pitfall: `\n` instead of `\r\n`
#
# The article joins the response's lines with `"\n"`; HTTP wants `"\r\n"` at the end of
# every line of the head. `bug(...)`, from the tutorial's catalogue of the articles' bugs,
# puts the article's line endings back in a copy of the step:

# %%
from harness.bugs import bug

lf_only = bug("lf-only").variant()
show_diff(f"{STEP}/server.py", lf_only)

# %% [markdown]
# The bytes it sends: no `\r` anywhere.

# %%
lf_server = ServerProcess(lf_only).start()
lf_ex = exchange(lf_server.host, lf_server.port, request("GET", "/hello_world"))
show_exchange(lf_ex)
assert b"\r" not in lf_ex.received

# %% [markdown]
# Yet `requests` (through Python's `http.client`) and `curl` accept it:

# %%
answer = requests.get(f"{lf_server.url}/hello_world", timeout=3)
print("requests:", answer.status_code, answer.json())
if shutil.which("curl"):
    done = subprocess.run(["curl", "-s", "--max-time", "3", f"{lf_server.url}/hello_world"],
                          capture_output=True, timeout=10)
    print("curl:", done.stdout.decode(), f"(exit status {done.returncode})")
assert answer.json() == {"hello": "back"}

# %% [markdown]
# HTTP lets whoever *receives* a message accept a bare `\n` as a line end; it does not let
# anyone *send* one. That leniency hides the bug: the article's server "works" with the
# clients most people test with, and fails with a strict one (a deep dive at the end shows
# one refusing these very bytes). The step writes `\r\n`, and its tests check that every
# line of the head ends in `\r\n`.

# %% [markdown]
# ## Pitfall: counting characters instead of bytes
#
# `Content-Length` counts **bytes**. The article uses `len()` of the text, which counts
# **characters** (its first version even took `len()` of the dictionary: its number of keys).
# For plain English, characters and bytes are the same number; for `ü` (2 bytes in UTF-8) or
# `☕` (3 bytes) they are not. To see it we need a handler that returns non-ASCII text:

# %%
non_ascii = variant(f"{STEP}/server.py",
                    ('return Response(200, {"hello": "back"})',
                     'return Response(200, {"hello": "back", "from": "Zürich ☕"})'),
                    name="server_non_ascii.py")
show_diff(f"{STEP}/server.py", non_ascii)

# %% [markdown]
# And the article's count, on top of that:

# %%
char_count = variant(non_ascii,
                     ('f"Content-Length: {len(self.content)}",  # a count of bytes, not of characters',
                      'f"Content-Length: {len(self.content.decode())}",  # the article: characters'),
                     name="server_char_count.py")
show_diff(non_ascii, char_count)

# %% [markdown]
# Both servers, asked the same thing by `requests`:

# %%
servers = {"bytes (the step)": ServerProcess(non_ascii).start(),
           "characters (the article)": ServerProcess(char_count).start()}
answers = {}
for name, srv in servers.items():
    answers[name] = requests.get(f"{srv.url}/hello_world", timeout=3)
    print(f"{name}: Content-Length {answers[name].headers['Content-Length']}, body received:")
    print("   ", answers[name].content)
meant = '{"hello": "back", "from": "Zürich ☕"}'
print("the body the handler meant:", len(meant), "characters,", len(meant.encode()), "bytes")

# %% [markdown]
# Trusting the article's `Content-Length`, the client reads 37 bytes and stops: the last three
# bytes (the end of the `☕` and the closing `"}`) are cut off. The JSON cannot be decoded:

# %%
cut_short = answers["characters (the article)"]
try:
    print(cut_short.json())
except ValueError as error:
    print("requests:", type(error).__name__, "-", error)
assert len(cut_short.content) == 37 and not cut_short.content.endswith(b"}")

# %% [markdown]
# ## Pitfall: an error that leaves the client hanging
#
# The article's `request_callback_handler` catches an exception, turns its traceback into a
# list of strings, then raises a new error because that list is not a `Response`. A copy of
# the step with the article's version:

# %%
reraise = bug("reraise").variant()
show_diff(f"{STEP}/server.py", reraise)

# %% [markdown]
# Ask it for `/broken`, waiting at most one second:

# %%
reraise_server = ServerProcess(reraise).start()
ex = exchange(reraise_server.host, reraise_server.port, request("GET", "/broken"), timeout=1)
show_exchange(ex)
assert ex.received == b"" and not ex.closed

# %% [markdown]
# No answer: the new error ended the task before `response_writer` ran. Nobody waits for
# that task's result, so asyncio reports the error only when the finished task is thrown away
# ("Task exception was never retrieved"; step 03 told why a task nobody refers to is thrown
# away), and it is not even the original error:

# %%
reraise_server.wait_for("RuntimeError: expect Response instance")
print("\n".join(line for line in reraise_server.log().splitlines()
                if not line.startswith(" ")))
assert "Task exception was never retrieved" in reraise_server.log()
assert "fails on purpose" not in reraise_server.log()

# %% [markdown]
# The message of the handler's own exception ("fails on purpose") is nowhere: it was put in a
# list and thrown away. The step's version logs the real traceback with
# `traceback.print_exc()` and answers `500`, so the client learns at once that it failed.
#
# ## Stop the servers
#
# The step's own log has one traceback, the one `/broken` caused on purpose; that one is
# expected.

# %%
others = [lf_server, reraise_server, mistakes_server, *servers.values()]
print("the variants' exit statuses:", [srv.stop() for srv in others])
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and all(srv.returncode == 0 for srv in others)
assert server.log().count("Traceback") == 1

# %% [markdown]
# That is the step. After the exercises comes one deep dive, which you can skip: a strict
# parser reading the article's `\n` line endings.

# %% [markdown]
# ## Try it
#
# Two challenges go past this step, each checked by its own tests. In a terminal, from the
# repository's root folder, with the environment activated (`source .venv/bin/activate`),
# `tutorial start 04` gives you a `my_server.py` (made from step 03's server) to build the
# step in; once `tutorial check` passes, go on in the same file:
#
# 1. **A `Date` header on every answer**, `200` and `500` alike: a server with a clock must
#    say when it answered (RFC 9110, section 6.6.1), in HTTP's own date format,
#    `Date: Sat, 05 Dec 2026 18:30:00 GMT`. One line in `Response.__bytes__` does it; the
#    standard library has a function that writes this format.
# 2. **`GET /time`** answers `{"time": ...}` with the current time, as a number of seconds
#    since 1970 (`time.time()`). JSON cannot encode a `datetime`: send one and you get a
#    `500`, and the `TypeError` in the server's log, as above. Start your server with
#    `python my_server.py` and try `curl -i http://127.0.0.1:8080/time` in a second terminal.
#
# ```
# tutorial challenge 04        # the two challenges, in full
# tutorial check --challenge   # their tests, against my_server.py
# tutorial hint --challenge    # stuck? a hint, in three levels
# ```
#
# **Next:** step 05 reads the request's body: JSON sent by the client, even when it arrives
# in many pieces.


# %% [markdown]
# ## Deep dive: a strict parser and the bare `\n`
#
# `requests` and `curl` accepted the article's line endings. `httptools` has a **response**
# parser too, built on llhttp, the C parser that Node.js uses for HTTP. Fed exactly the bytes
# the article's version sent (`lf_ex`, captured earlier), what does it do? `Reader` prints
# the one part it is told about, the status line's reason phrase:

# %%
from httptools import HttpResponseParser


class Reader:
    def on_status(self, status):
        print("status:", status)


rejected_by_llhttp = False
try:
    HttpResponseParser(Reader()).feed_data(lf_ex.received)
    print("accepted")
except Exception as error:
    print("rejected:", type(error).__name__, "-", error)
    rejected_by_llhttp = True
assert rejected_by_llhttp

# %% [markdown]
# It read the reason phrase, `OK`, then stopped where it expected the `\r` that ends the
# status line, and refused the response. (The exact message depends on the httptools
# version.) Strict parsers like this one sit in clients, proxies and load balancers, and they
# are strict for a reason: when two programs on the way disagree about where a message ends,
# an attacker can slip a second message inside the first (HTTP desync, or request
# smuggling).
