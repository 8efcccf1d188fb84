"""How protoweb's modules depend on one another, checked so that it stays so.

The App is at the top: it imports the server and the ASGI adapter only when it is
served, and they take what they use (a dispatch callable, a Config), never the App.
"""

import ast
import subprocess
import sys
from pathlib import Path

import protoweb.connection
from protoweb.connection import State

PACKAGE = Path(protoweb.connection.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import is (under TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_server_and_the_asgi_adapter_do_not_import_the_app():
    for module in ("server.py", "asgi.py", "connection.py"):
        assert "protoweb.app" not in imported_modules(PACKAGE / module), module


def test_importing_the_app_imports_neither_the_server_nor_the_asgi_adapter():
    # A fresh interpreter: this one has imported everything already.
    code = "import sys, protoweb.app; print(' '.join(sorted(m for m in sys.modules if m.startswith('protoweb'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "protoweb.app" in loaded
    assert not {"protoweb.server", "protoweb.asgi", "protoweb.connection"} & set(loaded), loaded


def test_the_module_names_of_the_states_are_the_states_of_those_names():
    # connection.py names each state (a global is faster than State.IDLE on the hot path).
    for state in State:
        assert getattr(protoweb.connection, state.name) is state
