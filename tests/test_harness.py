"""The harness never leaves a server behind: not when the process that started it is
interrupted (Jupyter's "Interrupt kernel"), nor when it is killed outright. And when a
server's answer is not HTTP/1.1, its checks say why once, and point back to it after."""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import ServerProcess, request
from harness.checks import assert_stops_cleanly
from harness.variant import variant
from harness.wire import Incomplete, NotHTTP, parse_response, raw_command

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "steps" / "04_response" / "server.py"

# A stand-in for a notebook kernel: it starts a server, prints the server's pid, and
# carries on after Ctrl-C as a kernel does after "Interrupt kernel".
KERNEL = """
import signal, sys, time
from harness import ServerProcess
signal.signal(signal.SIGINT, lambda *args: print("interrupted", flush=True))
server = ServerProcess(sys.argv[1]).start()
print(server.pid, flush=True)
while True:
    time.sleep(0.1)
"""

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups and signals are POSIX")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def read_line(process: subprocess.Popen, seconds: float = 10.0) -> str:
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    assert ready, "the kernel stand-in printed nothing"
    return process.stdout.readline().strip()


@pytest.fixture
def kernel():
    process = subprocess.Popen([sys.executable, "-u", "-c", KERNEL, str(SERVER)],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        yield process, int(read_line(process))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
        process.stdout.close()


def test_interrupting_the_kernel_stops_its_server(kernel):
    process, server_pid = kernel
    os.killpg(process.pid, signal.SIGINT)  # what "Interrupt kernel" does: the whole group
    assert read_line(process) == "interrupted"
    assert wait_gone(server_pid, 5), "the server outlived the interrupt"
    assert process.poll() is None, "the kernel itself should carry on"


def test_killing_the_kernel_stops_its_server(kernel):
    process, server_pid = kernel
    process.kill()  # SIGKILL: no atexit, no cleanup; only the pipe to the server's stdin closes
    process.wait(5)
    # Under harness.launch's 5 s fallback: the server must stop on the signal, at once.
    assert wait_gone(server_pid, 3), "the server outlived its killed parent"


def test_ctrl_c_works_when_the_parent_ignores_it():
    # A test run started in the background (`pytest &`, nohup, some CI runners) has
    # SIGINT ignored, and its children inherit that: without harness.launch putting
    # Python's handler back, no server would stop on Ctrl-C.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server = ServerProcess(SERVER).start()
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        assert_stops_cleanly(server)
    finally:
        server.stop()


# -- framing: a response that is not HTTP/1.1 is named as such ---------------------------

NOT_HTTP = {  # the bytes a server sent: (the kind of problem, words the summary must contain)
    "bare LF": (b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}", "bare LF", "after 'HTTP/1.1 200 OK'"),
    "bare LF ending the head": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\n{}", "bare LF", "empty line"),
    "characters counted": ('HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{"a": "Zürich"}'.encode(),
                           "Content-Length", "characters"),
    "no status line": (b'{"hello": "back"}', "no status line", "not with a status line"),
    "no reason phrase": (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "status line", "malformed"),
    "no colon": (b"HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n", "header line", "malformed"),
}


@pytest.mark.parametrize("case", NOT_HTTP.values(), ids=NOT_HTTP.keys())
def test_each_framing_mistake_is_named(case):
    data, kind, words = case
    with pytest.raises(NotHTTP) as caught:
        parse_response(data)
    assert caught.value.kind == kind and words in caught.value.summary, caught.value.summary


def test_valid_responses_cut_anywhere_are_incomplete_never_not_http():
    """A response read in pieces must never look like a framing mistake halfway."""
    first = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"a": "Zürich"}'
    stream = (first + "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}").encode()
    for cut in range(1, len(stream) + 1):
        try:
            response, rest = parse_response(stream[:cut])
        except Incomplete:
            continue
        assert response.body == '{"a": "Zürich"}'.encode() and stream[:cut].endswith(rest)
    assert parse_response(parse_response(stream)[1])[0].status == 404


def test_the_raw_bytes_one_liner_shows_each_line_ending():
    with ServerProcess(SERVER) as server:
        command = raw_command(request("GET", "/hello_world"), server.host, server.port)
        assert command.startswith("python -c ")
        done = subprocess.run(["bash", "-c", command.replace("python", shlex.quote(sys.executable), 1)],
                              capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("b'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n"), done.stdout


def test_a_bare_lf_server_fails_once_then_skips_with_the_reason():
    """The issue's own test: step 04 with its head joined by \\n instead of \\r\\n."""
    bare_lf = variant(SERVER, ('return ("\\r\\n".join(head) + "\\r\\n\\r\\n")', 'return ("\\n".join(head) + "\\n\\n")'),
                      name="bare_lf_server.py")
    done = subprocess.run([sys.executable, "-m", "pytest", str(SERVER.parent), "--server", str(bare_lf),
                           "-q", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "::test_get_hello_world_is_a_complete_json_response" in failed[0], done.stdout
    assert "your server sent a bare \\n after 'HTTP/1.1 200 OK'" in done.stdout, done.stdout
    assert "python -c" in done.stdout, "the failure should show the raw bytes, not a curl command"
    summary = re.search(r"1 failed, (\d+) passed, (\d+) skipped", done.stdout)
    assert summary and int(summary.group(2)) >= 5, done.stdout
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]  # folded by reason
    assert skipped and all("see the framing failure above" in line for line in skipped), done.stdout
