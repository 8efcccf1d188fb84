"""Step 04: send GET /hello_world and print the response the server sends back.

The server closes the connection after its response, so we read until the end of
the stream, but never longer than a bounded time.
"""

import argparse
import asyncio
import sys

TIMEOUT_SECONDS = 5.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    return parser.parse_args()


async def send(host, port, message):
    reader, writer = await asyncio.open_connection(host, port)
    print(f"Send: {message!r}")
    writer.write(message.encode("utf-8"))
    await writer.drain()
    data = await reader.read()  # everything, up to the server closing the connection
    print(f"Received:\n{data.decode('utf-8')}\n")
    writer.close()
    await writer.wait_closed()


async def main(host, port):
    message = "GET /hello_world HTTP/1.1\r\nHost: example.com\r\n\r\n"
    try:
        await asyncio.wait_for(send(host, port, message), TIMEOUT_SECONDS)
    except asyncio.TimeoutError:  # first: from Python 3.11 on, a TimeoutError is an OSError too
        print(f"No complete answer within {TIMEOUT_SECONDS:g} s.", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"Could not talk to {host}:{port}: {error!r}; is the server running?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    args = parse_args()
    sys.exit(asyncio.run(main(args.host, args.port)))
