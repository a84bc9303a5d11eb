"""Preference pairs from tiny Shakespeare: the prompt is a passage ending at a word boundary, the
chosen response its true continuation, the rejected one a corruption that starts with the same
word, so that a character model cannot tell them apart from their first letters: the same words
with the rest shuffled (half the pairs), or a passage from elsewhere in the play that continues
the same first word differently (the other half). Deterministic for a seed.

    python3 make_pairs.py CORPUS OUT.jsonl [PAIRS] [SEED]
"""
import json
import random
import re
import sys

corpus, out = sys.argv[1], sys.argv[2]
pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 400
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
text = open(corpus, encoding="utf-8").read()
# Prompts from the first 90% (the training split of the language model), like its training data.
limit = int(len(text) * 0.9) - 200
PROMPT, RESPONSE = 48, 32

# Where each word starts (after a space), to find other continuations of the same word.
starts_of = {}
for m in re.finditer(r"(?<= )[A-Za-z']+", text[:limit]):
    starts_of.setdefault(m.group(0), []).append(m.start())


def shuffled_after_first(words):
    """The words with all but the first shuffled; None when no order differs."""
    head, rest = words[:1], words[1:]
    if len(set(rest)) < 2:
        return None
    for _ in range(10):
        rng.shuffle(rest)
        if head + rest != words:
            return head + rest
    return None


def elsewhere(start, first_word):
    """A passage of the same length from another place where `first_word` starts, differing from
    the true continuation after it; None when the word occurs nowhere else."""
    others = [s for s in starts_of.get(first_word, []) if abs(s - start) > RESPONSE]
    rng.shuffle(others)
    for other in others[:20]:
        candidate = text[other:other + RESPONSE]
        if candidate != text[start:start + RESPONSE]:
            return candidate
    return None


with open(out, "w", encoding="utf-8") as f:
    made = 0
    while made < pairs:
        # A prompt that ends just after a space, followed by a word on the same line.
        start = text.find(" ", rng.randrange(PROMPT, limit)) + 1
        prompt, chosen = text[start - PROMPT:start], text[start:start + RESPONSE]
        first = re.match(r"[A-Za-z']+", chosen)
        if not first or "\n" in chosen[:len(first.group(0)) + 1]:
            continue
        if made % 2 == 0:
            words = shuffled_after_first(chosen.split(" "))
            rejected = " ".join(words) if words else None
        else:
            rejected = elsewhere(start, first.group(0))
        if rejected is None or rejected == chosen:
            continue
        f.write(json.dumps({"prompt": prompt, "chosen": chosen, "rejected": rejected}) + "\n")
        made += 1
