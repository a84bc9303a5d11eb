"""Preference pairs from tiny Shakespeare: the prompt is a passage, the chosen response its true
continuation, the rejected one the same words shuffled (half the pairs) or a continuation taken from
elsewhere in the play (the other half). Deterministic for a seed.

    python3 make_pairs.py CORPUS OUT.jsonl [PAIRS] [SEED]
"""
import json
import random
import sys

corpus, out = sys.argv[1], sys.argv[2]
pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 400
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
text = open(corpus, encoding="utf-8").read()
# Prompts from the first 90% (the training split of the language model), like its training data.
limit = int(len(text) * 0.9) - 200
with open(out, "w", encoding="utf-8") as f:
    for i in range(pairs):
        start = rng.randrange(0, limit)
        prompt, chosen = text[start:start + 48], text[start + 48:start + 80]
        if i % 2 == 0:
            words = chosen.split(" ")
            for _ in range(10):
                rng.shuffle(words)
                if " ".join(words) != chosen:
                    break
            rejected = " ".join(words)
        else:
            other = rng.randrange(0, limit)
            rejected = text[other:other + 32]
        if rejected == chosen:
            rejected = chosen[::-1]
        f.write(json.dumps({"prompt": prompt, "chosen": chosen, "rejected": rejected}) + "\n")
