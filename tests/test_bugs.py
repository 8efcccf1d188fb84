"""The bug catalogue (harness/bugs.py) still fits the steps: every replacement finds its
text exactly once. Milliseconds; tools/reintroduce_bugs.py then checks, in minutes, that
the step tests catch each bug."""

from __future__ import annotations

import pytest

from harness.bugs import BUGS, bug


@pytest.mark.parametrize("entry", BUGS, ids=[entry.name for entry in BUGS])
def test_every_bug_still_applies_to_its_step(entry):
    assert entry.stale() is None, (
        f"harness/bugs.py, {entry.name!r}: {entry.stale()}. A change to the step moved the code this bug "
        "replaces: update the entry (the notebooks that show it use it too)")


def test_names_are_unique_and_found():
    names = [entry.name for entry in BUGS]
    assert len(set(names)) == len(names)
    assert bug("late-timer").step == "08_limits"
    with pytest.raises(KeyError, match="no bug named 'nope'"):
        bug("nope")
