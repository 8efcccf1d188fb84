"""Step 03: a Router dispatches GET /hello_world to its handler, which logs it; still no answer."""

from harness import request
from harness.checks import assert_no_answer, assert_stops_cleanly, interleave, random_word, send


def handled(server, url, since=0, timeout=5.0):
    return server.wait_for(f"Handle: GET {url} None", since=since, timeout=timeout)


def test_get_hello_world_runs_the_handler(server):
    ex = send(server, request("GET", "/hello_world"), timeout=0.5)
    assert_no_answer(ex)
    handled(server, "/hello_world")


def test_routing_uses_the_path_not_the_query_string(server):
    url = f"/hello_world?x={random_word()}"
    send(server, request("GET", url), timeout=0.1)
    handled(server, url)


def test_a_url_that_arrives_in_pieces_still_routes(server):
    url = f"/hello_world?x={random_word()}"
    data = request("GET", url)
    send(server, data[:7], data[7:14], data[14:], pause=0.05, timeout=0.1)  # "GET /he", "llo_wor", ...
    handled(server, url)


def test_unknown_paths_and_methods_reach_no_handler(server):
    mark = server.mark()
    unknown = f"/{random_word()}"
    send(server, request("GET", unknown), timeout=0.1)
    send(server, request("POST", "/hello_world", b'{"a": 1}'), timeout=0.1)
    send(server, request("GET", "/hello_world/extra"), timeout=0.1)
    probe = f"/hello_world?probe={random_word()}"
    send(server, request("GET", probe), timeout=0.1)
    handled(server, probe, since=mark)  # the log is in order: the others came before
    assert server.log(since=mark).count("Handle:") == 1, server.log(since=mark)


def test_two_clients_at_once_each_reach_the_handler(server):
    first, second = f"/hello_world?a={random_word()}", f"/hello_world?b={random_word()}"
    mark = server.mark()
    interleave(server, request("GET", first), request("GET", second), split=12, timeout=0.3)
    handled(server, first, since=mark)
    handled(server, second, since=mark)


def test_bad_input_does_not_stop_the_server(server):
    send(server, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40), timeout=0.3)  # a TLS hello
    send(server, b"GET /hello_world HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\nshort", timeout=0.1)  # hang up
    url = f"/hello_world?after={random_word()}"
    send(server, request("GET", url), timeout=0.1)
    handled(server, url)


def test_client_sends_the_articles_request(server, run_client):
    mark = server.mark()
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert "No answer" in done.stdout
    handled(server, "/hello_world", since=mark)


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    send(server, request("GET", "/hello_world"), timeout=0.1)
    handled(server, "/hello_world")
    assert_stops_cleanly(server)
