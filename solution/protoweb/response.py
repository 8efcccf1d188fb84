"""Response, and turning it into the bytes that go on the wire.

The parts that are the same for many responses are built once: a status line per
code, the Content-Type lines, the Date line once a second. Rendering a response is
then a handful of byte strings joined together.
"""

from __future__ import annotations

import json
import json.encoder
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from protoweb.errors import HTTPError
from protoweb.multidict import Headers, check_field

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"

# The reason phrase of a code http.HTTPStatus does not know: the name of its class.
CLASS_PHRASES = {1: "Informational", 2: "Success", 3: "Redirection", 4: "Client Error", 5: "Server Error"}

_status_lines: dict[int, bytes] = {}
_content_type_lines: dict[str, bytes] = {}


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps builds a new encoder object for every call, which costs more than encoding
# a small dict. We build one once: the C encoder json.dumps itself uses, with its
# arguments (markers, default, string encoder, indent, key separator, item separator,
# sort_keys, skipkeys, allow_nan) set as json.dumps(value, ensure_ascii=False) sets them,
# except that without markers a circular structure fails with RecursionError.
if json.encoder.c_make_encoder is not None:
    _iterencode = json.encoder.c_make_encoder(
        None, _not_serializable, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )

    def encode_json(value: Any) -> bytes:
        return "".join(_iterencode(value, 0)).encode("utf-8")
else:  # an interpreter without the C accelerator
    _encode = json.JSONEncoder(ensure_ascii=False).encode

    def encode_json(value: Any) -> bytes:
        return _encode(value).encode("utf-8")


def reason_phrase(status: int) -> str:
    """``200`` -> ``OK``, ``404`` -> ``Not Found``, ``599`` -> ``Server Error``."""
    if type(status) is not int or not 100 <= status <= 599:
        raise ValueError(f"{status!r} is not an HTTP status code (an int from 100 to 599)")
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return CLASS_PHRASES[status // 100]


def status_line(status: int) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n``, built once per code."""
    line = _status_lines.get(status) if type(status) is int else None
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


# Bodies these statuses must not have (RFC 9110 6.4.1), so no Content-Length either.
NO_BODY = frozenset({204, 304})

# Fields the renderer writes itself from the body and the connection's state.
COMPUTED = ("content-length", "transfer-encoding", "connection")


class Response:
    """A status, header fields and a body.

        Response(200, {"hello": "world"})          # JSON
        Response(201, "created", headers={"Location": "/notes/7"})
        Response(200, b"\\x89PNG...", content_type="image/png")

    The body may be None (empty), ``str`` (sent as UTF-8 text), ``bytes``, or anything
    ``json.dumps`` accepts (sent as JSON). Content-Type follows from it unless given.
    Content-Length is always counted in bytes of the encoded body.
    """

    __slots__ = ("status_code", "body", "content_type", "_headers")

    def __init__(
        self,
        status_code: int = 200,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        if type(status_code) is not int or status_code not in _status_lines:
            status_line(status_code)  # refuse a status we could not send, here rather than later
        if content_type is not None:
            check_field("Content-Type", content_type)
        self.status_code = status_code
        self.body = body
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

    def encode_body(self) -> tuple[bytes, str | None]:
        """The body as bytes, and the Content-Type it implies (None when there is no body)."""
        body = self.body
        if body is None:
            return b"", self.content_type
        if isinstance(body, bytes):
            return body, self.content_type or BINARY
        if isinstance(body, str):
            return body.encode("utf-8"), self.content_type or TEXT
        return encode_json(body), self.content_type or JSON

    def _prepare(self) -> tuple[bytes | None, str | None]:
        """The body to send (None: this status has none, nor a Content-Length) and the
        Content-Type to write (None: no body, or the handler set the field itself)."""
        body, content_type = self.encode_body()
        if self._headers is not None and "content-type" in self._headers:
            content_type = None
        if self.status_code in NO_BODY or self.status_code < 200:
            return None, content_type
        return body, content_type

    def render(self, connection: bytes = b"", head_only: bool = False) -> bytes:
        """The whole response as bytes: status line, header lines, a blank line, the body.

        ``connection`` is a ready ``Connection: ...\\r\\n`` line (or nothing), chosen by
        whoever knows the connection's state; ``head_only`` leaves the body out (HEAD).
        """
        body, content_type = self._prepare()
        parts = [status_line(self.status_code)]
        if content_type is not None:
            parts.append(content_type_line(content_type))
        if body is not None:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts.append(date_line())
        parts.append(connection)
        if self._headers is not None:
            parts.append(self._headers.encode(skip=COMPUTED))
        parts.append(b"\r\n")
        if body and not head_only:
            parts.append(body)
        return b"".join(parts)

    def header_fields(self) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        """The body and the header fields as (name, value) bytes pairs, for ASGI."""
        body, content_type = self._prepare()
        fields = []
        if content_type is not None:
            fields.append((b"content-type", content_type.encode("latin-1")))
        if body is not None:
            fields.append((b"content-length", b"%d" % len(body)))
        if self._headers is not None:
            fields += [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in self._headers.multi_items()
                if name.lower() not in COMPUTED
            ]
        return body or b"", fields

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.body!r:.40}>"


def error_response(error: HTTPError) -> Response:
    """The JSON answer to an HTTPError: ``{"message": ...}`` with its status and headers."""
    return Response(error.status, {"message": error.message}, headers=error.headers)


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
