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
# Steps 01 to 06 followed the article *A Python Web Framework*. The router's idea comes from
# a second one, *Simple Python Framework from Scratch* ("the second article"): compile each
# `{name}` route to a regular expression.
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
# 2. **Request and response**: the path kept encoded, the parsed query, extra headers, text
#    bodies (+22 / -8, with the imports).
# 3. **The router**: routes as regular expressions, `405` for a wrong method (+33 / -6).
# 4. **Calling the handler** with its parameters; a `dict` or a `str` becomes a response
#    (+4 / -2), and only a connection's first request runs (+4).
# 5. **Three new routes**, run live (+12).
# 6. **Three routing pitfalls**, each made in a copy of the step's file and run.
#
# The docstring makes up the rest (+7 / -5). The whole diff, folded (its 8 parts are the
# places in the file it changes):

# %%
from harness.show import show_diff

OLD, NEW = "../steps/06_not_found/server.py", "../steps/07_path_params/server.py"
STEP = "../steps/07_path_params"
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
# Three imports: `re` (regular expressions, for the router), and from `urllib.parse`,
# `parse_qs` for query strings and `unquote` for percent-decoding. The new docstring sums up
# the step.

# %%
show_diff(OLD, NEW, containing="from urllib.parse import parse_qs, unquote")

# %% [markdown]
# `Request` now keeps three things from the URL. `parse_url` splits it, as in step 03, and
# gives `None` for a part the URL lacks: `or b""` and `or b"/"` put an empty query and the path
# `/` in its place. (A request line may carry a whole URL, `GET http://example.com HTTP/1.1`,
# which then has no path.)
#
# - `path`, **still percent-encoded** (pitfall 3 shows why);
# - `query`, the query string parsed by `parse_qs`;
# - `path_params`, empty until the router fills it in.
#
# `Response` takes extra `headers` (a `405` needs `Allow`), and sends a `str` body as it is,
# as `text/plain; charset=utf-8`, instead of as JSON.

# %%
show_diff(OLD, NEW, containing="self.query = parse_qs(")

# %% [markdown]
# In a query string a name may come several times, so `parse_qs` makes **every value a
# list**, in the order sent. `keep_blank_values=True` keeps `empty=`, which `parse_qs` drops
# by default. It splits at `&` and `=` first, and only then decodes each name and value: `+`
# becomes a space, `%2B` a real `+`, and `%26` an `&` that stays inside its value. Split
# first, decode after: the router follows the same rule (pitfall 3).

# %%
print(parse_qs("q=a&q=b&empty=", keep_blank_values=True))
print(parse_qs("q=a&q=b&empty="), " <- without keep_blank_values")
print(parse_qs("text=hello+world&sum=1%2B1&note=a%26b"))
assert parse_qs("q=a&q=b&empty=", keep_blank_values=True) == {"q": ["a", "b"], "empty": [""]}
assert parse_qs("note=a%26b") == {"note": ["a&b"]}

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
# language for describing text. `re.compile` turns one into a pattern, whose `.match(text)`
# tries it from the start of the text and gives `None` if it does not fit.
# The router's patterns use:
#
# - `[^/]+`: one or more (`+`) characters that are not `/`; `\w+`: one or more letters,
#   digits or `_`;
# - `(...)`: a **group**; `(?P<name>...)` is a **named** one, and after a match
#   `groupdict()` gives what each named group matched;
# - `^` and `$` (**anchors**): the start and the end of the text.
#
# `re.escape(text)` escapes `text`'s special characters (such as `.`, "any character"), so
# that they match themselves.

# %%
import re

example = re.compile(r"^/hello/(?P<name>[^/]+)$")
print(example.match("/hello/world").groupdict())
print(example.match("/hello/a/b"), "<- a / is not [^/]")
print(re.escape("/posts.json"))

# %% [markdown]
# ### `compile_path` and `dispatch`
#
# `compile_path` turns a route such as `/hello/{name}` into a regular expression, kept in
# `Router.routes` next to the route's `{method: handler}` dictionary. `dispatch` follows the
# chart: the patterns are tried in the order the routes were added, and the first that matches
# wins. We try the patterns right after the code, and the `405` once the server runs.
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
# `compile_path` cuts the route at each `{name}` with `re.split(r"{(\w+)}", path)`. There `{`
# and `}` mean themselves (only around a count, as in `{2}`, do they mean "repeat"). The
# pattern has a group, so `re.split` keeps what it matched: the pieces alternate text, name,
# text, ... `pieces[1::2]` (every second piece, from the second) is the names, `pieces[2::2]`
# the text after each. Each name becomes the named group `(?P<name>[^/]+)`, exactly one path
# segment; the text goes through `re.escape`; `^...$` make the pattern describe the whole path.
#
# Importing the step's `server.py` runs its definitions but not the server (that only happens
# under `if __name__ == "__main__"`), so we can call its own `compile_path`:

# %%
import importlib.util

# The standard way to import a file by its path (the step's folder is not a package):
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
# `/hello/a%2Fb` matches, and only then does `unquote` make its parameter `a/b` (pitfall 3
# shows why in that order). The others do not: `[^/]+` takes no `/` (`/hello/a/b`) and needs
# at least one character (`/hello/`), and `$` wants the path to end there (`/hello/x/extra`).
#
# Then `handlers.get(request.method)` gives the route's handler for the method, or `None`. On
# `None`, `or` calls `method_not_allowed(handlers)`, which returns a `405` handler: a function
# defined inside it that remembers the route's `{method: handler}` dict, and lists its methods
# in `Allow` (`", ".join` over a dict joins its keys). It is called like every other handler,
# so it accepts any `**path_params`.

# %% [markdown]
# ## Calling the handler
#
# `request_callback_handler` calls the handler with the parameters as keyword arguments
# (`hello(request, name="Jürgen")`), and turns a `dict` or a `str` it returns into a `200`
# `Response`. Anything else is still the handler's mistake: logged, and answered with `500`.

# %%
show_diff(OLD, NEW, containing="response = await method_handler(request, **request.path_params)")

# %% [markdown]
# A client may send its next request on the same connection without waiting for the first
# answer (step 09's subject). Ours closes the connection after that answer, so the request
# behind it is never answered: its handler would work, and log errors, for nobody. The
# guard:

# %%
show_diff(OLD, NEW, containing="self.answering = False")
show_diff(OLD, NEW, containing="if self.answering:")

# %% [markdown]
# ## Three new routes
#
# `hello`'s second argument must be named like the route's `{name}`: the router calls
# `hello(request, name=...)` (a deep dive shows what another name costs). `echo_query`
# returns the parsed query, and `text` a string.

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
# `show_exchange` prints bytes: `ü` is two, `\xc3\xbc`, so `Content-Length` says 20 for 19
# characters (step 04's lesson).
#
# A real client encodes the name for us (one that does not: see the first deep dive).
# `requests` turns `/hello/Jürgen` into the path it sends:

# %%
import requests

answer = requests.get(f"{server.url}/hello/Jürgen", timeout=3)
print("requests sent:", answer.request.path_url)
print(answer.status_code, answer.json())
assert answer.request.path_url == "/hello/J%C3%BCrgen" and answer.json() == {"hello": "Jürgen"}

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
# In RFC 9110, HTTP's specification, `404 Not Found` means nothing lives at this address.
# `405 Method Not Allowed` means something does, but not with this method, and the server
# **must** list the methods it supports in `Allow` (section 15.5.6). A client can retry with
# a listed method; after a `404` it can only check the address.

# %% [markdown]
# ## Routing pitfalls
#
# Three small mistakes in a router, each invisible with the first URLs you try. For each: a
# copy of the step's file with the mistake made in it (from `harness/bugs.py`, the tutorial's
# catalogue of bugs), a real client, and why the step's line is right.
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
# Every one gets a `200`: `.match()` only checks that the path **starts** like the pattern, so
# `/hello/x/extra` counts as `/hello/x`, `/hello_world/anything` as `/hello_world` (its GET
# handler's answer), and `/textbook` as `/text`. A typo, or a deeper path the app never meant
# to serve, gets a real answer instead of a `404`. With `^...$` the
# pattern describes the **whole** path. The step's server:

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
# `Jürgen` still works, so this bug survives a first test. But the client wrote `%2F` to say
# "this slash is part of the name". Decoded first, `/hello/a%2Fb` becomes `/hello/a/b`: two
# segments, no match, `404`; a separator and a slash that is data now look the same. The step
# matches the raw path, then decodes each parameter once:

# %%
answer = requests.get(f"{server.url}/hello/a%2Fb", timeout=3)
print(answer.status_code, answer.json())
assert answer.json() == {"hello": "a/b"}

# %% [markdown]
# ## Stop the servers
#
# No request made the step's server fail: its log holds no traceback.

# %%
variants = [unanchored_server, greedy_server, decoded_server]
print("the variants' exit statuses:", [srv.stop() for srv in variants])
exit_status = server.stop()
print(server.log().splitlines()[-1], f"(exit status {exit_status})")
print("tracebacks in the step's log:", server.log().count("Traceback"))
assert exit_status == 0 and all(srv.returncode == 0 for srv in variants)
assert server.log().count("Traceback") == 0

# %% [markdown]
# That is the step. The deep dives after "Try it" and "Where next" can be skipped.

# %% [markdown]
# ## Try it
#
# In a terminal, from the repository's root folder, with the environment activated
# (`source .venv/bin/activate`), run `tutorial start 07`. It makes `my_server.py` from step
# 06's server (or keeps the one you have) and lists this step's tasks. Build the step in that
# file until `tutorial check` passes. Then:
#
# 1. **Challenge: typed parameters.** A route `GET /add/{a}/{b}` that adds two numbers has to
#    call `int()` itself, and `/add/2/x` then costs a `ValueError`: a `500`, or a `400` if the
#    handler catches it. Let the route say what it wants instead: teach `compile_path` a
#    typed parameter, `{name:int}`, which matches digits only (no sign, no point) and gives
#    the handler an `int`; a plain `{name}` stays text. Then add `GET /add/{a:int}/{b:int}`,
#    answering `{"sum": a + b}`. `/add/2/x` then matches no route: a `404`, and the handler
#    never sees a bad value. Start your server with `python my_server.py`, and in a
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
# 2. A new route changes none of the step's promises: `tutorial check` should still pass.
#    Then make one of the pitfalls above in your file (drop the `$`, say) and check again:
#    task 2 fails, and its message names the mistake (`a pattern must match the whole path, so anchor it,
#    ^...$`), then shows the bytes sent and received, and the `curl` command that sends the
#    same request. Put the `$` back.
#
# ## Where next
#
# Step 08 makes the server defend itself: `400` for a malformed request instead of a silent
# close, `413` or `431` for a body or a head too large, and a timeout for a client that sends
# nothing, or trickles its request byte by byte.

# %% [markdown]
# ## Deep dive: what real clients send
#
# A fresh server for this section and the next:

# %%
server = ServerProcess(f"{STEP}/server.py").start()

# %% [markdown]
# `curl`, if it is installed, gets the same answer as `requests`. curl does not encode `ü`:
# it sends the bytes as typed (the next cell's case), so we type the encoded form, as the
# step's README does:

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
# `%C3%BC`, a space `+`, and an `&` inside a value `%26`.
# The list keeps both `city` values. That is why `parse_qs` gives a list for every name: one
# value per name would silently lose data whenever a form sends a name twice, as several
# ticked checkboxes do.

# %%
answer = requests.get(f"{server.url}/echo_query", params=[("city", "Zürich"), ("city", "Köln"),
                                                          ("note", "rock & roll")], timeout=3)
print("requests sent:", answer.request.path_url)
print(answer.json())
assert answer.json() == {"city": ["Zürich", "Köln"], "note": ["rock & roll"]}

# %% [markdown]
# ## Deep dive: step 06's routes, unchanged
#
# Step 06's routes answer as they did. `json=` makes `requests` send an object as JSON;
# `data=` sends text as it is, here text that is not JSON:

# %%
answers = [
    requests.get(f"{server.url}/hello_world", timeout=3),
    requests.post(f"{server.url}/hello_world", json={"n": 1}, timeout=3),
    requests.post(f"{server.url}/hello_world", data="{oops", timeout=3),
    requests.get(f"{server.url}/broken", timeout=3),
    requests.delete(f"{server.url}/hello_world", timeout=3),
]
for answer in answers:
    print(f"{answer.request.method:6} {answer.request.path_url:12} -> {answer.status_code} {answer.json()}")
assert [answer.status_code for answer in answers] == [200, 200, 400, 500, 405]
assert "Traceback" not in answers[3].text

# %% [markdown]
# Step 06's two `/hello_world` handlers print a `Handle:` line when they run. The log has
# two: the `400` is answered before any handler runs (the body is not JSON), and a `405`, like
# a `404`, runs none of the route's handlers. `broken` prints nothing: it raises, and its
# traceback goes to the log, not to the client.

# %%
last_line = server.wait_for("RuntimeError: this handler fails on purpose").string
print("\n".join(line for line in server.log().splitlines() if line.startswith("Handle:")))
print("traceback ends:", last_line)
assert server.log().count("Handle:") == 2

# %% [markdown]
# Stop the server. Its log holds two tracebacks, both on purpose: the unencoded `ü` and
# `/broken`.

# %%
print("exit status:", server.stop(), "| tracebacks in its log:", server.log().count("Traceback"))
assert server.returncode == 0 and server.log().count("Traceback") == 2

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
# A handler for `/hello/{name}` that calls its argument `who` instead, called the way the
# router calls it, with `name=`:

# %%
async def misnamed_hello(request, who):
    return {"hello": who}

try:
    misnamed_hello(None, name="Jürgen")
except TypeError as error:
    print("TypeError:", error)

# %% [markdown]
# No `await` was needed. Calling an `async def` runs none of its body (notebook 03), but
# Python checks the arguments when the call is made, so the mistake shows at once.
#
# In the server, the call happens inside `request_callback_handler`'s `try`. We call that
# method on one of the step's `Server` objects, with no connection: its `response_writer` is
# replaced by a function that prints the bytes it would send:

# %%
connection = step.Server(step.Router())
connection.response_writer = lambda response: print(bytes(response).decode())
arrived = step.Request("GET", "/hello/J%C3%BCrgen", None)
arrived.path_params = {"name": "Jürgen"}  # what dispatch would set
await connection.request_callback_handler(misnamed_hello, arrived)

# %% [markdown]
# The traceback goes to the log (here, under the cell), and the client gets a plain `500`,
# like any other failing handler.

# %% [markdown]
# ## Deep dive: requests sent behind the first
#
# The guard of "Calling the handler", live: `GET /hello/first` and `GET /broken` in one
# write get one answer, then the close, and no traceback in the log, because `/broken`'s
# handler never ran:

# %%
server = ServerProcess(f"{STEP}/server.py").start()
both = exchange(server.host, server.port, request("GET", "/hello/first") + request("GET", "/broken"))
print(len(both.responses()), "answer:", both.response.status_line, both.json(), "| closed:", both.closed)
print("exit status:", server.stop(), "| tracebacks in its log:", server.log().count("Traceback"))
assert len(both.responses()) == 1 and both.closed and "Traceback" not in server.log()
