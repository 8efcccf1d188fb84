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
# ## What changed since step 03
#
# The whole change, computed from the two files in `steps/`. Skim it; we take it apart below.

# %%
from harness.show import show_diff

OLD, NEW = "../steps/03_router/server.py", "../steps/04_response/server.py"
show_diff(OLD, NEW)

# %% [markdown]
# Part by part. Three new imports: `json` to write the body, `traceback` to log errors,
# and `HTTPStatus`, which knows the **reason phrase** of every status code.

# %%
show_diff(OLD, NEW, containing="from http import HTTPStatus")

# %% [markdown]
# An HTTP response starts with a **status line**: the version, a three-digit code, and a
# short reason phrase meant for humans. `HTTPStatus` has them all (the article gets the same
# phrases from `BaseHTTPRequestHandler.responses`):

# %%
from http import HTTPStatus

for code in (200, 400, 404, 500):
    print(code, HTTPStatus(code).phrase)
assert HTTPStatus(404).phrase == "Not Found"

# %% [markdown]
# The `Response` class. `__init__` encodes the body at once: `json.dumps` turns it into JSON
# text, `.encode("utf-8")` turns that text into the bytes to send, kept in `self.content`.
# Two details:
#
# - `ensure_ascii=False` keeps `ü` as it is, so it goes out as its two UTF-8 bytes. Without
#   it, `json.dumps` writes the six ASCII characters `\u00fc` instead. With it, a body's number
#   of bytes and its number of characters can differ: the pitfall about `Content-Length`
#   below depends on that.
# - Encoding in `__init__`, and not later when the response is written, means that a body
#   JSON cannot encode (a `datetime`, say) fails inside the handler that makes the `Response`,
#   where `request_callback_handler` (below) turns the error into a `500`. Encoded later, in
#   `response_writer`, the error would happen outside that safety net, and the client would
#   never get an answer.
#
# `bytes(response)` calls its `__bytes__`, which builds the response:
#
# - the **head**: the status line, then **headers** (`Name: value` lines) about the body and
#   the connection, each line ending in `\r\n` (carriage return + line feed, "CRLF"), as
#   HTTP requires; then an empty line that marks the end of the head;
# - the **body**: those bytes. `Content-Length` is the number of *bytes*, so the client knows
#   where the body ends;
# - `Connection: close` tells the client that the server closes the connection after this
#   one response. (Keeping it open for more requests, "keep-alive", is done by the finished
#   framework in `solution/`.)

# %%
show_diff(OLD, NEW, containing="class Response:")

# %% [markdown]
# `ensure_ascii` at work:

# %%
import json

for ensure_ascii in (True, False):
    text = json.dumps({"city": "Zürich"}, ensure_ascii=ensure_ascii)
    print(f"ensure_ascii={ensure_ascii!s:5}: {text}  {len(text)} characters, "
          f"{len(text.encode('utf-8'))} bytes")

# %% [markdown]
# `dispatch` no longer runs the handler itself: it receives a `callback_handler` from the
# connection's `Server` and passes it the handler and the request. The router decides *who*
# handles a request; the connection decides how the answer gets to its client.
#
# That makes three "handlers" in one line: `method_handler` is the route's handler (such as
# `hello_world`), `callback_handler` is the parameter, and the `Server` passes its method
# `request_callback_handler` as that parameter. The design is the article's; the router of
# the finished framework in `solution/` simply returns the handler instead.

# %%
show_diff(OLD, NEW, containing="async def dispatch(self, request, callback_handler):")

# %% [markdown]
# To write an answer, the `Server` needs its connection's **transport** (asyncio's end of
# the connection, which has `write()` and `close()`). asyncio passes it to
# `connection_made`, the first call of the state machine from step 02; `connection_lost`, the
# last call, forgets it.

# %%
show_diff(OLD, NEW, containing="self.transport = None")

# %% [markdown]
# The last part ties it together:
#
# - the task now runs `dispatch(request, self.request_callback_handler)`;
# - `request_callback_handler` awaits the handler and checks that it returned a `Response`.
#   If anything goes wrong it prints the **traceback** (Python's report of where the error
#   happened) to the server's log, and answers `500 Internal Server Error` instead. So a
#   handler that returns a dictionary (as a Flask view may) or forgets its `return` also gets
#   the client a `500`, with `expected a Response from the handler, got ...` in the log;
# - `response_writer` writes the bytes and closes the connection (`close()` first sends
#   whatever is still buffered), unless the client has already gone (`transport` is `None`
#   after `connection_lost`);
# - `hello_world` returns `Response(200, {"hello": "back"})`, and a new route, `/broken`,
#   fails on purpose.

# %%
show_diff(OLD, NEW, containing="task = asyncio.get_running_loop().create_task(")

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess
from harness.show import show_code

STEP = "../steps/04_response"
server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends the article's request. Its `send` writes the request, then reads
# until the server closes the connection (`reader.read()` with no size reads to the end of
# the stream): that is how it knows the answer is complete, and why `Connection: close`
# matters to it. Its `main` wraps `send` in `asyncio.wait_for`, so it gives up after 5 s.

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
# And `curl`, the command-line client (`-i` shows the head too). The command below runs here
# if curl is installed (with `-s`, which hides its progress meter):

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
# Two everyday mistakes end the same way. A copy of the step with two more handlers: one
# returns a `datetime` in its body, which JSON cannot encode, and one returns a plain
# dictionary instead of a `Response`:

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
# The article joins the response's lines with `"\n"`. HTTP wants `"\r\n"` at the end of
# every line of the head. A copy of the step with the article's line endings:

# %%
lf_only = variant(f"{STEP}/server.py",
                  ('return ("\\r\\n".join(head) + "\\r\\n\\r\\n").encode("ascii") + self.content',
                   'return ("\\n".join(head) + "\\n\\n").encode("ascii") + self.content'),
                  name="server_lf_only.py")
show_diff(f"{STEP}/server.py", lf_only)

# %% [markdown]
# The bytes it sends: no `\r` anywhere.

# %%
lf_server = ServerProcess(lf_only).start()
lf_ex = exchange(lf_server.host, lf_server.port, request("GET", "/hello_world"))
show_exchange(lf_ex)
assert b"\r" not in lf_ex.received

# %% [markdown]
# Who accepts that? First `httptools`' **response** parser (the same C parser, llhttp, that
# Node.js uses for HTTP), fed exactly those bytes. `Reader` prints the one part it is told
# about, the status line's reason phrase:

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

# %% [markdown]
# It read the reason phrase, `OK`, then stopped where it expected the `\r` that ends the
# status line, and refused the response. (The exact message depends on the httptools
# version.) Now `requests` (through Python's `http.client`) and `curl`:

# %%
answer = requests.get(f"{lf_server.url}/hello_world", timeout=3)
print("requests:", answer.status_code, answer.json())
if shutil.which("curl"):
    done = subprocess.run(["curl", "-s", "--max-time", "3", f"{lf_server.url}/hello_world"],
                          capture_output=True, timeout=10)
    print("curl:", done.stdout.decode(), f"(exit status {done.returncode})")
assert answer.json() == {"hello": "back"}
assert rejected_by_llhttp

# %% [markdown]
# Both accept it. HTTP lets whoever *receives* a message accept a bare `\n` as a line end; it
# does not let anyone *send* one. That leniency is what hides the bug: the article's server
# "works" with the clients most people test with, and can fail with a strict one (an
# llhttp-based client, a proxy, a load balancer). Worse, when two programs on the way disagree
# about where a message ends, attackers can exploit it (HTTP desync, request smuggling); that
# is why modern parsers are strict. The step writes `\r\n`, and its tests check the status
# line, that every line of the head ends in `\r\n`, and that `Content-Length` matches the
# body.

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
reraise = variant(f"{STEP}/server.py", (
    '''            if not isinstance(response, Response):
                raise TypeError(f"expected a Response from the handler, got {response!r}")
        except Exception:
            # The traceback goes to the server's log; the client only learns that it failed.
            traceback.print_exc()
            response = Response(500, {"message": "Internal Server Error"})''',
    '''        except Exception as exc:
            response = traceback.format_exception(exc)  # the article: a list of strings
        if not isinstance(response, Response):
            raise RuntimeError(f"expect Response instance but got {type(response)}")'''),
    name="server_reraise.py")
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
# ("Task exception was never retrieved"; step 03 showed that tasks are thrown away once
# nothing refers to them), and it is not even the original error:

# %%
reraise_server.wait_for("RuntimeError: expect Response instance")
print("\n".join(line for line in reraise_server.log().splitlines()
                if not line.startswith(" ")))
assert "Task exception was never retrieved" in reraise_server.log()
assert "fails on purpose" not in reraise_server.log()

# %% [markdown]
# The message of the handler's own exception ("fails on purpose") is nowhere: it was put in a
# list and thrown away. The step's version (the last part of the diff above) logs the real
# traceback with `traceback.print_exc()` and answers `500`, so the client learns at once that
# it failed.
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
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. Copy the step's server to `my_server.py` and add `GET /time`, answering
#    `{"time": ...}` with the current time. JSON cannot encode a `datetime`: send
#    `time.time()` (seconds since 1970) or `datetime.now().isoformat()` (text). If you forget,
#    you get a `500` and the `TypeError` in the server's log, as above. Start it with
#    `python my_server.py` and, in a second terminal, try
#    `curl -i http://127.0.0.1:8080/time`.
# 2. Make `Response` take extra headers (for example `Cache-Control: no-store`) and send
#    them. Then check that your copy still keeps every promise of this step (all the tests
#    should pass):
#
#    ```
#    pytest steps/04_response --server my_server.py
#    ```
#
# **Next:** step 05 reads the request's body: JSON sent by the client, even when it arrives
# in many pieces.
