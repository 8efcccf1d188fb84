"""Sphinx configuration of the tutorial's website. Build it with docs/build.py, not by hand.

The tool is Sphinx with MyST-NB (see docs/README.md for the comparison): pure Python,
installed from PyPI with the rest of the project; MyST-NB executes every notebook while
the site is built (the step servers really run, through the harness, in the notebooks'
own folder, notebooks/), and MyST reads the READMEs and the notebooks' markdown as GitHub shows
them. Nothing a page needs comes from another host: the theme (Furo) ships its files,
and mermaid is vendored from the npm registry by docs/build.py.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENDORED = ROOT / "build" / "site" / "vendor"  # filled by docs/build.py (mermaid)
sys.path.insert(0, str(HERE))

project = "Build an asyncio web framework from scratch"
html_show_copyright = False
extensions = [
    "myst_nb",  # notebooks (executed) and markdown, through MyST
    "site_ext",  # docs/site_ext.py: mermaid diagrams, links to folders
    "sphinx.ext.githubpages",  # .nojekyll, for GitHub Pages
]

# The source folder is the repository itself, so that every relative link and path in
# the READMEs and notebooks means what it means on GitHub and in JupyterLab. Only these
# files are pages; the root README is the home page (docs/build.py also saves it as
# index.html).
root_doc = "README"
include_patterns = [
    "README.md",
    "notebooks/[0-9][0-9]_*.ipynb",
    "steps/*/README.md",
    "*/README.md",  # solution/, benchmarks/, docs/, tutorial/...
]
exclude_patterns = [".*", "build", "site", "*.egg-info", "**/.ipynb_checkpoints", "**/__pycache__"]

# The table of contents: Sphinx reads it from a toctree in the home page, and the
# README has none (GitHub would show it as text), so it is added to the README's text
# as Sphinx reads it. Hidden on the page: Furo shows it in the sidebar, and its order
# sets each page's previous/next links.
TABLE_OF_CONTENTS = """

```{toctree}
:hidden:
:caption: The steps, explained and run
:glob:

notebooks/*
```

```{toctree}
:hidden:
:caption: The finished framework, and more
:glob:

solution/README
*/README
```

```{toctree}
:hidden:
:caption: The step folders
:glob:

steps/*/README
```
"""


def add_table_of_contents(app, docname, source):
    if docname == root_doc:
        source[0] += TABLE_OF_CONTENTS


def setup(app):
    app.connect("source-read", add_table_of_contents)


# MyST: GitHub's heading anchors (benchmarks/README.md#profile), ```mermaid fences as diagrams.
myst_heading_anchors = 6
myst_fence_as_directive = ["mermaid"]

# MyST-NB: run every notebook, every build, in its own folder (notebooks/), as JupyterLab
# does; a cell that fails stops the build.
nb_execution_mode = "force"
nb_execution_in_temp = False
nb_execution_timeout = 120  # seconds for one cell
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True  # a cell's printed lines as one block, as in JupyterLab
nb_ipywidgets_js = {}  # no widgets here; the default would load require.js from a CDN

html_theme = "furo"
html_title = "Build an asyncio web framework"
html_static_path = [str(HERE / "_static"), str(VENDORED)]
html_css_files = ["site.css"]
html_favicon = str(HERE / "_static" / "favicon.svg")  # or the browser asks for /favicon.ico, a 404
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": True}  # left/right arrow keys: previous/next page
