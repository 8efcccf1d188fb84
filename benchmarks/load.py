"""Drive a server with wrk and read what wrk measured; check a server's answer first."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_REPORT = Path(__file__).resolve().parent / "report.lua"
PATH = "/hello_world"
EXPECTED = {"hello": "world"}
ERROR_KINDS = ("connect", "read", "write", "timeout", "status")  # status: responses >= 400


@dataclass(frozen=True)
class Mode:
    key: str  # used on the command line and in the JSON
    label: str  # shown in the table and the plot
    connections: int
    headers: tuple[str, ...] = ()
    explain: str = ""


# The columns of a cpu line in /proc/stat: clock ticks spent in each kind of work.
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_ticks(cpus: set[int] | None = None) -> dict[str, int] | None:
    """Clock ticks by kind (/proc/stat), summed over ``cpus`` (None: all CPUs together).

    None where there is no /proc (macOS): callers then leave the CPU figures out.
    """
    labels = {"cpu"} if not cpus else {f"cpu{cpu}" for cpu in cpus}
    totals = dict.fromkeys(CPU_FIELDS, 0)
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    found = 0
    for line in lines:
        name, *values = line.split()
        if name in labels:
            found += 1
            for field_name, value in zip(CPU_FIELDS, values):
                totals[field_name] += int(value)
    return totals if found == len(labels) else None


def steal_share(before: dict[str, int] | None, after: dict[str, int] | None) -> float | None:
    """The share of the CPUs' time the hypervisor gave to other machines ("steal")."""
    if before is None or after is None:
        return None
    total = sum(after.values()) - sum(before.values())
    return (after["steal"] - before["steal"]) / total if total > 0 else None


def pin(cpu: int | None) -> list[str]:
    """The command prefix that runs a program on one CPU (empty if not pinning)."""
    return [] if cpu is None else ["taskset", "-c", str(cpu)]


def can_pin() -> bool:
    return shutil.which("taskset") is not None and hasattr(os, "sched_getaffinity")


class WrkFailed(RuntimeError):
    """wrk did not run, or printed no result."""


class BadAnswer(RuntimeError):
    """The server's answer to GET /hello_world is not a 200 with a JSON body."""


def wrk_command(url: str, mode: Mode, seconds: int, threads: int, cpu: int | None) -> list[str]:
    command = [
        *pin(cpu), "wrk",
        "-t", str(threads), "-c", str(mode.connections), "-d", f"{seconds}s",
        "--timeout", "2s",  # wrk's default, said explicitly: slower answers count as errors
        "-s", str(LUA_REPORT),
    ]
    for header in mode.headers:
        command += ["-H", header]
    return [*command, url + PATH]


def run_wrk(url: str, mode: Mode, seconds: int, threads: int, cpu: int | None) -> dict:
    """Run wrk once; return req/s, latencies (ms) and error counts."""
    command = wrk_command(url, mode, seconds, threads, cpu)
    try:
        # wrk stops by itself after `seconds`; the timeout only guards against a hang.
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired as exc:  # run() has killed and reaped wrk
        raise WrkFailed(f"wrk did not finish in {seconds + 30} s") from exc
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            raw = json.loads(line.removeprefix("WRK_RESULT "))
            break
    else:
        raise WrkFailed(
            f"wrk exited with code {done.returncode} without a result:\n"
            f"{(done.stdout + done.stderr).strip()[-1500:]}"
        )
    seconds_measured = raw["duration_us"] / 1e6
    errors = {kind: raw[kind] for kind in ERROR_KINDS}
    return {
        "rps": raw["requests"] / seconds_measured if seconds_measured else 0.0,
        "requests": raw["requests"],
        "seconds": round(seconds_measured, 3),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
        "errors": errors,
        "error_total": sum(errors.values()),
    }


def check_answer(host: str, port: int) -> str | None:
    """One GET /hello_world before any load: raise BadAnswer if it is not a 200 with JSON.

    Returns a note if the JSON is not exactly {"hello": "world"} (step 04 says "back").
    """
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", PATH, headers={"Connection": "close"})
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise BadAnswer(f"GET {PATH} failed: {exc!r}") from exc
    finally:
        connection.close()
    if response.status != 200:
        raise BadAnswer(f"GET {PATH} answered {response.status}: {raw[:200]!r}")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadAnswer(f"GET {PATH} answered a body that is not JSON: {raw[:200]!r}") from exc
    return None if body == EXPECTED else f"answers {json.dumps(body)}"
