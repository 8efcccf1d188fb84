"""The ceiling: the least an asyncio server can do to answer GET /hello_world.

A bare asyncio.Protocol with the httptools parser and responses computed once at
start-up: no request object, no routing table beyond one dict lookup, no task per
request, no JSON encoding. Every server in the benchmark is compared with this one
in the same round; no Python asyncio server can do much better on the same loop.

It still speaks HTTP/1.1 correctly: it keeps the connection open unless the client
asked to close it (or spoke HTTP/1.0 without keep-alive), answers pipelined requests
in order, and answers 404 for any other URL and 400 for bytes that are not HTTP.
"""

import asyncio
import json

import httptools

from common import HELLO, announce, listen, parse_args


def response(status, body, keep_alive):
    """The complete bytes of one response, head and body."""
    body = json.dumps(body).encode("utf-8")
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        # Said explicitly both ways, so HTTP/1.0 clients read it right too.
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


# (URL, keep_alive) -> response bytes; anything else gets NOT_FOUND.
RESPONSES = {
    (b"/hello_world", True): response("200 OK", HELLO, keep_alive=True),
    (b"/hello_world", False): response("200 OK", HELLO, keep_alive=False),
}
NOT_FOUND = {
    True: response("404 Not Found", {"message": "Not Found"}, keep_alive=True),
    False: response("404 Not Found", {"message": "Not Found"}, keep_alive=False),
}
BAD_REQUEST = response("400 Bad Request", {"message": "Bad Request"}, keep_alive=False)


class Ceiling(asyncio.Protocol):
    def __init__(self):
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.url = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            # HttpParserUpgrade is not a subclass of HttpParserError: catch both.
            if not self.transport.is_closing():
                self.transport.write(BAD_REQUEST)
                self.transport.close()

    # httptools callbacks. The URL may come in pieces.
    def on_message_begin(self):
        self.url = b""

    def on_url(self, url):
        self.url += url

    def on_message_complete(self):
        if self.transport.is_closing():  # pipelined after a request that closed
            return
        keep_alive = self.parser.should_keep_alive()
        answer = RESPONSES.get((self.url, keep_alive)) or NOT_FOUND[keep_alive]
        self.transport.write(answer)
        if not keep_alive:
            self.transport.close()  # after the write: asyncio sends the buffer first


async def main(args):
    sock = listen(args.host, args.port)
    server = await asyncio.get_running_loop().create_server(Ceiling, sock=sock)
    announce(sock)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0])
    try:
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(main(args))
        else:
            asyncio.run(main(args))
    except KeyboardInterrupt:
        print("Server stopped", flush=True)
