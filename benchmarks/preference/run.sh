#!/usr/bin/env bash
# The preference task: pretrain the baby GPT on tiny Shakespeare, then DPO on pairs whose chosen
# response is the true continuation and whose rejected one starts with the same word and then goes
# wrong (the other words shuffled, or a passage from elsewhere); 6000 pairs, the last 600 held out.
# Prints held-out preference accuracy and validation LM loss before and after DPO.
#
#   benchmarks/preference/run.sh [PRETRAIN_STEPS] [DPO_STEPS]     (default 1000, 400)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${TESSERA_BENCH_DIR:-$root/benchmarks/results/preference}"
pretrain_steps="${1:-1000}"
dpo_steps="${2:-400}"
rm -rf "$out" && mkdir -p "$out"
python3 benchmarks/preference/make_pairs.py data/tinyshakespeare.txt "$out/pairs.jsonl" 6000 1
launch/tessera-run -np 2 train --config configs/shakespeare-char.toml --resume never \
    --set "run.dir=$out/pretrain" --set "train.steps=$pretrain_steps" --set train.eval_every=0 2>"$out/pretrain.log"
launch/tessera-run -np 2 train --config configs/shakespeare-char.toml --resume never \
    --set "run.dir=$out/dpo" --set train.objective=dpo --set "train.init_from=$out/pretrain" \
    --set "data.preferences=$out/pairs.jsonl" --set "train.steps=$dpo_steps" --set train.batch_size=32 \
    --set train.lr=1e-4 --set train.min_lr=1e-5 --set train.warmup_steps=20 --set train.dpo_beta=0.1 \
    --set "train.eval_every=$((dpo_steps / 4))" --set train.eval_steps=10 2>"$out/dpo.log"
python3 - "$out/dpo/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
evals = [r for r in rows if "val_preference_accuracy" in r]
print("| step | held-out preference accuracy (log π(c) > log π(r)) | implicit-reward accuracy | held-out DPO loss | validation LM loss |")
print("| --- | --- | --- | --- | --- |")
for r in evals:
    print(f"| {r['step']} | {r['val_preference_accuracy']:.3f} | {r['val_reward_accuracy']:.3f} | {r['val_loss']:.4f} | {r['val_lm_loss']:.4f} |")
PY
