"""Microseconds of a server's own Python per request, without the network.

    python benchmarks/inprocess.py                   # ceiling, step 06, solution; keep-alive and close
    python benchmarks/inprocess.py --rounds 1000 --repeat 7
    python benchmarks/inprocess.py --servers solution,solution-inline   # what the Task costs

Each server's protocol object (the one asyncio would make for a connection) gets the
bytes of wrk's request through ``data_received`` and writes its answer into a
transport that keeps nothing; the loop turns until the answer is written (a server
that runs its handler in a Task needs a turn or two). In close mode every request
gets a new protocol object and transport, as a new connection would, and the
connection is closed and forgotten after the answer.

What is left is the server's own work and the asyncio task machinery it uses: no
sockets, no kernel, no wrk. It runs pinned to one CPU and reports the best of its
runs (the one least disturbed by anything else on the machine) next to the median:
the best repeats to about 10% on this 2-CPU VM, where wrk's req/s drift by 2x. It is
the tool for deciding whether a change to the hot path pays; compare two versions in
the same minute. What it leaves out (asyncio's transports, accept, the syscalls) is
the same for every asyncio server; `profile_server.py` shows that part.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import runpy
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
REQUEST = b"GET /hello_world HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
CLOSE_REQUEST = b"GET /hello_world HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"
CONNECTIONS = 50  # as in the wrk runs


class Sink(asyncio.Transport):
    """A transport that counts what is written and forgets it."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.writes = 0
        self.pending = False  # a request was sent and no answer has been written since
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.pending = False

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.1", 50000)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def per_request(make_protocol, rounds: int, close: bool, connections: int = CONNECTIONS) -> float:
    """Seconds of CPU per request: ``connections`` clients each send a request, the loop
    turns until all are answered, ``rounds`` times (like wrk's 50 connections, so a turn
    of the loop serves many requests, as it does under load)."""
    request = CLOSE_REQUEST if close else REQUEST
    clients: list[tuple[asyncio.Protocol, Sink] | None] = [None] * connections
    started = time.process_time()
    for _ in range(rounds):
        for index, client in enumerate(clients):
            if close or client is None or client[1].closing:  # the server closed: reconnect, as wrk does
                protocol = make_protocol()
                client = clients[index] = (protocol, Sink(protocol))
                protocol.connection_made(client[1])
            client[1].pending = True
            client[0].data_received(request)
        turns = 0
        while any(client[1].pending for client in clients):
            turns += 1
            if turns > 100:
                raise RuntimeError("no answer after 100 turns of the loop")
            await asyncio.sleep(0)  # a handler in a Task answers a turn or two later
        if close:
            await asyncio.sleep(0)  # connection_lost, scheduled by close()
    return (time.process_time() - started) / (rounds * connections)


def makers(loop: asyncio.AbstractEventLoop) -> dict:
    """name -> a function making one protocol object, as the server's create_server would."""
    found = {}
    sys.path.insert(0, str(BENCH / "servers"))
    from ceiling import Ceiling  # noqa: E402 (benchmarks/servers is not a package)

    found["ceiling"] = Ceiling
    step06 = runpy.run_path(str(ROOT / "steps" / "06_not_found" / "server.py"), run_name="step06")
    router = step06["Router"]()
    step06["hello_world_app"](router)
    found["step06"] = lambda: step06["Server"](router)
    try:
        from protoweb.connection import HTTPConnection
        from protoweb.server import HTTPServer
    except ImportError:
        print("protoweb is not installed (pip install -e ./solution): solution skipped")
        return found
    app = runpy.run_path(str(ROOT / "solution" / "examples" / "hello_world.py"), run_name="example")["app"]
    server = HTTPServer(app, dataclasses.replace(app.config, access_log=False))
    server.loop = loop
    server.new_task = server._task_maker(loop)  # what start() sets, without a socket
    found["solution"] = lambda: HTTPConnection(server)
    # For measurement only: the same server with each handler's coroutine run to its end
    # right away, without a Task. protoweb does not do this (asyncio.timeout, TaskGroup and
    # current_task need the handler to run in a Task); the difference is what the Task costs.
    inline = HTTPServer(app, dataclasses.replace(app.config, access_log=False))
    inline.loop = loop
    inline.new_task = run_inline
    found["solution-inline"] = lambda: HTTPConnection(inline)
    return found


def run_inline(coroutine) -> asyncio.Future:
    """Run a coroutine that never waits to its end; return a Future that is already done."""
    future = asyncio.get_running_loop().create_future()
    try:
        coroutine.send(None)
    except StopIteration as done:
        future.set_result(done.value)
        return future
    coroutine.close()
    raise RuntimeError("solution-inline measures handlers that never wait; this one did")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400, help=f"rounds of {CONNECTIONS} requests per measurement")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per server and mode (median shown)")
    parser.add_argument("--servers", default="ceiling,step06,solution,solution-inline",
                        help="comma-separated (default: all four)")
    parser.add_argument("--modes", default="keepalive,close", help="keepalive, close, or both")
    args = parser.parse_args()
    servers = {name: make for name, make in makers(asyncio.get_running_loop()).items()
               if name in args.servers.split(",")}
    pinned = ""
    if hasattr(os, "sched_setaffinity"):
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})  # one CPU: no migrations between measurements
        pinned = f", pinned to CPU {cpu}"
    print(f"Python {sys.version.split()[0]}: microseconds of CPU per request, best and median of "
          f"{args.repeat} x {args.rounds * CONNECTIONS:,} requests on {CONNECTIONS} connections{pinned}")
    for close in [mode == "close" for mode in args.modes.split(",")]:
        print(f"\n{'close' if close else 'keep-alive'}:")
        for name, make in servers.items():
            # Step 06 logs every request: to /dev/null here (a write per line, as to a file).
            with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
                await per_request(make, 40, close)  # warm up
                runs = [await per_request(make, args.rounds, close) * 1e6 for _ in range(args.repeat)]
            print(f"  {name:15} best {min(runs):6.2f} us   median {statistics.median(runs):6.2f} us")


if __name__ == "__main__":
    asyncio.run(main())
