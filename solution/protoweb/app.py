"""App: the routes of an application, and dispatch, which turns a Request into a Response."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from protoweb.config import Config
from protoweb.errors import HTTPError
from protoweb.request import Request
from protoweb.response import Response, to_response
from protoweb.routing import Handler, Router

if TYPE_CHECKING:  # types only: importing the adapter is for when the App is served by ASGI
    from protoweb.asgi import Receive, Scope, Send

logger = logging.getLogger("protoweb.error")


class App:
    """An application: a Router, a Config, and the ways to serve them.

        app = App()

        @app.get("/users/{user_id}")
        async def show_user(request, user_id):
            return {"id": user_id}

        app.run("127.0.0.1", 8000)        # or: python -m protoweb module:app
                                          # or, as ASGI: uvicorn module:app
    """

    def __init__(self, router: Router | None = None, config: Config | None = None) -> None:
        self.router = router if router is not None else Router()
        self.config = config if config is not None else Config()

    # -- routes ------------------------------------------------------------------------

    def add_route(self, path: str, methods_handler: dict[str, Handler]) -> None:
        """``app.add_route("/hello_world", {"GET": hello_world, "POST": process_request})``."""
        self.router.add_route(path, methods_handler)

    def route(self, path: str, methods: Iterable[str] = ("GET",)) -> Callable[[Handler], Handler]:
        """Decorator: ``@app.route("/users/{id}", methods=["GET", "POST"])``."""
        def register(handler: Handler) -> Handler:
            self.add_route(path, {method: handler for method in methods})
            return handler
        return register

    def get(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["GET"])

    def post(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["POST"])

    def put(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["PUT"])

    def patch(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["PATCH"])

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, ["DELETE"])

    # -- requests ----------------------------------------------------------------------

    async def dispatch(self, request: Request) -> Response:
        """Run the handler for ``request`` and return its Response.

        A handler's HTTPError becomes its JSON error answer; any other exception is
        logged here, with its traceback, and the client only gets a 500. Only a
        cancellation (CancelledError is not an Exception) goes through, to the caller.
        """
        try:
            handler, request.path_params = self.router.resolve(request.method, request.raw_path)
            return to_response(await handler(request, **request.path_params))
        except HTTPError as error:
            return error.response()
        except Exception:
            logger.exception("Handler failed for %s %s", request.method, request.url)
            return HTTPError(500).response()

    # -- serving -----------------------------------------------------------------------

    # The server and the ASGI adapter are imported when used, not at the top: routes and
    # dispatch need neither. They take the dispatch and the Config, and never import this.

    def run(self, host: str = "127.0.0.1", port: int = 8000, loop: str = "asyncio", **settings: Any) -> None:
        """Serve until SIGINT/SIGTERM; ``settings`` override fields of ``self.config``;
        ``loop="uvloop"`` serves on uvloop."""
        from protoweb.server import run

        run(self.dispatch, dataclasses.replace(self.config, **settings), host, port, loop)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app as an ASGI application: ``uvicorn module:app --workers 4``."""
        from protoweb.asgi import serve_asgi

        await serve_asgi(self.dispatch, self.config, scope, receive, send)
