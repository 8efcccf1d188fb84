"""A bare ASGI app under uvicorn: what uvicorn itself costs, without a framework.

The app does what a hand-written handler would: encode the JSON body per request.
"""

import json

from common import HELLO, run_uvicorn

JSON_HEADERS = [(b"content-type", b"application/json")]


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan is off; nothing else is expected
        return
    if scope["path"] == "/hello_world" and scope["method"] == "GET":
        status, body = 200, json.dumps(HELLO).encode("utf-8")
    else:
        status, body = 404, b'{"message": "Not Found"}'
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    run_uvicorn(app, __doc__.splitlines()[0])
