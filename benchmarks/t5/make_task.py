#!/usr/bin/env python3
"""Makes the seq2seq benchmark task from the shipped corpus: reverse every word of a line.

Lines of data/tinyshakespeare.txt with 12 to 40 characters (letters, spaces and punctuation),
deduplicated, shuffled with a fixed seed; 300 held out. Writes into OUT:
  train.jsonl, heldout.jsonl        {"input": line, "target": every word reversed}
  decoder-train.txt                 the training pairs as text, "input|target" per line, for a
                                    decoder-only model trained on the same tokens
  prompts-t5.txt, prompts-decoder.txt   the held-out inputs (decoder: with the "|" separator)
  targets.txt                       the held-out targets, one per line
  stats.json                        pair counts and the mean characters per pair line
usage: make_task.py OUT
"""
import json
import random
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
root = Path(__file__).resolve().parents[2]
lines = []
seen = set()
for line in (root / "data/tinyshakespeare.txt").read_text().splitlines():
    line = line.strip()
    if 12 <= len(line) <= 40 and re.fullmatch(r"[A-Za-z ,.;:!?'-]+", line) and line not in seen:
        seen.add(line)
        lines.append(line)
random.Random(1234).shuffle(lines)


def reverse_words(line):
    return " ".join(word[::-1] for word in line.split(" "))


heldout, train = lines[:300], lines[300:]
with open(out / "train.jsonl", "w") as f:
    for line in train:
        f.write(json.dumps({"input": line, "target": reverse_words(line)}) + "\n")
with open(out / "heldout.jsonl", "w") as f:
    for line in heldout:
        f.write(json.dumps({"input": line, "target": reverse_words(line)}) + "\n")
with open(out / "decoder-train.txt", "w") as f:
    for line in train:
        f.write(f"{line}|{reverse_words(line)}\n")
(out / "prompts-t5.txt").write_text("".join(line + "\n" for line in heldout))
(out / "prompts-decoder.txt").write_text("".join(line + "|\n" for line in heldout))
(out / "targets.txt").write_text("".join(reverse_words(line) + "\n" for line in heldout))
mean = sum(2 * len(line) + 2 for line in train) / len(train)
(out / "stats.json").write_text(json.dumps({"train": len(train), "heldout": len(heldout), "mean_pair_chars": mean}))
print(json.dumps({"train": len(train), "heldout": len(heldout), "mean_pair_chars": round(mean, 2)}))
