"""HTTPError: how a handler (or the framework) answers with an error status."""

from __future__ import annotations

from http import HTTPStatus


class HTTPError(Exception):
    """Raise it anywhere below a handler to answer ``status`` with ``{"message": message}``.

        raise HTTPError(404, f"no user {user_id}")
        raise HTTPError(405, headers={"Allow": "GET, HEAD"})

    The message defaults to the status's reason phrase. The framework raises it too,
    for what it refuses before a handler runs (400, 404, 405, 413, 431, ...).
    """

    def __init__(self, status: int, message: str | None = None, headers: dict[str, str] | None = None) -> None:
        if message is None:
            try:
                message = HTTPStatus(status).phrase
            except ValueError:
                message = f"HTTP error {status}"
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status} {self.message}"
