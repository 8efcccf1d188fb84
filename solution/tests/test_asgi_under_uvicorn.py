"""Black-box: the same apps served by uvicorn through protoweb's ASGI adapter."""

import json
import secrets
from pathlib import Path

import pytest
import requests

from harness import ServerProcess
from harness.fixtures import one_server

TIMEOUT = 5
TESTS = Path(__file__).parent
EXAMPLES = TESTS.parent / "examples"

pytest.importorskip("uvicorn", reason="uvicorn is a test dependency: pip install -e 'solution[test]'")


def under_uvicorn(directory, app, *options):
    return ServerProcess(TESTS / "apps" / "uvicorn_serve.py", str(directory), app, *options)


def no_traceback(srv):
    assert "Traceback" not in srv.log(), srv.log()


def no_asgi_exception(srv):
    # The one traceback expected is the failing handler's, logged by protoweb, not by uvicorn.
    assert "Exception in ASGI application" not in srv.log(), srv.log()


@pytest.fixture(scope="module")
def hello():
    yield from one_server(lambda: under_uvicorn(EXAMPLES, "hello_world:app"), no_traceback)


@pytest.fixture(scope="module")
def features():
    yield from one_server(lambda: under_uvicorn(TESTS / "apps", "feature_app:app"), no_asgi_exception)


def test_hello_world_under_uvicorn(hello):
    answer = requests.get(f"{hello.url}/hello_world", timeout=TIMEOUT)
    assert (answer.status_code, answer.json()) == (200, {"hello": "world"})
    assert answer.headers["content-type"] == "application/json"
    assert "uvicorn" in answer.headers.get("server", "")  # really served by uvicorn
    sent = {"key1": secrets.token_hex(3), "ключ": "✓"}
    answer = requests.post(f"{hello.url}/hello_world", json=sent, timeout=TIMEOUT)
    assert answer.json() == {**sent, "hello": "back"}
    assert int(answer.headers["content-length"]) == len(answer.content)


def test_errors_under_uvicorn(hello):
    missing = requests.post(f"{hello.url}/not_created", json={}, timeout=TIMEOUT)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    wrong = requests.delete(f"{hello.url}/hello_world", timeout=TIMEOUT)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD, POST"
    invalid = requests.post(f"{hello.url}/hello_world", data=b"{nope", timeout=TIMEOUT)
    assert invalid.status_code == 400 and "JSON" in invalid.json()["message"]


def test_request_parts_under_uvicorn(features):
    tag = secrets.token_hex(3)
    echo = requests.post(f"{features.url}/echo?tag={tag}&tag=2&sp=a%20b", data="é".encode(),
                         headers={"X-Tag": tag}, timeout=TIMEOUT).json()
    assert echo["query"] == {"tag": [tag, "2"], "sp": "a b"}
    assert ["x-tag", tag] in echo["headers"]
    assert echo["body"] == "é" and echo["client"][0] == "127.0.0.1"
    user = requests.get(f"{features.url}/users/{tag}", timeout=TIMEOUT).json()
    assert user["user_id"] == tag
    form = requests.post(f"{features.url}/form", data={"a": tag}, timeout=TIMEOUT).json()
    assert form == {"a": tag}
    custom = requests.get(f"{features.url}/custom", timeout=TIMEOUT)
    assert custom.status_code == 201 and custom.headers["x-many"] == "a, b" and custom.text == "made"


def test_head_and_limits_under_uvicorn(features):
    head = requests.head(f"{features.url}/users/7", timeout=TIMEOUT)
    get = requests.get(f"{features.url}/users/7", timeout=TIMEOUT)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    too_big = requests.post(f"{features.url}/json", data=b"x" * (1024 * 1024 + 1), timeout=TIMEOUT)
    assert too_big.status_code == 413 and "exceeds" in too_big.json()["message"]


@pytest.mark.parametrize(("path", "logged"), [("/boom?tag={tag}", "secret detail {tag}"),
                                              ("/unserializable?tag={tag}", "is not JSON serializable"),
                                              ("/nan?tag={tag}", "Out of range float values")])
def test_a_failing_handler_under_uvicorn(features, path, logged):
    # The same logged JSON 500 as protoweb's own server: never uvicorn's own plain-text one.
    tag = secrets.token_hex(5)
    mark = features.mark()
    answer = requests.get(features.url + path.format(tag=tag), timeout=TIMEOUT)
    assert (answer.status_code, answer.json()) == (500, {"message": "Internal Server Error"})
    assert tag not in answer.text
    features.wait_for(logged.format(tag=tag), since=mark)
    assert json.loads(requests.get(f"{features.url}/users/1", timeout=TIMEOUT).text)["user_id"] == "1"


def test_paths_under_uvicorn_are_matched_as_sent(features, send):
    result = send(features, b"GET /params/a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n", until_closed=False)
    assert result.json() == {"name": "a/b", "path": "/params/a/b", "raw_path": "/params/a%2Fb"}


def test_an_app_mounted_under_a_root_path():
    # uvicorn --root-path /api, behind a proxy that takes /api off: the proxy forwards
    # /api/users/7 as /users/7, and uvicorn tells the app path=/api/users/7, root_path=/api.
    with under_uvicorn(TESTS / "apps", "feature_app:app", "--root-path", "/api") as srv:
        user = requests.get(f"{srv.url}/users/7", timeout=TIMEOUT)
        assert user.status_code == 200 and user.json()["user_id"] == "7"
        params = requests.get(f"{srv.url}/params/a%2Fb", timeout=TIMEOUT).json()
        assert params == {"name": "a/b", "path": "/params/a/b", "raw_path": "/params/a%2Fb"}
    assert "Traceback" not in srv.log(), srv.log()


def test_the_target_is_taken_from_raw_path_without_the_root_path():
    from protoweb.asgi import _target

    assert _target({"path": "/api/a/b", "raw_path": b"/api/a%2Fb", "root_path": "/api", "query_string": b"x=1"}) \
        == "/a%2Fb?x=1"
    assert _target({"path": "/api", "raw_path": b"/api", "root_path": "/api/"}) == "/"
    assert _target({"path": "/apix", "raw_path": b"/apix", "root_path": "/api"}) == "/apix"
    assert _target({"path": "/a b", "raw_path": None, "root_path": ""}) == "/a%20b"  # raw_path is optional
    assert _target({"path": "/a/b", "root_path": "/api"}) == "/a/b"  # a server that leaves root_path out
