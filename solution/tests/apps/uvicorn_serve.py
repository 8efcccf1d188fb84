"""Serve a protoweb App under uvicorn, as the ASGI application it also is.

    python uvicorn_serve.py DIRECTORY module:app [--root-path /api] --host H --port P

We bind the socket ourselves and hand it to uvicorn: with ``--port 0`` that is how we
know the real port, which we announce as the harness expects (``Listening on H:P``).
The socket listens before uvicorn starts, so a client that connects early just waits.
"""

import argparse
import socket
import sys

import uvicorn

parser = argparse.ArgumentParser()
parser.add_argument("directory")
parser.add_argument("app")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--root-path", default="")
args = parser.parse_args()

sys.path.insert(0, args.directory)
# proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and uvicorn writes a
# response's head and body separately (without it, each answer waits for a delayed ACK).
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((args.host, args.port))
sock.listen(128)
host, port = sock.getsockname()[:2]
print(f"Listening on {host}:{port}", flush=True)
config = uvicorn.Config(args.app, log_level="info", lifespan="on", root_path=args.root_path)
try:
    uvicorn.Server(config).run(sockets=[sock])
except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down for
    pass
