"""Benchmark the tutorial's servers against production asyncio servers, with wrk.

    python benchmarks/run.py            # the full run: 3 rounds, about 15 minutes
    python benchmarks/run.py --quick    # a smoke run: 2 s per measurement
    python benchmarks/run.py --list     # what it measures

Each measurement starts one server as its own process (pinned to one CPU), checks
its answer to GET /hello_world, warms it up, runs wrk against it (pinned to another
CPU), and stops it. Rounds are interleaved (A B C ... A B C ...), and every server is
reported as a ratio to the ceiling server measured in the same round and mode.
"""

from __future__ import annotations

import argparse
import contextlib
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

from harness.process import LISTENING  # the line every server prints once it listens

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"  # git-ignored: every run's JSON and plot, the servers' logs
COMMITTED_PLOT = BENCH / "results.png"  # the plot the READMEs show
SERVERS = BENCH / "servers"
STEPS = BENCH.parent / "steps"
EXAMPLES = BENCH.parent / "solution" / "examples"


@dataclass(frozen=True)
class Server:
    name: str
    cwd: Path
    target: tuple[str, ...]  # what `python -m harness.launch` runs in cwd: SCRIPT ARGS or -m MODULE ARGS
    what: str
    loop: str = "asyncio"
    many: bool = False  # also measured with 1000 connections
    needs: tuple[str, ...] = ()  # Python packages beyond httptools and protoweb (the bench extra)
    note: str = ""


PROTOWEB = ("-m", "protoweb", "hello_world:app")
LOGS = "logs every request"
CLOSES = "closes every connection; " + LOGS  # all that steps 06 and 08 can do
SERVER_LIST = [
    Server("ceiling", SERVERS, ("ceiling.py",), "asyncio.Protocol + httptools, answers made at start-up", many=True),
    Server("solution", EXAMPLES, (*PROTOWEB, "--no-access-log"), "protoweb serving solution/examples/"
           "hello_world.py, access log off", many=True),
    Server("solution-log", EXAMPLES, PROTOWEB, "the same with its access log on (protoweb's default)", note=LOGS),
    Server("step06", STEPS / "06_not_found", ("server.py",), "tutorial step 06", note=CLOSES),
    Server("step08", STEPS / "08_limits", ("server.py",), "tutorial step 08 (limits and timeouts)", note=CLOSES),
    Server("step09", STEPS / "09_keep_alive", ("server.py",), "tutorial step 09 (keep-alive)", note=LOGS),
    Server("uvicorn", SERVERS, ("uvicorn_asgi.py", "--loop", "asyncio"), "a bare ASGI app", needs=("uvicorn",)),
    Server("uvicorn-uvloop", SERVERS, ("uvicorn_asgi.py", "--loop", "uvloop"), "the same on uvloop, what "
           "uvicorn[standard] runs by default", loop="uvloop", needs=("uvicorn", "uvloop")),
    Server("starlette", SERVERS, ("uvicorn_starlette.py", "--loop", "asyncio"), "a Starlette app on uvicorn",
           needs=("uvicorn", "starlette")),
    Server("aiohttp", SERVERS, ("aiohttp_web.py",), "an aiohttp.web application", needs=("aiohttp",)),
]
BY_NAME = {server.name: server for server in SERVER_LIST}
MODES = {mode.key: mode for mode in [
    load.Mode("keepalive", "keep-alive", 50),  # request after request on each connection
    load.Mode("close", "close", 50, ("Connection: close",)),  # a new TCP connection for every request
    load.Mode("c1000", "keep-alive, 1000 conn", 1000),  # many clients at once: the ceiling and the solution
]}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s per measurement (not 10), 1 s warm-up")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--servers", default=",".join(BY_NAME),
                        help="comma-separated (default: all); the ceiling is always measured")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated (default: {','.join(MODES)})")
    parser.add_argument("--list", action="store_true", help="list the servers and modes, and exit")
    args = parser.parse_args(argv)
    args.duration, args.warmup = (2, 1) if args.quick else (10, 2)  # seconds measured; of warm-up before
    names, modes = args.servers.split(","), args.modes.split(",")
    unknown = [name for name in names if name not in BY_NAME] + [mode for mode in modes if mode not in MODES]
    if unknown or args.rounds < 1:
        parser.error(f"unknown: {', '.join(unknown)} (see --list)" if unknown else "--rounds must be >= 1")
    # The ceiling is every ratio's reference: always measured, first in each mode.
    args.servers = [BY_NAME["ceiling"], *(BY_NAME[name] for name in names if name != "ceiling")]
    args.modes = [MODES[mode] for mode in modes]
    return args


@contextlib.contextmanager
def running(server: Server, cpu: int | None, log_path: Path):
    """Start the server pinned to ``cpu``, yield (process, host, port) once it says it
    listens, and stop and reap it however the block ends.

    Its output goes straight into a file, not into a pipe: a server that logs every
    request writes tens of thousands of lines a second, and a thread here reading them
    would take CPU from the measurement (while a pipe nobody reads fills up and blocks
    the server). Its stdin is a pipe: harness.launch stops the server when it closes,
    so even a runner killed with kill -9 leaves no server behind.
    """
    command = [*load.pin(cpu), sys.executable, "-u", "-m", "harness.launch", *server.target,
               "--host", "127.0.0.1", "--port", "0"]
    with open(log_path, "wb") as log:  # the server gets its own copy of the file
        process = subprocess.Popen(command, cwd=server.cwd, stdin=subprocess.PIPE, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            exited = process.poll() is not None  # before reading: its last line is read too
            found = LISTENING.search(log_path.read_text(errors="replace"))
            if found:
                break
            if exited or time.monotonic() > deadline:
                why = f"exited (code {process.returncode})" if exited else "said nothing in 20 s"
                raise load.Failed(f"{server.name} {why} before 'Listening on HOST:PORT'")
            time.sleep(0.02)  # the file is all we have: look again shortly
        yield process, found["host"], int(found["port"])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C: the server's own clean stop
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        process.stdin.close()


def measure(server: Server, mode: load.Mode, round_no: int, args, cpus: tuple[int | None, int | None]) -> dict:
    """One measurement. A broken server or wrk does not stop the run: the problem goes
    into the record."""
    record = {"round": round_no, "server": server.name, "mode": mode.key, "rps": None, "notes": []}
    server_cpu, wrk_cpu = cpus
    log_path = RESULTS / "logs" / f"{server.name}.log"  # overwritten at every start: bounded
    try:
        with running(server, server_cpu, log_path) as (process, host, port):
            load.check_answer(host, port)
            load.run_wrk(f"http://{host}:{port}", mode, args.warmup, wrk_cpu)
            # The hypervisor's share of the two CPUs meanwhile: a VM whose host is busy
            # runs slower in bursts, which no interleaving cancels out. The table shows it.
            pinned = {cpu for cpu in cpus if cpu is not None}
            before = load.cpu_ticks(pinned)
            record.update(load.run_wrk(f"http://{host}:{port}", mode, args.duration, wrk_cpu))
            record["steal"] = load.steal_share(before, load.cpu_ticks(pinned))
            if process.poll() is not None:
                raise load.Failed(f"{server.name} exited during the run (code {process.returncode})")
    except load.Failed as exc:
        record["notes"].append(str(exc).splitlines()[0])
        tail = log_path.read_text(errors="replace").splitlines()[-15:] or ["(empty)"]
        print(f"      ! {exc}\n        {log_path}:\n" + "\n".join(f"        | {line}" for line in tail))
    return record


def describe(record: dict) -> str:
    if record["rps"] is None:
        return "FAILED"
    steal = "" if record["steal"] is None else f"  steal {record['steal']:.0%}"
    return f"{record['rps']:>9,.0f} req/s  p99 {record['p99_ms']:6.2f} ms  errors {record['error_total']:,}{steal}"


def prepare(servers: list[Server]) -> tuple[int | None, int | None, dict]:
    """Check that wrk and the servers' Python packages are there (or exit saying what to install),
    allow enough open files, and choose the CPUs: (server CPU, wrk CPU, the machine)."""
    if shutil.which("wrk") is None:
        sys.exit("error: wrk is not installed. Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk")
    packages = {}
    for name in sorted({"httptools", "protoweb", "matplotlib"}.union(*(server.needs for server in servers))):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"error: {name} is not installed. From the repository's root:\n"
                     f"    {sys.executable} -m pip install -e '.[bench]' -e ./solution")
    # 1000 connections need more than 1024 open files, in wrk and in the server.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if shutil.which("taskset") and len(cpus) >= 2:
        server_cpu, wrk_cpu = cpus[-1], cpus[0]
        pinning = f"server on CPU {server_cpu}, wrk on CPU {wrk_cpu} (taskset)"
    else:
        server_cpu = wrk_cpu = None
        pinning = "not pinned (that needs taskset, from util-linux, and 2 CPUs)"
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    models = [line.split(":")[1].strip() for line in cpuinfo if line.startswith("model name")]
    return server_cpu, wrk_cpu, {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "cpu_model": (models or [None])[0], "pinning": pinning, "packages": packages}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for server in SERVER_LIST:
            print(f"  {server.name:<15} {server.loop:<8} {'also c1000' if server.many else '':<11} {server.what}")
        for mode in MODES.values():
            print(f"  mode {mode.key:<10} {mode.connections} connections {' '.join(mode.headers)}")
        return 0
    server_cpu, wrk_cpu, machine = prepare(args.servers)
    # Ctrl-C and SIGTERM (kill, a CI timeout) both raise KeyboardInterrupt and stop the
    # run cleanly, even if we were started with SIGINT ignored (a script's background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    plan = [(server, mode) for mode in args.modes for server in args.servers if mode.key != "c1000" or server.many]
    print(f"{len(plan)} measurements per round x {args.rounds} rounds, about "
          f"{len(plan) * args.rounds * (args.duration + args.warmup + 1.5) / 60:.1f} min; {machine['pinning']}")
    print("wrk: " + shlex.join(load.wrk_command("http://HOST:PORT", args.modes[0], args.duration, wrk_cpu)))
    started = datetime.now()
    (RESULTS / "logs").mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{started:%Y%m%d-%H%M%S}{'-quick' if args.quick else ''}.json"
    data = {
        "meta": {"started": started.isoformat(timespec="seconds"), "quick": args.quick, "rounds": args.rounds,
                 "rounds_done": 0, "duration": args.duration, "warmup": args.warmup, "machine": machine},
        # What the table needs to know of each row: server, loop, mode, its label, notes.
        "plan": [(server.name, server.loop, mode.key, mode.label, [server.note] if server.note else [])
                 for server, mode in plan],
        "measurements": [],
    }
    try:
        for round_no in range(1, args.rounds + 1):
            print(f"\nround {round_no}/{args.rounds}")
            for server, mode in plan:
                t0 = time.monotonic()
                record = measure(server, mode, round_no, args, (server_cpu, wrk_cpu))
                data["measurements"].append(record)
                print(f"  {mode.label:<22} {server.name:<15} {describe(record)}   ({time.monotonic() - t0:.1f} s)",
                      flush=True)
            data["meta"]["rounds_done"] = round_no
    except KeyboardInterrupt:
        print("\ninterrupted: every server was stopped; partial results follow")

    interrupted = data["meta"]["rounds_done"] < args.rounds
    png = json_path.with_suffix(".png")
    report.show(data, png)
    json_path.write_text(json.dumps(data, indent=1))
    print(f"Results: {json_path}")
    # Only a whole run (every server, every mode, long enough for the goals) replaces the READMEs' plot.
    whole = len(args.servers) == len(SERVER_LIST) and len(args.modes) == len(MODES) and args.rounds >= 3
    if whole and not (args.quick or interrupted) and png.exists():
        shutil.copyfile(png, COMMITTED_PLOT)
        print(f"         {COMMITTED_PLOT} updated")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
