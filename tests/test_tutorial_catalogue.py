"""The steps' tasks.toml say what the `tutorial` command needs, and agree with the tests,
the step READMEs and the notebooks (milliseconds: nothing is run)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tutorial.catalogue import HINT_LEVELS, ROOT, all_steps, reference_source

STEPS = all_steps()
IDS = [step.name for step in STEPS]


def functions_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")]


def test_every_step_has_tasks():
    assert [step.number for step in STEPS] == [f"{n:02d}" for n in range(1, len(STEPS) + 1)]
    for step in STEPS:
        assert 2 <= len(step.tasks) <= 6, f"{step.name}: {len(step.tasks)} tasks; a few, in build order"
        titles = [task.title for task in step.tasks]
        assert len(set(titles)) == len(titles), f"{step.name}: two tasks with one title"
        for task in step.tasks:
            assert len(task.hints) == len(HINT_LEVELS)
            assert "`" not in task.title and "\n" not in task.title, f"{step.name}: {task.title!r} is one plain line"


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_every_test_belongs_to_exactly_one_task(step):
    tests = functions_in(step.test_file)
    named = [name for task in step.tasks for name in task.tests]
    missing = sorted(set(tests) - set(named))
    assert not missing, f"{step.name}/tasks.toml: these tests belong to no task: {missing}"
    unknown = sorted(set(named) - set(tests))
    assert not unknown, f"{step.name}/tasks.toml names tests that {step.test_file.name} does not have: {unknown}"
    twice = sorted({name for name in named if named.count(name) > 1})
    assert not twice, f"{step.name}/tasks.toml: in more than one task: {twice}"


def test_steps_02_on_have_a_challenge():
    assert [step.number for step in STEPS if not step.challenges] in ([], ["01"])


@pytest.mark.parametrize("step", [s for s in STEPS if s.challenges], ids=[s.name for s in STEPS if s.challenges])
def test_each_challenge_has_tests_and_a_reference_that_applies(step):
    names = [challenge.name for challenge in step.challenges]
    assert len(set(names)) == len(names)
    for challenge in step.challenges:
        assert re.fullmatch(r"[a-z][a-z0-9-]*", challenge.name), challenge.name
        path = step.folder / challenge.test_file
        assert re.fullmatch(r"challenge_\w+\.py", challenge.test_file) and path.is_file(), (
            f"{step.name}: {challenge.test_file} (challenge_*.py, so that `pytest steps/` does not collect it)")
        assert functions_in(path), f"{path} has no test"
        assert challenge.reference, f"{step.name}: challenge {challenge.name!r} has no reference solution"
        # Each replacement applies exactly once (or this raises, naming it), and changes the file.
        assert reference_source(step, challenge) != step.server.read_text(encoding="utf-8")
        compile(reference_source(step, challenge), f"{step.name} + {challenge.name}", "exec")


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_the_readme_lists_the_tasks_and_challenges(step):
    readme = (step.folder / "README.md").read_text(encoding="utf-8")
    section = readme.partition("## Build it yourself")[2].partition("\n## ")[0]
    assert section, f"{step.name}/README.md has no '## Build it yourself' section"
    listed = re.findall(r"(?m)^\d+\. (.+)$", section)
    expected = [task.title for task in step.tasks]
    assert listed == expected, f"{step.name}/README.md's Build it yourself lists {listed}, tasks.toml has {expected}"
    assert f"tutorial start {step.number}" in section
    for challenge in step.challenges:
        assert f"- {challenge.title}" in section, f"{step.name}/README.md does not list challenge {challenge.title!r}"


@pytest.mark.parametrize("step", [s for s in STEPS if s.challenges], ids=[s.name for s in STEPS if s.challenges])
def test_the_notebooks_try_it_ends_with_the_challenge_command(step):
    source = (ROOT / "notebooks" / "src" / f"{step.name}.py").read_text(encoding="utf-8")
    try_it = source.partition("# ## Try it")[2]
    assert f"tutorial challenge {step.number}" in try_it and "tutorial check --challenge" in try_it, (
        f"notebooks/src/{step.name}.py: its Try it should give the challenge's commands")
