"""The benchmarks' own claims: the ratios and goal verdicts are computed as the README
says, the ceiling server is correct HTTP, every comparison server answers the same
JSON, the runner stops its servers, and the commands run (a short smoke run of run.py
when wrk is installed)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from harness import ServerProcess, exchange, request
from harness.process import run_script

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))  # benchmarks/ is a folder of scripts, not a package

import load  # noqa: E402
import report  # noqa: E402
import run  # noqa: E402

HELLO = b'{"hello": "world"}'


def measurement(server, mode, round_no, rps, errors=0):
    return {"server": server, "mode": mode, "round": round_no, "rps": rps,
            "p99_ms": 1.0, "errors": {"timeout": errors}, "error_total": errors}


# -- the arithmetic of the table and the goals ---------------------------------------

def test_ratio_is_the_median_of_per_round_ratios():
    # Rounds where the machine was fast, slow, fast: per round the solution is at 0.9,
    # 0.4 and 0.5 of the ceiling, so the median ratio is 0.5. Dividing the medians of
    # req/s instead (90 / 100 = 0.9) is the mistake this guards against.
    ceiling, solution = [100, 50, 200], [90, 20, 100]
    measurements = [measurement("ceiling", "close", r, v) for r, v in enumerate(ceiling, 1)]
    measurements += [measurement("solution", "close", r, v) for r, v in enumerate(solution, 1)]
    assert report.round_ratios(measurements, "solution", "ceiling", "close") == [0.9, 0.4, 0.5]
    plan = [("ceiling", "asyncio", "close", "close", []), ("solution", "asyncio", "close", "close", [])]
    rows = {row["server"]: row for row in report.summarize(measurements, plan)}
    assert rows["solution"]["ratio_median"] == 0.5
    assert rows["solution"]["rps_median"] == 90
    assert rows["ceiling"]["ratio_median"] == 1.0
    goal = next(g for g in report.check_goals(measurements) if g["goal"].startswith("solution >= 0.85x"))
    assert (goal["value"], goal["verdict"], goal["rounds"]) == (0.5, "FAIL", 3)


def test_a_round_without_its_reference_is_left_out():
    measurements = [measurement("uvicorn", "keepalive", 1, 100), measurement("solution", "keepalive", 1, 130),
                    measurement("solution", "keepalive", 2, 10)]  # round 2: uvicorn failed
    goal = next(g for g in report.check_goals(measurements) if "1.3x uvicorn" in g["goal"])
    assert goal["rounds"] == 1
    assert goal["value"] == pytest.approx(1.3)
    assert goal["verdict"] == "PASS"  # the target itself passes: "at least 1.3x"


def test_a_goal_across_modes_divides_by_the_reference_in_its_own_mode():
    measurements = [measurement("step09", "keepalive", 1, 300), measurement("step08", "close", 1, 100),
                    measurement("step08", "keepalive", 1, 1000)]  # not the reference: another mode
    goal = next(g for g in report.check_goals(measurements) if g["goal"].startswith("step 09"))
    assert (goal["value"], goal["verdict"], goal["rounds"]) == (3.0, "PASS", 1)


def test_the_access_log_goal_compares_log_on_with_log_off():
    measurements = [measurement("solution", "keepalive", 1, 100), measurement("solution-log", "keepalive", 1, 28)]
    goal = next(g for g in report.check_goals(measurements) if "access log on" in g["goal"])
    assert (goal["value"], goal["target"], goal["verdict"]) == (0.28, 0.8, "FAIL")


def test_errors_under_1000_connections_fail_the_goal():
    clean = [measurement("solution", "c1000", r, 5000) for r in (1, 2, 3)]
    assert report.check_goals(clean)[-1]["verdict"] == "PASS"
    one_error = clean[:2] + [measurement("solution", "c1000", 3, 5000, errors=1)]
    assert report.check_goals(one_error)[-1]["verdict"] == "FAIL"
    assert report.check_goals([])[-1]["verdict"] == "n/a (not measured)"


def test_measurements_on_a_busy_host_are_flagged():
    measurements = [measurement("ceiling", "close", 1, 100), measurement("solution", "close", 1, 80)]
    measurements[0]["steal"], measurements[1]["steal"] = 0.01, 0.12
    plan = [("ceiling", "asyncio", "close", "close", []), ("solution", "asyncio", "close", "close", [])]
    notes = {row["server"]: row["notes"] for row in report.summarize(measurements, plan)}
    assert notes == {"ceiling": [], "solution": ["steal up to 12%"]}
    summary = report.steal_summary(measurements)
    assert "max 12%" in summary and "1 of 2 at 5% or more" in summary and "rerun" in summary
    assert "rerun" not in report.steal_summary(measurements[:1])
    assert report.steal_summary([measurement("ceiling", "close", 1, 100)]) is None  # no /proc: nothing said


# -- the servers ------------------------------------------------------------------------

@pytest.fixture
def ceiling():
    with ServerProcess(BENCH / "servers" / "ceiling.py") as server:
        yield server


def test_ceiling_speaks_http(ceiling):
    host, port = ceiling.address
    keep_alive = request("GET", "/hello_world")
    close = request("GET", "/hello_world", headers={"Connection": "close"})
    # Two pipelined requests on one connection: both answered, in order, then closed.
    ex = exchange(host, port, keep_alive + close)
    first, second = ex.responses()
    length = f"Content-Length: {len(HELLO)}\r\n".encode()
    assert first.head == b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + length + \
        b"Connection: keep-alive\r\n\r\n"
    assert second.head == b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + length + \
        b"Connection: close\r\n\r\n"
    assert first.body == second.body == HELLO
    assert ex.closed
    missing = exchange(host, port, request("GET", "/nope", headers={"Connection": "close"})).response
    assert (missing.status, json.loads(missing.body)) == (404, {"message": "Not Found"})
    garbage = exchange(host, port, b"\x16\x03\x01 not HTTP\r\n\r\n")
    assert garbage.response.status == 400
    assert garbage.closed


@pytest.mark.parametrize("script, needs", [
    ("uvicorn_asgi.py", ["uvicorn", "httptools"]),
    ("uvicorn_starlette.py", ["uvicorn", "starlette"]),
    ("aiohttp_web.py", ["aiohttp"]),
])
def test_every_comparison_server_answers_the_same(script, needs):
    missing = [name for name in needs if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (the bench extra: pip install -e '.[bench]')")
    with ServerProcess(BENCH / "servers" / script) as server:
        load.check_answer(*server.address)  # raises unless a 200 with exactly {"hello": "world"}


def test_the_runner_reaps_its_servers(tmp_path):
    log = tmp_path / "ceiling.log"
    with run.running(run.BY_NAME["ceiling"], None, log) as (process, host, port):
        load.check_answer(host, port)
    assert process.returncode is not None  # stopped and reaped
    assert "Listening on" in log.read_text()  # the server's output went to its log file
    (tmp_path / "broken.py").write_text("raise SystemExit(3)\n")
    broken = run.Server("broken", tmp_path, ("broken.py",), "exits before it listens")
    with pytest.raises(load.Failed, match="exited"), run.running(broken, None, tmp_path / "broken.log"):
        pass


# -- the commands -------------------------------------------------------------------------

def test_inprocess_measures_every_server():
    result = run_script(BENCH / "inprocess.py", "--rounds", "2", "--repeat", "1", timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    for mode in ("keep-alive:", "close:"):
        assert mode in result.stdout
    for name in ("ceiling", "solution"):
        assert f"  {name} " in result.stdout, result.stdout


def test_run_lists_its_servers_and_modes():
    result = run_script(BENCH / "run.py", "--list", timeout=30)
    assert result.returncode == 0, result.stderr
    for name in ("ceiling", "solution", "solution-log", "step06", "step08", "step09", "uvicorn", "uvicorn-uvloop",
                 "starlette", "aiohttp", "c1000"):
        assert name in result.stdout


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
@pytest.mark.timeout(60)
def test_run_smoke():
    """The whole command, as short as it goes: two servers (with the ceiling), one mode, one round."""
    published = (BENCH / "results.png").read_bytes()
    result = run_script(BENCH / "run.py", "--quick", "--servers", "solution", "--modes", "keepalive", "--rounds", "1",
                        timeout=50)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (BENCH / "results.png").read_bytes() == published  # a smoke run leaves the README's plot alone
    rows = [line for line in result.stdout.splitlines() if line.startswith("| solution ")]
    assert len(rows) == 1, result.stdout
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[6] == "0", rows[0]  # errors
    assert float(cells[3].replace(",", "")) > 0  # req/s
    assert "NOT MEANINGFUL" in result.stdout  # one short round proves nothing, and it says so
