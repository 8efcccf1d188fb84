"""Mappings where a name may have several values: query strings, forms, header fields.

``MultiDict`` answers ``d["tag"]`` with the first value and ``d.getall("tag")`` with
all of them, in the order they came. ``Headers`` is the same with case-insensitive
names, and it refuses names and values that would break the response they go into.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

# RFC 9110 5.1: a field name is a token.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 5.5: a field value must not contain CR, LF or NUL. A CR or LF would end the
# header line early and let whoever chose the value write headers (or a body) of their own.
FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")


class MultiDict(Mapping[str, str]):
    """An ordered, read-only mapping from names to one or more string values."""

    __slots__ = ("_items", "_index")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = list(items)
        self._index: dict[str, tuple[str, list[str]]] | None = None

    def _key(self, name: str) -> str:
        return name

    def _lookup(self) -> dict[str, tuple[str, list[str]]]:
        """key -> (the name as it first came, every value): built in one pass, on first use."""
        if self._index is None:
            index: dict[str, tuple[str, list[str]]] = {}
            for name, value in self._items:
                entry = index.get(self._key(name))
                if entry is None:
                    index[self._key(name)] = (name, [value])
                else:
                    entry[1].append(value)
            self._index = index
        return self._index

    def getall(self, name: str) -> list[str]:
        """Every value of ``name``, in order; an empty list if there is none."""
        entry = self._lookup().get(self._key(name))
        return list(entry[1]) if entry is not None else []

    def __getitem__(self, name: str) -> str:
        entry = self._lookup().get(self._key(name))
        if entry is None:
            raise KeyError(name)
        return entry[1][0]

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, _ in self._lookup().values()])

    def __len__(self) -> int:
        return len(self._lookup())

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair, repeated names included, in order."""
        return list(self._items)

    def to_dict(self) -> dict[str, str | list[str]]:
        """A plain dict for JSON: a single value as is, repeated values as a list."""
        return {name: values[0] if len(values) == 1 else list(values) for name, values in self._lookup().values()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class Headers(MultiDict):
    """Header fields: names compare case-insensitively; set and append validate.

        headers["content-type"]            # first value, whatever the case it was sent in
        headers.getall("Accept")           # every value
        headers.set("Cache-Control", "no-store")   # replaces every earlier value
        headers.append("Set-Cookie", "a=1")        # adds one more
    """

    __slots__ = ()

    def _key(self, name: str) -> str:
        return name.lower()

    def set(self, name: str, value: str) -> None:
        """Replace every value of ``name`` by ``value``."""
        check_field(name, value)
        key = name.lower()
        self._items = [item for item in self._items if item[0].lower() != key]
        self._items.append((name, value))
        self._index = None

    def append(self, name: str, value: str) -> None:
        """Add one more value for ``name``, after the ones already there."""
        check_field(name, value)
        self._items.append((name, value))
        self._index = None

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        kept = [item for item in self._items if item[0].lower() != key]
        if len(kept) == len(self._items):
            raise KeyError(name)
        self._items = kept
        self._index = None

    def encode(self, skip: tuple[str, ...] = ()) -> bytes:
        """The fields as header lines, each ending in CRLF; names in ``skip`` (lower case) left out."""
        return b"".join(
            b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in self._items
            if name.lower() not in skip
        )


def check_field(name: str, value: str) -> None:
    """Raise ValueError unless ``name: value`` is a header line that cannot break the message."""
    if not isinstance(name, str) or not TOKEN.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}: use letters, digits and !#$%&'*+-.^_`|~")
    if not isinstance(value, str):
        raise ValueError(f"header {name} must be a str, got {type(value).__name__}")
    if FORBIDDEN_IN_VALUE.search(value):
        raise ValueError(f"header {name} refused: its value {value!r} contains CR, LF or NUL")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name} refused: {value!r} is not latin-1; percent-encode it") from None
