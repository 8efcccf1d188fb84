"""aiohttp.web: the other common asyncio server, with its own HTTP implementation."""

import asyncio

from aiohttp import web

from common import BACKLOG, HELLO, announce, listen, parse_args


async def hello_world(request):
    return web.json_response(HELLO)


def main(args):
    app = web.Application()
    app.router.add_get("/hello_world", hello_world)
    if args.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    sock = listen(args.host, args.port)
    announce(sock)  # connections wait in the backlog until aiohttp accepts them
    # print=None: no banner of its own; access_log=None: no log line per request.
    web.run_app(
        app, sock=sock, backlog=BACKLOG, print=None, access_log=None, shutdown_timeout=2, loop=loop
    )


if __name__ == "__main__":
    main(parse_args(__doc__.splitlines()[0]))
    print("Server stopped", flush=True)
