"""Every notebook runs top to bottom, as a learner would run it, and leaves no server behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 30  # seconds for any one cell
LAUNCHER = "harness.launch"  # every server the harness starts runs under it


def launched_servers() -> set[int]:
    """Pids of the servers the harness started that are still running (Linux /proc)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:  # it ended while we looked
                continue
            if LAUNCHER.encode() in cmdline:
                pids.add(int(entry.name))
    return pids


@pytest.fixture
def jupyter_dirs(tmp_path, monkeypatch):
    """Kernels write under $HOME; keep a test run from touching the learner's settings."""
    for name in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("MPLBACKEND", "agg")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts server processes through /proc")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
@pytest.mark.timeout(150)
def test_notebook_runs_clean(path: Path, jupyter_dirs) -> None:
    before = launched_servers()
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},  # the kernel's cwd: notebooks/
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    deadline = time.monotonic() + 10
    while (left := launched_servers() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"{path.name} left server processes running: {sorted(left)}"
