"""The repository is consistent: a notebook per step, notebooks built from their sources and stripped."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = sorted(p for p in (ROOT / "steps").iterdir() if p.is_dir() and p.name[:2].isdigit())
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_one_notebook_per_step():
    assert [p.name for p in STEPS] == [p.stem for p in NOTEBOOKS]


def test_every_step_is_complete():
    for step in STEPS:
        number = step.name[:2]
        for name in ("server.py", "client.py", "README.md", f"test_step{number}.py"):
            assert (step / name).is_file(), f"{step.name} has no {name}"


def _build_module():
    spec = importlib.util.spec_from_file_location("notebook_build", ROOT / "notebooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_are_built_from_their_sources():
    build = _build_module()
    sources = sorted((ROOT / "notebooks" / "src").glob("*.py"))
    assert [p.stem for p in sources] == [p.stem for p in NOTEBOOKS]
    for source in sources:
        notebook = ROOT / "notebooks" / f"{source.stem}.ipynb"
        assert notebook.read_text() == build.build(source), (
            f"{notebook.name} differs from what notebooks/src/{source.name} builds: "
            "run `python notebooks/build.py`"
        )


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        ids = [cell.get("id") for cell in notebook["cells"]]
        assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: cell ids missing or repeated"
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name} has outputs"


def _walkthrough(source: Path):
    """(OLD, NEW, [containing texts]) of a notebook source that walks through a diff."""
    import ast

    tree = ast.parse(source.read_text())
    paths, shown = None, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            names = [getattr(t, "id", None) for t in node.targets[0].elts]
            if names == ["OLD", "NEW"]:
                paths = [ast.literal_eval(value) for value in node.value.elts]
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_diff":
            for keyword in node.keywords:
                if keyword.arg == "containing":
                    shown.append(ast.literal_eval(keyword.value))
    return paths, shown


def test_each_diff_walkthrough_shows_every_hunk_once():
    """A notebook that walks through its step's diff shows each hunk exactly once, so a
    change to a step cannot add a hunk that no notebook explains."""
    from harness.show import hunks

    for source in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        paths, shown = _walkthrough(source)
        if paths is None:
            continue
        old, new = (ROOT / "notebooks" / path for path in paths)
        parts = hunks(old, new)
        for text in shown:
            matching = [i for i, part in enumerate(parts, 1) if text in part]
            assert len(matching) == 1, f"{source.name}: {text!r} is in hunks {matching} of {len(parts)}"
        covered = sorted(i for text in shown for i, part in enumerate(parts, 1) if text in part)
        assert covered == list(range(1, len(parts) + 1)), (
            f"{source.name}: the walk-through shows hunks {covered} of the {len(parts)} in the diff"
        )


def _core_words(source: Path) -> int:
    """Words of prose (markdown cells, code fences left out) before the first heading that
    starts with "Deep dive": the notebook's core path."""
    import re

    words = 0
    for kind, text in _build_module().cells_of(source.read_text()):
        if kind != "markdown":
            continue
        if re.search(r"(?m)^#+\s*Deep dive", text):
            break
        words += len(re.findall(r"\w+", re.sub(r"```.*?```", "", text, flags=re.S)))
    return words


def test_each_notebooks_core_path_reads_in_about_20_minutes():
    """The reading path (DESIGN.md): under 2,000 words of prose before the deep dives."""
    for source in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        words = _core_words(source)
        assert words < 2000, (f"{source.name}: {words} words of prose before the first 'Deep dive' heading; "
                              "keep the core path under 2,000 (move detail into a deep dive, or cut)")


def test_no_notebook_opens_on_the_whole_diff():
    """The step's whole diff is shown collapsed (show_diff(OLD, NEW, collapsed=...)), never as a
    wall of lines; a bug put back in a copy (a few lines) may be shown whole."""
    import ast

    for source in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_diff" and \
                    [getattr(arg, "id", None) for arg in node.args[:2]] == ["OLD", "NEW"]:  # the step's diff
                keywords = {keyword.arg for keyword in node.keywords}
                assert keywords & {"containing", "collapsed"}, (
                    f"{source.name}, line {node.lineno}: a whole diff shown open; give it collapsed=... "
                    "(or show one hunk with containing=...)")
