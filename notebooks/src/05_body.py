# %% [markdown]
# # Step 05: reading the request's body
#
# A `POST` request carries data in its **body**, here JSON. Since step 02 the server has
# collected the body's pieces; this step decodes the joined body as JSON once the request is
# complete, and gives the handler a Python object. `POST /hello_world` echoes what it was
# sent. A body that is not valid JSON gets a `400 Bad Request` answer instead of a crash.
#
# Where we are (the highlighted box is what this step changes):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser + body] --> R[router] --> F[handler] --> W[response]
#     style H fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## What changes
#
# The ideas, in the order this notebook takes them:
#
# 1. **Bodies arrive in pieces**: watched live, in a copy of the step that logs each piece.
# 2. **Decode once, at the end**: why, then the code that decodes the joined body and answers
#    `400` when it cannot (9 lines).
# 3. **The handlers**: `GET` says hello, `POST` echoes the object it got (8 lines).
# 4. **Run it**: JSON in and out, non-ASCII text, bad bodies, a chunked body.
# 5. **Two of the article's bugs**, put back and run: decoding a body that is not there, and
#    keeping only the last piece.

# %%
from harness.show import diff_size, show_diff

OLD, NEW = "../steps/04_response/server.py", "../steps/05_body/server.py"
added, removed = diff_size(OLD, NEW)
print(f"step 04 -> step 05: {added} lines added, {removed} removed")
show_diff(OLD, NEW, collapsed="The whole change, from step 04")

# %% [markdown]
# ## Bodies arrive in pieces
#
# To watch the pieces arrive, `variant` makes a copy of the step's server with one extra
# line: it logs the size of every piece `on_body` receives. (This is a probe, not a bug.) The
# cell shows the extra line and starts the copy:

# %%
from harness import ServerProcess
from harness.variant import variant

STEP = "../steps/05_body"
counting = variant(f"{STEP}/server.py",
                   ("        self._body_parts.append(body)\n",
                    "        self._body_parts.append(body)\n"
                    "        print(f\"on_body: {len(body)} bytes\", flush=True)\n"),
                   name="server_counting.py")
show_diff(f"{STEP}/server.py", counting)
counting_server = ServerProcess(counting).start()
print(counting_server.log())

# %% [markdown]
# Now a 1 MB JSON object, sent with `requests` (`json=` encodes it and sets the headers):

# %%
import requests

big = {"data": "x" * 1_000_000}
mark = counting_server.mark()
answer = requests.post(f"{counting_server.url}/hello_world", json=big, timeout=10)
print(answer.status_code, answer.reason, "- echoed", len(answer.json()["data"]), "characters")
counting_server.wait_for("Handle: POST", since=mark)
log_lines = counting_server.log(since=mark).splitlines()
pieces = [line for line in log_lines if line.startswith("on_body")]
print(len(pieces), "calls to on_body:", ", ".join(line.split()[1] for line in pieces))
assert answer.status_code == 200 and answer.json() == {**big, "hello": "back"} and len(pieces) > 1

# %% [markdown]
# One request, several `on_body` calls (how many depends on how the bytes travelled; run the
# cell again and the count may change). Because the step appends every piece and joins them at
# the end, the handler got the whole megabyte, and echoed it back.

# %% [markdown]
# ## Decode once, at the end
#
# Why not decode each piece as it comes? Because a piece of JSON is not valid JSON, and a
# piece may even end in the middle of a character. In UTF-8, `ü` is two bytes; cut between
# them, neither half is text:

# %%
text = '{"city": "Zürich"}'
data = text.encode("utf-8")
cut = data.index("ü".encode()) + 1  # between the two bytes of ü
for piece in (data[:cut], data[cut:]):
    try:
        print(piece, "->", piece.decode("utf-8"))
    except UnicodeDecodeError as error:
        print(piece, "->", type(error).__name__, error)
print("joined first:", data[:cut] + data[cut:], "->", (data[:cut] + data[cut:]).decode("utf-8"))

# %% [markdown]
# The same cut over the network: the request goes out in two pieces, a moment apart, so the
# body reaches `on_body` in two pieces, split inside the `ü`. The step's server decodes only
# the joined body:

# %%
from harness import exchange, request
from harness.show import show_exchange

raw = request("POST", "/hello_world", data, {"Content-Type": "application/json"})
split = len(raw) - len(data) + cut
mark = counting_server.mark()
ex = exchange(counting_server.host, counting_server.port, raw[:split], raw[split:], pause=0.1)
counting_server.wait_for("Handle: POST", since=mark)
print("server log:", counting_server.log(since=mark), sep="\n")
print("answer:", ex.json())
assert ex.json() == {"city": "Zürich", "hello": "back"}

# %% [markdown]
# ## The code
#
# The docstring says what the step does:

# %%
show_diff(OLD, NEW, containing="Step 05: requests with a JSON body.")

# %% [markdown]
# `on_message_complete` joins the body's pieces, then decodes the JSON **once**, now that the
# whole body is here. An empty body (a `GET`) becomes `None`. `json.loads` raises a
# `ValueError` when the bytes are not valid JSON (or not even valid UTF-8 text), and a
# `RecursionError` when the JSON is nested too deep for it (a body of 100,000 `[`, say).
# Either way the server answers `400` at once and calls no handler (the `return`).
#
# This happens for every request, before routing, whatever its `Content-Type` says: this
# framework speaks only JSON, so a body that is not JSON gets a `400` even on a path that
# has no handler.

# %%
show_diff(OLD, NEW, containing='raw_body = b"".join(self._body_parts)')

# %% [markdown]
# The handlers: `GET /hello_world` now says `{"hello": "world"}` (the article changes its
# values here too), and a new handler, `process_request`, answers `POST /hello_world` with
# the object it received plus `"hello": "back"`. It answers `400` to JSON that is not an
# object (a list, a number): `{**request.body, ...}` only works with a dictionary.

# %%
show_diff(OLD, NEW, containing='return Response(200, {"hello": "world"})')

# %% [markdown]
# ## Run it: JSON in, JSON out
#
# From here on, the step's own server:

# %%
server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends the article's two requests, a `GET` and a `POST`:

# %%
from harness.show import run_client

done = run_client(f"{STEP}/client.py", "--port", str(server.port))
assert '{"key1": "value1", "key2": "value2", "hello": "back"}' in done.stdout

# %% [markdown]
# The server's log shows what each handler received: `None` for the `GET`, which has no
# body, and a Python dictionary for the `POST`:

# %%
server.wait_for("Handle: POST /hello_world {")
print(server.log())
assert "Handle: GET /hello_world None" in server.log()

# %% [markdown]
# Now a body with non-ASCII text, and a random value so the answer cannot be canned. The
# bytes on the wire show the UTF-8 encoding, and both `Content-Length` headers count bytes:

# %%
import json
import secrets

sent = {"city": "Zürich", "greeting": "こんにちは", "token": secrets.token_hex(4)}
text = json.dumps(sent, ensure_ascii=False)
body = text.encode("utf-8")
raw = request("POST", "/hello_world", body, {"Content-Type": "application/json"})
ex = exchange(server.host, server.port, raw)
show_exchange(ex)
print(f"request body: {len(text)} characters, {len(body)} bytes")
assert ex.json() == {**sent, "hello": "back"}
assert ex.response.header("Content-Length") == str(len(ex.response.body))

# %% [markdown]
# The same request with `curl`, from a terminal:

# %%
from harness import curl_command

print(curl_command(raw, server.host, server.port))

# %% [markdown]
# ## Bad bodies get a 400
#
# A body that is not JSON, and a JSON value that is not an object. Both answers say what is
# wrong, in JSON, and the server stays up. The first answer comes before routing, so a path
# without a handler gets it too:

# %%
for path, bad in (("/hello_world", b'{"key1": '), ("/hello_world", b"[1, 2, 3]"), ("/nowhere", b'{"key1": ')):
    ex = exchange(server.host, server.port, request("POST", path, bad))
    print(f"{path:12} {bad!r:14} -> {ex.response.status_line}: {ex.json()}")
    assert ex.response.status == 400 and "message" in ex.json()

# %% [markdown]
# ## A chunked body
#
# A client that does not know the body's length in advance (it is streaming it) sends it
# **chunked**: `Transfer-Encoding: chunked` instead of `Content-Length`, then the body in
# chunks. Each chunk is its size in hexadecimal (`a` is 10), `\r\n`, the data, `\r\n`; a chunk
# of size 0 ends the body. The parser removes the framing; `on_body` only sees the data:

# %%
from harness import chunked

body = json.dumps({"streamed": secrets.token_hex(4)}).encode()
headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
head = request("POST", "/hello_world", headers=headers)  # no body yet: it follows in chunks
ex = exchange(server.host, server.port, head, chunked(body, 10))
show_exchange(ex)
assert ex.json() == {**json.loads(body), "hello": "back"}

# %% [markdown]
# ## Pitfall: decoding a body that is not there
#
# The article calls `json.loads(self.body)` for every request, with no check and no `400`.
# A `GET` has no body, and `json.loads` of nothing raises an error. `bug(...)`, from the
# tutorial's catalogue of the articles' bugs, puts the article's decoding back in a copy of
# the step:

# %%
from harness.bugs import bug

no_check = bug("loads-always").variant()
show_diff(f"{STEP}/server.py", no_check)

# %% [markdown]
# A `POST` with a body still works, so a quick test with the article's `POST` example passes.
# The article's own `GET` does not:

# %%
no_check_server = ServerProcess(no_check).start()
post = requests.post(f"{no_check_server.url}/hello_world", json={"key1": "value1"}, timeout=3)
print("POST:", post.status_code, post.json())
get_failed = False
try:
    requests.get(f"{no_check_server.url}/hello_world", timeout=3)
except requests.exceptions.ConnectionError as error:
    print("GET: ", type(error).__name__, "-", error)
    get_failed = True

# %% [markdown]
# The server closed the connection without a word. Its log says why (the traceback is long;
# here are its last lines):

# %%
no_check_server.wait_for("httptools.parser.errors.HttpParserCallbackError")
print("\n".join(line for line in no_check_server.log().splitlines()
                if line.startswith(("json.decoder", "httptools.parser.errors", "Fatal error"))))
assert get_failed and post.status_code == 200

# %% [markdown]
# `json.loads` raised inside `on_message_complete`, a parser callback; httptools passed the
# error up through `feed_data` to `data_received`; and when `data_received` raises, asyncio
# logs "Fatal error" and closes that connection. The step decodes only a body that is there,
# and answers `400` when it cannot decode one.

# %% [markdown]
# ## Pitfall: keeping only the last piece
#
# The article's `on_body` does `self.body = data`: each call **replaces** what the previous
# calls delivered. A copy of the step with that behaviour:

# %%
last_piece = bug("last-body-piece").variant()
show_diff(f"{STEP}/server.py", last_piece)

# %% [markdown]
# Small bodies arrive in one piece, so they work. The 1 MB body from before does not: only
# its last piece is left, which is not valid JSON on its own, and a perfectly good request
# is refused:

# %%
last_piece_server = ServerProcess(last_piece).start()
for payload in ({"key1": "value1"}, big):
    answer = requests.post(f"{last_piece_server.url}/hello_world", json=payload, timeout=10)
    size = len(json.dumps(payload).encode("utf-8"))  # what requests sends for json=payload
    print(f"{size:>9,} bytes sent -> {answer.status_code} {answer.content[:60]}")
assert answer.status_code == 400

# %% [markdown]
# With a plain-text body the loss would be silent: the handler would get the last piece and
# carry on with it. The step appends every piece, and joins them in `on_message_complete`.
#
# ## Stop the servers

# %%
variants = [counting_server, no_check_server, last_piece_server]
print("the variants' exit statuses:", [srv.stop() for srv in variants])
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and "Traceback" not in server.log()
assert all(srv.returncode == 0 for srv in variants)

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. **Challenge: add up numbers.** In your own server file (`tutorial start 05` makes
#    `my_server.py` from step 04's server, or keeps the one you have; `tutorial check` tells
#    you when it does all this step does), add a route `POST /sum`: the body is a JSON list of
#    numbers, the answer `200` with `{"sum": ...}`, their total (`[1, 2, 3.5]` gives
#    `{"sum": 6.5}`, `[]` gives `{"sum": 0}`). Any other body, an object, a list with text or
#    another list in it, or no body at all, gets `400` with a JSON `{"message": ...}` that says
#    what to send. Watch out for `[1, true]`: `true` is no number in JSON, but Python's `bool`
#    is a kind of `int`, so `sum()` happily counts it as 1. Start your server with
#    `python my_server.py`, and in a second terminal send `[1, 2, 3.5]`:
#
#    ```
#    curl -i -H 'Content-Type: application/json' -d '[1, 2, 3.5]' http://127.0.0.1:8080/sum
#    ```
#
#    (`-d` alone would label the body `application/x-www-form-urlencoded`, the type of an HTML
#    form. This server ignores `Content-Type` and decodes every body as JSON, so it would work
#    anyway; the header says what you really send.) Then let the challenge's tests judge it:
#
#    ```
#    tutorial challenge 05         # the challenge, as its tests see it
#    tutorial check --challenge    # its tests, against your file
#    tutorial hint --challenge     # when you are stuck
#    ```
# 2. A new route changes none of the step's promises: `tutorial check` runs the step's own
#    tests against your file, and they should all still pass. Then send `/sum` a body that is
#    not JSON at all (`-d '[1, 2'`): the `400` comes from `on_message_complete`, before any
#    route is looked up, and its message is not the one your handler writes.
#
# **Next:** step 06 makes sure every request gets an answer: a path or method with no
# handler gets `404 Not Found` instead of silence.
