#!/usr/bin/env python3
"""Checks a run's dashboards against its metrics.jsonl with the real readers.

usage: check.py RUN_DIR   (run setup.sh first; it makes .venv with tensorboard and prometheus_client)

- RUN_DIR/tensorboard/: read with tensorboard's EventAccumulator (which merges the folder's event
  files and drops events a resumed run's SessionLog START orphaned). Every numeric field of every
  metrics.jsonl row must be the scalar of that tag at that step, as a 32-bit float, and nothing else.
- RUN_DIR/metrics.prom: parsed with prometheus_client's text parser. Every metric must be a gauge
  `tessera_<name>` (name sanitised to [a-zA-Z0-9_:]) holding the latest value metrics.jsonl logged,
  plus `tessera_step`, the last row's step.
Missing files are skipped only when absent entirely; prints one JSON line, exits 1 on any mismatch.
"""
import json
import math
import os
import re
import struct
import sys


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0] if math.isfinite(x) else x


def rows(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def number(value):
    return math.nan if value is None else float(value)


def check_tensorboard(run_dir, report, mismatches):
    from tensorboard.backend.event_processing import event_accumulator

    folder = os.path.join(run_dir, "tensorboard")
    report["event_files"] = sorted(os.listdir(folder))
    expected = {}
    for row in rows(run_dir):
        for key, value in row.items():
            if key != "step" and (value is None or isinstance(value, (int, float))):
                expected[(key, row["step"])] = f32(number(value))
    acc = event_accumulator.EventAccumulator(folder, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    found = {}
    for tag in acc.Tags()["scalars"]:
        for event in acc.Scalars(tag):
            if (tag, event.step) in found:
                mismatches.append(f"tensorboard: {tag} at step {event.step} twice")
            found[(tag, event.step)] = event.value
    for key, value in expected.items():
        if key not in found:
            mismatches.append(f"tensorboard: no {key[0]} at step {key[1]}")
        elif not same(found[key], value):
            mismatches.append(f"tensorboard: {key[0]} at step {key[1]} is {found[key]}, metrics.jsonl {value}")
    for key in found.keys() - expected.keys():
        mismatches.append(f"tensorboard: {key[0]} at step {key[1]} not in metrics.jsonl")
    report["tensorboard_scalars"] = len(found)
    report["tensorboard_steps"] = len({step for _, step in found})


def check_prometheus(run_dir, report, mismatches):
    from prometheus_client.parser import text_string_to_metric_families

    latest = {}
    for row in rows(run_dir):
        for key, value in row.items():
            if value is None or isinstance(value, (int, float)):
                latest["tessera_" + re.sub(r"[^a-zA-Z0-9_:]", "_", key)] = number(value)
    with open(os.path.join(run_dir, "metrics.prom")) as f:
        families = list(text_string_to_metric_families(f.read()))
    found = {}
    for family in families:
        if family.type != "gauge":
            mismatches.append(f"prometheus: {family.name} is a {family.type}, not a gauge")
        for sample in family.samples:
            found[sample.name] = sample.value
    for name, value in latest.items():
        if name not in found:
            mismatches.append(f"prometheus: no {name}")
        elif not same(found[name], value):
            mismatches.append(f"prometheus: {name} is {found[name]}, metrics.jsonl's latest {value}")
    for name in found.keys() - latest.keys():
        mismatches.append(f"prometheus: {name} not in metrics.jsonl")
    report["prometheus_metrics"] = len(found)
    report["prometheus_step"] = found.get("tessera_step")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run_dir = sys.argv[1]
    report, mismatches = {"run_dir": run_dir, "rows": sum(1 for _ in rows(run_dir))}, []
    checked = []
    if os.path.isdir(os.path.join(run_dir, "tensorboard")):
        check_tensorboard(run_dir, report, mismatches)
        checked.append("tensorboard")
    if os.path.exists(os.path.join(run_dir, "metrics.prom")):
        check_prometheus(run_dir, report, mismatches)
        checked.append("prometheus")
    if not checked:
        mismatches.append("neither RUN_DIR/tensorboard/ nor RUN_DIR/metrics.prom exists")
    report.update(checked=checked, ok=not mismatches, mismatches=mismatches[:20], mismatch_count=len(mismatches))
    print(json.dumps(report))
    sys.exit(0 if not mismatches else 1)


if __name__ == "__main__":
    main()
