"""Step 10: requests for the App's new routes: the request's headers, a JSON body, an HTTPError.

All on one kept-alive connection; we read one response at a time (its head, then
exactly Content-Length bytes), never longer than a bounded time.
"""

import argparse
import asyncio
import json
import sys

TIMEOUT_SECONDS = 5.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    return parser.parse_args()


def request(method, target, *headers, body=""):
    lines = [f"{method} {target} HTTP/1.1\r\n", "Host: localhost:8080\r\n", *headers]
    if body:
        lines.append(f"Content-Length: {len(body.encode('utf-8'))}\r\n")  # bytes, not characters
    return "".join([*lines, "\r\n", body])


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
    messages = [
        request("GET", "/headers", "X-Request-Id: 42\r\n", "ACCEPT: application/json\r\n"),
        request("POST", "/hello_world", "Content-Type: application/json\r\n", body=json.dumps({"key1": "value1"})),
        request("GET", "/teapot", "Connection: close\r\n"),  # raises HTTPError(418, "teapot")
    ]
    for message in messages:
        print(f"Send: {message!r}")
        writer.write(message.encode("utf-8"))
        print(f"Received:\n{await read_response(reader)}\n")
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
