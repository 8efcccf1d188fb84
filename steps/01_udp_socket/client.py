"""Step 01: send one datagram to the UDP server and print its answer.

UDP gives no guarantee that a datagram or its answer arrives, so the client waits a
bounded time, sends again, and doubles the wait each time (exponential backoff).
After the last try it gives up with a clear message and exit status 1.
"""

import argparse
import socket
import sys
import time

MAX = 65535
FIRST_DELAY = 0.1  # seconds to wait for the first answer; doubled on every retry


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--message", default="This is another message")
    parser.add_argument("--tries", type=int, default=5, help="how many times to send before giving up")
    return parser.parse_args()


def main():
    args = parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((args.host, args.port))  # fixes the peer: recv() only accepts its datagrams
        print("Client socket name:", sock.getsockname())
        delay = FIRST_DELAY
        for attempt in range(1, args.tries + 1):
            sock.send(args.message.encode("utf-8"))
            print(f"Try {attempt}: waiting up to {delay:g} seconds")
            sock.settimeout(delay)
            try:
                data = sock.recv(MAX)
            except TimeoutError:
                pass
            except ConnectionError:  # the OS says nobody listens there (yet): wait anyway
                time.sleep(delay)
            else:
                print("The server says", repr(data))
                return 0
            delay *= 2
    print(f"No answer from {args.host}:{args.port} after {args.tries} tries; is the server running?",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
