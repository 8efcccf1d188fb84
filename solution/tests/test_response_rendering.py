"""Unit tests of the byte-level output: responses, status lines, header validation (no sockets)."""

import json
import re
import secrets
import time

import pytest

from harness import parse_response
from protoweb import Headers, HTTPError, MultiDict, Response
from protoweb.response import reason_phrase, to_response

DATE = rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n"


def test_a_json_response_renders_byte_exact_with_crlf():
    data = Response(200, {"hello": "world"}).render()
    assert re.fullmatch(
        rb"HTTP/1\.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\n" + DATE
        + rb'\r\n\{"hello": "world"\}',
        data,
    ), data


def test_content_length_counts_bytes_not_characters():
    text = "ünïcödé ✓ " + secrets.token_hex(3)
    for body in (text, {"text": text}):
        response, rest = parse_response(Response(200, body).render())
        assert rest == b""
        assert int(response.header("Content-Length")) == len(response.body) > len(text)
    assert parse_response(Response(200, text).render())[0].body.decode("utf-8") == text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("plain", "text/plain; charset=utf-8"), (b"\x00\xff", "application/octet-stream"),
     ({"a": 1}, "application/json"), ([1, 2], "application/json")],
)
def test_the_content_type_follows_from_the_body(body, content_type):
    response, _ = parse_response(Response(200, body).render())
    assert response.header("Content-Type") == content_type


def test_an_explicit_content_type_wins():
    rendered = Response(200, "<b>hi</b>", content_type="text/html; charset=utf-8").render()
    assert parse_response(rendered)[0].header("Content-Type") == "text/html; charset=utf-8"
    as_header = Response(200, "<b>hi</b>", headers={"content-type": "text/html"}).render()
    assert parse_response(as_header)[0].header("Content-Type") == "text/html"  # once, not twice


@pytest.mark.parametrize(
    ("status", "line"),
    [(200, b"HTTP/1.1 200 OK"), (201, b"HTTP/1.1 201 Created"), (404, b"HTTP/1.1 404 Not Found"),
     (431, b"HTTP/1.1 431 Request Header Fields Too Large"),
     (299, b"HTTP/1.1 299 Success"), (599, b"HTTP/1.1 599 Server Error"), (452, b"HTTP/1.1 452 Client Error")],
)
def test_every_status_code_gets_a_reason_phrase(status, line):
    assert Response(status, {}).render().split(b"\r\n")[0] == line


@pytest.mark.parametrize("status", [99, 100, 101, 199, 600, 1000, -1, "200", "404", 200.0, True])
def test_impossible_status_codes_are_refused(status):
    # 1xx too: an interim answer, never the response to a request (the server sends
    # 100 Continue itself); a client waits for the real one after it.
    with pytest.raises(ValueError):
        Response(status)
    with pytest.raises(ValueError):
        reason_phrase(status)
    with pytest.raises(ValueError):
        HTTPError(status)


def test_an_http_error_is_checked_when_made_and_its_message_matches_the_status_line():
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        HTTPError(401, headers={"WWW-Authenticate": "a\r\nb"})
    with pytest.raises(TypeError):
        HTTPError(400, {"not": "a str"})
    for status in (599, 452, 404):
        parsed, _ = parse_response(HTTPError(status).response().render())
        assert json.loads(parsed.body)["message"] == parsed.reason == reason_phrase(status)


def test_the_body_is_encoded_when_the_response_is_made():
    # So an unsendable body fails in the handler that made it (a logged 500), never later.
    for body in ({"when": object()}, {"nan": float("nan")}, [float("inf")], "\ud800"):
        with pytest.raises((TypeError, ValueError)):
            Response(200, body)
    response = Response(200, {"a": "é"})
    assert response.content == '{"a": "é"}'.encode() and response.body == {"a": "é"}


def test_a_lone_surrogate_in_json_is_escaped_not_refused():
    response = Response(200, {"echo": "\ud800", "ok": "é"})
    assert json.loads(response.content) == {"echo": "\ud800", "ok": "é"}


def test_no_body_statuses_have_no_content_length_and_head_keeps_the_length():
    no_content = Response(204, {"ignored": True}).render()
    assert b"Content-Length" not in no_content and no_content.endswith(b"\r\n\r\n")
    assert b"Content-Type" not in no_content and b"Content-Type" not in HTTPError(304).response().render()
    head = Response(200, {"hello": "world"}).render(head_only=True)
    assert b"Content-Length: 18\r\n" in head and head.endswith(b"\r\n\r\n")


def test_the_connection_line_and_extra_headers_are_rendered_and_computed_fields_are_not_duplicated():
    value = secrets.token_hex(4)
    response = Response(200, "x", headers={"X-Value": value, "Content-Length": "999"})
    response.headers.append("Set-Cookie", "a=1")
    response.headers.append("Set-Cookie", "b=2")
    parsed, rest = parse_response(response.render(b"Connection: close\r\n"))
    assert rest == b""
    assert parsed.header("Connection") == "close"
    assert parsed.header("X-Value") == value
    assert parsed.header("Content-Length") == "1"
    assert [v for k, v in parsed.headers if k == "Set-Cookie"] == ["a=1", "b=2"]


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x00b"])
def test_cr_lf_and_nul_in_header_values_are_refused(value):
    headers = Headers()
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        headers.set("X-Test", value)
    with pytest.raises(ValueError):
        headers.append("X-Test", value)
    with pytest.raises(ValueError):
        Response(200, headers={"X-Test": value})
    with pytest.raises(ValueError):
        Response(200, "body", content_type="text/html" + value)
    assert list(headers) == []


@pytest.mark.parametrize("name", ["X Test", "X-Test\r\n", "X:Test", "", "Ä", "X\nY"])
def test_invalid_header_names_are_refused(name):
    with pytest.raises(ValueError, match="invalid header name"):
        Headers().set(name, "ok")


def test_non_latin1_header_values_are_refused():
    with pytest.raises(ValueError, match="latin-1"):
        Headers().set("X-Name", "✓")


def test_headers_are_case_insensitive_and_multi_valued():
    headers = Headers([("Accept", "a"), ("X-Tag", "1"), ("accept", "b")])
    assert headers["ACCEPT"] == "a" and headers.getall("accept") == ["a", "b"]
    assert "x-tag" in headers and len(headers) == 2
    headers.set("ACCEPT", "c")
    assert headers.getall("Accept") == ["c"]
    del headers["x-TAG"]
    assert headers.multi_items() == [("ACCEPT", "c")]
    with pytest.raises(KeyError):
        headers["x-tag"]


def test_a_date_or_connection_set_by_the_handler_is_not_doubled():
    response = Response(200, "x", headers={"Date": "Tue, 01 Jan 2030 00:00:00 GMT", "Connection": "close"})
    assert response.closes_connection and not Response(200, "x").closes_connection
    parsed, _ = parse_response(response.render(b"Connection: close\r\n"))
    assert parsed.header("Date") == "Tue, 01 Jan 2030 00:00:00 GMT"  # header() refuses duplicates
    assert parsed.header("Connection") == "close"


def test_headers_stay_mutable_after_the_response_is_made():
    response = Response(200, {"a": 1})
    response.headers.set("Content-Type", "application/problem+json")
    response.headers.append("X-Late", "yes")
    parsed, _ = parse_response(response.render())
    assert parsed.header("Content-Type") == "application/problem+json" and parsed.header("X-Late") == "yes"


def test_to_dict_of_a_large_form_takes_one_pass():
    # 20,000 fields (a 170 KB body): quadratic would take tens of seconds.
    items = [(f"k{i}", str(i)) for i in range(20_000)] + [("k1", "again")]
    started = time.monotonic()
    result = MultiDict(items).to_dict()
    assert time.monotonic() - started < 0.5
    assert result["k1"] == ["1", "again"] and result["k19999"] == "19999" and len(result) == 20_000
    headers = Headers([("Accept", "a"), ("accept", "b"), ("X", "1")])
    assert headers.to_dict() == {"Accept": ["a", "b"], "X": "1"}


def test_handler_results_become_responses():
    assert to_response({"a": 1}).body == {"a": 1}
    assert to_response("s").body == "s"
    response = Response(202)
    assert to_response(response) is response
    with pytest.raises(TypeError, match="returned NoneType"):
        to_response(None)


def test_error_responses_are_json_with_a_message_and_their_headers():
    error = HTTPError(405, headers={"Allow": "GET"})
    parsed, _ = parse_response(error.response().render())
    assert parsed.status_line == "HTTP/1.1 405 Method Not Allowed"
    assert json.loads(parsed.body) == {"message": "Method Not Allowed"}
    assert parsed.header("Allow") == "GET"


def test_header_fields_for_asgi_match_the_rendered_ones():
    response = Response(201, {"k": "✓"}, headers={"X-A": "1", "Connection": "close", "Content-Length": "9"})
    assert response.content == '{"k": "✓"}'.encode()
    assert response.header_fields() == [
        (b"content-type", b"application/json"), (b"content-length", str(len(response.content)).encode()),
        (b"x-a", b"1"), (b"connection", b"close")]
