"""Black-box: the same apps served by uvicorn through protoweb's ASGI adapter."""

import json
import secrets
from pathlib import Path

import pytest
import requests

from harness import ServerProcess

TIMEOUT = 5
TESTS = Path(__file__).parent
EXAMPLES = TESTS.parent / "examples"

pytest.importorskip("uvicorn", reason="uvicorn is a test dependency: pip install -e 'solution[test]'")


def under_uvicorn(directory, app):
    return ServerProcess(TESTS / "apps" / "uvicorn_serve.py", str(directory), app)


@pytest.fixture(scope="module")
def hello():
    srv = under_uvicorn(EXAMPLES, "hello_world:app").start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


@pytest.fixture(scope="module")
def features():
    srv = under_uvicorn(TESTS / "apps", "feature_app:app").start()
    yield srv
    srv.stop()
    # The one traceback expected is the failing handler's, logged by protoweb, not by uvicorn.
    assert "Exception in ASGI application" not in srv.log(), srv.log()


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


def test_a_failing_handler_under_uvicorn(features):
    tag = secrets.token_hex(5)
    mark = features.mark()
    answer = requests.get(f"{features.url}/boom?tag={tag}", timeout=TIMEOUT)
    assert (answer.status_code, answer.json()) == (500, {"message": "Internal Server Error"})
    assert tag not in answer.text
    features.wait_for(f"secret detail {tag}", since=mark)
    assert json.loads(requests.get(f"{features.url}/users/1", timeout=TIMEOUT).text)["user_id"] == "1"
