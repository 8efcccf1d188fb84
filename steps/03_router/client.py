"""Step 03: send GET /hello_world and show that no answer comes back (yet).

The server of this step routes the request to its handler, which logs it; look at
the server's terminal for "Handle: GET /hello_world None". The client waits a
bounded time for an answer, then says that none came.
"""

import argparse
import asyncio
import sys

WAIT_SECONDS = 1.0  # how long to wait for an answer that this step's server never sends


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    return parser.parse_args()


async def main(host, port):
    message = "GET /hello_world HTTP/1.1\r\nHost: example.com\r\n\r\n"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), WAIT_SECONDS)
    except (OSError, asyncio.TimeoutError) as error:
        print(f"Could not connect to {host}:{port}: {error!r}; is the server running?", file=sys.stderr)
        return 1
    print(f"Send: {message!r}")
    writer.write(message.encode())
    await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(100), WAIT_SECONDS)
        print(f"Received: {data!r}")
    except asyncio.TimeoutError:
        print(f"No answer after {WAIT_SECONDS:g} s: this step's server routes the request to its "
              "handler, which logs it, but does not answer yet (see its log).")
    writer.close()
    await writer.wait_closed()
    return 0


if __name__ == "__main__":
    args = parse_args()
    sys.exit(asyncio.run(main(args.host, args.port)))
