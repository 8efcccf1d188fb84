"""Response, and turning it into the bytes that go on the wire.

A Response encodes its body when it is made, as in steps 04-06: a body that cannot
be sent (an object json cannot encode) fails inside the handler that made it, which
App.dispatch turns into a logged 500 like any other failure. Rendering then cannot
fail: it joins a handful of byte strings, some of them built once (a status line per
code, the Content-Type lines, the Date line once a second).
"""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from protoweb.multidict import Headers, check_field

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"

# The reason phrase of a code http.HTTPStatus does not know: the name of its class.
CLASS_PHRASES = {2: "Success", 3: "Redirection", 4: "Client Error", 5: "Server Error"}

# Bodies these statuses must not have (RFC 9110 6.4.1), so no Content-Length either.
NO_BODY = frozenset({204, 304})

# Fields the server writes itself, from the body and the connection's state.
COMPUTED = ("content-length", "transfer-encoding", "connection")

# ensure_ascii=False: "ü" is sent as its UTF-8 bytes, not as the escape \u00fc.
# allow_nan=False: NaN and Infinity are not JSON; encoding them fails (a 500) rather
# than sending a body that JSON parsers refuse.
_encode_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_encode_json_ascii = json.JSONEncoder(allow_nan=False).encode


def encode_json(value: Any) -> bytes:
    """``{"a": "ü"}`` -> ``b'{"a": "\\xc3\\xbc"}'``; TypeError/ValueError if it is not JSON."""
    text = _encode_json(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800", which a request's JSON may carry): UTF-8 cannot
        # encode it, but JSON can escape it, so that the client gets back what it sent.
        return _encode_json_ascii(value).encode("ascii")


def reason_phrase(status: int) -> str:
    """``200`` -> ``OK``, ``404`` -> ``Not Found``, ``599`` -> ``Server Error``.

    ValueError for anything but an int from 200 to 599: a 1xx is an interim answer
    (the server sends ``100 Continue`` itself), never the response to a request.
    """
    if type(status) is not int or not 200 <= status <= 599:
        raise ValueError(f"{status!r} is not the status of a response (an int from 200 to 599)")
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return CLASS_PHRASES[status // 100]


_status_lines: dict[int, bytes] = {}
_content_type_lines: dict[str, bytes] = {}


def status_line(status: int) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n``, built once per code; ValueError as reason_phrase."""
    line = _status_lines.get(status) if type(status) is int else None  # 200.0 == 200, but is refused
    if line is None:
        line = _status_lines[status] = f"HTTP/1.1 {status} {reason_phrase(status)}\r\n".encode("ascii")
    return line


def content_type_line(content_type: str) -> bytes:
    line = _content_type_lines.get(content_type)
    if line is None:
        line = f"Content-Type: {content_type}\r\n".encode("latin-1")
        if len(_content_type_lines) < 64:  # a few types are common; do not let odd ones pile up
            _content_type_lines[content_type] = line
    return line


_date_second = -1
_date_line = b""


def date_line() -> bytes:
    """``Date: Sun, 06 Nov 1994 08:49:37 GMT\\r\\n``, formatted at most once a second."""
    global _date_second, _date_line
    now = time.time()
    if int(now) != _date_second:
        _date_second = int(now)
        _date_line = b"Date: %s\r\n" % formatdate(now, usegmt=True).encode("ascii")
    return _date_line


class Response:
    """A status, header fields and a body, encoded when the Response is made.

        Response(200, {"hello": "world"})          # JSON
        Response(201, "created", headers={"Location": "/notes/7"})
        Response(200, b"\\x89PNG...", content_type="image/png")

    The body may be None (empty), ``str`` (sent as UTF-8 text), ``bytes``, or anything
    ``json.dumps`` accepts (sent as JSON); ``content`` holds the bytes to send.
    Content-Type follows from the body unless given. The status, body and Content-Type
    are fixed when the Response is made; ``headers`` may change until it is sent.
    """

    __slots__ = ("status_code", "body", "content", "content_type", "_headers")

    def __init__(
        self,
        status_code: int = 200,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        status_line(status_code)  # ValueError now, in the handler, for a status we could not send
        if content_type is not None:
            check_field("Content-Type", content_type)
        self.status_code = status_code
        self.body = body
        if body is None or status_code in NO_BODY:
            self.content = b""
        elif isinstance(body, bytes):
            self.content, content_type = body, content_type or BINARY
        elif isinstance(body, str):
            self.content, content_type = body.encode("utf-8"), content_type or TEXT
        else:
            self.content, content_type = encode_json(body), content_type or JSON
        self.content_type = content_type
        self._headers: Headers | None = None
        if headers:
            for name, value in headers.items():
                self.headers.append(name, value)

    @property
    def headers(self) -> Headers:
        """Extra header fields: ``response.headers.set(name, value)`` / ``.append(name, value)``."""
        if self._headers is None:
            self._headers = Headers()
        return self._headers

    @property
    def closes_connection(self) -> bool:
        """Whether the handler set ``Connection: close``: the server closes after sending it."""
        return self._headers is not None and "close" in self._headers.get("connection", "").lower()

    def render(self, connection: bytes = b"", head_only: bool = False) -> bytes:
        """The whole response as bytes: status line, header lines, a blank line, the body.

        ``connection`` is a ready ``Connection: ...\\r\\n`` line (or nothing), chosen by
        whoever knows the connection's state; ``head_only`` leaves the body out (HEAD).
        A Content-Type or Date the handler set replaces the one computed here.
        """
        headers = self._headers
        parts = [status_line(self.status_code)]
        if self.content_type is not None and (headers is None or "content-type" not in headers):
            parts.append(content_type_line(self.content_type))
        if self.status_code not in NO_BODY:
            parts.append(b"Content-Length: %d\r\n" % len(self.content))
        if headers is None or "date" not in headers:
            parts.append(date_line())
        parts.append(connection)
        if headers is not None:
            parts.append(headers.encode(skip=COMPUTED))
        parts.append(b"\r\n")
        if not head_only:
            parts.append(self.content)
        return b"".join(parts)

    def header_fields(self) -> list[tuple[bytes, bytes]]:
        """The header fields as (name, value) bytes pairs, for ASGI (whose server adds Date)."""
        headers = self._headers
        fields = []
        if self.content_type is not None and (headers is None or "content-type" not in headers):
            fields.append((b"content-type", self.content_type.encode("latin-1")))
        if self.status_code not in NO_BODY:
            fields.append((b"content-length", b"%d" % len(self.content)))
        if headers is not None:
            # Connection is passed on: an ASGI server closes after "Connection: close" too.
            fields += [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in headers.multi_items()
                if name.lower() not in ("content-length", "transfer-encoding")
            ]
        return fields

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.body!r:.40}>"


def to_response(result: Any) -> Response:
    """What a handler returned, as a Response: Response as is; dict/list as JSON; str; bytes."""
    if isinstance(result, Response):
        return result
    if isinstance(result, (dict, list, str, bytes)):
        return Response(200, result)
    raise TypeError(
        f"a handler returned {type(result).__name__}; return a Response, dict, list, str or bytes "
        "(or raise HTTPError)"
    )
