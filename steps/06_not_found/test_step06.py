"""Step 06: every request gets an answer; unknown routes get 404 and the connection closes."""

import json
import shutil
import subprocess

import pytest

from harness import request
from harness.checks import (
    TRACEBACK_END,
    assert_stops_cleanly,
    assert_valid_http,
    interleave,
    json_response,
    random_text,
    random_word,
    send,
)

JSON = {"Content-Type": "application/json"}
NOT_FOUND = {"message": "Not Found"}
ARTICLE_BODY = '{"key1": "value1", "key2": "value2"}'


def test_unknown_path_gets_404(server):
    for method in ("GET", "POST", "DELETE"):
        ex = send(server, request(method, f"/{random_word()}/{random_word()}", b"{}" if method == "POST" else b""))
        json_response(ex, 404, NOT_FOUND)  # also checks that the connection is closed


def test_known_path_with_a_method_it_lacks_gets_404(server):
    for method in ("PUT", "DELETE", "PATCH"):
        json_response(send(server, request(method, "/hello_world", b"{}")), 404, NOT_FOUND)


def test_the_articles_not_created_example(server):
    ex = send(server, request("POST", "/not_created", ARTICLE_BODY, JSON))
    json_response(ex, 404, NOT_FOUND)
    assert ex.response.body == b'{"message": "Not Found"}'


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_articles_curl_command(server):
    assert_valid_http(server, request("POST", "/not_created", ARTICLE_BODY, JSON))  # curl accepts a bare \n
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "3", "-X", "POST", "-H", "Content-Type: application/json",
         "-d", ARTICLE_BODY, f"{server.url}/not_created"],
        capture_output=True, text=True, timeout=10,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"message": "Not Found"}'


def test_the_routes_of_step_05_still_work(server):
    json_response(send(server, request("GET", "/hello_world")), 200, {"hello": "world"})
    sent = {random_word(): random_text()}
    ex = send(server, request("POST", "/hello_world", json.dumps(sent, ensure_ascii=False).encode(), JSON))
    json_response(ex, 200, {**sent, "hello": "back"})
    assert json_response(send(server, request("POST", "/hello_world", b"{oops", JSON)), 400)["message"]
    mark = server.mark()
    json_response(send(server, request("GET", "/broken")), 500, {"message": "Internal Server Error"})
    server.wait_for(TRACEBACK_END, since=mark)  # the traceback is logged, not sent


def test_a_404_does_not_run_a_handler(server):
    mark = server.mark()
    json_response(send(server, request("GET", "/hello_world_not")), 404)
    json_response(send(server, request("GET", "/hello_world")), 200)
    server.wait_for("Handle: GET /hello_world None", since=mark)  # the log arrives through a pipe
    assert server.log(since=mark).count("Handle:") == 1, server.log(since=mark)
    assert "Traceback" not in server.log(since=mark), server.log(since=mark)


def test_two_clients_at_once_each_get_their_answer(server):
    a, b = interleave(server, request("GET", "/nowhere"), request("GET", "/hello_world"), split=8)
    json_response(a, 404, NOT_FOUND)
    json_response(b, 200, {"hello": "world"})


def test_bad_input_does_not_stop_the_server(server):
    send(server, b"\x00\xff garbage \r\n\r\n", timeout=0.5)
    send(server, request("POST", "/x", b"{" * 100)[:-30], timeout=0.1)  # hang up mid-body
    json_response(send(server, request("GET", f"/{random_word()}")), 404, NOT_FOUND)


def test_client_prints_all_three_responses(server, run_client):
    assert_valid_http(server, request("GET", "/hello_world"))  # the client shows what comes, valid or not
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert "HTTP/1.1 404 Not Found" in done.stdout and '{"message": "Not Found"}' in done.stdout
    assert '{"hello": "world"}' in done.stdout and '"hello": "back"}' in done.stdout


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    json_response(send(server, request("GET", "/nothing")), 404, NOT_FOUND)
    assert_stops_cleanly(server)
