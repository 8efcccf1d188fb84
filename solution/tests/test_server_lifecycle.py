"""Graceful shutdown on SIGINT and SIGTERM, with and without loop signal handlers.

Black-box: the server stops accepting, closes idle connections at once, lets a request
in flight finish (answered with Connection: close), gives up on one that takes longer
than the shutdown timeout (the socket-level smoke test of that grace), and exits with
status 0 and a clean log. And HTTPServer started and stopped inside a loop of the
caller's, as a notebook would. What one connection does at shutdown, in detail, is
checked in test_connection_inprocess.py.
"""

import asyncio
import secrets
import signal
import socket
import time

import pytest

from harness import parse_response, request
from protoweb import App, Config
from protoweb.connection import ServerState
from protoweb.server import HTTPServer

TIMEOUT = 5


def read_until_closed(sock, limit=TIMEOUT):
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def idle_connection(srv):
    """A keep-alive connection that has had its answer and now waits."""
    sock = socket.create_connection(srv.address, timeout=TIMEOUT)
    sock.sendall(request("GET", "/users/idle"))
    assert parse_response(sock.recv(65536))[0].status == 200
    return sock


def wait_exit(srv, limit=TIMEOUT):
    started = time.monotonic()
    code = srv.process.wait(limit)
    return code, time.monotonic() - started


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("loop_signals", [True, False], ids=["loop-signal-handlers", "fallback-signal-handlers"])
def test_graceful_shutdown_finishes_the_request_in_flight(start_server, signum, loop_signals):
    # Without loop signal handlers (as on Windows) the server must fall back to signal.signal.
    env = {} if loop_signals else {"PROTOWEB_TEST_NO_LOOP_SIGNALS": "1"}
    srv = start_server("--shutdown-timeout", "5", env=env)
    tag = secrets.token_hex(4)
    idle = idle_connection(srv)
    busy = socket.create_connection(srv.address, timeout=TIMEOUT)
    busy.sendall(request("GET", f"/sleep?seconds=0.5&tag={tag}"))
    srv.wait_for(f"sleeping {tag}")  # the handler is running
    srv.process.send_signal(signum)
    srv.wait_for("Shutting down")

    assert read_until_closed(idle, 1) == b""  # idle: closed at once, without a word
    with pytest.raises(OSError):  # no longer accepting
        socket.create_connection(srv.address, timeout=1).close()
    answer, rest = parse_response(read_until_closed(busy))
    assert answer.status == 200 and tag.encode() in answer.body and rest == b""
    assert answer.header("Connection") == "close"
    code, _ = wait_exit(srv)
    assert code == 0
    log = srv.log()
    assert "Stopped" in log and "Traceback" not in log and "KeyboardInterrupt" not in log
    idle.close()
    busy.close()


def test_shutdown_gives_up_on_a_request_that_takes_too_long(start_server):
    srv = start_server("--shutdown-timeout", "0.5")
    busy = socket.create_connection(srv.address, timeout=TIMEOUT)
    busy.sendall(request("GET", "/forever"))
    srv.wait_for("forever")
    srv.process.send_signal(signal.SIGINT)
    code, seconds = wait_exit(srv)
    assert code == 0 and 0.4 <= seconds < 0.5 + 2
    assert read_until_closed(busy, 1) == b""  # cut off, no half response
    assert "did not finish in time" in srv.log()
    busy.close()


def test_a_second_signal_stops_waiting(start_server):
    srv = start_server("--shutdown-timeout", "30")
    busy = socket.create_connection(srv.address, timeout=TIMEOUT)
    busy.sendall(request("GET", "/forever"))
    srv.wait_for("forever")
    srv.process.send_signal(signal.SIGINT)
    srv.wait_for("Waiting for 1 connection")
    srv.process.send_signal(signal.SIGINT)
    code, seconds = wait_exit(srv)
    assert code == 0 and seconds < 2
    busy.close()


def test_an_http_server_runs_inside_a_loop_that_is_not_its_own():
    # As in a notebook: start and stop it yourself; it leaves the signal handlers alone.
    app = App()

    @app.get("/ping/{value}")
    async def ping(request, value):
        return {"pong": value}

    async def main():
        handler_before = signal.getsignal(signal.SIGINT)
        server = HTTPServer(app.dispatch, Config(access_log=False))
        ((host, port),) = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        value = secrets.token_hex(3)
        writer.write(request("GET", f"/ping/{value}"))
        answer = await asyncio.wait_for(reader.readuntil(b"}"), TIMEOUT)
        await asyncio.wait_for(server.shutdown(), TIMEOUT)
        rest = await asyncio.wait_for(reader.read(), TIMEOUT)  # the idle connection is closed
        writer.close()
        assert signal.getsignal(signal.SIGINT) is handler_before
        return value, answer, rest

    value, answer, rest = asyncio.run(main())
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(f'{{"pong": "{value}"}}'.encode())
    assert rest == b""


def test_one_failing_connection_does_not_stop_the_deadline_sweep():
    class Stub:
        def __init__(self, fail):
            self.deadline, self.fail, self.swept = 0.0, fail, False

        def deadline_passed(self):
            self.deadline, self.swept = None, True
            if self.fail:
                raise RuntimeError("bug in one connection")

    async def main():
        server = HTTPServer(App().dispatch, Config(access_log=False))
        loop = asyncio.get_running_loop()
        server.server_state = ServerState(loop.time, loop.create_task)
        server.server_state.connections = {Stub(fail=True), Stub(fail=False)}
        with pytest.raises(RuntimeError):  # asyncio would log it as "Exception in callback"
            server._sweep()
        assert server._sweeper is not None  # rescheduled before acting: the next sweep comes
        server._sweeper.cancel()
        server._sweep()  # and deals with what this one did not reach
        server._sweeper.cancel()
        return server.server_state.connections

    assert all(stub.swept for stub in asyncio.run(main()))


def test_a_task_factory_of_the_loop_makes_the_handlers_tasks():
    # Tools that instrument tasks (a task factory) see protoweb's handlers too.
    app = App()

    @app.get("/where")
    async def where(request):
        return {"in_task": asyncio.current_task() is not None}

    made = []

    def factory(loop, coro, **kwargs):
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def main():
        asyncio.get_running_loop().set_task_factory(factory)
        server = HTTPServer(app.dispatch, Config(access_log=False))
        ((host, port),) = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request("GET", "/where"))
        answer = await asyncio.wait_for(reader.readuntil(b"}"), TIMEOUT)
        writer.close()
        await asyncio.wait_for(server.shutdown(), TIMEOUT)
        return answer

    assert asyncio.run(main()).endswith(b'{"in_task": true}')
    assert any(getattr(coro, "__qualname__", "") == "HTTPConnection._handle" for coro in made)
