"""Step 01: a UDP server with a blocking loop.

It waits for a datagram, logs who sent what, and answers. While it is busy with one
client, every other client waits: a datagram starting with b"slow" makes the
server pretend to work for half a second, so you can watch that happen.
"""

import argparse
import socket
import time

MAX = 65535  # the largest UDP payload we accept
SLOW_SECONDS = 0.5  # pretend work for a datagram that starts with b"slow"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    return parser.parse_args()


def serve(sock):
    while True:
        try:
            data, addr = sock.recvfrom(MAX)  # blocks until a datagram arrives
        except ConnectionResetError:  # Windows: an earlier answer found its client gone
            continue
        print("The client at", addr, "sent", repr(data), flush=True)
        if data.startswith(b"slow"):
            time.sleep(SLOW_SECONDS)  # nobody else is answered meanwhile
        sock.sendto(b"Your data has been received", addr)


def main():
    args = parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((args.host, args.port))
        host, port = sock.getsockname()  # the real port, also when we asked for 0
        print(f"Listening on {host}:{port}", flush=True)
        try:
            serve(sock)
        except KeyboardInterrupt:  # Ctrl-C
            print("Server stopped", flush=True)


if __name__ == "__main__":
    main()
