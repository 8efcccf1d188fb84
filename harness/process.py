"""Start a server script as a real process, wait until it says it listens, read its log.

Used by the step tests, the notebooks and the solution's tests: the one copy.

    with ServerProcess("steps/04_response/server.py") as server:
        print(server.host, server.port)     # the real port: it was started with --port 0
        ...                                 # talk to it over the network
        server.wait_for("Handle: GET")      # wait (bounded) for a log line containing this
    # stopped with Ctrl-C (SIGINT), then terminate/kill if needed, and reaped

An existing ASGI server runs the same way: ``ServerProcess.uvicorn("steps/11_asgi/server.py")``
is ``python -m uvicorn server:app`` started from that folder.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

LISTENING = re.compile(r"Listening on (?P<host>\S+):(?P<port>\d+)")
# uvicorn's own line, printed once its socket listens (with --port 0, the real port).
UVICORN_RUNNING = re.compile(r"Uvicorn running on http://(?P<host>[^\s:]+):(?P<port>\d+)")
# ... and each worker's, once it has imported the app and is ready to serve it.
UVICORN_READY = "Application startup complete."


class ServerError(RuntimeError):
    """The server exited, or did not say what we waited for in time.

    ``exited``: its output ended (it stopped by itself); ``output``: what it had printed by
    then (before anything stopping it adds, such as the traceback of a Ctrl-C)."""

    def __init__(self, message: str, exited: bool = False, output: list[str] | None = None) -> None:
        super().__init__(message)
        self.exited = exited
        self.output = output or []


# A traceback's frame line, and the installed code (Python's own, site-packages) it may point at.
FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+')
# (The harness's own launcher, which runs the server's file, is not the server's code either.)
INSTALLED = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, str(Path(__file__).parent)})


# Lines of a server's output that a newcomer to asyncio cannot read yet, and what they mean:
# said once under the output, wherever it is shown.
EXPLAINED = {
    "was never awaited": ('"never awaited": calling a coroutine function only makes a coroutine, which runs once '
                          "something awaits it or makes it a task. A plain callback, such as the parser's "
                          "on_message_complete, cannot await: start it with loop.create_task(...)."),
}


def excerpt(lines: list[str], last: int = 20, width: int = 300, prefix: str = "    | ") -> str:
    """A server's output for a failure message: its last ``last`` lines, each cut at
    ``width`` characters (a line of a megabyte must not fill the terminal) and indented
    with ``prefix``; "(nothing)" when it printed nothing. Of the earlier lines, a
    traceback's frames in the server's own code are kept, each with its line of code:
    a long traceback ends in asyncio's and json's frames, and begins in the one frame
    that says which line of the server to fix. Then what EXPLAINED says of its lines."""
    indent = prefix[:len(prefix) - len(prefix.lstrip())]  # the prefix without its bar
    if not lines:
        return indent + "(nothing)"
    earlier, shown = lines[:-last], lines[-last:]
    own: set[int] = set()
    for index, line in enumerate(earlier):
        frame = FRAME.match(line)
        if frame and not frame["path"].startswith(INSTALLED) and not frame["path"].startswith("<"):
            own.update((index, index + 1))  # the frame, then its source line
    kept = [earlier[index] for index in sorted(own) if index < len(earlier)]
    hidden = len(earlier) - len(kept)
    if not hidden:
        shown = lines
    elif kept:
        shown = [f"({hidden} earlier lines not shown, but for the frames in the server's code:)", *kept, "...", *shown]
    else:
        shown = [f"({hidden} earlier lines not shown)", *shown]
    cut = [line if len(line) <= width else f"{line[:width]}... ({len(line)} characters)" for line in shown]
    notes = [f"{indent}({text})" for pattern, text in EXPLAINED.items() if any(pattern in line for line in lines)]
    return "\n".join([*(prefix + line for line in cut), *notes])


class ServerProcess:
    """A server script running in its own process, with its output kept line by line.

    stdout and stderr are merged into ``lines``, so log lines and tracebacks keep the
    order the server wrote them in. A thread reads them from a pipe as they come.

    ``args`` go after the script, before ``--host H --port P``. ``module`` runs
    ``python -m MODULE`` instead of a script; ``ready`` is the line that gives the
    address the server listens on; ``workers`` (uvicorn's) each say when they are ready.
    """

    def __init__(
        self,
        script: str | os.PathLike,
        *args: str,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        module: str | None = None,
        ready: re.Pattern[str] = LISTENING,
        workers: int = 0,
        hand_port: int = 8080,
    ) -> None:
        self.script = Path(script).resolve()
        self.hand_port = hand_port  # where it listens when started by hand: what a failure's commands use
        self.module = module
        self.ready = ready
        self.workers = workers  # uvicorn's worker processes to wait for (0: not uvicorn)
        self.args = [*args, "--host", host, "--port", str(port)]
        self.startup_timeout = startup_timeout
        self.env = env
        self.cwd = Path(cwd) if cwd is not None else self.script.parent
        self.host: str = host
        self.port: int = port
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._new_line = threading.Condition()  # guards `lines` and `_output_ended`
        self._output_ended = True  # no process, no output to wait for
        self._reader: threading.Thread | None = None

    @classmethod
    def uvicorn(cls, app_file: str | os.PathLike, *options: str, workers: int = 1, **kwargs) -> ServerProcess:
        """``python -m uvicorn STEM:app --workers N`` in the folder of ``app_file``: the
        ASGI application ``app`` of that file, served by uvicorn. ``start()`` returns once
        every worker has said that it is ready."""
        app_file = Path(app_file).resolve()
        return cls(app_file, f"{app_file.stem}:app", "--workers", str(workers), *options,
                   module="uvicorn", ready=UVICORN_RUNNING, workers=workers, hand_port=8000, **kwargs)

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> ServerProcess:
        if not self.script.is_file():
            raise ServerError(f"no such server script: {self.script}")
        target = ["-m", self.module] if self.module else [str(self.script)]
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "harness.launch", *target, *self.args],
            cwd=self.cwd,
            env={**os.environ, **(self.env or {})},
            stdin=subprocess.PIPE,  # the server stops when this pipe closes (harness.launch)
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="backslashreplace",
            # Same process group as us: Ctrl-C in a terminal, or "Interrupt kernel" in
            # Jupyter (SIGINT to the kernel's group), stops the server too. If we die
            # without a chance to stop it, its stdin closes and it stops itself.
        )
        self._output_ended = False
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        atexit.register(self.stop)
        try:
            found = self.wait_for(self.ready, timeout=self.startup_timeout)
            if self.workers:
                self.wait_for(UVICORN_READY, timeout=self.startup_timeout, count=self.workers)
        except ServerError:
            self.stop()
            raise
        self.host, self.port = found["host"], int(found["port"])
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop the server as Ctrl-C would, escalate if it does not go; return its exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process.stdin and not process.stdin.closed:
            try:
                process.stdin.close()
            except OSError:  # the pipe is already broken: nothing left to close
                pass
        if self._reader is not None:
            self._reader.join(timeout)
        if process.stdout and not process.stdout.closed:
            process.stdout.close()
        atexit.unregister(self.stop)
        return process.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- the log -------------------------------------------------------------------

    def _read_output(self) -> None:
        """The reader thread: append each line the server writes, and wake up waiters."""
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
        with self._new_line:  # end of output: no more lines will come
            self._output_ended = True
            self._new_line.notify_all()

    def mark(self) -> int:
        """A position in the log; pass it as ``since`` to look only at newer lines."""
        with self._new_line:
            return len(self.lines)

    def log(self, since: int = 0) -> str:
        with self._new_line:
            return "\n".join(self.lines[since:])


    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 5.0, since: int = 0,
                 count: int = 1) -> re.Match[str]:
        """Wait until a log line (from ``since`` on) contains ``pattern``; return the match.
        With ``count``, wait for that many such lines and return the last match.

        A string is looked for as it is (no regular-expression syntax, so a URL with
        ``?`` in it just works); pass ``re.compile(...)`` for a regular expression.
        Raises ServerError if the server's output ends first or ``timeout`` seconds pass.
        """
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        index = since
        seen = 0
        with self._new_line:  # the reader cannot add a line while we hold this
            while True:
                while index < len(self.lines):
                    found = regex.search(self.lines[index])
                    index += 1
                    if found:
                        seen += 1
                        if seen == count:
                            return found
                left = deadline - time.monotonic()
                if self._output_ended or left <= 0:
                    why = "the server's output ended" if self._output_ended else f"{timeout:g} s passed"
                    lines = "a line" if count == 1 else f"{count} lines ({seen} so far)"
                    wanted = f"containing {pattern!r}" if isinstance(pattern, str) else f"matching {regex.pattern!r}"
                    raise ServerError(
                        f"{why} before {lines} {wanted}.\n"
                        f"Server: {self.script}\nIts output:\n{excerpt(self.lines[since:], 30, prefix='')}",
                        exited=self._output_ended, output=list(self.lines),
                    )
                self._new_line.wait(left)  # woken by each new line, and at the end


def run_script(script: str | os.PathLike, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run a script as ``python SCRIPT ARGS`` would in a terminal, bounded in time.

    For the step clients: they send their requests, print what came back, and exit.
    """
    return subprocess.run(
        [sys.executable, "-u", str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
