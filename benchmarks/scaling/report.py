#!/usr/bin/env python3
"""Reduces benchmarks/scaling/run.sh's runs to medians: scaling.csv, scaling.md, strong.png, weak.png.

  python3 benchmarks/scaling/report.py RESULTS_DIR [--warmup W]

Per run (metrics.jsonl, log_every = 1): the medians over steps after the first W of tokens/s,
step_ms and mfu; from the trainer's summary line, the communication share of step time, the peak
resident memory of the largest rank and the CPU time a step costs a rank. Per point: the median
over repeats of each. Scaling efficiency = tokens/s ÷ (ranks × tokens/s of the baseline on 1
rank): the dense model's, or for the ep layout the same mixture-of-experts model's. Strong scaling
keeps the global batch, weak the batch per rank, so in both a perfect layout scores 100%.
CPU efficiency is the same ratio in tokens per CPU-second of all ranks (the baseline's over the
point's CPU time per token): what scaling costs in work, whatever share of the cores the job got
on a machine shared with other jobs.
"""
import argparse
import csv
import json
import os
import re
import statistics
import sys

SUMMARY = re.compile(r"tessera: summary: .* communication ([\d.]+)% of step time, "
                     r"peak memory ([\d.]+) (KiB|MiB|GiB) per rank \(largest\), CPU ([\d.]+) ms/step per rank")
UNIT_MIB = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}
COLUMNS = ["mode", "layout", "ranks", "oversubscribed", "runs", "tokens_per_s", "step_ms", "mfu",
           "comm_share", "peak_mem_mib_per_rank", "cpu_ms_per_token", "efficiency", "cpu_efficiency", "overrides"]
FIGURES = ["tokens_per_s", "step_ms", "mfu", "comm_share", "peak_mem_mib_per_rank", "cpu_ms_per_token"]


def run_figures(run_dir, warmup):
    """Medians of one run, or None when it did not finish."""
    try:
        with open(run_dir + "/metrics.jsonl") as f:
            rows = [json.loads(line) for line in f if '"tokens_per_s"' in line]
        log = open(run_dir + ".log").read()
    except OSError:
        return None
    rows = [r for r in rows if r["step"] > warmup]
    summary = SUMMARY.search(log)
    if not rows or not summary:
        return None
    ranks = int(re.search(r"tessera: (\d+) ranks? =", log).group(1))
    tokens_per_step = int(re.search(r"tessera: (\d+) tokens per step", log).group(1))
    return {
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in rows),
        "step_ms": statistics.median(r["step_ms"] for r in rows),
        "mfu": statistics.median(r["mfu"] for r in rows),
        "comm_share": float(summary.group(1)) / 100,
        "peak_mem_mib_per_rank": float(summary.group(2)) * UNIT_MIB[summary.group(3)],
        # All ranks' CPU per step over the tokens of a step.
        "cpu_ms_per_token": float(summary.group(4)) * ranks / tokens_per_step,
    }


def points(out, warmup):
    """(mode, layout, ranks) -> point with the medians over its finished repeats."""
    grouped = {}
    with open(os.path.join(out, "runs.tsv")) as f:
        for run in csv.DictReader(f, delimiter="\t"):
            key = (run["mode"], run["layout"], int(run["ranks"]))
            point = grouped.setdefault(key, {"oversubscribed": run["oversubscribed"] == "1",
                                             "overrides": run["sets"], "figures": [], "errors": []})
            figures = run_figures(os.path.join(out, run["run"]), warmup) if run["status"] == "0" else None
            if figures:
                point["figures"].append(figures)
            else:
                point["errors"].append(error_line(os.path.join(out, run["run"] + ".log")))
    for point in grouped.values():
        for column in FIGURES:
            values = [f[column] for f in point["figures"]]
            point[column] = statistics.median(values) if values else None
    return grouped


def error_line(log):
    try:
        lines = open(log).read().splitlines()
    except OSError:
        return "no log"
    return next((l for l in lines if l.startswith("error:")), lines[-1] if lines else "empty log")


def baseline_of(layout):
    """The 1-rank point a layout is measured against: the same model on one rank."""
    return "ep" if layout == "ep" else "dp"


def add_efficiency(grouped):
    baselines = {layout: p for (_, layout, ranks), p in grouped.items() if ranks == 1}
    for (_, layout, ranks), point in grouped.items():
        base = baselines.get(baseline_of(layout))
        ok = base and base["tokens_per_s"] and point["tokens_per_s"]
        point["efficiency"] = point["tokens_per_s"] / (ranks * base["tokens_per_s"]) if ok else None
        point["cpu_efficiency"] = base["cpu_ms_per_token"] / point["cpu_ms_per_token"] if ok else None


def table_rows(grouped):
    """Rows per mode in run order; the 1-rank baselines (run once, in the first mode) head every mode."""
    modes = list(dict.fromkeys(mode for mode, _, _ in grouped))
    layouts = list(dict.fromkeys(layout for _, layout, _ in grouped))
    baselines = [(layout, 1, p) for (_, layout, ranks), p in grouped.items() if ranks == 1]
    rows = []
    for mode in modes:
        own = [(layout, ranks, p) for (m, layout, ranks), p in grouped.items() if m == mode and ranks > 1]
        for layout, ranks, p in sorted(baselines + own, key=lambda t: (layouts.index(t[0]), t[1])):
            rows.append(dict(p, mode=mode, layout=layout, ranks=ranks))
    return modes, rows


def fmt(value, spec, scale=1.0, suffix=""):
    return "n/a" if value is None else format(value * scale, spec) + suffix


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([r["mode"], r["layout"], r["ranks"], int(r["oversubscribed"]), len(r["figures"]),
                             fmt(r["tokens_per_s"], ".1f"), fmt(r["step_ms"], ".2f"), fmt(r["mfu"], ".4f"),
                             fmt(r["comm_share"], ".4f"), fmt(r["peak_mem_mib_per_rank"], ".1f"),
                             fmt(r["cpu_ms_per_token"], ".5f"), fmt(r["efficiency"], ".4f"),
                             fmt(r["cpu_efficiency"], ".4f"), r["overrides"]])


def markdown(rows, machine):
    text = "".join(f"- {line}\n" for line in machine.splitlines())
    for mode in dict.fromkeys(r["mode"] for r in rows):
        text += (f"\n**{mode} scaling**\n\n| layout | ranks | tokens/s | step ms | MFU | comm share | "
                 "peak memory / rank | efficiency | CPU efficiency |\n"
                 "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
        for r in (r for r in rows if r["mode"] == mode):
            ranks = f"{r['ranks']} (oversubscribed)" if r["oversubscribed"] else str(r["ranks"])
            if not r["figures"]:
                text += f"| {r['layout']} | {ranks} | skipped: {r['errors'][0][:120]} | | | | | | |\n"
                continue
            text += (f"| {r['layout']} | {ranks} | {fmt(r['tokens_per_s'], '.0f')} | {fmt(r['step_ms'], '.1f')} | "
                     f"{fmt(r['mfu'], '.1f', 100, '%')} | {fmt(r['comm_share'], '.1f', 100, '%')} | "
                     f"{fmt(r['peak_mem_mib_per_rank'], '.0f', 1, ' MiB')} | {fmt(r['efficiency'], '.0f', 100, '%')} | "
                     f"{fmt(r['cpu_efficiency'], '.0f', 100, '%')} |\n")
    return text


def plot(rows, mode, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    mode_rows = [r for r in rows if r["mode"] == mode and r["tokens_per_s"] is not None]
    for layout in dict.fromkeys(r["layout"] for r in mode_rows):
        series = sorted((r["ranks"], r["tokens_per_s"], r["efficiency"], r["cpu_efficiency"]) for r in mode_rows
                        if r["layout"] == layout or (r["ranks"] == 1 and r["layout"] == baseline_of(layout)))
        if len(series) < 2:
            continue
        ranks, tokens, efficiency, cpu = zip(*series)
        line, = left.plot(ranks, tokens, marker="o", label=layout)
        right.plot(ranks, [100 * e for e in efficiency], marker="o", color=line.get_color(), label=f"{layout} wall")
        right.plot(ranks, [100 * e for e in cpu], linestyle="--", color=line.get_color(), label=f"{layout} CPU")
    oversubscribed = [r["ranks"] for r in rows if r["oversubscribed"]]
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("ranks" + (f" (≥ {min(oversubscribed)} oversubscribed)" if oversubscribed else ""))
        axis.grid(alpha=0.3)
    left.set_ylabel("tokens/s (median)")
    right.set_ylabel("scaling efficiency (%): wall ─, CPU - -")
    right.axhline(100, color="grey", linewidth=0.8)
    left.legend(fontsize=8)
    fig.suptitle(f"{mode} scaling")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    grouped = points(args.out, args.warmup)
    add_efficiency(grouped)
    modes, rows = table_rows(grouped)
    write_csv(rows, os.path.join(args.out, "scaling.csv"))
    machine = open(os.path.join(args.out, "machine.txt")).read()
    text = markdown(rows, machine)
    with open(os.path.join(args.out, "scaling.md"), "w") as f:
        f.write(text)
    for mode in modes:
        plot(rows, mode, os.path.join(args.out, f"{mode}.png"))
    print(text)


if __name__ == "__main__":
    sys.exit(main())
