"""What every benchmark server shares: its command line and its listening socket.

Every server starts as the tutorial's step servers do, ``python SCRIPT --host H --port 0``,
and prints ``Listening on HOST:PORT`` once its socket listens. We bind the socket
ourselves and hand it to the framework (uvicorn, aiohttp), so that this works the same
for everyone, and every server gets the same listen backlog.
"""

import argparse
import socket

# The listen backlog for the servers in benchmarks/ (uvicorn's default). asyncio's
# create_server defaults to 100, which is too small for 1000 clients connecting at
# once; the kernel caps it at net.core.somaxconn anyway.
BACKLOG = 2048

# The body every server answers GET /hello_world with.
HELLO = {"hello": "world"}


def arguments(description):
    """The options every server takes; add more before calling parse_args()."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    return parser


def listen(host, port):
    """A bound, listening TCP socket, made the way asyncio's own create_server makes it.

    Not socket.create_server(): that gives a socket with proto=0, and asyncio turns on
    TCP_NODELAY only for sockets whose proto is IPPROTO_TCP. Without it, a server that
    writes a response in two pieces (uvicorn writes head and body separately) waits
    for the client's delayed ACK, about 40 ms, on every request: uvicorn on the asyncio
    loop measured 1,100 req/s instead of tens of thousands.
    """
    family, type_, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def announce(sock):
    host, port = sock.getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)


def run_uvicorn(app, description):
    """Serve an ASGI app with uvicorn, one worker, until Ctrl-C.

    Set for speed, as in any fair benchmark: the httptools parser (uvicorn's fastest),
    no access log, no lifespan. The loop is the one asked for: uvicorn's own default
    ("auto") would pick uvloop whenever it is installed.
    """
    parser = arguments(description)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    import uvicorn

    sock = listen(args.host, args.port)
    config = uvicorn.Config(app, loop=args.loop, http="httptools", lifespan="off", access_log=False,
                            log_level="warning", backlog=BACKLOG, timeout_graceful_shutdown=2)
    announce(sock)  # connections wait in the backlog until uvicorn accepts them
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    print("Server stopped", flush=True)
