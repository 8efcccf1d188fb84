"""Step 09: several requests on one connection: one after the other, then pipelined.

The server keeps the connection open after each answer, so we can no longer read
until it closes: we read one response at a time, its head up to the blank line,
then exactly Content-Length bytes of body. Never longer than a bounded time.
"""

import argparse
import asyncio
import sys
import time

TIMEOUT_SECONDS = 5.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    return parser.parse_args()


def get(target, *headers):
    return "".join([f"GET {target} HTTP/1.1\r\n", "Host: example.com\r\n", *headers, "\r\n"])


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")  # the status line and the headers
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return (head + body).decode("utf-8")


async def talk(host, port):
    reader, writer = await asyncio.open_connection(host, port)
    print("One connection, two requests, one after the other:")
    for message in (get("/hello/one"), get("/hello/two")):
        print(f"Send: {message!r}")
        writer.write(message.encode("utf-8"))
        print(f"Received:\n{await read_response(reader)}\n")

    print("The same connection, three requests in one write (pipelined), the slow one first:")
    messages = [get("/sleep/300"), get("/hello/fast"), get("/text", "Connection: close\r\n")]
    started = time.monotonic()
    writer.write("".join(messages).encode("utf-8"))
    for message in messages:
        response = await read_response(reader)
        print(f"after {time.monotonic() - started:.2f} s, the answer to {message.splitlines()[0]!r}:\n{response}\n")
    closed = await reader.read() == b""  # we asked for Connection: close
    print("The server closed the connection, as the last request asked." if closed else "Still open?")
    writer.close()
    await writer.wait_closed()


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
