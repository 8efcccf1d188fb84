"""Step 11: ASGI; the same App runs under an existing server, in several processes.

The App is also an ASGI application: uvicorn (or any ASGI server) calls
app(scope, receive, send) for each request, and then owns what our Server did: the
sockets, HTTP/1.1, timeouts, keep-alive, and worker processes. Run it either way:

    python server.py                                # our own server, as in step 10
    python -m uvicorn server:app --workers 2        # uvicorn, two processes
"""

import argparse
import asyncio
import json
import os
import re
import signal
import traceback
from collections import deque
from http import HTTPStatus
from urllib.parse import parse_qs, quote, unquote

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
    """A request we refuse to handle: answered with this status and {"message": message}.

    The server raises it for requests it cannot read; handlers raise it too:
    raise HTTPError(404, "No such user").
    """

    def __init__(self, status_code, message):
        super().__init__(message)
        HTTPStatus(status_code)  # a code HTTP does not define fails here, in the handler
        self.status_code = status_code
        self.message = str(message)  # anything else would fail later, when the answer is made


class Headers(dict):
    """A request's header fields, by name: case-insensitive, so names are kept in lower
    case. A field sent several times has its values joined with ", " (RFC 9110 5.3)."""

    def __init__(self, fields=()):
        super().__init__()
        for name, value in fields:  # (bytes, bytes) pairs, as the parser gives them
            name, value = name.decode("latin-1").lower(), value.decode("latin-1")
            self[name] = f"{self[name]}, {value}" if name in self else value

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def __contains__(self, name):
        return super().__contains__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)


class Request:
    def __init__(self, method, url, body=b"", headers=(), http_version="1.1", keep_alive=False):
        self.encoding = "utf-8"
        self.method = method
        self.url = url
        self.body = body  # bytes, as they came; request.json() decodes them
        self.headers = Headers(headers)  # request.headers["content-type"], any case
        self.http_version = http_version  # "1.1" or "1.0"
        self.keep_alive = keep_alive  # the client will send more requests on this connection
        parts = parse_url(url.encode(self.encoding))
        # Routing uses the path only, as the client sent it: still percent-encoded.
        # ("GET http://example.com HTTP/1.1" has no path at all: that is "/".)
        self.path = (parts.path or b"/").decode(self.encoding)
        # "q=a&q=b&empty=" -> {"q": ["a", "b"], "empty": [""]}: a name may come several
        # times, so every value is a list, in the order sent; blank values are kept.
        self.query = parse_qs((parts.query or b"").decode(self.encoding), keep_blank_values=True)
        self.path_params = {}  # set by the router: /hello/J%C3%BCrgen -> {"name": "Jürgen"}

    def json(self):
        """The body, decoded from JSON; a 400 for the client if it is not JSON."""
        try:
            # Decode only now that the whole body is here: a piece can end in the
            # middle of a multi-byte character.
            value = json.loads(self.body)
        except (ValueError, RecursionError):  # not JSON, not text, or nested too deep
            raise HTTPError(400, "The request body is not valid JSON")
        try:
            # JSON may carry half a character ("\ud800", a lone surrogate), which no UTF-8
            # text can hold: we could neither store it nor send it back.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise HTTPError(400, "The request body holds text that is not valid Unicode")
        return value


class Response:
    def __init__(self, status_code, body=None, headers=None):
        self.status_code = status_code
        # Looked up now, not when the response is written: a status HTTP does not
        # define (Response(499)) then fails in the handler that made it, as a 500.
        self.reason = HTTPStatus(status_code).phrase  # 200 -> "OK", 404 -> "Not Found"
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

    def header_fields(self):
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.content))),  # a count of bytes, not of characters
            *self.headers.items(),
        ]

    def __bytes__(self):
        head = [f"HTTP/{self.version} {self.status_code} {self.reason}"]
        head += [f"{name}: {value}" for name, value in self.header_fields()]
        # Every line of the head ends with CRLF, and an empty line ends the head.
        return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + self.content


async def run_handler(method_handler, request):
    """Call the handler; what it returns, or raises, becomes the Response to send."""
    try:
        response = await method_handler(request, **request.path_params)
        if isinstance(response, (dict, str)):  # a dict is sent as JSON, a str as text
            response = Response(200, response)
        if not isinstance(response, Response):
            raise TypeError(f"expected a Response, a dict or a str from the handler, got {response!r}")
    except HTTPError as error:  # the handler refuses the request, and says why
        response = Response(error.status_code, {"message": error.message})
    except Exception:
        # The traceback goes to the server's log; the client only learns that it failed.
        traceback.print_exc()
        response = Response(500, {"message": "Internal Server Error"})
    return response


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
        # @app.get and @app.post may each bring one method for the same path: one route.
        pattern, handlers = self.routes.setdefault(path, (compile_path(path), {}))
        for method, handler in methods_handler.items():
            if method in handlers:
                raise ValueError(f"{method} {path} has a handler already: {handlers[method].__name__}")
            handlers[method] = handler

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

    def __init__(self, router, timeout, max_body, connections):
        self.encoding = "utf-8"
        self._request_parser = HttpRequestParser(self)
        self.router = router
        self.timeout = timeout  # seconds the client has, from connecting, to send its request
        self.max_body = max_body  # bytes
        self.connections = connections  # every open connection's Server, for the shutdown
        self.stopping = False  # the server is shutting down: answer what we have, then close
        self.closed = asyncio.get_running_loop().create_future()  # done when the connection closes
        self.transport = None
        # Complete requests not answered yet, in the order they came (and, last, the
        # error that stopped the parser, if one did), and the task that answers them.
        self.pipeline = deque()
        self._worker = None
        self._writing_paused = False  # our answers are piling up unsent: the client does not read
        self._eof = False  # the client has closed its side: it sends nothing more
        self._timer = None
        self._requests_begun = 0
        self._receiving = False  # between the first byte of a request and its end
        self._head_size = 0  # bytes in a row that left the request incomplete and brought no body
        self._body_size = 0

    # asyncio calls these two once each, at the start and the end of the connection.
    def connection_made(self, transport):
        self.transport = transport
        self.connections.add(self)
        # The clock starts now, when the client connects, not at its first byte: a
        # client that connects and sends nothing must not keep its connection (a file
        # descriptor and some memory of ours) for ever.
        self.start_timer()

    def connection_lost(self, exc):
        self.transport = None  # the client is gone: nothing to write to any more
        self._timer.cancel()
        self.pipeline.clear()  # nor anyone to answer the requests it left behind
        self.connections.discard(self)
        self.closed.set_result(None)

    def shutdown(self):
        """The server stops: close now if we owe no answer (a request only half received
        is not answered), else once the request in hand is answered."""
        self.stopping = True
        if self._worker is None:
            self.transport.close()

    def start_timer(self):
        # The client has `timeout` seconds from now to send a whole request: from the
        # moment it connects, and again each time we have answered all it sent.
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self.timeout_expired)

    def timeout_expired(self):
        if self._receiving:  # part of a request came, not all of it
            message = f"The request did not arrive within {self.timeout:g} s"
            self.response_writer(Response(408, {"message": message}))
        else:  # nothing came: there is nobody to answer
            self.transport.close()
        if self.transport.get_write_buffer_size():  # answers still unsent: the client does not read
            self.transport.abort()  # close() would wait for them for ever

    # Called by asyncio with whatever bytes the network delivered: part of a
    # request, exactly one, or several.
    def data_received(self, data):
        requests_before, body_before = self._requests_begun, self._body_size
        try:
            self._request_parser.feed_data(data)
            # With several requests on a connection, these bytes may also hold the end of
            # the request before: count them only when the request still incomplete after
            # them was already incomplete before them.
            same_request = self._requests_begun == requests_before
            if self._receiving and same_request and self._body_size == body_before:
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
        # read no more, answer the requests before this one, then this one, and close.
        self._timer.cancel()
        self.transport.pause_reading()
        self.enqueue(error)

    def enqueue(self, request):
        self.pipeline.append(request)
        if self._worker is None:  # nobody is answering: start
            self._worker = asyncio.get_running_loop().create_task(self.answer_in_order())
        else:  # busy: read no more for now; we read on once every request is answered
            self.transport.pause_reading()

    async def answer_in_order(self):
        # HTTP/1.1 answers the requests of a connection in the order they came: a client
        # has no other way to tell which answer is which. So one request at a time.
        try:
            while self.pipeline:
                request = self.pipeline.popleft()
                if isinstance(request, HTTPError):  # the parser stopped here
                    self.response_writer(Response(request.status_code, {"message": request.message}))
                else:
                    await self.router.dispatch(request, self.request_callback_handler)
        except Exception:
            # Only a bug of ours gets here (request_callback_handler catches the handlers'
            # errors): log it and close, rather than leave the client waiting for ever.
            traceback.print_exc()
            if self.transport is not None:
                self.transport.abort()
        self._worker = None
        if self.transport is None or self.transport.is_closing():
            return
        if self._eof:  # the client sends no more, and has every answer it asked for
            self.transport.close()
            return
        self.start_timer()  # idle: the next request has `timeout` seconds to arrive
        if not self._writing_paused:
            self.transport.resume_reading()

    # asyncio calls the next three. pause_writing: our answers pile up unsent, because the
    # client does not read them; resume_writing: they have drained. Meanwhile we read no
    # more requests, so that a client that sends without reading cannot fill our memory.
    def pause_writing(self):
        self._writing_paused = True
        self.transport.pause_reading()

    def resume_writing(self):
        self._writing_paused = False
        if self._worker is None:
            self.transport.resume_reading()

    def eof_received(self):
        # The client has closed its side (it sends nothing more, but may still read). If
        # it is owed answers, keep ours open for them: answer_in_order closes it after.
        self._eof = True
        return self._worker is not None

    # Called by the parser as it recognises the parts of a request. The URL and the
    # body may each come in several pieces, so we collect the pieces.
    def on_message_begin(self):
        self._requests_begun += 1
        self._receiving = True
        self._head_size = 0
        self._url_parts = []
        self._body_parts = []
        self._header_size = 0
        self._body_size = 0
        self._headers = []

    def on_url(self, url):
        self._url_parts.append(url)
        self._header_size += len(url)

    def on_header(self, name, value):
        self._headers.append((name, value))
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
        self._timer.cancel()  # the whole request came in time
        self._receiving = False
        try:
            request = Request(
                method=self._request_parser.get_method().decode(self.encoding),
                url=b"".join(self._url_parts).decode(self.encoding),
                body=b"".join(self._body_parts),
                headers=self._headers,
                http_version=self._request_parser.get_http_version(),
                # False for "Connection: close", and for HTTP/1.0 unless it says
                # "Connection: keep-alive". After an Upgrade request httptools stops
                # parsing: we answer it and close.
                keep_alive=self._request_parser.should_keep_alive() and not self._request_parser.should_upgrade(),
            )
        except HttpParserInvalidURLError:  # "GET http:// HTTP/1.1" passes the parser, not parse_url
            raise HTTPError(400, "Malformed request: invalid URL")
        self.enqueue(request)

    async def request_callback_handler(self, method_handler, request):
        self.response_writer(await run_handler(method_handler, request), request)

    def response_writer(self, response, request=None):
        """Send the answer to `request` (None: to bytes that were no request), then close
        the connection unless the client keeps it open for more requests."""
        if self.transport is None or self.transport.is_closing():  # the client hung up, or we did
            return
        keep_alive = request is not None and request.keep_alive and not self.stopping
        if not keep_alive:
            response.headers["Connection"] = "close"
        elif request.http_version == "1.0":  # HTTP/1.1 stays open unless told; 1.0 must be told
            response.headers["Connection"] = "keep-alive"
        data = bytes(response)
        if request is not None and request.method == "HEAD":
            # The head only, as a GET would have it: no body follows (RFC 9110 9.3.2). On a
            # kept-alive connection, bytes of a body would be read as the next response.
            data = data[:len(data) - len(response.content)]
        self.transport.write(data)
        if not keep_alive:  # our last answer on this connection
            self.pipeline.clear()
            self.transport.close()


class App:
    """The framework's face: handlers declared with decorators, and a server to run them.

        app = App()

        @app.get("/hello/{name}")
        async def hello(request, name):
            return {"hello": name}

        app.run()                                   # our own server
        # or: python -m uvicorn module:app          # an ASGI server
    """

    max_body = 1024 * 1024  # bytes: the largest body __call__ reads (run() has its own)

    def __init__(self):
        self.router = Router()

    def route(self, path, methods):
        """@app.route("/items/{id}", methods=["GET", "PUT"]): the function below handles them."""
        def register(handler):
            self.router.add_route(path, {method.upper(): handler for method in methods})
            return handler
        return register

    def get(self, path):
        return self.route(path, methods=["GET"])

    def post(self, path):
        return self.route(path, methods=["POST"])

    def run(self, host="127.0.0.1", port=8080, timeout=5.0, max_body=1024 * 1024):
        asyncio.run(self.serve(host, port, timeout, max_body))

    async def serve(self, host, port, timeout, max_body):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
            except NotImplementedError:  # Windows: no add_signal_handler; a plain handler
                signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))
        connections = set()
        # The factory is called once per connection, so each one gets its own Server;
        # they all share the one router and the set of connections.
        server = await loop.create_server(lambda: Server(self.router, timeout, max_body, connections), host, port)
        host, port = server.sockets[0].getsockname()[:2]
        print(f"Listening on {host}:{port}", flush=True)
        await stop.wait()
        # A graceful shutdown: accept no more connections, close the idle ones, give the
        # requests in flight up to `timeout` seconds to be answered, then cut what is left.
        server.close()
        for connection in list(connections):
            connection.shutdown()
        if connections:
            await asyncio.wait([connection.closed for connection in connections], timeout=timeout)
        for connection in list(connections):
            connection.transport.abort()
        print("Server stopped", flush=True)

    async def __call__(self, scope, receive, send):
        """ASGI: an ASGI server calls this for each request. It has parsed the head into
        `scope`; `receive()` gives us the body and `send()` takes our answer."""
        if scope["type"] == "lifespan":  # the server starting, then stopping: nothing to do
            await receive()  # {"type": "lifespan.startup"}
            await send({"type": "lifespan.startup.complete"})
            await receive()  # {"type": "lifespan.shutdown"}
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":  # a WebSocket: not for us; closing before accepting refuses it
            await send({"type": "websocket.close"})
            return

        async def respond(response):  # an ASGI answer: its status and headers, then its body
            fields = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                      for name, value in response.header_fields()]
            await send({"type": "http.response.start", "status": response.status_code, "headers": fields})
            await send({"type": "http.response.body", "body": response.content})

        async def callback_handler(method_handler, request):
            await respond(await run_handler(method_handler, request))

        # Our routes match the path as the client sent it, percent-encoded: raw_path.
        url = (scope.get("raw_path") or quote(scope["path"]).encode()).decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        request = Request(scope["method"], url, headers=scope["headers"], http_version=scope["http_version"])
        # The body comes in messages. uvicorn sets no size limit: the app reads it, so the app
        # limits it. A Content-Length over the limit is refused at once, as our own server
        # does, before the client sends the body for nothing.
        too_large = Response(413, {"message": f"The request body exceeds {self.max_body} bytes"})
        length = request.headers.get("content-length", "")
        if length.isdecimal() and int(length) > self.max_body:
            await respond(too_large)
            return
        body_parts, size, more_body = [], 0, True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":  # the client has gone
                return
            body_parts.append(message.get("body", b""))
            size += len(body_parts[-1])
            if size > self.max_body:  # a chunked body has no Content-Length: count it as it comes
                await respond(too_large)
                return
            more_body = message.get("more_body", False)
        request.body = b"".join(body_parts)
        await self.router.dispatch(request, callback_handler)


def hello_world_app(app):
    @app.get("/hello_world")
    async def hello_world(request):
        print(f"Handle: {request.method} {request.url}", flush=True)
        return Response(200, {"hello": "world"})

    @app.post("/hello_world")
    async def process_request(request):
        body = request.json()  # a 400 if the body is not JSON
        print(f"Handle: {request.method} {request.url} {body}", flush=True)
        if not isinstance(body, dict):
            return Response(400, {"message": "Send a JSON object, like {\"key1\": \"value1\"}"})
        return Response(200, {**body, "hello": "back"})

    @app.route("/broken", methods=["GET"])
    async def broken(request):
        raise RuntimeError("this handler fails on purpose, to show what the client gets")

    @app.get("/hello/{name}")
    async def hello(request, name):
        return {"hello": name}

    @app.get("/echo_query")
    async def echo_query(request):
        return request.query

    @app.get("/text")
    async def text(request):
        return "Hello, world"

    @app.get("/sleep/{ms}")
    async def sleep(request, ms):
        # A slow handler, to see that answers keep the order of the requests.
        if not (ms.isdecimal() and len(ms) <= 4 and int(ms) <= 1000):
            raise HTTPError(400, "ms must be a whole number from 0 to 1000")
        await asyncio.sleep(int(ms) / 1000)
        return {"slept_ms": int(ms)}

    @app.get("/headers")
    async def headers(request):
        return dict(request.headers)

    @app.get("/teapot")
    async def teapot(request):
        raise HTTPError(418, "teapot")

    @app.get("/pid")
    async def pid(request):
        # Which process answers: under uvicorn --workers 2, one of two.
        return {"pid": os.getpid()}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds a client has, from connecting, to send a whole request")
    parser.add_argument("--max-body", type=int, default=1024 * 1024, help="the largest request body, in bytes")
    return parser.parse_args()


app = App()
hello_world_app(app)


if __name__ == "__main__":
    args = parse_args()
    app.run(args.host, args.port, args.timeout, args.max_body)
