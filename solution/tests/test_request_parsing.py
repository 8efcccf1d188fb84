"""Unit tests of RequestParser and Request: bytes in, requests or errors out (no sockets)."""

import json
import secrets

import pytest

from protoweb import Config, HTTPError, Request
from protoweb.parser import RequestParser
from protoweb.request import split_target


def parse(*pieces, **limits):
    parser = RequestParser(Config(**limits), client=("127.0.0.1", 5555))
    items = []
    for piece in pieces:
        items += parser.feed(piece)
    return parser, items


def only_error(items):
    assert len(items) >= 1 and isinstance(items[-1], HTTPError), items
    return items[-1]


def test_a_request_split_anywhere_parses_the_same():
    value = secrets.token_hex(8)
    raw = (f"POST /echo/{value}?a=1&a=2 HTTP/1.1\r\nHost: x\r\nX-Value: {value}\r\n"
           f"Content-Length: {len(value)}\r\n\r\n{value}").encode()
    for cut in range(1, len(raw)):
        parser, items = parse(raw[:cut], raw[cut:])
        (request,) = items
        assert (request.method, request.path, request.body) == ("POST", f"/echo/{value}", value.encode())
        assert request.query.getall("a") == ["1", "2"] and request.headers["x-value"] == value
        assert request.client == ("127.0.0.1", 5555) and not parser.receiving


def test_pipelined_requests_come_out_in_order_and_a_partial_one_is_kept():
    parser, items = parse(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HT")
    assert [r.path for r in items] == ["/1", "/2"]
    assert parser.receiving and parser.requests_begun == 3
    assert [r.path for r in parser.feed(b"TP/1.1\r\nHost: x\r\n\r\n")] == ["/3"]


def test_chunked_bodies_are_decoded_and_trailers_dropped():
    _, (request,) = parse(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert request.body == b"abcde" and "x-trailer" not in request.headers


def test_keep_alive_follows_the_version_and_the_connection_header():
    _, items = parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [r.keep_alive for r in items] == [True, False]
    _, items = parse(b"GET / HTTP/1.0\r\n\r\n")
    assert (items[0].http_version, items[0].keep_alive) == ("1.0", False)
    _, items = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert items[0].keep_alive is True


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),  # two Host fields
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400),  # HttpParserUpgrade
        (b"POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 11\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
         b"Transfer-Encoding: chunked\r\n\r\nb\r\n" + b"x" * 11, 413),  # the body read after the upgrade, counted too
        (b"POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
         b"Transfer-Encoding: gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),  # llhttp does not check it there
        (b"GET http://h:abc/p HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # llhttp passes it, parse_url does not
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET /\r\n\r\n", 505),  # HTTP/0.9
        (b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"\r\nFOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"\x16\x03\x01\x02\x00\x01\x00", 400),  # TLS, not a method
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\nF\x00O / HTTP/1.1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 1\r\n\r\n", 417),
        (b"GET /" + b"a" * 40 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100 + b"\r\n\r\n", 431),
    ],
)
def test_what_the_server_refuses(raw, status):
    _, items = parse(raw, max_body_size=10, max_url_size=32, max_header_size=100)
    assert only_error(items).status == status
    assert all(isinstance(item, Request) and item.path == "/" for item in items[:-1])


def test_an_upgrade_without_a_body_is_a_request_that_closes_the_connection():
    parser, items = parse(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                          b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    (request,) = items
    assert request.path == "/a" and request.keep_alive is False
    assert parser.feed(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n") == []  # nothing after it is read


@pytest.mark.parametrize("split", [None, 1, 5, 200])
@pytest.mark.parametrize(
    ("framing", "body"),
    [(b"Content-Length: 7", b'{"a":1}'), (b"Transfer-Encoding: chunked", b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n')],
)
def test_an_upgrade_with_a_body_is_a_request_with_that_body_that_closes_the_connection(framing, body, split):
    # httptools stops at the head of such a request and skips its body: RequestParser reads it.
    head = b"POST /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    data = head + framing + b"\r\n\r\n" + body + b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    parser = RequestParser(Config())
    pieces = [data] if split is None else [data[i:i + split] for i in range(0, len(data), split)]
    items = [item for piece in pieces for item in parser.feed(piece)]
    (request,) = items
    assert (request.method, request.path, request.body, request.keep_alive) == ("POST", "/a", b'{"a":1}', False)
    assert not parser.receiving


def test_http10_with_transfer_encoding_closes():
    _, (request,) = parse(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"0\r\n\r\n")
    assert request.keep_alive is False


def test_an_http10_request_needs_no_host_and_its_expect_is_ignored():
    parser, items = parse(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
    assert items == [] and not parser.expect_continue


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives():
    parser, items = parse(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b"8\r\n12345678\r\n",
                          b"8\r\n12345678\r\n", max_body_size=10)
    assert only_error(items).status == 413


def test_an_endless_header_line_is_refused_even_though_httptools_holds_it_back():
    parser, _ = parse(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", max_header_size=100)
    items = []
    for _ in range(20):
        items += parser.feed(b"z" * 10)
        if items:
            break
    assert only_error(items).status == 431


def test_endless_trailers_are_refused_too():
    parser, _ = parse(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
                      max_header_size=100)
    items = []
    for number in range(50):
        items += parser.feed(b"X-T%d: zzzzzzzzzz\r\n" % number)
        if items:
            break
    assert only_error(items).status == 431


def test_a_slow_chunked_upload_is_not_mistaken_for_an_endless_head():
    parser, items = parse(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", max_header_size=100)
    for _ in range(200):  # chunk-size lines and data in separate reads: 200 x 3 bytes of framing
        items += parser.feed(b"1\r\n")
        items += parser.feed(b"a\r\n")
    items += parser.feed(b"0\r\n\r\n")
    (request,) = items
    assert request.body == b"a" * 200


def test_expect_100_continue_is_flagged_until_the_request_completes():
    parser, items = parse(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert items == [] and parser.expect_continue
    (request,) = parser.feed(b"ok")
    assert request.body == b"ok" and not parser.expect_continue


def test_an_error_comes_after_the_requests_completed_before_it():
    _, items = parse(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01garbage\r\n\r\n")
    assert isinstance(items[0], Request) and items[0].path == "/fine"
    assert only_error(items).status == 400


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [("/a/b?x=1&y=2", "/a/b", "x=1&y=2"), ("/caf%C3%A9/%20x", "/caf%C3%A9/%20x", ""), ("/", "/", ""),
     ("*", "*", ""), ("http://example.com/p/q?z=9", "/p/q", "z=9"), ("/a?", "/a", ""),
     ("/p/abc#frag", "/p/abc", ""), ("/p?q=1#frag", "/p", "q=1"), ("http://h/p%2Fq#f", "/p%2Fq", "")],
)
def test_split_target_keeps_the_path_encoded_and_drops_the_fragment(target, path, query):
    assert split_target(target) == (path, query)


@pytest.mark.parametrize("target", ["http://h:abc/p/x", "http://[::1/p/x", "http:///p/x", "http://@/p/x",
                                    "http://h%/p", "http://h:99999/p/x"])
def test_split_target_refuses_malformed_absolute_targets_with_400(target):
    with pytest.raises(HTTPError) as error:
        split_target(target)
    assert error.value.status == 400


def test_request_json_text_and_form():
    value = "välue " + secrets.token_hex(3)
    request = Request("POST", "/", [(b"Content-Type", b"application/json")], json.dumps({"v": value}).encode())
    assert request.json() == {"v": value}
    for bad in (b"", b"{", b"\xff\xfe\xfd", b"NaN", b"[-Infinity]", b"1e400", b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(HTTPError) as error:
            Request("POST", "/", body=bad).json()
        assert error.value.status == 400
    latin = Request("POST", "/", [(b"content-type", b"text/plain; charset=latin-1")], "é".encode("latin-1"))
    assert latin.text == "é"
    with pytest.raises(HTTPError):
        _ = Request("POST", "/", body=b"\xff").text
    form = Request("POST", "/", [(b"Content-Type", b"application/x-www-form-urlencoded")],
                   b"name=a+b&tag=1&tag=2&empty=")
    assert form.form().to_dict() == {"name": "a b", "tag": ["1", "2"], "empty": ""}
    with pytest.raises(HTTPError) as error:
        Request("POST", "/", [(b"Content-Type", b"multipart/form-data; boundary=x")], b"--x").form()
    assert error.value.status == 415


def test_request_json_decodes_strictly():
    # json.loads(bytes) decodes with "surrogatepass": the UTF-8 of a lone surrogate,
    # which is not UTF-8, would come out as "\ud800". Refused, with the reason.
    with pytest.raises(HTTPError) as error:
        Request("POST", "/", body=b'{"a": "\xed\xa0\x80"}').json()
    assert error.value.status == 400 and "not utf-8" in error.value.message
    # The same string as a JSON escape is valid JSON: it comes through, and goes back escaped.
    assert Request("POST", "/", body=b'{"a": "\\ud800"}').json() == {"a": "\ud800"}
    # As json.loads does: UTF-8 with a byte order mark, UTF-16 and UTF-32 (RFC 4627) too.
    for encoding in ("utf-8-sig", "utf-16", "utf-16-be", "utf-32"):
        assert Request("POST", "/", body='{"a": "é😀"}'.encode(encoding)).json() == {"a": "é😀"}, encoding
    with pytest.raises(HTTPError) as error:
        Request("POST", "/", body='["\ud800"]'.encode("utf-16-le", "surrogatepass")).json()
    assert error.value.status == 400


def test_config_refuses_impossible_values():
    for field in ("max_body_size", "request_timeout", "keep_alive_timeout", "backlog"):
        with pytest.raises(ValueError, match=field):
            Config(**{field: 0})
