"""The steps, their tasks and their challenges, read from each step's ``tasks.toml``.

A step's tests are grouped into a few numbered tasks, in the order a learner builds
them; each task names its tests (functions of ``test_stepNN.py``) and has hints in
levels. A challenge goes past the step: its own test file (``challenge_*.py``, which
``pytest steps/`` does not collect), hints, and a reference solution written as exact
replacements in the step's ``server.py``. The format is described in
``tutorial/README.md``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness.variant import replaced

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[import-not-found]  # only on 3.10, which has no tomllib

ROOT = Path(__file__).resolve().parents[1]
STEPS = ROOT / "steps"
HINT_LEVELS = ("a nudge", "where in the code", "the idea in words")


class CatalogueError(ValueError):
    """A tasks.toml that does not say what it must (a contributor's mistake)."""


@dataclass(frozen=True)
class Task:
    number: int
    title: str
    tests: tuple[str, ...]  # test function names
    hints: tuple[str, ...]  # one per level of HINT_LEVELS


@dataclass(frozen=True)
class Challenge:
    number: int  # its place among the step's challenges, from 1
    name: str
    title: str
    text: str  # what to build, for `tutorial challenge NN`
    test_file: str  # beside the step's tests, e.g. challenge_date.py
    hints: tuple[str, ...]
    reference: tuple[tuple[str, str], ...]  # (the step's code, the reference's) in server.py


@dataclass(frozen=True)
class Step:
    number: str  # "04"
    folder: Path  # steps/04_response

    @property
    def name(self) -> str:  # "04_response"
        return self.folder.name

    @property
    def title(self) -> str:
        """The README's first heading without "Step NN: ", e.g. "Responses"."""
        first = (self.folder / "README.md").read_text(encoding="utf-8").splitlines()[0]
        title = re.sub(r"^#\s*Step \d+:\s*", "", first).strip()
        return title[:1].upper() + title[1:]

    @property
    def server(self) -> Path:
        return self.folder / "server.py"

    @property
    def test_file(self) -> Path:
        return self.folder / f"test_step{self.number}.py"

    @property
    def tasks(self) -> tuple[Task, ...]:
        return _read(self.folder)[0]

    @property
    def challenges(self) -> tuple[Challenge, ...]:
        return _read(self.folder)[1]

    def task_of(self, test_name: str) -> Task | None:
        return next((task for task in self.tasks if test_name in task.tests), None)

    @property
    def previous(self) -> Step | None:
        index = all_steps().index(self)
        return all_steps()[index - 1] if index else None

    @property
    def next(self) -> Step | None:
        steps = all_steps()
        index = steps.index(self)
        return steps[index + 1] if index + 1 < len(steps) else None


@cache
def all_steps() -> tuple[Step, ...]:
    if not STEPS.is_dir():  # installed without the repository around it (pip install ., not -e)
        raise CatalogueError(f"the tutorial command reads the steps from the repository, and {STEPS} is not "
                             "there: install it from a clone with `pip install -e .` (editable)")
    return tuple(Step(path.name[:2], path) for path in sorted(STEPS.iterdir())
                 if path.is_dir() and re.fullmatch(r"\d\d_\w+", path.name))


def find_step(text: str) -> Step:
    """The step called ``04``, ``4`` or ``04_response``; ValueError naming the choices if none."""
    wanted = text.strip()
    for step in all_steps():
        if wanted in (step.number, step.name) or (wanted.isdigit() and int(wanted) == int(step.number)):
            return step
    first, last = all_steps()[0].number, all_steps()[-1].number
    raise ValueError(f"there is no step {text!r}: the steps are {first} to {last} "
                     f"({', '.join(step.name for step in all_steps())})")


@cache
def _read(folder: Path) -> tuple[tuple[Task, ...], tuple[Challenge, ...]]:
    path = folder / "tasks.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"{path} is missing") from None
    except tomllib.TOMLDecodeError as error:
        raise CatalogueError(f"{path}: {error}") from None
    tasks = tuple(
        Task(number, _text(entry, "title", path), tuple(entry.get("tests", ())), _hints(entry, path))
        for number, entry in enumerate(data.get("task", []), start=1)
    )
    challenges = tuple(
        Challenge(
            number,
            _text(entry, "name", path),
            _text(entry, "title", path),
            _text(entry, "text", path).strip(),
            _text(entry, "tests", path),
            _hints(entry, path),
            tuple((_text(r, "old", path), _text(r, "new", path)) for r in entry.get("reference", [])),
        )
        for number, entry in enumerate(data.get("challenge", []), start=1)
    )
    if not tasks:
        raise CatalogueError(f"{path} has no [[task]]")
    return tasks, challenges


def _text(entry: dict, key: str, path: Path) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{path}: an entry has no {key!r}: {entry.get('title') or entry}")
    return value


def _hints(entry: dict, path: Path) -> tuple[str, ...]:
    hints = entry.get("hints", [])
    if len(hints) != len(HINT_LEVELS) or not all(isinstance(h, str) and h.strip() for h in hints):
        raise CatalogueError(f"{path}: {entry.get('title')!r} needs {len(HINT_LEVELS)} hints "
                             f"({', then '.join(HINT_LEVELS)})")
    return tuple(" ".join(hint.split()) for hint in hints)


def reference_source(step: Step, *challenges: Challenge) -> str:
    """The step's server.py with the challenges' reference replacements made, in order (each
    ``old`` must occur exactly once, so a change to the step cannot leave it stale)."""
    text = step.server.read_text(encoding="utf-8")
    for challenge in challenges:
        try:
            text = replaced(text, challenge.reference, f"{step.name}/server.py")
        except ValueError as error:
            raise CatalogueError(f"challenge {challenge.name!r}: {error}") from None
    return text
