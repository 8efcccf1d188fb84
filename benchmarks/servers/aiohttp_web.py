"""aiohttp.web: the other common asyncio server, with its own HTTP implementation."""

from aiohttp import web
from common import BACKLOG, HELLO, announce, arguments, listen


async def hello_world(request):
    return web.json_response(HELLO)


if __name__ == "__main__":
    args = arguments(__doc__.splitlines()[0]).parse_args()
    app = web.Application()
    app.router.add_get("/hello_world", hello_world)
    sock = listen(args.host, args.port)
    announce(sock)  # connections wait in the backlog until aiohttp accepts them
    # print=None: no banner of its own; access_log=None: no log line per request.
    web.run_app(app, sock=sock, backlog=BACKLOG, print=None, access_log=None, shutdown_timeout=2)
    print("Server stopped", flush=True)
