"""The `tutorial` command, run as a learner runs it: a process, in a folder of their own,
with real files (and the real step tests underneath)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tutorial.catalogue import ROOT, find_step
from tutorial.state import NAME as STATE
from tutorial.state import State

STEP03, STEP04 = find_step("03"), find_step("04")
# rich wraps its tables to the terminal's width (COLUMNS when there is no terminal): what
# these tests read must not depend on the width of the terminal that runs them. Nor on
# a variable that forces colour into a pipe (rich and pytest obey them).
FORCING_COLOUR = ("FORCE_COLOR", "PY_COLORS", "CLICOLOR_FORCE", "TTY_COMPATIBLE")
ENVIRONMENT = {**{name: value for name, value in os.environ.items() if name not in FORCING_COLOUR}, "COLUMNS": "120"}


def tutorial(folder: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """``tutorial ARGS`` in ``folder``, as a learner types it; bounded in time."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tutorial", *args], cwd=folder, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env={**ENVIRONMENT, **env})
    done.seconds = time.monotonic() - started  # type: ignore[attr-defined]  # for the assertions' messages
    output = done.stdout + done.stderr
    # (A learner's server may print a traceback: shown indented, after "| ". Not the command's own.)
    assert not any(line.startswith("Traceback") for line in output.splitlines()), (
        f"a traceback from tutorial {args}:\n{output}")
    return done


def test_a_learner_session_from_start_to_the_next_step(tmp_path):
    started = tutorial(tmp_path, "start", "04")
    assert started.returncode == 0, started.stdout
    mine = tmp_path / "my_server.py"
    assert mine.read_text() == STEP03.server.read_text(), "start 04 makes the file from step 03's server"
    for task in STEP04.tasks:
        assert f"{task.number}. {task.title}" in started.stdout
    assert (tmp_path / STATE).is_file()

    failing = tutorial(tmp_path, "check")
    assert failing.returncode == 1, failing.stdout
    assert "Checking my_server.py against step 04" in failing.stdout
    assert f"Task 1 fails: {STEP04.tasks[0].title}" in failing.stdout
    assert "no answer" in failing.stdout  # the step test's own message: step 03 answers nothing
    assert "`tutorial hint`" in failing.stdout
    assert "0 of 11" in failing.stdout
    assert failing.seconds < 30, f"a failing check took {failing.seconds:.1f} s"

    hint = tutorial(tmp_path, "hint")
    assert hint.returncode == 0 and "Hint 1 of 3 (a nudge)" in hint.stdout, hint.stdout
    assert "Checking" not in hint.stdout, "the last check is still fresh: no need to run it again"
    assert "Hint 2 of 3 (where in the code)" in tutorial(tmp_path, "hint").stdout

    refused = tutorial(tmp_path, "solution")
    assert refused.returncode == 1 and "--anyway" in refused.stdout
    diff = tutorial(tmp_path, "solution", "--anyway")
    assert diff.returncode == 0 and "+class Response:" in diff.stdout, diff.stdout

    shutil.copyfile(STEP04.server, mine)  # the learner's work, done
    passing = tutorial(tmp_path, "check")
    assert passing.returncode == 0, passing.stdout
    assert "Step 04 passes" in passing.stdout and "tutorial start 05" in passing.stdout
    assert "no differences" in tutorial(tmp_path, "solution").stdout

    kept = tutorial(tmp_path, "start", "5")
    assert kept.returncode == 0 and "is kept" in kept.stdout
    assert mine.read_text() == STEP04.server.read_text(), "start never overwrites the learner's file"
    status = tutorial(tmp_path, "status")
    assert status.returncode == 0
    lines = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()[:2].isdigit()}
    assert "passed" in lines["04"] and "current" in lines["05"] and "not started" in lines["06"], status.stdout
    assert "tutorial check" in status.stdout


def test_a_challenge_is_checked_by_its_own_tests(tmp_path):
    shutil.copyfile(STEP04.server, tmp_path / "my_server.py")
    assert tutorial(tmp_path, "start", "04").returncode == 0
    shown = tutorial(tmp_path, "challenge", "04")
    assert shown.returncode == 0 and "tutorial check --challenge" in shown.stdout
    for challenge in STEP04.challenges:
        assert challenge.title in shown.stdout
    checked = tutorial(tmp_path, "check", "--challenge")
    assert checked.returncode == 1, checked.stdout
    assert "Challenge 1 fails" in checked.stdout and "challenge_date.py" in checked.stdout
    hint = tutorial(tmp_path, "hint")  # the last check was the challenges': its hints come
    assert "challenge 1" in hint.stdout and "Hint 1 of 3" in hint.stdout, hint.stdout


def test_watch_checks_again_on_every_save_and_ctrl_c_ends_it(tmp_path):
    mine = tmp_path / "my_server.py"
    mine.write_text("import socket\nprint(\n")  # a syntax error: the check answers without a server
    assert tutorial(tmp_path, "start", "01").returncode == 0
    # Started as a script starts a command in the background: with SIGINT ignored. Ctrl-C
    # (kill -INT) must stop it all the same.
    process = subprocess.Popen([sys.executable, "-m", "tutorial", "watch"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, env=ENVIRONMENT,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # type: ignore[arg-type]

    def wait_for(text: str, count: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while sum(text in line for line in list(lines)) < count:
            assert time.monotonic() < deadline, f"no {text!r} ({count}) in the output:\n{''.join(lines)}"
            time.sleep(0.05)

    try:
        reader.start()
        wait_for("my_server.py, line 2")
        wait_for("Watching my_server.py")
        mine.write_text("import socket\n\n\ndef broken(:\n")  # saved again, another mistake
        wait_for("my_server.py, line 4")
        wait_for("Watching my_server.py", count=2)
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        reader.join(5)
    assert "Stopped watching." in "".join(lines)
    assert "Traceback" not in "".join(lines)


@pytest.mark.parametrize("args, expected", [
    (["start", "12"], "there is no step '12': the steps are 01 to 11"),
    (["start", "hello"], "there is no step 'hello'"),
    (["check"], "there is no my_server.py here: begin a step with `tutorial start NN`"),
    (["hint", "--step", "0"], "there is no my_server.py here"),
    (["check", "--step", "99", "--file", "my_server.py"], "there is no my_server.py here"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path, args, expected):
    done = tutorial(tmp_path, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stdout, done.stdout
    assert len(done.stdout.strip().splitlines()) == 1, done.stdout


def test_an_unknown_step_for_an_existing_file(tmp_path):
    (tmp_path / "my_server.py").write_text("")
    done = tutorial(tmp_path, "check", "--step", "42")
    assert done.returncode == 2 and "there is no step '42'" in done.stdout, done.stdout
    done = tutorial(tmp_path, "check")
    assert done.returncode == 2 and "which step?" in done.stdout, done.stdout


SLEEPS = "import time\nprint('starting up', flush=True)\ntime.sleep(60)\n"
CRASHES = "import argparse\n\nimport no_such_module_here\n"


def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("case", ["syntax", "silent", "crash", "port in use", "port not its own"])
def test_a_file_that_cannot_be_checked_is_named_in_a_sentence(tmp_path, case):
    mine = tmp_path / "my_server.py"
    with listener() as held:
        sources = {
            "syntax": "def handler(request):\n    return {'a': 1\n",
            "silent": SLEEPS,
            "crash": CRASHES,
            # A server that ignores --port and takes a port another program holds.
            "port in use": f"import socket\ns = socket.socket()\ns.bind(('127.0.0.1', {held.getsockname()[1]}))\n",
            # A server that ignores --port, on a port that happens to be free.
            "port not its own": "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\n"
                                "print('Listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)\ntime.sleep(60)\n",
        }
        mine.write_text(sources[case])
        done = tutorial(tmp_path, "check", "--step", "04", TUTORIAL_STARTUP_SECONDS="1.5")
    assert done.returncode == 1, done.stdout
    first = done.stdout.splitlines()[1]  # after "Checking my_server.py against step 04 ..."
    expected = {
        "syntax": "my_server.py, line 2: '{' was never closed",
        "silent": "my_server.py did not print `Listening on HOST:PORT` within 1.5 s",
        "crash": "my_server.py stopped with ModuleNotFoundError: No module named 'no_such_module_here' at line 3",
        "port in use": "my_server.py could not listen: the address is already in use",
        "port not its own": "my_server.py was started with `--port ",
    }[case]
    if case == "syntax" and sys.version_info < (3, 10):
        expected = "my_server.py, line 2"
    assert first.startswith(expected), done.stdout
    if case == "silent":
        assert "| starting up" in done.stdout, "what it printed is shown"
    if case == "crash":
        assert 'my_server.py", line 3' in done.stdout and "harness" not in done.stdout, (
            "the learner's own frame is shown, the harness's and runpy's are not")
    assert done.seconds < 15, f"{done.seconds:.1f} s"


def test_the_state_file_survives_an_interrupted_save(tmp_path, monkeypatch):
    state = State.load(tmp_path)
    state.progress(tmp_path / "my_server.py").step = "04"
    state.save()
    before = (tmp_path / STATE).read_text()

    def interrupted(*args):
        raise KeyboardInterrupt  # Ctrl-C at the worst moment: the new state is written, not yet in place

    state.progress(tmp_path / "my_server.py").step = "05"
    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        state.save()
    assert (tmp_path / STATE).read_text() == before
    assert json.loads(before)["files"]["my_server.py"]["step"] == "04"
    assert [p.name for p in tmp_path.iterdir()] == [STATE], "no temporary file left behind"


def test_an_unreadable_state_file_is_set_aside_with_a_word(tmp_path):
    (tmp_path / STATE).write_text("{ not json")
    (tmp_path / "my_server.py").write_text("")
    done = tutorial(tmp_path, "start", "03")
    assert done.returncode == 0 and "could not be read" in done.stdout
    assert json.loads((tmp_path / STATE).read_text())["files"]["my_server.py"]["step"] == "03"


def test_the_console_script_and_the_module_are_one_command(tmp_path):
    script = Path(sys.executable).with_name("tutorial")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable} (not installed with pip install -e .)")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30, env=ENVIRONMENT)
    assert done.returncode == 0 and "start" in done.stdout and "watch" in done.stdout
    assert tutorial(tmp_path, "--help").stdout == done.stdout


def test_a_file_elsewhere_is_named_with_file(tmp_path):
    work = tmp_path / "work"
    done = tutorial(tmp_path, "start", "02", "--file", "work/app.py")
    assert done.returncode == 0 and (work / "app.py").read_text() == find_step("01").server.read_text()
    assert (work / STATE).is_file(), "the state file is beside the file"
    assert "tutorial check --file work/app.py" in done.stdout
    assert ROOT not in (work / "app.py").resolve().parents
