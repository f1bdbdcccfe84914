#!/usr/bin/env python3
"""Turns `tessera bench ... --json` lines into a Markdown table and a PNG plot.

    python3 bench/report.py results.jsonl OUTDIR
"""
import json
import math
import os
import sys


def fmt(v):
    if v is None:  # a non-finite figure (e.g. a peer that did not run) is null in the JSON
        return "–"
    if isinstance(v, (int, float)):
        if v != v:
            return "–"
        a = abs(v)
        return f"{v:.3e}" if a and (a >= 1e4 or a < 1e-3) else f"{v:.4g}"
    return str(v)


def main(path, outdir):
    rows = [json.loads(l) for l in open(path) if l.strip().startswith("{")]
    os.makedirs(outdir, exist_ok=True)
    machine = ""
    mpath = os.path.join(outdir, "machine.txt")
    if os.path.exists(mpath):
        machine = "```\n" + open(mpath).read().strip() + "\n```\n\n"
    lines = ["# Tessera benchmarks\n", machine,
             "speedup > 1: Tessera faster than the baseline (time units: baseline/ours; rate units: ours/baseline). "
             "fraction: our achieved rate / the machine limit named, measured in the same run.\n",
             "| case | unit | ours | baseline | baseline value | speedup | limit | fraction | threads |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            r.get("case"), r.get("unit"), fmt(r.get("ours")), r.get("baseline_name"), fmt(r.get("baseline")),
            fmt(r.get("speedup")), r.get("limit_name", "–"),
            fmt(r["fraction"]) if "fraction" in r else "–", r.get("threads", "")))
    md = os.path.join(outdir, "results.md")
    open(md, "w").write("\n".join(lines) + "\n")
    print(f"report: {md} ({len(rows)} cases)")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    sp = [(r["case"], r["speedup"]) for r in rows
          if isinstance(r.get("speedup"), (int, float)) and r["speedup"] == r["speedup"] and r["speedup"] > 0]
    if not sp:
        return
    fig, ax = plt.subplots(figsize=(10, max(3, 0.28 * len(sp))))
    names = [n for n, _ in sp][::-1]
    vals = [v for _, v in sp][::-1]
    colors = ["#2a9d8f" if v >= 1 else "#e76f51" for v in vals]
    ax.barh(range(len(vals)), vals, color=colors)
    ax.set_yticks(range(len(vals)))
    ax.set_yticklabels(names, fontsize=7)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speedup vs baseline (log scale; > 1 is faster)")
    ax.set_title("Tessera vs baselines, same run")
    fig.tight_layout()
    png = os.path.join(outdir, "speedup.png")
    fig.savefig(png, dpi=120)
    print(f"report: {png}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "bench-results")
