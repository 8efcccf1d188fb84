"""Starlette under uvicorn: a typical small production ASGI stack."""

from common import HELLO, run_uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello_world(request):
    return JSONResponse(HELLO)


app = Starlette(routes=[Route("/hello_world", hello_world, methods=["GET"])])


if __name__ == "__main__":
    run_uvicorn(app, __doc__.splitlines()[0])
