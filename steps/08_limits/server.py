"""Step 08: limits and timeouts; a server defends itself against bad or slow clients.

Every request the parser rejects gets 400 with a JSON message; a body larger than
--max-body gets 413, from its Content-Length before the body is read; a URL and
header fields over 16 KiB get 431. The clock starts when the client connects: a client that sends
nothing is disconnected after --timeout seconds, one whose request is not complete
by then gets 408. Whatever a client does, the server answers it or closes it, and
serves the others meanwhile.
"""

import argparse
import asyncio
import json
import re
import signal
import traceback
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserInvalidURLError,
    HttpParserUpgrade,
    HttpRequestParser,
    parse_url,
)

MAX_HEADER_SIZE = 16 * 1024  # bytes: a request's URL and header fields together
HEAD_TOO_LARGE = f"The request's URL and header fields exceed {MAX_HEADER_SIZE} bytes"


class HTTPError(Exception):
    """A request we refuse to handle: answered with this status and {"message": message}."""

    def __init__(self, status_code, message):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class Request:
    def __init__(self, method, url, body):
        self.encoding = "utf-8"
        self.method = method
        self.url = url
        self.body = body
        parts = parse_url(url.encode(self.encoding))
        # Routing uses the path only, as the client sent it: still percent-encoded.
        # ("GET http://example.com HTTP/1.1" has no path at all: that is "/".)
        self.path = (parts.path or b"/").decode(self.encoding)
        # "q=a&q=b&empty=" -> {"q": ["a", "b"], "empty": [""]}: a name may come several
        # times, so every value is a list, in the order sent; blank values are kept.
        self.query = parse_qs((parts.query or b"").decode(self.encoding), keep_blank_values=True)
        self.path_params = {}  # set by the router: /hello/J%C3%BCrgen -> {"name": "Jürgen"}


class Response:
    def __init__(self, status_code, body=None, headers=None):
        self.status_code = status_code
        self.body = body
        self.version = "1.1"
        self.headers = headers or {}  # more header fields, e.g. {"Allow": "GET, POST"}
        if isinstance(body, str):  # text is sent as it is, not as a JSON string
            self.content_type = "text/plain; charset=utf-8"
            self.content = body.encode("utf-8")
        else:
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
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        # Every line of the head ends with CRLF, and an empty line ends the head.
        return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + self.content


async def not_found(request):
    return Response(404, {"message": "Not Found"})


def method_not_allowed(methods):
    """The handler for a known path asked with another method: 405, and the methods it has."""
    async def handler(request, **path_params):
        return Response(405, {"message": "Method Not Allowed"}, {"Allow": ", ".join(methods)})
    return handler


def compile_path(path):
    """"/hello/{name}" -> re.compile("^/hello/(?P<name>[^/]+)$").

    Each {name} becomes a named group that matches one path segment: anything but "/".
    The text around it is escaped (a "." in a route means a dot), and ^...$ make the
    pattern match the whole path, not only its start.
    """
    pieces = re.split(r"{(\w+)}", path)  # "/a/{x}/b" -> ["/a/", "x", "/b"]: text, name, text
    pattern = re.escape(pieces[0])
    for name, text in zip(pieces[1::2], pieces[2::2]):
        pattern += f"(?P<{name}>[^/]+)" + re.escape(text)
    return re.compile(f"^{pattern}$")


class Router:
    """Maps path patterns to {method: handler}. One Router is shared by every connection."""

    def __init__(self):
        self.routes = {}  # path -> (its compiled pattern, {method: handler}), in the order added

    def add_route(self, path, methods_handler):
        self.routes[path] = (compile_path(path), methods_handler)

    async def dispatch(self, request, callback_handler):
        method_handler = not_found  # unless a route matches the path
        for pattern, handlers in self.routes.values():
            match = pattern.match(request.path)
            if match:
                # Decode the parameters only now that the path has matched: "a%2Fb" is one
                # parameter, "a/b"; decoded before matching, its "/" would split it in two.
                request.path_params = {name: unquote(value) for name, value in match.groupdict().items()}
                method_handler = handlers.get(request.method) or method_not_allowed(handlers)
                break
        await callback_handler(method_handler, request)


class Server(asyncio.Protocol):
    """One Server object per connection: it holds that connection's parser state."""

    def __init__(self, router, timeout, max_body):
        self.encoding = "utf-8"
        self._request_parser = HttpRequestParser(self)
        self.router = router
        self.timeout = timeout  # seconds the client has, from connecting, to send its request
        self.max_body = max_body  # bytes
        self.tasks = set()
        self.transport = None
        self.answering = False  # its one request: once it is complete, we answer it and close
        self._timer = None
        self._receiving = False  # between the first byte of a request and its end
        self._head_size = 0  # bytes in a row that left the request incomplete and brought no body
        self._body_size = 0

    # asyncio calls these two once each, at the start and the end of the connection.
    def connection_made(self, transport):
        self.transport = transport
        # The clock starts now, when the client connects, not at its first byte: a
        # client that connects and sends nothing must not keep its connection (a file
        # descriptor and some memory of ours) for ever.
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)

    def connection_lost(self, exc):
        self.transport = None  # the client is gone: nothing to write to any more
        self._timer.cancel()

    def timeout_expired(self):
        if self._receiving:  # part of a request came, not all of it
            message = f"The request did not arrive within {self.timeout:g} s"
            self.response_writer(Response(408, {"message": message}))
        else:  # nothing came: there is nobody to answer
            self.transport.close()

    # Called by asyncio with whatever bytes the network delivered: part of a
    # request, exactly one, or several.
    def data_received(self, data):
        body_before = self._body_size
        try:
            self._request_parser.feed_data(data)
            if self._receiving and self._body_size == body_before:
                # Bytes that leave the request incomplete and bring no body are head lines
                # (or trailer lines, after a chunked body). httptools keeps a line to itself
                # until it ends, out of on_header's sight, so we count these bytes: else one
                # endless line would grow in our memory until the timeout.
                self._head_size += len(data)
                if self._head_size > MAX_HEADER_SIZE:
                    raise HTTPError(431, HEAD_TOO_LARGE)
            else:
                self._head_size = 0  # some body came: a head before it was complete
        except HTTPError as error:
            self.refuse(error)
        except HttpParserCallbackError as error:
            # One of our on_* methods raised an HTTPError: httptools hands it on as the context.
            if not isinstance(error.__context__, HTTPError):
                raise  # a bug of ours: let asyncio log it
            self.refuse(error.__context__)
        except HttpParserUpgrade:
            # "Connection: Upgrade" (curl --http2 asks for HTTP/2 that way). The request
            # is complete and being answered, in HTTP/1.1; httptools parses nothing after it.
            pass
        except HttpParserError as error:  # not HTTP: a bad request line, header or chunk size
            self.refuse(HTTPError(400, f"Malformed request: {error}"))

    def refuse(self, error):
        # The parser has stopped and we cannot tell where the next request would start:
        # answer this one and close the connection.
        self._timer.cancel()
        self.response_writer(Response(error.status_code, {"message": error.message}))

    # Called by the parser as it recognises the parts of a request. The URL and the
    # body may each come in several pieces, so we collect the pieces.
    def on_message_begin(self):
        self._receiving = True
        self._url_parts = []
        self._body_parts = []
        self._header_size = 0
        self._body_size = 0

    def on_url(self, url):
        self._url_parts.append(url)
        self._header_size += len(url)

    def on_header(self, name, value):
        self._header_size += len(name) + len(value) + 4  # name: value\r\n
        # Refuse a body that is too large from its announced size, before reading it.
        # (The parser has already checked that Content-Length is a number.)
        if name.lower() == b"content-length" and int(value) > self.max_body:
            raise HTTPError(413, f"The request body exceeds {self.max_body} bytes")

    def on_headers_complete(self):
        if self._header_size > MAX_HEADER_SIZE:
            raise HTTPError(431, HEAD_TOO_LARGE)

    def on_body(self, body):
        self._body_size += len(body)
        if self._body_size > self.max_body:  # a chunked body does not announce its size
            raise HTTPError(413, f"The request body exceeds {self.max_body} bytes")
        self._body_parts.append(body)

    def on_message_complete(self):
        if self.answering:  # a request sent behind the first, which will close the connection:
            return  # it would never get its answer, so its handler must not run
        self.answering = True
        self._timer.cancel()  # the whole request came in time
        self._receiving = False
        raw_body = b"".join(self._body_parts)
        try:
            # Decode only now that the whole body is here: a piece can end in the
            # middle of a multi-byte character. A GET usually has no body at all.
            body = json.loads(raw_body) if raw_body else None
        except (ValueError, RecursionError):  # not JSON, not text, or nested too deep
            raise HTTPError(400, "The request body is not valid JSON")
        try:
            request = Request(
                method=self._request_parser.get_method().decode(self.encoding),
                url=b"".join(self._url_parts).decode(self.encoding),
                body=body,
            )
        except HttpParserInvalidURLError:  # "GET http:// HTTP/1.1" passes the parser, not parse_url
            raise HTTPError(400, "Malformed request: invalid URL")
        # dispatch() is a coroutine: run it as a task on the event loop. asyncio only
        # keeps a weak reference to tasks, so we hold one until the task is done.
        task = asyncio.get_running_loop().create_task(
            self.router.dispatch(request, self.request_callback_handler)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def request_callback_handler(self, method_handler, request):
        try:
            response = await method_handler(request, **request.path_params)
            if isinstance(response, (dict, str)):  # a dict is sent as JSON, a str as text
                response = Response(200, response)
            if not isinstance(response, Response):
                raise TypeError(f"expected a Response, a dict or a str from the handler, got {response!r}")
        except Exception:
            # The traceback goes to the server's log; the client only learns that it failed.
            traceback.print_exc()
            response = Response(500, {"message": "Internal Server Error"})
        self.response_writer(response)

    def response_writer(self, response):
        if self.transport is None or self.transport.is_closing():  # the client hung up, or we did
            return
        self.transport.write(bytes(response))
        self.transport.close()  # we said "Connection: close": one request per connection


def hello_world_app(router):
    async def hello_world(request):
        print(f"Handle: {request.method} {request.url} {request.body}", flush=True)
        return Response(200, {"hello": "world"})

    async def process_request(request):
        print(f"Handle: {request.method} {request.url} {request.body}", flush=True)
        if not isinstance(request.body, dict):
            return Response(400, {"message": "Send a JSON object, like {\"key1\": \"value1\"}"})
        return Response(200, {**request.body, "hello": "back"})

    async def broken(request):
        raise RuntimeError("this handler fails on purpose, to show what the client gets")

    async def hello(request, name):
        return {"hello": name}

    async def echo_query(request):
        return request.query

    async def text(request):
        return "Hello, world"

    router.add_route("/hello_world", {"GET": hello_world, "POST": process_request})
    router.add_route("/broken", {"GET": broken})
    router.add_route("/hello/{name}", {"GET": hello})
    router.add_route("/echo_query", {"GET": echo_query})
    router.add_route("/text", {"GET": text})


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds a client has, from connecting, to send a whole request")
    parser.add_argument("--max-body", type=int, default=1024 * 1024, help="the largest request body, in bytes")
    return parser.parse_args()


async def main(host, port, timeout, max_body):
    router = Router()
    hello_world_app(router)
    loop = asyncio.get_running_loop()
    # The factory is called once per connection, so each one gets its own Server;
    # they all share the one router.
    server = await loop.create_server(lambda: Server(router, timeout, max_body), host, port)
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
        asyncio.run(main(args.host, args.port, args.timeout, args.max_body))
    except KeyboardInterrupt:  # Ctrl-C on Windows (elsewhere, main returns)
        pass
    print("Server stopped", flush=True)
