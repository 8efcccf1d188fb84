"""Request: one HTTP request, as a handler sees it.

Built once per request, so it does little up front: the path (for routing, still
percent-encoded) is split out of the request-target right away; the decoded path,
headers, query parameters, text, JSON and form data only when a handler asks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote

from httptools import HttpParserInvalidURLError, parse_url

from protoweb.errors import HTTPError
from protoweb.multidict import Headers, MultiDict
from protoweb.response import Response


def split_target(target: str) -> tuple[str, str]:
    """``/users/caf%C3%A9?tag=a#top`` -> (``/users/caf%C3%A9``, ``tag=a``).

    The path stays percent-encoded, as sent: routes are matched on it, so that an
    encoded ``/`` (``%2F``) inside a parameter cannot pass for a boundary between two.
    The query is raw too; a ``#fragment`` (which a client should not send) is dropped.
    """
    if target.startswith("/"):  # origin-form, what nearly every client sends
        path, _, query = target.partition("#")[0].partition("?")
        return path, query
    if target == "*":  # OPTIONS * HTTP/1.1
        return target, ""
    try:  # absolute-form, http://host/path?query, which a server must accept too
        url = parse_url(target.encode("latin-1"))
    except HttpParserInvalidURLError:  # llhttp lets through some that parse_url refuses
        raise HTTPError(400, f"Malformed request-target {target!r}") from None
    return (url.path or b"/").decode("latin-1"), (url.query or b"").decode("latin-1")


def percent_decode(text: str) -> str:
    """``caf%C3%A9`` -> ``café``; HTTPError 400 if what it encodes is not UTF-8."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise HTTPError(400, f"{text!r} is not UTF-8 once percent-decoded") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400
        raise ValueError(f"{text} is too large for a float")
    return number


class Request:
    """What a client asked for.

    ``method``, ``url`` (the request-target as sent), ``raw_path`` (the path as sent,
    percent-encoded), ``query_string``, ``path_params`` (percent-decoded),
    ``http_version``, ``keep_alive``, ``client`` (``(host, port)`` or None) and ``body``
    (bytes) are plain attributes; ``path`` (percent-decoded), ``headers``, ``query``,
    ``text``, ``json()`` and ``form()`` decode when asked for.
    """

    __slots__ = (
        "method", "url", "raw_path", "query_string", "path_params", "http_version", "keep_alive",
        "client", "body", "_raw_headers", "_headers", "_query",
    )

    def __init__(
        self,
        method: str,
        url: str,
        raw_headers: Iterable[tuple[bytes, bytes]] = (),
        body: bytes = b"",
        http_version: str = "1.1",
        keep_alive: bool = True,
        client: tuple[str, int] | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.raw_path, self.query_string = split_target(url)
        self.path_params: dict[str, str] = {}
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.client = client
        self.body = body
        self._raw_headers = raw_headers
        self._headers: Headers | None = None
        self._query: MultiDict | None = None

    @property
    def path(self) -> str:
        """The path, percent-decoded: ``/caf%C3%A9`` -> ``/café``; 400 if that is not UTF-8."""
        return percent_decode(self.raw_path)

    @property
    def headers(self) -> Headers:
        """The header fields; ``request.headers["content-type"]``, ``.getall("accept")``."""
        if self._headers is None:
            # latin-1 maps every byte to a character: nothing a client sends can fail here.
            self._headers = Headers(
                (name.decode("latin-1"), value.decode("latin-1")) for name, value in self._raw_headers
            )
        return self._headers

    @property
    def query(self) -> MultiDict:
        """The query parameters: ``?tag=a&tag=b`` gives ``query["tag"] == "a"``, ``getall`` both."""
        if self._query is None:
            self._query = MultiDict(parse_qsl(self.query_string, keep_blank_values=True))
        return self._query

    @property
    def content_type(self) -> str:
        """The media type of the body, lower case, without parameters: ``application/json``."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    @property
    def text(self) -> str:
        """The body decoded with the charset of its Content-Type (UTF-8 if none); 400 if it cannot be."""
        charset = "utf-8"
        for parameter in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset":
                charset = value.strip().strip('"') or charset
        try:
            return self.body.decode(charset)
        except LookupError:
            raise HTTPError(400, f"Unknown charset {charset!r}") from None
        except UnicodeDecodeError as error:
            raise HTTPError(400, f"The request body is not valid {charset}: {error.reason}") from None

    def json(self) -> Any:
        """The body parsed as JSON; an invalid or empty body answers 400."""
        if not self.body:
            raise HTTPError(400, "Expected a JSON body, got an empty one")
        try:
            # Decoded here, strictly, in the encoding json.loads would pick (UTF-8, or
            # UTF-16/32 as it allows): json.loads(bytes) decodes with "surrogatepass", which
            # lets the UTF-8 of a lone surrogate (ED A0 80, not UTF-8) through as "\ud800".
            text = self.body.decode(json.detect_encoding(self.body))
        except UnicodeDecodeError as error:
            raise HTTPError(400, f"The request body is not valid JSON: not {error.encoding}: {error.reason}") from None
        try:
            # Python's json takes NaN, Infinity and 1e400 (a float infinity), which are
            # not JSON numbers and which no response could send back: refused.
            return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except ValueError as error:  # not JSON, NaN, an int of more than 4300 digits
            raise HTTPError(400, f"The request body is not valid JSON: {error}") from None
        except RecursionError:  # [[[[...]]]] nested deeper than the parser can go
            raise HTTPError(400, "The request body is not valid JSON: nested too deep") from None

    def form(self) -> MultiDict:
        """The fields of an ``application/x-www-form-urlencoded`` body; other types answer 415."""
        if self.content_type != "application/x-www-form-urlencoded":
            got = self.content_type or "no Content-Type"
            raise HTTPError(415, f"Expected a form (application/x-www-form-urlencoded), got {got}")
        return MultiDict(parse_qsl(self.text, keep_blank_values=True))

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


#: What a server calls for each request: a Request in, its Response out. App.dispatch
#: is one; the server and the ASGI adapter take it, not the App.
Dispatch = Callable[[Request], Awaitable[Response]]
