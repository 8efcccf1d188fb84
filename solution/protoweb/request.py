"""Request: one HTTP request, as a handler sees it.

Built once per request, so it does little up front: the path (for routing) is split
out of the request-target right away; headers, query parameters, text, JSON and form
data are decoded only when a handler asks for them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from httptools import parse_url

from protoweb.errors import HTTPError
from protoweb.multidict import Headers, MultiDict


def split_target(target: str) -> tuple[str, str]:
    """``/users/%C3%A9?tag=a`` -> (``/users/é``, ``tag=a``): the decoded path and the raw query."""
    if target.startswith("/"):  # origin-form, what nearly every client sends
        path, _, query = target.partition("?")
    elif target == "*":  # OPTIONS * HTTP/1.1
        return target, ""
    else:  # absolute-form, http://host/path?query, which a server must accept too
        url = parse_url(target.encode("latin-1"))
        path = (url.path or b"/").decode("latin-1")
        query = (url.query or b"").decode("latin-1")
    return (unquote(path) if "%" in path else path), query


class Request:
    """What a client asked for.

    ``method``, ``url`` (the request-target as sent), ``path`` (percent-decoded),
    ``query_string``, ``path_params``, ``http_version``, ``keep_alive``, ``client``
    (``(host, port)`` or None) and ``body`` (bytes) are plain attributes; ``headers``,
    ``query``, ``text``, ``json()`` and ``form()`` decode on first use.
    """

    __slots__ = (
        "method", "url", "path", "query_string", "path_params", "http_version", "keep_alive",
        "client", "body", "_raw_headers", "_headers", "_query",
    )

    def __init__(
        self,
        method: str,
        url: str,
        raw_headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
        body: bytes = b"",
        http_version: str = "1.1",
        keep_alive: bool = True,
        client: tuple[str, int] | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.path, self.query_string = split_target(url)
        self.path_params: dict[str, str] = {}
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.client = client
        self.body = body
        self._raw_headers = raw_headers
        self._headers: Headers | None = None
        self._query: MultiDict | None = None

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
            return json.loads(self.body)
        except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8/16/32
            raise HTTPError(400, f"The request body is not valid JSON: {error}") from None

    def form(self) -> MultiDict:
        """The fields of an ``application/x-www-form-urlencoded`` body; other types answer 415."""
        if self.content_type != "application/x-www-form-urlencoded":
            got = self.content_type or "no Content-Type"
            raise HTTPError(415, f"Expected a form (application/x-www-form-urlencoded), got {got}")
        return MultiDict(parse_qsl(self.text, keep_blank_values=True))

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"
