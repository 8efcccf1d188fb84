"""Load a server with wrk and read what wrk measured; check the server's answer first;
read how much CPU time the VM's host took meanwhile."""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_REPORT = Path(__file__).resolve().parent / "report.lua"
PATH = "/hello_world"
EXPECTED = {"hello": "world"}


@dataclass(frozen=True)
class Mode:
    key: str  # used on the command line and in the JSON
    label: str  # shown in the table and the plot
    connections: int
    headers: tuple[str, ...] = ()


class Failed(RuntimeError):
    """No measurement: the server did not start or did not answer right, or wrk failed."""


def pin(cpu: int | None) -> list[str]:
    """The command prefix that runs a program on one CPU (empty if not pinning)."""
    return [] if cpu is None else ["taskset", "-c", str(cpu)]


def wrk_command(url: str, mode: Mode, seconds: int, cpu: int | None) -> list[str]:
    # One wrk thread: wrk gets one CPU. --timeout 2s is wrk's default, said explicitly:
    # a slower answer counts as an error.
    headers = [arg for header in mode.headers for arg in ("-H", header)]
    return [*pin(cpu), "wrk", "-t", "1", "-c", str(mode.connections), "-d", f"{seconds}s", "--timeout", "2s",
            "-s", str(LUA_REPORT), *headers, url + PATH]


def run_wrk(url: str, mode: Mode, seconds: int, cpu: int | None) -> dict:
    """Run wrk once; return req/s, latencies (ms) and error counts (report.lua's line)."""
    try:
        # wrk stops by itself after `seconds`; the timeout only guards against a hang.
        done = subprocess.run(wrk_command(url, mode, seconds, cpu), capture_output=True, text=True,
                              timeout=seconds + 30)
    except subprocess.TimeoutExpired as exc:  # run() has killed and reaped wrk
        raise Failed(f"wrk did not finish in {seconds + 30} s") from exc
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line.removeprefix("WRK_RESULT "))
    output = (done.stdout + done.stderr).strip()[-1500:]
    raise Failed(f"wrk exited with code {done.returncode} without a result:\n{output}")


def check_answer(host: str, port: int) -> None:
    """One GET /hello_world before the load: Failed unless a 200 with {"hello": "world"}."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", PATH, headers={"Connection": "close"})
        response = connection.getresponse()
        status, body = response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise Failed(f"GET {PATH} failed: {exc!r}") from exc
    finally:
        connection.close()
    with contextlib.suppress(ValueError):  # a body that is not JSON
        if status == 200 and json.loads(body) == EXPECTED:
            return
    raise Failed(f"GET {PATH} answered {status} {body[:200]!r}, not 200 {json.dumps(EXPECTED)}")


def cpu_ticks(cpus: set[int]) -> tuple[int, int] | None:
    """(steal, all) clock ticks of these CPUs so far, from /proc/stat (no CPUs: the
    whole machine). None where there is no /proc (macOS): the figures are left out."""
    names = {f"cpu{cpu}" for cpu in cpus} or {"cpu"}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    # The columns: user nice system idle iowait irq softirq steal (then guest time,
    # which is already counted in user and nice).
    rows = [[int(value) for value in line.split()[1:9]] for line in lines if line.split()[0] in names]
    return sum(row[7] for row in rows), sum(sum(row) for row in rows)


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of the CPUs' time the hypervisor gave to other machines ("steal")."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])
