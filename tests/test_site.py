"""The built website (site/, from docs/build.py) works in a real browser, offline.

Every page loads in headless Chromium with no console error and no request to another
host; the mermaid diagrams are drawn; the diffs are coloured; the notebook pages hold
their executed outputs (plots included); links between pages land on pages that exist.

This test does not build the site (a minute of notebooks): it skips, saying how to
build it, when site/ is missing, and skips when Chromium (Debian's `chromium`) or
Playwright's Python package is missing. With SITE_TEST_REQUIRED=1 (as in .ci/run) each
of these is a failure instead.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# What Chromium needs on this kind of machine, besides --headless, --no-sandbox (we are
# root) and a fresh --user-data-dir, which Playwright's launch() passes: no background
# connections to Google's hosts (the network is closed).
CHROMIUM_FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRED = os.environ.get("SITE_TEST_REQUIRED") == "1"
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
WAIT_MS = 30_000  # for a page to load, or its diagrams to be drawn


def build_command() -> str:
    """The README's command that builds the site (the code block after its marker)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("<!-- site: build-command"):
            block = lines[number + 1 :]
            if block and block[0].startswith("```"):
                return "\n".join(block[1 : block.index("```", 1)]).strip()
    return "python docs/build.py"


def skip(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (SITE_TEST_REQUIRED=1)")
    pytest.skip(reason)


def pages() -> list[str]:
    """The pages the site must have, relative to site/, from the repository's files."""
    found = ["index.html", "README.html", "search.html", "genindex.html"]
    found += [f"notebooks/{path.stem}.html" for path in NOTEBOOK_SOURCES]
    found += [f"steps/{path.parent.name}/README.html" for path in sorted(ROOT.glob("steps/[0-9][0-9]_*/README.md"))]
    found += [f"{path.parent.name}/README.html" for path in sorted(ROOT.glob("[!.]*/README.md"))]
    return found


def calls(name: str) -> set[str]:
    """The notebooks (their stems) whose source calls ``name``."""
    return {path.stem for path in NOTEBOOK_SOURCES if re.search(rf"\b{re.escape(name)}\(", path.read_text())}


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        skip(f"site/ is not built; build it with: {build_command()}")
    return SITE


# -- without a browser: every page is there, and every link lands ---------------------------


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


@functools.cache
def parsed(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text())
    return links


def test_every_page_is_built(site):
    missing = [page for page in pages() if not (site / page).is_file()]
    assert not missing, f"not in site/: {missing}; rebuild with: {build_command()}"


def test_links_between_pages_land(site):
    """A link to a page of the site points at a file that exists, and at an anchor that
    exists on it; none points at a folder (GitHub shows a folder's README, a static site
    does not)."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        for href in parsed(page).hrefs:
            if urlsplit(href).scheme or href.startswith("//"):
                continue  # another site: the theme's credits, the READMEs' references
            target, anchor = urldefrag(urljoin(page.relative_to(site).as_posix(), href))
            target_path = site / unquote(target)
            where = f"{page.relative_to(site)}: {href}"
            if target.endswith("/") or not target_path.is_file():
                broken.append(f"{where} (no such page)")
            elif anchor and target_path.suffix == ".html" and anchor not in parsed(target_path).ids:
                broken.append(f"{where} (no #{anchor} there)")
    assert not broken, "links that do not land:\n" + "\n".join(broken)


def content_links(page: Path) -> set[str]:
    """The links in a page's text (its <article>), not in the theme's sidebar."""
    text = page.read_text()
    article = text[text.index("<article") : text.index("</article>")]
    return set(re.findall(r'href="([^"#][^"]*)"', article))


def test_links_to_folders_and_notebooks_become_pages(site):
    """As on GitHub: a link to a folder (steps/04_response/, solution/) lands on its
    README's page, notebooks/ on the first notebook, a link to a .ipynb on its page."""
    home = content_links(site / "README.html")
    for href in ("steps/04_response/README.html", "solution/README.html", "notebooks/01_udp_socket.html"):
        assert href in home, f"the home page has no link to {href}: {sorted(home)}"
    step = content_links(site / "steps" / "04_response" / "README.html")
    assert "../../notebooks/04_response.html" in step, sorted(step)


def test_previous_and_next(site):
    text = (site / "notebooks" / "09_keep_alive.html").read_text()
    assert re.search(r'class="next-page" href="10_app.html"', text), "no next link to notebook 10"
    assert re.search(r'class="prev-page" href="08_limits.html"', text), "no previous link to notebook 08"


# -- in Chromium ------------------------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # no line per request on stderr
        pass


@pytest.fixture(scope="module")
def server(site):
    """site/ over HTTP on 127.0.0.1, as GitHub Pages (or `python -m http.server`) serves it."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(site):
    if shutil.which(CHROMIUM) is None:
        skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip("Playwright is not installed (.venv/bin/pip install playwright; no browser download needed)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            chromium_sandbox=False,
            args=CHROMIUM_FLAGS,
            timeout=WAIT_MS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Visit:
    """A page opened in the browser, with what it printed and requested."""

    def __init__(self, context, url: str, allowed: str) -> None:
        self.problems: list[str] = []
        self.page = context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("request", lambda request: self._request(request, allowed))
        self.page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))
        self.page.on("response", self._response)
        self.page.goto(url, wait_until="load")

    def _console(self, message) -> None:
        if message.type in ("error", "assert"):
            self.problems.append(f"console {message.type}: {message.text} ({message.location.get('url')})")

    def _request(self, request, allowed: str) -> None:
        if not request.url.startswith((allowed, "data:", "blob:")):
            self.problems.append(f"request to another host: {request.url}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def diagrams_drawn(self) -> int:
        """Wait until mermaid has drawn every diagram of the page; return how many."""
        count = self.page.locator("pre.mermaid").count()
        if count:
            self.page.wait_for_function(
                "n => document.querySelectorAll('pre.mermaid svg').length >= n", arg=count, timeout=WAIT_MS
            )
            narrow = self.page.evaluate(
                "[...document.querySelectorAll('pre.mermaid svg')]"
                ".filter(svg => svg.getBoundingClientRect().width < 50).length"
            )
            assert not narrow, f"{narrow} diagram(s) drawn with no width"
        return count


@pytest.fixture(scope="module")
def context(browser):
    """One browser context for all the pages: its cache keeps mermaid.min.js (3.5 MB)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def visit(context, server):
    opened = []

    def open_page(page: str, base: str = server) -> Visit:
        opened.append(Visit(context, urljoin(base, page), allowed=base))
        return opened[-1]

    yield open_page
    for visited in opened:
        visited.page.close()


COLOURS = r"""
() => {
  // The computed colour of the first added ("+") and removed ("-") line of a diff in
  // the notebook's outputs, as [r, g, b]. Pygments makes each diff line one span.
  const rgb = s => s.match(/\d+/g).slice(0, 3).map(Number);
  const found = {};
  for (const span of document.querySelectorAll('.cell_output pre > span')) {
    const text = span.textContent;
    const before = span.previousSibling;
    const lineStart = !before || before.textContent.endsWith('\n');
    for (const sign of ['+', '-']) {
      if (lineStart && text.startsWith(sign) && !text.startsWith(sign.repeat(3)) && !(sign in found)) {
        found[sign] = rgb(getComputedStyle(span).color);
      }
    }
  }
  return found;
}
"""


def check_notebook_outputs(page, stem: str) -> None:
    """The executed outputs are on the page: a server's log, coloured diffs, the plots."""
    cells = page.locator(".cell.docutils.container").count()
    outputs = page.locator(".cell_output").count()
    assert cells and outputs >= cells // 2, f"{stem}: {outputs} outputs for {cells} code cells"
    printed = page.locator(".cell_output").all_inner_texts()
    assert any("Listening on 127.0.0.1:" in text for text in printed), f"{stem}: no server's output"
    if stem in calls("show_diff"):
        colours = page.evaluate(COLOURS)
        # Added lines green, removed lines red, whichever the notebook's diffs have (01's
        # only diff takes a line out).
        assert colours, f"{stem}: no added or removed line found in a diff"
        if "+" in colours:
            r, g, b = colours["+"]
            assert g > r and g > b, f"{stem}: an added line is not green: {colours['+']}"
        if "-" in colours:
            r, g, b = colours["-"]
            assert r > g and r > b, f"{stem}: a removed line is not red: {colours['-']}"
    if stem in calls("plt.show"):
        sizes = page.evaluate("[...document.querySelectorAll('.cell_output img')].map(i => i.naturalWidth)")
        assert sizes and all(sizes), f"{stem}: plot images missing or empty: {sizes}"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", [page for page in pages() if page != "README.html"])  # index.html is its copy
def test_page_in_the_browser(visit, page):
    """No console error, no failed request, no request to another host; the diagrams
    drawn; on a notebook's page, its outputs."""
    opened = visit(page)
    drawn = opened.diagrams_drawn()
    if page.startswith("notebooks/"):
        assert drawn, f"{page} has no mermaid diagram"
        check_notebook_outputs(opened.page, Path(page).stem)
    assert not opened.problems, f"{page}:\n" + "\n".join(opened.problems)


def test_home_page_is_the_readme(site):
    assert (site / "index.html").read_bytes() == (site / "README.html").read_bytes()


@pytest.mark.timeout(120)
def test_opened_from_disk_diagrams_are_drawn(visit, site):
    """Opened as a file (no web server at all), a page still draws its diagrams."""
    opened = visit("notebooks/09_keep_alive.html", base=site.as_uri() + "/")
    assert opened.diagrams_drawn() == 2
    assert not opened.problems, "\n".join(opened.problems)
