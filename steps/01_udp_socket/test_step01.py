"""Step 01: a UDP server that answers every datagram, one at a time."""

import os
import socket
import threading
import time

from harness.checks import assert_stops_cleanly, random_text
from harness.process import excerpt

ANSWER = b"Your data has been received"


def ask(server, data, timeout=3.0):
    mark = server.mark()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(data, server.address)
        try:
            answer, sender = sock.recvfrom(65535)
        except TimeoutError:
            log = excerpt(server.log(since=mark).splitlines(), 10)
            raise AssertionError(
                f"no answer within {timeout:g} s to a datagram of {len(data)} bytes sent to "
                f"{server.host}:{server.port}: "
                "the server should answer every datagram it receives (recvfrom) with sendto(answer, address), "
                f"to the address recvfrom gave it.\nThe server logged meanwhile:\n{log}") from None
        return answer, sender, sock.getsockname()


def test_answers_a_datagram(server):
    answer, sender, _ = ask(server, random_text().encode())
    assert answer == ANSWER
    assert sender == server.address, "the answer should come from the address the server listens on"


def test_logs_the_client_address_and_data(server):
    data = random_text().encode()
    _, _, (_, client_port) = ask(server, data)
    line = server.wait_for(repr(data)).string
    assert f"('127.0.0.1', {client_port})" in line, f"the log line should name the client: {line!r}"


def test_binary_and_empty_datagrams_are_answered(server):
    for data in (os.urandom(64), b"", b"\x00" * 1000):
        assert ask(server, data)[0] == ANSWER


def test_a_slow_request_holds_up_the_next_one(server):
    """The loop is blocking: while the server works on A, B waits."""
    waits = {}

    def client(name, message, delay):
        time.sleep(delay)  # B sends just after A
        started = time.perf_counter()
        ask(server, message)
        waits[name] = time.perf_counter() - started

    threads = [threading.Thread(target=client, args=("A", b"slow", 0)),
               threading.Thread(target=client, args=("B", b"quick", 0.05))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert waits["A"] >= 0.45, waits
    assert waits["B"] >= 0.3, f"B should wait for A's slow request: {waits}"


def test_client_prints_the_answer(server, run_client):
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert repr(ANSWER) in done.stdout
    server.wait_for("This is another message")


def test_client_gives_up_with_backoff_when_nobody_answers(run_client):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # bound, but nobody reads: no answer will come
        started = time.monotonic()
        done = run_client(port, "--tries", "3")
    assert done.returncode == 1
    assert "No answer" in done.stderr
    waits = [line for line in done.stdout.splitlines() if line.startswith("Try ")]
    assert waits == ["Try 1: waiting up to 0.1 seconds", "Try 2: waiting up to 0.2 seconds",
                     "Try 3: waiting up to 0.4 seconds"], done.stdout
    assert 0.6 <= time.monotonic() - started < 5


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    ask(server, b"hello")
    assert_stops_cleanly(server)
