"""Black-box: clients that leave early, clients that do not read, and many clients at once.

Measured on the server process itself: its log stays clean, its open file descriptors
come back to where they were, its memory stays bounded when a client stops reading.
"""

import asyncio
import json
import re
import socket
import struct
import time

import pytest

from harness import parse_response, request

TIMEOUT = 5


@pytest.fixture(scope="module")
def srv(start_module_server):
    return start_module_server("--no-access-log")


def rst_close(sock):
    """Close so that the server sees a reset (RST), not a polite end of stream."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def wait_for_fds(fd_count, pid, expected, limit=TIMEOUT):
    deadline = time.monotonic() + limit
    while (count := fd_count(pid)) > expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return count


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1))


def tasks_running(srv):
    """The number of asyncio tasks in the server (the feature app reports it)."""
    with socket.create_connection(srv.address, timeout=TIMEOUT) as sock:
        sock.sendall(request("GET", "/tasks", headers={"Connection": "close"}))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return json.loads(parse_response(data)[0].body)["tasks"]


def assert_quiet_log(srv, since):
    log = srv.log(since=since)
    assert not re.search(r"Traceback|ERROR|WARNING|Exception", log), log


def test_clients_that_disconnect_mid_request_leave_no_trace(srv, fd_count):
    baseline, mark, tasks_before = fd_count(srv.pid), srv.mark(), tasks_running(srv)
    partials = [
        b"GET /users/1 HTTP/1.1\r\nHo",
        b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":",
        b"POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        request("GET", "/sleep?seconds=0.2"),  # gone while its handler runs
    ]
    for partial in partials * 5:
        for polite in (True, False):
            sock = socket.create_connection(srv.address, timeout=TIMEOUT)
            sock.sendall(partial)
            sock.close() if polite else rst_close(sock)
    assert wait_for_fds(fd_count, srv.pid, baseline) <= baseline
    deadline = time.monotonic() + TIMEOUT  # the slow handlers finish, and find their clients gone
    while (tasks := tasks_running(srv)) > tasks_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tasks == tasks_before  # the handlers' tasks are gone too
    assert_quiet_log(srv, mark)


def test_clients_that_disconnect_mid_response_leave_no_trace(srv, fd_count):
    baseline, mark = fd_count(srv.pid), srv.mark()
    for polite in (True, False) * 5:
        sock = socket.create_connection(srv.address, timeout=TIMEOUT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request("GET", "/big?size=20000000") * 3)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
        sock.close() if polite else rst_close(sock)
    assert wait_for_fds(fd_count, srv.pid, baseline) <= baseline
    assert_quiet_log(srv, mark)


def test_a_client_that_does_not_read_stops_the_server_reading_its_requests(srv):
    # 2000 pipelined requests for 256 KiB each, never read: were they all answered at
    # once, the server would hold 500 MB of responses. With back-pressure it stops
    # reading (and answering) once its write buffer is full, and resumes as we read.
    size, count = 256 * 1024, 2000
    before = rss_kib(srv.pid)
    with socket.create_connection(srv.address, timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(request("GET", f"/big?size={size}") * count)
        time.sleep(0.5)  # give a server without back-pressure the time to misbehave
        grown = rss_kib(srv.pid) - before
        assert grown < 64 * 1024, f"the server grew by {grown} KiB for a client that does not read"
        # Now read some: the answers are whole and in order, the server carries on.
        data = b""
        while data.count(b"HTTP/1.1 200 OK\r\n") < 8:
            chunk = sock.recv(1 << 20)
            assert chunk, f"the server closed after {len(data)} bytes"
            data += chunk
        first, rest = parse_response(data)
        assert first.body == b"x" * size and rest.startswith(b"HTTP/1.1 200 OK\r\n")
        rst_close(sock)


def test_500_concurrent_connections_are_all_served(srv, fd_count):
    baseline, mark = fd_count(srv.pid), srv.mark()

    async def client(number):
        reader, writer = await asyncio.open_connection(*srv.address)
        try:
            for turn in range(2):  # two requests on each connection: keep-alive under load
                writer.write(request("GET", f"/users/{number}-{turn}"))
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                body = await reader.readexactly(length)
                assert head.startswith(b"HTTP/1.1 200 OK\r\n") and f'"{number}-{turn}"'.encode() in body
        finally:
            writer.close()
            await writer.wait_closed()
        return True

    async def main():
        return await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(500)), return_exceptions=True), 20)

    results = asyncio.run(main())
    errors = [result for result in results if result is not True]
    assert errors == [], f"{len(errors)} of 500 clients failed, e.g. {errors[:3]!r}"
    assert wait_for_fds(fd_count, srv.pid, baseline) <= baseline
    assert_quiet_log(srv, mark)
