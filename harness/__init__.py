"""The test and notebook harness: start a server as a process, talk to it, read its log."""

from harness.process import ServerError, ServerProcess
from harness.wire import (
    Connection,
    Exchange,
    FramingFailure,
    NoAnswer,
    Response,
    chunked,
    curl_command,
    exchange,
    parse_response,
    request,
)

__all__ = [
    "Connection",
    "Exchange",
    "FramingFailure",
    "NoAnswer",
    "Response",
    "ServerError",
    "ServerProcess",
    "chunked",
    "curl_command",
    "exchange",
    "parse_response",
    "request",
]
