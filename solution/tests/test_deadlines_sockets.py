"""Black-box: one smoke test per deadline, over sockets (short timeouts, configured for the test).

A real server, with its sweep, its timers and the kernel's buffers, shows each deadline
at work: an idle keep-alive connection is closed; a trickled head (slowloris) is cut off
with 408, and 200 such clients do not keep others from being served; a request waiting
for its 100 Continue behind a slow one is not timed until it is its turn; a client that
reads nothing is let go. (The shutdown grace's is in test_server_lifecycle.py.)

The detail, each deadline on both sides of its instant (from connect, not the first
byte; blank lines; a trickled body; a slow reader that keeps reading), is checked in
test_connection_inprocess.py, with a clock the test moves instead of real seconds.
"""

import asyncio
import os
import socket
import time

import pytest

from harness import parse_response, request
from harness.checks import connect

TIMEOUT = 0.5  # what the server is configured with
SLACK = 1.0  # how much later than that we still accept (a loaded 2-core machine)


@pytest.fixture(scope="module")
def quick(start_module_server):
    return start_module_server("--request-timeout", str(TIMEOUT), "--keep-alive-timeout", str(TIMEOUT),
                               "--send-timeout", str(TIMEOUT))


def trickle(sock, first, byte, every=0.05, limit=TIMEOUT + SLACK + 2):
    """Send ``first``, then ``byte`` every ``every`` seconds until the server closes on us."""
    started = time.monotonic()
    sock.sendall(first)
    sock.settimeout(every)
    data = b""
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
            if not chunk:
                return data, time.monotonic() - started
            data += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:  # closed while our last byte was on its way
            return data, time.monotonic() - started
        try:
            sock.sendall(byte)
        except OSError:  # closed under us
            pass
    raise AssertionError(f"still open after {limit:g} s of trickling; received {data!r}")


def test_an_idle_keep_alive_connection_is_closed(quick):
    with connect(quick, timeout=5) as conn:
        started = time.monotonic()
        assert conn.ask(request("GET", "/users/1")).status == 200, conn.exchange.explain()
        conn.wait_closed(TIMEOUT + SLACK + 2)
        seconds = time.monotonic() - started
    ex = conn.exchange
    assert ex.closed or ex.reset, ex.explain("the idle connection should have been closed")
    assert len(ex.responses()) == 1, ex.explain("nothing should come after the answer")
    assert TIMEOUT * 0.8 <= seconds <= TIMEOUT + SLACK, ex.explain(f"closed after {seconds:.2f} s")


def test_a_request_waiting_for_100_continue_behind_a_slow_one_is_not_timed_out(quick):
    # Its time starts when the server sends the 100 Continue, not while it waits behind
    # a handler that takes twice the request timeout.
    head = b"POST /json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    with connect(quick, timeout=TIMEOUT * 3 + SLACK + 2) as conn:
        conn.send(request("GET", f"/sleep?seconds={TIMEOUT * 2}") + head)
        first, interim = conn.read_response(), conn.read_response()
        assert first.status == 200, conn.exchange.explain()
        assert (interim.head, interim.body) == (b"HTTP/1.1 100 Continue\r\n\r\n", b""), conn.exchange.explain()
        conn.send(b"[]")
        assert conn.read_response().body == b'{"received": []}', conn.exchange.explain()


def test_a_trickled_head_is_cut_off_with_408(quick):
    with socket.create_connection(quick.address, timeout=5) as sock:
        data, seconds = trickle(sock, b"GET /users/1 HTTP/1.1\r\nHost: x\r\n", b"X")
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
    assert b'{"message": "The request did not arrive within 0.5 s"}' in data
    assert seconds <= TIMEOUT + SLACK


def test_200_slow_clients_do_not_keep_others_from_being_served(quick):
    async def slow_client():
        reader, writer = await asyncio.open_connection(*quick.address)
        writer.write(b"GET /users/slow HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        try:
            while not reader.at_eof():
                writer.write(b"X")  # keeps sending, never finishes its head
                try:
                    data = await asyncio.wait_for(reader.read(65536), 0.1)
                except asyncio.TimeoutError:
                    continue
                if data:
                    assert data.startswith(b"HTTP/1.1 408 "), data
                    await reader.read()  # then the server closes
                    break
        finally:
            writer.close()
        return time.monotonic() - started

    async def normal_client(number):
        started = time.monotonic()
        reader, writer = await asyncio.open_connection(*quick.address)
        writer.write(request("GET", f"/users/{number}", headers={"Connection": "close"}))
        data = await reader.read()
        writer.close()
        assert parse_response(data)[0].status == 200
        return time.monotonic() - started

    async def main():
        slow = [asyncio.create_task(slow_client()) for _ in range(200)]
        await asyncio.sleep(0.1)  # the slow ones are connected and trickling
        normal = await asyncio.wait_for(asyncio.gather(*(normal_client(n) for n in range(50))), 5)
        slow_times = await asyncio.wait_for(asyncio.gather(*slow), TIMEOUT + SLACK + 5)
        return normal, slow_times

    normal, slow_times = asyncio.run(main())
    assert max(normal) < TIMEOUT, f"a normal client waited {max(normal):.2f} s"
    assert max(slow_times) <= TIMEOUT + SLACK + 1, f"a slow client was held {max(slow_times):.2f} s"


def holds_connection(pid, server_port, client_port):
    """Whether process ``pid`` has the server end of this TCP connection open (Linux /proc)."""
    inodes = set()
    with open("/proc/net/tcp") as table:
        for line in table.read().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{server_port:04X}") and fields[2].endswith(f":{client_port:04X}"):
                inodes.add(f"socket:[{fields[9]}]")
    fds = f"/proc/{pid}/fd"
    for fd in os.listdir(fds):
        try:
            if os.readlink(f"{fds}/{fd}") in inodes:
                return True
        except FileNotFoundError:  # closed since listdir
            pass
    return False


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc")
def test_a_client_that_reads_nothing_is_let_go(quick):
    # 50 MB asked for and never read: once the buffers are full the server waits the
    # send timeout, then drops the connection; it does not hold it (and its memory) forever.
    with socket.create_connection(quick.address, timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request("GET", "/big?size=50000000"))
        assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")  # the server is writing to us
        client_port = sock.getsockname()[1]
        started = time.monotonic()
        assert holds_connection(quick.pid, quick.port, client_port)
        while holds_connection(quick.pid, quick.port, client_port):
            assert time.monotonic() - started < TIMEOUT + SLACK + 2, "the server still holds the connection"
            time.sleep(0.02)
        assert TIMEOUT * 0.8 <= time.monotonic() - started <= TIMEOUT + SLACK
