"""My web framework, step 01: a UDP server.

`tutorial start 01` made this file; `tutorial check` runs step 01's tests against it.
Fill in the TODOs, in order. The rest is ready: the command-line options the tests
use, the line that tells them where the server listens, and a quiet Ctrl-C.
"""

import argparse
import socket
import time

MAX = 65535  # the largest UDP payload


def parse_args():
    parser = argparse.ArgumentParser(description="My UDP server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    return parser.parse_args()


def serve(sock):
    while True:
        # TODO 2: wait for a datagram: sock.recvfrom(MAX) returns (data, address).
        # TODO 2: answer it: sock.sendto(b"Your data has been received", address).
        # TODO 3: log who sent what (the address and repr(data)), with flush=True.
        # TODO 4: a datagram that starts with b"slow" takes the server half a second.
        time.sleep(1)  # TODO 2: delete this line once recvfrom waits for datagrams


def main():
    args = parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # TODO 1: bind the socket to the address and port given on the command line.
        host, port = sock.getsockname()  # the real port, also when --port 0 asked for any free one
        print(f"Listening on {host}:{port}", flush=True)  # the tests wait for this line
        try:
            serve(sock)
        except KeyboardInterrupt:  # Ctrl-C
            print("Server stopped", flush=True)


if __name__ == "__main__":
    main()
