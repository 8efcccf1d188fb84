"""The `tutorial` command: build the framework yourself, one step at a time.

Exit status: 0 when the command did what was asked (a check that passes), 1 when a check
fails (or the file cannot be checked: it does not compile, does not start), 2 for a
usage error (an unknown step, no file to check).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import signal
import sys
import textwrap
import time
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from tutorial.catalogue import HINT_LEVELS, ROOT, CatalogueError, Step, all_steps, find_step, reference_source
from tutorial.check import LearnerProblem, Result, digest, items_of, run_check
from tutorial.state import Progress, State

DEFAULT_FILE = "my_server.py"
STARTER = Path(__file__).with_name("starter.py")  # step 01 begins from this, not from a step


class UsageError(Exception):
    """A command that cannot run as given: one line says why and what to type instead."""


def _symbols() -> dict[str, str]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗·▶".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return {"passed": "ok", "failed": "XX", "unchecked": "--", "current": ">>"}
    return {"passed": "✓", "failed": "✗", "unchecked": "·", "current": "▶"}


console = Console(highlight=False, soft_wrap=True)
MARK = _symbols()
STYLE = {"passed": "green", "failed": "red", "unchecked": "dim", "current": "yellow"}


def say(text: str = "", style: str | None = None) -> None:
    """Print text as it is (no rich markup: test messages are full of brackets)."""
    console.print(text, style=style, markup=False)


def prose(text: str, indent: str = "") -> str:
    """A paragraph wrapped to the terminal (at most 88 columns: lines that read well)."""
    width = max(40, min(console.width, 88)) - len(indent)
    # A `command` is never cut in two: its spaces are no-break spaces while wrapping.
    kept = re.sub(r"`[^`]*`", lambda code: code[0].replace(" ", "\u00a0"), " ".join(text.split()))
    wrapped = textwrap.fill(kept, width, break_long_words=False, break_on_hyphens=False)
    return textwrap.indent(wrapped.replace("\u00a0", " "), indent)


def command(text: str) -> str:
    return f"`{text}`"


# -- the learner's file, step and state ---------------------------------------------------

class Context:
    """The file a command is about, the state file beside it, and that file's progress."""

    def __init__(self, file_option: str | None, must_exist: bool = True) -> None:
        here = State.load(Path.cwd())
        if file_option:
            self.file = Path(file_option)
        elif here.current:
            self.file = Path(here.current)
        else:
            self.file = Path(DEFAULT_FILE)
        self.file = self.file if self.file.is_absolute() else Path.cwd() / self.file
        self.state = here if self.file.parent.resolve() == Path.cwd().resolve() else State.load(self.file.parent)
        if self.state.problem:
            say(self.state.problem, "yellow")
        if must_exist and not self.file.is_file():
            raise UsageError(f"there is no {self.shown} here: begin a step with {command('tutorial start NN')} "
                             f"(e.g. {command('tutorial start 01')}), or name your file with --file PATH")
        self.progress: Progress = self.state.progress(self.file)

    @property
    def shown(self) -> str:
        """The file as the learner would type it."""
        try:
            return os.path.relpath(self.file)
        except ValueError:  # Windows: another drive
            return str(self.file)

    @property
    def file_option(self) -> str:
        """What to add to a suggested command so that it names this file."""
        if self.file.name == DEFAULT_FILE and self.file.parent.resolve() == Path.cwd().resolve():
            return ""
        return f" --file {self.shown}"

    def step(self, option: str | None) -> Step:
        if option:
            return parse_step(option)
        if self.progress.step:
            return find_step(self.progress.step)
        if self.progress.last:  # checked with --step, never started: the step checked last
            return find_step(self.progress.last["step"])
        current = self.state.files.get(self.state.current or "")
        if current is not None and current.step:  # another file, beside the one begun last: its step
            return find_step(current.step)
        raise UsageError(f"which step? {command('tutorial start NN')} begins one "
                         f"(or add --step NN, e.g. {command('tutorial check --step 04')})")

    def save(self, make_current: bool = False) -> None:
        """Save the state; ``make_current`` (start does): later commands without --file use this file."""
        if make_current and self.state.folder.resolve() == self.file.parent.resolve():
            self.state.current = self.file.name
        self.state.save()


def parse_step(text: str) -> Step:
    try:
        return find_step(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _shown_path(path: Path) -> str:
    """A path in the repository as the learner can type it from here: relative inside the
    repository, absolute from anywhere else."""
    try:
        shown = os.path.relpath(path)
    except ValueError:  # Windows: another drive
        return str(path)
    return str(path) if shown.startswith("..") else shown


def test_path(step: Step, name: str | None = None, file: str | None = None) -> str:
    """A step's test file (or a challenge's, or one test of it) as a path the learner can type from here."""
    shown = _shown_path(step.folder / file if file else step.test_file)
    return f"{shown}::{name}" if name else shown


# -- start ----------------------------------------------------------------------------------

def cmd_start(args: argparse.Namespace) -> int:
    step = parse_step(args.step)
    ctx = Context(args.file, must_exist=False)
    say(f"Step {step.number}: {step.title}", "bold")
    say(prose(_summary(step)))
    say()
    if ctx.file.exists():
        say(f"Your {ctx.shown} is kept: your code goes on from where it is.")
        before = step.previous
        if before is not None and ctx.progress.passed and before.number not in ctx.progress.passed:
            say(f"(It has not passed step {before.number} yet: {command('tutorial check --step ' + before.number)}.)",
                "yellow")
    else:
        source = STARTER if step.previous is None else step.previous.server
        ctx.file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, ctx.file)
        origin = "a starter with TODOs" if step.previous is None else f"step {step.previous.number}'s server.py"
        say(f"Created {ctx.shown} from {origin}.")
    ctx.progress.step = step.number
    ctx.save(make_current=True)
    say()
    say("Your tasks, in order:", "bold")
    for task in step.tasks:
        say(f"  {task.number}. {task.title}")
    say()
    say(f"Read: {_shown_path(ROOT / 'notebooks' / (step.name + '.ipynb'))} (this step, explained and run live) "
        f"and {_shown_path(step.folder / 'README.md')}.")
    say(f"Check: {command('tutorial check' + ctx.file_option)}, or {command('tutorial watch' + ctx.file_option)} "
        f"to check on every save. Stuck: {command('tutorial hint' + ctx.file_option)}.")
    if step.challenges:
        say(f"Once the step passes, go past it: {command(f'tutorial challenge {step.number}')}.")
    return 0


def _summary(step: Step) -> str:
    """The step README's first paragraph: what the step adds."""
    text = (step.folder / "README.md").read_text(encoding="utf-8")
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip() and not p.startswith("#")]
    return " ".join(paragraphs[0].split()) if paragraphs else ""


# -- check ----------------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    ctx = Context(args.file)
    challenges = bool(args.challenge)
    step = _challenge_step(ctx, args.step) if challenges else ctx.step(args.step)
    result = check(ctx, step, challenges)
    return 0 if result.passed else 1


def _challenge_step(ctx: Context, option: str | None) -> Step:
    step = parse_step(option) if option else find_step(ctx.progress.challenge or ctx.step(None).number)
    if not step.challenges:
        with_some = ", ".join(s.number for s in all_steps() if s.challenges)
        raise UsageError(f"step {step.number} has no challenge; these steps have: {with_some}")
    return step


def check(ctx: Context, step: Step, challenges: bool, quiet: bool = False) -> Result:
    """Run the check, show it (unless quiet), and remember what it found."""
    what = f"step {step.number}'s challenges" if challenges else f"step {step.number}"
    if not quiet:
        say(f"Checking {ctx.shown} against {what}: {step.title}.", "bold")
    def on_event(event: dict) -> None:
        if event["event"] == "start":
            # Text, not markup: a parametrized test's name has [brackets] rich would read as a tag.
            status.update(Text(f"{_item_name(challenges)} {event['item']}: {event['test']}"))

    try:
        with console.status("starting your server", spinner="dots") as status:
            result = run_check(step, ctx.file, challenges, on_event)
    except LearnerProblem as problem:
        ctx.progress.last = {"step": step.number, "challenges": challenges, "digest": digest(ctx.file),
                             "failed": None, "problem": str(problem)}
        ctx.save()
        if quiet:
            say(f"Checking {ctx.shown} against {what}:", "bold")
        say(str(problem), "red")
        say(f"\nFix this first: no check can run until {ctx.shown} starts.")
        say(_progress_line(ctx), "dim")
        raise SystemExit(1) from None
    failure = result.first_failure
    ctx.progress.last = {"step": step.number, "challenges": challenges, "digest": digest(ctx.file),
                         "failed": failure.number if failure else None}
    if result.passed and challenges:
        for item in step.challenges:
            key = f"{step.number}:{item.name}"
            if key not in ctx.progress.challenges_passed:
                ctx.progress.challenges_passed.append(key)
    elif result.passed:
        ctx.progress.mark_passed(step.number)
    ctx.save()
    if not quiet:
        show_result(ctx, result)
    return result


def _item_name(challenges: bool) -> str:
    return "challenge" if challenges else "task"


def show_result(ctx: Context, result: Result) -> None:
    step, noun = result.step, _item_name(result.challenges)
    for outcome in result.outcomes:
        state = outcome.state
        count = f"  ({len(outcome.tests)} tests)" if state == "passed" and len(outcome.tests) > 1 else ""
        label = f"{noun} {outcome.number}" if outcome.number else "other"
        console.print(f"  {MARK[state]} {label}. ", style=STYLE[state], end="", markup=False)
        say(f"{outcome.title}{count}", None if state != "unchecked" else "dim")
    failure = result.first_failure
    say()
    if failure is None:
        tests = sum(len(outcome.tests) for outcome in result.outcomes)
        if result.challenges:
            say(f"Step {step.number}'s challenges pass ({tests} tests, {result.seconds:.1f} s). "
                f"The reference's way: {command('tutorial solution --challenge' + ctx.file_option)}.", "green")
        else:
            say(f"Step {step.number} passes: all {tests} tests, in {result.seconds:.1f} s.", "green")
            say(_next_after_pass(ctx, step))
    else:
        say(f"{MARK['failed']} {noun.capitalize()} {failure.number} fails: {failure.title}", "bold red")
        failed = failure.failed or ""
        say(f"  ({failed})", "dim")
        say(_indent(failure.message))
        say()
        base = failed.split("[")[0]
        where = test_path(step, base, next((c.test_file for c in step.challenges if c.number == failure.number),
                                           None) if result.challenges else None)
        if failed.startswith("test_"):  # not the start check of tutorial/check.py
            say(f"This test alone: pytest {where} --server {ctx.shown}")
        hint_command = "tutorial hint" + (" --challenge" if result.challenges else "") + ctx.file_option
        say(f"Stuck? {command(hint_command)} gives a hint for {noun} {failure.number} "
            f"({len(HINT_LEVELS)} levels: {', '.join(HINT_LEVELS)}).")
    say(f"{_progress_line(ctx)}  ({result.seconds:.1f} s)", "dim")


def _next_after_pass(ctx: Context, step: Step) -> str:
    challenge = command(f"tutorial challenge {step.number}")
    if step.next is None:
        return ("That was the last step: your file is a framework. solution/README.md shows where it goes from "
                "here." + (f" Or try the step's challenges first: {challenge}." if step.challenges else ""))
    next_step = f"Next: {command(f'tutorial start {step.next.number}' + ctx.file_option)}"
    to_try = [c for c in step.challenges if f"{step.number}:{c.name}" not in ctx.progress.challenges_passed]
    return next_step + (f", or first a challenge: {challenge}." if to_try else ".")


def _progress_line(ctx: Context) -> str:
    marks = []
    for step in all_steps():
        state = "passed" if step.number in ctx.progress.passed else \
            "current" if step.number == ctx.progress.step else "unchecked"
        marks.append(f"{step.number}{MARK[state]}")
    done = len(ctx.progress.passed)
    return f"Steps {ctx.file.name} has passed: {done} of {len(all_steps())}  " + " ".join(marks)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


# -- hint -----------------------------------------------------------------------------------

def cmd_hint(args: argparse.Namespace) -> int:
    ctx = Context(args.file)
    last = ctx.progress.last or {}
    challenges = bool(args.challenge) or (not args.step and bool(last.get("challenges")))
    step = _challenge_step(ctx, args.step) if challenges else ctx.step(args.step)
    fresh = (last.get("step") == step.number and bool(last.get("challenges")) == challenges
             and last.get("digest") == digest(ctx.file))
    if fresh and last.get("problem"):
        say(last["problem"], "red")
        say(f"\nNo hint for that: {ctx.shown} must start before any check can run. Fix what is above, then "
            f"{command('tutorial check' + ctx.file_option)}.")
        return 1
    if fresh:
        failed = last.get("failed")
    else:
        say(f"Checking {ctx.shown} first, to find the first {_item_name(challenges)} that fails...", "dim")
        failed = check(ctx, step, challenges, quiet=True).first_failure
        failed = failed.number if failed else None
    if failed is None:
        say(f"Step {step.number}{' (challenges)' if challenges else ''} passes: no hint needed.", "green")
        if not challenges:
            say(_next_after_pass(ctx, step))
        return 0
    item = next(i for i in items_of(step, challenges) if i.number == failed)
    key = f"{step.number}:{'c' if challenges else ''}{failed}"
    level = min(ctx.progress.hints.get(key, 0) + 1, len(HINT_LEVELS))
    ctx.progress.hints[key] = level
    ctx.save()
    noun = _item_name(challenges)
    say(f"Step {step.number}, {noun} {failed}: {item.title}", "bold")
    say(f"Hint {level} of {len(HINT_LEVELS)} ({HINT_LEVELS[level - 1]}):", "yellow")
    say(prose(item.hints[level - 1], "  "))
    say()
    more = " --challenge" if challenges else ""
    if level < len(HINT_LEVELS):
        say(f"More: {command('tutorial hint' + more + ctx.file_option)} ({HINT_LEVELS[level]}).")
    else:
        say(f"That was the last hint. Once the {'challenges pass' if challenges else 'step passes'}, "
            f"{command('tutorial solution' + more + ctx.file_option)} shows how the reference does it "
            f"({command('tutorial solution' + more + ' --anyway' + ctx.file_option)} shows it now).")
    return 0


# -- solution -------------------------------------------------------------------------------

def cmd_solution(args: argparse.Namespace) -> int:
    ctx = Context(args.file)
    challenges = bool(args.challenge)
    step = _challenge_step(ctx, args.step) if challenges else ctx.step(args.step)
    if challenges:
        done = all(f"{step.number}:{c.name}" in ctx.progress.challenges_passed for c in step.challenges)
    else:
        done = step.number in ctx.progress.passed
    if not done and not args.anyway:
        what = f"step {step.number}'s challenges have" if challenges else f"step {step.number} has"
        more = " --challenge" if challenges else ""
        say(f"{ctx.shown}: {what} not passed yet. Finish first ({command('tutorial check' + more + ctx.file_option)}), "
            f"or see the reference now: {command('tutorial solution' + more + ' --anyway' + ctx.file_option)}.")
        return 1
    mine = ctx.file.read_text(encoding="utf-8", errors="replace")
    if challenges:
        references = _challenge_references(step)
    else:
        references = [(f"steps/{step.name}/server.py", step.server.read_text(encoding="utf-8"))]
    for label, text in references:
        diff = "".join(difflib.unified_diff(mine.splitlines(keepends=True), text.splitlines(keepends=True),
                                            fromfile=ctx.shown, tofile=label))
        say(f"From your {ctx.shown} to the reference ({label}): - your lines, + the reference's", "bold")
        if diff:
            console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default", word_wrap=False))
        else:
            say("(no differences: your file is the reference, line for line)")
    return 0


def _challenge_references(step: Step) -> list[tuple[str, str]]:
    """The step's server with every challenge's reference in it (one diff, as the learner's
    file has them all), or one per challenge when two references touch the same lines."""
    names = ", ".join(c.name for c in step.challenges)
    try:
        combined = reference_source(step, *step.challenges)
    except CatalogueError:
        return [(f"steps/{step.name}/server.py + challenge {c.name}", reference_source(step, c))
                for c in step.challenges]
    return [(f"steps/{step.name}/server.py + challenge{'s' if len(step.challenges) > 1 else ''} {names}", combined)]


# -- watch ----------------------------------------------------------------------------------

def cmd_watch(args: argparse.Namespace) -> int:
    import watchfiles  # imported here: only watch needs it

    ctx = Context(args.file)
    challenges = bool(args.challenge)
    step = _challenge_step(ctx, args.step) if challenges else ctx.step(args.step)
    target = ctx.file.resolve()
    # Started in the background by a script (`tutorial watch &`), a process inherits SIGINT
    # ignored: put Python's handler back, so that Ctrl-C (or kill -INT) stops it. A plain
    # kill (SIGTERM) stops it the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.default_int_handler)

    def run_once() -> None:
        say(f"[{time.strftime('%H:%M:%S')}]", "dim")
        try:
            check(Context(str(ctx.file)), step, challenges)
        except SystemExit:  # the file cannot be checked yet: wait for the next save
            pass
        say(f"Watching {ctx.shown}: save it to check again; Ctrl-C stops.", "dim")

    try:
        # watchfiles (a kept library, on the system's file events) waits for a change: editors
        # save by writing the file, or by writing a new one and renaming it over the old.
        # It starts watching when its generator first runs, and keeps the changes made while
        # a check runs for the next round; so the first check waits for its first yield (an
        # empty one after a short timeout), or a save during that check would be missed.
        checked = False
        for changes in watchfiles.watch(target.parent, raise_interrupt=True, rust_timeout=200, yield_on_timeout=True,
                                        watch_filter=lambda _, path: Path(path).resolve() == target):
            if not checked or (changes and target.is_file()):
                if checked:
                    say()
                run_once()
                checked = True
    except KeyboardInterrupt:
        say("\nStopped watching.")
    return 0


# -- status and challenge -------------------------------------------------------------------

def cmd_status(args: argparse.Namespace) -> int:
    ctx = Context(args.file, must_exist=False)
    table = Table(title=f"{ctx.shown}: progress", title_justify="left", show_edge=False)
    table.add_column("step")
    table.add_column("")
    table.add_column("state")
    table.add_column("challenges")
    for step in all_steps():
        if step.number in ctx.progress.passed:
            state = "passed"
        elif step.number == ctx.progress.step:
            state = "current"
        else:
            state = "unchecked"
        words = {"passed": "passed", "current": "current", "unchecked": "not started"}[state]
        done = [c.name for c in step.challenges if f"{step.number}:{c.name}" in ctx.progress.challenges_passed]
        challenges = ", ".join(f"{MARK['passed']} {name}" for name in done) if done else \
            f"{len(step.challenges)} to try" if step.challenges and state == "passed" else ""
        table.add_row(step.number, step.title, f"[{STYLE[state]}]{MARK[state]} {words}[/]", challenges)
    console.print(table)
    say()
    if not ctx.file.exists():
        say(f"Next: {command('tutorial start 01' + ctx.file_option)} (or the step you want to begin with).")
    elif ctx.progress.step is None:
        say(f"Next: {command('tutorial start NN' + ctx.file_option)}, with the step your file is at.")
    elif ctx.progress.step in ctx.progress.passed:
        say(_next_after_pass(ctx, find_step(ctx.progress.step)))
    else:
        say(f"Next: {command('tutorial check' + ctx.file_option)} (step {ctx.progress.step}).")
    return 0


def cmd_challenge(args: argparse.Namespace) -> int:
    step = parse_step(args.step)
    ctx = Context(args.file, must_exist=False)
    if not step.challenges:
        with_some = ", ".join(s.number for s in all_steps() if s.challenges)
        raise UsageError(f"step {step.number} has no challenge; these steps have: {with_some}")
    say(f"Step {step.number}'s challenge{'s' if len(step.challenges) > 1 else ''}, past the step "
        f"({step.title}):", "bold")
    for challenge in step.challenges:
        say()
        say(f"{challenge.number}. {challenge.title}", "bold")
        say("\n\n".join(prose(paragraph, "  ") for paragraph in re.split(r"\n\s*\n", challenge.text)))
    say()
    if ctx.file.exists():
        ctx.progress.challenge = step.number
        ctx.save()
        if step.number not in ctx.progress.passed:
            say(f"(Build on a file that passes step {step.number}: {command('tutorial check --step ' + step.number)}.)",
                "yellow")
        say(f"Check: {command('tutorial check --challenge' + ctx.file_option)} "
            f"(or {command('tutorial watch --challenge' + ctx.file_option)}); "
            f"stuck: {command('tutorial hint --challenge' + ctx.file_option)}.")
    else:
        say(f"Begin with {command(f'tutorial start {step.number}')}, then come back to the challenge.")
    return 0


# -- the command line -----------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="tutorial", description="Build the web framework yourself, one step at a time: the step tests "
        "check your own file.", epilog="Begin with: tutorial start 01 (or any step: its file is made from the "
        "step before).")
    commands = main.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help: str, func, step: str = "", file: bool = True, challenge: bool = False):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        if step == "positional":
            sub.add_argument("step", help="the step: 04, 4 or 04_response")
        elif step == "option":
            sub.add_argument("--step", metavar="NN", help="another step than the one begun last")
        if file:
            sub.add_argument("--file", metavar="PATH", help=f"your server file (default: the one begun "
                             f"here last, else {DEFAULT_FILE})")
        if challenge:
            sub.add_argument("--challenge", action="store_true", help="the step's challenges instead of its tasks")
        return sub

    add("start", "begin a step: create your file from the step before if it does not exist, and list the tasks",
        cmd_start, step="positional")
    add("check", "run the step's tests against your file, task by task", cmd_check, step="option", challenge=True)
    add("hint", "the next hint for the first task that fails", cmd_hint, step="option", challenge=True)
    solution = add("solution", "the differences between your file and the step's server (once it passes)",
                   cmd_solution, step="option", challenge=True)
    solution.add_argument("--anyway", action="store_true", help="show it before the step passes")
    add("watch", "check again each time the file is saved (Ctrl-C stops)", cmd_watch, step="option", challenge=True)
    add("status", "the steps: passed, current, not started; and what to do next", cmd_status)
    add("challenge", "show a step's challenges (past the step, checked by their own tests)", cmd_challenge,
        step="positional")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as error:
        say(f"tutorial {args.command}: {error}", "red")
        return 2
    except CatalogueError as error:  # the repository's own data is broken: say where
        say(f"tutorial: {error}", "red")
        return 2
    except KeyboardInterrupt:
        say("\nStopped.")
        return 130
    except SystemExit as stop:
        return int(stop.code or 0)


if __name__ == "__main__":
    sys.exit(main())
