"""Step 05: JSON request bodies: read whole, decoded once, echoed back; bad JSON gets a 400."""

import json

from harness import chunked, request
from harness.checks import (
    NON_ASCII,
    TRACEBACK_END,
    assert_no_answer,
    assert_stops_cleanly,
    assert_valid_http,
    http,
    interleave,
    json_response,
    random_text,
    random_word,
    send,
)

JSON = {"Content-Type": "application/json"}


def post(server, body: bytes, **options):
    return send(server, request("POST", "/hello_world", body, JSON), **options)


def random_object():
    return {random_word(): random_text(), "n": len(random_word()), "nested": [random_text(), None, True]}


def test_get_hello_world(server):
    mark = server.mark()
    json_response(send(server, request("GET", "/hello_world")), 200, {"hello": "world"})
    server.wait_for("Handle: GET /hello_world None", since=mark)  # no body: None, and no crash


def test_post_echoes_the_object_plus_hello_back(server):
    sent = random_object()
    mark = server.mark()
    ex = post(server, json.dumps(sent).encode())
    json_response(ex, 200, {**sent, "hello": "back"})
    server.wait_for(f"Handle: POST /hello_world {sent}", since=mark)


def test_non_ascii_round_trips_with_a_byte_content_length(server):
    sent = {"text": random_text(30) + NON_ASCII}
    ex = post(server, json.dumps(sent, ensure_ascii=False).encode("utf-8"))
    json_response(ex, 200, {**sent, "hello": "back"})  # checks Content-Length == body bytes
    body = ex.response.body
    assert len(body) > len(body.decode("utf-8")), ex.explain(
        "your answer's body is all ASCII: json.dumps wrote the non-ASCII characters as \\u escapes (its default, "
        "ensure_ascii=True). This step sends JSON as UTF-8 text, json.dumps(..., ensure_ascii=False).encode('utf-8'), "
        "so that a character can take several bytes and Content-Length must count the bytes")


def test_the_articles_post_example(server):
    assert_valid_http(server, request("POST", "/hello_world", '{"key1": "value1", "key2": "value2"}', JSON))
    response = http("POST", f"{server.url}/hello_world", json={"key1": "value1", "key2": "value2"})
    assert response.status_code == 200
    assert response.content == b'{"key1": "value1", "key2": "value2", "hello": "back"}'


def test_a_one_megabyte_body_in_many_pieces_is_read_whole(server):
    sent = {"blob": random_word(16) * 65536}  # 1 MiB of text
    ex = post(server, json.dumps(sent).encode(), timeout=10)
    json_response(ex, 200, {**sent, "hello": "back"})


def test_a_character_split_between_two_pieces(server):
    """Decoding each piece on its own would fail in the middle of a multi-byte character."""
    body = json.dumps({"text": "😀" * 10}, ensure_ascii=False).encode("utf-8")
    data = request("POST", "/hello_world", body, JSON)
    cut = len(data) - len(body) + body.index("😀".encode()) + 2  # inside the 4-byte emoji
    ex = send(server, data[:cut], data[cut:], pause=0.05)
    json_response(ex, 200, {"text": "😀" * 10, "hello": "back"})


def test_a_chunked_body(server):
    sent = random_object()
    body = json.dumps(sent, ensure_ascii=False).encode("utf-8")
    data = request("POST", "/hello_world", headers={**JSON, "Transfer-Encoding": "chunked"}) + chunked(body, 5)
    json_response(send(server, data), 200, {**sent, "hello": "back"})


def test_invalid_json_gets_a_400_with_a_json_message(server):
    # b"\x80abc" is not UTF-8 (UnicodeDecodeError); the \xff\xfe one starts like UTF-16 (JSONDecodeError).
    for bad in (b"{not json", b"\xff\xfe\x00garbage", b"\x80abc", b'{"a": 1', "just text é".encode()):
        ex = post(server, bad)
        answer = json_response(ex, 400)
        assert isinstance(answer, dict) and answer.get("message"), ex.explain("expected {\"message\": ...}")
    json_response(send(server, request("GET", "/hello_world")), 200, {"hello": "world"})


def test_json_that_is_not_an_object_gets_a_400(server):
    for other in (b"[1, 2]", b'"text"', b"42"):
        ex = post(server, other)
        assert json_response(ex, 400).get("message"), ex.explain("expected {\"message\": ...}")


def test_json_nested_too_deep_gets_a_400(server):
    """json.loads raises RecursionError, not ValueError, for a body like [[[[[... nested too deep."""
    ex = post(server, b"[" * 100_000, timeout=5)
    assert json_response(ex, 400).get("message"), ex.explain("expected {\"message\": ...}")
    json_response(send(server, request("GET", "/hello_world")), 200, {"hello": "world"})


def test_two_clients_at_once_each_get_their_own_echo(server):
    first, second = random_object(), random_object()
    a, b = interleave(
        server,
        request("POST", "/hello_world", json.dumps(first).encode(), JSON),
        request("POST", "/hello_world", json.dumps(second).encode(), JSON),
        split=40,
    )
    json_response(a, 200, {**first, "hello": "back"})
    json_response(b, 200, {**second, "hello": "back"})


def test_a_handler_that_raises_gets_a_500(server):
    mark = server.mark()
    json_response(send(server, request("GET", "/broken")), 500, {"message": "Internal Server Error"})
    server.wait_for(TRACEBACK_END, since=mark)  # the traceback is logged, not sent


def test_unknown_path_gets_no_answer_yet(server):
    assert_no_answer(send(server, request("POST", f"/{random_word()}", b"{}", JSON), timeout=0.5))


def test_a_client_that_hangs_up_mid_body_does_not_hurt(server):
    data = request("POST", "/hello_world", json.dumps(random_object()).encode(), JSON)
    send(server, data[:-5], timeout=0.1)
    send(server, b"\x00\x01\x02 nonsense\r\n\r\n", timeout=0.5)
    json_response(send(server, request("GET", "/hello_world")), 200, {"hello": "world"})


def test_client_prints_both_responses(server, run_client):
    assert_valid_http(server, request("GET", "/hello_world"))  # the client shows what comes, valid or not
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert '{"hello": "world"}' in done.stdout
    assert '{"key1": "value1", "key2": "value2", "hello": "back"}' in done.stdout


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    json_response(post(server, b'{"a": 1}'), 200, {"a": 1, "hello": "back"})
    assert_stops_cleanly(server)
