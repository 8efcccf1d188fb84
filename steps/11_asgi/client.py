"""Step 11: ask GET /pid on several connections at once, to see which processes answer.

Run it against the step's own server (one process: one pid) or against uvicorn with
--workers 2 (two pids, usually). Each connection reads one response (its head, then
exactly Content-Length bytes), never longer than a bounded time.
"""

import argparse
import asyncio
import json
import sys
from collections import Counter

TIMEOUT_SECONDS = 5.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    return parser.parse_args()


CONNECTIONS = 20


def get(target):
    return f"GET {target} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")  # the status line and the headers
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return (head + body).decode("utf-8")


async def ask(host, port, target):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(get(target).encode("utf-8"))
    response = await read_response(reader)
    writer.close()
    await writer.wait_closed()
    return response


async def talk(host, port):
    print(await ask(host, port, "/hello/J%C3%BCrgen"), "\n")
    # A few at a time, each on its own connection: several worker processes listen on the
    # same socket, and the operating system decides which one accepts a connection. (All
    # at once, the first to wake up would accept them all in one go.)
    answers = []
    for _ in range(CONNECTIONS // 4):
        answers += await asyncio.gather(*(ask(host, port, "/pid") for _ in range(4)))
    pids = Counter(json.loads(answer.partition("\r\n\r\n")[2])["pid"] for answer in answers)
    print(f"{CONNECTIONS} connections to GET /pid were answered by {len(pids)} process(es):")
    for pid, count in pids.most_common():
        print(f"    pid {pid}: {count} answers")


async def main(host, port):
    try:
        await asyncio.wait_for(talk(host, port), TIMEOUT_SECONDS)
    except asyncio.TimeoutError:  # first: from Python 3.11 on, a TimeoutError is an OSError too
        print(f"No complete answer within {TIMEOUT_SECONDS:g} s.", file=sys.stderr)
        return 1
    except (OSError, asyncio.IncompleteReadError) as error:
        print(f"Could not talk to {host}:{port}: {error!r}; is the server running?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    args = parse_args()
    sys.exit(asyncio.run(main(args.host, args.port)))
