"""The routes of the tutorial's step 06, served by protoweb.

    python examples/hello_world.py [--host H] [--port P]     # --port 0 picks a free port
    python -m protoweb hello_world:app                       # the same, from examples/
    uvicorn hello_world:app --workers 4                      # the same app under uvicorn

GET /hello_world answers {"hello": "world"}; POST /hello_world with a JSON object
answers that object plus "hello": "back"; other paths get 404, other methods 405.
"""

import argparse

from protoweb import App, HTTPError

app = App()


async def hello_world(request):
    return {"hello": "world"}


async def process_request(request):
    body = request.json()  # 400 if the body is not JSON
    if not isinstance(body, dict):
        raise HTTPError(400, 'Send a JSON object, like {"key1": "value1"}')
    return {**body, "hello": "back"}


# The first article's way of adding routes; @app.get / @app.post do the same.
app.add_route("/hello_world", {"GET": hello_world, "POST": process_request})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    args = parser.parse_args()
    app.run(args.host, args.port)
