"""Ctrl-C stops every step's server at once, even while a client holds a connection open.

Browsers keep idle connections open. From Python 3.12 on, asyncio's
``Server.serve_forever()`` and ``async with server`` wait, once stopped, for every open
connection to close: a server written that way does not stop while such a client is
connected (it did not on 3.13 before the steps stopped using them).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from harness import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
TCP_STEPS = sorted(p.name for p in (ROOT / "steps").iterdir() if p.is_dir() and p.name[:2].isdigit() and p.name >= "02")


@pytest.mark.parametrize("step", TCP_STEPS)
def test_ctrl_c_stops_the_server_while_a_client_is_connected(step):
    server = ServerProcess(ROOT / "steps" / step / "server.py").start()
    try:
        with socket.create_connection(server.address, timeout=3) as _idle, \
                socket.create_connection(server.address, timeout=3) as partial:
            partial.sendall(b"GET /hello_world HTTP/1.1\r\nHo")  # half a request
            time.sleep(0.1)  # let the server accept both
            started = time.monotonic()
            status = server.stop(timeout=4)
            took = time.monotonic() - started
    finally:
        server.stop()
    assert status == 0 and took < 3, (
        f"{step}: exit status {status} {took:.1f} s after Ctrl-C with two clients connected; "
        f"its output:\n{server.log()}")
    assert "Traceback" not in server.log(), server.log()
