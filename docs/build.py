"""Build the tutorial as a static website in site/, every notebook executed.

    .venv/bin/python docs/build.py              # into site/ (then open site/index.html)
    .venv/bin/python docs/build.py --out DIR    # somewhere else

What it does:
1. Vendors mermaid (the diagrams): `npm pack mermaid@VERSION` from the npm registry,
   once, into build/site/cache/; the archive's SHA-512 is checked against the one
   pinned here, and dist/mermaid.min.js is unpacked into build/site/vendor/.
2. Runs Sphinx (docs/conf.py) from scratch on the repository's own files: MyST-NB
   executes each notebook in notebooks/, starting the step servers as JupyterLab
   would; any warning (a broken link, say) or failing cell fails the build.
3. Saves the home page (README.html) as index.html too, the page a web server shows
   for the site's address.
4. Checks that no server the notebooks started is still running.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = ROOT / "build" / "site"  # git-ignored, like the rest of build/
MERMAID_VERSION = "11.16.1"  # the mermaid that JupyterLab 4.6 draws notebooks with
MERMAID_SHA512 = "TQsq6u22fAn3rek5VOubrhKPo1g5hwC3FXUN9hiyupTckcYiGuuKGkNQrKYwGJkXUxZdojwRG46gsSCFZMDp4g=="
TOKEN = "TUTORIAL_SITE_BUILD"  # in the environment of every process the build starts
LAUNCHER = b"harness.launch"  # every server the harness starts runs under it
KERNEL_CHATTER = (  # what each notebook's kernel prints when it starts, every time
    "Kernel is running over TCP without encryption",
    "Executing notebook with kernel",
)


def vendor_mermaid() -> None:
    target = WORK / "vendor" / "mermaid"
    if (target / "mermaid.min.js").is_file() and (target / "VERSION").read_text().strip() == MERMAID_VERSION:
        return
    cache = WORK / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"mermaid-{MERMAID_VERSION}.tgz"
    if not archive.is_file():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("docs/build.py: npm (Node.js) is needed once, to fetch mermaid from the npm registry")
        print(f"fetching mermaid {MERMAID_VERSION} from the npm registry", flush=True)
        subprocess.run(
            [npm, "pack", f"mermaid@{MERMAID_VERSION}", "--silent", "--pack-destination", str(cache)],
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )
    digest = base64.b64encode(hashlib.sha512(archive.read_bytes()).digest()).decode()
    if digest != MERMAID_SHA512:
        archive.unlink()
        sys.exit(f"docs/build.py: {archive.name} is not the archive pinned here (its SHA-512 differs): removed")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for name, saved_as in (("package/dist/mermaid.min.js", "mermaid.min.js"), ("package/LICENSE", "LICENSE")):
            (target / saved_as).write_bytes(tar.extractfile(name).read())
    (target / "VERSION").write_text(MERMAID_VERSION + "\n")


def check_output_folder(out: Path) -> None:
    """Refuse to wipe a folder that is not an earlier build."""
    if out.exists() and any(out.iterdir()) and not (out / ".buildinfo").is_file():
        sys.exit(f"docs/build.py: {out} is not a site built before: remove it, or choose another --out")
    if out.resolve() in (ROOT, ROOT.parent, Path.home(), Path("/")):
        sys.exit(f"docs/build.py: will not build into {out}")


def servers_left(token: str) -> list[int]:
    """Pids of the harness's servers started by this build and still running (Linux /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    marker = f"{TOKEN}={token}".encode()
    pids = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                if LAUNCHER in (entry / "cmdline").read_bytes() and marker in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:  # it ended meanwhile, or is not ours to read
                continue
    return sorted(pids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="where to write the site (default: site/)")
    args = parser.parse_args()
    out = args.out.resolve()
    check_output_folder(out)
    started = time.monotonic()

    vendor_mermaid()
    # Sphinx writes into build/site/html (MyST-NB keeps the notebooks' images beside
    # it, in build/site/jupyter_execute), and the finished site is copied to `out`.
    html = WORK / "html"
    for old in (html, WORK / "doctrees", WORK / "jupyter_execute"):
        shutil.rmtree(old, ignore_errors=True)
    token = uuid.uuid4().hex
    env = dict(os.environ, **{TOKEN: token})
    command = [
        sys.executable, "-m", "sphinx",
        "-b", "html",
        "-c", str(HERE),
        "-d", str(WORK / "doctrees"),
        "-E", "-W", "--keep-going", "-q", "-T",  # -T: a failing notebook's traceback in full
        str(ROOT), str(html),
    ]  # fmt: skip
    print("building the site (every notebook runs: about a minute)", flush=True)
    with subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True) as sphinx:
        after_noise = False
        for line in sphinx.stderr:  # Sphinx's warnings, without the kernels' routine chatter
            if any(text in line for text in KERNEL_CHATTER) or (after_noise and not line.strip()):
                after_noise = True
                continue
            after_noise = False
            sys.stderr.write(line)

    deadline = time.monotonic() + 10
    while (left := servers_left(token)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        print(f"docs/build.py: servers started by the notebooks are still running: {left}", file=sys.stderr)
        return 1
    if sphinx.returncode != 0:
        print("docs/build.py: Sphinx failed (see above)", file=sys.stderr)
        return sphinx.returncode
    shutil.copyfile(html / "README.html", html / "index.html")
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(html, out)
    print(f"built {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}/index.html "
          f"in {time.monotonic() - started:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
