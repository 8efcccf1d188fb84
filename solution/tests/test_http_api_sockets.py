"""Black-box: the API as a client sees it, over real sockets (python -m protoweb feature_app:app)."""

import json
import re
import secrets
from http import HTTPStatus
from urllib.parse import quote

import pytest
import requests

from harness import request

TIMEOUT = 5
DATE = rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n"


def test_exact_bytes_of_a_json_response(server, send):
    user_id = secrets.token_hex(4)
    result = send(server, request("GET", f"/users/{user_id}"), until_closed=False)
    body = json.dumps({"user_id": user_id, "path_params": {"user_id": user_id}}).encode()
    assert re.fullmatch(
        rb"HTTP/1\.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        + DATE + rb"\r\n" + re.escape(body),
        result.received,
    ), result.explain()


def test_path_parameters(server):
    user_id, post_id = secrets.token_hex(3), quote("é " + secrets.token_hex(2))
    answer = requests.get(f"{server.url}/users/{user_id}/posts/{post_id}", timeout=TIMEOUT)
    assert answer.json() == {"user_id": user_id, "post_id": "é " + post_id[-4:]}


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/params/a%2Fb", {"name": "a/b", "path": "/params/a/b", "raw_path": "/params/a%2Fb"}),
     ("/params/caf%C3%A9%20x", {"name": "café x", "path": "/params/café x", "raw_path": "/params/caf%C3%A9%20x"}),
     ("/params/abc#fragment", {"name": "abc", "path": "/params/abc", "raw_path": "/params/abc"}),
     ("/files/x%2Fraw/raw", {"raw": "x/raw"})],
)
def test_routes_match_the_path_as_sent_and_parameters_are_decoded(server, send, target, expected):
    # An encoded "/" belongs to the parameter: it cannot make a route boundary.
    result = send(server, request("GET", target), until_closed=False)
    assert result.json() == expected, result.explain()


@pytest.mark.parametrize(("target", "status"), [("/files/x%2Fraw", 404), ("/params/%ff", 400), ("/params/%fe", 400)])
def test_paths_that_do_not_match_or_decode(server, send, target, status):
    assert send(server, request("GET", target), until_closed=False).response.status == status


def test_query_parameters_are_multi_valued(server):
    a, b = secrets.token_hex(3), secrets.token_hex(3)
    answer = requests.get(f"{server.url}/echo?tag={a}&tag={b}&one=1&empty=", timeout=TIMEOUT).json()
    assert answer["query"] == {"tag": [a, b], "one": "1", "empty": ""}
    assert answer["query_string"] == f"tag={a}&tag={b}&one=1&empty="
    assert answer["path"] == "/echo"


def test_headers_are_case_insensitive_and_multi_valued(server, send):
    a, b = secrets.token_hex(3), secrets.token_hex(3)
    # A value with ':' in it stays whole (the second article cut it at the first ':').
    raw = request("GET", "/headers/x-TAG", headers={"X-Tag": f"{a}:{b}", "x-tag": b})
    assert send(server, raw, until_closed=False).json() == {"first": f"{a}:{b}", "all": [f"{a}:{b}", b]}


def test_client_address_and_http_version(server):
    answer = requests.get(f"{server.url}/echo", timeout=TIMEOUT).json()
    assert answer["client"][0] == "127.0.0.1" and isinstance(answer["client"][1], int)
    assert answer["http_version"] == "1.1"


def test_json_body_round_trips_with_byte_content_length(server):
    payload = {"name": "Zoë ✓", "id": secrets.token_hex(4), "nested": [1, {"x": None}]}
    answer = requests.post(f"{server.url}/json", json=payload, timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.json() == {"received": payload}
    assert int(answer.headers["Content-Length"]) == len(answer.content) > len(answer.text)


def test_form_body(server):
    name = "a b&c=" + secrets.token_hex(2)
    answer = requests.post(f"{server.url}/form", data={"name": name, "tag": ["1", "2"]}, timeout=TIMEOUT)
    assert answer.json() == {"name": name, "tag": ["1", "2"]}


def test_a_form_handler_refuses_other_bodies_with_415(server):
    answer = requests.post(f"{server.url}/form", json={"a": 1}, timeout=TIMEOUT)
    assert answer.status_code == 415 and "form" in answer.json()["message"]


def test_a_str_result_is_utf8_text(server, send):
    text = "grüße " + secrets.token_hex(3)
    result = send(server, request("POST", "/text", text, {"Content-Type": "text/plain; charset=utf-8"}),
                  until_closed=False)
    assert result.response.header("Content-Type") == "text/plain; charset=utf-8"
    assert result.response.body == text.upper().encode("utf-8")


def test_a_bytes_result_is_sent_as_is(server):
    answer = requests.get(f"{server.url}/bytes", timeout=TIMEOUT)
    assert answer.content == bytes(range(256))
    assert answer.headers["Content-Type"] == "application/octet-stream"


def test_a_response_with_status_and_headers_set_and_appended(server, send):
    result = send(server, request("GET", "/custom"), until_closed=False)
    response = result.response
    assert response.status_line == "HTTP/1.1 201 Created"
    assert response.header("X-One") == "one"
    assert [v for k, v in response.headers if k == "X-Many"] == ["a", "b"]
    assert response.body == b"made"


def test_a_header_value_with_crlf_is_refused(server):
    answer = requests.get(f"{server.url}/refuse-header", params={"value": "a\r\nX-Injected: yes"}, timeout=TIMEOUT)
    assert "CR, LF or NUL" in answer.json()["refused"]
    assert "X-Injected" not in answer.headers


@pytest.mark.parametrize(("code", "line"), [(599, "HTTP/1.1 599 Server Error"), (299, "HTTP/1.1 299 Success"),
                                            (226, "HTTP/1.1 226 IM Used")])
def test_any_status_code_gets_a_reason_phrase(server, send, code, line):
    assert send(server, request("GET", f"/status/{code}"), until_closed=False).response.status_line == line


@pytest.mark.parametrize("code", [204, 304])
def test_no_body_statuses_have_neither_body_nor_content_headers(server, converse, code):
    result = converse(server, request("GET", f"/status/{code}"), request("GET", "/users/after"))
    first = result.responses[0]
    assert first.status == code and first.body == b"", result.explain()
    assert first.header("Content-Type") is None and first.header("Content-Length") is None
    assert json.loads(result.responses[1].body)["user_id"] == "after"


def test_http_error_from_a_handler_is_a_json_answer(server, send):
    message = "short and stout " + secrets.token_hex(3)
    result = send(server, request("GET", f"/teapot?message={quote(message)}"), until_closed=False)
    assert result.response.status_line == f"HTTP/1.1 418 {HTTPStatus(418).phrase}"
    assert result.json() == {"message": message}


def test_404_for_an_unknown_path(server, converse):
    result = converse(server, request("POST", f"/not_created/{secrets.token_hex(3)}", '{"key1": "value1"}'),
                      request("GET", "/users/after"))
    assert len(result.responses) == 2, result  # the request was read whole: the connection stays usable
    assert result.responses[0].status_line == "HTTP/1.1 404 Not Found"
    assert json.loads(result.responses[0].body) == {"message": "Not Found"}
    assert json.loads(result.responses[1].body)["user_id"] == "after"


def test_405_with_allow_for_a_method_the_path_lacks(server, send):
    result = send(server, request("DELETE", "/json"), until_closed=False)
    assert result.response.status_line == "HTTP/1.1 405 Method Not Allowed"
    assert result.response.header("Allow") == "POST"
    assert result.json()["message"] == "DELETE is not allowed on /json"


def test_head_sends_the_get_headers_without_the_body(server, send, converse):
    user_id = secrets.token_hex(5)
    get = send(server, request("GET", f"/users/{user_id}"), until_closed=False).response
    result = converse(server, request("HEAD", f"/users/{user_id}"), request("GET", f"/users/{user_id}"))
    # Nothing after the head but the next response: the second answer is parsed where the
    # first one's head ends, so a body after it would fail (harness.FramingFailure).
    assert len(result.responses) == 2, result.explain()
    head, after = result.responses
    assert head.status_line == "HTTP/1.1 200 OK" and head.body == b"", result.explain()
    assert head.header("Content-Length") == str(len(get.body)), result.explain()
    assert after.status_line == "HTTP/1.1 200 OK" and after.body == get.body, result.explain()


def test_every_response_is_in_the_access_log(server, send):
    tag = secrets.token_hex(5)
    mark = server.mark()
    send(server, request("GET", f"/users/{tag}"), until_closed=False)
    send(server, request("DELETE", f"/users/{tag}"), until_closed=False)
    line = server.wait_for(f'"GET /users/{tag} HTTP/1.1" 200', since=mark).string
    assert "protoweb.access" in line and "127.0.0.1:" in line
    server.wait_for(f'"DELETE /users/{tag} HTTP/1.1" 405', since=mark)
