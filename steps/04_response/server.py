"""Step 04: handlers return a Response, and the server writes it back to the client.

A Response turns a status code and a JSON body into the bytes of an HTTP response.
The Server keeps the connection's transport (connection_made) so it can write the
response and close the connection. A handler that raises gets the client a 500.
"""

import argparse
import asyncio
import json
import signal
import traceback
from http import HTTPStatus

from httptools import HttpRequestParser, parse_url


class Request:
    def __init__(self, method, url, body):
        self.encoding = "utf-8"
        self.method = method
        self.url = url
        self.body = body
        # Routing uses the path only: "/hello_world?x=1" has the path "/hello_world".
        self.path = parse_url(url.encode(self.encoding)).path.decode(self.encoding)


class Response:
    def __init__(self, status_code, body=None):
        self.status_code = status_code
        self.body = body
        self.version = "1.1"
        self.content_type = "application/json"
        # Encode now: a body that json cannot encode (a datetime, say) then fails inside
        # the handler that made it, where request_callback_handler turns it into a 500.
        # ensure_ascii=False keeps "ü" as its UTF-8 bytes instead of the escape \u00fc.
        self.content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")

    def __bytes__(self):
        reason = HTTPStatus(self.status_code).phrase  # 200 -> "OK", 404 -> "Not Found"
        head = [
            f"HTTP/{self.version} {self.status_code} {reason}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.content)}",  # a count of bytes, not of characters
            "Connection: close",
        ]
        # Every line of the head ends with CRLF, and an empty line ends the head.
        return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + self.content


class Router:
    """Maps a path to {method: handler}. One Router is shared by every connection."""

    def __init__(self):
        self.mapping = {}

    def add_route(self, path, methods_handler):
        self.mapping[path] = methods_handler

    async def dispatch(self, request, callback_handler):
        handlers = self.mapping.get(request.path)
        if not handlers:
            return
        method_handler = handlers.get(request.method)
        if not method_handler:
            return
        await callback_handler(method_handler, request)


class Server(asyncio.Protocol):
    """One Server object per connection: it holds that connection's parser state."""

    def __init__(self, router):
        self.encoding = "utf-8"
        self._request_parser = HttpRequestParser(self)
        self.router = router
        self.tasks = set()
        self.transport = None

    # asyncio calls these two once each, at the start and the end of the connection.
    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.transport = None  # the client is gone: nothing to write to any more

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
        # dispatch() is a coroutine: run it as a task on the event loop. asyncio only
        # keeps a weak reference to tasks, so we hold one until the task is done.
        task = asyncio.get_running_loop().create_task(
            self.router.dispatch(request, self.request_callback_handler)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def request_callback_handler(self, method_handler, request):
        try:
            response = await method_handler(request)
            if not isinstance(response, Response):
                raise TypeError(f"expected a Response from the handler, got {response!r}")
        except Exception:
            # The traceback goes to the server's log; the client only learns that it failed.
            traceback.print_exc()
            response = Response(500, {"message": "Internal Server Error"})
        self.response_writer(response)

    def response_writer(self, response):
        if self.transport is None:  # the client hung up while the handler ran
            return
        self.transport.write(bytes(response))
        self.transport.close()  # we said "Connection: close": one request per connection


def hello_world_app(router):
    async def hello_world(request):
        print(f"Handle: {request.method} {request.url} {request.body}", flush=True)
        return Response(200, {"hello": "back"})

    async def broken(request):
        raise RuntimeError("this handler fails on purpose, to show what the client gets")

    router.add_route("/hello_world", {"GET": hello_world})
    router.add_route("/broken", {"GET": broken})


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    return parser.parse_args()


async def main(host, port):
    router = Router()
    hello_world_app(router)
    loop = asyncio.get_running_loop()
    # The factory is called once per connection, so each one gets its own Server;
    # they all share the one router.
    server = await loop.create_server(lambda: Server(router), host, port)
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
