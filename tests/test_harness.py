"""The harness never leaves a server behind: not when the process that started it is
interrupted (Jupyter's "Interrupt kernel"), nor when it is killed outright."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import ServerProcess
from harness.checks import assert_stops_cleanly

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
