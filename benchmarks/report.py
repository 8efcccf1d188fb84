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
    # What step 09 teaches: the same requests on kept-alive connections, against step 08
    # opening a new connection for each.
    ("step 09 (keep-alive) >= 3x step 08 (a new connection per request)",
     "step09", "step08", "keepalive", 3.0, "close"),
    # For information only: uvicorn as `pip install uvicorn[standard]` runs it.
    ("solution vs uvicorn on uvloop (keep-alive), for information",
     "solution", "uvicorn-uvloop", "keepalive", None),
]


def _good(measurements, server, mode):
    return {m["round"]: m for m in measurements
            if m["server"] == server and m["mode"] == mode and m.get("rps") is not None}


def round_ratios(measurements, server, reference, mode, reference_mode=None):
    """server req/s / reference req/s, for each round in which both were measured (the
    reference in ``reference_mode``, by default the same mode)."""
    mine, theirs = _good(measurements, server, mode), _good(measurements, reference, reference_mode or mode)
    return [mine[r]["rps"] / theirs[r]["rps"]
            for r in sorted(mine) if r in theirs and theirs[r]["rps"] > 0]


def summarize(measurements, plan):
    """One row per (server, mode) of the plan, in the plan's order."""
    rows = []
    for server, loop, mode, mode_label, notes in plan:
        runs = [m for m in measurements if m["server"] == server and m["mode"] == mode]
        good = [m for m in runs if m.get("rps") is not None]
        rps = [m["rps"] for m in good]
        errors = {}
        for m in good:
            for kind, count in m["errors"].items():
                errors[kind] = errors.get(kind, 0) + count
        ratios = round_ratios(measurements, server, CEILING, mode)
        row_notes = list(notes)
        for m in runs:
            for note in m.get("notes", []):
                if note not in row_notes:
                    row_notes.append(note)
        failed = len(runs) - len(good)
        if failed:
            row_notes.append(f"{failed} of {len(runs)} runs failed")
        steal = [m["steal"] for m in good if m.get("steal") is not None]
        if steal and max(steal) >= NOISY_STEAL:
            row_notes.append(f"steal up to {max(steal):.0%}")
        rows.append({
            "server": server, "loop": loop, "mode": mode, "mode_label": mode_label,
            "rounds": len(good),
            "rps_median": median(rps) if rps else None,
            "rps_min": min(rps) if rps else None,
            "rps_max": max(rps) if rps else None,
            "p99_ms_median": median(m["p99_ms"] for m in good) if good else None,
            "errors": errors, "error_total": sum(errors.values()),
            "ratios": ratios,
            "ratio_median": median(ratios) if ratios else None,
            "notes": row_notes,
        })
    return rows


def check_goals(measurements):
    results = []
    for text, server, reference, mode, target, *reference_mode in GOALS:
        ratios = round_ratios(measurements, server, reference, mode, *reference_mode)
        value = median(ratios) if ratios else None
        if value is None:
            verdict = "n/a (not measured)"
        elif target is None:
            verdict = "info"
        else:
            verdict = "PASS" if value >= target else "FAIL"
        results.append({"goal": text, "value": value, "target": target,
                        "rounds": len(ratios), "verdict": verdict})
    # The last goal is about errors, not speed.
    runs = [m for m in measurements if m["server"] == "solution" and m["mode"] == "c1000"]
    errors = sum(m["error_total"] for m in runs if m.get("rps") is not None)
    failed = sum(1 for m in runs if m.get("rps") is None)
    if not runs:
        verdict = "n/a (not measured)"
    else:
        verdict = "PASS" if errors == 0 and failed == 0 else "FAIL"
    results.append({"goal": "solution, 1000 keep-alive connections: 0 errors",
                    "value": errors if runs else None, "target": 0,
                    "rounds": len(runs) - failed, "verdict": verdict})
    return results


def steal_summary(measurements, advice=False):
    """One line on how much CPU the hypervisor took during the measurements, or None;
    with ``advice``, what to make of it when measurements were flagged."""
    steal = sorted(m["steal"] for m in measurements if m.get("steal") is not None)
    if not steal:
        return None
    noisy = sum(1 for value in steal if value >= NOISY_STEAL)
    text = (f"steal (CPU time the VM's host gave to others) per measurement: "
            f"median {median(steal):.0%}, max {steal[-1]:.0%}")
    if noisy:
        text += f"; {noisy} of {len(steal)} measurements at {NOISY_STEAL:.0%} or more"
        if advice:
            text += ": the machine was busy, ratios are less certain (rerun when it is quiet)"
    return text


# -- text -------------------------------------------------------------------------

def _int(x):
    return "-" if x is None else f"{x:,.0f}"


def _errors(row):
    if not row["error_total"]:
        return "0"
    parts = ", ".join(f"{kind} {n:,}" for kind, n in row["errors"].items() if n)
    return f"{row['error_total']:,} ({parts})"


def _ratio(row):
    if row["ratio_median"] is None:
        return "-"
    low, high = min(row["ratios"]), max(row["ratios"])
    return f"{row['ratio_median']:.2f} ({low:.2f}-{high:.2f})"


def table(rows):
    """A Markdown table, aligned so it also reads well in a terminal."""
    header = ["server", "loop", "mode", "req/s (median)", "min-max", "p99 ms",
              "errors", "x ceiling (min-max)", "notes"]
    lines = [header]
    for row in rows:
        lines.append([
            row["server"], row["loop"], row["mode_label"],
            _int(row["rps_median"]),
            "-" if row["rps_min"] is None else f"{_int(row['rps_min'])}-{_int(row['rps_max'])}",
            "-" if row["p99_ms_median"] is None else f"{row['p99_ms_median']:.2f}",
            _errors(row), _ratio(row), "; ".join(row["notes"]),
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = {3, 4, 5, 6, 7}  # right-aligned columns

    def fmt(cells):
        padded = [c.rjust(w) if i in numeric else c.ljust(w)
                  for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else ("-" * (w + 2))
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([fmt(lines[0]), rule, *map(fmt, lines[1:])])


def goals_text(goals):
    out = []
    for g in goals:
        if g["value"] is None:
            value = "-"
        elif g["goal"].endswith("0 errors"):
            value = f"{g['value']:,} errors"
        else:
            value = f"{g['value']:.2f}x"
        out.append(f"  {g['verdict']:<20} {value:>12}  {g['goal']}  [{g['rounds']} rounds]")
    return "\n".join(out)


# -- plot -------------------------------------------------------------------------

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
    width = 0.8 / max(1, len(modes))
    for i, (mode, label) in enumerate(modes):
        xs, heights, low, high = [], [], [], []
        for x, server in enumerate(servers):
            row = next((r for r in shown if r["server"] == server and r["mode"] == mode), None)
            if row is None:
                continue
            xs.append(x + (i - (len(modes) - 1) / 2) * width)
            heights.append(row["ratio_median"])
            low.append(row["ratio_median"] - min(row["ratios"]))
            high.append(max(row["ratios"]) - row["ratio_median"])
        reference = ceiling_rps.get(mode)
        legend = f"{label} (ceiling {reference:,.0f} req/s)" if reference else label
        ax.bar(xs, heights, width, yerr=[low, high], capsize=3, label=legend)
        for x, h, up in zip(xs, heights, high):  # the median, just above the whisker
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
