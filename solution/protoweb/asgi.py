"""The App as an ASGI application, for when one process is not enough.

    uvicorn examples.hello_world:app --workers 4

The ASGI server (uvicorn, hypercorn, ...) then owns the sockets, the HTTP/1.1 rules
and the processes; this adapter turns its ``scope`` and body messages into a Request,
runs the same dispatch as our own server (``App.dispatch``), and sends the Response
back as two messages. Like the server, it takes the dispatch and the Config, not the App.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from protoweb.config import Config
from protoweb.errors import HTTPError
from protoweb.request import Dispatch, Request

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def serve_asgi(dispatch: Dispatch, config: Config, scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "http":
        await _serve_http(dispatch, config, scope, receive, send)
    elif kind == "lifespan":
        await _serve_lifespan(receive, send)
    else:  # "websocket": not something this framework speaks
        await send({"type": "websocket.close", "code": 1000})


async def _serve_http(dispatch: Dispatch, config: Config, scope: Scope, receive: Receive, send: Send) -> None:
    client = scope.get("client")  # [host, port], or None when the server does not know it
    request = Request(
        scope["method"],
        _target(scope),
        scope["headers"],
        http_version=scope.get("http_version", "1.1"),
        client=(client[0], client[1]) if client else None,
    )
    try:
        body = await _read_body(request, receive, config.max_body_size)
    except HTTPError as error:
        response = error.response()
    else:
        if body is None:
            return  # the client left before its request was complete
        request.body = body
        response = await dispatch(request)
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.header_fields()})
    await send({"type": "http.response.body", "body": b"" if request.method == "HEAD" else response.content})


def _target(scope: Scope) -> str:
    """The request-target as the client sent it, less the ``root_path`` the app is mounted at.

    ASGI servers put ``root_path`` in front of ``path`` and ``raw_path`` (uvicorn
    --root-path /api: a request for /api/users/1 has the path /api/users/1); the
    app's routes do not include it. ``raw_path`` keeps the percent-encoding as sent.
    """
    path, raw = scope["path"], scope.get("raw_path")
    root = scope.get("root_path", "").rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root):] or "/"
        prefix = root.encode("utf-8")
        raw = raw[len(prefix):] if raw is not None and raw.startswith(prefix) else None
    target = raw.decode("latin-1") if raw else quote(path)  # raw_path is optional in ASGI
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    return target


async def _read_body(request: Request, receive: Receive, limit: int) -> bytes | None:
    """The whole body; HTTPError 413 past ``limit`` (before reading, if its length says so)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"The request body exceeds {limit} bytes")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"The request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _serve_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
