# %% [markdown]
# # Step 07: path parameters, query strings, and 405
#
# Up to step 06 a route was one exact path: `/hello_world` and nothing else. Real applications
# put data in the path (`/users/42`, `/hello/Jürgen`) and in the query string (`?page=2`).
#
# Steps 01 to 06 followed the article *A Python Web Framework*. From this step on, the tutorial
# also draws on a second article, *Simple Python Framework from Scratch* ("the second article"
# below), whose router we borrow here. The router now takes **patterns** such as
# `/hello/{name}`: each pattern becomes a regular expression, and the part of the path that
# matches `{name}` is handed to the handler. The step also:
#
# - parses the query string into `request.query`;
# - answers a known path asked with the wrong method with `405 Method Not Allowed` and an
#   `Allow` header, and keeps `404` for paths that do not exist;
# - lets a handler return a `dict` (sent as JSON) or a `str` (sent as text), not only a `Response`.
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
# ## What changed since step 06
#
# The whole change, computed from the two files in `steps/`. Skim it; we take it apart below.

# %%
from harness.show import show_diff

OLD, NEW = "../steps/06_not_found/server.py", "../steps/07_path_params/server.py"
STEP = "../steps/07_path_params"
show_diff(OLD, NEW)

# %% [markdown]
# Part by part. The top of the file: a new docstring, `re` for regular expressions, and two
# helpers from the standard library, `parse_qs` (query strings) and `unquote`
# (percent-decoding).

# %%
show_diff(OLD, NEW, containing="from urllib.parse import parse_qs, unquote")

# %% [markdown]
# ### Percent-encoding, in one minute
#
# A URL may only contain a small set of ASCII characters. Anything else, `ü` or a space,
# travels **percent-encoded**: each byte of its UTF-8 form written as `%` and two hex digits.
# `ü` is two bytes in UTF-8, so `Jürgen` becomes `J%C3%BCrgen`. The same trick lets a client
# put a character that has a meaning in URLs, like `/` or `?`, *inside* a piece of data:
# `%2F` is "a slash that is data, not a separator". `quote` encodes, `unquote` decodes
# (`safe=""` tells `quote` to encode `/` too; by default it leaves `/` alone, taking it for a
# separator):

# %%
from urllib.parse import parse_qs, quote, unquote

print(quote("Jürgen"), "->", unquote("J%C3%BCrgen"))
print(quote("a/b", safe=""), "->", unquote("a%2Fb"))
assert unquote("J%C3%BCrgen") == "Jürgen"

# %% [markdown]
# `Request` now keeps three things from the URL (`parse_url` splits it, as in step 03):
#
# - `path`, **still percent-encoded**: the router matches the path exactly as the client sent
#   it (the third pitfall below shows why);
# - `query`, the query string parsed by `parse_qs` (`parts.query` is `None` when the URL has
#   no `?`, hence the `or b""`: no query string gives an empty dictionary);
# - `path_params`, empty for now: the router fills it in when a pattern matches.
#
# `Response` gains extra `headers` (the `Allow` of a `405` needs one), and a body that is a
# `str` is sent as it is, as `text/plain; charset=utf-8`, instead of as JSON.

# %%
show_diff(OLD, NEW, containing="self.query = parse_qs(")

# %% [markdown]
# How `parse_qs` sees a query string. A name may come several times, so **every value is a
# list**, in the order sent; `keep_blank_values=True` keeps `empty=` (by default `parse_qs`
# silently drops it); `+` means a space (the way HTML forms encode one), and `%2B` is a real
# `+`:

# %%
print(parse_qs("q=a&q=b&empty=", keep_blank_values=True))
print(parse_qs("q=a&q=b&empty="), " <- without keep_blank_values")
print(parse_qs("text=hello+world&sum=1%2B1"))
assert parse_qs("q=a&q=b&empty=", keep_blank_values=True) == {"q": ["a", "b"], "empty": [""]}

# %% [markdown]
# Lists everywhere look clumsy for `?page=2`, but the alternative, keeping one value per name,
# loses data without a word when a form sends a name twice (several ticked checkboxes do
# exactly that).
#
# The extra headers go into the head after the usual ones, one `Name: value` line each:

# %%
show_diff(OLD, NEW, containing='head += [f"{name}: {value}" for name, value in self.headers.items()]')

# %% [markdown]
# ### The router
#
# The heart of the step. Read it once; we try each piece below.
#
# - `method_not_allowed(methods)` makes a handler that answers `405` with an `Allow` header
#   listing the path's methods.
# - `compile_path` turns a route such as `/hello/{name}` into a regular expression.
# - `Router.routes` keeps, for each route, its compiled pattern and its `{method: handler}`
#   dictionary. `dispatch` tries the patterns in the order the routes were added; the first
#   that matches wins. Then it decodes the parameters, and picks the handler for the method,
#   or the `405` handler. No pattern matches: `not_found`, the `404` of step 06.
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
# `compile_path` cuts the route at each `{name}`. `re.split` with a group in its pattern keeps
# what the group matched, so the pieces alternate: text, name, text, ... Each name becomes a
# **named group** `(?P<name>[^/]+)`: one or more characters that are not `/`, that is, exactly
# one path segment. The text in between goes through `re.escape`, so a `.` in a route means a
# dot and not "any character". `^` and `$` pin the pattern to the start and the end of the
# path.
#
# We can call the step's own `compile_path`: `runpy.run_path` runs the file's definitions
# (not its `if __name__ == "__main__":` part, so no server starts) and hands them to us.

# %%
import re
import runpy

step = runpy.run_path(f"{STEP}/server.py")
compile_path = step["compile_path"]

print(re.split(r"{(\w+)}", "/users/{user}/posts/{post}.json"))
print(compile_path("/users/{user}/posts/{post}.json").pattern)
pattern = compile_path("/hello/{name}")
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
# *after* the match does `unquote` turn the parameter into `a/b`. That is the line in
# `dispatch` that decodes `match.groupdict()`.
#
# When a pattern matches, `handlers.get(request.method)` gives the handler for the method, or
# `None`; then `or method_not_allowed(handlers)` builds the `405` handler. `", ".join(handlers)`
# joins the dictionary's keys, the methods, in the order the route listed them: for
# `/hello_world`, `GET, POST`. The `405` handler accepts any `**path_params`, because it is
# called like every other handler of a pattern route, with the parameters.
#
# The next part calls the handler with the parameters as keyword arguments
# (`hello(request, name="Jürgen")`), and turns a `dict` or a `str` result into a `200`
# `Response`. Anything else is still a mistake of the handler's, logged and answered with `500`.

# %%
show_diff(OLD, NEW, containing="response = await method_handler(request, **request.path_params)")

# %% [markdown]
# Last, three new handlers and their routes. `hello` takes a second argument, `name`, named
# like the route's `{name}`: the router calls `hello(request, name=...)`, so the two names
# must agree.

# %%
show_diff(OLD, NEW, containing="async def hello(request, name):")

# %% [markdown]
# If they do not agree, Python refuses the call before the handler runs. A handler that
# calls its argument `who` instead, called the way the router calls it:

# %%
async def misnamed_hello(request, who):
    return {"hello": who}

try:
    misnamed_hello(None, name="Jürgen")
except TypeError as error:
    print("TypeError:", error)

# %% [markdown]
# In the server that `TypeError` is raised inside `request_callback_handler`'s `try`, so it is
# handled like any other failing handler: a traceback in the log, a `500` for the client.

# %% [markdown]
# ## Run it

# %%
from harness import ServerProcess

server = ServerProcess(f"{STEP}/server.py").start()
print(server.log())

# %% [markdown]
# The step's client sends three requests: a name, a query string, and a method `/hello_world`
# does not have:

# %%
from harness.show import run_client

output = run_client(f"{STEP}/client.py", "--port", str(server.port)).stdout
assert '{"hello": "Jürgen"}' in output and "Allow: GET, POST" in output

# %% [markdown]
# ## A path parameter, on the wire

# %%
from harness import exchange, request
from harness.show import show_exchange

ex = exchange(server.host, server.port, request("GET", "/hello/J%C3%BCrgen"))
show_exchange(ex)
assert ex.response.status_line == "HTTP/1.1 200 OK" and ex.closed
assert ex.response.body == '{"hello": "Jürgen"}'.encode() and ex.response.header("Content-Length") == "20"

# %% [markdown]
# `show_exchange` prints bytes, so `ü` appears as its two UTF-8 bytes, `\xc3\xbc`: the body
# `{"hello": "Jürgen"}` is 19 characters but 20 bytes, and `Content-Length` says 20, the
# lesson of step 04.
#
# A real client encodes the name for us. `requests` turns `/hello/Jürgen` into the path
# it sends:

# %%
import requests

answer = requests.get(f"{server.url}/hello/Jürgen", timeout=3)
print("requests sent:", answer.request.path_url)
print(answer.status_code, answer.json())
assert answer.request.path_url == "/hello/J%C3%BCrgen" and answer.json() == {"hello": "Jürgen"}

# %% [markdown]
# And `curl`, if it is installed. curl would encode `ü` too; here we type the encoded form,
# as the step's README does:

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
# What if a client does not encode, and sends the two bytes of `ü` as they are? That breaks
# HTTP's rules, and httptools refuses the URL: the parser raises, and this step's server
# closes the connection without a word (the traceback goes to its log). Step 08 answers such a
# request with `400 Bad Request` instead.

# %%
ex = exchange(server.host, server.port, "GET /hello/Jürgen HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
show_exchange(ex)
print("server log:", server.wait_for("HttpParserInvalidURLError").string)
assert ex.received == b"" and ex.closed

# %% [markdown]
# ## The query string, on the wire
#
# `/echo_query` answers with `request.query`, exactly as `parse_qs` made it:

# %%
ex = exchange(server.host, server.port, request("GET", "/echo_query?q=a&q=b&empty="))
show_exchange(ex)
assert ex.response.body == b'{"q": ["a", "b"], "empty": [""]}'

# %% [markdown]
# The query does not take part in routing: `/hello/x?y=1` is still the route `/hello/{name}`
# with `name` equal to `x`.

# %%
answer = requests.get(f"{server.url}/hello/x?y=1", timeout=3)
print("/hello/x?y=1 ->", answer.status_code, answer.json())
assert answer.json() == {"hello": "x"}

# %% [markdown]
# `requests` builds a query string from a list of pairs, encoding as it goes (`ü` becomes
# `%C3%BC`, the space becomes `+`, and an `&` inside a value becomes `%26`, so that it does
# not end the value):

# %%
answer = requests.get(f"{server.url}/echo_query", params=[("city", "Zürich"), ("city", "Köln"),
                                                          ("note", "rock & roll")], timeout=3)
print("requests sent:", answer.request.path_url)
print(answer.json())
assert answer.json() == {"city": ["Zürich", "Köln"], "note": ["rock & roll"]}

# %% [markdown]
# ## A `str` is text, a `dict` is JSON
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
# ## 404 or 405?
#
# Two different "no"s. `DELETE /hello_world`: the path exists, the method does not:

# %%
ex = exchange(server.host, server.port, request("DELETE", "/hello_world"))
show_exchange(ex)
assert ex.response.status_line == "HTTP/1.1 405 Method Not Allowed" and ex.closed
assert ex.response.header("Allow") == "GET, POST"

# %% [markdown]
# A pattern route says which methods *it* has, and an unknown path still gets step 06's `404`,
# with no `Allow` (there is nothing there to allow):

# %%
for method, path in [("POST", "/hello/x"), ("GET", "/nowhere"), ("GET", "/hello/x/extra")]:
    ex = exchange(server.host, server.port, request(method, path))
    print(f"{method:4} {path:15} -> {ex.response.status_line:35} Allow: {ex.response.header('Allow') or '(none)'}")
    assert ex.response.status == (405 if method == "POST" else 404)

# %% [markdown]
# Why two codes? HTTP's specification (RFC 9110) gives them different meanings. `404 Not Found`:
# there is nothing at this address. `405 Method Not Allowed`: there is something, but it does
# not do this method; and the server **must** send an `Allow` header listing the methods it
# does support (section 15.5.6). A client, a developer with curl, or a tool that explores an
# API can act on that: "use `GET` or `POST`". A `404` would send them looking for a typo in
# the path.
#
# A `405`, like a `404`, runs none of the route's handlers: the log shows only the `GET`'s line.

# %%
mark = server.mark()
exchange(server.host, server.port, request("DELETE", "/hello_world"))
exchange(server.host, server.port, request("GET", "/hello_world"))
server.wait_for("Handle: GET /hello_world None", since=mark)
print(server.log(since=mark))
assert server.log(since=mark).count("Handle:") == 1

# %% [markdown]
# ## Step 06's routes still work
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
# Three small mistakes in a router, each easy to make, each invisible with the "happy" URLs
# you try first. For each: a copy of the step's file with the mistake, a real client, what
# goes wrong, and why the step's line is right.
#
# ### Pitfall 1: a pattern that is not anchored
#
# The second article's router adds `^` and `$` around its pattern. Forget them:

# %%
from harness.variant import variant

unanchored = variant(f"{STEP}/server.py",
                     ('    return re.compile(f"^{pattern}$")', '    return re.compile(pattern)  # no ^...$'),
                     name="server_unanchored.py")
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
# pattern: `/hello/x` matched, and `/extra` was ignored. So `/textbook` is `/text`, and a
# typo or a deeper path the app never meant to serve gets a real answer instead of a `404`.
# The `^` is what the router would need with `re.search`, which looks for the pattern anywhere
# in the path:

# %%
loose = re.compile("/hello/(?P<name>[^/]+)")
print("match: ", loose.match("/hello/x/extra"))
print("search:", loose.search("/api/v2/hello/x"))
print("step:  ", pattern.match("/hello/x/extra"), pattern.search("/api/v2/hello/x"))

# %% [markdown]
# With `^...$` the pattern describes the **whole** path, whether the router uses `match` or
# `search`. The step's server:

# %%
answer = requests.get(f"{server.url}/hello/x/extra", timeout=3)
print(answer.status_code, answer.json())
assert answer.status_code == 404

# %% [markdown]
# ### Pitfall 2: `.*` instead of `[^/]+`
#
# `.*` ("anything, as much as possible") is the first thing many people type for "the
# parameter goes here":

# %%
greedy = variant(f"{STEP}/server.py",
                 ('        pattern += f"(?P<{name}>[^/]+)" + re.escape(text)',
                  '        pattern += f"(?P<{name}>.*)" + re.escape(text)'),
                 name="server_greedy.py")
show_diff(f"{STEP}/server.py", greedy)

# %%
greedy_server = ServerProcess(greedy).start()
for path in ["/hello/a/b", "/hello/"]:
    answer = requests.get(f"{greedy_server.url}{path}", timeout=3)
    print(f"{path:12} -> {answer.status_code} {answer.text}")
assert requests.get(f"{greedy_server.url}/hello/a/b", timeout=3).json() == {"hello": "a/b"}

# %% [markdown]
# The parameter swallowed a `/`, and `.*` even matches nothing, so `/hello/` greets an empty
# name. With more routes it gets worse. Say the app adds `/hello/{name}/friends` after
# `/hello/{name}`. The copy's `compile_path` (taken from the file as we did with the step's)
# makes `/hello/{name}` match the friends path too, and since the first route that matches
# wins, the friends route would never be reached:

# %%
greedy_compile_path = runpy.run_path(greedy)["compile_path"]
swallowed = greedy_compile_path("/hello/{name}").match("/hello/bob/friends")
print("the copy's /hello/{name}:", swallowed.groupdict())
print("the step's /hello/{name}:", compile_path("/hello/{name}").match("/hello/bob/friends"))
assert swallowed["name"] == "bob/friends"

# %% [markdown]
# `[^/]+` is one whole segment, never empty, never more. The step's server:

# %%
for path in ["/hello/a/b", "/hello/"]:
    answer = requests.get(f"{server.url}{path}", timeout=3)
    print(f"{path:12} -> {answer.status_code} {answer.text}")
    assert answer.status_code == 404

# %% [markdown]
# ### Pitfall 3: decoding the path before matching
#
# It is tempting to decode the whole path once, when the request arrives, so that the router
# and every handler deal with plain text. A copy that does that (and no longer decodes the
# parameters, since they are already decoded):

# %%
decoded_first = variant(f"{STEP}/server.py",
                        ('        self.path = (parts.path or b"/").decode(self.encoding)',
                         '        self.path = unquote((parts.path or b"/").decode(self.encoding))'),
                        ("request.path_params = {name: unquote(value) for name, value in match.groupdict().items()}",
                         "request.path_params = match.groupdict()"),
                        name="server_decoded_first.py")
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
# becomes `/hello/a/b`: two segments, no match, `404`. After decoding, a separator and a slash
# that is data look the same, and nothing downstream can tell them apart.
#
# Decoding *twice* (the path early and the parameters again, as a half-done change would)
# is wrong in another way. A name that really contains the three characters `%41` is sent as
# `%2541` (`%25` is `%` itself); one `unquote` gives the name back, a second one turns it into
# `A`:

# %%
print("sent:", quote("%41"), "| decoded once:", unquote("%2541"), "| twice:", unquote(unquote("%2541")))
assert quote("%41") == "%2541" and unquote(unquote("%2541")) == "A"

# %% [markdown]
# The step matches the raw path, then decodes each parameter exactly once:

# %%
answer = requests.get(f"{server.url}/hello/a%2Fb", timeout=3)
print(answer.status_code, answer.json())
assert answer.json() == {"hello": "a/b"}

# %% [markdown]
# ## Stop the servers
#
# The step's own log has two tracebacks: the one `/broken` caused on purpose, and the one
# from the unencoded `ü`.

# %%
variants = [unanchored_server, greedy_server, decoded_server]
print("the variants' exit statuses:", [srv.stop() for srv in variants])
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
assert exit_status == 0 and all(srv.returncode == 0 for srv in variants)
assert server.log().count("Traceback") == 2

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`):
#
# 1. Copy the step's server to `my_server.py` (`cp steps/07_path_params/server.py my_server.py`)
#    and add a route with two parameters, `GET /add/{a}/{b}`, answering `{"sum": ...}` with
#    the two numbers added. Start it with `python my_server.py`, and in a second terminal try
#    `curl -i --max-time 3 http://127.0.0.1:8080/add/2/40`. Then try `/add/2/x`: `int("x")`
#    raises, so the client gets a `500`. Catch the `ValueError` and return
#    `Response(400, {"message": ...})` instead: a bad number is the client's mistake, not the
#    server's.
# 2. Run the step's tests against your copy:
#
#    ```
#    pytest steps/07_path_params --server my_server.py
#    ```
#
#    A new route changes none of the step's promises, so they should all pass (the curl test is
#    skipped if curl is not installed). Then put one of the pitfalls above back into your copy
#    (drop the `$`, say) and run them again: the first failure names the mistake (`a pattern
#    must match the whole path, so anchor it, ^...$`), then shows the bytes sent and received,
#    and the `curl` command that sends the same request.
#
# ## Where next
#
# Step 08 makes the server defend itself: a malformed request gets `400` instead of a silent
# close, a body or a header section that is too large gets `413` or `431`, and a client that
# connects and sends nothing, or trickles its request byte by byte, is cut off after a
# timeout.
