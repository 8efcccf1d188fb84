"""Benchmark the tutorial's servers against production asyncio servers, with wrk.

    python benchmarks/run.py            # the full run: about 15 minutes
    python benchmarks/run.py --quick    # a smoke run: 2 s per measurement
    python benchmarks/run.py --list     # what can be measured

Each measurement starts one server as its own process (pinned to one CPU), checks
its answer to GET /hello_world, warms it up, runs wrk against it (pinned to another
CPU), and stops it. Rounds are interleaved (A B C ... A B C ...), and every server
is reported as a ratio to the ceiling server measured in the same round and mode.
See benchmarks/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

import load
import report
from load import Mode, can_pin, pin

from harness import ServerError, ServerProcess

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVERS_DIR = BENCH / "servers"
RESULTS = BENCH / "results"  # git-ignored: JSON, logs, plots of every run
COMMITTED_PLOT = BENCH / "results.png"  # the plot the README shows
SOLUTION = ROOT / "solution"
SOLUTION_APP = SOLUTION / "examples" / "hello_world.py"
STEPS = ROOT / "steps"

MODES = {
    "keepalive": Mode("keepalive", "keep-alive", 50,
                      explain="50 connections, each sends request after request"),
    "close": Mode("close", "close", 50, ("Connection: close",),
                  explain="50 connections, a new TCP connection for every request"),
    "c1000": Mode("c1000", "keep-alive, 1000 conn", 1000,
                  explain="1000 keep-alive connections at once (ceiling and solution only)"),
}
STEP_NOTE = "closes every connection; logs every request"  # steps 04-08 can do no other
RUN_AS_MAIN = SERVERS_DIR / "run_as_main.py"


@dataclass(frozen=True)
class Spec:
    """A server that can be measured."""

    name: str
    script: Path  # started as `python -m harness.launch SCRIPT ARGS --host H --port 0`
    loop: str  # shown in the table: which event loop it runs on
    what: str
    args: tuple[str, ...] = ()
    cwd: Path | None = None  # default: the script's folder
    requires: tuple[Path, ...] = ()  # files that must exist, else "not found, skipped"
    needs: tuple[str, ...] = ()  # Python modules it imports
    many: bool = False  # also measured with 1000 connections
    default: bool = True  # in the default run
    note: str = ""


def _solution(name: str, loop: str, what: str, **kw) -> Spec:
    """The solution's example app, served by protoweb's own server (`python -m protoweb`).

    Through the module rather than examples/hello_world.py so that the access log can be
    turned off (--no-access-log), as it is for uvicorn and aiohttp here.
    """
    uvloop = ("--uvloop",) if loop == "uvloop" else ()
    return Spec(name, RUN_AS_MAIN, loop, what,
                args=(*uvloop, "-m", "protoweb", "hello_world:app", "--no-access-log"),
                cwd=SOLUTION_APP.parent, requires=(SOLUTION_APP,),
                needs=("protoweb",) + (("uvloop",) if uvloop else ()), many=True, **kw)


SPECS = [
    Spec("ceiling", SERVERS_DIR / "ceiling.py", "asyncio",
         "raw asyncio.Protocol + httptools, precomputed response (benchmarks/servers/ceiling.py)",
         needs=("httptools",), many=True),
    _solution("solution", "asyncio", "protoweb serving solution/examples/hello_world.py's app, "
              "access log off"),
    Spec("step06", STEPS / "06_not_found" / "server.py", "asyncio", "tutorial step 06",
         needs=("httptools",), note=STEP_NOTE),
    Spec("step08", STEPS / "08_limits" / "server.py", "asyncio", "tutorial step 08 (limits and timeouts)",
         needs=("httptools",), note=STEP_NOTE),
    Spec("step09", STEPS / "09_keep_alive" / "server.py", "asyncio", "tutorial step 09 (keep-alive)",
         needs=("httptools",), note="logs every request"),
    Spec("uvicorn", SERVERS_DIR / "uvicorn_asgi.py", "asyncio",
         "bare ASGI app on uvicorn (httptools parser, no access log)", args=("--loop", "asyncio"),
         needs=("uvicorn", "httptools")),
    Spec("uvicorn-uvloop", SERVERS_DIR / "uvicorn_asgi.py", "uvloop",
         "the same on uvloop: what `pip install uvicorn[standard]` runs by default",
         args=("--loop", "uvloop"), needs=("uvicorn", "httptools", "uvloop")),
    Spec("starlette", SERVERS_DIR / "uvicorn_starlette.py", "asyncio",
         "Starlette app on uvicorn (httptools parser, no access log)", args=("--loop", "asyncio"),
         needs=("uvicorn", "httptools", "starlette")),
    Spec("aiohttp", SERVERS_DIR / "aiohttp_web.py", "asyncio",
         "aiohttp.web application (no access log)", args=("--loop", "asyncio"), needs=("aiohttp",)),
    # Opt-in (--servers all, or by name).
    Spec("step04", STEPS / "04_response" / "server.py", "asyncio", "tutorial step 04",
         needs=("httptools",), default=False, note=STEP_NOTE),
    Spec("step05", STEPS / "05_body" / "server.py", "asyncio", "tutorial step 05",
         needs=("httptools",), default=False, note=STEP_NOTE),
    Spec("solution-accesslog", SOLUTION_APP, "asyncio",
         "python solution/examples/hello_world.py as shipped: access log on (to a file)",
         requires=(SOLUTION_APP,), needs=("protoweb",),
         default=False, note="logs every request"),
    Spec("ceiling-uvloop", SERVERS_DIR / "ceiling.py", "uvloop", "the ceiling on uvloop",
         args=("--loop", "uvloop"), needs=("httptools", "uvloop"), many=True, default=False),
    _solution("solution-uvloop", "uvloop", "the solution on uvloop, access log off", default=False),
    Spec("step06-uvloop", RUN_AS_MAIN, "uvloop", "step 06 on uvloop",
         args=("--uvloop", str(STEPS / "06_not_found" / "server.py")),
         cwd=STEPS / "06_not_found", needs=("httptools", "uvloop"), default=False, note=STEP_NOTE),
    Spec("starlette-uvloop", SERVERS_DIR / "uvicorn_starlette.py", "uvloop",
         "Starlette on uvicorn on uvloop", args=("--loop", "uvloop"),
         needs=("uvicorn", "httptools", "starlette", "uvloop"), default=False),
    Spec("aiohttp-uvloop", SERVERS_DIR / "aiohttp_web.py", "uvloop", "aiohttp.web on uvloop",
         args=("--loop", "uvloop"), needs=("aiohttp", "uvloop"), default=False),
]
BY_NAME = {spec.name: spec for spec in SPECS}


# -- command line ------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Servers: " + ", ".join(s.name for s in SPECS)
        + f"\nModes: {', '.join(MODES)}",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 s per measurement, 1 s warm-up (unless given)")
    parser.add_argument("--servers", default="default",
                        help="comma-separated names, 'default' or 'all' (the ceiling is always run)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: " + ", ".join(MODES))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=int, help="seconds per measurement (default 10, quick 2)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up load first (default 2, quick 1)")
    parser.add_argument("--connections", type=int, default=50, help="for keep-alive and close (default 50)")
    parser.add_argument("--many", type=int, default=1000, help="connections for c1000 (default 1000)")
    parser.add_argument("--threads", type=int, default=1,
                        help="wrk threads (default 1: wrk gets one CPU)")
    add_cpu_options(parser)
    parser.add_argument("--update-plot", action="store_true",
                        help=f"also write {COMMITTED_PLOT.relative_to(ROOT)} (done anyway by a full default run)")
    parser.add_argument("--replot", type=Path, metavar="JSON",
                        help="do not measure: rebuild the table and plot from a saved results file")
    parser.add_argument("--list", action="store_true", help="list the servers and modes, and exit")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 2 if args.quick else 10
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--rounds and --duration must be >= 1, --warmup >= 0, --threads >= 1")
    if args.servers in ("default", "all"):
        args.selected = [s.name for s in SPECS if args.servers == "all" or s.default]
    else:
        args.selected = [name.strip() for name in args.servers.split(",") if name.strip()]
        unknown = [n for n in args.selected if n not in BY_NAME]
        if unknown:
            parser.error(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    args.mode_keys = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.mode_keys if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; known: {', '.join(MODES)}")
    return args


def modes_for(args) -> list[Mode]:
    chosen = []
    for key in args.mode_keys:
        mode = MODES[key]
        connections = args.many if key == "c1000" else args.connections
        chosen.append(Mode(mode.key, mode.label, connections, mode.headers, mode.explain))
    return chosen


# -- checks before anything runs -----------------------------------------------------

def check_tools(specs: list[Spec]) -> None:
    """Exit with a clear message if wrk or a Python package is missing."""
    if shutil.which("wrk") is None:
        sys.exit("error: wrk is not installed (it generates the load).\n"
                 "  Debian/Ubuntu: sudo apt-get install wrk\n"
                 "  macOS:         brew install wrk")
    needed = {"matplotlib", "harness", *(m for s in specs for m in s.needs)}
    missing = sorted(m for m in needed if importlib.util.find_spec(m) is None)
    if missing:
        sys.exit(f"error: missing Python package(s) for this interpreter ({sys.executable}): "
                 f"{', '.join(missing)}\n"
                 f"  Install the benchmark extra and the solution:\n"
                 f"    {sys.executable} -m pip install -e \"{ROOT}[bench]\" -e \"{SOLUTION}\"")


def add_cpu_options(parser: argparse.ArgumentParser, wrk: str = "wrk") -> None:
    """--server-cpu, --wrk-cpu and --no-pin, which choose_cpus reads."""
    parser.add_argument("--server-cpu", type=int, help="CPU for the server (default: the last one)")
    parser.add_argument("--wrk-cpu", type=int, help=f"CPU for {wrk} (default: the first one)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")


def choose_cpus(args) -> tuple[int | None, int | None, str]:
    """(server CPU, wrk CPU, explanation). None, None when not pinning."""
    if args.no_pin:
        return None, None, "not pinned (--no-pin)"
    if not can_pin():
        return None, None, "not pinned: taskset not found (util-linux)"
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None, f"not pinned: only CPU {allowed} available"
    server_cpu = allowed[-1] if args.server_cpu is None else args.server_cpu
    wrk_cpu = allowed[0] if args.wrk_cpu is None else args.wrk_cpu
    if server_cpu == wrk_cpu:
        sys.exit("error: --server-cpu and --wrk-cpu must differ")
    return server_cpu, wrk_cpu, f"server on CPU {server_cpu}, wrk on CPU {wrk_cpu} (taskset)"


def raise_file_limit() -> None:
    """1000 connections need more than 1024 open files in wrk and the server (inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def machine_info(pinning: str) -> dict:
    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        wrk_version = (wrk.stdout + wrk.stderr).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        wrk_version = None
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "cpu_model": cpu_model, "pinning": pinning, "wrk": wrk_version,
        "packages": {d: version(d) for d in
                     ("httptools", "uvicorn", "uvloop", "starlette", "aiohttp")},
    }


# -- measuring -----------------------------------------------------------------------

def measure(spec: Spec, mode: Mode, round_no: int, args, server_cpu, wrk_cpu) -> dict:
    """One measurement, from starting the server to reaping it. Never raises for a
    broken server or wrk: the problem goes into the record and the run goes on."""
    record = {"round": round_no, "server": spec.name, "mode": mode.key,
              "connections": mode.connections, "rps": None, "notes": []}
    # Overwritten at every start: keeps the disk use bounded (the steps log every request).
    log_path = RESULTS / "logs" / f"{spec.name}.log"
    server = ServerProcess(spec.script, *spec.args, cwd=spec.cwd, prefix=pin(server_cpu),
                           log_file=log_path, startup_timeout=20)
    try:
        server.start()
        note = load.check_answer(server.host, server.port)
        if note:
            record["notes"].append(note)
        if args.warmup:
            load.run_wrk(f"http://{server.host}:{server.port}", mode, args.warmup, args.threads, wrk_cpu)
        # The hypervisor's share of the two CPUs meanwhile: a VM whose host is busy runs
        # slower in bursts, which no interleaving cancels out. The table reports it.
        cpus = {cpu for cpu in (server_cpu, wrk_cpu) if cpu is not None}
        before = load.cpu_ticks(cpus)
        record.update(load.run_wrk(f"http://{server.host}:{server.port}", mode, args.duration,
                                   args.threads, wrk_cpu))
        record["steal"] = load.steal_share(before, load.cpu_ticks(cpus))
        if not server.running:
            record["notes"].append(f"server exited during the run (code {server.process.returncode})")
            print(f"      ! {spec.name} exited during the run; its log ({log_path}):\n{log_tail(server)}")
    except (ServerError, load.BadAnswer, load.WrkFailed) as exc:
        record["problem"] = str(exc)
        if server.process is not None and server.process.poll() is not None:
            record["notes"].append(f"server exited (code {server.process.returncode})")
        # ServerError already carries the server's output.
        tail = "" if isinstance(exc, ServerError) else "\n" + log_tail(server)
        print(f"      ! {spec.name} [{mode.key}] failed: {exc}\n        log: {log_path}{tail}")
    finally:
        server.stop()
    return record


def log_tail(server: ServerProcess, lines: int = 15) -> str:
    tail = server.log().splitlines()[-lines:]
    return "\n".join(f"    | {line}" for line in tail) or "    | (empty log)"


def describe(record: dict) -> str:
    if record["rps"] is None:
        return "FAILED"
    errors = record["error_total"]
    steal = record.get("steal")
    return (f"{record['rps']:>9,.0f} req/s  p99 {record['p99_ms']:6.2f} ms  "
            f"errors {errors:,}" + (f" {record['errors']}" if errors else "")
            + ("" if steal is None else f"  steal {steal:.0%}"))


def build_plan(specs: list[Spec], modes: list[Mode]) -> list[tuple[Spec, Mode]]:
    """The order of one round: mode by mode, the ceiling first in each."""
    plan = []
    for mode in modes:
        for spec in specs:
            if mode.key == "c1000" and not spec.many:
                continue
            plan.append((spec, mode))
    return plan


def table_plan(plan):
    """What report.summarize needs to know about each (server, mode) row."""
    return [(spec.name, spec.loop, mode.key, mode.label, [spec.note] if spec.note else [])
            for spec, mode in plan]


def handle_signals() -> None:
    """Ctrl-C and SIGTERM (`kill`, a CI timeout) both stop the run cleanly.

    SIGINT gets Python's usual handler even if we were started with it ignored (a
    background job in a script is): otherwise Ctrl-C would not stop us, and every
    server would inherit "ignore SIGINT" and need the 5 s kill in ServerProcess.stop().
    """
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, handler)


# -- output --------------------------------------------------------------------------

def present(data: dict, json_path: Path, update_committed_plot: bool) -> None:
    """Print the table and goals; write the plot(s)."""
    measurements, plan, meta = data["measurements"], data["plan"], data["meta"]
    rows = report.summarize(measurements, plan)
    goals = report.check_goals(measurements)
    data["rows"], data["goals"] = rows, goals
    label = "SMOKE RUN (--quick), not a result" if meta["quick"] else "benchmark"
    print(f"\n{label}: {meta['rounds_done']} of {meta['rounds']} rounds, {meta['duration']} s each, "
          f"wrk {meta['threads']} thread(s); {meta['machine']['pinning']}; "
          f"{meta['machine']['cpus']} CPUs, Python {meta['machine']['python']}")
    print(report.table(rows))
    short = meta["rounds_done"] < 3 or meta["duration"] < 10
    print("\nGoals (median of per-round ratios)"
          + (": fewer than 3 rounds or under 10 s each, NOT MEANINGFUL, only a smoke test" if short else ":"))
    print(report.goals_text(goals))
    steal = report.steal_summary(measurements, advice=True)
    if steal:
        print(f"\n{steal[0].upper()}{steal[1:]}")

    title = "Requests per second relative to the ceiling server (higher is better)"
    if meta["quick"]:
        title = "SMOKE RUN (--quick), not a result\n" + title
    subtitle = (f"{meta['started']} | median of {meta['rounds_done']} interleaved rounds, "
                f"{meta['duration']} s each, whiskers min-max | wrk on loopback, "
                f"{meta['machine']['pinning']} | {meta['machine']['cpus']} CPUs "
                f"({meta['machine']['cpu_model'] or 'unknown CPU'}), Python {meta['machine']['python']}")
    if steal:
        subtitle += "\n" + report.steal_summary(measurements)
    png = json_path.with_suffix(".png")
    try:
        report.plot(rows, png, title, subtitle)
        print(f"\nPlot:    {png}")
        if update_committed_plot:
            shutil.copyfile(png, COMMITTED_PLOT)
            print(f"         {COMMITTED_PLOT} (the README's plot) updated")
    except Exception as exc:  # a plot problem must not lose the measurements
        print(f"\n! could not draw the plot: {exc!r}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for spec in SPECS:
            flags = ("default" if spec.default else "opt-in") + (", also c1000" if spec.many else "")
            print(f"  {spec.name:<19} {spec.loop:<8} {flags:<20} {spec.what}")
        for mode in MODES.values():
            print(f"  mode {mode.key:<14} {mode.explain}")
        return 0

    if args.replot:
        data = json.loads(args.replot.read_text())
        present(data, args.replot, args.update_plot)
        return 0

    # The ceiling is every ratio's reference: always measured, always first.
    names = ["ceiling", *[n for n in args.selected if n != "ceiling"]]
    specs = []
    for name in names:
        spec = BY_NAME[name]
        missing = [p for p in (spec.script, *spec.requires) if not p.is_file()]
        if missing:
            print(f"{name}: {missing[0].relative_to(ROOT)} not found, skipped")
            continue
        specs.append(spec)
    check_tools(specs)
    modes = modes_for(args)
    server_cpu, wrk_cpu, pinning = choose_cpus(args)
    raise_file_limit()
    handle_signals()

    plan = build_plan(specs, modes)
    full_default = (not args.quick and args.servers == "default" and args.rounds >= 3
                    and args.mode_keys == list(MODES) and args.duration >= 10)
    per_run = args.duration + args.warmup + 1.5  # + start, check and stop
    print(f"{len(plan)} measurements per round x {args.rounds} rounds, about "
          f"{len(plan) * args.rounds * per_run / 60:.1f} min; {pinning}")
    print("wrk: " + shlex.join(load.wrk_command("http://HOST:PORT", modes[0], args.duration,
                                               args.threads, wrk_cpu)))

    started = datetime.now()
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{started:%Y%m%d-%H%M%S}{'-quick' if args.quick else ''}.json"
    data = {
        "meta": {
            "started": started.isoformat(timespec="seconds"), "quick": args.quick,
            "rounds": args.rounds, "rounds_done": 0, "duration": args.duration,
            "warmup": args.warmup, "threads": args.threads,
            "argv": sys.argv[1:] if argv is None else list(argv),
            "servers": {s.name: {"loop": s.loop, "what": s.what} for s in specs},
            "modes": {m.key: {"label": m.label, "connections": m.connections,
                              "headers": list(m.headers)} for m in modes},
            "machine": machine_info(pinning),
        },
        "plan": table_plan(plan),
        "measurements": [],
    }
    interrupted = False
    try:
        for round_no in range(1, args.rounds + 1):
            print(f"\nround {round_no}/{args.rounds}")
            for spec, mode in plan:
                t0 = time.monotonic()
                record = measure(spec, mode, round_no, args, server_cpu, wrk_cpu)
                data["measurements"].append(record)
                print(f"  {mode.label:<22} {spec.name:<18} {describe(record)}"
                      f"   ({time.monotonic() - t0:.1f} s)", flush=True)
            data["meta"]["rounds_done"] = round_no
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: every server was stopped; partial results follow")

    present(data, json_path, update_committed_plot=(full_default or args.update_plot) and not interrupted)
    json_path.write_text(json.dumps(data, indent=1))
    print(f"Results: {json_path}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
