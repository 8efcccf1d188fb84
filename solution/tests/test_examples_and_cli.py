"""Black-box: the examples as a user runs them, and the command line."""

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from harness import ServerProcess, request
from harness.checks import send
from harness.fixtures import one_server

TIMEOUT = 5
EXAMPLES = Path(__file__).parent.parent / "examples"
DATE = rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n"


@pytest.fixture(scope="module")
def hello():
    yield from one_server(lambda: ServerProcess(EXAMPLES / "hello_world.py"))  # python examples/hello_world.py --port 0


@pytest.fixture(scope="module")
def notes():
    yield from one_server(lambda: ServerProcess(EXAMPLES / "notes_api.py", hand_port=8000))


def test_hello_world_get_byte_exact(hello):
    result = send(hello, request("GET", "/hello_world"), until_closed=False)
    assert re.fullmatch(
        rb"HTTP/1\.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\n" + DATE
        + rb'\r\n\{"hello": "world"\}',
        result.received,
    ), result.explain()


def test_hello_world_post_echoes_the_object_plus_hello_back(hello):
    sent = {"key1": secrets.token_hex(4), "clé": "välue ✓"}
    result = send(hello, request("POST", "/hello_world", json.dumps(sent, ensure_ascii=False)), until_closed=False)
    assert result.response.status == 200
    assert result.json() == {**sent, "hello": "back"}
    assert int(result.response.header("Content-Length")) == len(result.response.body)


def test_hello_world_refuses_what_it_does_not_serve(hello):
    # The first article's curl example: POST to a route that does not exist.
    missing = send(hello, request("POST", "/not_created", '{"key1": "value1"}'), until_closed=False)
    assert missing.response.status_line == "HTTP/1.1 404 Not Found"
    assert missing.json() == {"message": "Not Found"}
    wrong = send(hello, request("PUT", "/hello_world", "{}"), until_closed=False)
    assert wrong.response.status_line == "HTTP/1.1 405 Method Not Allowed"
    assert wrong.response.header("Allow") == "GET, HEAD, POST"
    for body in ("[1, 2]", "{oops"):
        bad = send(hello, request("POST", "/hello_world", body), until_closed=False)
        assert bad.response.status == 400 and bad.json()["message"]


def test_notes_api_crud(notes):
    base = f"{notes.url}/notes"
    title, text = "milk " + secrets.token_hex(3), "2 litres ✓"
    created = requests.post(base, json={"title": title, "text": text}, timeout=TIMEOUT)
    assert created.status_code == 201
    note = created.json()
    assert created.headers["Location"] == f"/notes/{note['id']}"
    assert requests.get(notes.url + created.headers["Location"], timeout=TIMEOUT).json() == note
    listed = requests.get(base, params={"q": title.upper()}, timeout=TIMEOUT).json()
    assert listed == {"notes": [note], "total": 1}
    replaced = requests.put(f"{base}/{note['id']}", json={"title": title, "text": "3 litres"}, timeout=TIMEOUT)
    assert replaced.json() == {**note, "text": "3 litres"}
    deleted = requests.delete(f"{base}/{note['id']}", timeout=TIMEOUT)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = requests.get(f"{base}/{note['id']}", timeout=TIMEOUT)
    assert gone.status_code == 404 and gone.json() == {"message": f"No note {note['id']}"}


@pytest.mark.parametrize(("body", "status"), [({"text": "no title"}, 422), (["a"], 422), (None, 400)])
def test_notes_api_validates_its_input(notes, body, status):
    sent = requests.post(f"{notes.url}/notes", data=b"{" if body is None else json.dumps(body), timeout=TIMEOUT)
    assert sent.status_code == status and sent.json()["message"]
    assert requests.get(f"{notes.url}/notes/abc", timeout=TIMEOUT).status_code == 404


def test_the_command_line_explains_a_wrong_app_location():
    for location, expected in [("no_such_module:app", "No module named"), ("hello_world", "module:attribute"),
                               ("hello_world:nothing", "nothing"), ("hello_world:hello_world", "not a protoweb.App")]:
        done = subprocess.run([sys.executable, "-m", "protoweb", location, "--port", "0"], cwd=EXAMPLES,
                              capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        assert done.returncode != 0 and expected in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_help_example_works_from_the_repository_root():
    # `python -m protoweb --help` shows a command to run from the repository root, where
    # the READMEs tell users to work: it must serve the example app from there.
    root = EXAMPLES.parent.parent
    shown = subprocess.run([sys.executable, "-m", "protoweb", "--help"], cwd=root, capture_output=True, text=True,
                           timeout=TIMEOUT, stdin=subprocess.DEVNULL).stdout
    command = re.search(r"python -m protoweb (\S+ --app-dir \S+)", shown)
    assert command, shown
    location, _, app_dir = command.group(1).partition(" --app-dir ")
    srv = ServerProcess(EXAMPLES / "hello_world.py", location, "--app-dir", app_dir, module="protoweb", cwd=root,
                        hand_port=8000)
    srv.start()
    try:
        answer = send(srv, request("GET", "/hello_world"), until_closed=False)
        assert answer.json() == {"hello": "world"}, answer.explain()
    finally:
        srv.stop()


@pytest.mark.parametrize(("option", "value"), [("--max-body-size", "0"), ("--request-timeout", "nan")])
def test_the_command_line_refuses_a_setting_in_one_line(option, value):
    done = subprocess.run([sys.executable, "-m", "protoweb", "hello_world:app", option, value, "--port", "0"],
                          cwd=EXAMPLES, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode != 0 and "must be positive" in done.stderr and "Traceback" not in done.stderr, done.stderr
