"""protoweb: a small asyncio web framework on asyncio.Protocol and httptools.

    from protoweb import App

    app = App()

    @app.get("/hello/{name}")
    async def hello(request, name):
        return {"hello": name}

    app.run("127.0.0.1", 8000)

Modules, from the bytes up: parser (bytes -> Request), request, response
(Response -> bytes), multidict (headers, query, form), routing (Router), app (App,
dispatch), connection (the asyncio.Protocol), flow (its back-pressure), server
(listening, shutdown, run), asgi (the App under uvicorn), errors, config, log,
__main__ (python -m protoweb).
"""

from protoweb.app import App
from protoweb.config import Config
from protoweb.errors import HTTPError
from protoweb.multidict import Headers, MultiDict
from protoweb.request import Request
from protoweb.response import Response
from protoweb.routing import Router

__all__ = ["App", "Config", "HTTPError", "Headers", "MultiDict", "Request", "Response", "Router"]
__version__ = "1.0.0"
