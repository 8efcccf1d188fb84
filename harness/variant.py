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
from pathlib import Path

_folder: Path | None = None


def _temp_folder() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="variants-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


def variant(source: str | Path, *replacements: tuple[str, str], name: str | None = None) -> Path:
    """Copy ``source`` with each ``(old, new)`` replaced; ``old`` must occur exactly once.

    Returns the path of the copy (in a temporary folder removed when Python exits).
    """
    source = Path(source)
    text = source.read_text()
    for old, new in replacements:
        count = text.count(old)
        if count != 1:
            raise ValueError(f"{old!r} occurs {count} times in {source}, expected exactly once")
        text = text.replace(old, new)
    target = _temp_folder() / (name or f"{source.parent.name}_{source.stem}_variant.py")
    target.write_text(text)
    return target
