"""FlowControl: how fast the bytes of one connection go, both ways.

Neither side may make the server hold an unbounded amount of data. The transport
tells the connection when its write buffer passes its high-water mark (pause_writing)
and when it has drained (resume_writing); while the client does not read our answers
we stop reading its requests. This module keeps those flags and counts what the
client has not taken yet, so that a slow reader can be told from one that reads
nothing. HTTPConnection decides what to do with it (the deadlines are its business).
"""

from __future__ import annotations

import asyncio
import sys

if sys.platform == "linux":  # how many bytes a socket's send queue holds: ioctl(fd, SIOCOUTQ)
    from fcntl import ioctl
    from termios import TIOCOUTQ as SIOCOUTQ
else:
    ioctl = None


class FlowControl:
    """The flow flags of one connection, and what its client has not taken yet."""

    __slots__ = ("_transport", "reading_paused", "writing_paused", "draining", "unsent")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.reading_paused = False  # we asked the transport to stop reading
        self.writing_paused = False  # the client does not read: the send deadline runs
        self.draining = False  # idle in name, but the client is still taking our last answer
        self.unsent = 0  # bytes the client had not taken at the last look()

    def pause_reading(self) -> None:
        if not self.reading_paused:
            self.reading_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self.reading_paused:
            self.reading_paused = False
            self._transport.resume_reading()

    def close(self) -> None:
        """Drop the transport: it holds the protocol, which holds us; without this cycle
        the garbage of a closed connection is freed at once, not by the collector."""
        del self._transport

    def look(self) -> bool:
        """Count the bytes the client has not taken yet, into ``unsent``; True if fewer
        than at the last look, that is, if it has taken some since."""
        before, self.unsent = self.unsent, self._unsent_bytes()
        return self.unsent < before

    def _unsent_bytes(self) -> int:
        """Bytes of ours the client has not taken yet: in the transport's buffer, and on
        Linux in the kernel's send queue too. Without the kernel's part, its send buffer
        growing (the kernel taking more from us) would look like the client reading."""
        unsent = self._transport.get_write_buffer_size()
        sock = self._transport.get_extra_info("socket")
        if ioctl is not None and sock is not None:
            try:
                unsent += int.from_bytes(ioctl(sock.fileno(), SIOCOUTQ, bytes(4)), sys.byteorder)
            except OSError:  # closed under us
                pass
        return unsent
