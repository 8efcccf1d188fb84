"""Build the notebooks from their sources in notebooks/src/.

    python notebooks/build.py           # write notebooks/NN_name.ipynb from notebooks/src/NN_name.py
    python notebooks/build.py --check   # exit 1 if a notebook is not what its source builds
    python notebooks/build.py 07 10     # only these (by number or whole name)

A source is plain Python in the "percent" format: `# %%` starts a code cell and
`# %% [markdown]` a markdown cell whose lines are comments. Text sources review
and diff well; the .ipynb files are built from them without outputs and with
stable cell ids, so a rebuild of an unchanged source is byte-identical.
"""

import argparse
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"


def cells_of(source: str) -> list[tuple[str, str]]:
    """[(kind, text)] from a percent-format source; kind is 'code' or 'markdown'."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"text before the first '# %%' marker: {line!r}")
    built = []
    for kind, lines in cells:
        if kind == "markdown":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
        text = "\n".join(lines).strip("\n")
        if text:
            built.append((kind, text))
    return built


def build(source_path: Path) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    number = source_path.stem.split("_")[0]
    for index, (kind, text) in enumerate(cells_of(source_path.read_text()), start=1):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = make(text)
        cell.id = f"s{number}-{index:03d}"
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the notebooks are up to date")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these notebooks (e.g. 07 or 07_path_params)")
    args = parser.parse_args()
    stale = []
    sources = sorted(SOURCES.glob("*.py"))
    if args.names:
        sources = [s for s in sources if any(s.stem == n or s.stem.startswith(n + "_") for n in args.names)]
        if not sources:
            parser.error(f"no notebook source matches {' '.join(args.names)}")
    for source_path in sources:
        target = HERE / f"{source_path.stem}.ipynb"
        text = build(source_path)
        if target.exists() and target.read_text() == text:
            continue
        if args.check:
            stale.append(target.name)
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(HERE.parent)}")
    if stale:
        print("out of date (run python notebooks/build.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
