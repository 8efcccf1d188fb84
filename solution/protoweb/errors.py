"""HTTPError: how a handler (or the framework) answers with an error status."""

from __future__ import annotations

from protoweb.multidict import check_field
from protoweb.response import Response, reason_phrase


class HTTPError(Exception):
    """Raise it anywhere below a handler to answer ``status`` with ``{"message": message}``.

        raise HTTPError(404, f"no user {user_id}")
        raise HTTPError(405, headers={"Allow": "GET, HEAD"})

    The message defaults to the status's reason phrase. The framework raises it too,
    for what it refuses before a handler runs (400, 404, 405, 413, 431, ...). A status
    or header no response could carry is refused here, where the error is made:
    ``HTTPError(600)`` raises ValueError (in a handler, that is a 500 like any bug).
    """

    def __init__(self, status: int, message: str | None = None, headers: dict[str, str] | None = None) -> None:
        phrase = reason_phrase(status)
        if message is None:
            message = phrase
        elif not isinstance(message, str):
            raise TypeError(f"the message of an HTTPError is a str, got {type(message).__name__}")
        for name, value in (headers or {}).items():
            check_field(name, value)
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.headers = headers

    def response(self) -> Response:
        """The JSON answer: ``{"message": ...}`` with this status and these headers."""
        return Response(self.status, {"message": self.message}, headers=self.headers)

    def __str__(self) -> str:
        return f"{self.status} {self.message}"
