"""Turn measurements into the table, the goal checks and the plot.

A measurement is one wrk run: one server, one mode, one round (a dict, as saved in
the JSON). The number that counts is a server's ratio to the ceiling measured in the
same mode and the same round: absolute req/s drift by up to 2x between runs on a
small shared VM, but two servers measured a few seconds apart drift together.
"""

from __future__ import annotations

from statistics import median

CEILING = "ceiling"
# A measurement during which the hypervisor took this share of the CPUs or more is
# flagged: the server ran slower in bursts that the other servers may not have met.
NOISY_STEAL = 0.05

# (description, server, reference server, mode, at least[, the reference's mode]) — from the issues.
GOALS = [
    ("solution >= 1.3x uvicorn, bare ASGI app (keep-alive)", "solution", "uvicorn", "keepalive", 1.3),
    ("solution >= 2x uvicorn + Starlette (keep-alive)", "solution", "starlette", "keepalive", 2.0),
    ("solution >= 0.85x ceiling (close)", "solution", CEILING, "close", 0.85),
    ("step 06 >= 0.85x ceiling (close)", "step06", CEILING, "close", 0.85),
    # protoweb's access log is on by default: it should cost little next to the rest.
    ("solution, access log on >= 0.8x access log off (keep-alive)", "solution-log", "solution", "keepalive", 0.8),
    # What step 09 teaches: the same requests on kept-alive connections, against step 08
    # opening a new connection for each.
    ("step 09 (keep-alive) >= 3x step 08 (a new connection per request)",
     "step09", "step08", "keepalive", 3.0, "close"),
    # For information only: uvicorn as `pip install uvicorn[standard]` runs it.
    ("solution vs uvicorn on uvloop (keep-alive), for information", "solution", "uvicorn-uvloop", "keepalive", None),
]
ERRORS_GOAL = "solution, 1000 keep-alive connections: 0 errors"


def round_ratios(measurements, server, reference, mode, reference_mode=None):
    """server req/s / reference req/s, for each round in which both were measured (the
    reference in ``reference_mode``, by default the same mode)."""
    def by_round(name, mode):
        return {m["round"]: m["rps"] for m in measurements
                if m["server"] == name and m["mode"] == mode and m["rps"] is not None}

    mine, theirs = by_round(server, mode), by_round(reference, reference_mode or mode)
    return [mine[r] / theirs[r] for r in sorted(mine) if theirs.get(r)]


def summarize(measurements, plan):
    """One row per (server, loop, mode, mode label, notes) of the plan, in its order."""
    rows = []
    for server, loop, mode, mode_label, notes in plan:
        runs = [m for m in measurements if m["server"] == server and m["mode"] == mode]
        good = [m for m in runs if m["rps"] is not None]
        rps = [m["rps"] for m in good]
        notes = list(dict.fromkeys([*notes, *(note for m in runs for note in m.get("notes", []))]))
        if len(good) < len(runs):
            notes.append(f"{len(runs) - len(good)} of {len(runs)} runs failed")
        steal = max((m["steal"] for m in good if m.get("steal") is not None), default=0)
        if steal >= NOISY_STEAL:
            notes.append(f"steal up to {steal:.0%}")
        ratios = round_ratios(measurements, server, CEILING, mode)
        rows.append({
            "server": server, "loop": loop, "mode": mode, "mode_label": mode_label, "rounds": len(good),
            "rps_median": median(rps) if rps else None,
            "rps_min": min(rps, default=None), "rps_max": max(rps, default=None),
            "p99_ms_median": median(m["p99_ms"] for m in good) if good else None,
            "error_total": sum(m["error_total"] for m in good),  # by kind: in the measurements
            "ratios": ratios, "ratio_median": median(ratios) if ratios else None,
            "notes": notes,
        })
    return rows


def check_goals(measurements):
    results = []
    for text, server, reference, mode, target, *reference_mode in GOALS:
        ratios = round_ratios(measurements, server, reference, mode, *reference_mode)
        value = median(ratios) if ratios else None
        verdict = ("n/a (not measured)" if value is None else "info" if target is None
                   else "PASS" if value >= target else "FAIL")
        results.append({"goal": text, "value": value, "target": target,
                        "rounds": len(ratios), "verdict": verdict})
    # The last goal is about errors, not speed: a failed run counts against it too.
    runs = [m for m in measurements if m["server"] == "solution" and m["mode"] == "c1000"]
    good = [m for m in runs if m["rps"] is not None]
    errors = sum(m["error_total"] for m in good)
    verdict = "n/a (not measured)" if not runs else "PASS" if errors == 0 and good == runs else "FAIL"
    results.append({"goal": ERRORS_GOAL, "value": errors if runs else None, "target": 0,
                    "rounds": len(good), "verdict": verdict})
    return results


def steal_summary(measurements):
    """One line on how much CPU the VM's host took during the measurements (None without /proc)."""
    steal = sorted(m["steal"] for m in measurements if m.get("steal") is not None)
    if not steal:
        return None
    line = (f"steal (CPU time the VM's host gave to others) per measurement: "
            f"median {median(steal):.0%}, max {steal[-1]:.0%}")
    noisy = sum(value >= NOISY_STEAL for value in steal)
    if noisy:
        line += f"; {noisy} of {len(steal)} at {NOISY_STEAL:.0%} or more: ratios less certain, rerun when it is quiet"
    return line


def show(data, png):
    """Print a run's table, goals and steal, and draw its plot into ``png``. ``data`` is
    what run.py saves as JSON; the rows and the goals are added to it."""
    measurements, meta, machine = data["measurements"], data["meta"], data["meta"]["machine"]
    rows = data["rows"] = summarize(measurements, data["plan"])
    goals = data["goals"] = check_goals(measurements)
    label = "SMOKE RUN (--quick), not a result" if meta["quick"] else "benchmark"
    print(f"\n{label}: {meta['rounds_done']} of {meta['rounds']} rounds, {meta['duration']} s each, "
          f"wrk 1 thread; {machine['pinning']}; {machine['cpus']} CPUs, Python {machine['python']}")
    print(table(rows))
    short = meta["rounds_done"] < 3 or meta["duration"] < 10
    print("\nGoals (median of per-round ratios)"
          + (": fewer than 3 rounds or under 10 s each, NOT MEANINGFUL, only a smoke test" if short else ":"))
    for goal in goals:
        if goal["value"] is None:
            value = "-"
        else:
            value = f"{goal['value']:,} errors" if goal["goal"] == ERRORS_GOAL else f"{goal['value']:.2f}x"
        print(f"  {goal['verdict']:<20} {value:>12}  {goal['goal']}  [{goal['rounds']} rounds]")
    steal = steal_summary(measurements)
    if steal:
        print(f"\n{steal[0].upper()}{steal[1:]}")

    title = "Requests per second relative to the ceiling server (higher is better)"
    if meta["quick"]:
        title = "SMOKE RUN (--quick), not a result\n" + title
    subtitle = (f"{meta['started']} | median of {meta['rounds_done']} interleaved rounds, "
                f"{meta['duration']} s each, whiskers min-max | wrk on loopback, {machine['pinning']} | "
                f"{machine['cpus']} CPUs ({machine['cpu_model'] or 'unknown CPU'}), Python {machine['python']}")
    if steal:
        subtitle += "\n" + steal
    try:
        plot(rows, png, title, subtitle)
        print(f"\nPlot:    {png}")
    except Exception as exc:  # a plot problem must not lose the measurements
        print(f"\n! could not draw the plot: {exc!r}")


def table(rows):
    """A Markdown table, aligned so that it also reads well in a terminal."""
    def number(x):
        return "-" if x is None else f"{x:,.0f}"

    lines = [["server", "loop", "mode", "req/s (median)", "min-max", "p99 ms", "errors", "x ceiling (min-max)",
              "notes"]]
    for row in rows:
        ratio, ratios = row["ratio_median"], row["ratios"]
        lines.append([
            row["server"], row["loop"], row["mode_label"], number(row["rps_median"]),
            f"{number(row['rps_min'])}-{number(row['rps_max'])}" if row["rps_min"] is not None else "-",
            "-" if row["p99_ms_median"] is None else f"{row['p99_ms_median']:.2f}",
            f"{row['error_total']:,}",
            "-" if ratio is None else f"{ratio:.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
            "; ".join(row["notes"]),
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    numeric = {3, 4, 5, 6, 7}  # right-aligned columns

    def line(cells):
        return "| " + " | ".join(cell.rjust(width) if i in numeric else cell.ljust(width)
                                 for i, (cell, width) in enumerate(zip(cells, widths, strict=True))) + " |"

    rule = ["-" * (width - 1) + ":" if i in numeric else "-" * width for i, width in enumerate(widths)]
    return "\n".join(map(line, [lines[0], rule, *lines[1:]]))


def plot(rows, path, title, subtitle):
    """Bars of the median ratio to the ceiling per server and mode; whiskers min-max."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r["server"] != CEILING and r["ratio_median"] is not None]
    if not shown:
        raise ValueError("nothing to plot: no server was measured next to the ceiling")
    servers = list(dict.fromkeys(r["server"] for r in shown))
    modes = list(dict.fromkeys((r["mode"], r["mode_label"]) for r in shown))
    ceiling_rps = {r["mode"]: r["rps_median"] for r in rows if r["server"] == CEILING}

    fig, ax = plt.subplots(figsize=(max(7.0, 1.2 * len(servers) + 2), 5.2), dpi=110)
    width = 0.8 / len(modes)
    for i, (mode, label) in enumerate(modes):
        bars = [(x + (i - (len(modes) - 1) / 2) * width, r) for x, server in enumerate(servers)
                for r in shown if r["server"] == server and r["mode"] == mode]
        xs = [x for x, _ in bars]
        heights = [r["ratio_median"] for _, r in bars]
        low = [r["ratio_median"] - min(r["ratios"]) for _, r in bars]
        high = [max(r["ratios"]) - r["ratio_median"] for _, r in bars]
        reference = ceiling_rps.get(mode)
        legend = f"{label} (ceiling {reference:,.0f} req/s)" if reference else label
        ax.bar(xs, heights, width, yerr=[low, high], capsize=3, label=legend)
        for x, h, up in zip(xs, heights, high, strict=True):  # the median, just above the whisker
            ax.text(x, h + up + 0.015, f"{h:.2f}", ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ax.text(len(servers) - 0.5, 1.0, " ceiling", va="bottom", ha="right", fontsize=8)
    ax.set_xticks(range(len(servers)), servers, rotation=20, ha="right")
    ax.set_ylabel("req/s / ceiling req/s, same round")
    ax.set_ylim(0, max([1.15] + [max(r["ratios"]) * 1.1 + 0.05 for r in shown]))
    ax.set_title(title, fontsize=11, pad=28)
    fig.text(0.5, 0.005, subtitle, ha="center", va="bottom", fontsize=7, wrap=True)
    # Above the plot area, under the title: never on top of a bar.
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(modes), frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path)
    plt.close(fig)
