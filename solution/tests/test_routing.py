"""Unit tests of routing: compiling route paths and resolving requests (no sockets)."""

import asyncio
import secrets

import pytest

from protoweb import App, HTTPError, Request, Response, Router
from protoweb.routing import compile_path


async def handler_a(request, **params):
    return "a"


async def handler_b(request, **params):
    return "b"


def test_a_path_without_parameters_compiles_to_none_and_is_looked_up_in_a_dict():
    assert compile_path("/hello_world") is None
    router = Router()
    router.add_route("/hello_world", {"GET": handler_a})
    assert "/hello_world" in router.static and router.dynamic == []
    assert router.resolve("GET", "/hello_world") == (handler_a, {})


def test_parameters_match_one_segment_each_and_literals_are_escaped():
    pattern = compile_path("/files/{name}.{ext}/v1+x")
    assert pattern.fullmatch("/files/report.pdf/v1+x").groupdict() == {"name": "report", "ext": "pdf"}
    assert pattern.fullmatch("/files/report.pdf/v11x") is None  # '+' is literal, not a regex operator
    assert compile_path("/users/{id}").fullmatch("/users/1/2") is None  # one segment only
    assert compile_path("/users/{id}").fullmatch("/users/") is None  # not empty


@pytest.mark.parametrize("path", ["users/{id}", "/users/{id", "/users/{1id}", "/users/{}", "/a/{x}/{x}", "/a/}"])
def test_malformed_route_paths_are_refused_when_added(path):
    with pytest.raises(ValueError):
        compile_path(path)


def test_resolve_returns_the_handler_and_the_path_parameters():
    router = Router()
    router.add_route("/users/{user_id}/posts/{post_id}", {"GET": handler_a})
    user_id, post_id = secrets.token_hex(3), secrets.token_hex(3)
    handler, params = router.resolve("GET", f"/users/{user_id}/posts/{post_id}")
    assert handler is handler_a and params == {"user_id": user_id, "post_id": post_id}


def test_routes_match_the_encoded_path_and_parameters_are_decoded_once_matched():
    router = Router()
    router.add_route("/files/{name}", {"GET": handler_a})
    router.add_route("/files/{name}/raw", {"GET": handler_b})
    router.add_route("/café/{x}", {"GET": handler_a})
    router.add_route("/100%", {"GET": handler_b})
    assert router.resolve("GET", "/files/a%2Fb") == (handler_a, {"name": "a/b"})
    assert router.resolve("GET", "/files/x%2Fraw/raw") == (handler_b, {"name": "x/raw"})
    assert router.resolve("GET", "/files/%2541") == (handler_a, {"name": "%41"})  # decoded once only
    assert router.resolve("GET", "/caf%C3%A9/%C3%A9") == (handler_a, {"x": "é"})
    assert router.resolve("GET", "/100%25") == (handler_b, {})
    for undecodable in ("/files/%ff", "/files/%fe"):  # not UTF-8: 400, not both U+FFFD
        with pytest.raises(HTTPError) as error:
            router.resolve("GET", undecodable)
        assert error.value.status == 400


def test_static_routes_win_over_patterns_and_patterns_keep_their_order():
    router = Router()
    router.add_route("/users/{user_id}", {"GET": handler_a})
    router.add_route("/users/me", {"GET": handler_b})
    router.add_route("/users/{other}", {"GET": handler_b})
    assert router.resolve("GET", "/users/me")[0] is handler_b
    assert router.resolve("GET", "/users/42") == (handler_a, {"user_id": "42"})


def test_unknown_path_is_404_and_known_path_with_other_method_is_405_with_allow():
    router = Router()
    router.add_route("/items/{id}", {"GET": handler_a, "DELETE": handler_b})
    router.add_route("/items/{id}", {"PUT": handler_b})  # same path again: methods merge
    with pytest.raises(HTTPError) as missing:
        router.resolve("GET", "/nothing/here")
    assert missing.value.status == 404
    with pytest.raises(HTTPError) as wrong_method:
        router.resolve("POST", "/items/7")
    assert wrong_method.value.status == 405
    assert wrong_method.value.headers == {"Allow": "DELETE, GET, HEAD, PUT"}


def test_405_lists_methods_of_every_route_matching_the_path():
    router = Router()
    router.add_route("/a/{x}", {"GET": handler_a})
    router.add_route("/a/b", {"POST": handler_b})
    with pytest.raises(HTTPError) as error:
        router.resolve("DELETE", "/a/b")
    assert error.value.headers == {"Allow": "GET, HEAD, POST"}
    assert router.resolve("GET", "/a/b") == (handler_a, {"x": "b"})  # the static route lacks GET


def test_head_uses_the_get_handler_unless_declared():
    router = Router()
    router.add_route("/x", {"GET": handler_a})
    assert router.resolve("HEAD", "/x")[0] is handler_a
    router.add_route("/y", {"GET": handler_a, "HEAD": handler_b})
    assert router.resolve("HEAD", "/y")[0] is handler_b


def test_a_method_cannot_get_two_handlers_and_handlers_must_be_coroutines():
    router = Router()
    router.add_route("/x", {"get": handler_a})
    with pytest.raises(ValueError, match="already has a handler"):
        router.add_route("/x", {"GET": handler_b})
    with pytest.raises(TypeError, match="async def"):
        router.add_route("/y", {"GET": lambda request: "not a coroutine"})


def test_app_decorators_register_routes():
    app = App()

    @app.route("/r/{id}", methods=["GET", "POST"])
    async def both(request, id):
        return id

    @app.get("/g")
    async def get(request):
        return "g"

    @app.post("/p")
    async def post(request):
        return "p"

    @app.put("/p")
    async def put(request):
        return "put"

    assert app.router.resolve("POST", "/r/5") == (both, {"id": "5"})
    assert app.router.resolve("GET", "/g")[0] is get
    assert app.router.resolve("PUT", "/p")[0] is put
    with pytest.raises(HTTPError):
        app.router.resolve("GET", "/p")


def run(coro):
    return asyncio.run(coro)


def test_dispatch_turns_every_outcome_into_a_response():
    app = App()
    value = secrets.token_hex(4)

    @app.get("/dict/{value}")
    async def as_dict(request, value):
        return {"value": value}

    @app.get("/str")
    async def as_str(request):
        return value

    @app.get("/error")
    async def error(request):
        raise HTTPError(409, value)

    @app.get("/crash")
    async def crash(request):
        raise ZeroDivisionError(value)

    response = run(app.dispatch(Request("GET", f"/dict/{value}")))
    assert (response.status_code, response.body) == (200, {"value": value})
    assert run(app.dispatch(Request("GET", "/str"))).body == value
    conflict = run(app.dispatch(Request("GET", "/error")))
    assert (conflict.status_code, conflict.body) == (409, {"message": value})
    crashed = run(app.dispatch(Request("GET", "/crash")))
    assert (crashed.status_code, crashed.body) == (500, {"message": "Internal Server Error"})
    assert run(app.dispatch(Request("GET", "/missing"))).status_code == 404
    assert isinstance(run(app.dispatch(Request("GET", "/str"))), Response)


def test_dispatch_answers_500_for_an_http_error_no_response_could_carry():
    app = App()

    @app.get("/bad/{what}")
    async def bad(request, what):
        if what == "status":
            raise HTTPError(600)
        raise HTTPError(401, headers={"WWW-Authenticate": "a\r\nInjected: 1"})

    for what in ("status", "header"):
        response = run(app.dispatch(Request("GET", f"/bad/{what}")))
        assert (response.status_code, response.body) == (500, {"message": "Internal Server Error"})


def test_the_request_path_is_decoded_and_the_raw_path_kept():
    request = Request("GET", "/a%2Fb/caf%C3%A9?x=%20#frag")
    assert (request.raw_path, request.path, request.query_string) == ("/a%2Fb/caf%C3%A9", "/a/b/café", "x=%20")
    with pytest.raises(HTTPError) as error:
        _ = Request("GET", "/%ff").path  # the property decodes the path, and refuses it
    assert error.value.status == 400
