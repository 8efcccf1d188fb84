"""Put each of the articles' bugs back into a step and check that the step's tests fail.

    python tools/reintroduce_bugs.py

A test suite that passes proves little until we have seen it fail for the right
reason. For every bug of the articles that a step fixes (each step's README names
them), this builds a variant of the step's file with the buggy code put back (from
harness/bugs.py, the catalogue the notebooks use too), runs that step's tests against
it (`pytest steps/NN --server VARIANT`, or `--client VARIANT`), and expects at least
one failure. It prints the first test that caught each bug, and exits 1 if a bug got
through unnoticed, or if an entry no longer applies to its step (stale).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.bugs import BUGS  # noqa: E402  (the one catalogue: the notebooks show the same bugs)


def run(step: str, file: str, buggy: Path) -> subprocess.CompletedProcess[str]:
    option = "--server" if file == "server.py" else "--client"
    command = [sys.executable, "-m", "pytest", f"steps/{step}", "-q", "-x", "--timeout", "60", "--color=no",
               option, str(buggy)]  # plain text whatever FORCE_COLOR says: the names are read below
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def main() -> int:
    escaped = checked = 0
    for bug in BUGS:
        step, file, since = bug.step, bug.file, bug.since
        if sys.version_info < since:
            print(f"{'skipped':10} {step}: {bug.description}: only visible on Python {since[0]}.{since[1]}+")
            continue
        checked += 1
        stale = bug.stale()
        if stale:  # the step changed under the entry: say which, and go on with the others
            escaped += 1
            print(f"{'STALE':10} {step}: {bug.description} ({bug.name}): {stale}")
            continue
        started = time.monotonic()
        buggy = bug.variant()
        done = run(step, file, buggy)
        failed = sorted(set(re.findall(r"(?:FAILED|ERROR) \S+::(\w+)", done.stdout)))
        caught = done.returncode != 0 and failed
        escaped += not caught
        verdict = "caught" if caught else "NOT CAUGHT"
        print(f"{verdict:10} {step}: {bug.description}  ({time.monotonic() - started:.1f} s)")
        for name in failed:
            print(f"{'':13}{name}")
        if not caught:
            print(done.stdout[-2000:])
    print(f"\n{checked - escaped} of {checked} bugs caught by the step tests (a stale entry counts as not caught)")
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
