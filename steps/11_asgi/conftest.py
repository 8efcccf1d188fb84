"""Step 11's fixture, shared by its tests and its challenges: ``target``, a test run twice,
against the file's own server and against its ``app`` under uvicorn."""

import pytest

ASGI_CRASH = "Exception in ASGI application"  # uvicorn's line when the app lets an error out


@pytest.fixture(params=["own", "uvicorn"])
def target(request):
    """Each test that takes ``target`` runs twice: against the step's own server, and
    against the same file's ``app`` under uvicorn; both must give the same answers."""
    srv = request.getfixturevalue("server" if request.param == "own" else "uvicorn_server")
    mark = srv.mark()
    yield srv
    if srv.module == "uvicorn" and not getattr(request.node, "framing_failure", None):  # (see steps/conftest.py)
        log = srv.log(since=mark)
        assert ASGI_CRASH not in log, (
            "an exception escaped app(scope, receive, send), so uvicorn logged it and answered "
            "with its own 500; the app must turn every error into its own answer (see run_handler). "
            f"uvicorn's log:\n{log}")
