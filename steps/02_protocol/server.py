"""Step 02: an asyncio Protocol that parses HTTP requests with httptools.

asyncio calls our Server object when bytes arrive; httptools turns those bytes into
calls like on_url() and on_body(). When a request is complete we log it. We do not
answer yet: that comes in step 04.
"""

import argparse
import asyncio
import signal

from httptools import HttpRequestParser


class Request:
    def __init__(self, method, url, body):
        self.encoding = "utf-8"
        self.method = method
        self.url = url
        self.body = body


class Server(asyncio.Protocol):
    """One Server object per connection: it holds that connection's parser state."""

    def __init__(self):
        self.encoding = "utf-8"
        self._request_parser = HttpRequestParser(self)

    # Called by asyncio with whatever bytes the network delivered: part of a
    # request, exactly one, or several.
    def data_received(self, data):
        self._request_parser.feed_data(data)

    # Called by the parser as it recognises the parts of a request. The URL and the
    # body may each come in several pieces, so we collect the pieces.
    def on_message_begin(self):
        self._url_parts = []
        self._body_parts = []

    def on_url(self, url):
        self._url_parts.append(url)

    def on_body(self, body):
        self._body_parts.append(body)

    def on_message_complete(self):
        request = Request(
            method=self._request_parser.get_method().decode(self.encoding),
            url=b"".join(self._url_parts).decode(self.encoding),
            body=b"".join(self._body_parts) or None,
        )
        print(f"Request: {request.method} {request.url} {request.body}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    return parser.parse_args()


async def main(host, port):
    loop = asyncio.get_running_loop()
    # The factory is called once per connection, so each one gets its own Server.
    server = await loop.create_server(lambda: Server(), host, port)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)
    stop = asyncio.Event()
    try:
        # Ctrl-C (SIGINT) sets `stop`. The event loop runs this between two callbacks, so
        # the interrupt never lands in the middle of a handler (as a KeyboardInterrupt
        # raised wherever the code happens to be could, on Python 3.10).
        loop.add_signal_handler(signal.SIGINT, stop.set)
    except NotImplementedError:  # Windows: Ctrl-C raises KeyboardInterrupt, caught below
        pass
    try:
        # Serve until Ctrl-C. (Not `async with server:` and `server.serve_forever()`:
        # from Python 3.12 on, once stopped, they wait for every open connection to close,
        # and a client that keeps one open, as browsers do, would keep the server from
        # stopping.)
        await stop.wait()
    finally:
        server.close()  # stop listening; open connections end with the process


if __name__ == "__main__":
    args = parse_args()
    try:
        asyncio.run(main(args.host, args.port))
    except KeyboardInterrupt:  # Ctrl-C on Windows (elsewhere, main returns)
        pass
    print("Server stopped", flush=True)
