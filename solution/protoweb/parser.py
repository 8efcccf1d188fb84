"""RequestParser: the bytes of one connection in, Request objects (or the error) out.

httptools (llhttp) does the HTTP/1.1 syntax: request line, header lines, chunked
bodies, Content-Length. What a server must add on top lives here, apart from any
socket: size limits, the HTTP version, the Host rule, Expect, protocol upgrades. Feed
it bytes; it returns the requests completed by them, in order, and at most one
HTTPError last, after which the connection's state is unknown and it must close.

    parser = RequestParser(Config())
    parser.feed(b"GET /a HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /b HTTP/1.1\\r\\nHo")  # [<Request GET /a>]
    parser.feed(b"st: x\\r\\n\\r\\n")                                             # [<Request GET /b>]
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserInvalidMethodError,
    HttpParserUpgrade,
    HttpRequestParser,
)

from protoweb.config import Config
from protoweb.errors import HTTPError
from protoweb.multidict import TOKEN
from protoweb.request import Request

logger = logging.getLogger("protoweb.error")


def unknown_method(request_start: bytes) -> HTTPError:
    """501 for a method llhttp does not know (RFC 9110 9.1); 400 for what is no method at all
    (a TLS handshake sent to plain HTTP, say). ``request_start``: the request's first bytes."""
    method = request_start.partition(b" ")[0].decode("latin-1")
    if TOKEN.fullmatch(method):
        return HTTPError(501, f"Unknown method {method!r}")
    return HTTPError(400, "Malformed request: invalid method")


class RequestParser:
    """One per connection: httptools calls the ``on_*`` methods as it recognises each part."""

    def __init__(self, config: Config, client: tuple[str, int] | None = None) -> None:
        self.client = client
        self.max_body_size = config.max_body_size
        self.max_url_size = config.max_url_size
        self.max_header_size = config.max_header_size
        self.receiving = False  # a request has begun and is not complete yet
        self.requests_begun = 0  # tells a new partial request from the one before
        self.expect_continue = False  # the request being received waits for "100 Continue"
        self._parser = HttpRequestParser(self)
        self._ready: list[Request | HTTPError] = []
        self._request: Request  # the one being received: made by on_headers_complete
        self._body_size = 0
        self._stalled_size = 0
        self._upgraded = False  # after an Upgrade request (and its body), the bytes that follow are not parsed
        self._upgrade_framing: bytes | None = None  # the body framing of an Upgrade request, until read

    def feed(self, data: bytes) -> list[Request | HTTPError]:
        """Parse ``data``; return the requests it completed and, last, an error if it ends here."""
        self._ready = []
        if not self._upgraded:
            self._parse(data)
        return self._ready

    def _parse(self, data: bytes) -> None:
        ready = self._ready
        requests_before, body_before = self.requests_begun, self._body_size
        upgrade_at = None
        try:
            self._parser.feed_data(data)
        except HttpParserCallbackError as error:
            # One of our on_* methods raised; httptools keeps the original as the context.
            cause = error.__context__
            if not isinstance(cause, HTTPError):
                logger.error("Parser callback failed", exc_info=cause)
                cause = HTTPError(500)
            ready.append(cause)
        except HttpParserInvalidMethodError:
            # When the failing request began in these bytes (nothing completed before it
            # here), they start with its method, after at most the CRLFs between requests.
            began_here = self.requests_begun == requests_before + 1 and not ready
            ready.append(unknown_method(data.lstrip(b"\r\n") if began_here else b""))
        except HttpParserError as error:
            if not self._upgraded:  # else: the bytes after an upgrade request, which we do not read
                ready.append(HTTPError(400, f"Malformed request: {error}"))
        except HttpParserUpgrade as upgrade:
            upgrade_at = upgrade.args[0]  # out of this except clause, where errors would chain to it
        else:
            # httptools keeps an unfinished header line to itself, out of on_header's
            # sight. Bytes that arrive in the middle of a request and bring no body are
            # head (or trailer) lines: count them, so that no head can grow forever.
            if self.receiving and self.requests_begun == requests_before:
                if self._body_size != body_before:
                    self._stalled_size = 0
                else:
                    self._stalled_size += len(data)
                    if self._stalled_size > self.max_header_size:
                        ready.append(HTTPError(431, f"The request's header fields exceed {self.max_header_size} bytes"))
            return
        if upgrade_at is not None:
            self._ignore_upgrade(data[upgrade_at:])

    def _ignore_upgrade(self, rest: bytes) -> None:
        """Answer a request that asked for another protocol in HTTP/1.1 (RFC 9110 7.8 lets us).

        httptools stops at such a request ("Connection: Upgrade", as ``curl --http2``
        sends to ask for h2c), before its body, if it has one. That body is read by a
        new httptools parser, told only how the body is framed; nothing after it is read:
        the request was marked to close the connection once answered.
        """
        framing, self._upgrade_framing = self._upgrade_framing, None
        if framing is None:  # no body: the request is complete
            self._upgraded = True
            return
        # Only on_body and on_message_complete: the head we feed is not a request of the client's.
        body_only = SimpleNamespace(on_body=self.on_body, on_message_complete=self._upgrade_body_complete)
        self._parser = HttpRequestParser(body_only)
        # "Connection: close": after this body, llhttp refuses what follows (ignored in _parse).
        self._parser.feed_data(b"POST / HTTP/1.1\r\nConnection: close\r\n" + framing + b"\r\n\r\n")
        self._parse(rest)

    def _upgrade_body_complete(self) -> None:
        self._upgraded = True  # the request is complete, and the last one read
        self.on_message_complete()

    def continue_sent(self) -> None:
        """The connection has sent ``100 Continue``: the request's body may now come."""
        self.expect_continue = False

    def close(self) -> None:
        """Drop the httptools parser: it holds our on_* methods, we hold it; without this
        cycle the garbage of a closed connection is freed at once, not by the collector."""
        del self._parser

    # -- httptools callbacks, in the order they come -------------------------------------

    def on_message_begin(self) -> None:
        self.receiving = True
        self.requests_begun += 1
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._stalled_size = 0
        self._body: list[bytes] | None = None  # most requests have none
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url  # usually one piece; several if the URL arrives in several reads
        if len(self._url) > self.max_url_size:
            raise HTTPError(414, f"The URL exceeds {self.max_url_size} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))  # counted in on_headers_complete

    def on_headers_complete(self) -> None:
        parser = self._parser
        version = parser.get_http_version()
        if version not in ("1.1", "1.0"):  # llhttp also lets 0.9 and 2.0 through
            raise HTTPError(505, f"HTTP/{version} is not supported; this server speaks HTTP/1.1")
        method = parser.get_method().decode("ascii")
        keep_alive = parser.should_keep_alive()
        hosts = 0
        expect = None
        size = 0
        body_length = 0
        codings = None
        for name, value in self._headers:
            size += len(name) + len(value) + 4  # + ": " and CRLF
            name = name.lower()
            if name == b"host":
                hosts += 1
            elif name == b"content-length":  # llhttp has checked it is one decimal number
                body_length = int(value)
                if body_length > self.max_body_size:
                    raise HTTPError(413, f"The request body exceeds {self.max_body_size} bytes")
            elif name == b"transfer-encoding":  # llhttp has checked it, except in an Upgrade request
                codings = value
            elif name == b"expect":
                expect = value
        if size > self.max_header_size:
            raise HTTPError(431, f"The request's header fields exceed {self.max_header_size} bytes")
        # RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any with several.
        if hosts > 1 or (hosts == 0 and version != "1.0"):
            raise HTTPError(400, "A request needs exactly one Host header" if hosts else "Missing Host header")
        chunked = codings is not None  # and ends with chunked: llhttp refuses any other request
        if parser.should_upgrade():
            # CONNECT (a tunnel, which we do not open), or "Connection: Upgrade", which we
            # ignore: see _ignore_upgrade, and the connection closes after the answer.
            if method == "CONNECT":
                raise HTTPError(400, "CONNECT is not supported: this server opens no tunnels")
            keep_alive = False
            if codings is not None:
                if codings.rpartition(b",")[2].strip().lower() != b"chunked":  # RFC 9112 6.3
                    raise HTTPError(400, "Malformed request: a Transfer-Encoding must end with chunked")
                self._upgrade_framing = b"Transfer-Encoding: chunked"
            elif body_length:
                self._upgrade_framing = b"Content-Length: %d" % body_length
        if chunked and version == "1.0":
            keep_alive = False  # RFC 9112 6.1: its framing cannot be trusted; close after answering
        if expect is not None and version != "1.0":  # HTTP/1.0 clients cannot mean it (RFC 9110 10.1.1)
            if expect.lower() != b"100-continue":
                raise HTTPError(417, f"Unsupported expectation {expect.decode('latin-1')!r}")
            self.expect_continue = True
        self._request = Request(
            method,
            self._url.decode("latin-1"),
            self._headers,
            http_version=version,
            keep_alive=keep_alive,
            client=self.client,
        )
        self._headers = []  # trailer fields of a chunked body land here, and are dropped

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.max_body_size:  # a chunked body declares no size up front
            raise HTTPError(413, f"The request body exceeds {self.max_body_size} bytes")
        if self._body is None:
            self._body = [body]
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._upgrade_framing is not None:
            return  # httptools skipped the body of an Upgrade request: _ignore_upgrade reads it
        request = self._request
        if self._body is not None:
            request.body = b"".join(self._body)
        self._ready.append(request)
        self.receiving = False
        self.expect_continue = False
