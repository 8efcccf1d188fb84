"""Step 07: path parameters, query strings, 405 Method Not Allowed, str and dict results."""

import json
import shutil
import subprocess
from urllib.parse import quote, urlencode

import pytest

from harness import request
from harness.checks import (
    NON_ASCII,
    TRACEBACK_END,
    assert_stops_cleanly,
    assert_valid_http,
    http,
    interleave,
    json_response,
    random_text,
    random_word,
    send,
    text_response,
)

JSON = {"Content-Type": "application/json"}
NOT_FOUND = {"message": "Not Found"}
NOT_ALLOWED = {"message": "Method Not Allowed"}


def get(server, target):
    return send(server, request("GET", target))


def hello(name):
    """The target that asks /hello/{name} for ``name``, percent-encoded as a browser would
    (every byte that is not a letter, a digit or one of ``_.-~``, the ``/`` included)."""
    return "/hello/" + quote(name, safe="")


# -- path parameters -----------------------------------------------------------------


def why_not_found(ex, target):
    """What a 200 for a path that is not a route says about the router that sent it."""
    body = ex.json() if ex.response.status == 200 else None
    if isinstance(body, dict) and "/" in str(body.get("hello", "")):
        return (f"{target} matched /hello/{{name}} with a '/' inside the parameter ({body}): a parameter is "
                "one path segment, so {name} must match [^/]+ (anything but '/'), not .* or .+")
    if target.rstrip("/") != "/hello":
        return (f"{target} is not a route, but got {ex.response.status_line}: a pattern must match the whole "
                "path, so anchor it, ^...$ (without $ it also matches every path that starts like it)")
    return f"{target}: {{name}} matches one or more characters ([^/]+), never none"


def test_the_pattern_must_match_the_whole_path(server):
    for target in (f"/hello_world/{random_word()}", "/hello_worldwide", f"/text{random_word()}",
                   f"/{random_word()}/hello/{random_word()}", f"/hello/{random_word()}/extra"):
        ex = get(server, target)
        assert ex.response.status == 404, ex.explain(why_not_found(ex, target))
        json_response(ex, 404, NOT_FOUND)


def test_a_parameter_never_spans_a_slash(server):
    for target in (f"/hello/{random_word()}/{random_word()}", "/hello//"):
        ex = get(server, target)
        assert ex.response.status == 404, ex.explain(why_not_found(ex, target))
        json_response(ex, 404, NOT_FOUND)


def test_an_empty_name_is_not_found(server):
    ex = get(server, "/hello/")
    assert ex.response.status == 404, ex.explain(why_not_found(ex, "/hello/"))
    json_response(ex, 404, NOT_FOUND)


def test_a_percent_encoded_name_is_decoded(server):
    ex = get(server, "/hello/J%C3%BCrgen")
    body = json_response(ex, 200)  # also: Content-Length counts bytes (20), not characters (19)
    assert body == {"hello": "Jürgen"}, ex.explain(
        f'expected {{"hello": "Jürgen"}}, got {body}: decode each parameter (urllib.parse.unquote) '
        "once the path has matched")
    assert ex.response.body == '{"hello": "Jürgen"}'.encode(), ex.explain(
        'expected exactly the UTF-8 bytes of {"hello": "Jürgen"} (json.dumps with ensure_ascii=False)')


def test_an_encoded_slash_stays_in_one_parameter(server):
    first, second = random_word(), random_word()
    for slash in ("%2F", "%2f"):
        ex = get(server, f"/hello/{first}{slash}{second}")
        assert ex.response.status == 200, ex.explain(
            "match the path as it was sent (percent-encoded), and decode the parameters after "
            "matching: decoded first, %2F becomes a '/' that splits the parameter")
        json_response(ex, 200, {"hello": f"{first}/{second}"})


def test_random_names_round_trip(server):
    # "%41" (sent as %2541) must come back as "%41": a parameter is decoded once, not twice.
    for name in (random_text(), random_word() + NON_ASCII, f"{random_word()} ?&#=+%41 {random_text(4)}"):
        ex = get(server, hello(name))
        body = json_response(ex, 200)
        assert body == {"hello": name}, ex.explain(
            f"expected {json.dumps({'hello': name}, ensure_ascii=False)}, got "
            f"{json.dumps(body, ensure_ascii=False)}: decode each parameter exactly once, after matching")


def test_a_query_does_not_change_routing(server):
    name = random_word()
    json_response(get(server, f"/hello/{name}?y=1&next=/a/b"), 200, {"hello": name})
    json_response(get(server, f"/hello_world?{random_word()}=1"), 200, {"hello": "world"})
    text_response(get(server, "/text?lang=en"), 200, "Hello, world")


# -- query strings -------------------------------------------------------------------


def test_an_absolute_url_routes_on_its_path(server):
    # "GET http://host/path" is allowed (proxies send it); a URL with no path means "/".
    name = random_word()
    ex = send(server, f"GET http://127.0.0.1/hello/{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    json_response(ex, 200, {"hello": name})
    ex = send(server, b"GET http://127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n")
    json_response(ex, 404, {"message": "Not Found"})  # "/" is no route here; the point: an answer
    assert "Traceback" not in ex.server_log(), ex.explain("a URL without a path is the path '/'")


def test_echo_query_keeps_every_value_in_order(server):
    ex = get(server, "/echo_query?q=a&q=b&empty=")
    json_response(ex, 200, {"q": ["a", "b"], "empty": [""]})
    assert ex.response.body == b'{"q": ["a", "b"], "empty": [""]}', ex.explain(
        "expected exactly these bytes: parse_qs(query, keep_blank_values=True) sent as JSON")


def test_echo_query_with_random_names_and_values(server):
    names = [random_word(5), f"{random_word(4)} {random_text(3)}", random_word(6)]
    pairs = [(names[0], random_text()), (names[1], random_text(5) + "&=+%/?#"), (names[0], random_text()),
             (names[2], ""), (names[1], random_text(4)), (names[0], "")]
    expected = {}
    for name, value in pairs:
        expected.setdefault(name, []).append(value)
    # urlencode: percent-encodes UTF-8 bytes and writes a space as "+", as an HTML form does.
    ex = get(server, "/echo_query?" + urlencode(pairs))
    body = json_response(ex, 200, expected)
    assert list(body) == names, ex.explain("expected the names in the order they first came")


def test_a_plus_in_a_query_is_a_space(server):
    word = random_word()
    ex = get(server, f"/echo_query?text={word}+and+more&plus=1%2B1&amp=a%26b")
    json_response(ex, 200, {"text": [f"{word} and more"], "plus": ["1+1"], "amp": ["a&b"]})


def test_no_query_is_an_empty_object(server):
    json_response(get(server, "/echo_query"), 200, {})
    json_response(get(server, "/echo_query?"), 200, {})


# -- str and dict results ------------------------------------------------------------


def test_a_str_is_sent_as_text(server):
    ex = get(server, "/text")
    text_response(ex, 200, "Hello, world")
    assert ex.response.body == b"Hello, world", ex.explain("a str result is sent as its UTF-8 bytes, not as JSON")


# -- 405 and 404 ----------------------------------------------------------------------


def test_a_known_path_with_another_method_gets_405_and_allow(server):
    for method in ("DELETE", "PUT", "PATCH"):
        ex = send(server, request(method, "/hello_world", b"{}", JSON))
        assert ex.response.status == 405, ex.explain(
            "/hello_world exists (GET, POST): another method gets 405 Method Not Allowed, not 404")
        json_response(ex, 405, NOT_ALLOWED)  # also: Connection: close, and the server closes
        assert ex.response.header("Allow") == "GET, POST", ex.explain(
            "a 405 must say which methods the path has: Allow: GET, POST (in the order registered)")


def test_a_405_lists_the_methods_of_a_pattern_route(server):
    for method in ("POST", "DELETE"):
        ex = send(server, request(method, f"/hello/{random_word()}", b"{}", JSON))
        json_response(ex, 405, NOT_ALLOWED)
        assert ex.response.header("Allow") == "GET", ex.explain("/hello/{name} has GET only: Allow: GET")


def test_a_405_does_not_run_a_handler(server):
    mark = server.mark()
    json_response(send(server, request("DELETE", "/hello_world")), 405, NOT_ALLOWED)
    json_response(get(server, "/hello_world"), 200, {"hello": "world"})
    server.wait_for("Handle: GET /hello_world None", since=mark)  # the log arrives through a pipe
    assert server.log(since=mark).count("Handle:") == 1, server.log(since=mark)


def test_unknown_path_gets_404_as_in_step_06(server):
    for method in ("GET", "POST", "DELETE"):
        ex = send(server, request(method, f"/{random_word()}/{random_word()}", b"{}" if method == "POST" else b""))
        json_response(ex, 404, NOT_FOUND)
        assert ex.response.header("Allow") is None, ex.explain("an unknown path has no methods: no Allow header")


# -- step 06's routes, and real clients ----------------------------------------------


def test_the_routes_of_step_06_still_work(server):
    mark = server.mark()
    json_response(get(server, "/hello_world"), 200, {"hello": "world"})
    server.wait_for("Handle: GET /hello_world None", since=mark)
    sent = {random_word(): random_text()}
    ex = send(server, request("POST", "/hello_world", json.dumps(sent, ensure_ascii=False).encode(), JSON))
    json_response(ex, 200, {**sent, "hello": "back"})
    server.wait_for(f"Handle: POST /hello_world {sent}", since=mark)
    assert json_response(send(server, request("POST", "/hello_world", b"{oops", JSON)), 400)["message"]
    mark = server.mark()
    ex = get(server, "/broken")
    json_response(ex, 500, {"message": "Internal Server Error"})
    server.wait_for(TRACEBACK_END, since=mark)  # the traceback is logged, not sent
    assert b"Traceback" not in ex.received, ex.explain("the traceback belongs in the log, not in the answer")


def test_requests_sends_the_name_percent_encoded(server):
    assert_valid_http(server, request("GET", "/hello/J%C3%BCrgen"))  # requests accepts a bare \n
    response = http("GET", f"{server.url}/hello/Jürgen")  # requests encodes it: /hello/J%C3%BCrgen
    assert response.status_code == 200 and response.json() == {"hello": "Jürgen"}, response.content
    response = http("GET", f"{server.url}/echo_query", params=[("q", "a"), ("q", "b"), ("empty", "")])
    assert response.json() == {"q": ["a", "b"], "empty": [""]}, response.content
    response = http("GET", f"{server.url}/text")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8" and response.text == "Hello, world"
    response = http("DELETE", f"{server.url}/hello_world")
    assert response.status_code == 405 and response.headers.get("Allow") == "GET, POST", response.headers


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl(server):
    assert_valid_http(server, request("GET", "/hello/J%C3%BCrgen"))  # curl accepts a bare \n

    def curl(*args):
        done = subprocess.run(["curl", "-sS", "--max-time", "3", *args], capture_output=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert curl(f"{server.url}/hello/J%C3%BCrgen") == '{"hello": "Jürgen"}'.encode()
    assert curl(f"{server.url}/echo_query?q=a&q=b&empty=") == b'{"q": ["a", "b"], "empty": [""]}'
    head = curl("-i", "-X", "DELETE", f"{server.url}/hello_world")
    assert head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n") and b"\r\nAllow: GET, POST\r\n" in head, head


def test_two_clients_at_once_each_get_their_answer(server):
    name, value = random_text(), random_text()
    a, b = interleave(server, request("GET", hello(name)), request("GET", "/echo_query?" + urlencode({"v": value})),
                      split=12)  # A's URL arrives in two pieces, B's whole request in between
    json_response(a, 200, {"hello": name})
    json_response(b, 200, {"v": [value]})


def test_a_request_sent_behind_the_first_is_not_run(server):
    """One request per connection: the answer closes it, so a request pipelined behind the
    first can never be answered, and its handler must not run (nor log an error for nobody)."""
    mark = server.mark()
    ex = send(server, request("GET", hello("first")) + request("GET", "/broken"))
    assert len(ex.responses()) == 1 and ex.closed, ex.explain("expected exactly one answer, then the close")
    json_response(ex, 200, {"hello": "first"})
    json_response(send(server, request("GET", "/hello_world")), 200, {"hello": "world"})  # after, on its own
    server.wait_for("Handle: GET /hello_world", since=mark)
    assert "Traceback" not in server.log(since=mark), ex.explain(
        "the handler of GET /broken, sent behind the first request, ran and raised: once a request is complete, "
        "ignore the requests behind it (on_message_complete), since the connection closes after the first answer")


def test_client_prints_all_three_responses(server, run_client):
    assert_valid_http(server, request("GET", "/hello/J%C3%BCrgen"))  # the client shows what comes, valid or not
    done = run_client(server.port)
    assert done.returncode == 0, done.stderr
    assert '{"hello": "Jürgen"}' in done.stdout, done.stdout
    assert '{"q": ["a", "b"], "empty": [""]}' in done.stdout, done.stdout
    assert "HTTP/1.1 405 Method Not Allowed" in done.stdout and "Allow: GET, POST" in done.stdout, done.stdout


def test_ctrl_c_stops_the_server_cleanly(start_server):
    server = start_server()
    json_response(get(server, hello("Jürgen")), 200, {"hello": "Jürgen"})
    assert_stops_cleanly(server)
