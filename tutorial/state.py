"""What `tutorial` remembers between commands, in ``.tutorial.json`` beside the learner's file.

    {"current": "my_server.py",
     "files": {"my_server.py": {"step": "04", "passed": ["01", "02", "03"],
                                "challenge": "04", "challenges_passed": ["04:date"],
                                "last": {...the last check...}, "hints": {"04:2": 1}}}}

Written whole to a temporary file, then renamed over the old one: a Ctrl-C (or a crash)
at any moment leaves either the old state or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

NAME = ".tutorial.json"


@dataclass
class Progress:
    """One learner file's progress."""

    step: str | None = None  # the step begun last (tutorial start)
    passed: list[str] = field(default_factory=list)  # steps whose check passed
    challenge: str | None = None  # the step whose challenges `check --challenge` runs
    challenges_passed: list[str] = field(default_factory=list)  # "04:date"
    last: dict | None = None  # the last check: step, challenges, first failing item, the file's digest
    hints: dict[str, int] = field(default_factory=dict)  # "04:2" (or "04:c1") -> hints shown so far

    def mark_passed(self, step: str) -> None:
        if step not in self.passed:
            self.passed = sorted([*self.passed, step])


@dataclass
class State:
    folder: Path
    current: str | None = None  # the file name used when no --file is given
    files: dict[str, Progress] = field(default_factory=dict)
    problem: str = ""  # why an unreadable state file was set aside

    @classmethod
    def load(cls, folder: Path) -> State:
        path = folder / NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            files = {name: Progress(**entry) for name, entry in data.get("files", {}).items()}
            return cls(folder, data.get("current"), files)
        except FileNotFoundError:
            return cls(folder)
        except (ValueError, TypeError, AttributeError) as error:  # edited by hand, or from another version
            return cls(folder, problem=f"{path} could not be read ({error}); starting afresh")

    def progress(self, file: Path) -> Progress:
        return self.files.setdefault(file.name, Progress())

    def save(self) -> None:
        data = {"current": self.current, "files": {name: asdict(p) for name, p in self.files.items()}}
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=NAME, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, self.folder / NAME)  # atomic: the old state or the new, whole
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
