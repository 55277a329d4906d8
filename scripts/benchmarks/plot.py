#!/usr/bin/python3
"""Draws scripts/bench's sessions sweep: server CPU and echo latency against the number of sessions, both servers.

Usage: plot.py RESULTS_JSON OUT_PNG
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"smallwebrtc": "#1f77b4", "aiortc": "#d62728"}


def main() -> None:
    results = json.load(open(sys.argv[1]))
    figure, (cpu, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    for server, colour in COLOURS.items():
        sweep = results.get(f"sessions.{server}")
        if not sweep:
            continue
        steps = sweep["steps"]
        sessions = [step["sessions"] for step in steps]
        cpu.plot(sessions, [step["serverCpuPct"] for step in steps], "o-", color=colour, label=server)
        late = [(step["sessions"], step["serverCpuPct"]) for step in steps if step["badPct"] >= 1]
        if late:
            cpu.scatter(*zip(*late), s=90, facecolors="none", edgecolors=colour)
        latency.plot(sessions, [step["latencyMs"]["p50"] for step in steps], "o-", color=colour, label=f"{server} p50")
        latency.plot(sessions, [step["latencyMs"]["p99"] for step in steps], "o--", color=colour, alpha=0.6,
                     label=f"{server} p99")
    cpu.axhline(100, color="grey", linewidth=0.8)
    cpu.set(title="Server CPU on one core (circled: >= 1 % late or missing)", xlabel="concurrent echo sessions",
            ylabel="CPU % of one core")
    latency.set(title="Echo latency (marker burst round trip)", xlabel="concurrent echo sessions", ylabel="ms")
    latency.set_yscale("log")
    for axes in (cpu, latency):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    machine = results.get("machine", {})
    figure.suptitle(f"smallwebrtc vs aiortc reference, {machine.get('cpu', '')}, {machine.get('date', '')}", fontsize=10)
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
