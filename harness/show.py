"""Show code, diffs and bytes in a notebook, read from the files on disk.

What a learner reads is rendered from the files that run, so the two cannot drift:

    show_diff("../steps/03_router/server.py", "../steps/04_response/server.py")
    show_code("../steps/04_response/server.py", "def response_writer")
    show_bytes(exchange.received)
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from IPython.display import HTML, display
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonLexer

# Inline styles (noclasses) render in JupyterLab even when the notebook is not trusted.
_FORMATTER = HtmlFormatter(noclasses=True, style="friendly", nobackground=False)


def _html(source: str, lexer) -> HTML:
    return HTML(highlight(source, lexer, _FORMATTER))


def diff_text(old: str | Path, new: str | Path, context: int = 3) -> str:
    """The unified diff between two files, as text."""
    old, new = Path(old), Path(new)
    lines = difflib.unified_diff(
        old.read_text().splitlines(keepends=True),
        new.read_text().splitlines(keepends=True),
        fromfile=_label(old),
        tofile=_label(new),
        n=context,
    )
    return "".join(lines)


def _label(path: Path) -> str:
    parts = path.resolve().parts
    return "/".join(parts[-3:]) if "steps" in parts else path.name


def hunks(old: str | Path, new: str | Path, context: int = 3) -> list[str]:
    """The diff cut into its hunks (each starts with an @@ line), to walk through one by one."""
    text = diff_text(old, new, context)
    head, *rest = re.split(r"(?m)^(?=@@ )", text)
    return rest


def diff_size(old: str | Path, new: str | Path) -> tuple[int, int]:
    """(lines added, lines removed) from ``old`` to ``new``."""
    lines = diff_text(old, new).splitlines()[2:]  # after the ---/+++ header
    return (sum(line.startswith("+") for line in lines), sum(line.startswith("-") for line in lines))


def show_diff(old: str | Path, new: str | Path, context: int = 3, containing: str | None = None,
              collapsed: str | None = None) -> None:
    """Display the coloured diff of two files, or only the one hunk ``containing`` this text.

    Choosing a hunk by its text, not its number, keeps a walk-through honest: if the
    step's code changes so that the text moves or goes, this fails instead of quietly
    showing a different hunk under the old explanation.

    ``collapsed``: the diff (or the hunk) folded under this title, with its size, opened
    with a click: for a reader who wants it all without a wall of lines in the way.
    """
    if containing is None:
        text = diff_text(old, new, context)
    else:
        found = [hunk for hunk in hunks(old, new, context) if containing in hunk]
        if len(found) != 1:
            raise ValueError(f"{len(found)} hunks of the diff contain {containing!r}; expected exactly one")
        text = found[0]
    html = highlight(text or "(no differences)\n", DiffLexer(), _FORMATTER)
    if collapsed is not None:
        if containing is None:
            added, removed = diff_size(old, new)
        else:  # one hunk: no ---/+++ header, every line is context, - or +
            added = sum(line.startswith("+") for line in text.splitlines())
            removed = sum(line.startswith("-") for line in text.splitlines())
        parts = "" if containing else f", in {len(hunks(old, new, context))} places"
        html = (f"<details><summary>{collapsed} (+{added} / -{removed} lines{parts}; click to open)</summary>"
                f"{html}</details>")
    display(HTML(html))


def code_of(path: str | Path, start: str | None = None) -> str:
    """A file, or the block of it that starts at the line containing ``start``.

    The block runs until the next line indented no deeper than its first line
    (so ``start="def response_writer"`` gives that method, ``"class Router"`` the class).
    """
    lines = Path(path).read_text().splitlines()
    if start is None:
        return "\n".join(lines) + "\n"
    for first, line in enumerate(lines):  # noqa: B007 (first is what the loop finds: used after it)
        if start in line:
            break
    else:
        raise ValueError(f"{start!r} is not in {path}")
    indent = len(lines[first]) - len(lines[first].lstrip())
    end = first + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and len(line) - len(line.lstrip()) <= indent and not line.lstrip().startswith((")", "]", "}")):
            break
        end += 1
    while end > first + 1 and not lines[end - 1].strip():
        end -= 1
    # Decorators above a def/class belong to it.
    while first > 0 and lines[first - 1].strip().startswith("@"):
        first -= 1
    return "\n".join(lines[first:end]) + "\n"


def show_code(path: str | Path, start: str | None = None) -> None:
    """Display a file, or one function/class of it (see :func:`code_of`), highlighted."""
    display(_html(code_of(path, start), PythonLexer()))


def show_bytes(data: bytes, title: str = "", limit: int = 2000) -> None:
    """Print bytes one protocol line per output line, with the line endings visible.

    b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\n{}" prints as

        HTTP/1.1 200 OK\\r\\n
        Content-Length: 2\\r\\n
        \\r\\n
        {}
    """
    if title:
        print(title)
    if not data:
        print("    (no bytes)")
        return
    shown = data[:limit]
    for line in shown.splitlines(keepends=True):
        text = repr(line)[2:-1]  # the bytes' repr without b'...'
        print("    " + text)
    if len(data) > limit:
        print(f"    ... ({len(data) - limit} more bytes, {len(data)} in all)")


def show_exchange(exchange) -> None:
    """Print both directions of a :class:`harness.wire.Exchange`, byte for byte."""
    show_bytes(b"".join(exchange.sent), "→ sent by the client:")
    ending = "then the server closed the connection" if exchange.closed else "the connection was still open"
    show_bytes(exchange.received, f"← received from the server ({ending}):")


def run_client(script: str | Path, *args: str, timeout: float = 30.0):
    """Run a client script as in a terminal, print what it printed and its exit status,
    and return the CompletedProcess (to assert on)."""
    from harness.process import run_script

    done = run_script(script, *args, timeout=timeout)
    print(done.stdout + done.stderr + f"(exit status {done.returncode})")
    return done
