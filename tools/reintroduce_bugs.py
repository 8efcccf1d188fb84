"""Put each of the articles' bugs back into a step and check that the step's tests fail.

    python tools/reintroduce_bugs.py

A test suite that passes proves little until we have seen it fail for the right
reason. For every bug of the articles that a step fixes (each step's README names
them), this builds a variant of the step's file with the buggy code put back
(harness.variant), runs that step's tests against it (`pytest steps/NN --server
VARIANT`, or `--client VARIANT`), and expects at least one failure. It prints the
first test that caught each bug, and exits 1 if a bug got through unnoticed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from harness.variant import variant

ROOT = Path(__file__).resolve().parents[1]
STEPS = ROOT / "steps"


class Bug(NamedTuple):
    description: str
    step: str  # the step folder
    file: str  # server.py or client.py
    replacements: list[tuple[str, str]]  # (the step's code, the buggy code put back)
    since: tuple[int, int] = (3, 10)  # the first Python on which the tests can see it


BUGS = [
    Bug(
        "UDP client: `delay` is never defined",
        "01_udp_socket", "client.py",
        [("        delay = FIRST_DELAY\n", "")],
    ),
    Bug(
        "one protocol object shared by every connection",
        "02_protocol", "server.py",
        [("    server = await loop.create_server(lambda: Server(), host, port)",
          "    protocol = Server()\n    server = await loop.create_server(lambda: protocol, host, port)")],
    ),
    Bug(
        # Python 3.12 and later warn (DeprecationWarning), and the step tests fail on any
        # DeprecationWarning in a server's output; 3.10 and 3.11 say nothing.
        "asyncio.get_event_loop() outside a running loop",
        "02_protocol", "server.py",
        [("        asyncio.run(main(args.host, args.port))",
          "        asyncio.get_event_loop().run_until_complete(main(args.host, args.port))")],
        since=(3, 12),
    ),
    Bug(
        "on_url keeps only the last piece of the URL",
        "03_router", "server.py",
        [("        self._url_parts.append(url)", "        self._url_parts = [url]")],
    ),
    Bug(
        "one protocol object shared by every connection (responses go astray)",
        "04_response", "server.py",
        [("    server = await loop.create_server(lambda: Server(router), host, port)",
          "    protocol = Server(router)\n    server = await loop.create_server(lambda: protocol, host, port)")],
    ),
    Bug(
        "lines joined with \\n instead of \\r\\n",
        "04_response", "server.py",
        [('return ("\\r\\n".join(head) + "\\r\\n\\r\\n")', 'return ("\\n".join(head) + "\\n\\n")')],
    ),
    Bug(
        "a handler's exception is re-raised: the client never gets an answer",
        "04_response", "server.py",
        [('            response = Response(500, {"message": "Internal Server Error"})',
          '            raise RuntimeError("expected a Response")')],
    ),
    Bug(
        "Content-Length counts characters, not bytes",
        "05_body", "server.py",
        [('            f"Content-Length: {len(self.content)}",', '            f"Content-Length: {len(self.content.decode())}",')],
    ),
    Bug(
        "json.loads on a request without a body",
        "05_body", "server.py",
        [("            body = json.loads(raw_body) if raw_body else None", "            body = json.loads(raw_body)")],
    ),
    Bug(
        "on_body overwrites instead of appending",
        "05_body", "server.py",
        [("        self._body_parts.append(body)", "        self._body_parts = [body]")],
    ),
    Bug(
        "each body piece decoded on its own",
        "05_body", "server.py",
        [("        self._body_parts.append(body)", "        self._body_parts.append(body.decode().encode())")],
    ),
    Bug(
        "invalid JSON crashes instead of a 400",
        "05_body", "server.py",
        [("        except (ValueError, RecursionError):  # not JSON, not text, or nested too deep",
          "        except KeyError:")],
    ),
    Bug(
        "JSON nested too deep crashes instead of a 400 (json raises RecursionError)",
        "05_body", "server.py",
        [("        except (ValueError, RecursionError):  # not JSON, not text, or nested too deep",
          "        except ValueError:")],
    ),
    Bug(
        "404 written, then dispatch carries on (no return)",
        "06_not_found", "server.py",
        [("        handlers = self.mapping.get(request.path, {})\n",
          "        handlers = self.mapping.get(request.path)\n"
          "        if not handlers:\n"
          "            await callback_handler(not_found, request)\n")],
    ),
    # -- the second article (steps 07-11), and what real servers must do ----------------
    Bug(
        "route pattern without ^...$: /hello/x/extra matches /hello/{name}",
        "07_path_params", "server.py",
        [('    return re.compile(f"^{pattern}$")', '    return re.compile(pattern)')],
    ),
    Bug(
        "a parameter matches .* instead of [^/]+: it swallows a /",
        "07_path_params", "server.py",
        [('        pattern += f"(?P<{name}>[^/]+)" + re.escape(text)',
          '        pattern += f"(?P<{name}>.*)" + re.escape(text)')],
    ),
    Bug(
        "the path is percent-decoded before matching: %2F splits a parameter",
        "07_path_params", "server.py",
        [('        self.path = (parts.path or b"/").decode(self.encoding)',
          '        self.path = unquote((parts.path or b"/").decode(self.encoding))'),
         ("request.path_params = {name: unquote(value) for name, value in match.groupdict().items()}",
          "request.path_params = match.groupdict()")],
    ),
    Bug(
        "connection timer armed at the first byte read, and restarted by every read",
        "08_limits", "server.py",
        [("        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)\n\n    def connection_lost",
          "        self._timer = None\n\n    def connection_lost"),
         ("        self.transport = None  # the client is gone: nothing to write to any more\n        self._timer.cancel()\n",
          "        self.transport = None  # the client is gone: nothing to write to any more\n"
          "        if self._timer is not None:\n            self._timer.cancel()\n"),
         ("    def data_received(self, data):\n",
          "    def data_received(self, data):\n"
          "        if self._timer is not None:\n            self._timer.cancel()\n"
          "        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)\n")],
    ),
    Bug(
        "connection timer armed at connect, but restarted by every read (a trickle keeps it alive)",
        "08_limits", "server.py",
        [("    def data_received(self, data):\n",
          "    def data_received(self, data):\n"
          "        self._timer.cancel()\n"
          "        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)\n")],
    ),
    Bug(
        "413 only once the body is read, not from Content-Length",
        "08_limits", "server.py",
        [('        if name.lower() == b"content-length" and int(value) > self.max_body:\n'
          '            raise HTTPError(413, f"The request body exceeds {self.max_body} bytes")\n', "")],
    ),
    Bug(
        "a parser error escapes data_received: no 400, a silent drop and a Fatal error in the log",
        "08_limits", "server.py",
        [('            self.refuse(HTTPError(400, f"Malformed request: {error}"))', "            raise")],
    ),
    Bug(
        "an unfinished header line is not counted (httptools keeps it out of on_header's sight)",
        "08_limits", "server.py",
        [("                if self._head_size > MAX_HEADER_SIZE:\n                    raise HTTPError(431, HEAD_TOO_LARGE)\n", "")],
    ),
    Bug(
        "pipelined requests answered as their handlers finish (a task per request, as in step 08): out of order",
        "09_keep_alive", "server.py",
        [("        self.enqueue(request)\n\n    async def request_callback_handler",
          "        task = asyncio.get_running_loop().create_task(\n"
          "            self.router.dispatch(request, self.request_callback_handler)\n"
          "        )\n"
          "        self.tasks.add(task)\n"
          "        task.add_done_callback(self.tasks.discard)\n\n    async def request_callback_handler"),
         ("        self.pipeline = deque()\n", "        self.pipeline = deque()\n        self.tasks = set()\n")],
    ),
    Bug(
        "only the first of several requests is read: one that arrives while another is answered is dropped",
        "09_keep_alive", "server.py",
        [("        self.pipeline.append(request)\n        if self._worker is None:",
          "        if self._worker is not None:\n"
          "            return  # busy answering another request\n"
          "        self.pipeline.append(request)\n        if self._worker is None:")],
    ),
    Bug(
        "reading paused while busy is never resumed: the connection goes deaf after a pipelined request",
        "09_keep_alive", "server.py",
        [("        if not self._writing_paused:\n            self.transport.resume_reading()\n", "")],
    ),
    Bug(
        "a refusal (400/413/431) written at once, ahead of the answers to the requests before it",
        "09_keep_alive", "server.py",
        [("        self.transport.pause_reading()\n        self.enqueue(error)",
          '        self.response_writer(Response(error.status_code, {"message": error.message}))')],
    ),
    Bug(
        "json.dumps where json.loads was meant: every JSON body gets a 500",
        "10_app", "server.py",
        [("            return json.loads(self.body)", "            return json.dumps(self.body)")],
    ),
    Bug(
        "a header value cut at its first ':' (Host: localhost:8080 loses its port), as a hand-written parser does",
        "10_app", "server.py",
        [('            name, value = name.decode("latin-1").lower(), value.decode("latin-1")',
          '            name, value = name.decode("latin-1").lower(), value.decode("latin-1").split(":")[0]')],
    ),
    Bug(
        "reason phrases from a hand-written table: a KeyError for 418 (and 413, 431, ...)",
        "10_app", "server.py",
        [("class Response:\n",
          "class Response:\n"
          '    reason_phrases = {200: "OK", 400: "Bad Request", 404: "Not Found",\n'
          '                      405: "Method Not Allowed", 500: "Internal Server Error"}\n\n'),
         ('        self.reason = HTTPStatus(status_code).phrase  # 200 -> "OK", 404 -> "Not Found"',
          "        self.reason = self.reason_phrases[status_code]")],
    ),
    Bug(
        "the shutdown aborts every connection at once: a request in flight gets no answer",
        "10_app", "server.py",
        [("        for connection in list(connections):\n"
          "            connection.shutdown()\n"
          "        if connections:\n"
          "            await asyncio.wait([connection.closed for connection in connections], timeout=timeout)\n",
          "")],
    ),
    Bug(
        "ASGI: routing on scope['path'] (already percent-decoded) instead of raw_path",
        "11_asgi", "server.py",
        [('        url = (scope.get("raw_path") or quote(scope["path"]).encode()).decode("latin-1")\n',
          '        url = scope["path"]\n')],
    ),
    Bug(
        "ASGI: only the first http.request message read (more_body ignored)",
        "11_asgi", "server.py",
        [('            more_body = message.get("more_body", False)\n', '            more_body = False\n')],
    ),
    Bug(
        "ASGI: no body limit in the app (uvicorn sets none: any size is read into memory)",
        "11_asgi", "server.py",
        [('            if size > self.max_body:\n'
          '                await respond(Response(413, {"message": f"The request body exceeds {self.max_body} bytes"}))\n'
          '                return\n', "")],
    ),
    Bug(
        "ASGI: http.disconnect taken as the end of the body (the handler runs with a cut body)",
        "11_asgi", "server.py",
        [('            if message["type"] == "http.disconnect":  # the client has gone\n                return\n', "")],
    ),
    Bug(
        "ASGI: the lifespan scope not handled (the app treats it as a request)",
        "11_asgi", "server.py",
        [('        if scope["type"] == "lifespan":  # the server starting, then stopping: nothing to do\n'
          '            await receive()  # {"type": "lifespan.startup"}\n'
          '            await send({"type": "lifespan.startup.complete"})\n'
          '            await receive()  # {"type": "lifespan.shutdown"}\n'
          '            await send({"type": "lifespan.shutdown.complete"})\n'
          '            return\n', "")],
    ),
    Bug(
        "ASGI: the handler called without run_handler (its errors escape; uvicorn answers its own 500)",
        "11_asgi", "server.py",
        [('            await respond(await run_handler(method_handler, request))\n',
          '            response = await method_handler(request, **request.path_params)\n'
          '            await respond(response if isinstance(response, Response) else Response(200, response))\n')],
    ),
]


def run(step: str, file: str, buggy: Path) -> subprocess.CompletedProcess[str]:
    option = "--server" if file == "server.py" else "--client"
    command = [sys.executable, "-m", "pytest", f"steps/{step}", "-q", "-x", "--timeout", "60", option, str(buggy)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def main() -> int:
    escaped = checked = 0
    for bug, step, file, replacements, since in BUGS:
        if sys.version_info < since:
            print(f"{'skipped':10} {step}: {bug}: only visible on Python {since[0]}.{since[1]}+")
            continue
        checked += 1
        started = time.monotonic()
        buggy = variant(STEPS / step / file, *replacements, name=f"{step}_{file}")
        done = run(step, file, buggy)
        failed = sorted(set(re.findall(r"(?:FAILED|ERROR) \S+::(\w+)", done.stdout)))
        caught = done.returncode != 0 and failed
        escaped += not caught
        verdict = "caught" if caught else "NOT CAUGHT"
        print(f"{verdict:10} {step}: {bug}  ({time.monotonic() - started:.1f} s)")
        for name in failed:
            print(f"{'':13}{name}")
        if not caught:
            print(done.stdout[-2000:])
    print(f"\n{checked - escaped} of {checked} bugs caught by the step tests")
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
