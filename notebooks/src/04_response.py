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
# The whole change, computed from the two files in `steps/`:

# %%
from harness.show import hunks, show_diff

OLD, NEW = "../steps/03_router/server.py", "../steps/04_response/server.py"
show_diff(OLD, NEW)
assert len(hunks(OLD, NEW)) == 5  # the walk-through below takes these five parts in turn

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
# The `Response` class. `bytes(response)` calls its `__bytes__`, which builds the response:
#
# - the **head**: the status line, then **headers** (`Name: value` lines) that describe the
#   body, each line ending in `\r\n` (carriage return + line feed, "CRLF"), as HTTP
#   requires; then an empty line that marks the end of the head;
# - the **body**: the JSON text, encoded to UTF-8 bytes. `Content-Length` is the number of
#   those *bytes*, so the client knows where the body ends;
# - `Connection: close` tells the client that the server closes the connection after this
#   one response. (Keeping it open for more requests, "keep-alive", comes in a later step.)

# %%
show_diff(OLD, NEW, containing="class Response:")

# %% [markdown]
# `dispatch` no longer runs the handler itself: it receives a `callback_handler` from the
# connection's `Server` and passes it the handler and the request. The router decides *who*
# handles a request; the connection decides how the answer gets to its client.

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
#   happened) to the server's log, and answers `500 Internal Server Error` instead;
# - `response_writer` writes the bytes and closes the connection, unless the client has
#   already gone (`transport` is `None` after `connection_lost`);
# - `hello_world` returns `Response(200, {"hello": "back"})`, and a new route, `/broken`,
#   fails on purpose.

# %%
show_diff(OLD, NEW, containing="task = asyncio.get_running_loop().create_task(")

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess

STEP = "../steps/04_response"
server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends the article's request and, for the first time, prints an answer:

# %%
import subprocess
import sys


def run_client(*args):
    done = subprocess.run([sys.executable, f"{STEP}/client.py", *args],
                          capture_output=True, text=True, timeout=30)
    print(done.stdout + done.stderr + f"(exit status {done.returncode})")
    return done


assert "HTTP/1.1 200 OK" in run_client("--port", str(server.port)).stdout

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
# And `curl`, the command-line client (`-i` shows the head too). It runs here if it is
# installed:

# %%
import shutil

from harness import curl_command

print("$", curl_command(request("GET", "/hello_world"), server.host, server.port))
if shutil.which("curl"):
    done = subprocess.run(["curl", "-si", "--max-time", "3", f"{server.url}/hello_world"],
                          capture_output=True, timeout=10)
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
from harness.variant import variant

lf_only = variant(f"{STEP}/server.py",
                  ('return ("\\r\\n".join(head) + "\\r\\n\\r\\n").encode("ascii") + body',
                   'return ("\\n".join(head) + "\\n\\n").encode("ascii") + body'),
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
# Node.js uses for HTTP), fed exactly those bytes:

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
# It refuses the response because of the bare `\n` line endings.
# (The exact message depends on the httptools version.) Now `requests` (through Python's
# `http.client`) and `curl`:

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
# Both accept it. The HTTP standard lets a *client* be lenient and treat a bare `\n` as a
# line end; it does not let a *server* send one. That leniency is what hides the bug: the
# article's server "works" with the clients most people test with, then fails with a strict
# one (an llhttp-based client, a proxy, a load balancer). Worse, when two programs on the way
# disagree about where a message ends, an attacker can slip a second request past the first
# ("request smuggling"); that is why modern parsers are strict. The step writes `\r\n`, and
# its tests check every byte of the head.

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
                     ('f"Content-Length: {len(body)}",  # a count of bytes, not of characters',
                      'f"Content-Length: {len(body.decode())}",  # the article: characters'),
                     name="server_char_count.py")
show_diff(non_ascii, char_count)

# %% [markdown]
# Both servers, asked the same thing by `requests`:

# %%
servers = {"bytes (the step)": ServerProcess(non_ascii).start(),
           "characters (the article)": ServerProcess(char_count).start()}
for name, srv in servers.items():
    answer = requests.get(f"{srv.url}/hello_world", timeout=3)
    print(f"{name}: Content-Length {answer.headers['Content-Length']}, body received:")
    print("   ", answer.content)
print("the body the handler meant:", len('{"hello": "back", "from": "Zürich ☕"}'), "characters,",
      len('{"hello": "back", "from": "Zürich ☕"}'.encode()), "bytes")

# %% [markdown]
# The client trusts `Content-Length`, reads 37 bytes and stops: the last three bytes (the end
# of the `☕` and the closing `"}`) are cut off. The JSON cannot be decoded:

# %%
try:
    print(answer.json())
except ValueError as error:
    print("requests:", type(error).__name__, "-", error)
assert len(answer.content) == 37 and not answer.content.endswith(b"}")

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
# that task's result, so asyncio can only report the error in the log, and it is not even
# the original one:

# %%
reraise_server.wait_for("RuntimeError: expect Response instance")
print("\n".join(line for line in reraise_server.log().splitlines()
                if not line.startswith(" ")))
assert "fails on purpose" not in reraise_server.log()

# %% [markdown]
# The message of the handler's own exception ("fails on purpose") is nowhere: it was put in a
# list and thrown away. The step's version (hunk 5 above) logs the real traceback with
# `traceback.print_exc()` and answers `500`, so the client learns at once that it failed.
#
# ## Stop the servers

# %%
others = [lf_server, reraise_server, *servers.values()]
print("the variants' exit statuses:", [srv.stop() for srv in others])
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and all(srv.returncode == 0 for srv in others)

# %% [markdown]
# The step's own log has one traceback, the one `/broken` caused on purpose; that one is
# expected.
#
# ## Try it
#
# 1. Copy the step's server to `my_server.py` and add `GET /time`, answering
#    `{"time": ...}` with the current time. Try it with `curl -i`.
# 2. Make `Response` take extra headers (for example `Cache-Control: no-store`) and send
#    them. Then check that your copy still keeps every promise of this step:
#
#    ```
#    pytest steps/04_response --server my_server.py
#    ```
#
# **Next:** step 05 reads the request's body: JSON sent by the client, even when it arrives
# in many pieces.
