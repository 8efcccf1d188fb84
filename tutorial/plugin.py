"""The pytest side of `tutorial check`: a step's tests run task by task, and stop at the
first failure; what happens is written to a report file, one JSON object a line.

    pytest steps/04_response/test_step04.py --server my_server.py \\
        -p tutorial.plugin --tutorial-step 04 --tutorial-report report.jsonl

With ``--tutorial-challenges`` the tests are the step's challenge files instead, each
file one item. The report's lines: ``{"event": "plan", "items": {number: tests}}``, then
per test ``{"event": "start", ...}`` and ``{"event": "result", ...}``, and ``{"event":
"end"}`` at the end of the session (its absence means pytest itself failed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.process import ServerProcess, excerpt
from tutorial.catalogue import find_step


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tutorial", "the tutorial command's check (tutorial/plugin.py)")
    group.addoption("--tutorial-step", metavar="NN", help="the step whose tasks order the tests")
    group.addoption("--tutorial-challenges", action="store_true", help="the tests are the step's challenges")
    group.addoption("--tutorial-report", metavar="PATH", help="write what happens to PATH (JSON lines)")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--tutorial-report"):
        config.pluginmanager.register(TaskRunner(config), "tutorial-task-runner")


class TaskRunner:
    def __init__(self, config: pytest.Config) -> None:
        self.step = find_step(config.getoption("--tutorial-step"))
        self.challenges = config.getoption("--tutorial-challenges")
        self.report = Path(config.getoption("--tutorial-report")).open("a", encoding="utf-8")
        self.session: pytest.Session | None = None
        self.numbers: dict[str, int] = {}  # nodeid -> its task's (or challenge's) number
        self.outcomes: dict[str, dict] = {}  # nodeid -> the result being gathered over its phases

    def write(self, **event: object) -> None:
        self.report.write(json.dumps(event) + "\n")
        self.report.flush()  # the tutorial command shows progress as lines come

    def item_of(self, item: pytest.Item) -> int:
        """The number of the task (or challenge) a test belongs to; 0 if none."""
        if self.challenges:
            found = [c.number for c in self.step.challenges if c.test_file == item.path.name]
        else:
            task = self.step.task_of(getattr(item, "originalname", item.name))
            found = [task.number] if task else []
        return found[0] if found else 0

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Task by task, in the order a learner builds them; a test that belongs to no task
        # (a new test not yet in tasks.toml) runs last. sort() is stable: within a task,
        # the file's order.
        items.sort(key=lambda item: self.item_of(item) or 1_000)
        plan: dict[int, list[str]] = {}
        for item in items:
            self.numbers[item.nodeid] = self.item_of(item)
            plan.setdefault(self.numbers[item.nodeid], []).append(item.name)
        self.write(event="plan", items=plan)

    def pytest_runtest_logstart(self, nodeid: str, location: tuple) -> None:
        self.outcomes[nodeid] = {"outcome": "passed", "message": "", "started": time.monotonic()}
        self.write(event="start", test=nodeid.rpartition("::")[2], item=self.numbers.get(nodeid, 0))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        outcome = self.outcomes.setdefault(item.nodeid, {"outcome": "passed", "message": "",
                                                         "started": time.monotonic()})
        if report.failed and outcome["outcome"] != "failed":
            message = _message(call.excinfo) + _server_gone(item)
            outcome.update(outcome="failed", phase=report.when, message=message)
        elif report.skipped and outcome["outcome"] == "passed":
            outcome.update(outcome="skipped", message=_skip_reason(report))
        if report.when == "teardown":
            self.write(event="result", test=item.name, item=self.numbers.get(item.nodeid, 0),
                       outcome=outcome["outcome"],
                       phase=outcome.get("phase"), message=outcome["message"],
                       seconds=round(time.monotonic() - outcome["started"], 2))
            if outcome["outcome"] == "failed" and self.session is not None:
                # Stop at the first failure: the later tasks build on this one, and a
                # failing check should answer in seconds, not after every test timed out.
                self.session.shouldstop = "tutorial: stop at the first failing task"
        return report

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple) -> None:
        self.outcomes.pop(nodeid, None)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.write(event="end", exitstatus=int(exitstatus))
        self.report.close()


def _message(excinfo: pytest.ExceptionInfo | None) -> str:
    """The failure's own text, as pytest would show it after 'E', without the type for an
    AssertionError (its text is the explanation)."""
    if excinfo is None:
        return ""
    if isinstance(excinfo.value, AssertionError) and str(excinfo.value):
        text = str(excinfo.value)
        # pytest appends its own account of a failing `assert x, message` to the message
        # ("assert False", "+ where ..."); the message is the explanation a learner needs.
        # A message that is only the exchange (explain() with no problem of its own) needs
        # pytest's account too: it is the only one that says what was compared.
        message, explained, _ = text.partition("\nassert ")
        says_what = message.strip() and not message.lstrip().startswith("sent to ")
        return message if explained and says_what else text
    return excinfo.exconly().strip()


def _server_gone(item: pytest.Item) -> str:
    """When the test's server has died, that is the root cause: say so, with its last words."""
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, ServerProcess) and value.process is not None and value.returncode is not None:
            return (f"\n\nYour server is not running any more: it exited with status {value.returncode} "
                    f"during the test. The end of its output:\n{excerpt(value.lines, 12)}")
    return ""


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
