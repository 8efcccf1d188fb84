"""Every notebook runs top to bottom, as a learner would run it, and leaves no server behind."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 30  # seconds for any one cell
LAUNCHER = b"harness.launch"  # every server the harness starts runs under it
TOKEN = "NOTEBOOK_TEST_RUN"  # set for one notebook's run; its kernel and servers inherit it


def servers_of(run: str) -> set[int]:
    """Pids of the harness's servers, still running, started during ``run`` (Linux /proc).

    The token in their environment tells them apart from servers that other tests or
    programs on the machine (a benchmark, another test run) have running meanwhile.
    """
    marker = f"{TOKEN}={run}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if LAUNCHER in (entry / "cmdline").read_bytes() and marker in (entry / "environ").read_bytes():
                    pids.add(int(entry.name))
            except OSError:  # it ended while we looked, or is not ours to read
                continue
    return pids


@pytest.fixture
def run_token(tmp_path, monkeypatch) -> str:
    """A fresh environment for one notebook's kernel: its own token, and Jupyter's
    settings in a temporary folder instead of the learner's $HOME."""
    for name in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("MPLBACKEND", "agg")
    token = uuid.uuid4().hex
    monkeypatch.setenv(TOKEN, token)
    return token


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts server processes through /proc")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
@pytest.mark.timeout(150)
def test_notebook_runs_clean(path: Path, run_token: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},  # the kernel's cwd: notebooks/
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    deadline = time.monotonic() + 10
    while (left := servers_of(run_token)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"{path.name} left server processes running: {sorted(left)}"
