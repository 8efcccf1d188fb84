"""Put each of the article's bugs back into a step and check that the step's tests fail.

    python tools/reintroduce_bugs.py

A test suite that passes proves little until we have seen it fail for the right
reason. For every bug of the article that a step fixes (each step's README names
them), this builds a variant of the step's file with the article's code put back
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
    replacements: list[tuple[str, str]]  # (fixed code, the article's buggy code)
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
