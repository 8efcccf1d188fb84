"""Config: the limits and timeouts of a server, in one place."""

from __future__ import annotations

from dataclasses import dataclass, fields

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Config:
    """What a client is allowed, and how long it is waited for.

    Sizes are in bytes, times in seconds. ``App.run(host, port, request_timeout=5)``
    and ``python -m protoweb ... --request-timeout 5`` override single fields.
    """

    #: Larger request bodies get 413, answered as soon as the headers say so.
    max_body_size: int = 1 * MiB
    #: The request-target (URL); longer gets 414.
    max_url_size: int = 8 * KiB
    #: All header fields of a request together; larger gets 431.
    max_header_size: int = 16 * KiB
    #: An idle connection (just connected, or between keep-alive requests) is closed after this.
    keep_alive_timeout: float = 5.0
    #: A request must arrive in full (head and body) this long after its first byte, or 408.
    request_timeout: float = 10.0
    #: A client that reads nothing of our response for this long is disconnected.
    send_timeout: float = 10.0
    #: On SIGINT/SIGTERM, in-flight requests get this long to finish.
    shutdown_timeout: float = 10.0
    #: Connections the kernel queues for us while we are busy accepting others.
    backlog: int = 2048
    #: One INFO line per response on the ``protoweb.access`` logger.
    access_log: bool = True

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type in ("int", "float") and not value > 0:
                raise ValueError(f"Config.{field.name} must be positive, got {value!r}")
