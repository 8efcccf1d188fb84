"""Router: from a method and a path to the handler and its path parameters.

Routes are compiled when they are added, so a lookup does as little as possible:
a path without ``{parameters}`` is one dict lookup; only then are the patterns of
parameterised routes tried, in the order they were added.

Routes match the path as the client sent it, still percent-encoded; each parameter
is decoded once matched. So ``/files/a%2Fb`` gives ``name="a/b"`` to
``/files/{name}``, and cannot reach ``/files/{name}/{rest}``. A route's own text is
encoded the way clients encode it: ``/café`` matches ``/caf%C3%A9``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from protoweb.errors import HTTPError
from protoweb.request import percent_decode

Handler = Callable[..., Awaitable[Any]]

PARAMETER = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")
# What may stand unencoded in a path besides letters, digits and -._~ (RFC 3986 3.3).
PATH_SAFE = "/!$&'()*+,;=:@"


def encode_path(text: str) -> str:
    """``/café`` -> ``/caf%C3%A9``: route text as a client sends it."""
    return quote(text, safe=PATH_SAFE)


def compile_path(path: str) -> re.Pattern[str] | None:
    """``/users/{id}`` -> a regex with a named group per parameter, each one path segment.

    Returns None for a path without parameters: it is matched by a dict lookup instead.
    The regex matches the percent-encoded path.
    """
    if not path.startswith("/"):
        raise ValueError(f"a route path starts with '/': {path!r}")
    pieces = PARAMETER.split(path)  # [text, name, text, name, ..., text]
    texts, names = pieces[::2], pieces[1::2]
    if any("{" in text or "}" in text for text in texts):
        raise ValueError(f"malformed parameter in {path!r}: write {{name}}, with name an identifier")
    if len(set(names)) != len(names):
        raise ValueError(f"a parameter appears twice in {path!r}")
    if not names:
        return None
    groups = (f"(?P<{name}>[^/]+){re.escape(encode_path(text))}" for name, text in zip(names, texts[1:], strict=True))
    return re.compile(re.escape(encode_path(texts[0])) + "".join(groups))


class Route:
    """One path and the handler of each method it accepts."""

    __slots__ = ("path", "pattern", "handlers", "_declared")

    def __init__(self, path: str) -> None:
        self.path = path
        self.pattern = compile_path(path)
        self._declared: dict[str, Handler] = {}
        self.handlers: dict[str, Handler] = {}  # what resolve uses: declared + HEAD from GET

    def add(self, method: str, handler: Handler) -> None:
        method = method.upper()
        if method in self._declared:
            raise ValueError(f"{method} {self.path} already has a handler: {self._declared[method]!r}")
        # An async def function, or an object whose __call__ is one.
        if not (inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(type(handler).__call__)):
            raise TypeError(f"the handler for {method} {self.path} must be an async def function, got {handler!r}")
        self._declared[method] = handler
        self.handlers = dict(self._declared)
        # A HEAD request gets the GET handler's answer without its body (RFC 9110 9.3.2).
        if "GET" in self.handlers:
            self.handlers.setdefault("HEAD", self.handlers["GET"])

    def __repr__(self) -> str:
        return f"<Route {self.path} {sorted(self.handlers)}>"


class Router:
    """Maps paths to {method: handler}; ``resolve`` finds the one for a request."""

    def __init__(self) -> None:
        self.static: dict[str, Route] = {}  # by the path as clients send it
        self.dynamic: list[tuple[re.Pattern[str], Route]] = []  # in the order added

    def add_route(self, path: str, methods_handler: dict[str, Handler]) -> None:
        """``router.add_route("/hello_world", {"GET": hello_world, "POST": process_request})``."""
        route = self.static.get(encode_path(path)) or next((r for _, r in self.dynamic if r.path == path), None)
        if route is None:
            route = Route(path)
            if route.pattern is None:
                self.static[encode_path(path)] = route
            else:
                self.dynamic.append((route.pattern, route))
        for method, handler in methods_handler.items():
            route.add(method, handler)

    def resolve(self, method: str, raw_path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for ``method raw_path`` and the path parameters, percent-decoded.

        ``raw_path`` is the path as sent, still percent-encoded. HTTPError 404 or 405
        if no route has a handler for it; 400 if a parameter does not decode to UTF-8.
        """
        route = self.static.get(raw_path)
        if route is not None:
            handler = route.handlers.get(method)
            if handler is not None:
                return handler, {}
        allowed = set(route.handlers) if route is not None else set()
        for pattern, route in self.dynamic:
            match = pattern.fullmatch(raw_path)
            if match is not None:
                handler = route.handlers.get(method)
                if handler is not None:
                    return handler, {name: percent_decode(value) for name, value in match.groupdict().items()}
                allowed.update(route.handlers)
        if allowed:
            allow = ", ".join(sorted(allowed))
            raise HTTPError(405, f"{method} is not allowed on {raw_path}", headers={"Allow": allow})
        raise HTTPError(404)
