"""Make a variant of a step's file: the same code with a few exact replacements.

The notebooks use it to run the article's buggy version of a step next to the fixed
one. The variant is the real file with one or two lines changed, so the learner sees
exactly the difference (``show_diff(original, buggy)``) and nothing else.

    buggy = variant("../steps/02_protocol/server.py",
                    ("lambda: Server()", "lambda: protocol"), ...)
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

_folder: Path | None = None


def _temp_folder() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="variants-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


def replaced(text: str, replacements: Iterable[tuple[str, str]], where: str) -> str:
    """``text`` with each ``(old, new)`` replaced, in order. Each ``old`` must occur exactly
    once, or ValueError says which (``where`` names the text): so an edit to a step cannot
    leave a replacement quietly doing nothing, or too much."""
    for old, new in replacements:
        count = text.count(old)
        if count != 1:
            shown = repr(old) if len(old) <= 70 else f"{old[:70]!r}..."
            raise ValueError(f"{shown} occurs {count} times in {where}, expected exactly once")
        text = text.replace(old, new)
    return text


def variant(source: str | Path, *replacements: tuple[str, str], name: str | None = None) -> Path:
    """Copy ``source`` with each ``(old, new)`` replaced (see :func:`replaced`).

    Returns the path of the copy (in a temporary folder removed when Python exits).
    """
    source = Path(source)
    text = replaced(source.read_text(), replacements, str(source))
    target = _temp_folder() / (name or f"{source.parent.name}_{source.stem}_variant.py")
    target.write_text(text)
    return target
