"""Two small Sphinx additions the tutorial's website needs (loaded by docs/conf.py).

1. A ``mermaid`` directive. With ``myst_fence_as_directive = ["mermaid"]`` every
   ```mermaid fence (in the READMEs and in the notebooks' markdown cells) becomes a
   ``<pre class="mermaid">`` that the vendored ``mermaid.min.js`` draws in the browser.
   sphinxcontrib-mermaid would do the same, but it loads mermaid as an ES module, and a
   browser refuses to import a module from a page opened as a file (``file://``): the
   diagrams would only appear when the site is served over HTTP. mermaid's classic
   script works both ways.

2. Links to a folder. The READMEs and notebooks link to folders as GitHub shows them
   (``../steps/04_response/``, ``solution/``): on the site such a link goes to the
   folder's README page, or, for a folder without one (``notebooks/``), to its first page.
"""

from __future__ import annotations

import html
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

MERMAID_SCRIPTS = ("mermaid/mermaid.min.js", "mermaid-init.js")  # in html_static_path


class mermaid_diagram(nodes.General, nodes.Element):
    """A diagram's mermaid source, drawn by the browser."""


class Mermaid(SphinxDirective):
    has_content = True

    def run(self) -> list[nodes.Node]:
        return [mermaid_diagram(code="\n".join(self.content))]


def visit_mermaid_html(translator, node: mermaid_diagram) -> None:
    # mermaid reads the element's text, so the escaped source comes back as written.
    translator.body.append(f'<pre class="mermaid">{html.escape(node["code"])}</pre>\n')
    raise nodes.SkipNode


def add_mermaid_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Load mermaid only on the pages that have a diagram."""
    if doctree is not None and next(doctree.findall(mermaid_diagram), None) is not None:
        for script in MERMAID_SCRIPTS:
            app.add_js_file(script, loading_method="defer")


class FolderLinks(SphinxPostTransform):
    """Point a link to a folder at the folder's README (or first) page.

    Runs just before MyST resolves its links (priority 9), and only touches the links
    MyST could not tie to a document or file by itself.
    """

    default_priority = 8

    def run(self, **kwargs) -> None:
        env = self.env
        for node in self.document.findall(addnodes.pending_xref):
            if node.get("reftype") != "myst" or node.get("refdomain"):
                continue
            path, _, anchor = node["reftarget"].partition("#")
            if not path or ":" in path:
                continue
            _, folder = env.relfn2path(path, node.get("refdoc", env.docname))
            page = folder_page(env, Path(folder))
            if page is not None:
                node["refdomain"] = "doc"
                node["reftarget"] = page
                node["reftargetid"] = anchor or None


def folder_page(env, folder: Path) -> str | None:
    """The document that stands for ``folder``: its README, else its first document."""
    if not folder.is_dir():
        return None
    readme = env.path2doc(str(folder / "README.md"))
    if readme in env.all_docs:
        return readme
    inside = sorted(doc for doc in env.all_docs if Path(env.doc2path(doc)).parent == folder)
    return inside[0] if inside else None


def setup(app: Sphinx) -> dict:
    app.add_node(mermaid_diagram, html=(visit_mermaid_html, None))
    app.add_directive("mermaid", Mermaid)
    app.connect("html-page-context", add_mermaid_scripts)
    app.add_post_transform(FolderLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
