"""The ceiling: the least an asyncio server can do to answer GET /hello_world.

A bare asyncio.Protocol with the httptools parser and answers computed at start-up: no
request object, no routing, no Task, no JSON encoding per request. Every server is
compared with this one, in the same round: no Python server on the same loop can do
much better. It still speaks HTTP/1.1 correctly: keep-alive unless the client asks to
close (or speaks HTTP/1.0), pipelined requests answered in order, 404 for any other
URL, 400 for bytes that are not HTTP.
"""

import asyncio
import json

import httptools
from common import HELLO, announce, arguments, listen


def response(status, body, keep_alive):
    """The complete bytes of one response, head and body."""
    body = json.dumps(body).encode("utf-8")
    # Connection is said both ways, so that HTTP/1.0 clients read it right too.
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode("ascii") + body


# Whether the connection stays open -> the whole answer.
HELLO_WORLD = {keep: response("200 OK", HELLO, keep) for keep in (True, False)}
NOT_FOUND = {keep: response("404 Not Found", {"message": "Not Found"}, keep) for keep in (True, False)}
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
        answer = (HELLO_WORLD if self.url == b"/hello_world" else NOT_FOUND)[keep_alive]
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
    args = arguments(__doc__.splitlines()[0]).parse_args()
    try:
        asyncio.run(main(args))
    except KeyboardInterrupt:
        print("Server stopped", flush=True)
