"""Prove every challenge both ways: its reference solution passes its tests, and the plain
step's server.py fails them.

    python tools/check_challenges.py          # every step's challenges
    python tools/check_challenges.py 04 09    # some steps'

A challenge whose tests pass on the plain step proves nothing (it checks what the step
already does); one whose reference fails them is a broken exercise. Exits 1 if any
challenge is either. Run by .ci/run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tutorial.catalogue import all_steps, find_step, reference_source  # noqa: E402


def run_tests(test_file: Path, server: Path) -> tuple[bool, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), "--server", str(server), "-q", "-x",
         "-p", "no:cacheprovider", "--tb=line", "--color=no", "-W", "error::DeprecationWarning"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    return done.returncode == 0, last


def main(argv: list[str]) -> int:
    steps = [find_step(arg) for arg in argv] if argv else list(all_steps())
    problems = 0
    with tempfile.TemporaryDirectory(prefix="challenges-") as scratch:
        for step in steps:
            for challenge in step.challenges:
                test_file = step.folder / challenge.test_file
                # A valid module name: step 11's tests import the file's `app` under uvicorn.
                reference = Path(scratch) / f"reference_{step.number}_{challenge.name.replace('-', '_')}.py"
                reference.write_text(reference_source(step, challenge), encoding="utf-8")
                started = time.monotonic()
                passes, passes_line = run_tests(test_file, reference)
                fails, fails_line = run_tests(test_file, step.server)
                ok = passes and not fails
                problems += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {step.name} challenge {challenge.name!r} "
                      f"({time.monotonic() - started:.1f} s)", flush=True)
                if not passes:
                    print(f"     the reference fails its tests: {passes_line}")
                if fails:
                    print(f"     the plain step passes them (they check nothing new): {fails_line}")
    print("every challenge proven both ways" if not problems else f"{problems} challenge(s) not proven")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
