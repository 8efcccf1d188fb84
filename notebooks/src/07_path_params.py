# %% [markdown]
# # Step 07: path parameters, query strings, and 405
#
# Up to step 06 a route was one exact path, such as `/hello_world`. Real applications carry
# data in the path (`/users/42`) and in the query string (`?page=2`). This step adds:
#
# - route **patterns**: `/hello/{name}` matches `/hello/Jürgen` and calls the handler with
#   `name="Jürgen"` (in Flask, `/hello/<name>`);
# - the parsed query string, `request.query`;
# - `405 Method Not Allowed`, with an `Allow` header, for a known path asked with a method it
#   lacks (an unknown path still gets `404`);
# - handlers that return a `dict` (sent as JSON) or a `str` (sent as text).
#
# Steps 01 to 06 followed the article *A Python Web Framework*. The router here follows a
# second one, *Simple Python Framework from Scratch* ("the second article").
#
# Where we are (the highlighted boxes are what this step changes):
#
# ```mermaid
# flowchart LR
#     S[socket] --> P[transport + protocol] --> H[HTTP parser] --> Q[request: path + query]
#     Q --> R[router: patterns, 404 / 405] --> F[handler: Response, dict or str] --> W[response + headers]
#     style Q fill:#ffd54f,stroke:#e65100,stroke-width:3px
#     style R fill:#ffd54f,stroke:#e65100,stroke-width:3px
#     style F fill:#ffd54f,stroke:#e65100,stroke-width:3px
# ```

# %% [markdown]
# ## The change in brief
#
# The ideas in the order we take them, with the lines each adds and removes:
#
# 1. **Percent-encoding**: how a URL carries `ü`, or a `/` that is data (background).
# 2. **Request and response**: the path kept percent-encoded, the parsed query, room for path
#    parameters; extra headers and text bodies (+22 / -8, with the imports).
# 3. **The router**: routes compiled to regular expressions, the first match wins, its
#    parameters decoded, `405` for a wrong method (+33 / -6).
# 4. **Calling the handler** with its parameters; a `dict` or a `str` becomes a response
#    (+4 / -2).
# 5. **Three new routes**, run live against real clients (+12).
# 6. **Three routing pitfalls**, each put back into a copy of the step and run.
#
# The docstring makes up the rest (+7 / -5). The whole diff, folded:

# %%
from harness.show import diff_size, show_diff

OLD, NEW = "../steps/06_not_found/server.py", "../steps/07_path_params/server.py"
STEP = "../steps/07_path_params"
added, removed = diff_size(OLD, NEW)
print(f"step 06 -> step 07: {added} lines added, {removed} removed")
show_diff(OLD, NEW, collapsed="The whole change, from step 06")

# %% [markdown]
# ## Percent-encoding, in one minute
#
# A URL may hold only a small set of ASCII characters. Anything else travels
# **percent-encoded**: each byte of its UTF-8 form written as `%` and two hex digits, so
# `Jürgen` (`ü` is two bytes) becomes `J%C3%BCrgen`. The same trick puts a character that
# means something in a URL *inside* data: `%2F` is a slash that is data, not a separator.
# `quote` encodes, `unquote` decodes (`safe=""` makes `quote` encode `/` too):

# %%
from urllib.parse import parse_qs, quote, unquote

print(quote("Jürgen"), "->", unquote("J%C3%BCrgen"))
print(quote("a/b", safe=""), "->", unquote("a%2Fb"))
assert unquote("J%C3%BCrgen") == "Jürgen"

# %% [markdown]
# ## Request and response
#
# Three imports: `re` (regular expressions, for the router), and from the standard library's
# `urllib.parse`, `parse_qs` for query strings and `unquote` for percent-decoding. The new
# docstring sums up the step.

# %%
show_diff(OLD, NEW, containing="from urllib.parse import parse_qs, unquote")

# %% [markdown]
# `Request` now keeps three things from the URL (`parse_url` splits it, as in step 03):
#
# - `path`, **still percent-encoded**: the router matches the path as the client sent it (the
#   third pitfall shows why);
# - `query`, the query string parsed by `parse_qs` (with `or b""`, a URL without `?` gives an
#   empty dictionary);
# - `path_params`, empty until the router fills it in.
#
# `Response` takes extra `headers` (a `405` needs `Allow`), and sends a `str` body as it is,
# as `text/plain; charset=utf-8`, instead of as JSON.

# %%
show_diff(OLD, NEW, containing="self.query = parse_qs(")

# %% [markdown]
# How `parse_qs` reads a query string. A name may come several times, so **every value is a
# list**, in the order sent. `keep_blank_values=True` keeps `empty=`, which `parse_qs` drops
# by default. `+` means a space, and `%2B` is a real `+`:

# %%
print(parse_qs("q=a&q=b&empty=", keep_blank_values=True))
print(parse_qs("q=a&q=b&empty="), " <- without keep_blank_values")
print(parse_qs("text=hello+world&sum=1%2B1"))
assert parse_qs("q=a&q=b&empty=", keep_blank_values=True) == {"q": ["a", "b"], "empty": [""]}

# %% [markdown]
# The extra headers go into the response's head after the usual ones, one `Name: value` line
# each:

# %%
show_diff(OLD, NEW, containing='head += [f"{name}: {value}" for name, value in self.headers.items()]')

# %% [markdown]
# ## The router
#
# ### Regular expressions, in one minute
#
# The router turns each route into a **regular expression** (Python's `re` module), a small
# language for describing text. It uses four pieces of it:
#
# - `[^/]+`: one or more characters that are not `/`;
# - `(?P<name>...)`: a **named group**; after a match, `groupdict()` gives what each group
#   matched, by name;
# - `^` and `$`: the start and the end of the text;
# - `re.escape(text)`: `text` with its special characters (such as `.`, "any character")
#   escaped, so that they match themselves.

# %%
import re

example = re.compile(r"^/hello/(?P<name>[^/]+)$")
print(example.match("/hello/world").groupdict())
print(example.match("/hello/a/b"), "<- a / is not [^/]")
print(re.escape("/posts.json"))

# %% [markdown]
# ### `compile_path` and `dispatch`
#
# `compile_path` turns a route such as `/hello/{name}` into a regular expression, which
# `Router.routes` keeps next to the route's `{method: handler}` dictionary. `dispatch` tries
# the patterns in the order the routes were added, and the first that matches wins: it decodes
# the parameters, then picks the handler for the method, or a `405` handler made by
# `method_not_allowed`. No pattern matches: `not_found`, step 06's `404`. We try each piece
# after the code.
#
# ```mermaid
# flowchart TD
#     A["request: method + path"] --> B{"a route's pattern<br/>matches the path?<br/>(tried in the order added)"}
#     B -- no route matches --> N["not_found: 404"]
#     B -- the first that matches --> D["decode its parameters<br/>(unquote)"]
#     D --> M{"the route has a handler<br/>for the method?"}
#     M -- no --> X["405, Allow: the route's methods"]
#     M -- yes --> H["handler(request, **parameters)"]
# ```

# %%
show_diff(OLD, NEW, containing="def compile_path(path):")

# %% [markdown]
# `compile_path` cuts the route at each `{name}`: `re.split` with a group in its pattern keeps
# what the group matched, so the pieces alternate text, name, text, ... Each name becomes the
# named group `(?P<name>[^/]+)`, exactly one path segment; the text in between goes through
# `re.escape`; `^...$` make the pattern describe the whole path.
#
# Importing the step's `server.py` runs its definitions but not the server (that only happens
# under `if __name__ == "__main__"`), so we can call its own `compile_path`:

# %%
import importlib.util

# The step folder is not a package, so we import the file by its path, as the module `step07_server`.
spec = importlib.util.spec_from_file_location("step07_server", f"{STEP}/server.py")
step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step)

print(re.split(r"{(\w+)}", "/users/{user}/posts/{post}.json"))
print(step.compile_path("/users/{user}/posts/{post}.json").pattern)
pattern = step.compile_path("/hello/{name}")
print(pattern.pattern)
assert pattern.pattern == "^/hello/(?P<name>[^/]+)$"

# %% [markdown]
# What that pattern says about a few paths (as they arrive, percent-encoded):

# %%
for path in ["/hello/J%C3%BCrgen", "/hello/a%2Fb", "/hello/a/b", "/hello/", "/hello/x/extra"]:
    match = pattern.match(path)
    found = {name: unquote(value) for name, value in match.groupdict().items()} if match else None
    print(f"{path:20} {'matches, parameters ' + str(found) if match else 'no match'}")
assert pattern.match("/hello/a/b") is None and pattern.match("/hello/x/extra") is None

# %% [markdown]
# `/hello/a/b` does not match: a parameter never spans a `/`. `/hello/a%2Fb` does, and only
# *after* the match does `unquote` turn the parameter into `a/b` (the line of `dispatch` that
# decodes `match.groupdict()`).
#
# Then `handlers.get(request.method)` gives the route's handler for the method, or `None`, and
# `or method_not_allowed(handlers)` makes the `405` handler instead: a function defined inside
# `method_not_allowed`, which remembers the route's methods and lists them in `Allow` (for
# `/hello_world`, `GET, POST`). It accepts any `**path_params`, because it is called like
# every other handler, with the parameters.

# %% [markdown]
# ## Calling the handler
#
# `request_callback_handler` calls the handler with the parameters as keyword arguments
# (`hello(request, name="Jürgen")`), and turns a `dict` or a `str` it returns into a `200`
# `Response`. Anything else is still the handler's mistake: logged, and answered with `500`.

# %%
show_diff(OLD, NEW, containing="response = await method_handler(request, **request.path_params)")

# %% [markdown]
# ## Three new routes
#
# `hello`'s second argument is named like the route's `{name}`, because the router calls
# `hello(request, name=...)`. If the names differ, Python raises a `TypeError` before the
# handler runs, and the client gets a `500`. `echo_query` returns the parsed query, and `text`
# a string.

# %%
show_diff(OLD, NEW, containing="async def hello(request, name):")

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess

server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends three requests: a name, a query string, and a method that
# `/hello_world` does not have:

# %%
from harness.show import run_client

output = run_client(f"{STEP}/client.py", "--port", str(server.port)).stdout
assert '{"hello": "Jürgen"}' in output and "Allow: GET, POST" in output

# %% [markdown]
# ### A path parameter, on the wire

# %%
from harness import exchange, request
from harness.show import show_exchange

ex = exchange(server.host, server.port, request("GET", "/hello/J%C3%BCrgen"))
show_exchange(ex)
assert ex.response.status_line == "HTTP/1.1 200 OK" and ex.closed
assert ex.response.body == '{"hello": "Jürgen"}'.encode() and ex.response.header("Content-Length") == "20"

# %% [markdown]
# `show_exchange` prints bytes, so `ü` appears as its two UTF-8 bytes, `\xc3\xbc`: the body
# is 19 characters but 20 bytes, and `Content-Length` says 20, the lesson of step 04.
#
# A real client encodes the name for us. `requests` turns `/hello/Jürgen` into the path it
# sends:

# %%
import requests

answer = requests.get(f"{server.url}/hello/Jürgen", timeout=3)
print("requests sent:", answer.request.path_url)
print(answer.status_code, answer.json())
assert answer.request.path_url == "/hello/J%C3%BCrgen" and answer.json() == {"hello": "Jürgen"}

# %% [markdown]
# A client that sends `ü` unencoded breaks HTTP's rules: httptools refuses the URL, and this
# step's server closes the connection without an answer. Step 08 answers `400` instead.

# %% [markdown]
# ### The query string, on the wire
#
# `/echo_query` answers with `request.query`, as `parse_qs` made it. The query takes no part
# in routing: `/hello/x?y=1` is still the route `/hello/{name}`, with `name` equal to `x`.

# %%
ex = exchange(server.host, server.port, request("GET", "/echo_query?q=a&q=b&empty="))
show_exchange(ex)
assert ex.response.body == b'{"q": ["a", "b"], "empty": [""]}'

answer = requests.get(f"{server.url}/hello/x?y=1", timeout=3)
print("/hello/x?y=1 ->", answer.status_code, answer.json())
assert answer.json() == {"hello": "x"}

# %% [markdown]
# ### A `str` is text, a `dict` is JSON
#
# `/text`'s handler returns the string `"Hello, world"`; `hello` returns a dictionary. The
# `Content-Type` tells the client how to read each body:

# %%
ex = exchange(server.host, server.port, request("GET", "/text"))
show_exchange(ex)
for path in ("/text", "/hello/world"):
    answer = requests.get(f"{server.url}{path}", timeout=3)
    print(f"{path:12} {answer.headers['Content-Type']:26} {answer.text}")
assert ex.response.header("Content-Type") == "text/plain; charset=utf-8" and ex.response.body == b"Hello, world"

# %% [markdown]
# ### 404 or 405?
#
# Two different "no"s. `DELETE /hello_world`: the path exists, the method does not:

# %%
ex = exchange(server.host, server.port, request("DELETE", "/hello_world"))
show_exchange(ex)
assert ex.response.status_line == "HTTP/1.1 405 Method Not Allowed" and ex.closed
assert ex.response.header("Allow") == "GET, POST"

# %% [markdown]
# A pattern route lists *its* methods, and an unknown path still gets step 06's `404`, with
# no `Allow` (there is nothing to allow):

# %%
for method, path in [("POST", "/hello/x"), ("GET", "/nowhere"), ("GET", "/hello/x/extra")]:
    ex = exchange(server.host, server.port, request(method, path))
    print(f"{method:4} {path:15} -> {ex.response.status_line:35} Allow: {ex.response.header('Allow') or '(none)'}")
    assert ex.response.status == (405 if method == "POST" else 404)

# %% [markdown]
# HTTP's specification, RFC 9110, gives the two codes different meanings. `404 Not Found`:
# nothing lives at this address. `405 Method Not Allowed`: something does, but not with this
# method, and the server **must** list the methods it supports in `Allow` (section 15.5.6). A
# client can act on that, where a `404` sends it looking for a typo.
#
# Like a `404`, a `405` runs none of the route's handlers: the log shows only the `GET`'s line.

# %%
mark = server.mark()
exchange(server.host, server.port, request("DELETE", "/hello_world"))
exchange(server.host, server.port, request("GET", "/hello_world"))
server.wait_for("Handle: GET /hello_world None", since=mark)
print(server.log(since=mark))
assert server.log(since=mark).count("Handle:") == 1

# %% [markdown]
# ### Step 06's routes still work
#
# The `POST` echoes a JSON object, a body that is not JSON still gets `400`, and `/broken`
# still gets `500` (its traceback goes to the log, not to the client):

# %%
mark = server.mark()
for method, path, body in [("GET", "/hello_world", None), ("POST", "/hello_world", {"n": 1}),
                           ("POST", "/hello_world", "{oops"), ("GET", "/broken", None)]:
    options = {"data": body} if isinstance(body, str) else {"json": body}
    answer = requests.request(method, f"{server.url}{path}", timeout=3, **options)
    print(f"{method:4} {path:12} {str(body):8} -> {answer.status_code} {answer.json()}")
assert answer.status_code == 500 and "Traceback" not in answer.text
last_line = server.wait_for("RuntimeError: this handler fails on purpose", since=mark).string
print("server log:", [line for line in server.log(since=mark).splitlines() if line.startswith("Handle")])
print("traceback ends:", last_line)

# %% [markdown]
# ## Routing pitfalls
#
# Three small mistakes in a router, each invisible with the first URLs you try. For each: the
# step's file with the mistake put back (from `harness/bugs.py`, the tutorial's catalogue of
# bugs), a real client, and why the step's line is right.
#
# ### Pitfall 1: a pattern without `^...$`
#
# The second article anchors its patterns with `^` and `$`. Without them:

# %%
from harness.bugs import bug

unanchored = bug("unanchored").variant()
show_diff(f"{STEP}/server.py", unanchored)

# %% [markdown]
# Ask it for paths that are not routes:

# %%
unanchored_server = ServerProcess(unanchored).start()
for path in ["/hello/x/extra", "/hello_world/anything", "/textbook"]:
    answer = requests.get(f"{unanchored_server.url}{path}", timeout=3)
    print(f"{path:22} -> {answer.status_code} {answer.text}")
assert requests.get(f"{unanchored_server.url}/hello/x/extra", timeout=3).json() == {"hello": "x"}

# %% [markdown]
# Every one gets a `200`. `pattern.match()` only checks that the path **starts** like the
# pattern: `/hello/x` matched and `/extra` was ignored, so `/textbook` is `/text`. A typo, or
# a deeper path the app never meant to serve, gets a real answer instead of a `404`. With
# `^...$` the pattern describes the **whole** path. The step's server:

# %%
answer = requests.get(f"{server.url}/hello/x/extra", timeout=3)
print(answer.status_code, answer.json())
assert answer.status_code == 404

# %% [markdown]
# ### Pitfall 2: `.*` instead of `[^/]+`
#
# `.*` ("any characters, as many as possible, or none") is what many people type first for
# "the parameter goes here":

# %%
greedy = bug("greedy").variant()
show_diff(f"{STEP}/server.py", greedy)

# %%
greedy_server = ServerProcess(greedy).start()
for path in ["/hello/a/b", "/hello/"]:
    answer = requests.get(f"{greedy_server.url}{path}", timeout=3)
    print(f"{path:12} -> {answer.status_code} {answer.text}")
assert requests.get(f"{greedy_server.url}/hello/a/b", timeout=3).json() == {"hello": "a/b"}

# %% [markdown]
# The parameter swallowed a `/`, and since `.*` also matches nothing, `/hello/` greets an
# empty name. `[^/]+` is one whole segment, never empty, never more. The step's server:

# %%
for path in ["/hello/a/b", "/hello/"]:
    answer = requests.get(f"{server.url}{path}", timeout=3)
    print(f"{path:12} -> {answer.status_code} {answer.text}")
    assert answer.status_code == 404

# %% [markdown]
# ### Pitfall 3: decoding the path before matching
#
# It is tempting to decode the whole path once, on arrival, so that the router and the
# handlers see plain text. A copy that does that (and so no longer decodes the parameters):

# %%
decoded_first = bug("decoded-first").variant()
show_diff(f"{STEP}/server.py", decoded_first)

# %%
decoded_server = ServerProcess(decoded_first).start()
for path in ["/hello/J%C3%BCrgen", "/hello/a%2Fb"]:
    answer = requests.get(f"{decoded_server.url}{path}", timeout=3)
    print(f"{path:20} -> {answer.status_code} {answer.text}")
assert requests.get(f"{decoded_server.url}/hello/a%2Fb", timeout=3).status_code == 404

# %% [markdown]
# `Jürgen` still works, which is why this bug survives a first test. But the client wrote
# `%2F` precisely to say "this slash is part of the name". Decoded first, `/hello/a%2Fb`
# becomes `/hello/a/b`: two segments, no match, `404`. Once decoded, a separator and a slash
# that is data look the same. The step matches the raw path, then decodes each parameter
# exactly once:

# %%
answer = requests.get(f"{server.url}/hello/a%2Fb", timeout=3)
print(answer.status_code, answer.json())
assert answer.json() == {"hello": "a/b"}

# %% [markdown]
# ## Stop the servers
#
# The step's log holds one traceback, the one `/broken` caused on purpose.

# %%
variants = [unanchored_server, greedy_server, decoded_server]
print("the variants' exit statuses:", [srv.stop() for srv in variants])
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and all(srv.returncode == 0 for srv in variants)
assert server.log().count("Traceback") == 1

# %% [markdown]
# That is the step. The deep dives after "Try it" and "Where next" (other clients and an
# unencoded `ü`, more on the pitfalls, a misnamed parameter) can be skipped.

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. **Challenge: typed parameters.** A route `GET /add/{a}/{b}` that adds two numbers has to
#    call `int()` itself, and `/add/2/x` then costs a `ValueError`: a `500`, or a `400` if the
#    handler catches it. Let the route say what it wants instead. In your own server file
#    (`tutorial start 07` makes `my_server.py` from step 06's server, or keeps the one you
#    have), teach `compile_path` a typed parameter, `{name:int}`: it matches digits only (one
#    or more of `0` to `9`, no sign, no point), and the handler gets an `int`; a plain `{name}`
#    stays text. Then add `GET /add/{a:int}/{b:int}`, answering `{"sum": a + b}`. Now
#    `/add/2/x` matches no route at all, so it gets the `404` of any unknown path, and the
#    handler never sees a bad value. Start your server with `python my_server.py`, and in a
#    second terminal:
#
#    ```
#    curl -i --max-time 3 http://127.0.0.1:8080/add/2/40
#    curl -i --max-time 3 http://127.0.0.1:8080/add/2/x
#    ```
#
#    Then let the challenge's tests judge it:
#
#    ```
#    tutorial challenge 07         # the challenge, as its tests see it
#    tutorial check --challenge    # its tests, against your file
#    tutorial hint --challenge     # when you are stuck
#    ```
# 2. `tutorial check` runs the step's own tests against your file; a new route changes none
#    of the step's promises, so they should all pass (the curl test is skipped if curl is not
#    installed). Then put one of the pitfalls above back into your file (drop the `$`, say)
#    and check again: task 2 fails, and its message names the mistake (`a pattern must match
#    the whole path, so anchor it, ^...$`), then shows the bytes sent and received, and the
#    `curl` command that sends the same request. Put the `$` back.
#
# ## Where next
#
# Step 08 makes the server defend itself: a malformed request gets `400` instead of a silent
# close, a body or a header section that is too large gets `413` or `431`, and a client that
# connects and sends nothing, or trickles its request byte by byte, is cut off after a
# timeout.

# %% [markdown]
# ## Deep dive: what real clients send
#
# A fresh server for this section:

# %%
server = ServerProcess(f"{STEP}/server.py").start()

# %% [markdown]
# `curl`, if it is installed, gets the same answer as `requests`. curl would encode `ü` too;
# here we type the encoded form, as the step's README does:

# %%
import shutil
import subprocess

if shutil.which("curl"):
    command = ["curl", "-s", "--max-time", "3", f"{server.url}/hello/J%C3%BCrgen"]
    print("$", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    print(done.stdout)
    assert done.stdout == '{"hello": "Jürgen"}'
else:
    print("(curl is not installed here)")

# %% [markdown]
# A client that does not encode, and sends the two bytes of `ü` as they are, breaks HTTP's
# rules. httptools refuses the URL: the parser raises, and this step's server closes the
# connection without a word, the traceback going to its log. Step 08 answers `400 Bad Request`
# instead.

# %%
ex = exchange(server.host, server.port, "GET /hello/Jürgen HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
show_exchange(ex)
print("server log:", server.wait_for("HttpParserInvalidURLError").string)
assert ex.received == b"" and ex.closed

# %% [markdown]
# `requests` builds a query string from a list of pairs, encoding as it goes: `ü` becomes
# `%C3%BC`, a space `+`, and an `&` inside a value `%26`, so that it does not end the value.
# The list keeps both `city` values. That is why `parse_qs` gives a list for every name: one
# value per name would silently lose data whenever a form sends a name twice, as several
# ticked checkboxes do.

# %%
answer = requests.get(f"{server.url}/echo_query", params=[("city", "Zürich"), ("city", "Köln"),
                                                          ("note", "rock & roll")], timeout=3)
print("requests sent:", answer.request.path_url)
print(answer.json())
assert answer.json() == {"city": ["Zürich", "Köln"], "note": ["rock & roll"]}

# %%
print("exit status:", server.stop())
assert server.returncode == 0 and server.log().count("Traceback") == 1

# %% [markdown]
# ## Deep dive: more on the pitfalls
#
# ### `match`, `search`, and the `^`
#
# In pitfall 1 the `$` did the work: `pattern.match()` always starts at the start of the path.
# The `^` matters to a router that uses `re.search`, which looks for the pattern anywhere in
# the path. With both anchors the pattern describes the whole path, whichever the router uses:

# %%
loose = re.compile("/hello/(?P<name>[^/]+)")
print("match: ", loose.match("/hello/x/extra"))
print("search:", loose.search("/api/v2/hello/x"))
print("step:  ", pattern.match("/hello/x/extra"), pattern.search("/api/v2/hello/x"))

# %% [markdown]
# ### A greedy parameter hides a later route
#
# Pitfall 2 gets worse with more routes. Say the app adds `/hello/{name}/friends` after
# `/hello/{name}`. The greedy copy's `compile_path` (imported the way we imported the step's)
# makes `/hello/{name}` match the friends path too; the first route that matches wins, so the
# friends route would never be reached:

# %%
spec = importlib.util.spec_from_file_location("server_greedy", greedy)
greedy_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(greedy_module)

swallowed = greedy_module.compile_path("/hello/{name}").match("/hello/bob/friends")
print("the copy's /hello/{name}:", swallowed.groupdict())
print("the step's /hello/{name}:", step.compile_path("/hello/{name}").match("/hello/bob/friends"))
assert swallowed["name"] == "bob/friends"

# %% [markdown]
# ### Decoding twice
#
# Pitfall 3 has a cousin: decoding *twice*, the path early and the parameters again, as a
# half-done change would. A name that really contains the three characters `%41` is sent as
# `%2541` (`%25` is `%` itself). One `unquote` gives the name back; a second turns it into
# `A`:

# %%
print("sent:", quote("%41"), "| decoded once:", unquote("%2541"), "| twice:", unquote(unquote("%2541")))
assert quote("%41") == "%2541" and unquote(unquote("%2541")) == "A"

# %% [markdown]
# ## Deep dive: a handler that names its parameter differently
#
# The router calls `hello(request, name=...)`. A handler that calls its argument `who`
# instead, called that way:

# %%
async def misnamed_hello(request, who):
    return {"hello": who}

try:
    misnamed_hello(None, name="Jürgen")
except TypeError as error:
    print("TypeError:", error)

# %% [markdown]
# Python refuses the call before the handler's body runs. In the server, that `TypeError` is
# raised inside `request_callback_handler`'s `try`, so it is handled like any other failing
# handler: a traceback in the log, a `500` for the client.
