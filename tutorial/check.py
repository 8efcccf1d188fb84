"""Check a learner's file against a step's tests (or its challenges' tests).

First the file itself: it must compile, and start and say ``Listening on HOST:PORT``
within a few seconds (a clear sentence when not: a syntax error with its line, the
exception it stopped with, a port in use, what it printed instead). Then pytest runs the
step's tests against it with ``tutorial.plugin``, task by task, stopping at the first
failure; the plugin's report says which tests passed and the first failure's message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.process import ServerError, ServerProcess, excerpt
from tutorial.catalogue import ROOT, Challenge, Step, Task

# A server that has not said "Listening on" by then is not going to (the tests of the
# command itself make it shorter).
STARTUP_SECONDS = float(os.environ.get("TUTORIAL_STARTUP_SECONDS", "5"))
RUN_SECONDS = 15 * 60  # the whole pytest run, at most (each test has its own bound too)


class LearnerProblem(Exception):
    """The file cannot be checked at all (it does not compile, or does not start): the
    message says why, in a sentence or three."""


class NotBound(LearnerProblem):
    """The server started but listens on port 0: its socket is not bound, which is the
    first task of step 01 (so the check reports it as that task failing, with its hints)."""


@dataclass
class Outcome:
    """One line of the check: a task of the step, or one of its challenges."""

    number: int
    title: str
    tests: list[str] = field(default_factory=list)  # the tests pytest collected for it
    passed: list[str] = field(default_factory=list)
    failed: str | None = None  # the failing test, if any
    message: str = ""  # its failure message

    @property
    def state(self) -> str:
        if self.failed:
            return "failed"
        return "passed" if self.tests and len(self.passed) == len(self.tests) else "unchecked"


@dataclass
class Result:
    step: Step
    challenges: bool
    outcomes: list[Outcome]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(outcome.state == "passed" for outcome in self.outcomes)

    @property
    def first_failure(self) -> Outcome | None:
        return next((outcome for outcome in self.outcomes if outcome.failed), None)


def digest(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()[:16]


def items_of(step: Step, challenges: bool) -> list[Task | Challenge]:
    return list(step.challenges if challenges else step.tasks)


def compile_file(file: Path) -> None:
    """A syntax error as one sentence: the file, the line, the message and the line itself."""
    source = file.read_bytes()
    try:
        compile(source, str(file), "exec")
    except SyntaxError as error:
        where = f"{file.name}, line {error.lineno}" if error.lineno else file.name
        text = (error.text or "").rstrip("\n")
        shown = f"\n    {text.strip()}" if text.strip() else ""
        raise LearnerProblem(f"{where}: {error.msg} (a syntax error: Python cannot run the file){shown}") from None
    except ValueError as error:  # e.g. a NUL byte in the source
        raise LearnerProblem(f"{file.name}: {error}") from None


_ERROR_LINE = re.compile(r"^(\w+\.)*\w*(Error|Exception|Interrupt|Exit)\b.*")
_IN_USE = re.compile(r"address already in use|errno (98|48)\b|winerror 10048", re.I)


def free_port() -> int:
    """A port nobody listens on right now (the system picks it; we let it go at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_file(file: Path, seconds: float = STARTUP_SECONDS) -> None:
    """Start the file as a server, as the tests will, and stop it again. It is given a port
    of our choosing (the tests give 0, "any"): a server that listens elsewhere ignores
    --port, and would fail later in a way that names something else."""
    port = free_port()
    server = ServerProcess(file, port=port, startup_timeout=seconds)
    try:
        server.start()
    except ServerError as error:
        raise LearnerProblem(_why_not_started(file, error, server.returncode, seconds)) from None
    finally:
        server.stop()
    if server.port not in (0, port):
        raise LearnerProblem(f"{file.name} was started with `--port {port}` but says `Listening on "
                             f"{server.host}:{server.port}`: it must listen on the port it is given (args.port), "
                             "because the tests start it with `--port 0` (any free port) and run several at once.")
    if server.port == 0:
        raise NotBound(f"{file.name} says `Listening on {server.host}:0`: port 0 means its socket is not "
                             "bound yet. Bind it to the host and port it is given (sock.bind((host, port))), then "
                             "print the address the socket really has (sock.getsockname()).")


def _learner_lines(lines: list[str]) -> list[str]:
    """The server's output without the traceback frames of the harness and of runpy (which
    run the file): the frames left are the learner's own code, and Python's."""
    kept: list[str] = []
    skip_source = False
    for line in lines:
        frame = re.match(r'\s+File "([^"]+)"', line)
        if frame:
            skip_source = "harness" in Path(frame[1]).parts or "runpy" in frame[1]
            if skip_source:
                continue
        elif skip_source and line.startswith("    "):
            continue  # the source line under a skipped frame
        else:
            skip_source = False
        kept.append(line)
    return kept


def _why_not_started(file: Path, error: ServerError, returncode: int | None, seconds: float) -> str:
    output = _learner_lines([line for line in error.output if line.strip()])
    shown = excerpt(output, 8)
    run = f"Run `python {file.name} --port 0` to see it for yourself."
    if _IN_USE.search("\n".join(output)):
        return (f"{file.name} could not listen: the address is already in use. The checks start it with "
                "`--port 0` (any free port): does it pass the port it is given to bind() / create_server()? "
                f"Is another copy of it still running?\nIt printed:\n{shown}")
    if error.exited:
        errors = [line for line in output if _ERROR_LINE.match(line)]
        places = [match for line in output
                  if (match := re.search(r'File "([^"]+)", line (\d+)', line)) and Path(match[1]).name == file.name]
        stopped = f"stopped with {errors[-1]}" if errors else f"exited (status {returncode})"
        where = f" at line {places[-1][2]}" if places else ""
        return (f"{file.name} {stopped}{where}, before it said `Listening on HOST:PORT`.\n"
                f"The end of what it printed:\n{shown}\n{run}")
    return (f"{file.name} did not print `Listening on HOST:PORT` within {seconds:g} s of starting. The checks "
            "wait for that line (with the real port: they start it with `--port 0`) to know where to connect. "
            f"It printed:\n{shown}\n{run}")


def run_check(step: Step, file: Path, challenges: bool = False,
              on_event: Callable[[dict], None] | None = None) -> Result:
    """Check ``file`` against the step's tests (or its challenges): see the module docstring.
    ``on_event`` is called with each of the plugin's report lines as they come."""
    started = time.monotonic()
    compile_file(file)
    outcomes = [Outcome(item.number, item.title) for item in items_of(step, challenges)]
    try:
        start_file(file)
    except NotBound as problem:
        outcomes[0].failed, outcomes[0].message = "the check that the server starts", str(problem)
        return Result(step, challenges, outcomes, time.monotonic() - started)
    by_number = {outcome.number: outcome for outcome in outcomes}
    targets = ([str(step.folder / c.test_file) for c in step.challenges] if challenges else [str(step.test_file)])
    with tempfile.TemporaryDirectory(prefix="tutorial-") as scratch:
        report = Path(scratch) / "report.jsonl"
        report.touch()
        command = [sys.executable, "-m", "pytest", *targets, "--server", str(file), "-p", "tutorial.plugin",
                   "--tutorial-step", step.number, "--tutorial-report", str(report), "-q", "-p", "no:cacheprovider",
                   "--color=no", "--rootdir", str(ROOT), *(["--tutorial-challenges"] if challenges else [])]
        output_path = Path(scratch) / "pytest.txt"
        events: list[dict] = []
        with output_path.open("w+", encoding="utf-8", errors="replace") as output:
            process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
            try:
                _follow(process, report, events, on_event, deadline=started + RUN_SECONDS)
            finally:
                if process.poll() is None:  # Ctrl-C, or out of time: pytest stops its servers on SIGINT
                    process.terminate()
                    try:
                        process.wait(10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            output.seek(0)
            text = output.read()
    for event in events:
        outcome = by_number.get(event.get("item", 0))
        if event["event"] == "plan":
            for number, tests in event["items"].items():
                if int(number) in by_number:
                    by_number[int(number)].tests = tests
        elif event["event"] == "result" and outcome is not None:
            if event["outcome"] == "failed":
                outcome.failed, outcome.message = event["test"], event["message"]
            else:
                outcome.passed.append(event["test"])
        elif event["event"] == "result" and event["outcome"] == "failed":  # a test in no task
            outcomes.append(Outcome(0, "a test that belongs to no task", [event["test"]], [], event["test"],
                                    event["message"]))
    ended = any(event["event"] == "end" for event in events)
    result = Result(step, challenges, outcomes, time.monotonic() - started)
    if not ended or (process.returncode not in (0, 1, 2) and not result.first_failure):
        raise LearnerProblem("pytest stopped before the checks ran:\n" + excerpt(text.strip().splitlines(), 25))
    return result


def _follow(process: subprocess.Popen, report: Path, events: list[dict],
            on_event: Callable[[dict], None] | None, deadline: float) -> None:
    """Read the report's lines as the plugin writes them, until pytest exits."""
    with report.open(encoding="utf-8") as lines:
        pending = ""
        while True:
            done = process.poll() is not None
            pending += lines.read()
            *complete, pending = pending.split("\n")
            for line in complete:
                events.append(json.loads(line))
                if on_event:
                    on_event(events[-1])
            if done:
                return
            if time.monotonic() > deadline:
                raise LearnerProblem(f"the checks took more than {RUN_SECONDS // 60} minutes: stopped")
            time.sleep(0.05)

