"""Challenge (step 10): GET /whoami answers {"user_agent": ...} from the request's
User-Agent header, and a 400 with a JSON message (HTTPError) when there is none.

Checked with `tutorial check --challenge` (or `pytest steps/10_app/challenge_whoami.py
--server my_server.py`); `pytest steps/` does not collect it.
"""

from harness import request
from harness.checks import CLOSE, json_response, random_word, send, wait_for_traceback


def ask_whoami(server, headers):
    """GET /whoami with these headers (and Host, Connection: close); a 404 is named at once."""
    mark = server.mark()
    ex = send(server, request("GET", "/whoami", headers={**headers, **CLOSE}))
    if ex.response.status == 500:
        wait_for_traceback(server, mark)
    if ex.response.status == 404:
        raise AssertionError(ex.explain(
            'GET /whoami got 404: there is no route for it yet. Declare one in hello_world_app with '
            '@app.get("/whoami") above an async def whoami(request)'))
    return ex


def test_whoami_answers_the_user_agent(server):
    agent = f"tutorial-check/{random_word(4)} (+http://example.org/{random_word()}; x: y)"
    for name in ("User-Agent", "user-agent"):
        ex = ask_whoami(server, {name: agent})
        if ex.response.status == 500:
            raise AssertionError(ex.explain(
                "a 500: the handler failed (the server's log below shows its traceback). The header's "
                'value is request.headers.get("User-Agent"), a str: answer {"user_agent": that value}'))
        body = json_response(ex, 200)
        case = ("" if name == "User-Agent" else
                f" The header came as {name!r} this time: names ignore case, and request.headers "
                "finds a name in any case.")
        assert body == {"user_agent": agent}, ex.explain(
            f'expected the JSON body {{"user_agent": {agent!r}}}: the User-Agent header\'s value, whole, '
            f'under the key "user_agent" (request.headers.get("User-Agent")).{case}')


def test_no_user_agent_gets_a_400_with_a_json_message(server):
    mark = server.mark()
    ex = ask_whoami(server, {})  # the request has Host and Connection only
    by_hand = (" (By hand, curl sends a User-Agent of its own unless you add -H \"User-Agent:\" to the "
               "command below.)")
    status = ex.response.status
    if status == 200:
        raise AssertionError(ex.explain(
            "a request without a User-Agent header got 200: request.headers.get(\"User-Agent\") is None "
            "then; raise HTTPError(400, \"...\") with a message that names the missing header" + by_hand))
    if status == 500:
        raise AssertionError(ex.explain(
            "a request without a User-Agent header got a 500: the handler raised something other than "
            "HTTPError (request.headers[\"User-Agent\"] raises KeyError when the header is missing). "
            "Look it up with request.headers.get(\"User-Agent\") and raise HTTPError(400, \"...\") "
            "when it is None" + by_hand))
    body = json_response(ex, 400)
    assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip(), ex.explain(
        'expected a JSON object {"message": "..."} that says what is missing: HTTPError(400, message) '
        "makes one")
    assert "Traceback" not in server.log(since=mark), ex.explain(
        "the 400 is right, but the server logged a traceback: a request the client got wrong is an "
        "answer, not a bug (raise HTTPError, which request_callback_handler answers without a traceback)")
