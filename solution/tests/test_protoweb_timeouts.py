"""Black-box: deadlines, counted from the moment of connect (short ones, configured for the test).

A client that says nothing, one that stays idle between keep-alive requests (or sends
nothing but blank lines), and one that trickles its head or body (slowloris) are all
cut off on time; 200 such clients do not keep others from being served. A request
waiting behind a slow one is not timed until it is its turn.
"""

import asyncio
import os
import socket
import time

import pytest

from harness import parse_response, request

TIMEOUT = 0.5  # what the server is configured with
SLACK = 1.0  # how much later than that we still accept (a loaded 2-core machine)


@pytest.fixture(scope="module")
def quick(start_module_server):
    return start_module_server("--request-timeout", str(TIMEOUT), "--keep-alive-timeout", str(TIMEOUT),
                               "--send-timeout", str(TIMEOUT))


def wait_for_close(sock, limit=TIMEOUT + SLACK + 2):
    """Read until the server closes; return (bytes, seconds it took)."""
    started, data = time.monotonic(), b""
    sock.settimeout(limit)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


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
        except socket.timeout:
            pass
        except ConnectionResetError:  # closed while our last byte was on its way
            return data, time.monotonic() - started
        try:
            sock.sendall(byte)
        except OSError:  # closed under us
            pass
    raise AssertionError(f"still open after {limit:g} s of trickling; received {data!r}")


def test_a_client_that_never_sends_a_byte_is_closed(quick):
    # The second article's bug: the timer only started with the first byte.
    with socket.create_connection(quick.address, timeout=5) as sock:
        data, seconds = wait_for_close(sock)
    assert data == b""
    assert TIMEOUT * 0.8 <= seconds <= TIMEOUT + SLACK


def test_an_idle_keep_alive_connection_is_closed(quick):
    with socket.create_connection(quick.address, timeout=5) as sock:
        sock.sendall(request("GET", "/users/1"))
        data, seconds = wait_for_close(sock)
    response, rest = parse_response(data)
    assert response.status == 200 and rest == b""
    assert TIMEOUT * 0.8 <= seconds <= TIMEOUT + SLACK


def test_a_keep_alive_connection_in_use_is_not_cut(quick):
    # Requests spaced below the idle timeout keep the connection for longer than it.
    with socket.create_connection(quick.address, timeout=5) as sock:
        started = time.monotonic()
        for _ in range(4):
            sock.sendall(request("GET", "/users/2"))
            data = b""
            while not data.endswith(b"}"):
                chunk = sock.recv(65536)
                assert chunk, f"closed after {time.monotonic() - started:.2f} s; received {data!r}"
                data += chunk
            time.sleep(TIMEOUT / 2)
        assert time.monotonic() - started > TIMEOUT * 1.5


@pytest.mark.parametrize("blank", [b"\r\n", b"\n"])
def test_blank_lines_do_not_keep_an_idle_connection_open(quick, blank):
    # Blank lines between requests are allowed and skipped; they begin no request, so
    # they must not restart the idle clock.
    with socket.create_connection(quick.address, timeout=5) as sock:
        sock.sendall(request("GET", "/users/1"))
        data, seconds = trickle(sock, b"", blank, every=0.1)
    response, rest = parse_response(data)
    assert response.status == 200 and rest == b""
    assert seconds <= TIMEOUT + SLACK


def test_a_request_waiting_for_100_continue_behind_a_slow_one_is_not_timed_out(quick):
    # Its time starts when the server sends the 100 Continue, not while it waits behind
    # a handler that takes twice the request timeout.
    head = b"POST /json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    with socket.create_connection(quick.address, timeout=5) as sock:
        sock.sendall(request("GET", f"/sleep?seconds={TIMEOUT * 2}") + head)
        data, deadline = b"", time.monotonic() + TIMEOUT * 3 + SLACK + 2
        while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b"\r\n\r\n"):
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = sock.recv(65536)
            assert chunk, f"the server closed; received {data!r}"
            data += chunk
        first, rest = parse_response(data)
        assert first.status == 200 and rest == b"HTTP/1.1 100 Continue\r\n\r\n", data
        sock.sendall(b"[]")
        data = b""
        while not data.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, f"the server closed; received {data!r}"
            data += chunk
    assert parse_response(data)[0].body == b'{"received": []}'


def test_a_trickled_head_is_cut_off_with_408(quick):
    with socket.create_connection(quick.address, timeout=5) as sock:
        data, seconds = trickle(sock, b"GET /users/1 HTTP/1.1\r\nHost: x\r\n", b"X")
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
    assert b'{"message": "The request did not arrive within 0.5 s"}' in data
    assert seconds <= TIMEOUT + SLACK


def test_a_trickled_body_is_cut_off_with_408(quick):
    with socket.create_connection(quick.address, timeout=5) as sock:
        data, seconds = trickle(sock, b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", b"{")
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
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
            if fields[1].endswith(":%04X" % server_port) and fields[2].endswith(":%04X" % client_port):
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


def test_a_slow_reader_that_keeps_reading_is_not_cut(quick):
    # The send timeout is for a client that reads nothing; one that reads slowly gets
    # its whole response, however long that takes.
    size = 12_000_000
    with socket.create_connection(quick.address, timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(request("GET", f"/big?size={size}"))
        started, received = time.monotonic(), 0
        while received < size:
            chunk = sock.recv(1 << 20)
            assert chunk, f"cut off after {received} bytes and {time.monotonic() - started:.2f} s"
            received += len(chunk)
            time.sleep(0.007)
    assert time.monotonic() - started > TIMEOUT + 0.2, "too fast to show anything: make it slower"
