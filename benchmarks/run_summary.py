#!/usr/bin/env python3
"""One markdown row's cells for a training run: final validation loss, final train loss, wall time
and median tokens/s (the first step left out), from RUN_DIR/metrics.jsonl.

usage: benchmarks/run_summary.py RUN_DIR SECONDS"""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1] + "/metrics.jsonl")]
train = [r for r in rows if "loss" in r]
val = [r for r in rows if "val_loss" in r]
rates = [r["tokens_per_s"] for r in train[1:]]
print(f"{val[-1]['val_loss']:.4f} | {train[-1]['loss']:.4f} | {float(sys.argv[2]):.0f} s | {statistics.median(rates):.0f}")
