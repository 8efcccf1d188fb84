"""Microseconds of a server's own Python per request, without the network.

    python benchmarks/inprocess.py                   # the ceiling and the solution
    python benchmarks/inprocess.py --servers solution --repeat 9

Each server's protocol object gets wrk's request through ``data_received`` and writes
its answer into a transport that forgets it: no sockets, no kernel, no wrk, only the
server's own work and the asyncio Task machinery it uses. Pinned to one CPU, the best
of its runs repeats to about 10% on a small VM where wrk's req/s move by 2x: it tells
whether a change to the hot path pays (measure both versions in the same minute).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import runpy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUEST = b"GET /hello_world HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
CLOSE_REQUEST = b"GET /hello_world HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"
CONNECTIONS = 50  # as in the wrk runs


class Sink(asyncio.Transport):
    """A transport that notes that an answer was written, and forgets it. It has only
    what the servers use on this path: anything else raises NotImplementedError."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__({"peername": ("127.0.0.1", 50000)})  # what get_extra_info() returns
        self.protocol = protocol
        self.pending = False  # a request was sent and no answer has been written since
        self.closing = False

    def write(self, data: bytes) -> None:
        self.pending = False

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self.closing


async def per_request(make_protocol, rounds: int, close: bool) -> float:
    """Seconds of CPU per request: 50 clients each send a request, the loop turns until
    all are answered, ``rounds`` times (so one turn serves many requests, as under load).
    With ``close``, each request comes on a new connection, closed after the answer."""
    clients: list[tuple[asyncio.Protocol, Sink] | None] = [None] * CONNECTIONS
    started = time.process_time()
    for _ in range(rounds):
        for index, client in enumerate(clients):
            if close or client is None or client[1].closing:  # a new connection, as wrk makes
                protocol = make_protocol()
                client = clients[index] = (protocol, Sink(protocol))
                protocol.connection_made(client[1])
            client[1].pending = True
            client[0].data_received(CLOSE_REQUEST if close else REQUEST)
        for _turn in range(100):
            if not any(client[1].pending for client in clients):
                break
            await asyncio.sleep(0)  # a handler in a Task answers a turn or two later
        else:
            raise RuntimeError("no answer after 100 turns of the loop")
        if close:
            await asyncio.sleep(0)  # connection_lost, scheduled by close()
    return (time.process_time() - started) / (rounds * CONNECTIONS)


def protocol_makers(loop: asyncio.AbstractEventLoop) -> dict:
    """name -> what the server would pass to create_server: makes one protocol object."""
    sys.path.insert(0, str(ROOT / "benchmarks" / "servers"))  # a folder of scripts, not a package
    from ceiling import Ceiling

    from protoweb.connection import ServerState
    from protoweb.server import HTTPServer

    # protoweb's server without its socket: the state that start() would make, access log off.
    app = runpy.run_path(str(ROOT / "solution" / "examples" / "hello_world.py"), run_name="example")["app"]
    solution = HTTPServer(app.dispatch, app.config)
    solution.server_state = ServerState(loop.time, HTTPServer.task_maker(loop))
    return {"ceiling": Ceiling, "solution": solution.new_connection}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400, help=f"rounds of {CONNECTIONS} requests per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per server and mode")
    parser.add_argument("--servers", default="ceiling,solution")
    args = parser.parse_args()
    makers = protocol_makers(asyncio.get_running_loop())
    where = "not pinned"
    if hasattr(os, "sched_setaffinity"):  # Linux: one CPU, no migrations between runs
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        where = f"pinned to CPU {cpu}"
    print(f"Python {sys.version.split()[0]}, {where}: microseconds of CPU per request, best and median "
          f"of {args.repeat} runs of {args.rounds * CONNECTIONS:,} requests on {CONNECTIONS} connections")
    for close in (False, True):
        print(f"\n{'close' if close else 'keep-alive'}:")
        for name in args.servers.split(","):
            await per_request(makers[name], 40, close)  # warm up
            runs = [await per_request(makers[name], args.rounds, close) * 1e6 for _ in range(args.repeat)]
            print(f"  {name:15} best {min(runs):6.2f} us   median {statistics.median(runs):6.2f} us")


if __name__ == "__main__":
    asyncio.run(main())
