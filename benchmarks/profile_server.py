"""Profile a server under load: where does its time go?

    python benchmarks/profile_server.py                        # the solution, keep-alive, 10 s, pyinstrument
    python benchmarks/profile_server.py --mode close --seconds 5
    python benchmarks/profile_server.py --profiler py-spy      # far less overhead (pip install py-spy)
    python benchmarks/profile_server.py --server ceiling       # any server of `run.py --list`

The server is started exactly as run.py starts it (same command, pinned to one CPU,
its output in benchmarks/results/logs/) and loaded with run.py's wrk command: first
without a profiler, for reference, then under the profiler. It is stopped with
Ctrl-C (SIGINT), which is when pyinstrument writes its profile. Then this prints
what the server's CPU did, its time by layer (kernel, asyncio, httptools, the
framework, json), the functions with the most own time, and the hot path's call
tree; the full profile is saved in benchmarks/results/ (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import linecache
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import load
import run
from harness import ServerError, ServerProcess

PROFILERS = ("pyinstrument", "py-spy")
STOP_TIMEOUT = 30  # seconds for the server to stop after Ctrl-C: pyinstrument saves its profile then
ATTACH_TIMEOUT = 10  # seconds for py-spy to attach


# -- command line ------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Servers: " + ", ".join(run.BY_NAME) + "\nModes: " + ", ".join(run.MODES))
    parser.add_argument("--server", default="solution", choices=list(run.BY_NAME), metavar="NAME",
                        help="the server to profile (default: solution)")
    parser.add_argument("--mode", default="keepalive", choices=list(run.MODES),
                        help="the load, as in run.py (default: keepalive)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of load (default 10)")
    parser.add_argument("--profiler", default="pyinstrument", choices=PROFILERS,
                        help="pyinstrument (default; in the bench extra) or py-spy (pip install py-spy)")
    parser.add_argument("--rate", type=int, default=1000,
                        help="py-spy: samples per second (default 1000); pyinstrument samples every 1 ms")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the measurement without profiler (the profiler's cost is then unknown)")
    parser.add_argument("--top", type=int, default=20, help="functions to list by own time (default 20)")
    parser.add_argument("--tree-min", type=float, default=1.0,
                        help="show call-tree nodes with at least this %% of the loop's time (default 1.0)")
    run.add_cpu_options(parser, wrk="wrk and py-spy")
    parser.add_argument("--load", type=Path, metavar="FILE",
                        help="do not measure: report on a saved profile (.pyisession or .collapsed)")
    args = parser.parse_args(argv)
    if args.seconds < 2 or args.rate < 1 or args.top < 0:
        parser.error("--seconds must be >= 2, --rate >= 1, --top >= 0")
    if args.load and args.load.suffix not in (".pyisession", ".collapsed"):
        parser.error("--load takes a .pyisession (pyinstrument) or .collapsed (py-spy) file")
    if args.load and not args.load.is_file():
        parser.error(f"--load: no such file: {args.load}")
    return args


def find_py_spy() -> str | None:
    """py-spy on PATH, or next to this Python (a venv's bin/, not necessarily on PATH)."""
    beside = Path(sys.executable).with_name("py-spy")
    return shutil.which("py-spy") or (str(beside) if beside.is_file() else None)


def check_profiler(args) -> str | None:
    """Exit with what to install if the profiler is missing; return py-spy's path."""
    if args.profiler == "pyinstrument":
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            sys.exit(f"error: pyinstrument is not installed for {sys.executable}\n"
                     f"  {sys.executable} -m pip install -e \"{run.ROOT}[bench]\"")
        return None
    py_spy = find_py_spy()
    if py_spy is None:
        sys.exit(f"error: py-spy is not installed: {sys.executable} -m pip install py-spy")
    return py_spy


# -- what the server's CPU did -------------------------------------------------------

class CpuSnapshot(NamedTuple):
    cpu: dict[str, int]  # /proc/stat clock ticks of the server's CPU (all CPUs if not pinned)
    process: tuple[int, int]  # the server's utime, stime (ticks)


def cpu_snapshot(cpu: int | None, pid: int) -> CpuSnapshot | None:
    """None where there is no /proc (macOS): the CPU lines are then left out."""
    ticks = load.cpu_ticks(None if cpu is None else {cpu})
    if ticks is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return CpuSnapshot(ticks, (int(stat[11]), int(stat[12])))
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Load:
    """One wrk run against one server start: what wrk saw and what the server's CPU did."""

    label: str
    wrk: dict
    cpu: dict[str, float] = field(default_factory=dict)  # share of the CPU's time, by kind
    process_system: float | None = None  # share of the process's own CPU time spent in the kernel
    cpu_us_per_request: float | None = None

    def describe(self, cpu_name: str) -> str:
        text = f"{self.label}: {self.wrk['rps']:,.0f} req/s, {self.wrk['error_total']} errors"
        if self.cpu and self.cpu_us_per_request is not None:
            c = self.cpu
            text += (f"\n    {cpu_name}: busy {c['busy']:.0%} (user {c['user']:.0%}, system {c['system']:.0%}, "
                     f"softirq {c['softirq']:.0%}), steal {c['steal']:.0%}, idle {c['idle']:.0%}; "
                     f"{self.cpu_us_per_request:.1f} us of CPU per request; the process's own time "
                     f"{1 - self.process_system:.0%} user, {self.process_system:.0%} kernel")
        return text


def cpu_usage(label: str, wrk: dict, before: CpuSnapshot | None, after: CpuSnapshot | None) -> Load:
    result = Load(label, wrk)
    if before is None or after is None:
        return result
    delta = {name: after.cpu[name] - before.cpu[name] for name in load.CPU_FIELDS}
    total = sum(delta.values()) or 1
    shares = {name: ticks / total for name, ticks in delta.items()}
    shares["user"] += shares.pop("nice")
    shares["idle"] += shares.pop("iowait")
    shares["softirq"] += shares.pop("irq")
    shares["busy"] = shares["user"] + shares["system"] + shares["softirq"]
    result.cpu = shares
    user, system = (a - b for a, b in zip(after.process, before.process))
    result.process_system = system / ((user + system) or 1)
    hz = os.sysconf("SC_CLK_TCK")
    busy_seconds = (delta["user"] + delta["nice"] + delta["system"] + delta["irq"] + delta["softirq"]) / hz
    if wrk["requests"]:
        result.cpu_us_per_request = busy_seconds / wrk["requests"] * 1e6
    return result


# -- starting, loading and stopping -----------------------------------------------------

def start_server(spec: run.Spec, cpu: int | None, session_file: Path | None = None) -> ServerProcess:
    """Start a server as run.measure does; with ``session_file``, under pyinstrument.

    Every server can run under servers/run_as_main.py (the solution already does);
    its --profile option wraps the run in pyinstrument and saves the session on exit.
    """
    if session_file is None:
        script, args = spec.script, spec.args
    elif spec.script == run.RUN_AS_MAIN:
        script, args = run.RUN_AS_MAIN, ("--profile", str(session_file), *spec.args)
    else:
        script, args = run.RUN_AS_MAIN, ("--profile", str(session_file), str(spec.script), *spec.args)
    server = ServerProcess(script, *args, cwd=spec.cwd or spec.script.parent, prefix=load.pin(cpu),
                           log_file=run.RESULTS / "logs" / f"{spec.name}.log", startup_timeout=20)
    server.start()
    try:
        problem = load.check_answer(server.host, server.port)
    except BaseException:
        stop_server(server)
        raise
    if problem:
        print(f"  note: {spec.name} {problem}")
    return server


def drive(label: str, server: ServerProcess, mode: run.Mode, seconds: int, cpus) -> Load:
    server_cpu, wrk_cpu = cpus
    before = cpu_snapshot(server_cpu, server.pid)
    wrk = load.run_wrk(server.url, mode, seconds, 1, wrk_cpu)
    return cpu_usage(label, wrk, before, cpu_snapshot(server_cpu, server.pid))


def stop_server(server: ServerProcess) -> None:
    code = server.stop(timeout=STOP_TIMEOUT)
    if code not in (0, None):
        print(f"  note: the server exited with code {code}; its log: {server.log_file}\n"
              f"{run.log_tail(server)}")


def start_py_spy(py_spy: str, pid: int, seconds: int, rate: int, out: Path, cpu: int | None):
    """Attach py-spy to the running server for ``seconds``; return once it samples.

    --nonblocking: py-spy reads the server's memory without stopping it, which costs
    the server about 10% of its speed. Stopping it at every sample (py-spy's default,
    and needed for --native's C frames) cost 2/3 of it here, and put half of the
    time in send/recv. The price: a stack read while it changes is dropped or cut
    short, so some time lands on a calling line (`self._update_reading()`) rather
    than in the callee; by layer it is close. Each frame comes with its current
    line, which says what C code a leaf is in: `self._sock.send(data)` is the kernel.
    --threads: to keep the main thread (the other is harness.launch's watchdog).
    """
    log = out.with_suffix(".py-spy.log")
    command = [*load.pin(cpu), py_spy, "record", "--pid", str(pid), "--duration", str(seconds),
               "--rate", str(rate), "--nonblocking", "--threads",
               "--format", "raw", "--output", str(out)]
    with open(log, "wb") as output:
        spy = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + ATTACH_TIMEOUT
    while "Sampling process" not in log.read_text(errors="replace"):
        if spy.poll() is not None or time.monotonic() > deadline:
            stop_process(spy)
            raise RuntimeError(f"py-spy did not start sampling:\n{log.read_text(errors='replace').strip()}")
        time.sleep(0.05)
    return spy, log


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def profile_once(args, spec, mode, cpus, out: Path, py_spy: str | None) -> Load:
    """Start the server under the profiler, load it, stop it; the profile lands in ``out``."""
    server_cpu, wrk_cpu = cpus
    server = start_server(spec, server_cpu, session_file=out if py_spy is None else None)
    spy = None
    try:
        if py_spy is not None:
            # Sampling ends a second before the load does: the profile is all under load.
            spy, spy_log = start_py_spy(py_spy, server.pid, args.seconds - 1, args.rate, out, wrk_cpu)
        result = drive(f"with {args.profiler}", server, mode, args.seconds, cpus)
        if spy is not None:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                pass
            if spy.returncode != 0 or not out.is_file():
                raise RuntimeError(f"py-spy failed (code {spy.returncode}):\n"
                                   f"{spy_log.read_text(errors='replace').strip()[-1500:]}")
        return result
    finally:
        if spy is not None:
            stop_process(spy)
        stop_server(server)


# -- reading a profile: (stack, weight) pairs -----------------------------------------

class Frame(NamedTuple):
    name: str  # Class.function, or a C function
    file: str  # shortened: asyncio/events.py, protoweb/app.py, <built-in>
    native: bool  # C code (pyinstrument: a built-in function or method)
    line: int = 0  # py-spy: the line being run (pyinstrument gives only the function's first line)

    @property
    def function(self) -> tuple[str, str]:
        return self.name, self.file


Stack = tuple[Frame, ...]
STDLIB = sysconfig.get_paths()["stdlib"]
# Longest first: protoweb/app.py, not solution/protoweb/app.py; benchmarks/servers/ceiling.py.
# (py-spy shortens a path by the server's sys.path: ceiling.py is in benchmarks/servers.)
PREFIXES = sorted({STDLIB, *sys.path[1:], str(run.SOLUTION), str(run.ROOT), str(run.SERVERS_DIR),
                   str(run.SOLUTION_APP.parent)}, key=len, reverse=True)


def short_path(path: str) -> str:
    """/usr/lib/python3.11/asyncio/events.py -> asyncio/events.py, as py-spy shows it."""
    for prefix in PREFIXES:
        if prefix and path.startswith(prefix + os.sep):
            return path[len(prefix) + 1:]
    return path


def read_pyinstrument(path: Path) -> list[tuple[Stack, float]]:
    from pyinstrument.session import Session

    root = Session.load(path).root_frame(trim_stem=False)
    stacks: list[tuple[Stack, float]] = []
    pending = [(root, ())]
    while pending:
        node, above = pending.pop()
        if node.is_synthetic:  # "[self]": its parent's own time, kept apart by pyinstrument
            stacks.append((above, node.time))
            continue
        name = f"{node.class_name}.{node.function}" if node.class_name else node.function
        file = node.file_path or ""
        stack = (*above, Frame(name, short_path(file), file == "<built-in>"))
        own = node.time - sum(child.time for child in node.children)
        if own > 0:
            stacks.append((stack, own))
        pending.extend((child, stack) for child in node.children)
    return stacks


NO_FRAME = Frame("(no Python frame)", "", True)
PY_SPY_FRAME = re.compile(r"(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)")


def read_py_spy(path: Path) -> list[tuple[Stack, float]]:
    """py-spy's raw format: `frame;frame;... count` per line, the thread first (--threads)."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        text, _, count = line.rpartition(" ")
        pieces = text.split(";")
        if pieces[0].startswith("thread ("):
            if "MainThread" not in pieces[0]:
                continue  # harness.launch's watchdog thread
            pieces = pieces[1:]
        frames = []
        for piece in pieces:
            match = PY_SPY_FRAME.fullmatch(piece)
            if match:
                frames.append(Frame(match["name"], match["file"], False, int(match["line"] or 0)))
            else:
                frames.append(Frame(piece, "", False))
        # No Python frame: C code between two Python frames, or a frame being set up.
        stacks.append((tuple(frames) or (NO_FRAME,), float(count)))
    return stacks


# -- layers ---------------------------------------------------------------------------

LAYERS = {
    "epoll": "kernel: epoll_wait (the loop waiting for events)",
    "syscalls": "kernel: socket calls (recv, send, accept, close, epoll_ctl)",
    "asyncio": "asyncio: event loop, transports, tasks (Python)",
    "httptools": "httptools: the HTTP parser (C)",
    "framework": "framework + app (Python)",
    "json": "json: encoding the body",
    "other": "other (no Python frame seen, start-up)",
}
# A sample whose innermost Python line calls into C is in that C code: py-spy gives
# the line, and these say what it calls. (For pyinstrument, which gives built-in
# functions as frames of their own, the same is said by name below.)
C_CALL_LINES = [
    (re.compile(r"\.poll\("), "epoll"),  # selectors: self._selector.poll(timeout, max_ev)
    (re.compile(r"\b_?sock\.(send|sendmsg|recv|recv_into|accept|close|shutdown|setsockopt|getpeername|"
                r"getsockname)\(|\b_accept\(|\b_ss\.close\("), "syscalls"),  # the last two: in socket.py
    (re.compile(r"self\._selector\.(register|modify|unregister)\("), "syscalls"),  # epoll_ctl
    (re.compile(r"\.feed_data\("), "httptools"),
    (re.compile(r"\b_?iterencode\(|json\.dumps\(|\bdumps\("), "json"),
]
EPOLL_WAIT = {"epoll.poll"}
# pyinstrument sees no C code that is called without a `c_call` event (Cython methods
# like httptools' feed_data, the json encoder object): its time is the own time of the
# Python function calling it. These do little else, so their own time is the C code's.
HIDDEN_C = {
    "RequestParser.feed": "httptools",  # protoweb: httptools' feed_data
    "encode_json": "json",  # protoweb: the C encoder
    "Ceiling.data_received": "httptools",  # benchmarks/servers/ceiling.py
    "HttpToolsProtocol.data_received": "httptools",  # uvicorn
}


def source_line(frame: Frame) -> str:
    """The text of the line a py-spy frame is at ('' if the file is not found)."""
    if not frame.line:
        return ""
    for candidate in (frame.file, *(os.path.join(prefix, frame.file) for prefix in PREFIXES)):
        if os.path.isfile(candidate):
            return linecache.getline(candidate, frame.line).strip()
    return ""


def classify(frame: Frame, is_leaf: bool) -> str | None:
    """The layer a frame's time belongs to; None: its caller's (a C helper like len)."""
    name, file = frame.name, frame.file
    if frame.native:  # pyinstrument: a built-in function or method
        if name in EPOLL_WAIT:
            return "epoll"
        if name.startswith(("socket.", "epoll.")):
            return "syscalls"
        return None
    if is_leaf:
        text = source_line(frame)
        for pattern, layer in C_CALL_LINES:
            if text and pattern.search(text):
                return layer
        if not frame.line and name in HIDDEN_C:  # pyinstrument
            return HIDDEN_C[name]
    top = file.replace("\\", "/").split("/")[0].removesuffix(".py")
    if top in ("asyncio", "selectors"):
        return "asyncio"
    if top == "json" or name == "encode_json":
        return "json"
    if top in sys.stdlib_module_names or file.startswith("<"):
        return None  # socket.py, weakref, enum, contextvars...: on behalf of their caller
    return "framework"


def layer_of(stack: Stack) -> str:
    """The first frame from the leaf up that says which layer the time is in."""
    for depth, frame in enumerate(reversed(stack)):
        layer = classify(frame, depth == 0)
        if layer is not None:
            return layer
    return "other"


# -- the report ----------------------------------------------------------------------

def in_loop(stacks: list[tuple[Stack, float]]) -> tuple[list[tuple[Stack, float]], float]:
    """The stacks of the event loop's work, cut at its _run_once; and the weight of the
    rest (start-up, shutdown: under the program's main but not under the loop)."""
    inside, outside = [], 0.0
    for stack, weight in stacks:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].name.endswith("_run_once") and stack[i].file.endswith("base_events.py"):
                inside.append((stack[i:], weight))
                break
        else:
            if any(frame.name == "_run_module_as_main" for frame in stack[:3]):
                outside += weight
            else:  # loop work whose callers py-spy cannot see: a coroutine that asyncio's
                inside.append((stack, weight))  # C Task runs, or C code between two frames
    if not inside:  # no _run_once: uvloop, whose loop is C; cut at asyncio.run's Runner.run
        inside, outside = [], 0.0
        for stack, weight in stacks:
            cut = [i for i, frame in enumerate(stack) if frame.file.endswith("asyncio/runners.py")]
            if cut:
                inside.append((stack[cut[-1]:], weight))
            else:
                outside += weight
    return inside, outside


def layer_table(stacks) -> dict[str, float]:
    total = sum(w for _, w in stacks) or 1.0
    shares = dict.fromkeys(LAYERS, 0.0)
    for stack, weight in stacks:
        shares[layer_of(stack)] += weight / total
    return shares


def top_own(stacks, count: int, by_line: bool) -> list[tuple[float, Frame, str]]:
    """The functions (py-spy: the lines) with the most own time, and their layers."""
    total = sum(w for _, w in stacks) or 1.0
    own: dict[tuple, list] = {}
    for stack, weight in stacks:
        leaf = stack[-1]
        key = leaf if by_line else leaf.function
        entry = own.setdefault(key, [0.0, leaf, layer_of(stack)])
        entry[0] += weight / total
    ranked = sorted(own.values(), key=lambda entry: -entry[0])[:count]
    return [(share, leaf, layer) for share, leaf, layer in ranked]


class Node:
    __slots__ = ("name", "file", "total", "own", "children")

    def __init__(self, name: str = "", file: str = "") -> None:
        self.name, self.file = name, file
        self.total = 0.0
        self.own = 0.0
        self.children: dict[tuple[str, str], Node] = {}


def call_tree(stacks) -> Node:
    """Merge the stacks into a tree of functions (py-spy's lines merged)."""
    root = Node()
    for stack, weight in stacks:
        node = root
        node.total += weight
        for frame in stack:
            node = node.children.get(frame.function) or node.children.setdefault(
                frame.function, Node(*frame.function))
            node.total += weight
        node.own += weight
    return root


def tree_lines(root: Node, minimum: float, max_depth: int = 30) -> list[str]:
    lines = []
    total = root.total or 1.0

    def visit(node: Node, depth: int) -> None:
        for child in sorted(node.children.values(), key=lambda n: -n.total):
            if child.total / total * 100 < minimum:
                continue
            own = f"{child.own / total:6.1%}" if child.own / total * 100 >= minimum / 2 else " " * 6
            lines.append(f"{child.total / total:6.1%} {own}  {'  ' * depth}{child.name}  [{child.file}]")
            if depth < max_depth:
                visit(child, depth + 1)

    visit(root, 0)
    return lines


def describe_run(args, loads: list[Load], spec, mode, cpu_name: str) -> list[str]:
    lines = [f"{spec.name} ({spec.what}), {mode.label}, {mode.connections} connections, {args.seconds} s, "
             f"profiled with {args.profiler}"]
    lines += ["  " + result.describe(cpu_name) for result in loads]
    if len(loads) == 2 and loads[0].wrk["rps"]:
        lines.append(f"  the profiler slows it to {loads[1].wrk['rps'] / loads[0].wrk['rps']:.2f}x"
                     + (": it runs at every Python call and return, so Python code looks bigger than it is"
                        if args.profiler == "pyinstrument" else ""))
    return lines


def report(stacks, args, title: list[str]) -> tuple[str, str]:
    """(what to print, the same with the whole call tree) for a profile."""
    loop, outside = in_loop(stacks)
    loop_total = sum(w for _, w in loop)
    pyinstrument = args.profiler == "pyinstrument"
    lines = list(title)
    amount = f"{loop_total:.1f} s" if pyinstrument else f"{loop_total:,.0f} samples"
    lines += ["", f"Time in the event loop: {amount}"
              + (f" (outside it, start-up and shutdown: {outside / (loop_total + outside):.1%})"
                 if outside / (loop_total + outside or 1) >= 0.0005 else "")
              + "; percentages are of the loop's time, "
              + ("idle waiting included (in epoll_wait)" if pyinstrument
                 else "idle waiting mostly left out (py-spy drops samples it sees sleeping)")]
    lines += ["", "By layer:"]
    for key, share in layer_table(loop).items():
        hidden_in = {"httptools": "RequestParser.feed", "json": "encode_json"}.get(key)
        note = f"  (pyinstrument: the own time of {hidden_in})" if pyinstrument and hidden_in else ""
        lines.append(f"  {share:6.1%}  {LAYERS[key]}{note}")
    lines += ["", f"Top {args.top} {'functions' if pyinstrument else 'lines'} by own time:"]
    for share, leaf, layer in top_own(loop, args.top, by_line=not pyinstrument):
        where = f"{leaf.file}:{leaf.line}" if leaf.line else leaf.file
        code = f"  {source_line(leaf)}" if leaf.line else ""
        lines.append(f"  {share:6.1%}  {leaf.name}  [{where}]  ({layer}){code}")
    tree = call_tree(loop)
    header = ["", "Hot path: the call tree under the event loop (total, own, function [file])"]
    short = lines + header + tree_lines(tree, args.tree_min) + [
        f"  (nodes under {args.tree_min:g}% left out; see the saved profile for all)"]
    full = lines + header + tree_lines(tree, 0.1)
    return "\n".join(short), "\n".join(full)


# -- main -----------------------------------------------------------------------------

def main(argv=None) -> int:
    args = parse_args(argv)
    if args.load:
        pyinstrument = args.load.suffix == ".pyisession"
        args.profiler = "pyinstrument" if pyinstrument else "py-spy"
        stacks = read_pyinstrument(args.load) if pyinstrument else read_py_spy(args.load)
        print(report(stacks, args, [f"{args.load} ({args.profiler})"])[0])
        return 0
    spec, mode = run.BY_NAME[args.server], run.MODES[args.mode]
    run.check_tools([spec])
    py_spy = check_profiler(args)
    server_cpu, wrk_cpu, pinning = run.choose_cpus(args)
    cpu_name = "all CPUs" if server_cpu is None else f"CPU {server_cpu}"
    run.raise_file_limit()
    run.handle_signals()

    run.RESULTS.mkdir(parents=True, exist_ok=True)
    stem = run.RESULTS / f"profile-{spec.name}-{mode.key}-{args.profiler}-{datetime.now():%Y%m%d-%H%M%S}"
    out = stem.with_suffix(".pyisession" if py_spy is None else ".collapsed")
    cpus = (server_cpu, wrk_cpu)
    print(f"Profiling {spec.name} with {args.profiler}: {mode.label}, {args.seconds} s; {pinning}")
    print("wrk: " + shlex.join(load.wrk_command("http://HOST:PORT", mode, args.seconds, 1, wrk_cpu)))
    loads = []
    try:
        if not args.no_baseline:
            print("  1. without profiler ...", flush=True)
            server = start_server(spec, server_cpu)
            try:
                loads.append(drive("without profiler", server, mode, args.seconds, cpus))
            finally:
                stop_server(server)
        print(f"  {len(loads) + 1}. with {args.profiler} ...", flush=True)
        loads.append(profile_once(args, spec, mode, cpus, out, py_spy))
    except KeyboardInterrupt:
        print("\ninterrupted: the server was stopped")
        return 130
    except (ServerError, load.BadAnswer, load.WrkFailed, RuntimeError) as exc:
        print(f"error: {exc}\n  server log: {run.RESULTS / 'logs' / f'{spec.name}.log'}")
        return 1
    if not out.is_file():
        print(f"error: the profiler wrote no profile ({out}); server log: "
              f"{run.RESULTS / 'logs' / f'{spec.name}.log'}")
        return 1

    stacks = read_pyinstrument(out) if py_spy is None else read_py_spy(out)
    short, full = report(stacks, args, describe_run(args, loads, spec, mode, cpu_name))
    print()
    print(short)
    text_path = stem.with_suffix(".txt")
    text_path.write_text(full + "\n")
    saved = [text_path, out]
    if py_spy is None:
        from pyinstrument.renderers import HTMLRenderer
        from pyinstrument.session import Session

        html_path = stem.with_suffix(".html")
        html_path.write_text(HTMLRenderer().render(Session.load(out)))
        saved.insert(0, html_path)
    print("\nSaved: " + "\n       ".join(str(p.relative_to(run.ROOT)) for p in saved))
    if py_spy is None:
        print(f"       (the HTML is pyinstrument's interactive view; or `pyinstrument --load {out.name}`)")
    else:
        print("       (.collapsed: open it in https://www.speedscope.app, or flamegraph.pl)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
