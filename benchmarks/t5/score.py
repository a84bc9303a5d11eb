#!/usr/bin/env python3
"""Exact match of `tessera sample --prompts ... --out` continuations against the held-out targets,
and their mean character similarity (difflib's ratio: 2 · matching characters / total length).

A decoder's continuation is cut at its first newline (it goes on to invent more lines); a t5
output is the whole generated target.
usage: score.py SAMPLES.jsonl TARGETS.txt [--cut-newline]
"""
import difflib
import json
import sys

samples = [json.loads(line) for line in open(sys.argv[1])]
targets = open(sys.argv[2]).read().split("\n")[: len(samples)]
cut = "--cut-newline" in sys.argv
hits, similarity = 0, 0.0
for sample, target in zip(samples, targets):
    text = sample["text"]
    if cut:
        text = text.split("\n", 1)[0]
    hits += text.strip() == target.strip()
    similarity += difflib.SequenceMatcher(None, text.strip(), target.strip()).ratio()
print(f"{hits}/{len(samples)} = {100 * hits / len(samples):.1f}% exact, {100 * similarity / len(samples):.1f}% similar")
