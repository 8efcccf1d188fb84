"""The articles' bugs, and the mistakes the steps teach to avoid: one catalogue.

Each bug is a few exact replacements in one step's file that put the bug back. The
notebooks run such a variant live (``bug("late-timer").variant()``, then
``show_diff``); ``tools/reintroduce_bugs.py`` checks that the step's tests catch every
one; ``tests/test_bugs.py`` checks in milliseconds that every replacement still finds
its text exactly once, so an edit to a step that makes an entry stale fails there.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from harness.variant import replaced, variant

STEPS = Path(__file__).resolve().parents[1] / "steps"


class Bug(NamedTuple):
    name: str  # how a notebook asks for it: bug("late-timer")
    description: str
    step: str  # the step folder
    replacements: tuple[tuple[str, str], ...]  # (the step's code, the buggy code put back)
    file: str = "server.py"
    since: tuple[int, int] = (3, 10)  # the first Python on which the step's tests can see it

    @property
    def path(self) -> Path:
        return STEPS / self.step / self.file

    def stale(self) -> str | None:
        """Why this entry no longer applies to its step's file (None: it does)."""
        try:
            replaced(self.path.read_text(encoding="utf-8"), self.replacements, f"{self.step}/{self.file}")
        except ValueError as error:
            return str(error)
        return None

    def variant(self) -> Path:
        """The step's file with this bug put back, in a temporary folder (a valid module
        name, e.g. server_late_timer.py: uvicorn can import it)."""
        stem = Path(self.file).stem
        return variant(self.path, *self.replacements, name=f"{stem}_{self.name.replace('-', '_')}.py")


def bug(name: str) -> Bug:
    for entry in BUGS:
        if entry.name == name:
            return entry
    raise KeyError(f"no bug named {name!r} in harness/bugs.py")


BUGS: tuple[Bug, ...] = (
    # -- the first article (steps 01-06) -------------------------------------------------
    Bug("undefined-delay", "UDP client: `delay` is never defined", "01_udp_socket",
        (("        delay = FIRST_DELAY\n", ""),), file="client.py"),
    Bug("shared-protocol", "one protocol object shared by every connection", "02_protocol",
        (("    # The factory is called once per connection, so each one gets its own Server.\n"
          "    server = await loop.create_server(lambda: Server(), host, port)",
          "    protocol = Server()  # the article: ONE object, handed to every connection\n"
          "    server = await loop.create_server(lambda: protocol, host, port)"),)),
    # Python 3.12 and later warn (DeprecationWarning), and the step tests fail on any
    # DeprecationWarning in a server's output; 3.10 and 3.11 say nothing.
    Bug("get-event-loop", "asyncio.get_event_loop() outside a running loop", "02_protocol",
        (("        asyncio.run(main(args.host, args.port))",
          "        asyncio.get_event_loop().run_until_complete(main(args.host, args.port))"),),
        since=(3, 12)),
    Bug("last-url-piece", "on_url keeps only the last piece of the URL", "03_router",
        (("        self._url_parts.append(url)", "        self._url_parts = [url]"),)),
    Bug("route-on-url", "routing on the whole URL: a query string makes the route unknown", "03_router",
        (("handlers = self.mapping.get(request.path)", "handlers = self.mapping.get(request.url)"),)),
    Bug("shared-protocol-answers", "one protocol object shared by every connection (answers go astray)",
        "04_response",
        (("    server = await loop.create_server(lambda: Server(router), host, port)",
          "    protocol = Server(router)\n    server = await loop.create_server(lambda: protocol, host, port)"),)),
    Bug("lf-only", "lines joined with \\n instead of \\r\\n", "04_response",
        (('return ("\\r\\n".join(head) + "\\r\\n\\r\\n").encode("ascii") + self.content',
          'return ("\\n".join(head) + "\\n\\n").encode("ascii") + self.content'),)),
    Bug("reraise", "a handler's exception is re-raised: the client never gets an answer", "04_response",
        (('''            if not isinstance(response, Response):
                raise TypeError(f"expected a Response from the handler, got {response!r}")
        except Exception:
            # The traceback goes to the server's log; the client only learns that it failed.
            traceback.print_exc()
            response = Response(500, {"message": "Internal Server Error"})''',
          '''        except Exception as exc:
            response = traceback.format_exception(exc)  # the article: a list of strings
        if not isinstance(response, Response):
            raise RuntimeError(f"expect Response instance but got {type(response)}")'''),)),
    Bug("length-in-characters", "Content-Length counts characters, not bytes", "05_body",
        (('            f"Content-Length: {len(self.content)}",  # a count of bytes, not of characters',
          '            f"Content-Length: {len(self.content.decode())}",  # the article: characters'),)),
    Bug("loads-always", "the article's decoding: json.loads on whatever came, even no body, and no 400",
        "05_body",
        (('''        try:
            # Decode only now that the whole body is here: a piece can end in the
            # middle of a multi-byte character. A GET usually has no body at all.
            body = json.loads(raw_body) if raw_body else None
        except (ValueError, RecursionError):  # not JSON, not text, or nested too deep
            self.response_writer(Response(400, {"message": "The request body is not valid JSON"}))
            return
''', '''        body = json.loads(raw_body)  # the article: decode whatever came, even nothing
'''),)),
    Bug("loads-without-body", "json.loads on a request without a body", "05_body",
        (("            body = json.loads(raw_body) if raw_body else None",
          "            body = json.loads(raw_body)"),)),
    Bug("last-body-piece", "on_body overwrites instead of appending", "05_body",
        (("        self._body_parts.append(body)\n",
          "        self._body_parts = [body]  # the article: self.body = data\n"),)),
    Bug("piece-decoded-alone", "each body piece decoded on its own", "05_body",
        (("        self._body_parts.append(body)", "        self._body_parts.append(body.decode().encode())"),)),
    Bug("invalid-json-crashes", "invalid JSON crashes instead of a 400", "05_body",
        (("        except (ValueError, RecursionError):  # not JSON, not text, or nested too deep",
          "        except KeyError:"),)),
    Bug("deep-json-crashes", "JSON nested too deep crashes instead of a 400 (json raises RecursionError)",
        "05_body",
        (("        except (ValueError, RecursionError):  # not JSON, not text, or nested too deep",
          "        except ValueError:"),)),
    Bug("no-return", "404 written, then dispatch carries on (no return)", "06_not_found",
        (('''        handlers = self.mapping.get(request.path, {})
        method_handler = handlers.get(request.method, not_found)
        await callback_handler(method_handler, request)''',
          '''        handlers = self.mapping.get(request.path)
        if not handlers:
            await callback_handler(not_found, request)  # the article: no return after it
        method_handler = handlers.get(request.method)
        if not method_handler:
            await callback_handler(not_found, request)  # ... nor here
        await callback_handler(method_handler, request)'''),)),
    # -- the second article (steps 07-11), and what real servers must do ----------------
    Bug("unanchored", "route pattern without ^...$: /hello/x/extra matches /hello/{name}", "07_path_params",
        (('    return re.compile(f"^{pattern}$")', '    return re.compile(pattern)  # no ^...$'),)),
    Bug("greedy", "a parameter matches .* instead of [^/]+: it swallows a /", "07_path_params",
        (('        pattern += f"(?P<{name}>[^/]+)" + re.escape(text)',
          '        pattern += f"(?P<{name}>.*)" + re.escape(text)'),)),
    Bug("decoded-first", "the path is percent-decoded before matching: %2F splits a parameter", "07_path_params",
        (('        self.path = (parts.path or b"/").decode(self.encoding)',
          '        self.path = unquote((parts.path or b"/").decode(self.encoding))'),
         ("request.path_params = {name: unquote(value) for name, value in match.groupdict().items()}",
          "request.path_params = match.groupdict()"))),
    Bug("behind-the-first-runs", "a request pipelined behind the first runs its handler, though the connection "
        "closes after the first answer", "07_path_params",
        (("        if self.answering:  # a request sent behind the first, which will close the connection:\n"
          "            return  # it would never get its answer, so its handler must not run\n", ""),)),
    Bug("late-timer", "connection timer armed at the first byte read, and restarted by every read", "08_limits",
        (("""        # The clock starts now, when the client connects, not at its first byte: a
        # client that connects and sends nothing must not keep its connection (a file
        # descriptor and some memory of ours) for ever.
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)""",
          """        self._timer = None  # the article: no clock until the first byte"""),
         ("""        self.transport = None  # the client is gone: nothing to write to any more
        self._timer.cancel()""",
          """        self.transport = None  # the client is gone: nothing to write to any more
        if self._timer is not None:  # a client that sent nothing has no clock
            self._timer.cancel()"""),
         ("""    def data_received(self, data):
        body_before = self._body_size""",
          """    def data_received(self, data):
        # The article: every read restarts the clock.
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)
        body_before = self._body_size"""))),
    Bug("restarted-timer", "connection timer armed at connect, but restarted by every read (a trickle keeps it "
        "alive)", "08_limits",
        (("    def data_received(self, data):\n",
          "    def data_received(self, data):\n"
          "        self._timer.cancel()\n"
          "        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)\n"),)),
    Bug("413-after-body", "413 only once the body is read, not from Content-Length", "08_limits",
        (('        if name.lower() == b"content-length" and int(value) > self.max_body:\n'
          '            raise HTTPError(413, f"The request body exceeds {self.max_body} bytes")\n', ""),)),
    Bug("parser-error-escapes", "a parser error escapes data_received: no 400, a silent drop and a Fatal error in "
        "the log", "08_limits",
        (('            self.refuse(HTTPError(400, f"Malformed request: {error}"))', "            raise"),)),
    Bug("unfinished-line-uncounted", "an unfinished header line is not counted (httptools keeps it out of "
        "on_header's sight)", "08_limits",
        (("                if self._head_size > MAX_HEADER_SIZE:\n                    raise HTTPError(431, "
          "HEAD_TOO_LARGE)\n", ""),)),
    Bug("task-per-request", "pipelined requests answered as their handlers finish (a task per request, as in step "
        "08): out of order", "09_keep_alive",
        (("        self.enqueue(request)\n\n    async def request_callback_handler",
          "        task = asyncio.get_running_loop().create_task(\n"
          "            self.router.dispatch(request, self.request_callback_handler)\n"
          "        )\n"
          "        self.tasks.add(task)\n"
          "        task.add_done_callback(self.tasks.discard)\n\n    async def request_callback_handler"),
         ("        self.pipeline = deque()\n", "        self.pipeline = deque()\n        self.tasks = set()\n"))),
    Bug("busy-drops-request", "only the first of several requests is read: one that arrives while another is "
        "answered is dropped", "09_keep_alive",
        (("        self.pipeline.append(request)\n        if self._worker is None:",
          "        if self._worker is not None:\n"
          "            return  # busy answering another request\n"
          "        self.pipeline.append(request)\n        if self._worker is None:"),)),
    Bug("reading-never-resumed", "reading paused while busy is never resumed: the connection goes deaf after a "
        "pipelined request", "09_keep_alive",
        (("        if not self._writing_paused:\n            self.transport.resume_reading()\n", ""),)),
    Bug("refusal-jumps-queue", "a refusal (400/413/431) written at once, ahead of the answers to the requests "
        "before it", "09_keep_alive",
        (("        self.transport.pause_reading()\n        self.enqueue(error)",
          '        self.response_writer(Response(error.status_code, {"message": error.message}))'),)),
    Bug("json-dumps", "json.dumps where json.loads was meant: every JSON body gets a 500", "10_app",
        (("            value = json.loads(self.body)", "            value = json.dumps(self.body)"),)),
    Bug("header-cut-at-colon", "a header value cut at its first ':' (Host: localhost:8080 loses its port), as a "
        "hand-written parser does", "10_app",
        (('            name, value = name.decode("latin-1").lower(), value.decode("latin-1")',
          '            name, value = name.decode("latin-1").lower(), value.decode("latin-1").split(":")[0]'),)),
    Bug("reason-table", "reason phrases from a hand-written table: a KeyError for 418 (and 413, 431, ...)",
        "10_app",
        (("class Response:\n",
          "class Response:\n"
          '    reason_phrases = {200: "OK", 400: "Bad Request", 404: "Not Found",\n'
          '                      405: "Method Not Allowed", 500: "Internal Server Error"}\n\n'),
         ('        self.reason = HTTPStatus(status_code).phrase  # 200 -> "OK", 404 -> "Not Found"',
          "        self.reason = self.reason_phrases[status_code]  # a KeyError for any other code"))),
    Bug("abort-on-shutdown", "the shutdown aborts every connection at once: a request in flight gets no answer",
        "10_app",
        (("        for connection in list(connections):\n"
          "            connection.shutdown()\n"
          "        if connections:\n"
          "            await asyncio.wait([connection.closed for connection in connections], timeout=timeout)\n",
          ""),)),
    Bug("decoded-path", "ASGI: routing on scope['path'] (already percent-decoded) instead of raw_path", "11_asgi",
        (('        url = (scope.get("raw_path") or quote(scope["path"]).encode()).decode("latin-1")\n',
          '        url = scope["path"]  # already percent-decoded\n'),)),
    Bug("first-body-message-only", "ASGI: only the first http.request message read (more_body ignored)",
        "11_asgi",
        (('            more_body = message.get("more_body", False)\n', '            more_body = False\n'),)),
    Bug("no-body-limit", "ASGI: no body limit in the app (uvicorn sets none: any size is read into memory)",
        "11_asgi",
        (('        if length.isdecimal() and int(length) > self.max_body:\n'
          '            await respond(too_large)\n'
          '            return\n', ""),
         ('            if size > self.max_body:  # a chunked body has no Content-Length: count it as it comes\n'
          '                await respond(too_large)\n'
          '                return\n', ""))),
    Bug("disconnect-as-end", "ASGI: http.disconnect taken as the end of the body (the handler runs with a cut "
        "body)", "11_asgi",
        (('            if message["type"] == "http.disconnect":  # the client has gone\n                return\n',
          ""),)),
    Bug("no-lifespan", "ASGI: the lifespan scope not handled (the app treats it as a request)", "11_asgi",
        (('        if scope["type"] == "lifespan":  # the server starting, then stopping: nothing to do\n'
          '            await receive()  # {"type": "lifespan.startup"}\n'
          '            await send({"type": "lifespan.startup.complete"})\n'
          '            await receive()  # {"type": "lifespan.shutdown"}\n'
          '            await send({"type": "lifespan.shutdown.complete"})\n'
          '            return\n', ""),)),
    Bug("handler-unguarded", "ASGI: the handler called without run_handler (its errors escape; uvicorn answers its "
        "own 500)", "11_asgi",
        (('            await respond(await run_handler(method_handler, request))\n',
          '            response = await method_handler(request, **request.path_params)\n'
          '            await respond(response if isinstance(response, Response) else Response(200, response))\n'),)),
)
